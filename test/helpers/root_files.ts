/**
 * Files another user owns, for tests of what root's programs refuse to
 * trust: run as root, in a temporary directory, with SUDO_UID unset (for
 * root run by sudo, that user's files are trusted as root's own).
 */
import assert from "node:assert/strict";

/** Runs `body` as root in a new temporary directory, SUDO_UID unset; both undone after. */
export async function asRootWithoutSudo(prefix: string, body: (dir: string) => Promise<void>): Promise<void> {
  assert.equal(Deno.uid(), 0, "run as root: it gives files to another user");
  const dir = await Deno.makeTempDir({ prefix });
  const sudo = Deno.env.get("SUDO_UID");
  try {
    Deno.env.delete("SUDO_UID");
    await body(dir);
  } finally {
    if (sudo === undefined) Deno.env.delete("SUDO_UID");
    else Deno.env.set("SUDO_UID", sudo);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Gives `path` itself (a symlink, not its target: chown -h, as Deno has no lchown) to nobody (65534). */
export function giveToNobody(path: string): void {
  assert.ok(new Deno.Command("chown", { args: ["-h", "65534:65534", path] }).outputSync().success);
}

/** How VDE_ROOTLESS_VOUCHED names the directory `path` (trusted_path.ts's stepKey): device, inode, birth time. */
export function vouchedKey(path: string): string {
  const st = Deno.statSync(path);
  return `${st.dev}:${st.ino}:${st.birthtime?.getTime() ?? ""}`;
}
