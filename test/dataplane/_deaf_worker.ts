/**
 * A stand-in for a data-plane worker that takes its start message and then
 * never answers anything, its stop included: as a real one stuck inside a
 * system call would (worker_unanswered_stop.test.ts).
 */
const scope = self as unknown as { onmessage: ((e: MessageEvent<unknown>) => void) | null };
scope.onmessage = () => {};
