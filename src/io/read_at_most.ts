/**
 * The start of a file, bounded: for text a user's command or script wrote
 * (a console `load` file, what a lab host's `exec` printed), which may be
 * huge or still growing while it is read. Reads until `limit` bytes or the
 * end, whichever comes first; never more.
 */

/**
 * The first `limit` bytes of `path` at most, however much it holds (it may grow after its size was read).
 *
 * @param openWithinMs bound on the open itself: a named pipe's open waits for a writer, maybe forever
 * @throws Deno.errors.TimedOut when the open took longer than `openWithinMs` (the open is ended first)
 */
export async function readAtMost(path: string, limit: number, openWithinMs = Infinity): Promise<Uint8Array> {
  using file = await openWithin(path, openWithinMs);
  const buf = new Uint8Array(limit);
  let got = 0;
  while (got < limit) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

async function openWithin(path: string, ms: number): Promise<Deno.FsFile> {
  const opening = Deno.open(path, { read: true });
  if (ms === Infinity) return await opening;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Deno.errors.TimedOut(`no writer opened ${path} within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([opening, late]);
  } catch (err) {
    if (err instanceof Deno.errors.TimedOut) await unblock(path, opening);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends an open of a named pipe still waiting for a writer by being that writer for an instant: left waiting,
 * it would pair with the next writer that comes (a user's `cat script > pipe` meant for a later `load`),
 * which would then write into a pipe closed at once (SIGPIPE, the script lost).
 */
async function unblock(path: string, opening: Promise<Deno.FsFile>): Promise<void> {
  try {
    (await Deno.open(path, { write: true })).close();
  } catch { /* gone, or no longer a pipe: the waiting open fails or completes on its own */ }
  await opening.then((f) => f.close(), () => {});
}
