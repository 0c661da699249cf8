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

/**
 * Runs `trials` as steps of `t`, `atOnce` of them at a time (all unless told), and returns when every one
 * has ended.
 */
export async function sideBySide(
  t: Deno.TestContext,
  trials: Trial[],
  atOnce = trials.length,
): Promise<void> {
  const queue = [...trials];
  const lane = async () => {
    for (let trial = queue.shift(); trial !== undefined; trial = queue.shift()) {
      await t.step({
        name: trial.name,
        sanitizeOps: false,
        sanitizeResources: false,
        sanitizeExit: false,
        fn: trial.fn,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, atOnce) }, lane));
}
