/**
 * Shared by the slirp end-to-end tests: our slirp in a "host" namespace with
 * a guest namespace behind Debian's `vde_plug tap://`, waiting for a server
 * in a namespace to listen, and moving a blob both ways over HTTP between
 * the guest and a server on the host namespace's loopback, checked by
 * SHA-256; behind Debian's vde_switch, the frames it sent to our port that
 * we did not receive.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { canNetns, type Lab, type Netns } from "../helpers/netns.ts";
import { hasCommand, type ManagedProcess, pathExists, run, waitFor } from "../helpers/processes.ts";
import { listens, REPO_ROOT, startCSwitch, VDE_CLI } from "../helpers/switches.ts";

export const VDE = VDE_CLI;

/**
 * Starts `vde slirp --sock DIR ARGS` in `host` and Debian's `vde_plug
 * vde://DIR tap://t0` in `guest`; resolves once t0 exists in the guest.
 */
export async function slirpWithGuest(
  host: Netns,
  guest: Netns,
  dir: string,
  slirpArgs: string[] = [],
): Promise<ManagedProcess> {
  const slirp = host.spawn([...VDE, "slirp", "--sock", dir, ...slirpArgs], { name: "vde slirp" });
  await slirp.waitForOutput(/vde slirp: on /, 20_000, "stderr");
  await guestBehind(guest, dir);
  return slirp;
}

/** Starts Debian's `vde_plug vde://DIR tap://t0` in `guest`; resolves once t0 exists there. */
export async function guestBehind(guest: Netns, dir: string): Promise<void> {
  const plug = guest.spawn(["vde_plug", `vde://${dir}`, "tap://t0"], { name: "vde_plug guest" });
  await waitFor(async () => {
    if (plug.exitStatus !== null) throw new Error(`vde_plug exited: ${plug.stderr}`);
    return (await guest.run(["ip", "link", "show", "t0"], { check: false })).success;
  }, { timeoutMs: 10_000, what: "t0 in the guest" });
}

/** The python helper of the slirp tests (servers and clients run inside namespaces). */
export const HELPER = ["python3", `${REPO_ROOT}/test/e2e/slirp_helper.py`];

/** Waits until `p` listens on `port` in `ns` (`t`: TCP, `u`: UDP); fails early if it exits. */
export async function waitListening(
  ns: Netns,
  proto: "t" | "u",
  port: number,
  p: ManagedProcess,
): Promise<void> {
  await waitFor(async () => {
    if (p.exitStatus !== null) throw new Error(`${p.name} exited: ${p.stderr}`);
    return (await ns.run(["ss", `-Hln${proto}`, `sport = :${port}`], { check: false })).stdout.trim() !== "";
  }, { timeoutMs: 20_000, what: `${p.name} listening on ${port}` });
}

/**
 * Serves `size` random bytes from 127.0.0.1:8099 in `host`; the guest
 * downloads them from the gateway 10.0.2.2 and uploads as many, and both
 * SHA-256 sums must match.
 */
export async function httpBothWays(host: Netns, guest: Netns, tmp: string, size: number): Promise<void> {
  const blob = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(blob.subarray(i, i + 65536));
  const file = `${tmp}/blob`;
  await Deno.writeFile(file, blob);
  const http = host.spawn([...HELPER, "http-serve", "127.0.0.1", "8099", file], { name: "http server" });
  await waitListening(host, "t", 8099, http);
  const down = await guest.run(["sh", "-c", "busybox wget -q -O - http://10.0.2.2:8099/blob | sha256sum"], {
    check: false,
    timeoutMs: 180_000,
  });
  assert.equal(
    down.stdout.split(" ")[0],
    createHash("sha256").update(blob).digest("hex"),
    `download: ${down.stderr}`,
  );
  const expected = (await run([...HELPER, "pattern-sha", String(size), "up"])).stdout.trim();
  const up = await guest.run([...HELPER, "http-put", "http://10.0.2.2:8099/upload", String(size), "up"], {
    check: false,
    timeoutMs: 180_000,
  });
  assert.equal(up.stdout.trim(), expected, `upload: ${up.stderr}`);
}

/** The C switch's OUT packet count for the port whose client description contains `who`. */
export async function cPortOutPackets(mgmt: string, who: string): Promise<number> {
  const { out, text } = await cPortOut(mgmt, who);
  if (out === null) throw new Error(`no port of "${who}" in port/print:\n${text}`);
  return out;
}

/**
 * The C switch's OUT packet count for the port whose client description
 * contains `who` (or matches it; null when no port does), and the whole `port/print`.
 */
export async function cPortOut(
  mgmt: string,
  who: string | RegExp,
): Promise<{ out: number | null; text: string }> {
  const r = await run(["unixcmd", "-f", "/etc/vde2/vdecmd", "-s", mgmt, "port/print"], {
    check: false,
    timeoutMs: 10_000,
  });
  const text = r.stdout.replaceAll("\0", "");
  for (const block of text.split(/^Port /m)) {
    if (typeof who === "string" ? !block.includes(who) : !who.test(block)) continue;
    const m = block.match(/OUT:\s+pkts\s+(\d+)/);
    if (m) return { out: Number(m[1]), text };
  }
  return { out: null, text };
}

/**
 * After a transfer: the frames the C switch sent to the port of `who` (as `cPortOutPackets`), then
 * `proc` stopped by SIGTERM, exiting 0 with its `COMPONENT: switch link: N frames in` line; at least
 * `minSent` sent, and at most `maxLostShare` of them (or `floor`, 100 unless told) not received.
 */
export async function assertFewLostFromCSwitch(
  mgmt: string,
  who: string,
  proc: ManagedProcess,
  component: string,
  bounds: { minSent: number; maxLostShare: number; floor?: number },
): Promise<void> {
  const sent = await cPortOutPackets(mgmt, who);
  const status = await proc.stop({ signal: "SIGTERM", timeoutMs: 10_000 });
  assert.equal(status.code, 0, proc.stderr);
  const m = proc.stderr.match(new RegExp(`${component}: switch link: (\\d+) frames in`));
  assert.ok(m, `no link counters from ${component} (not the slirp thread?) in:\n${proc.stderr}`);
  const received = Number(m[1]);
  const lost = sent - received;
  console.log(`C switch sent ${sent} frames to our port, we received ${received}: ${lost} lost`);
  assert.ok(sent > bounds.minSent, `the C switch sent only ${sent} frames to our port`);
  assert.ok(
    lost <= Math.max(bounds.floor ?? 100, sent * bounds.maxLostShare),
    `${lost} of ${sent} frames lost between the C switch and our port`,
  );
}

/** Why the tests of our slirp behind Debian's vde_switch cannot run here, or null. */
export async function missingForCSwitch(): Promise<string | null> {
  const netns = await canNetns();
  if (netns !== null) return netns;
  for (const tool of ["vde_switch", "vde_plug", "unixcmd", "busybox", "python3"]) {
    if (!(await hasCommand(tool))) return `${tool} is not installed`;
  }
  return null;
}

/**
 * Starts Debian's vde_switch in `lab`'s temporary directory with its
 * management socket (-M), stopped with the lab; resolves once that socket
 * listens (read from /proc/net/unix, not probed: see `listens`).
 */
export async function cSwitchInLab(lab: Lab): Promise<{ tmp: string; dir: string; mgmt: string }> {
  const tmp = await lab.tempDir();
  const dir = `${tmp}/sw`;
  const mgmt = `${tmp}/mgmt`;
  const sw = await startCSwitch(dir, { extraArgs: ["-M", mgmt] });
  lab.defer(async () => void (await sw.stop()));
  // Both: `listens` also says yes for a socket not bound yet (not in /proc/net/unix).
  await waitFor(async () => (await pathExists(mgmt, true)) && (await listens(mgmt)), {
    timeoutMs: 10_000,
    what: "the C switch's management socket",
  });
  return { tmp, dir, mgmt };
}
