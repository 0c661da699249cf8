/**
 * Opening a link in a command a signal may stop as it starts (`vde plug`,
 * `vde slirp`, `vde wirefilter`, `vde cable`, `vde switch --cable`): the
 * open is told the stop (`OpenOptions.signal`, which vde://'s handshake and
 * ptp://'s wait heed), and what it was opening stays the command's to undo.
 * Let go at the signal, an open under way went on until the exit cut it
 * short: a vde:// end's socket was left in the switch's directory, or it
 * joined the switch and the command ran on. Not told, a held switch's join
 * ran to its own timeout and the command said the switch refused it.
 */
import type { Link } from "../link/link.ts";

/**
 * How long a stopped command waits for an end it was opening to give up (`OpenOptions.signal`) or open (and
 * be closed) before it exits without it: an open that heeds the signal (vde://'s handshake, ptp://'s wait)
 * settles at once, one that does not (a tap, a command) within moments.
 */
const ABANDON_MS = 5_000;

/** An AbortSignal that aborts when `stopped` (a program's stop) resolves. */
export function abortedOnStop(stopped: Promise<unknown>): AbortSignal {
  const opening = new AbortController();
  stopped.then(() => opening.abort());
  return opening.signal;
}

/**
 * The link `open` opens when given the stop (`stopped`, a program's) as its signal, or undefined when the
 * stop comes first: what it was opening is then undone before this settles (`unlessStopped`).
 */
export function openUnlessStopped<L extends Link>(
  stopped: Promise<unknown>,
  open: (signal: AbortSignal) => Promise<L>,
): Promise<L | undefined> {
  const stop = abortedOnStop(stopped);
  return unlessStopped(open(stop), stop);
}

/**
 * What a command stopped (`reason`, a signal's name) while it opened `vnl` says: a stop, not the refusal a
 * held switch's join ran into when it was not told.
 */
export function stoppedOpening(reason: string, vnl: string): string {
  return `${reason} while opening ${vnl}: stopped before serving`;
}

/**
 * The link `opening` resolves with, or undefined when `stop` aborts first: a listening tcp:// end waits
 * for its cable, as long as none comes, and a signal must end the command then too. The opening is then
 * still ours: it is waited for (bounded) and one that opened anyway is closed, so the command exits only
 * once what it made is undone.
 */
export async function unlessStopped<L extends Link>(
  opening: Promise<L>,
  stop: AbortSignal,
): Promise<L | undefined> {
  const { promise: stopped, resolve } = Promise.withResolvers<undefined>();
  stop.addEventListener("abort", () => resolve(undefined), { once: true });
  if (stop.aborted) resolve(undefined);
  try {
    const first = await Promise.race([opening, stopped]);
    if (first !== undefined) return first;
  } catch (err) {
    // An open that gave up at the signal says so by failing: the stop is the reason, not the failure.
    if (!stop.aborted) throw err;
  }
  const undone = opening.then((l) => l.close("stopped by a signal"), () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([undone, new Promise<void>((done) => timer = setTimeout(done, ABANDON_MS))]);
  clearTimeout(timer);
  return undefined;
}
