/**
 * A stand-in for a data-plane worker that dies of an uncaught error once its
 * code ran: it says it loaded, then throws at its top level, never posting
 * a last word (worker_handle.test.ts).
 */
import { announceLoaded } from "../../src/dataplane/worker_loaded.ts";

announceLoaded();
throw new Error("this worker dies after it ran");
