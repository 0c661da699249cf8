/**
 * `vde ARGS` (src/cli/vde.ts) whose data-plane threads (the plug thread, the
 * slirp thread) never finish loading: a stand-in for Deno's load of them on
 * a loaded machine, which took seconds. It uses the bundle's way in
 * (worker_url.ts): a worker's source on `globalThis` before the program
 * runs, here one that waits for good at its top level, so it never says it
 * loaded and never answers a stop.
 */
import { WORKER_SOURCES_KEY } from "../../src/dataplane/worker_url.ts";

const stalled = "await new Promise(() => {});";
(globalThis as Record<string, unknown>)[WORKER_SOURCES_KEY] = { plug_worker: stalled, slirp_worker: stalled };
const { main } = await import("../../src/cli/vde.ts");
await main(Deno.args);
