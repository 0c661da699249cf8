/**
 * Run as a Worker by first_message.test.ts under `--trace-deopt`, the way
 * the data-plane workers run: says it loaded as its module runs (unless
 * told `cold`), then optimizes a typed-array reader and posts a message, as
 * a warm-up followed by "warmed". V8 then says whether the post threw the
 * reader's code away.
 */
import { announceLoaded } from "../../src/dataplane/worker_loaded.ts";

const scope = self as unknown as {
  name: string;
  postMessage(message: unknown): void;
};
if (scope.name !== "cold") announceLoaded();
function probeReader(a: Uint8Array): number {
  return a.length > 3 ? a[3]! : -1;
}
const bytes = new Uint8Array(16);
let sum = 0;
for (let i = 0; i < 300_000; i++) sum += probeReader(bytes);
scope.postMessage({ warmed: sum });
