/**
 * A fresh temporary directory for the length of one test body, removed
 * with what is in it afterwards, also when the body fails.
 */

/** Runs `fn` in a new directory named `prefix...` under $TMPDIR, removed after it. */
export async function inTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
