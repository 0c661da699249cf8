/**
 * A failed write to a file, in words that say what to do: Deno's "No space
 * left on device (os error 28)" alone names neither the file nor a way out,
 * and a capture that met it stopped with a file cut short and exit status 0.
 *
 * Theory of operation: the errno is read from Deno's message (its errors for
 * ENOSPC, EDQUOT and EROFS have no class of their own), and the way out
 * added to it; any other error is its own message.
 */

/** The way out of a full or read-only filesystem, by the errno in Deno's message. */
const WAYS_OUT: Record<number, string> = {
  28: "the filesystem is full: free some space there, or write elsewhere",
  122: "your disk quota there is spent: free some of it, or write elsewhere",
  30: "the filesystem is read-only: write elsewhere",
};

/** `err`'s message, with the way out when it says the filesystem is full, over quota or read-only. */
export function writeFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = /\(os error (\d+)\)/.exec(message)?.[1];
  const way = code === undefined ? undefined : WAYS_OUT[Number(code)];
  return way === undefined ? message : `${message}: ${way}`;
}
