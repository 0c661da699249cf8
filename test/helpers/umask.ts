/** Runs `code` in a fresh Deno whose umask is 000 (Deno has no umask call of its own to set it here). */
import { run } from "./processes.ts";

export async function evalUnderUmask000(code: string): Promise<void> {
  const r = await run(["sh", "-c", 'umask 000 && exec "$0" eval "$1"', Deno.execPath(), code], {
    check: false,
  });
  if (r.code !== 0) throw new Error(`deno eval under umask 000 failed: ${r.stderr}`);
}
