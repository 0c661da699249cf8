/**
 * A stand-in for a data-plane worker that says it loaded, as every worker
 * body does, takes its start message and then never answers anything, its
 * stop included: as a real one stuck inside a system call would
 * (worker_unanswered_stop.test.ts).
 */
import { announceLoaded } from "../../src/dataplane/worker_loaded.ts";

const scope = self as unknown as { onmessage: ((e: MessageEvent<unknown>) => void) | null };
scope.onmessage = () => {};
announceLoaded();
