/**
 * A stand-in for a data-plane worker whose load takes as long as the test
 * says (Deno's load of a real one, type check included, took seconds on a
 * loaded machine): its module says `{ loading: true }` on a BroadcastChannel
 * and waits there for `{ go: true }` before it ends its load, says it
 * loaded, and answers the stop that came meanwhile, as a real one does at
 * its loop's first look at its stop flag (worker_handle.test.ts).
 */
import { announceLoaded } from "../../src/dataplane/worker_loaded.ts";

const scope = self as unknown as { postMessage(message: unknown): void };
const channel = new BroadcastChannel("slow-load-worker");
const go = new Promise((resolve) => channel.onmessage = resolve);
channel.postMessage({ loading: true });
await go;
channel.close();
announceLoaded();
scope.postMessage({ stopped: true });
