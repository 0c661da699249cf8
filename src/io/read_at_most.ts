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
 * @throws Deno.errors.TimedOut when the open took longer than `openWithinMs` (it is closed when it comes)
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
    // An open that completes after all is closed; one that fails after the timeout has nobody to tell.
    opening.then((f) => f.close(), () => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
