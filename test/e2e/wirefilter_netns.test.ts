/**
 * wirefilter end to end: two namespaces whose taps (Debian's `vde_plug
 * tap://`) sit on two C vde_switches, the switches joined by an impaired
 * wire. The same measurements run through our filter in each of its forms
 * (`vde wirefilter vde://A vde://B`, the `wire://` VNL in `vde plug`, the
 * dpipe stream mode) and through Debian's `dpipe vde_plug A = wirefilter
 * = vde_plug B`, and the figures must agree: ping round trips with 50+-10
 * ms each way, iperf3 through a 10 Mbit/s bottleneck, MTU drops, and a
 * live change on the management socket. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import {
  canNetns,
  canPing,
  type Lab,
  type Netns,
  ping,
  type PingResult,
  waitForPing,
  withNetns,
} from "../helpers/netns.ts";
import { hasCommand, type ManagedProcess, skipUnless, waitFor } from "../helpers/processes.ts";
import { pingArgs, pingTimeoutMs, repliesIn } from "../helpers/ping_replies.ts";
import { startCSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { measured, RawConsole, VDE } from "../wirefilter/_helpers.ts";

const A_ADDR = "10.199.60.1";
const B_ADDR = "10.199.60.2";

async function missing(): Promise<string | null> {
  const netns = await canNetns();
  if (netns !== null) return netns;
  for (const tool of ["vde_plug", "vde_switch", "dpipe", "wirefilter", "iperf3", "ss"]) {
    if (!(await hasCommand(tool))) return `${tool} is not installed`;
  }
  if (!(await canPing())) return "neither ping nor busybox is installed";
  return null;
}

/** Two C switches, a namespace with a tap on each; `join` starts a wire between the switches. */
interface Bench {
  lab: Lab;
  a: Netns;
  b: Netns;
  dirA: string;
  dirB: string;
  /** Starts `cmd` as the wire (stopping the previous one) and waits until ping crosses. */
  join(name: string, cmd: string[]): Promise<ManagedProcess>;
}

async function plugged(lab: Lab, dir: string, short: string, addr: string): Promise<Netns> {
  const ns = await lab.namespace(short);
  const plug = ns.spawn(["vde_plug", `vde://${dir}`, "tap://t0"], { name: `vde_plug ${short}` });
  await waitFor(async () => {
    if (plug.exitStatus !== null) throw new Error(`vde_plug exited early: ${plug.stderr}`);
    return (await ns.run(["ip", "link", "show", "t0"], { check: false })).success;
  }, { timeoutMs: 10_000, what: `t0 in ${ns.name}` });
  await ns.addr("t0", `${addr}/24`);
  return ns;
}

async function withBench(fn: (bench: Bench) => Promise<void>): Promise<void> {
  await withNetns(async (lab) => {
    const tmp = await lab.tempDir();
    const dirA = `${tmp}/a`;
    const dirB = `${tmp}/b`;
    const switches: SwitchHandle[] = [];
    lab.defer(async () => {
      for (const sw of switches) await sw.stop();
    });
    switches.push(await startCSwitch(dirA), await startCSwitch(dirB));
    const a = await plugged(lab, dirA, "a", A_ADDR);
    const b = await plugged(lab, dirB, "b", B_ADDR);
    let current: ManagedProcess | undefined;
    const join = async (name: string, cmd: string[]) => {
      await current?.stop({ timeoutMs: 3000 });
      current = lab.spawn(null, cmd, { name, stdin: "piped" });
      const wire = current;
      try {
        await waitFor(async () => {
          if (wire.exitStatus !== null) throw new Error(`${name} exited: ${wire.stderr}`);
          return (await ping(a, B_ADDR, 1, 0.2)).received === 1;
        }, { timeoutMs: 30_000, intervalMs: 100, what: `ping across ${name}` });
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${wire.stderr}`);
      }
      return wire;
    };
    await fn({ lab, a, b, dirA, dirB, join });
  });
}

/**
 * The four ways to put a wirefilter between the switches, with wirefilter
 * options `opts` (long names, which Debian's wirefilter takes too).
 */
function joiners(dirA: string, dirB: string, opts: string[], wireOpts: string): [string, string[]][] {
  return [
    ["vde wirefilter vde://A vde://B", [...VDE, "wirefilter", `vde://${dirA}`, `vde://${dirB}`, ...opts]],
    ["vde plug wire://{vde://A}[...] vde://B", [
      ...VDE,
      "plug",
      `wire://{vde://${dirA}}[${wireOpts}]`,
      `vde://${dirB}`,
    ]],
    ["dpipe vde_plug = vde wirefilter = vde_plug", [
      "dpipe",
      "vde_plug",
      dirA,
      "=",
      ...VDE,
      "wirefilter",
      ...opts,
      "=",
      "vde_plug",
      dirB,
    ]],
    ["dpipe vde_plug = Debian wirefilter = vde_plug", [
      "dpipe",
      "vde_plug",
      dirA,
      "=",
      "wirefilter",
      ...opts,
      "=",
      "vde_plug",
      dirB,
    ]],
  ];
}

/** Round-trip times of the replies to `count` pings from `ns` (iputils), in ms, by ping_replies.ts's rule. */
async function pingTimes(ns: Netns, to: string, count: number): Promise<number[]> {
  const r = await ns.run(pingArgs(to, count), { check: false, timeoutMs: pingTimeoutMs(count) });
  return [...repliesIn(r.stdout, count).values()];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

Deno.test("wirefilter --delay 50+10: ping round trips agree with Debian's wirefilter (about 100 ms)", async (t) => {
  if (skipUnless(t, await missing())) return;
  if (skipUnless(t, (await hasCommand("ping")) ? null : "iputils ping is needed for per-ping times")) return;
  await withBench(async ({ a, dirA, dirB, join }) => {
    const rtts: [string, number, number, number][] = [];
    for (const [name, cmd] of joiners(dirA, dirB, ["--delay", "50+10"], "delay=50+10")) {
      await join(name, cmd);
      const times = await measured(
        name,
        () => pingTimes(a, B_ADDR, 30),
        (t) => median(t) < 112,
        (t) => `median ${median(t)} ms`,
      );
      assert.ok(times.length >= 29, `${name}: ${times.length} of 30 pings answered`);
      rtts.push([name, median(times), Math.min(...times), Math.max(...times)]);
    }
    console.log(
      rtts.map(([n, med, lo, hi]) =>
        `  ${n}: median ${med.toFixed(1)} ms (${lo.toFixed(1)}..${hi.toFixed(1)})`
      )
        .join("\n"),
    );
    const debian = rtts.at(-1)![1];
    for (const [name, med, lo] of rtts) {
      // Two independent U(40,60) delays: median 100 ms, never below 80.
      assert.ok(lo >= 79, `${name}: a round trip of ${lo} ms is shorter than both delays`);
      assert.ok(med > 92 && med < 112, `${name}: median ${med} ms`);
      assert.ok(Math.abs(med - debian) < 10, `${name}: median ${med} ms vs Debian ${debian} ms`);
    }
  });
});

/** iperf3 for 4 s from `client` to `server`; bits/s received. */
async function iperf(client: Netns, server: Netns, to: string): Promise<number> {
  const srv = server.spawn(["iperf3", "-s", "-1", "-B", to, "-p", "5260"], { name: "iperf3 server" });
  await waitFor(async () => {
    if (srv.exitStatus !== null) throw new Error(`iperf3 server exited: ${srv.stderr}`);
    return (await server.run(["ss", "-Hltn", "sport = :5260"], { check: false })).stdout.trim() !== "";
  }, { timeoutMs: 5000, what: "iperf3 server" });
  const r = await client.run(
    ["iperf3", "-c", to, "-p", "5260", "-t", "4", "-J", "--connect-timeout", "3000"],
    { check: false, timeoutMs: 30_000 },
  );
  await srv.stop({ timeoutMs: 2000 });
  assert.ok(r.success, `iperf3 failed:\n${r.stdout}${r.stderr}`);
  const report = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } };
  return report.end?.sum_received?.bits_per_second ?? 0;
}

Deno.test("wirefilter --band 10 Mbit/s: iperf3 measures it within 10%, as through Debian's wirefilter", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withBench(async ({ a, b, dirA, dirB, join }) => {
    const band = String(10_000_000 / 8);
    const all = joiners(dirA, dirB, ["--band", band], `band=${band}`);
    // The limit counts whole frames (+2 bytes, as wirefilter): a full-size TCP segment carries 1448 bytes
    // of payload in 1514 + 2, so 10 Mbit/s on the wire is 9.55 Mbit/s of iperf3 goodput.
    const goodput = 10e6 * 1448 / 1516;
    const rates: [string, number][] = [];
    for (const [name, cmd] of [all[0]!, all[3]!]) {
      await join(name, cmd);
      const rate = async () => {
        const bps = await iperf(a, b, B_ADDR);
        // Load can slow a transfer down, never speed it past the limit: this holds for every run.
        assert.ok(bps < goodput * 1.1, `${name}: ${bps} bit/s, more than the limit lets through`);
        return bps;
      };
      rates.push([
        name,
        await measured(name, rate, (bps) => bps > goodput * 0.9, (bps) => `${(bps / 1e6).toFixed(2)} Mbit/s`),
      ]);
    }
    console.log(rates.map(([n, bps]) => `  ${n}: ${(bps / 1e6).toFixed(2)} Mbit/s`).join("\n"));
    for (const [name, bps] of rates) {
      assert.ok(Math.abs(bps - goodput) / goodput < 0.1, `${name}: ${bps} bit/s, expected about ${goodput}`);
    }
    assert.ok(Math.abs(rates[0]![1] - rates[1]![1]) / rates[1]![1] < 0.1, "ours and Debian's within 10%");
  });
});

/**
 * How many of 3 pings of `size` bytes of payload cross: counted by ping_replies.ts's rule where they should
 * (`expected` > 0), by plain `-c` where none should, which would wait out the deadline for nothing.
 */
async function pingSize(ns: Netns, to: string, size: number, expected: number): Promise<number> {
  const extra = ["-s", String(size)];
  const args = expected > 0
    ? pingArgs(to, 3, extra)
    : ["ping", "-c", "3", "-i", "0.2", "-W", "1", ...extra, to];
  const r = await ns.run(args, { check: false, timeoutMs: pingTimeoutMs(3) });
  return repliesIn(r.stdout, 3).size;
}

Deno.test("wirefilter --mtu 1000 drops the same frames as Debian's wirefilter", async (t) => {
  if (skipUnless(t, await missing())) return;
  if (skipUnless(t, (await hasCommand("ping")) ? null : "iputils ping is needed for -s")) return;
  await withBench(async ({ a, dirA, dirB, join }) => {
    const all = joiners(dirA, dirB, ["--mtu", "1000"], "mtu=1000");
    for (const [name, cmd] of [all[0]!, all[1]!, all[3]!]) {
      await join(name, cmd);
      // 956 + 28 IP/ICMP + 14 Ethernet + 2 = 1000: passes; one byte more does not.
      assert.equal(await pingSize(a, B_ADDR, 956, 3), 3, `${name}: a 998-byte frame passes`);
      assert.equal(await pingSize(a, B_ADDR, 957, 0), 0, `${name}: a 999-byte frame is dropped`);
    }
  });
});

Deno.test("vde wirefilter: a delay change on --mgmt takes effect at once", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withBench(async ({ lab, a, dirA, dirB, join }) => {
    const mgmt = `${await lab.tempDir()}/wf.mgmt`;
    await join("vde wirefilter", [
      ...VDE,
      "wirefilter",
      `vde://${dirA}`,
      `vde://${dirB}`,
      "--delay",
      "150",
      "--mgmt",
      mgmt,
      "--seed",
      "1",
    ]);
    const rtt = (r: PingResult) => `average ${r.avgMs} ms`;
    const slow = await measured("before", () => ping(a, B_ADDR, 5, 0.2), (r) => r.avgMs! < 330, rtt);
    assert.ok(slow.minMs! > 295 && slow.avgMs! < 330, `before: ${slow.output}`);
    const { client } = await RawConsole.connect(mgmt, "VDEwf$ ");
    try {
      assert.match(await client.command("delay 0"), /^1000 Success/);
      // At once: within the next second a round trip is shorter than the old delay allowed (load cannot
      // make one shorter); then their average is short too, measured again if load spoilt it.
      const first = await ping(a, B_ADDR, 5, 0.2);
      assert.equal(first.received, 5);
      assert.ok(first.minMs! < 20, `after: ${first.output}`);
      const fast = await measured("after", () => ping(a, B_ADDR, 5, 0.2), (r) => r.avgMs! < 20, rtt);
      assert.ok(fast.avgMs! < 20, `after: ${fast.output}`);
      assert.match(await client.command("loss 100"), /^1000 Success/);
      assert.equal((await ping(a, B_ADDR, 3, 0.2)).received, 0, "loss 100 cuts the wire at once");
      assert.match(await client.command("loss 0"), /^1000 Success/);
      await waitForPing(a, B_ADDR, 10_000);
      assert.match(await client.command("counters"), /Loss drops +L->R \d+ +R->L \d+/);
    } finally {
      client.close();
    }
  });
});
