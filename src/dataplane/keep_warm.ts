/**
 * How long the switch and plug threads keep warm after a frame: for this
 * window their wait times out every millisecond (switch_worker.ts and
 * plug_worker.ts say what a cold wake-up costs), so the next frame of a
 * sparse flow finds V8's code and data warm. A flow whose frames come
 * closer than the window keeps it open for as long as it lasts, at about
 * 1,000 empty wake-ups a second per thread (a frame every 100 ms costs a
 * switch thread as much as a ping every 10 ms), and a lab pays that per
 * switch and per plug: $VDE_KEEP_WARM_MS sets the window, 0 turns keeping
 * warm off. Read on the main thread (the owner of each thread) and sent in
 * the thread's start message: a worker reads no environment. `vde switch`,
 * `vde plug` and `vde up` read it before they make anything, so a bad value
 * stops them with one line rather than a lab half up.
 */
import { printable } from "../console/reply_format.ts";

/** The window when $VDE_KEEP_WARM_MS is unset, in ms: the ping rows' figures were read with it. */
export const KEEP_WARM_DEFAULT_MS = 150;
/** The longest window $VDE_KEEP_WARM_MS may set: past a second a thread's own tick wakes it anyway. */
export const KEEP_WARM_MAX_MS = 1000;

/**
 * The keep-warm window $VDE_KEEP_WARM_MS names (`text` when given), in ms.
 *
 * @throws KeepWarmSettingError naming the variable when its value is not a whole number from 0 to
 * KEEP_WARM_MAX_MS (the command line takes it as bad input: src/cli/keep_warm_setting.ts)
 */
export function keepWarmMs(text: string | undefined = envText()): number {
  if (text === undefined) return KEEP_WARM_DEFAULT_MS;
  const ms = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (ms >= 0 && ms <= KEEP_WARM_MAX_MS) return ms;
  throw new KeepWarmSettingError(
    `VDE_KEEP_WARM_MS must be a whole number of milliseconds from 0 (never keep warm) to ${KEEP_WARM_MAX_MS}, got "${
      printable(text)
    }"`,
  );
}

/** A malformed $VDE_KEEP_WARM_MS; of its own, so the library (the threads) loads nothing of the command line. */
export class KeepWarmSettingError extends Error {}

/** The variable's text; unset when this process may not read the environment. */
function envText(): string | undefined {
  try {
    return Deno.env.get("VDE_KEEP_WARM_MS");
  } catch {
    return undefined;
  }
}
