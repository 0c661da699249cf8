/**
 * Trials of one test module that share nothing (each its own directories,
 * switches and clients) and spend their time waiting out timers run side by
 * side, each a step of its own named as a test would be. Deno runs steps at
 * once only with their sanitizers off; a failed step fails the test, with
 * its own name and error.
 */

/** One trial: its name (the behaviour it pins) and its body, given its step's context. */
export interface Trial {
  name: string;
  fn: (t: Deno.TestContext) => Promise<void>;
}

/** Runs `trials` as steps of `t` at once, and returns when every one has ended. */
export async function sideBySide(t: Deno.TestContext, trials: Trial[]): Promise<void> {
  await Promise.all(trials.map((trial) =>
    t.step({
      name: trial.name,
      sanitizeOps: false,
      sanitizeResources: false,
      sanitizeExit: false,
      fn: trial.fn,
    })
  ));
}
