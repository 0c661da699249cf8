/**
 * The data-plane section of `deno task bench` (`--dataplane` runs it alone):
 * the rows of the issue that moved frame reception onto its own thread.
 *
 * - our slirp plugged into Debian's vde_switch against Debian's libslirp
 *   plugin in the same place (iperf3 both ways, retransmits, and what the
 *   download costs the C switch, the slirp and the guest's vde_plug in CPU
 *   per MB, the whole machine's from /proc/stat and the share it left
 *   idle), and the rate a slirp that cost nothing would reach on this
 *   machine (slirpBound), its model checked against the measured ratio;
 * - our `vde plug vde://C tap://` against Debian's `vde_plug` there, both
 *   chains up at once and measured in turns (each pair's ratio a row);
 * - ping RTT median and p99 (100 pings, 10 ms apart, in turns of 10 that
 *   alternate between the C chain and ours, both up at once) through each
 *   switch with Debian's taps, through each implementation's own switch and
 *   tap plugs, and through Debian's switch with each one's plugs (the plugs
 *   alone); and, as information, through `loadgen floor` with Debian's
 *   taps (a forwarder that makes only the system calls any switch on VDE's
 *   sockets needs) against Debian's switch: the best ratio such a switch
 *   can show in that position;
 * - the worst ping while a management client lists a 65,536-entry MAC
 *   table in a loop (target: never above 2 ms); `--list-ping` runs this
 *   row alone (listPingSection), a few seconds a sample.
 *
 * Everything runs in throwaway namespaces; every process and wait is bounded.
 */
import { type Lab, type Netns, waitForPing, withNetns } from "../test/helpers/netns.ts";
import { freeLoopbackPort } from "./free_port.ts";
import { cpuSeconds, cpuWithChildrenSeconds, machineCpu, othersCores } from "./proc_cpu.ts";
import {
  hasCommand,
  type ManagedProcess,
  run,
  sleep,
  spawnManaged,
  waitFor,
} from "../test/helpers/processes.ts";
import type { SwitchHandle, SwitchKind, SwitchOptions } from "../test/helpers/switches.ts";

/** What the section needs from bench.ts (its table and switch helpers). */
export interface BenchContext {
  plan: { rounds: number; seconds: number };
  kinds: readonly SwitchKind[];
  /** Adds a row and returns it. */
  row(label: string, unit: string, better: "higher" | "lower", target?: number): BenchRow;
  log(msg: string): void;
  message(err: unknown): string;
  startIn(kind: SwitchKind, opts?: SwitchOptions): Promise<SwitchHandle>;
  stopIn(sw: SwitchHandle): Promise<void>;
  /** `loadgen floor` (two ports, recvmmsg/sendmmsg and nothing else) serving `dir`; `stop` removes it. */
  startFloor(): Promise<{ dir: string; stop(): Promise<void> }>;
  /** `deno run -A mod.ts` of the checkout under test. */
  vde: string[];
}

/** A row of the table, as bench.ts keeps it. */
export interface BenchRow {
  samples: Record<SwitchKind, number[]>;
  errors: Partial<Record<SwitchKind, string>>;
  skipped?: string;
}

const PINGS = 100;
const PING_INTERVAL_S = 0.01;
/** Pings per turn when chains are pinged in turns (interleavedPings). */
const PING_TURN = 10;
/** Each namespace's taps and their /24s: t0 for every row, t1 and t2 for chains pinged beside t0's. */
const PING_TAPS: readonly (readonly [string, string])[] = [
  ["t0", "10.199.3"],
  ["t1", "10.199.5"],
  ["t2", "10.199.6"],
];
const MACS = 65_536;
/**
 * Pairs of iperf3 runs (C's chain and ours) each way in the plug rows (interleavedPlugs) per round of the
 * plan, and 2 more: 12 in a full run, of the plan's seconds each (2 s), 98 s in all. Per pair the "from it"
 * ratio spreads 0.8-1.2x on this 2-vCPU machine, and the median of the pairs' ratios moved within +-2% between
 * two such runs (0.99x, 0.97x) where the ratio of the columns' medians moved 10% (1.00x, 0.91x); 8 pairs of
 * 3 s gave 0.99x, 1.07x and 0.93x.
 */
const PLUG_PAIRS_PER_ROUND = 2;

/** Per-echo RTTs in ms (the output of ping without -q; iputils and busybox agree on `time=`). */
async function pingTimes(ns: Netns, to: string, count: number, intervalS: number): Promise<number[]> {
  const program = (await hasCommand("ping")) ? ["ping"] : ["busybox", "ping"];
  const deadline = Math.ceil(count * intervalS + 5);
  const r = await ns.run([
    ...program,
    "-c",
    String(count),
    "-i",
    String(intervalS),
    "-w",
    String(deadline),
    to,
  ], {
    check: false,
    timeoutMs: (deadline + 5) * 1000,
  });
  return [...r.stdout.matchAll(/time=([\d.]+) ?ms/g)].map((m) => Number(m[1]));
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

interface IperfResult {
  mbps: number;
  retransmits: number;
  /** Bytes the receiver got. */
  bytes: number;
}

/** iperf3 from `client` to `server` (an address the client reaches), `-R` when `reverse`. */
async function iperf(
  client: Netns,
  serverNs: Netns | null,
  bind: string,
  target: string,
  seconds: number,
  reverse: boolean,
): Promise<IperfResult> {
  // In a namespace of this run's own any port is free; on the host's loopback, shared by every run, one
  // the kernel just picked (see free_port.ts).
  const port = serverNs ? "5212" : String(await freeLoopbackPort());
  const srvCmd = ["iperf3", "-s", "-1", "-B", bind, "-p", port];
  const srv = serverNs ? serverNs.spawn(srvCmd, { name: "iperf3 server" }) : spawnManaged(srvCmd, {
    name: "iperf3 server",
  });
  try {
    const ss = ["ss", "-Hltn", `sport = :${port}`];
    await waitFor(
      async () =>
        (await (serverNs ? serverNs.run(ss, { check: false }) : run(ss, { check: false })))
          .stdout.trim() !== "",
      { timeoutMs: 5000, what: "iperf3 server" },
    );
    const args = [
      "iperf3",
      "-c",
      target,
      "-p",
      port,
      "-t",
      String(seconds),
      "-J",
      "--connect-timeout",
      "5000",
    ];
    if (reverse) args.push("-R");
    const r = await client.run(args, { check: false, timeoutMs: (seconds + 30) * 1000 });
    if (!r.success) throw new Error(`iperf3 failed: ${r.stderr.trim() || r.stdout.slice(0, 200)}`);
    const report = JSON.parse(r.stdout) as {
      end?: {
        sum_received?: { bits_per_second?: number; bytes?: number };
        sum_sent?: { retransmits?: number };
      };
    };
    return {
      mbps: (report.end?.sum_received?.bits_per_second ?? 0) / 1e6,
      retransmits: report.end?.sum_sent?.retransmits ?? 0,
      bytes: report.end?.sum_received?.bytes ?? 0,
    };
  } finally {
    await srv.stop({ timeoutMs: 2000 });
  }
}

/**
 * The rate of libslirp's column, in Mbit/s, had its slirp cost no CPU: `mbps` as measured, `t` the whole
 * machine's CPU per MB during the download and `s` the slirp's own. The model: the chain is CPU-bound,
 * its rate the machine's busy CPU time per second over T, and the other stages (the C switch, the guest's
 * vde_plug, both kernels' TCP, iperf3) cost T - S per MB whichever slirp feeds them; a slirp that cost
 * nothing would then carry mbps x T / (T - S). null when T does not exceed S (no such model).
 */
function slirpBound(mbps: number, t: number, s: number): number | null {
  return t > s ? mbps * t / (t - s) : null;
}

/**
 * Checks the model of slirpBound against the run: were both columns CPU-bound with the same busy share,
 * ours/C would be T_lib / T_ours. Logged beside the measured ratio and each column's idle share, so the
 * bound is read with how far the model held.
 */
function logSlirpModel(ctx: BenchContext, down: BenchRow, machine: BenchRow, idle: BenchRow): void {
  const med = (xs: number[]) => xs.length === 0 ? NaN : quantile(xs, 0.5);
  const predicted = med(machine.samples.c) / med(machine.samples.ours);
  const measured = med(down.samples.ours) / med(down.samples.c);
  if (!Number.isFinite(predicted) || !Number.isFinite(measured)) return;
  ctx.log(
    `slirp behind C, down: CPU-bound model predicts ours/C = T_lib/T_ours = ${
      predicted.toFixed(2)
    }x, measured ${measured.toFixed(2)}x; idle ${med(idle.samples.c).toFixed(1)} % (libslirp) and ${
      med(idle.samples.ours).toFixed(1)
    } % (ours)`,
  );
}

/** iperf3 one way then the other, into the rows [up, down, retransmits going up, retransmits going down?]. */
async function bothWays(
  ctx: BenchContext,
  label: string,
  kind: SwitchKind,
  [up, down, retr, retrDown]: BenchRow[],
  measure: (reverse: boolean) => Promise<IperfResult>,
): Promise<void> {
  const u = await measure(false);
  const d = await measure(true);
  up!.samples[kind].push(u.mbps);
  retr!.samples[kind].push(u.retransmits);
  down!.samples[kind].push(d.mbps);
  retrDown?.samples[kind].push(d.retransmits);
  ctx.log(
    `${label}: up ${u.mbps.toFixed(0)} Mbit/s (${u.retransmits} retr), down ${
      d.mbps.toFixed(0)
    } Mbit/s (${d.retransmits} retr)`,
  );
}

async function stopAll(procs: ManagedProcess[]): Promise<void> {
  for (const p of procs.reverse()) await p.stop({ timeoutMs: 2000 });
}

/** Waits until the tap `dev` in `ns` has carrier, i.e. a plug holds it. */
async function plugged(ns: Netns, dev: string, p: ManagedProcess): Promise<void> {
  await waitFor(async () => {
    if (p.exitStatus !== null) throw new Error(`${p.name} exited: ${p.stderr.trim()}`);
    const r = await ns.run(["ip", "-o", "link", "show", dev], { check: false });
    return r.success && r.stdout.includes("LOWER_UP");
  }, { timeoutMs: 20_000, what: `a plug on ${dev}` });
}

/** Runs the section's rows. */
export async function dataplaneSection(ctx: BenchContext): Promise<void> {
  const seconds = ctx.plan.seconds + 1;
  const rounds = Math.max(1, Math.ceil(ctx.plan.rounds / 2));
  const slirpUp = ctx.row(
    "slirp behind C vde_switch, iperf3 guest->host (C = libslirp plugin)",
    "Mbit/s",
    "higher",
    1.5,
  );
  const slirpDown = ctx.row(
    "slirp behind C vde_switch, iperf3 host->guest (C = libslirp plugin)",
    "Mbit/s",
    "higher",
    1.5,
  );
  const slirpRetr = ctx.row("slirp behind C vde_switch, guest->host retransmits", "retr", "lower", 1.0);
  // What each download costs the processes it crosses (CPU time per MB received by the guest): the
  // C switch in front of both slirps, and the slirp process itself (ours, or libslirp's vde_plug).
  const slirpSwCpu = ctx.row(
    "slirp behind C vde_switch, host->guest: the C switch's CPU per MB",
    "ms/MB",
    "lower",
  );
  const slirpCpu = ctx.row(
    "slirp behind C vde_switch, host->guest: the slirp's CPU per MB",
    "ms/MB",
    "lower",
  );
  // The same C program in both columns: the stage a faster slirp cannot make cheaper, which with the
  // C switch bounds what two cores can carry.
  const guestPlugCpu = ctx.row(
    "slirp behind C vde_switch, host->guest: the guest's vde_plug CPU per MB",
    "ms/MB",
    "lower",
  );
  // The whole machine during the download (/proc/stat: every process and the kernel, T per MB) and the
  // share of both cores left idle, which says whether the chain is CPU-bound.
  const machineCpuRow = ctx.row(
    "slirp behind C vde_switch, host->guest: the whole machine's CPU per MB (T)",
    "ms/MB",
    "lower",
  );
  const idleRow = ctx.row(
    "slirp behind C vde_switch, host->guest: CPU left idle, both cores",
    "%",
    "lower",
  );
  // The bound (see slirpBound): what libslirp's column would carry with a slirp that cost nothing.
  const boundRow = ctx.row(
    "slirp behind C vde_switch, host->guest: C = libslirp, ours = a slirp costing no CPU, T / (T - S)",
    "Mbit/s",
    "higher",
  );
  // The rates as measured; their pairs' ratios (below) carry the target: each pair meets one machine state.
  const plugUp = ctx.row(
    "plug vde://C tap:// behind C vde_switch, iperf3 to it (C = vde_plug)",
    "Mbit/s",
    "higher",
  );
  const plugDown = ctx.row(
    "plug vde://C tap:// behind C vde_switch, iperf3 from it (C = vde_plug)",
    "Mbit/s",
    "higher",
  );
  const plugUpPaired = ctx.row(
    "plug vde://C tap:// behind C vde_switch, iperf3 to it, each pair's ours/C (median; C = 100 %)",
    "%",
    "higher",
    1.0,
  );
  const plugDownPaired = ctx.row(
    "plug vde://C tap:// behind C vde_switch, iperf3 from it, each pair's ours/C (median; C = 100 %)",
    "%",
    "higher",
    1.0,
  );
  const plugRetr = ctx.row(
    "plug vde://C tap:// behind C vde_switch, retransmits to it",
    "retr",
    "lower",
    1.0,
  );
  // Info: the loss is the C switch's, towards Debian's vde_plug on the far side, whichever plug sends;
  // a faster flow meets it more often.
  const plugRetrFrom = ctx.row(
    "plug vde://C tap:// behind C vde_switch, retransmits from it",
    "retr",
    "lower",
  );
  const pingMed = ctx.row(
    `ping RTT median (${PINGS} at 10 ms), switch with vde_plug taps`,
    "ms",
    "lower",
    1.1,
  );
  const pingP99 = ctx.row(`ping RTT p99 (${PINGS} at 10 ms), switch with vde_plug taps`, "ms", "lower");
  // Info: the C column is the row above's (the same runs); ours is the floor's.
  const floorMed = ctx.row(
    `ping RTT median (${PINGS} at 10 ms), vde_plug taps: C column = vde_switch, ours = floor (no switching)`,
    "ms",
    "lower",
  );
  const floorP99 = ctx.row(
    `ping RTT p99 (${PINGS} at 10 ms), vde_plug taps: C column = vde_switch, ours = floor (no switching)`,
    "ms",
    "lower",
  );
  floorMed.samples.c = pingMed.samples.c;
  floorP99.samples.c = pingP99.samples.c;
  const ownMed = ctx.row(
    `ping RTT median (${PINGS} at 10 ms), own switch and own tap:// plugs`,
    "ms",
    "lower",
    1.2,
  );
  const ownP99 = ctx.row(`ping RTT p99 (${PINGS} at 10 ms), own switch and own tap:// plugs`, "ms", "lower");
  const plugMed = ctx.row(
    `ping RTT median (${PINGS} at 10 ms), C vde_switch with own tap:// plugs (C = vde_plug)`,
    "ms",
    "lower",
    1.2,
  );
  const plugP99 = ctx.row(
    `ping RTT p99 (${PINGS} at 10 ms), C vde_switch with own tap:// plugs (C = vde_plug)`,
    "ms",
    "lower",
  );
  const listMax = listPingRow(ctx);
  // The rows each slirp's column fills (the bound row is libslirp's alone).
  const slirpRows = [
    slirpUp,
    slirpDown,
    slirpRetr,
    slirpSwCpu,
    slirpCpu,
    guestPlugCpu,
    machineCpuRow,
    idleRow,
  ];
  const all = [
    ...slirpRows,
    boundRow,
    plugUp,
    plugDown,
    plugUpPaired,
    plugDownPaired,
    plugRetr,
    plugRetrFrom,
    pingMed,
    pingP99,
    floorMed,
    floorP99,
    ownMed,
    ownP99,
    plugMed,
    plugP99,
    listMax,
  ];
  let missing: string | null = null;
  for (const tool of ["vde_switch", "vde_plug", "iperf3", "unixcmd"]) {
    if (missing === null && !(await hasCommand(tool))) missing = `${tool} is not installed`;
  }
  if (missing !== null) {
    for (const m of all) m.skipped = missing;
    ctx.log(`dataplane section skipped: ${missing}`);
    return;
  }
  await withNetns(async (lab) => {
    // t0 for every row; t1 and t2 for the chains pinged beside t0's (interleavedPings).
    const [a, b] = await pingPair(lab, PING_TAPS);
    const g = await lab.namespace("g");
    await g.tap("t0");
    await g.run(["ip", "link", "set", "t0", "up"]);

    for (let round = 0; round < rounds; round++) {
      for (const kind of round % 2 === 0 ? ctx.kinds : [...ctx.kinds].reverse()) {
        // Slirp behind the C switch: ours (`vde slirp`) or Debian's libslirp plugin.
        await withC(ctx, async (sw) => {
          const procs: ManagedProcess[] = [];
          try {
            const slirp = kind === "c"
              ? ["vde_plug", `vde://${sw.dir}`, "slirp://"]
              : [...ctx.vde, "slirp", "--sock", sw.dir];
            const slirpProc = spawnManaged(slirp, { name: `${kind} slirp` });
            procs.push(slirpProc);
            const guest = g.spawn(["vde_plug", `vde://${sw.dir}`, "tap://t0"], { name: "guest plug" });
            procs.push(guest);
            await plugged(g, "t0", guest);
            await g.run(["ip", "addr", "replace", "10.0.2.15/24", "dev", "t0"]);
            await g.run(["ip", "route", "replace", "default", "via", "10.0.2.2"]);
            await waitForPing(g, "10.0.2.2", 30_000);
            const label = `slirp behind C, ${kind === "c" ? "libslirp" : "ours"}`;
            await bothWays(
              ctx,
              label,
              kind,
              [slirpUp, slirpDown, slirpRetr],
              async (reverse) => {
                const pids = [sw.pid, slirpProc.pid, guest.pid];
                const before = await Promise.all(pids.map(cpuSeconds));
                const machineBefore = await machineCpu();
                const r = await iperf(g, null, "127.0.0.1", "10.0.2.2", seconds, reverse);
                if (!reverse || r.bytes <= 0) return r;
                const machineAfter = await machineCpu();
                const after = await Promise.all(pids.map(cpuSeconds));
                const mb = r.bytes / 1e6;
                const perMb = after.map((a, i) => (a - before[i]!) * 1000 / mb);
                const busy = machineAfter.busy - machineBefore.busy;
                const total = machineAfter.total - machineBefore.total;
                const machinePerMb = busy * 1000 / mb;
                const idle = total > 0 ? 100 * (1 - busy / total) : 0;
                slirpSwCpu.samples[kind].push(perMb[0]!);
                slirpCpu.samples[kind].push(perMb[1]!);
                guestPlugCpu.samples[kind].push(perMb[2]!);
                machineCpuRow.samples[kind].push(machinePerMb);
                idleRow.samples[kind].push(idle);
                ctx.log(
                  `${label}: down, CPU per MB: C switch ${perMb[0]!.toFixed(2)} ms, slirp ${
                    perMb[1]!.toFixed(2)
                  } ms, guest's vde_plug ${perMb[2]!.toFixed(2)} ms, whole machine ${
                    machinePerMb.toFixed(2)
                  } ms (${idle.toFixed(1)} % idle)`,
                );
                if (kind === "c") {
                  const bound = slirpBound(r.mbps, machinePerMb, perMb[1]!);
                  if (bound !== null) {
                    boundRow.samples.c.push(r.mbps);
                    boundRow.samples.ours.push(bound);
                  }
                }
                return r;
              },
            );
          } catch (err) {
            for (const m of kind === "c" ? [...slirpRows, boundRow] : slirpRows) {
              m.errors[kind] = ctx.message(err);
            }
            ctx.log(`slirp behind C, ${kind}: ${ctx.message(err)}`);
          } finally {
            await stopAll(procs);
          }
        });

        await listPing(ctx, lab, a, b, kind, listMax);
      }
      await interleavedPings(ctx, a, b, {
        "c taps": [pingMed, pingP99],
        own: [ownMed, ownP99],
        "own plugs behind C": [plugMed, plugP99],
        floor: [floorMed, floorP99],
      });
    }
    logSlirpModel(ctx, slirpDown, machineCpuRow, idleRow);
    await interleavedPlugs(ctx, lab, a, b, {
      rate: [plugUp, plugDown],
      paired: [plugUpPaired, plugDownPaired],
      retransmits: [plugRetr, plugRetrFrom],
    }, ctx.plan.seconds);
  });
}

/** The ping variants: which switch and which plugs each chain has (see interleavedPings). */
type PingVariant = "c taps" | "own" | "own plugs behind C" | "floor";

/**
 * Ping through each variant's chains: with Debian's taps through each switch (and, in ours' column of its
 * own row, through the floor forwarder), each implementation's own switch and plugs, each one's plugs on
 * Debian's switch. The chains of a variant run side by side (C's on t0, ours on t1, the floor on t2, each
 * its own subnet) and are pinged in turns of 10, C first in even turns, so both columns meet the same
 * machine: on this kind of VM an idle vCPU halts between pings and the RTT is bimodal (0.03-0.09 ms while
 * the vCPUs stay awake, 0.45-0.8 ms when they halt), and a column measured in a minute of its own took
 * whichever state that minute had (README, Benchmarks).
 */
async function interleavedPings(
  ctx: BenchContext,
  a: Netns,
  b: Netns,
  rows: Record<PingVariant, [BenchRow, BenchRow]>,
): Promise<void> {
  // C's chain on t0, ours on t1, the floor on t2 (each tap pair its own subnet: PING_TAPS).
  const chain = (variant: PingVariant, kind: SwitchKind, tap: number) => {
    const [dev, net] = PING_TAPS[tap]!;
    return { variant, kind, dev, net };
  };
  const chains = [
    [chain("c taps", "c", 0), chain("c taps", "ours", 1), chain("floor", "ours", 2)],
    [chain("own", "c", 0), chain("own", "ours", 1)],
    [chain("own plugs behind C", "c", 0), chain("own plugs behind C", "ours", 1)],
  ];
  for (const group of chains) {
    const procs: ManagedProcess[] = [];
    const stops: (() => Promise<void>)[] = [];
    const times = group.map(() => [] as number[]);
    try {
      for (const chain of group) {
        let dir: string;
        if (chain.variant === "floor") {
          const floor = await ctx.startFloor();
          stops.push(floor.stop);
          dir = floor.dir;
        } else {
          const sw = await ctx.startIn(chain.variant === "own plugs behind C" ? "c" : chain.kind);
          stops.push(() => ctx.stopIn(sw));
          dir = sw.dir;
        }
        const ownPlugs = chain.kind === "ours" && chain.variant !== "c taps" && chain.variant !== "floor";
        const cmd = ownPlugs ? [...ctx.vde, "plug"] : ["vde_plug"];
        for (const n of [a, b]) {
          const p = n.spawn([...cmd, `vde://${dir}`, `tap://${chain.dev}`], { name: `plug ${n.short}` });
          procs.push(p);
          await plugged(n, chain.dev, p);
        }
        await waitForPing(a, `${chain.net}.2`, 20_000);
      }
      for (let turn = 0; turn < PINGS / PING_TURN; turn++) {
        const order = group.map((_, i) => i);
        if (turn % 2 === 1) order.reverse();
        for (const i of order) {
          times[i]!.push(...await pingTimes(a, `${group[i]!.net}.2`, PING_TURN, PING_INTERVAL_S));
        }
      }
      group.forEach((chain, i) => {
        const t = times[i]!;
        const [med, p99] = rows[chain.variant];
        if (t.length < PINGS * 0.9) {
          for (const m of [med, p99]) m.errors[chain.kind] = `${t.length}/${PINGS} pings answered`;
          return;
        }
        med.samples[chain.kind].push(quantile(t, 0.5));
        p99.samples[chain.kind].push(quantile(t, 0.99));
        ctx.log(
          `ping ${chain.kind} (${chain.variant}, interleaved): median ${quantile(t, 0.5)} ms, p99 ${
            quantile(t, 0.99)
          } ms`,
        );
      });
    } catch (err) {
      for (const chain of group) {
        for (const m of rows[chain.variant]) m.errors[chain.kind] = ctx.message(err);
      }
      ctx.log(`ping (${group[0]!.variant}, interleaved): ${ctx.message(err)}`);
    } finally {
      await stopAll(procs);
      for (const stop of stops.reverse()) await stop();
    }
  }
}

/**
 * The plug rows: `vde plug vde://C tap://` and Debian's `vde_plug tap://` each behind a Debian switch of its
 * own, both chains up at once (C's on t0, ours on t1), iperf3 through them in turns, C first in even pairs,
 * each way (see PLUG_PAIRS_PER_ROUND). Measured a chain at a time, "from it" ranged 0.79x-1.06x for the same
 * code in one stop: a 2-vCPU machine's minute decided it; a pair's two runs meet the same minute, and each
 * pair's ratio is a row of its own. Every run also counts where frames were lost: what the C switch sent
 * towards the receiving side's plug (its port counters) against what that plug wrote into its tap.
 */
async function interleavedPlugs(
  ctx: BenchContext,
  lab: Lab,
  a: Netns,
  b: Netns,
  rows: PlugRows,
  seconds: number,
): Promise<void> {
  const pairs = PLUG_PAIRS_PER_ROUND * ctx.plan.rounds + 2;
  const procs: ManagedProcess[] = [];
  const stops: (() => Promise<void>)[] = [];
  try {
    const chains: PlugChain[] = [];
    for (const [kind, tap] of [["c", 0], ["ours", 1]] as const) {
      const [dev, net] = PING_TAPS[tap]!;
      const mgmt = `${await lab.tempDir()}/mgmt`;
      const sw = await ctx.startIn("c", { extraArgs: ["-M", mgmt] });
      stops.push(() => ctx.stopIn(sw));
      const pa = a.spawn(["vde_plug", `vde://${sw.dir}`, `tap://${dev}`], { name: "plug a" });
      procs.push(pa);
      const cmd = kind === "c" ? ["vde_plug"] : [...ctx.vde, "plug"];
      const pb = b.spawn([...cmd, `vde://${sw.dir}`, `tap://${dev}`], { name: `${kind} plug b` });
      procs.push(pb);
      await plugged(a, dev, pa);
      await plugged(b, dev, pb);
      await waitForPing(a, `${net}.2`, 20_000);
      chains.push({ kind, dev, net, mgmt, pids: [pa.pid, pb.pid] });
    }
    for (let pair = 0; pair < pairs; pair++) {
      for (const [way, reverse] of [[0, false], [1, true]] as const) {
        const rates: Partial<Record<SwitchKind, number>> = {};
        for (const chain of pair % 2 === 0 ? chains : [...chains].reverse()) {
          // The data goes to b's plug ("to it"), or from it to a's.
          const [sink, pid] = reverse ? [a, chain.pids[0]] : [b, chain.pids[1]];
          const before = await framesTowards(sink, chain, pid);
          const r = await iperf(a, b, `${chain.net}.2`, `${chain.net}.2`, seconds, reverse);
          const after = await framesTowards(sink, chain, pid);
          const sent = after.sent - before.sent;
          const lost = sent - (after.written - before.written);
          rates[chain.kind] = r.mbps;
          rows.rate[way].samples[chain.kind].push(r.mbps);
          rows.retransmits[way].samples[chain.kind].push(r.retransmits);
          ctx.log(
            `plug behind C, ${chain.kind}, ${reverse ? "from it" : "to it"}, pair ${pair + 1}: ${
              r.mbps.toFixed(0)
            } Mbit/s, ${r.retransmits} retr; C switch to ${sink.short}'s plug: ${sent} frames, ${lost} lost (${
              (100 * lost / Math.max(1, sent)).toFixed(2)
            }%)`,
          );
        }
        if (rates.c !== undefined && rates.ours !== undefined && rates.c > 0) {
          rows.paired[way].samples.c.push(100);
          rows.paired[way].samples.ours.push(100 * rates.ours / rates.c);
        }
      }
    }
  } catch (err) {
    for (const m of [...rows.rate, ...rows.paired, ...rows.retransmits]) {
      m.errors.c = ctx.message(err);
      m.errors.ours = ctx.message(err);
    }
    ctx.log(`plug behind C: ${ctx.message(err)}`);
  } finally {
    await stopAll(procs);
    for (const stop of stops.reverse()) await stop();
  }
}

/** The plug rows, each pair [to it, from it]. */
interface PlugRows {
  rate: [BenchRow, BenchRow];
  /** Each pair's ours/C in percent (C's column 100 per pair): the ratio of a pair's runs, whose machine is the same. */
  paired: [BenchRow, BenchRow];
  retransmits: [BenchRow, BenchRow];
}

/** One chain of the plug rows: a's vde_plug and the plug measured on b, on the taps `dev`, behind a C switch. */
interface PlugChain {
  kind: SwitchKind;
  dev: string;
  net: string;
  /** The C switch's management socket. */
  mgmt: string;
  /** Pids of a's vde_plug and b's plug, which name their ports in port/print. */
  pids: [number, number];
}

/**
 * Frames the C switch has sent towards the plug `pid` in `ns` (its port's OUT count, which Debian's switch
 * counts before it sends: what the send then drops on a full socket is in it) and frames that plug has
 * written into its tap (the tap's rx count). What one has and the other has not was lost between them.
 */
async function framesTowards(
  ns: Netns,
  chain: PlugChain,
  pid: number,
): Promise<{ sent: number; written: number }> {
  const r = await run(["unixcmd", "-f", "/etc/vde2/vdecmd", "-s", chain.mgmt, "port/print"], {
    check: false,
    timeoutMs: 5000,
  });
  // One block per port ("Port 0001 ...", a NUL before every line but the first), with its client's pid.
  const block = r.stdout.replaceAll("\0", "").split(/^ ?Port /m).find((p) => p.includes(`pid=${pid}`));
  const sent = Number(/OUT:\s+pkts\s+(\d+)/.exec(block ?? "")?.[1] ?? NaN);
  const rx = await ns.run(["cat", `/sys/class/net/${chain.dev}/statistics/rx_packets`], { check: false });
  return { sent, written: Number(rx.stdout.trim()) };
}

/**
 * `--list-ping`: only the row of the worst ping while a management client lists a full MAC table, in the
 * plan's rounds, C and ours alternating (which one first alternates too). A few seconds a sample: a
 * quick A/B of that row between checkouts (VDE_OURS_CMD), where the data-plane section takes minutes.
 */
export async function listPingSection(ctx: BenchContext): Promise<void> {
  const row = listPingRow(ctx);
  for (const tool of ["vde_switch", "vde_plug", "unixcmd"]) {
    if (!(await hasCommand(tool))) {
      row.skipped = `${tool} is not installed`;
      ctx.log(`list-ping row skipped: ${row.skipped}`);
      return;
    }
  }
  await withNetns(async (lab) => {
    const [a, b] = await pingPair(lab, PING_TAPS.slice(0, 1));
    for (let round = 0; round < ctx.plan.rounds; round++) {
      for (const kind of round % 2 === 0 ? ctx.kinds : [...ctx.kinds].reverse()) {
        await listPing(ctx, lab, a, b, kind, row);
      }
    }
  });
}

function listPingRow(ctx: BenchContext): BenchRow {
  return ctx.row(`ping max while hash/print lists ${MACS} MACs in a loop (target <= 2 ms)`, "ms", "lower");
}

/** Namespaces a and b, each with `taps` (a at .1, b at .2 of each tap's /24). */
async function pingPair(lab: Lab, taps: readonly (readonly [string, string])[]): Promise<[Netns, Netns]> {
  const a = await lab.namespace("a");
  const b = await lab.namespace("b");
  for (const [n, host] of [[a, 1], [b, 2]] as const) {
    for (const [dev, net] of taps) {
      await n.tap(dev);
      await n.addr(dev, `${net}.${host}/24`);
    }
  }
  return [a, b];
}

/**
 * The worst ping while a management client lists a full MAC table (one sample of `kind` in `row`): a
 * table of MACS entries filled, a shell loop of `unixcmd hash/print`, 100 pings from a to b on t0.
 */
async function listPing(
  ctx: BenchContext,
  lab: Lab,
  a: Netns,
  b: Netns,
  kind: SwitchKind,
  row: BenchRow,
): Promise<void> {
  const procs: ManagedProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  let sw: SwitchHandle | null = null;
  try {
    const tmp = await lab.tempDir();
    const mgmt = `${tmp}/mgmt`;
    // Debian's table holds a few thousand entries unless it is told its size.
    const args = kind === "c" ? ["-M", mgmt, "--hashsize", String(MACS)] : ["-M", mgmt];
    sw = await ctx.startIn(kind, { extraArgs: args });
    for (const n of [a, b]) {
      const p = n.spawn(["vde_plug", `vde://${sw.dir}`, "tap://t0"], { name: `plug ${n.short}` });
      procs.push(p);
      await plugged(n, "t0", p);
    }
    await waitForPing(a, "10.199.3.2", 20_000);
    const filler = await fillMacTable(sw.dir, mgmt);
    cleanups.push(filler.close);
    const table = filler.table;
    // A table the filler could not fill (its frames lost on a loaded machine) is not this row's condition:
    // a sample of it would be read as one of a full table's listing.
    if (table.held < MACS * 0.99) {
      throw new Error(`the table holds ${table.held} MACs, not ${MACS}: sample not taken`);
    }
    // The loop counts its listings in a file: C's last only about a second each (see MacTableCount).
    const listings = `${tmp}/listings`;
    const lister = spawnManaged([
      "sh",
      "-c",
      `n=0; while :; do unixcmd -f /etc/vde2/vdecmd -s '${mgmt}' hash/print >/dev/null 2>&1; ` +
      `n=$((n+1)); echo $n > '${listings}'; done`,
    ], { name: "hash/print loop" });
    procs.push(lister);
    await sleep(200);
    const listed = async () => Number((await Deno.readTextFile(listings).catch(() => "0")).trim()) || 0;
    const listedBefore = await listed();
    // The row's own processes: the switch, the plugs, the lister's shell (its unixcmds counted as it
    // reaps them) and this process (the pinging `ip netns exec ping`, reaped by it).
    const own = [sw.pid, filler.pid, ...procs.map((p) => p.pid), Deno.pid];
    const ownCpu = async () =>
      (await Promise.all(own.map((pid) => cpuWithChildrenSeconds(pid)))).reduce((x, y) => x + y);
    const [machineBefore, ownBefore] = [await machineCpu(), await ownCpu()];
    const times = await pingTimes(a, "10.199.3.2", PINGS, PING_INTERVAL_S);
    const [machineAfter, ownAfter] = [await machineCpu(), await ownCpu()];
    const listedDuring = (await listed()) - listedBefore;
    if (times.length < PINGS * 0.9) throw new Error(`${times.length}/${PINGS} pings answered`);
    const max = Math.max(...times);
    row.samples[kind].push(max);
    // A ping held up by a process outside the row (another user's build on two cores) waits for the
    // scheduler's next tick, 4 ms at HZ=250, as one held up by the switch would: said beside each sample.
    const others = othersCores(
      machineBefore,
      machineAfter,
      ownAfter - ownBefore,
      navigator.hardwareConcurrency,
    );
    ctx.log(
      `ping max ${kind} while listing: ${max} ms; its table holds ${table.held} MACs (hash/find found ` +
        `${table.found} of ${table.probes} spread over those taught), a hash/print lists ` +
        `${table.listed}, ${listedDuring} listings finished during the pings (other processes kept ` +
        `${others.toFixed(2)} of ${navigator.hardwareConcurrency} cores busy meanwhile)`,
    );
  } catch (err) {
    row.errors[kind] = ctx.message(err);
    ctx.log(`ping during MAC listing, ${kind}: ${ctx.message(err)}`);
  } finally {
    await stopAll(procs);
    for (const c of cleanups) await c();
    if (sw) await ctx.stopIn(sw);
  }
}

/** The filler's source address number `id`: locally administered, 02:5e:00 and 24 bits of `id`. */
function fillerMac(id: number): number[] {
  return [0x02, 0x5e, 0, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff];
}

async function withC(ctx: BenchContext, fn: (sw: SwitchHandle) => Promise<void>): Promise<void> {
  const sw = await ctx.startIn("c");
  try {
    await fn(sw);
  } finally {
    await ctx.stopIn(sw);
  }
}

/**
 * How full the filled table is. What a hash/print lists is not it for Debian's vde_switch: it renders a reply
 * whole, then writes it once on the client's non-blocking socket: what does not fit the socket's buffers
 * (about 220 KB, 3,132 of 65,536 entries) is dropped, its closing `.` and `1000 Success` too, and unixcmd
 * waits its 1 s for them and exits 255. Its table holds them all (its port's IN count is MACS, and hash/find
 * finds the last): `held` counts those there before the filler and, of the filler's, the share that
 * hash/find finds of every PROBE_STEP-th, for both alike.
 */
export interface MacTableCount {
  /** Entries before the filler's, and its own scaled by the share of probes found. */
  held: number;
  probes: number;
  found: number;
  /** Entries one hash/print lists. */
  listed: number;
}

/** Every how many taught addresses one is looked up: 64 probes of 65,536, about a second of unixcmds. */
const PROBE_STEP = 1024;

/**
 * Fills the switch's table up to MACS source addresses (Debian's vde_plug fed frames on
 * stdin, in paced bursts so its queue to the switch does not overflow).
 * The client stays connected until `close` (a switch forgets a closed
 * port's addresses); `table` says how many it holds and lists.
 */
export async function fillMacTable(
  dir: string,
  mgmt: string,
): Promise<{ table: MacTableCount; pid: number; close(): Promise<void> }> {
  const mgmtCommand = (...command: string[]) =>
    run(["unixcmd", "-f", "/etc/vde2/vdecmd", "-s", mgmt, ...command], { check: false, timeoutMs: 30_000 });
  const listedNow = async () =>
    (await mgmtCommand("hash/print")).stdout.split("\n")
      .filter((l) => /([0-9a-f]{2}:){5}[0-9a-f]{2}/i.test(l)).length;
  // The table already holds the taps' addresses (a short listing is whole in C's too): the filler adds the
  // rest up to MACS. Ours keeps at most 65,536 entries: when the filler taught MACS on top, it refused two.
  const taught = MACS - await listedNow();
  const child = new Deno.Command("vde_plug", {
    args: [`vde://${dir}`],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  })
    .spawn();
  const w = child.stdin.getWriter();
  try {
    const burst = 256;
    const chunk = new Uint8Array(burst * 62);
    for (let i = 0; i < taught; i += burst) {
      const frames = Math.min(burst, taught - i);
      for (let j = 0; j < frames; j++) {
        const at = j * 62;
        const id = i + j;
        chunk[at] = 0;
        chunk[at + 1] = 60;
        chunk.fill(0xff, at + 2, at + 8); // broadcast of an unused ethertype: learnt, never answered
        chunk.set(fillerMac(id), at + 8);
        chunk[at + 14] = 0x88;
        chunk[at + 15] = 0xb5;
      }
      await w.write(chunk.subarray(0, frames * 62));
      await sleep(2);
    }
    await sleep(500);
  } catch (err) {
    await close();
    throw err;
  }
  const listed = await listedNow();
  let probes = 0;
  let found = 0;
  // Spread over what was taught, the last address among them.
  for (let id = (taught - 1) % PROBE_STEP; id < taught; id += PROBE_STEP) {
    const mac = fillerMac(id).map((b) => b.toString(16).padStart(2, "0")).join(":");
    probes++;
    if ((await mgmtCommand("hash/find", mac)).stdout.includes(`Addr: ${mac} `)) found++;
  }
  const held = MACS - taught + Math.round((taught * found) / probes);
  return { table: { held, probes, found, listed }, pid: child.pid, close };

  async function close(): Promise<void> {
    // Not awaited: with a pipe still full it waits for a reader that is about to be killed.
    w.close().catch(() => {});
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    // Debian's vde_plug can hang in a futex on SIGTERM (its handler exits while a lock is held: seen
    // once, stalling the whole bench): killed for good after 2 s.
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 2000);
    await child.status;
    clearTimeout(timer);
  }
}
