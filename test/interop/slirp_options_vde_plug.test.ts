/**
 * slirp:// options as Debian's vde_plug reads them (vdeplug4's slirp plugin, libslirp): its `verbose`
 * dump of the configuration, against ours (`describeConfig`, the same lines). `tftp_path=` names the
 * TFTP directory to both; our short `tftp=` is the directory here, but vdeplug's prefix match makes it
 * `tftp_server_name=` there, which is why README and our refusals write `tftp_path=`.
 */
import assert from "node:assert/strict";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";
import { describeConfig, parseSlirpOptions } from "../../src/slirp/config.ts";

const PLUGIN = "/usr/lib/x86_64-linux-gnu/vdeplug/libvdeplug_slirp.so";

/** The TFTP lines of a configuration dump. */
function tftpLines(dump: string): string[] {
  return dump.split("\n").filter((l) => /^tftp-(servname|path) /.test(l));
}

/** Debian's vde_plug's dump for `slirp://` with `opts` (its slirp runs until killed: the dump comes first). */
async function debiansDump(opts: string): Promise<string> {
  const r = await run(["vde_plug", "null://", `slirp://${opts}/verbose`], { check: false, timeoutMs: 1500 });
  assert.ok(r.timedOut, `vde_plug exited: ${r.stderr}`);
  return r.stderr;
}

Deno.test("slirp:// tftp_path= names the TFTP directory to Debian's vde_plug as to ours; tftp= is its tftp_server_name there and the directory here", async (t) => {
  const plugin = await Deno.stat(PLUGIN).then(() => true, () => false);
  const missing = !(await hasCommand("vde_plug"))
    ? "needs vde_plug (Debian package vdeplug)"
    : !plugin
    ? "needs vdeplug's slirp plugin (Debian package libvdeplug-slirp)"
    : null;
  if (skipUnless(t, missing)) return;
  const dir = "/tmp/vde-small3-tftp";
  for (const opts of [`/tftp_path=${dir.replaceAll("/", "%2F")}`, `/tftp_path='${dir}'`]) {
    const theirs = tftpLines(await debiansDump(opts));
    assert.deepEqual(theirs, ["tftp-servname (null)", `tftp-path     ${dir}`], opts);
    assert.deepEqual(tftpLines(describeConfig(parseSlirpOptions(opts))), theirs, opts);
  }
  // The short key: a name to them, the directory to us (kept for those who wrote it).
  const short = `/tftp=${dir.replaceAll("/", "%2F")}`;
  assert.deepEqual(tftpLines(await debiansDump(short)), [`tftp-servname ${dir}`, "tftp-path     (null)"]);
  assert.deepEqual(tftpLines(describeConfig(parseSlirpOptions(short))), [
    "tftp-servname (null)",
    `tftp-path     ${dir}`,
  ]);
});
