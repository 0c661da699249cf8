/**
 * Run by first_message.test.ts: starts _first_message_worker.ts (named by
 * the first argument, `loaded` or `cold`) and ends once it has posted its
 * "warmed" message.
 */
import { watchLoaded } from "../../src/dataplane/worker_loaded.ts";

const worker = new Worker(new URL("./_first_message_worker.ts", import.meta.url), {
  type: "module",
  name: Deno.args[0],
});
void watchLoaded(worker);
const { promise, resolve } = Promise.withResolvers<void>();
worker.onmessage = (e: MessageEvent) => {
  if (typeof e.data === "object" && e.data !== null && "warmed" in e.data) resolve();
};
await promise;
worker.terminate();
