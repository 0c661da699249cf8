/**
 * A stand-in for a data-plane worker whose load fails: its module throws
 * before it says it loaded (worker_handle.test.ts).
 */
throw new Error("this worker fails to load");
