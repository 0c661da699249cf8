/**
 * `vde plug -l` / `-L` against Debian's vde_plug (vdeplug4 4.0.1) given the
 * same invocation and the same frames on stdin: the lines each sends to
 * syslog must say the same (facility, severity, tag and words; ours adds
 * the pid to the tag, as our other syslog lines). Debian's goes to
 * /dev/log, which this machine may not have: it runs in a mount namespace
 * of its own whose /dev is a tmpfs holding only a /dev/log link to the
 * test's stand-in socket. Ours is pointed there by VDE_SYSLOG_SOCKET.
 *
 * Untagged frames only: vdeplug4 reads the ethertype of a tagged frame
 * from the wrong place and never logs its address (ours says its VLAN).
 */
import assert from "node:assert/strict";
import { standIn } from "../os/_syslog_stand_in.ts";
import { skipWithout, waitFor } from "../helpers/processes.ts";
import { framed, within } from "../helpers/framed_peers.ts";
import { vdeCommand } from "../lab/_helpers.ts";

const MACS = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
const V4 = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 9];
const V6 = [0x60, 0, 0, 0, 0, 0, 17, 64, 0xfe, 0x80, ...Array(13).fill(0), 1, ...Array(16).fill(0)];
const padded = (bytes: number[]) =>
  new Uint8Array([...bytes, ...Array(Math.max(0, 60 - bytes.length)).fill(0)]);
const FRAMES = framed(
  padded([...MACS, 0x08, 0x00, ...V4]),
  padded([...MACS, 0x86, 0xdd, ...V6]),
  padded([...MACS, 0x08, 0x00, ...V4]),
);
const SSH_CLIENT = "192.0.2.7 50022 22";

/**
 * Runs `cmd` with FRAMES on its stdin until it exits (at their end, as vde_plug does at EOF). Its stdin is
 * a file: vde_plug stops at a pipe's hang-up before reading what the writer left in it.
 */
async function runWithFrames(cmd: string[], env: Record<string, string>): Promise<void> {
  const input = await Deno.makeTempFile({ prefix: "vde-plug-log-" });
  try {
    await Deno.writeFile(input, FRAMES);
    const child = new Deno.Command("sh", {
      args: ["-c", 'exec "$@" < "$0"', input, ...cmd],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { ...env, SSH_CLIENT },
    }).spawn();
    const out = await within(`${cmd.join(" ")} to exit`, 20_000, child.output());
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  } finally {
    await Deno.remove(input);
  }
}

/** The lines `run` sent to a fresh stand-in, each without its time stamp and with the tag's pid left out. */
async function syslogOf(run: (socket: string) => Promise<void>): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "vde-plug-log-" });
  const log = standIn(dir);
  try {
    await run(log.path);
    await waitFor(() => log.lines().some((l) => l.includes("STOP")) || undefined, {
      timeoutMs: 5_000,
      what: "the STOP line",
    });
    return log.lines().map((l) =>
      l.replace(/^(<\d+>)\w{3} [ \d]\d \d\d:\d\d:\d\d /, "$1").replace(/^(<\d+>vde_plug)\[\d+\]:/, "$1:")
    );
  } finally {
    log.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const debian = (args: string[]) => (socket: string) =>
  runWithFrames([
    "unshare",
    "-m",
    "sh",
    "-c",
    'mount -t tmpfs vde-test /dev && ln -s "$0" /dev/log && exec vde_plug "$@"',
    socket,
    ...args,
  ], {});
const ours = (args: string[]) => (socket: string) =>
  runWithFrames([...vdeCommand(), "plug", ...args], { VDE_SYSLOG_SOCKET: socket });

for (
  const [flag, words] of [
    ["-l", ["START: user root IP 192.0.2.7", "STOP: user root IP 192.0.2.7"]],
    ["-L", [
      "START: user root IP 192.0.2.7",
      "user root Real-IP 192.0.2.7 has got VDE-IP4 10.0.0.1 on vlan 0",
      "user root Real-IP 192.0.2.7 has got VDE-IP6 fe80::1 on vlan 0",
      "STOP: user root IP 192.0.2.7",
    ]],
  ] as const
) {
  Deno.test(`vde plug ${flag} null:// says to syslog what Debian's vde_plug ${flag} null:// says, for the same frames on stdin`, async (t) => {
    if (await skipWithout(t, { vde_plug: "vdeplug", unshare: "util-linux" })) return;
    const theirs = await syslogOf(debian([flag, "null://"]));
    assert.deepEqual(
      theirs,
      words.map((w) => `<14>vde_plug: ${w}`),
      "Debian's vde_plug, as this test expects it",
    );
    assert.deepEqual(await syslogOf(ours([flag, "null://"])), theirs);
  });
}
