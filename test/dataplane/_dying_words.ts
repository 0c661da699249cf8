/**
 * What _dying_worker.ts says when its loop dies: the reason its owner names. A module of its own, so a
 * test reads it without running that worker's code on its own thread.
 */
export const DYING_WORDS = "the switch loop threw (a test's stand-in)";
