/**
 * The start of a file, bounded: for text a user's command or script wrote
 * (a console `load` file, what a lab host's `exec` printed), which may be
 * huge or still growing while it is read. Reads until `limit` bytes or the
 * end, whichever comes first; never more.
 */

/** The first `limit` bytes of `path` at most, however much it holds (it may grow after its size was read). */
export async function readAtMost(path: string, limit: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(limit);
  let got = 0;
  while (got < limit) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}
