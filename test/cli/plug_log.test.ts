import assert from "node:assert/strict";
import { MAX_ADDRESSES, PlugSessionLog, sessionOwner } from "../../src/cli/plug_log.ts";
import { standIn } from "../os/_syslog_stand_in.ts";
import { reap, within } from "../helpers/framed_peers.ts";
import { waitFor } from "../helpers/processes.ts";
import { vdeCommand } from "../lab/_helpers.ts";

const MACS = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];

function v4From(a: number, b: number, c: number, d: number, tag?: number): Uint8Array {
  const header = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, a, b, c, d, 10, 0, 0, 9];
  const type = tag === undefined ? [0x08, 0x00] : [0x81, 0x00, tag >> 8, tag & 0xff, 0x08, 0x00];
  return new Uint8Array([...MACS, ...type, ...header]);
}

function v6From(last: number): Uint8Array {
  const src = [0xfe, 0x80, ...Array(13).fill(0), last];
  return new Uint8Array([...MACS, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 0, 17, 64, ...src, ...Array(16).fill(0)]);
}

Deno.test("vde plug -L's session says START, each new source address once with its VLAN in vde_plug's words, and STOP", () => {
  const lines: string[] = [];
  const log = new PlugSessionLog({ user: "ann", ip: "192.0.2.7" }, (l) => lines.push(l));
  log.start();
  log.see(v4From(10, 0, 0, 1));
  log.see(v4From(10, 0, 0, 1));
  log.see(v4From(10, 0, 0, 1, 5)); // the same address on another VLAN: already said, as vde_plug
  log.see(v4From(10, 0, 0, 2, 0x2007));
  log.see(v6From(1));
  log.see(v6From(1));
  log.see(new Uint8Array(3));
  log.stop();
  assert.deepEqual(lines, [
    "START: user ann IP 192.0.2.7",
    "user ann Real-IP 192.0.2.7 has got VDE-IP4 10.0.0.1 on vlan 0",
    "user ann Real-IP 192.0.2.7 has got VDE-IP4 10.0.0.2 on vlan 7",
    "user ann Real-IP 192.0.2.7 has got VDE-IP6 fe80::1 on vlan 0",
    "STOP: user ann IP 192.0.2.7",
  ]);
});

Deno.test("vde plug -L remembers a bounded number of addresses: past them one line says the rest go unlogged", () => {
  const lines: string[] = [];
  const log = new PlugSessionLog({ user: "ann", ip: "UNKNOWN_IP_ADDRESS" }, (l) => lines.push(l));
  for (let i = 0; i < MAX_ADDRESSES + 100; i++) {
    log.see(v4From(10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff));
  }
  assert.equal(lines.length, MAX_ADDRESSES + 1);
  assert.equal(lines.at(-1), `user ann: more than ${MAX_ADDRESSES} addresses seen; the rest are not logged`);
});

Deno.test("the session's caller address is $SSH_CLIENT's first word, or vde_plug's UNKNOWN_IP_ADDRESS", () => {
  assert.deepEqual(sessionOwner("192.0.2.7 50022 22", 0), { user: "root", ip: "192.0.2.7" });
  assert.deepEqual(sessionOwner(undefined, 0), { user: "root", ip: "UNKNOWN_IP_ADDRESS" });
  assert.deepEqual(sessionOwner("", 0).ip, "UNKNOWN_IP_ADDRESS");
  assert.equal(sessionOwner("x".repeat(300), 0).ip.length, 255);
});

/**
 * Runs `vde plug ARGS` (stdin `stdin`) against a syslog stand-in until its START line, then stops it by
 * SIGTERM; resolves with its output and the lines the stand-in got.
 */
async function plugStoppedAfterStart(
  args: string[],
  stdin: "piped" | "null",
): Promise<{ out: Deno.CommandOutput; lines: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "vde-plug-log-" });
  const log = standIn(dir);
  const child = new Deno.Command(vdeCommand()[0]!, {
    args: [...vdeCommand().slice(1), "plug", ...args],
    stdin,
    stdout: "null",
    stderr: "piped",
    env: { VDE_SYSLOG_SOCKET: log.path },
  }).spawn();
  try {
    await waitFor(() => log.lines().some((l) => l.includes("START: user ")) || undefined, {
      timeoutMs: 20_000,
      what: "the START line",
    });
    child.kill("SIGTERM");
    const out = await within("vde plug to exit", 10_000, child.output());
    return { out, lines: log.lines() };
  } finally {
    await reap(child);
    log.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("vde plug -l stopped by a signal still says STOP to syslog (vdeplug4's _exit on TERM says nothing)", async () => {
  const { out, lines } = await plugStoppedAfterStart(["-l", "null://"], "piped");
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(lines.at(-1)!, /: STOP: user \S+ IP UNKNOWN_IP_ADDRESS$/);
});

Deno.test("vde plug -l where no syslog takes its lines (no /dev/log) says so in one line, and plugs all the same", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-plug-log-" });
  try {
    const out = await within(
      "vde plug to exit",
      20_000,
      new Deno.Command(vdeCommand()[0]!, {
        args: [...vdeCommand().slice(1), "plug", "-l", "null://"],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
        env: { VDE_SYSLOG_SOCKET: `${dir}/none` },
      }).output(),
    );
    assert.equal(out.code, 0);
    assert.equal(
      new TextDecoder().decode(out.stderr),
      `vde plug: -l: no syslog takes lines at ${dir}/none: the session's lines are not kept\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde plug -L with no stream end (two sockets, no `-` nor cmd://) says in one line that it logs START and STOP only", async () => {
  const { out } = await plugStoppedAfterStart(["-L", "null://", "null://"], "null");
  assert.equal(out.code, 0);
  assert.equal(
    new TextDecoder().decode(out.stderr),
    "vde plug: -L logs the addresses a stream end (-, cmd://, = COMMAND) sends from; none here: START/STOP only\n",
  );
});
