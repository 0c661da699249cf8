/**
 * A lab's undo steps run to the end, whatever each one does: a failure is
 * logged and the next step runs.
 *
 * A step that failed for want of descriptors (EMFILE: `ip` could not be
 * spawned while the lab's slirp held every descriptor for its guests'
 * connections) is run again once the other steps have run: they stop the
 * slirp and the switches and free what they held. Run once only, such a
 * step left the lab's namespaces behind, and `vde down` then found no lab
 * to take down.
 */
import { outOfDescriptors } from "../os/fd_limit.ts";

/** One thing to undo. */
export type Undo = () => void | Promise<void>;

/**
 * Runs `steps` in order; one out of descriptors is tried again after the rest (or put in `later`, for the
 * caller whose own later steps free them: a part's steps within a whole lab's); failures go to `log`.
 */
export async function runUndos(
  steps: readonly Undo[],
  log: (message: string) => void,
  later?: Undo[],
): Promise<void> {
  const again: Undo[] = later ?? [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      if (outOfDescriptors(err)) again.push(step);
      else log(`cleanup: ${(err as Error).message}`);
    }
  }
  if (later !== undefined) return;
  for (const step of again) {
    try {
      await step();
    } catch (err) {
      log(`cleanup: ${(err as Error).message}`);
    }
  }
}
