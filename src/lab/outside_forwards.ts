/**
 * A rootless lab's slirp forwards changed live (`vde up --apply`), where
 * the slirp runs: in the process outside the lab's namespaces (outside.ts).
 *
 * Theory of operation. The lab writes the change, `NODE.forwards.json`
 * (before, after, and its generation: the lab's count of such requests),
 * and waits for the answer in `NODE.forwards.G.done`: empty once made,
 * else why not, the change made all or none as the lab's own slirp's
 * would be. The process outside takes the request in one step, renaming
 * it aside (outside.ts), then makes the change and writes the answer, only
 * where there is no file yet (state.ts writeNew). The lab waits a bound,
 * after which it gives up, and giving up must leave nothing to happen
 * later, or the lab's file and the slirp would disagree from then on. So
 * it takes the request back: removed
 * by the lab, it was never taken and never will be. Taken already, the lab
 * writes the answer's place itself, first, in the same way: whichever side
 * writes there first decides. The lab's word there tells the process
 * outside, when it comes to answer, that the lab gave up; it undoes the
 * change it made and removes that word. Its answer there first is the
 * lab's answer, however late. A request answered, given up on or taken
 * back leaves no file behind but the lab's word on one the process outside
 * has yet to finish (the lab's end removes its directory).
 */
import type { SlirpLink } from "../link/slirp_link.ts";
import { changeForwards } from "./live_settings.ts";
import {
  forwardsDoneFile,
  forwardsFile,
  isGeneration,
  outsideGone,
  POLL_MS,
  readIfThere,
  removeIfThere,
} from "./outside_files.ts";
import { writeNew, writeWhole } from "./state.ts";
import { printable } from "../console/reply_format.ts";

/** How long the lab waits for the process outside to change a slirp's forwards (it takes milliseconds). */
const FORWARDS_TIMEOUT_MS = 10_000;

/** What the lab writes in the answer's place when it gives up: no answer the process outside writes. */
const GAVE_UP = "the lab gave up on this change";

/**
 * In the lab's process: RunnerOptions.outsideForwards for a lab in
 * directory `labDir`: asks the process outside to change slirp `node`'s
 * forwards from `was` to `now` (all or none, as the lab's own slirp would)
 * and waits for its answer; at once refused where that process no longer
 * runs (`outsideRuns`). Cut short by `signal` (the lab going down), it
 * gives up at once, as at its bound.
 *
 * @throws Error with the reason from outside (a host port taken), or that no answer came (and none will
 *   change anything); the signal's reason once it was cut short
 */
export function forwardsFromOutside(
  labDir: string,
  timeoutMs = FORWARDS_TIMEOUT_MS,
  outsideRuns: () => boolean = () => true,
): (node: string, was: string[], now: string[], signal?: AbortSignal) => Promise<void> {
  let generation = 0;
  return async (node, was, now, signal) => {
    if (!outsideRuns()) throw outsideGone(node);
    generation++;
    const request = forwardsFile(labDir, node);
    const done = forwardsDoneFile(labDir, node, generation);
    writeWhole(request, JSON.stringify({ generation, was, now }));
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const over = signal?.aborted
          ? signal.reason
          : Date.now() < deadline
          ? undefined
          : late(node, timeoutMs);
        const answer = readIfThere(done) ?? (over === undefined ? undefined : giveUp(request, done, over));
        if (answer !== undefined) {
          removeIfThere(done);
          if (answer === "") return;
          throw new Error(answer);
        }
        // Gone meanwhile (a SIGKILL): no answer will come, and nothing will change.
        if (!outsideRuns()) throw outsideGone(node);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } finally {
      removeIfThere(request);
    }
  };
}

/**
 * Why the lab gave up on a change of slirp `node`'s forwards at its bound: they were not changed, nor will
 * be (apply says that nothing was).
 */
function late(node: string, timeoutMs: number): Error {
  return new Error(
    `${node}: vde up --rootless, which runs it outside the lab's namespaces, did not change its forwards ` +
      `within ${timeoutMs / 1000} s, nor will it later`,
  );
}

/**
 * The lab gives up on the change asked for in `request`: it is taken back, or the lab's word is written
 * in the answer's place `done` first. Returns the answer from outside when it came first after all.
 *
 * @throws `why` once it gave up
 */
function giveUp(request: string, done: string, why: unknown): string {
  if (removeIfThere(request) || writeNew(done, GAVE_UP)) throw why;
  return readIfThere(done) ?? "";
}

/**
 * In the process outside: changes slirp `name`'s forwards (its link `slirp`, undefined when there is no
 * such slirp) as request `asked` (taken from the lab's directory `labDir`) says, all or none, and answers
 * the lab; undoes the change where the lab gave up on it before the answer. `say` logs what could not be
 * undone.
 */
export async function answerForwards(
  labDir: string,
  name: string,
  asked: unknown,
  slirp: SlirpLink | undefined,
  say: (m: string) => void,
): Promise<void> {
  const { generation, was, now } = (asked ?? {}) as { generation?: unknown; was?: unknown; now?: unknown };
  // No generation, no place to answer: not the lab's request, and nothing is changed for it.
  if (!isGeneration(generation)) return;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((f) => typeof f === "string");
  let said = "";
  let made = false;
  try {
    if (slirp === undefined || !strings(was) || !strings(now)) {
      throw new Error(`${name}: no slirp here to change`);
    }
    await changeForwards(name, slirp, was, now);
    made = true;
  } catch (err) {
    // The forward quoted as the request wrote it: a newline or terminal escape there must not reach the lab's
    // user (who reads this answer) as one.
    said = `${printable((err as Error).message)}\n`;
  }
  const done = forwardsDoneFile(labDir, name, generation);
  try {
    if (writeNew(done, said)) return;
  } catch {
    return; // the lab is gone
  }
  // The lab gave up on it first: the change is undone, as it says.
  removeIfThere(done);
  if (!made) return;
  await changeForwards(name, slirp!, now as string[], was as string[]).catch((err) => {
    say(`${name}: a forwards change the lab gave up on could not be undone: ${(err as Error).message}`);
  });
}
