/**
 * Run by message_primer.test.ts under `--trace-deopt`: optimizes a
 * typed-array reader, then posts a message; primes first when given
 * `prime`. V8 then says whether the post threw the reader's code away.
 */
import { primeMessaging } from "../../src/dataplane/message_primer.ts";

if (Deno.args[0] === "prime") primeMessaging();
function probeReader(a: Uint8Array): number {
  return a.length > 3 ? a[3]! : -1;
}
const bytes = new Uint8Array(16);
let sum = 0;
for (let i = 0; i < 300_000; i++) sum += probeReader(bytes);
const channel = new MessageChannel();
channel.port1.postMessage(sum);
channel.port1.close();
channel.port2.close();
