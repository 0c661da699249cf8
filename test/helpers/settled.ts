/** Whether a promise has settled after a wait: for tests that pin that something does not happen (yet). */

/** Whether `p` has settled (either way) `ms` after now. */
export async function settledAfter(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  p.then(() => settled = true, () => settled = true);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return settled;
}
