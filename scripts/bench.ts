/**
 * `deno task bench [--quick] [--strict]`: our switch against Debian's C
 * vde_switch, in the same run, with the same libvdeplug clients, alternating.
 *
 * Measures frames/s and Mbit/s at a sink for 64- and 1500-byte frames, the
 * switch's RSS idle, with 32 and 1,000 connected ports and a lab's process's, and the ping RTT between two
 * namespaces plugged by `vde_plug tap://`. Prints a table, writes
 * scripts/.build/bench-last.json. "Ours" is chosen as in
 * test/helpers/switches.ts (VDE_OURS_CMD overrides it).
 *
 * Bounded: every client has its own timer and every wait a timeout; a full
 * run of every section takes about 17 minutes on two cores (`--quick` and
 * one `--section` much less).
 */
import { cpuSeconds, settle } from "./proc_cpu.ts";
import { fileURLToPath } from "node:url";
import { type BenchContext, dataplaneSection, listPingSection } from "./bench_dataplane.ts";
import { freeLoopbackPort } from "./free_port.ts";
import { type Pair, vethPair } from "../test/helpers/netns_pair.ts";
import {
  canNetns,
  canPing,
  type Lab,
  type Netns,
  ping,
  waitForPing,
  withNetns,
} from "../test/helpers/netns.ts";
import {
  hasCommand,
  type ManagedProcess,
  ROOT_IF_PREFIX,
  run,
  RUN_PREFIX,
  sleep,
  spawnManaged,
  waitFor,
} from "../test/helpers/processes.ts";
import {
  ourSwitchCommand,
  startCSwitch,
  startSwitchOf,
  type SwitchHandle,
  type SwitchKind,
  type SwitchOptions,
  vmRssKiB,
} from "../test/helpers/switches.ts";
import { dhcpFamily } from "../test/helpers/adversarial.ts";
import "../src/link/schemes.ts";
import { openLink } from "../src/link/registry.ts";
import { buildFrame } from "../src/wire/ethernet.ts";
import { writeIpv4Header } from "../src/wire/ipv4.ts";
import { writeUdp } from "../src/wire/udp.ts";
import { ARP_REQUEST, writeArp } from "../src/wire/arp.ts";
import { DENO_RUN } from "../src/cli/v8_flags.ts";
import {
  CHAIN_ROUND_TRIPS,
  floorConnPerS,
  pingTimesMs,
  roundTripsPerConnection,
  usPerConnection,
} from "./conn_floor.ts";
import { connectionRate } from "./conn_rate.ts";

const SCRIPTS = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const BUILD = `${SCRIPTS}/.build`;
/** `vde` of the checkout under test, run as vde is (its V8 flags, src/cli/v8_flags.ts). */
const VDE_CMD: readonly string[] = [Deno.execPath(), ...DENO_RUN, `${SCRIPTS}/../mod.ts`];
const LOADGEN = `${BUILD}/loadgen`;
const CONNLOAD = `${BUILD}/connload`;
const KINDS: readonly SwitchKind[] = ["c", "ours"];

/** Run-length settings. */
interface Plan {
  rounds: number;
  seconds: number;
  pings: number;
}

const FULL: Plan = { rounds: 5, seconds: 2, pings: 20 };
const QUICK: Plan = { rounds: 2, seconds: 1.5, pings: 20 };

/** One row of the table. */
interface Metric {
  label: string;
  unit: string;
  better: "higher" | "lower";
  /** Minimum ours/C ratio (maximum, when lower is better); absent = informational. */
  target?: number;
  /** Per-kind samples; the table shows the median. */
  samples: Record<SwitchKind, number[]>;
  /** Why a value is missing. */
  errors: Partial<Record<SwitchKind, string>>;
  skipped?: string;
}

function metric(label: string, unit: string, better: "higher" | "lower", target?: number): Metric {
  return { label, unit, better, target, samples: { c: [], ours: [] }, errors: {} };
}

function log(msg: string): void {
  console.error(`[bench] ${msg}`);
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// ---------------------------------------------------------------------------
// Load generator

/** Compiles scripts/NAME.c into .build/NAME when the binary is missing or older than the source. */
async function buildTool(name: string, libs: string[] = []): Promise<void> {
  const source = `${SCRIPTS}/${name}.c`;
  const binary = `${BUILD}/${name}`;
  const src = await Deno.stat(source);
  const bin = await Deno.stat(binary).catch(() => null);
  if (bin?.mtime && src.mtime && bin.mtime >= src.mtime) return;
  if (!(await hasCommand("cc"))) throw new Error(`cc is not installed: cannot build scripts/${name}.c`);
  await Deno.mkdir(BUILD, { recursive: true });
  log(`compiling scripts/${name}.c`);
  await run(["cc", "-O2", "-Wall", "-o", binary, source, ...libs], { timeoutMs: 60_000 });
}

/** Waits for `p` to exit within `ms`; kills it and throws otherwise. */
async function exitWithin(p: ManagedProcess, ms: number): Promise<void> {
  const done = await Promise.race([p.status.then(() => true), sleep(ms).then(() => false)]);
  if (!done) {
    await p.stop({ timeoutMs: 1000 });
    throw new Error(`${p.name} did not finish within ${ms} ms`);
  }
  await p.stop(); // drains the output pumps
  if (!p.exitStatus?.success) throw new Error(`${p.name} failed: ${p.stderr.trim() || p.exitStatus?.code}`);
}

function field(line: string, name: string): number {
  const m = line.match(new RegExp(`\\b${name}=([\\d.]+)`));
  if (!m) throw new Error(`no ${name}= in: ${line}`);
  return Number(m[1]);
}

/** Sink result of one source→switch→sink run. */
interface Flow {
  fps: number;
  mbps: number;
  sent: number;
  received: number;
  /** The sink's first to last frame, in seconds. */
  span: number;
  /** The source's and the sink's CPU time as a share of their run (1 = one core busy). */
  sourceBusy: number;
  sinkBusy: number;
  /** Frames the source sent, and the sink received, per system call (the sink's polls counted). */
  sourcePerCall: number;
  sinkPerCall: number;
}

/**
 * Command prefix for the traffic clients. On a 2-CPU machine three busy
 * processes (source, switch, sink) land on CPUs by chance, and the run-to-run
 * spread measured 2x; with both clients pinned to CPU 0 (the switch stays
 * free to use both) it measured about 5%. Empty when pinning is impossible.
 */
let clientPin: string[] = [];

async function chooseClientPin(): Promise<string> {
  const cpus = navigator.hardwareConcurrency;
  if (cpus < 2) return "clients not pinned (1 CPU)";
  if (!(await hasCommand("taskset"))) return "clients not pinned (no taskset)";
  clientPin = ["taskset", "-c", "0"];
  return "source and sink pinned to CPU 0";
}

/** `mcast`: the frames go to 239.1.1.1, which the sink joined (after a query) with an IGMP report first. */
async function flow(sw: SwitchHandle, size: number, seconds: number, mcast = false): Promise<Flow> {
  return await flowVia(`vde://${sw.dir}`, `vde://${sw.dir}`, size, seconds, mcast);
}

/** Like flow, with the source on `sourceVnl` and the sink on `sinkVnl` (two switches joined by a cable). */
async function flowVia(
  sourceVnl: string,
  vnl: string,
  size: number,
  seconds: number,
  mcast = false,
): Promise<Flow> {
  const extra = mcast ? ["mcast"] : [];
  const sink = spawnManaged([...clientPin, LOADGEN, "sink", vnl, String(seconds + 5), ...extra], {
    name: "loadgen sink",
  });
  try {
    await sink.waitForOutput(/^ready$/m, 5000);
    await sleep(50); // the announce frame must be learnt before traffic starts
    const source = spawnManaged([
      ...clientPin,
      LOADGEN,
      "source",
      sourceVnl,
      String(size),
      String(seconds),
      ...extra,
    ], {
      name: "loadgen source",
    });
    await exitWithin(source, (seconds + 10) * 1000);
    await exitWithin(sink, 10_000);
    const sinkLine = sink.stdout.split("\n").find((l) => l.startsWith("sink ")) ?? "";
    const sourceLine = source.stdout.split("\n").find((l) => l.startsWith("source ")) ?? "";
    const received = field(sinkLine, "frames");
    const span = field(sinkLine, "seconds");
    if (received < 2 || span <= 0) throw new Error(`sink received ${received} frames`);
    return {
      fps: received / span,
      mbps: (field(sinkLine, "bytes") * 8) / span / 1e6,
      sent: field(sourceLine, "frames"),
      received,
      span,
      sourceBusy: field(sourceLine, "cpu") / field(sourceLine, "seconds"),
      sinkBusy: field(sinkLine, "cpu") / span,
      sourcePerCall: field(sourceLine, "frames") / Math.max(1, field(sourceLine, "calls")),
      sinkPerCall: received / Math.max(1, field(sinkLine, "calls")),
    };
  } finally {
    await sink.stop({ timeoutMs: 1000 });
  }
}

// ---------------------------------------------------------------------------
// Sections

async function tempSwitchDir(): Promise<string> {
  // The run prefix lets the helpers' reaper and sweep remove it if we are killed.
  return `${await Deno.makeTempDir({ prefix: `${RUN_PREFIX}bench-` })}/sw`;
}

async function removeSwitchDir(dir: string): Promise<void> {
  await Deno.remove(dir.replace(/\/sw$/, ""), { recursive: true }).catch(() => {});
}

/** Starts a switch in a fresh temp dir; the dir goes with `stop`. */
async function startIn(kind: SwitchKind, opts: SwitchOptions = {}): Promise<SwitchHandle> {
  const dir = await tempSwitchDir();
  try {
    return await startSwitchOf(kind, dir, opts);
  } catch (err) {
    await removeSwitchDir(dir);
    throw err;
  }
}

async function stopIn(sw: SwitchHandle): Promise<void> {
  await sw.stop();
  await removeSwitchDir(sw.dir);
}

function assertAlive(sw: SwitchHandle): void {
  if (sw.process.exitStatus !== null) {
    throw new Error(`${sw.kind} switch died: ${sw.stderr().trim().split("\n").slice(-3).join(" | ")}`);
  }
}

/**
 * Per round, a fresh switch of each kind (started with `opts`) handed to
 * `measure` once it is idle (see settle). One switch is alive at a time, so
 * the idle one cannot take CPU from the measured one; who goes first
 * alternates, so neither always gets the warmer (or busier) machine. A failing switch usually keeps failing:
 * its first error is recorded on every metric of `metrics` and that kind
 * is not measured again.
 */
async function eachSwitchPerRound(
  plan: Plan,
  what: string,
  metrics: Metric[],
  opts: SwitchOptions,
  measure: (sw: SwitchHandle, round: number) => Promise<void>,
): Promise<void> {
  const failed: Partial<Record<SwitchKind, boolean>> = {};
  const fail = (kind: SwitchKind, why: string) => {
    failed[kind] = true;
    for (const m of metrics) m.errors[kind] = why;
  };
  for (let round = 0; round < plan.rounds; round++) {
    for (const kind of round % 2 === 0 ? KINDS : [...KINDS].reverse()) {
      if (failed[kind]) continue;
      let sw: SwitchHandle;
      try {
        sw = await startIn(kind, opts);
      } catch (err) {
        fail(kind, `did not start: ${message(err)}`);
        log(`${kind} switch did not start: ${message(err)}`);
        continue;
      }
      try {
        await settle(sw.pid);
        await measure(sw, round);
      } catch (err) {
        fail(kind, message(err));
        log(`${what}, ${kind}: ${message(err)}`);
      } finally {
        await stopIn(sw);
      }
    }
  }
}

/**
 * Frames/s and CPU per frame at 64 and 1500 B, and who was busy: the switch, and the source and
 * sink together (both pinned to CPU 0, so 100% there means the clients, not the switch, set the
 * rate); `floor` adds the floor's rows (see floorRows).
 */
async function throughputSection(plan: Plan, metrics: Metric[], floor = true): Promise<void> {
  const sizes = [64, 1500].map((size) => ({
    size,
    fps: metric(`frames/s, ${size} B frames`, "frames/s", "higher", size === 64 ? 2.0 : 1.5),
    mbps: metric(`Mbit/s, ${size} B frames`, "Mbit/s", "higher"),
    cpu: metric(`switch CPU per frame forwarded, ${size} B`, "ns", "lower"),
    busy: metric(`switch CPU busy, ${size} B (100% = one core)`, "%", "higher"),
    clients: metric(`source + sink CPU busy, ${size} B (both on one core; 100% = all of it)`, "%", "higher"),
  }));
  const mine = sizes.flatMap((s) => [s.fps, s.mbps, s.cpu, s.busy, s.clients]);
  metrics.push(...mine);
  await eachSwitchPerRound(plan, "throughput", mine, {}, async (sw, round) => {
    for (const s of sizes) {
      const cpuBefore = await cpuSeconds(sw.pid);
      const f = await flow(sw, s.size, plan.seconds);
      const cpu = (await cpuSeconds(sw.pid)) - cpuBefore;
      assertAlive(sw);
      s.fps.samples[sw.kind].push(f.fps);
      s.mbps.samples[sw.kind].push(f.mbps);
      s.cpu.samples[sw.kind].push((cpu / f.received) * 1e9);
      s.busy.samples[sw.kind].push((100 * cpu) / f.span);
      s.clients.samples[sw.kind].push(100 * (f.sourceBusy + f.sinkBusy));
      log(`${s.size} B, ${sw.kind}, round ${round + 1}: ${describeFlow(f, cpu)}`);
    }
  });
  if (floor) await floorRows(plan, metrics, sizes);
}

/** A flow's log line: rates, loss, and who was busy (100% = one core). */
function describeFlow(f: Flow, switchCpu: number): string {
  const loss = f.sent > 0 ? (100 * (f.sent - f.received)) / f.sent : 0;
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  return `${Math.round(f.fps)} frames/s, ${f.mbps.toFixed(0)} Mbit/s (sent ${f.sent}, lost ${
    loss.toFixed(1)
  }%; ` +
    `busy: forwarder ${pct(switchCpu / f.span)}, source ${pct(f.sourceBusy)}, sink ${pct(f.sinkBusy)}; ` +
    `frames a system call: source ${f.sourcePerCall.toFixed(1)}, sink ${f.sinkPerCall.toFixed(1)})`;
}

/**
 * Waits until the unix stream socket `path` accepts a connection: its file
 * appears at bind(), before listen(), and a client's connect in between
 * is refused. (loadgen's floor takes a connection that sends no request
 * for such a probe.)
 */
async function waitUntilAccepting(path: string): Promise<void> {
  await waitFor(async () => {
    try {
      (await Deno.connect({ transport: "unix", path })).close();
      return true;
    } catch {
      return false;
    }
  }, { what: `${path} to accept connections`, timeoutMs: 5000 });
}

/** A running `loadgen floor` (see floorRows) serving DIR/ctl. */
interface FloorHandle {
  dir: string;
  pid: number;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** Starts `loadgen floor` (batches of 64, gone after `seconds`) in a fresh directory, once it accepts clients. */
async function startFloor(seconds: number): Promise<FloorHandle> {
  const dir = await tempSwitchDir();
  const floor = spawnManaged([LOADGEN, "floor", dir, "64", String(seconds)], { name: "loadgen floor" });
  const stop = async () => {
    await floor.stop({ timeoutMs: 1000 });
    await removeSwitchDir(dir);
  };
  try {
    await waitUntilAccepting(`${dir}/ctl`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, pid: floor.pid, stop };
}

/**
 * The floor (`loadgen floor`: recvmmsg/sendmmsg between two ports, no
 * switching) in the throughput rows' position, against the C column of the
 * same rows: the best ratio to vde_switch any switch on those calls reaches,
 * and the kernel's CPU per frame in it.
 */
async function floorRows(
  plan: Plan,
  metrics: Metric[],
  sizes: { size: number; fps: Metric; cpu: Metric; clients: Metric }[],
): Promise<void> {
  const rows = sizes.map((s) => ({
    size: s.size,
    fps: metric(
      `frames/s, ${s.size} B: C column = vde_switch, ours = floor (forwarder without switching)`,
      "frames/s",
      "higher",
    ),
    cpu: metric(`CPU per frame forwarded, ${s.size} B: C = vde_switch, ours = floor`, "ns", "lower"),
    clients: metric(
      `source + sink CPU busy, ${s.size} B: C = behind vde_switch, ours = behind floor`,
      "%",
      "higher",
    ),
    of: s,
  }));
  metrics.push(...rows.flatMap((r) => [r.fps, r.cpu, r.clients]));
  for (let round = 0; round < plan.rounds; round++) {
    for (const r of rows) {
      let floor: FloorHandle | null = null;
      try {
        floor = await startFloor(plan.seconds + 30);
        const dir = floor.dir;
        const cpuBefore = await cpuSeconds(floor.pid);
        const f = await flowVia(`vde://${dir}`, `vde://${dir}`, r.size, plan.seconds);
        const cpu = (await cpuSeconds(floor.pid)) - cpuBefore;
        r.fps.samples.ours.push(f.fps);
        r.cpu.samples.ours.push((cpu / f.received) * 1e9);
        r.clients.samples.ours.push(100 * (f.sourceBusy + f.sinkBusy));
        log(`${r.size} B, floor, round ${round + 1}: ${describeFlow(f, cpu)}`);
      } catch (err) {
        for (const m of [r.fps, r.cpu, r.clients]) m.errors.ours = message(err);
        log(`${r.size} B, floor: ${message(err)}`);
      } finally {
        await floor?.stop();
      }
    }
  }
  for (const r of rows) {
    r.fps.samples.c = r.of.fps.samples.c;
    r.cpu.samples.c = r.of.cpu.samples.c;
    r.clients.samples.c = r.of.clients.samples.c;
  }
}

/**
 * 64-byte frames from an access port of VLAN 10 (port 2) to a trunk carrying
 * VLAN 10 tagged (port 1): every frame gets a tag on the way, the VLAN path
 * of the switch rather than the flat one. Configured by a startup file (-f).
 */
async function vlanSection(plan: Plan, metrics: Metric[]): Promise<void> {
  const fps = metric("frames/s, 64 B, VLAN access port -> trunk (tag added)", "frames/s", "higher");
  metrics.push(fps);
  const rcDir = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}bench-rc-` });
  const rc = `${rcDir}/vlan.rc`;
  await Deno.writeTextFile(
    rc,
    "vlan/create 10\nport/create 1\nport/create 2\nvlan/addport 10 1\nport/setvlan 2 10\n",
  );
  try {
    await eachSwitchPerRound(plan, "VLAN throughput", [fps], { extraArgs: ["-f", rc] }, async (sw, round) => {
      const f = await flowVia(`vde://${sw.dir}[2]`, `vde://${sw.dir}[1]`, 64, plan.seconds);
      assertAlive(sw);
      fps.samples[sw.kind].push(f.fps);
      log(`VLAN 64 B, ${sw.kind}, round ${round + 1}: ${Math.round(f.fps)} frames/s`);
    });
  } finally {
    await Deno.remove(rcDir, { recursive: true }).catch(() => {});
  }
}

/**
 * 64-byte frames between two ports with spanning tree on (`-F`, which both
 * switches take; ours runs RSTP, C its own FSTP), both ports declared edge
 * by a startup file (`fstp/setedge`, which both understand) so they forward
 * at once. Compare with the plain 64 B row: what the BPDU classification and
 * the tree cost the data path.
 */
async function stpSection(plan: Plan, metrics: Metric[]): Promise<void> {
  const fps = metric("frames/s, 64 B, spanning tree on (-F)", "frames/s", "higher");
  metrics.push(fps);
  const rcDir = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}bench-rc-` });
  const rc = `${rcDir}/stp.rc`;
  await Deno.writeTextFile(rc, "port/create 1\nport/create 2\nfstp/setedge 0 1 1\nfstp/setedge 0 2 1\n");
  try {
    const opts = { extraArgs: ["-F", "-f", rc] };
    await eachSwitchPerRound(plan, "spanning tree throughput", [fps], opts, async (sw, round) => {
      const f = await flowVia(`vde://${sw.dir}[2]`, `vde://${sw.dir}[1]`, 64, plan.seconds);
      assertAlive(sw);
      fps.samples[sw.kind].push(f.fps);
      log(`spanning tree 64 B, ${sw.kind}, round ${round + 1}: ${Math.round(f.fps)} frames/s`);
    });
  } finally {
    await Deno.remove(rcDir, { recursive: true }).catch(() => {});
  }
}

/** Holds `clients` connections on a fresh switch and reads its RSS; idle RSS first when `idle` is given. */
async function rssWith(kind: SwitchKind, ports: number, clients: number, idle?: Metric): Promise<number> {
  const sw = await startIn(kind, { ports, nofile: 2 * ports + 256 });
  try {
    await sleep(300);
    if (idle) idle.samples[kind].push((await sw.rssKiB()) / 1024);
    const hold = spawnManaged([LOADGEN, "hold", `vde://${sw.dir}`, String(clients), "60"], {
      name: "loadgen hold",
    });
    try {
      const m = await hold.waitForOutput(/hold opened=(\d+)/, 30_000);
      if (Number(m[1]) !== clients) throw new Error(`only ${m[1]} of ${clients} connections opened`);
      await sleep(500); // let the switch finish its side of the last handshakes
      assertAlive(sw);
      return (await sw.rssKiB()) / 1024;
    } finally {
      await hold.stop({ timeoutMs: 2000 });
    }
  } finally {
    await stopIn(sw);
  }
}

/**
 * A lab's process (`vde up -d` of examples/lan-nat.yaml: a switch, a slirp and two hosts whose taps
 * are plugged in the same process) once it is idle, and in the C column the LAN made of C processes:
 * Debian's vde_switch, `vde_plug slirp://` (libvdeplug_slirp) and two `vde_plug tap://`, their RSS
 * summed. Returns MiB.
 */
async function labRss(kind: SwitchKind): Promise<number> {
  if (kind === "ours") {
    const vde = VDE_CMD;
    const name = `b${Deno.pid.toString(36)}`;
    const dir = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}bench-lab-` });
    const file = `${dir}/lab.yaml`;
    const text = await Deno.readTextFile(`${SCRIPTS}/../examples/lan-nat.yaml`);
    await Deno.writeTextFile(file, text.replace(/^name: .*$/m, `name: ${name}`));
    try {
      await run([...vde, "up", "-d", file], { timeoutMs: 60_000 });
      const status = await run([...vde, "status", name, "--json"], { timeoutMs: 30_000 });
      const pid = Number(JSON.parse(status.stdout).pid);
      await settle(pid);
      return (await vmRssKiB(pid)) / 1024;
    } finally {
      await run([...vde, "down", "--cleanup", name], { timeoutMs: 30_000, check: false });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
  const sw = await startIn("c");
  const plugs = [
    "slirp://",
    `tap://${ROOT_IF_PREFIX}l1`,
    `tap://${ROOT_IF_PREFIX}l2`,
  ].map((end) => spawnManaged(["vde_plug", `vde://${sw.dir}`, end], { name: `vde_plug ${end}` }));
  try {
    await sleep(1000);
    let kib = await sw.rssKiB();
    for (const p of plugs) {
      if (p.exitStatus !== null) throw new Error(`${p.name} exited: ${p.stderr.trim()}`);
      kib += await vmRssKiB(p.pid);
    }
    return kib / 1024;
  } finally {
    for (const p of plugs) await p.stop({ timeoutMs: 2000 });
    await stopIn(sw);
  }
}

async function rssSection(metrics: Metric[]): Promise<void> {
  const idle = metric("RSS, idle (64 ports)", "MiB", "lower");
  const cases = [
    { clients: 32, ports: 64, m: metric("RSS, 32 connected ports", "MiB", "lower") },
    { clients: 1000, ports: 1024, m: metric("RSS, 1000 connected ports", "MiB", "lower") },
  ];
  const lab = metric("RSS, a lab (lan-nat: switch, slirp, 2 hosts; C: its 4 processes)", "MiB", "lower");
  metrics.push(idle, ...cases.map((c) => c.m), lab);
  for (const [i, c] of cases.entries()) {
    for (const kind of i % 2 === 0 ? KINDS : [...KINDS].reverse()) {
      try {
        const mib = await rssWith(kind, c.ports, c.clients, c.clients === 32 ? idle : undefined);
        c.m.samples[kind].push(mib);
        log(`RSS ${kind} with ${c.clients} ports: ${mib.toFixed(1)} MiB`);
      } catch (err) {
        c.m.errors[kind] = message(err);
        if (c.clients === 32 && idle.samples[kind].length === 0) idle.errors[kind] = message(err);
        log(`RSS ${kind} with ${c.clients} ports: ${message(err)}`);
      }
    }
  }
  for (const kind of KINDS) {
    try {
      const mib = await labRss(kind);
      lab.samples[kind].push(mib);
      log(`RSS of a lab, ${kind}: ${mib.toFixed(1)} MiB`);
    } catch (err) {
      lab.errors[kind] = message(err);
      log(`RSS of a lab, ${kind}: ${message(err)}`);
    }
  }
}

async function pingSection(plan: Plan, metrics: Metric[]): Promise<void> {
  const m = metric(`ping RTT avg (${plan.pings} pings), vde_plug tap`, "ms", "lower");
  metrics.push(m);
  let missing = await canNetns();
  if (missing === null && !(await hasCommand("vde_plug"))) missing = "vde_plug is not installed";
  if (missing === null && !(await canPing())) missing = "neither ping nor busybox is installed";
  if (missing !== null) {
    m.skipped = missing;
    log(`ping skipped: ${missing}`);
    return;
  }
  await withNetns(async (lab) => {
    const ns: Netns[] = [];
    for (const [short, addr] of [["a", "10.199.1.1/24"], ["b", "10.199.1.2/24"]] as const) {
      const n = await lab.namespace(short);
      await n.tap("t0");
      await n.addr("t0", addr);
      ns.push(n);
    }
    for (const kind of KINDS) {
      let sw: SwitchHandle | null = null;
      const plugs: ManagedProcess[] = [];
      try {
        sw = await startIn(kind);
        for (const n of ns) {
          plugs.push(n.spawn(["vde_plug", `vde://${sw.dir}`, "tap://t0"], { name: `vde_plug ${n.short}` }));
          await n.waitForCarrier("t0", 10_000);
        }
        await waitForPing(ns[0]!, "10.199.1.2");
        const r = await ping(ns[0]!, "10.199.1.2", plan.pings, 0.05);
        if (r.avgMs === null || r.received < plan.pings) {
          throw new Error(`${r.received}/${plan.pings} pings answered`);
        }
        m.samples[kind].push(r.avgMs);
        log(`ping ${kind}: avg ${r.avgMs} ms`);
      } catch (err) {
        m.errors[kind] = message(err);
        log(`ping ${kind}: ${message(err)}`);
      } finally {
        // Free the taps for the next switch's plugs.
        for (const p of plugs) await p.stop({ timeoutMs: 2000 });
        if (sw) await stopIn(sw);
      }
    }
  });
}

/**
 * Issue 4's setup: two namespaces, each tap opened by the implementation's
 * own plug (Debian's `vde_plug tap://` into Debian's switch, against our
 * `vde plug ... tap://` into ours); iperf3 TCP both ways and ping RTT.
 */
async function tapSection(plan: Plan, metrics: Metric[]): Promise<void> {
  const up = metric("iperf3 a->b, each side's own plug tap://", "Mbit/s", "higher", 1.0);
  const down = metric("iperf3 b->a, each side's own plug tap://", "Mbit/s", "higher", 1.0);
  const rtt = metric(`ping RTT avg (${plan.pings} pings), own plug tap://`, "ms", "lower");
  metrics.push(up, down, rtt);
  let missing = await canNetns();
  if (missing === null && !(await hasCommand("vde_plug"))) missing = "vde_plug is not installed";
  if (missing === null && !(await hasCommand("iperf3"))) missing = "iperf3 is not installed";
  if (missing === null && !(await canPing())) missing = "neither ping nor busybox is installed";
  if (missing !== null) {
    for (const m of [up, down, rtt]) m.skipped = missing;
    log(`tap section skipped: ${missing}`);
    return;
  }
  const ours = [...VDE_CMD, "plug"];
  await withNetns(async (lab) => {
    const ns: Netns[] = [];
    for (const [short, addr] of [["a", "10.199.2.1/24"], ["b", "10.199.2.2/24"]] as const) {
      const n = await lab.namespace(short);
      await n.tap("t0");
      await n.addr("t0", addr);
      ns.push(n);
    }
    const [a, b] = ns as [Netns, Netns];
    for (let round = 0; round < Math.max(2, Math.ceil(plan.rounds / 2)); round++) {
      for (const kind of round % 2 === 0 ? KINDS : [...KINDS].reverse()) {
        let sw: SwitchHandle | null = null;
        const plugs: ManagedProcess[] = [];
        try {
          sw = await startIn(kind);
          for (const n of ns) {
            const cmd = kind === "c" ? ["vde_plug"] : ours;
            plugs.push(n.spawn([...cmd, `vde://${sw.dir}`, "tap://t0"], { name: `${kind} plug ${n.short}` }));
            await n.waitForCarrier("t0", 20_000);
          }
          await waitForPing(a, "10.199.2.2");
          for (const [m, reverse] of [[up, false], [down, true]] as const) {
            const srv = b.spawn(["iperf3", "-s", "-1", "-p", "5210"], { name: "iperf3 server" });
            await waitFor(
              async () =>
                (await b.run(["ss", "-Hltn", "sport = :5210"], { check: false })).stdout.trim() !== "",
              {
                timeoutMs: 5000,
                what: "iperf3 server",
              },
            );
            const args = ["iperf3", "-c", "10.199.2.2", "-p", "5210", "-t", String(plan.seconds + 1), "-J"];
            if (reverse) args.push("-R");
            const r = await a.run(args, { check: false, timeoutMs: 30_000 });
            await srv.stop({ timeoutMs: 2000 });
            if (!r.success) throw new Error(`iperf3 failed: ${r.stderr.trim() || r.stdout.slice(0, 200)}`);
            const report = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } };
            const mbps = (report.end?.sum_received?.bits_per_second ?? 0) / 1e6;
            m.samples[kind].push(mbps);
            log(`tap iperf3 ${reverse ? "b->a" : "a->b"} ${kind}: ${mbps.toFixed(0)} Mbit/s`);
          }
          const p = await ping(a, "10.199.2.2", plan.pings, 0.05);
          if (p.avgMs !== null && p.received === plan.pings) rtt.samples[kind].push(p.avgMs);
        } catch (err) {
          for (const m of [up, down]) m.errors[kind] = message(err);
          log(`tap ${kind}: ${message(err)}`);
        } finally {
          for (const p of plugs) await p.stop({ timeoutMs: 2000 });
          if (sw) await stopIn(sw);
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Cables: two switches joined by each kind of cable (issue 6)

/** One way of joining two of our switches, as `vde switch` arguments for each side. */
interface CableKind {
  name: string;
  /** Minimum ratio to the dpipe cable between C switches; absent = informational. */
  target?: number;
  env?: Record<string, string>;
  /** The loopback ports its two sides use; absent: none (the multicast cables, in namespaces of their own). */
  ports?: () => Promise<number[]>;
  args(ports: number[], key: string): [string[], string[]];
  /** Wait for the listener's "cable open" line before measuring. */
  connects: boolean;
  /** Run A and B in two namespaces joined by a veth (multicast cables: never on the host's own network). */
  netns?: boolean;
}

/** One TCP port on loopback: the tcp:// cable's listener. */
const oneTcpPort = async () => [await freeLoopbackPort()];

const CABLE_KINDS: CableKind[] = [
  {
    name: "tcp:// encrypted",
    target: 0.8,
    connects: true,
    ports: oneTcpPort,
    args: ([p], k) => [
      ["--cable", `tcp://127.0.0.1:${p}/listen`, "--key", k],
      ["--cable", `tcp://127.0.0.1:${p}`, "--key", k],
    ],
  },
  {
    name: "tcp:// plain (--insecure)",
    target: 1.0,
    connects: true,
    ports: oneTcpPort,
    args: (
      [p],
    ) => [["--cable", `tcp://127.0.0.1:${p}/listen/insecure`], ["--cable", `tcp://127.0.0.1:${p}/insecure`]],
  },
  {
    name: "tcp:// encrypted, WebCrypto AES-GCM",
    env: { VDE_CABLE_CRYPTO: "webcrypto" },
    connects: true,
    ports: oneTcpPort,
    args: ([p], k) => [
      ["--cable", `tcp://127.0.0.1:${p}/listen`, "--key", k],
      ["--cable", `tcp://127.0.0.1:${p}`, "--key", k],
    ],
  },
  {
    name: "udp://",
    connects: false,
    ports: async () => [await freeLoopbackPort("udp"), await freeLoopbackPort("udp")],
    args: ([p, q]) => [
      ["--cable", `udp://127.0.0.1:${p}->127.0.0.1:${q}`],
      ["--cable", `udp://127.0.0.1:${q}->127.0.0.1:${p}`],
    ],
  },
  {
    name: "vxlan://, two namespaces on a veth",
    connects: false,
    netns: true,
    args: () => [["--cable", "vxlan://239.199.9.1/vni=9"], ["--cable", "vxlan://239.199.9.1/vni=9"]],
  },
  {
    name: "vxvde://, two namespaces on a veth",
    connects: false,
    netns: true,
    args: () => [["--cable", "vxvde://239.199.9.2/vni=9"], ["--cable", "vxvde://239.199.9.2/vni=9"]],
  },
];

/** Starts our switch on `dir` with extra arguments and environment; resolves once it serves. */
async function startCableSwitch(
  dir: string,
  args: string[],
  env?: Record<string, string>,
  ns?: Netns,
): Promise<ManagedProcess> {
  const { cmd } = ourSwitchCommand(dir, { extraArgs: args });
  const proc = spawnManaged(ns ? ns.exec(cmd) : cmd, { name: `switch ${dir}`, env });
  try {
    await proc.waitForOutput(/vde switch: serving /, 30_000, "stderr");
    return proc;
  } catch (err) {
    await proc.stop({ timeoutMs: 1000 });
    throw err;
  }
}

/**
 * Issue 6's cable benchmark: loadgen's source on switch A, its sink on switch
 * B, the two switches joined by a cable on loopback. "C" is two Debian
 * vde_switches joined by `dpipe vde_plug A = vde_plug B`; "ours" is two of
 * our switches joined by each kind of cable.
 */
async function cableSection(plan: Plan, metrics: Metric[]): Promise<void> {
  const table = CABLE_KINDS.map((k) => ({
    kind: k,
    fps: metric(`cable ${k.name}: frames/s, 64 B (C = dpipe vde_plug)`, "frames/s", "higher", k.target),
    mbps: metric(`cable ${k.name}: Mbit/s, 1500 B (C = dpipe vde_plug)`, "Mbit/s", "higher", k.target),
  }));
  for (const row of table) metrics.push(row.fps, row.mbps);
  let missing: string | null = null;
  for (const tool of ["vde_switch", "vde_plug", "dpipe"]) {
    if (missing === null && !(await hasCommand(tool))) missing = `${tool} is not installed`;
  }
  if (missing !== null) {
    for (const row of table) row.fps.skipped = row.mbps.skipped = missing;
    log(`cable section skipped: ${missing}`);
    return;
  }
  const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}cable-` });
  const key = `${tmp}/cable.key`;
  await Deno.writeTextFile(
    key,
    `${
      Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("")
    }\n`,
    {
      mode: 0o600,
    },
  );
  const sizes = [64, 1500] as const;
  const record = (targets: Metric[][], f: Flow, size: number, kind: SwitchKind) => {
    for (const [fps, mbps] of targets) {
      (size === 64 ? fps : mbps)!.samples[kind].push(size === 64 ? f.fps : f.mbps);
    }
  };
  const rounds = async (pair: Pair | null) => {
    for (let round = 0; round < Math.max(2, Math.ceil(plan.rounds / 2)); round++) {
      const order: (CableKind | null)[] = [null, ...CABLE_KINDS.filter((k) => pair !== null || !k.netns)];
      for (const kind of round % 2 === 0 ? order : [...order].reverse()) {
        const dirA = `${tmp}/r${round}-${kind === null ? "c" : CABLE_KINDS.indexOf(kind)}a`;
        const dirB = dirA.replace(/a$/, "b");
        const procs: ManagedProcess[] = [];
        const switches: SwitchHandle[] = [];
        const rowsFor = kind === null ? table : table.filter((r) => r.kind === kind);
        try {
          if (kind === null) {
            switches.push(await startCSwitch(dirA), await startCSwitch(dirB));
            procs.push(spawnManaged(["dpipe", "vde_plug", dirA, "=", "vde_plug", dirB], { name: "dpipe" }));
            await sleep(500);
          } else {
            const [argsA, argsB] = kind.args(await kind.ports?.() ?? [], key);
            const [nsA, nsB] = kind.netns && pair !== null ? [pair.a, pair.b] : [undefined, undefined];
            const a = await startCableSwitch(dirA, argsA, kind.env, nsA);
            procs.push(a);
            procs.push(await startCableSwitch(dirB, argsB, kind.env, nsB));
            if (kind.connects) await a.waitForOutput(/cable open /, 20_000, "stderr");
            else await sleep(300);
          }
          for (const size of sizes) {
            const f = await flowVia(`vde://${dirA}`, `vde://${dirB}`, size, plan.seconds);
            record(rowsFor.map((r) => [r.fps, r.mbps]), f, size, kind === null ? "c" : "ours");
            const loss = f.sent > 0 ? (100 * (f.sent - f.received)) / f.sent : 0;
            log(
              `cable ${kind?.name ?? "dpipe between C switches"}, ${size} B, round ${round + 1}: ` +
                `${Math.round(f.fps)} frames/s, ${f.mbps.toFixed(0)} Mbit/s (lost ${loss.toFixed(1)}%)`,
            );
          }
        } catch (err) {
          for (const r of rowsFor) {
            r.fps.errors[kind === null ? "c" : "ours"] =
              r.mbps.errors[kind === null ? "c" : "ours"] =
                message(err);
          }
          log(`cable ${kind?.name ?? "dpipe"}: ${message(err)}`);
        } finally {
          for (const p of procs.reverse()) await p.stop({ timeoutMs: 2000 });
          for (const sw of switches) await sw.stop();
        }
      }
    }
  };
  try {
    const noNetns = await canNetns();
    if (noNetns === null) {
      await withNetns(async (lab) => await rounds(await vethPair(lab)));
    } else {
      for (const row of table.filter((r) => r.kind.netns)) row.fps.skipped = row.mbps.skipped = noNetns;
      await rounds(null);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  log(
    "cable targets: encrypted tcp:// >= 0.8x and plain tcp:// >= 1.0x the dpipe cable, at 64 B (frames/s) and 1500 B (Mbit/s)",
  );
}

// ---------------------------------------------------------------------------
// A DHCP option bomb into `vde switch --slirp` (issue 10)

/** Bomb frames per second during the flood (the rate that, unfixed, took forwarding to ~11 Mbit/s). */
const BOMB_RATE = 2000;

/** An 8,000-byte DHCPDISCOVER (the size of the issue's probe) to the slirp's MAC whose option 12 repeats until the frame is full. */
function bombFrame(): Uint8Array {
  const dhcp = dhcpFamily(8000 - 14 - 20 - 8).bomb;
  const ip = new Uint8Array(28 + dhcp.length);
  writeIpv4Header(ip, 0, { totalLength: ip.length, protocol: 17, src: 0, dst: 0xffffffff, id: 1 });
  ip.set(dhcp, 28);
  writeUdp(ip, 20, 68, 67, dhcp.length, 12, 16, 4);
  return buildFrame({ src: "02:00:00:00:0b:0b", dst: "52:55:0a:00:02:02", payload: ip });
}

/**
 * 1500-byte forwarding between two ports of our `vde switch --slirp`, with
 * and without a flood of DHCP option bombs into its slirp (the same switch,
 * alternating). The slirp runs on the switch's thread, so a parser that
 * costs more than linear time stalls every port: the flood must cost
 * forwarding less than half. The C column holds the run without the flood.
 */
async function bombSection(plan: Plan, metrics: Metric[]): Promise<void> {
  const mbps = metric(
    "Mbit/s, 1500 B between two ports of `vde switch --slirp`: C column = no flood, ours = DHCP bomb flood",
    "Mbit/s",
    "higher",
    0.5,
  );
  metrics.push(mbps);
  let sw: SwitchHandle | null = null;
  try {
    sw = await startIn("ours", { extraArgs: ["--slirp"] });
    const flooder = await openLink(`vde://${sw.dir}`, { description: "bench bomb flood" });
    try {
      // An ARP request first: the slirp answers, the switch learns its MAC, the bombs go to its port only.
      const arp = new Uint8Array(28);
      const guest = new Uint8Array([2, 0, 0, 0, 0x0b, 0x0b]);
      writeArp(arp, 0, ARP_REQUEST, guest, 0x0a00020f, new Uint8Array(6), 0x0a000202);
      flooder.send(buildFrame({ src: "02:00:00:00:0b:0b", type: 0x0806, payload: arp }));
      const bomb = bombFrame();
      let sent = 0;
      let flooding = false;
      const perTick = BOMB_RATE / 100;
      const timer = setInterval(() => {
        if (!flooding) return;
        for (let i = 0; i < perTick; i++) flooder.send(bomb);
        sent += perTick;
      }, 10);
      try {
        for (let round = 0; round < plan.rounds; round++) {
          for (const flood of round % 2 === 0 ? [false, true] : [true, false]) {
            flooding = flood;
            const before = sent;
            const f = await flow(sw, 1500, plan.seconds);
            flooding = false;
            assertAlive(sw);
            mbps.samples[flood ? "ours" : "c"].push(f.mbps);
            log(
              `slirp bomb, round ${round + 1}, ${flood ? `flood of ${sent - before} bombs` : "no flood"}: ` +
                `${f.mbps.toFixed(0)} Mbit/s`,
            );
          }
        }
      } finally {
        clearInterval(timer);
      }
    } finally {
      flooder.close("bench done");
    }
  } catch (err) {
    mbps.errors.ours = message(err);
    log(`slirp bomb: ${message(err)}`);
  } finally {
    if (sw !== null) await stopIn(sw);
  }
}

/**
 * Issue 17: what a capture costs forwarding. 64-byte frames through our
 * switch, alternating plain and with a `vde capture` client attached that
 * never reads (the worst reader: the switch queues up to its limit, then
 * drops the capture's frames). C column = no capture, ours = capture attached.
 */
async function captureSection(plan: Plan, metrics: Metric[]): Promise<void> {
  const fps = metric(
    "frames/s, 64 B through ours: C column = no capture, ours = a capture attached that never reads",
    "frames/s",
    "higher",
  );
  metrics.push(fps);
  let sw: SwitchHandle | null = null;
  try {
    sw = await startIn("ours");
    for (let round = 0; round < plan.rounds; round++) {
      for (const captured of round % 2 === 0 ? [false, true] : [true, false]) {
        let conn: Deno.Conn | null = null;
        if (captured) {
          conn = await Deno.connect({ transport: "unix", path: `${sw.dir}/capture` });
          await conn.write(
            new TextEncoder().encode('{"ports":[],"vlan":null,"snaplen":262144,"filter":null}\n'),
          );
        }
        try {
          const f = await flow(sw, 64, plan.seconds);
          assertAlive(sw);
          fps.samples[captured ? "ours" : "c"].push(f.fps);
          log(
            `capture, round ${round + 1}, ${captured ? "stalled capture" : "no capture"}: ${
              Math.round(f.fps)
            } frames/s`,
          );
        } finally {
          conn?.close();
        }
      }
    }
  } catch (err) {
    fps.errors.ours = message(err);
    log(`capture: ${message(err)}`);
  } finally {
    if (sw !== null) await stopIn(sw);
  }
  // Snooping on and no multicast: the unicast fast path must not notice.
  metrics.push(
    await snoopingRow(
      plan,
      "frames/s, 64 B through ours: C column = plain, ours = --mcast-snooping (no multicast)",
    ),
  );
  // Multicast to a registered group: with snooping on every frame's group is looked up (no allocation).
  metrics.push(
    await snoopingRow(
      plan,
      "frames/s, 64 B to a joined group through ours: C column = plain (flooded), ours = --mcast-snooping",
      true,
    ),
  );
}

/**
 * 64-byte frames through a fresh switch of ours per measurement, alternating plain (C column) and
 * --mcast-snooping; `mcast`: to a group the sink joined (flow).
 */
async function snoopingRow(plan: Plan, label: string, mcast = false): Promise<Metric> {
  const row = metric(label, "frames/s", "higher");
  for (let round = 0; round < plan.rounds; round++) {
    for (const on of round % 2 === 0 ? [false, true] : [true, false]) {
      let one: SwitchHandle | null = null;
      try {
        one = await startIn("ours", on ? { extraArgs: ["--mcast-snooping"] } : {});
        const f = await flow(one, 64, plan.seconds, mcast);
        assertAlive(one);
        row.samples[on ? "ours" : "c"].push(f.fps);
        log(
          `snooping${mcast ? ", group" : ""}, round ${round + 1}, ${on ? "on" : "off"}: ${
            Math.round(f.fps)
          } frames/s`,
        );
      } catch (err) {
        row.errors[on ? "ours" : "c"] = message(err);
      } finally {
        if (one !== null) await stopIn(one);
      }
    }
  }
  return row;
}

/**
 * Issue 18: what watching costs forwarding. 64-byte frames through
 * `vde switch --http`, alternating unwatched and watched: a browser-like
 * client reading the live feed (/events) and a Prometheus-like scrape of
 * /metrics every 100 ms. C column = unwatched, ours = watched.
 */
async function webSection(plan: Plan, metrics: Metric[]): Promise<void> {
  const fps = metric(
    "frames/s, 64 B through ours --http: C column = unwatched, ours = live page + scrapes every 100 ms",
    "frames/s",
    "higher",
  );
  metrics.push(fps);
  let sw: SwitchHandle | null = null;
  try {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const base = `http://127.0.0.1:${port}`;
    sw = await startIn("ours", { extraArgs: ["--http", `127.0.0.1:${port}`] });
    for (let round = 0; round < plan.rounds; round++) {
      for (const watched of round % 2 === 0 ? [false, true] : [true, false]) {
        const stop = new AbortController();
        let scrapes = 0;
        let updates = 0;
        const watchers: Promise<void>[] = [];
        if (watched) {
          watchers.push(
            (async () => {
              const res = await fetch(`${base}/events`, { signal: stop.signal });
              for await (const chunk of res.body!) updates += chunk.length > 0 ? 1 : 0;
            })().catch(() => {}),
          );
          watchers.push(
            (async () => {
              while (!stop.signal.aborted) {
                await (await fetch(`${base}/metrics`, { signal: stop.signal })).text();
                scrapes++;
                await new Promise((r) => setTimeout(r, 100));
              }
            })().catch(() => {}),
          );
        }
        try {
          const f = await flow(sw, 64, plan.seconds);
          assertAlive(sw);
          fps.samples[watched ? "ours" : "c"].push(f.fps);
          log(
            `web, round ${round + 1}, ${
              watched ? `watched (${scrapes} scrapes, ${updates} feed chunks)` : "unwatched"
            }: ${Math.round(f.fps)} frames/s`,
          );
        } finally {
          stop.abort();
          await Promise.all(watchers);
        }
      }
    }
  } catch (err) {
    fps.errors.ours = message(err);
    log(`web: ${message(err)}`);
  } finally {
    if (sw !== null) await stopIn(sw);
  }
}

// ---------------------------------------------------------------------------
// Slirp: our stack against Debian's libslirp plugin

/** A guest namespace's tap through our switch to a slirp; iperf3 against the host's loopback. */
async function slirpSection(plan: Plan, metrics: Metric[], connOnly = false): Promise<void> {
  // connOnly: the one-at-a-time and many-at-once connection rows and their floor, without iperf3.
  const mtus = connOnly ? [1500] : [1500, 65520];
  const m: Record<string, Metric> = {};
  for (const mtu of connOnly ? [] : mtus) {
    for (const dir of ["up", "down"]) {
      const target = mtu === 1500 ? 1.5 : 5.0;
      m[`${dir}${mtu}`] = metric(
        `slirp iperf3 ${dir === "up" ? "guest->host" : "host->guest"} MTU ${mtu} (C = libslirp plugin)`,
        "Mbit/s",
        "higher",
        target,
      );
      metrics.push(m[`${dir}${mtu}`]!);
    }
  }
  const rate = metric("slirp TCP connections/s through a forward (C = libslirp)", "conn/s", "higher", 1.5);
  const many = `slirp TCP connections/s through a forward, ${CONCURRENT} at once (C = libslirp)`;
  const rateMany = metric(many, "conn/s", "higher");
  const cpuMany = metric(`slirp CPU per connection, ${CONCURRENT} at once (C = libslirp)`, "µs", "lower");
  const chainMany = metric(
    `CPU per connection, ${CONCURRENT} at once, all stages: client, switch, slirp, guest plug, server (C = libslirp)`,
    "µs",
    "lower",
  );
  const floor = floorMetrics();
  metrics.push(rate, ...floor.all, rateMany, cpuMany, chainMany);
  const connRows = [rate, ...floor.all, rateMany, cpuMany, chainMany];
  let missing = await canNetns();
  for (const tool of ["vde_plug", "iperf3", "python3", "ping"]) {
    if (missing === null && !(await hasCommand(tool))) missing = `${tool} is not installed`;
  }
  if (missing === null && !(await slirpPluginInstalled())) {
    missing = "Debian's libvdeplug-slirp is not installed";
  }
  if (missing !== null) {
    for (const x of [...Object.values(m), ...connRows]) x.skipped = missing;
    log(`slirp section skipped: ${missing}`);
    return;
  }
  // One listening port per run: a guest port reused across runs can meet the
  // guest's TIME-WAIT entries of the previous run's connections, whose
  // sequence numbers the next stack's SYNs may not pass (seen as libslirp
  // managing 0-3 connections/s after ours had run).
  const acceptor = `import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(512)
while True:
    c, _ = s.accept(); c.sendall(b"x"); c.close()
`;
  await withNetns(async (lab) => {
    const g = await lab.namespace("g");
    await g.tap("t0");
    await g.run(["ip", "link", "set", "t0", "up"]);
    const tmp = await lab.tempDir();
    await Deno.writeTextFile(`${tmp}/acceptor.py`, acceptor);
    const vethGuest = await guestVeth(lab, g);
    // The floor's check: a kernel on the guest's switch in the slirp's place (measureFloor).
    const h = await lab.namespace("h");
    await h.tap("t0");
    await h.addr("t0", "10.0.2.20/24");
    let guestPort = 5300;
    for (let round = 0; round < Math.max(1, Math.ceil(plan.rounds / 2)); round++) {
      for (const mtu of mtus) {
        for (const kind of round % 2 === 0 ? KINDS : [...KINDS].reverse()) {
          let sw: SwitchHandle | null = null;
          const procs: ManagedProcess[] = [];
          const fwdPort = await freeLoopbackPort();
          const acceptPort = guestPort++;
          // The many-at-once row has a forward and a guest port of its own (see manyConnections).
          const manyFwd = await freeLoopbackPort();
          const manyPort = guestPort++;
          try {
            sw = await startIn("ours");
            const forwards = [`${fwdPort}:10.0.2.15:${acceptPort}`, `${manyFwd}:10.0.2.15:${manyPort}`];
            await startSlirpGuest(g, kind, mtu, sw.dir, sw.dir, forwards, procs);
            const stages = { slirp: procs[0]!.pid, "guest plug": procs[1]!.pid, switch: sw.pid };
            procs.push(g.spawn(["python3", `${tmp}/acceptor.py`, String(acceptPort)], { name: "acceptor" }));
            const server = g.spawn([CONNLOAD, "serve", String(manyPort)], { name: "connload serve" });
            procs.push(server);
            for (
              const [key, reverse] of connOnly ? [] : [[`up${mtu}`, false], [`down${mtu}`, true]] as const
            ) {
              const report = await slirpIperf(g, ["-t", String(plan.seconds + 1)], reverse, 40_000, procs);
              const mbps = (report.end?.sum_received?.bits_per_second ?? 0) / 1e6;
              m[key]!.samples[kind].push(mbps);
              log(
                `slirp ${kind === "c" ? "libslirp" : "ours"} MTU ${mtu} ${reverse ? "down" : "up"}: ${
                  mbps.toFixed(0)
                } Mbit/s`,
              );
            }
            if (mtu === 1500) {
              const cps = await connectionRate(fwdPort, plan.seconds);
              rate.samples[kind].push(cps);
              log(`slirp ${kind === "c" ? "libslirp" : "ours"} forward: ${cps.toFixed(0)} connections/s`);
              await measureFloor(g, h, sw, kind, cps, vethGuest, acceptPort, plan.seconds, floor);
              const r = await manyConnections(manyFwd, plan.seconds, {
                ...stages,
                "guest server": server.pid,
              });
              rateMany.samples[kind].push(r.rate);
              cpuMany.samples[kind].push(r.cpuUs.slirp!);
              chainMany.samples[kind].push(Object.values(r.cpuUs).reduce((a, b) => a + b, 0));
              log(
                `slirp ${kind === "c" ? "libslirp" : "ours"} forward, ${CONCURRENT} at once: ${
                  r.rate.toFixed(0)
                } connections/s (${r.failures} failed); µs of CPU a connection: ${
                  Object.entries(r.cpuUs).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")
                }`,
              );
            }
          } catch (err) {
            const failed = [
              ...(connOnly ? [] : [m[`up${mtu}`]!, m[`down${mtu}`]!]),
              ...(mtu === 1500 ? connRows : []),
            ];
            for (const x of failed) x.errors[kind] ??= message(err);
            log(`slirp ${kind} MTU ${mtu}: ${message(err)}`);
          } finally {
            for (const p of procs.reverse()) await p.stop({ timeoutMs: 2000 });
            if (sw) await stopIn(sw);
          }
        }
      }
    }
  });
  log(
    "slirp targets: MTU 1500 >= 1.5x libslirp both ways, MTU 65520 >= 5x, connections/s through a forward >= 1.5x",
  );
}

/** The info rows that put the one-at-a-time connection row against its chain's latency (conn_floor.ts). */
interface FloorMetrics {
  rttCold: Metric;
  rttWarm: Metric;
  trips: Metric;
  tripsWarm: Metric;
  guest: Metric;
  floor: Metric;
  kernel: Metric;
  kernelRtt: Metric;
  all: Metric[];
}

function floorMetrics(): FloorMetrics {
  const rttCold = metric(
    `slirp: the guest's ping RTT to the gateway (answered by the slirp), same chain, median of ${COLD_PINGS} at 10 ms (C = libslirp)`,
    "µs",
    "lower",
  );
  const rttWarm = metric(
    `slirp: the same RTT, median of ${WARM_PINGS} back to back (ping -A -i 0) (C = libslirp)`,
    "µs",
    "lower",
  );
  const trips = metric(
    "slirp: round trips one connection lasts (µs a connection, one at a time / the RTT at 10 ms) (C = libslirp)",
    "trips",
    "lower",
  );
  const tripsWarm = metric(
    "slirp: round trips one connection lasts (µs a connection / the back-to-back RTT) (C = libslirp)",
    "trips",
    "lower",
  );
  const guest = metric(
    "µs one connection takes without slirp or switch: the host's client to the guest's acceptor through a veth",
    "µs",
    "lower",
  );
  const floor = metric(
    `slirp TCP connections/s a zero-time slirp would reach: 1e6 / (the veth's µs + ${CHAIN_ROUND_TRIPS} x the smaller RTT)`,
    "conn/s",
    "higher",
  );
  const kernel = metric(
    "TCP connections/s one at a time through the same switch and guest, a kernel in the slirp's place " +
      "(a namespace on the switch by its own vde_plug tap, the same client loop inside it)",
    "conn/s",
    "higher",
  );
  const kernelRtt = metric(
    `the guest's ping RTT to that kernel in the slirp's place, median of ${WARM_PINGS} back to back`,
    "µs",
    "lower",
  );
  return {
    rttCold,
    rttWarm,
    trips,
    tripsWarm,
    guest,
    floor,
    kernel,
    kernelRtt,
    all: [rttCold, rttWarm, trips, tripsWarm, guest, floor, kernel, kernelRtt],
  };
}

const COLD_PINGS = 100;
const WARM_PINGS = 300;

/** A veth from the root namespace into the guest `g`: the host's address and the guest's. */
async function guestVeth(lab: Lab, g: Netns): Promise<{ host: string; guest: string }> {
  // A /30 of its own per bench process, apart from the slirp's 10.0.2.0/24 and vethPair's 10.230-249.
  const net = `10.229.${Deno.pid % 250}`;
  const [rootIf] = await lab.veth(null, "", g, "v1");
  await run(["ip", "addr", "add", `${net}.1/30`, "dev", rootIf]);
  await run(["ip", "link", "set", rootIf, "up"]);
  await g.addr("v1", `${net}.2/30`);
  return { host: `${net}.1`, guest: `${net}.2` };
}

/** Median round-trip time (µs) of `count` pings from `ns` to `to`, `intervalS` apart (0: back to back). */
async function pingMedianUs(ns: Netns, to: string, count: number, intervalS: number): Promise<number> {
  const deadlineS = Math.ceil(count * Math.max(intervalS, 0.001) + 3);
  // -A with -i 0: the next request as soon as the reply is in, one outstanding at a time, as the
  // connection loop has one connection at a time (root only; the bench runs as root).
  const pace = intervalS > 0 ? ["-i", String(intervalS)] : ["-A", "-i", "0"];
  const r = await ns.run(["ping", "-n", "-c", String(count), ...pace, "-w", String(deadlineS), to], {
    check: false,
    timeoutMs: (deadlineS + 5) * 1000,
  });
  const times = pingTimesMs(r.stdout);
  if (times.length < count / 2) throw new Error(`${times.length}/${count} pings to ${to} answered`);
  return median(times)! * 1000;
}

/**
 * The floor rows for one run of `kind`, which managed `cps` connections/s one at a time:
 * the guest's ping RTT through the same chain (cold and back to back), round trips per
 * connection, the same acceptor reached through the veth without slirp or switch, and the
 * conn/s of a zero-time slirp (conn_floor.ts states the model).
 */
async function measureFloor(
  g: Netns,
  h: Netns,
  sw: SwitchHandle,
  kind: SwitchKind,
  cps: number,
  veth: { host: string; guest: string },
  acceptPort: number,
  seconds: number,
  f: FloorMetrics,
): Promise<void> {
  const cold = await pingMedianUs(g, "10.0.2.2", COLD_PINGS, 0.01);
  const warm = await pingMedianUs(g, "10.0.2.2", WARM_PINGS, 0);
  // Bounded like the forward's row: the same acceptor, its own tuples (another address).
  const guestUs = usPerConnection(await connectionRate(acceptPort, Math.min(seconds, 1), veth.guest));
  const floor = floorConnPerS(guestUs, Math.min(cold, warm));
  // The check on the model: the kernel's TCP in the slirp's place, one more plug and tap on its side.
  // Unplugged again before the many-at-once row, which should flood to no extra port.
  const plug = h.spawn(["vde_plug", `vde://${sw.dir}`, "tap://t0"], { name: "kernel-side plug" });
  let kernel: number;
  let kernelRtt: number;
  try {
    await h.waitForCarrier("t0", 10_000);
    await waitForPing(h, "10.0.2.15", 10_000);
    const r = await h.run(
      [
        Deno.execPath(),
        "run",
        "-A",
        `${SCRIPTS}/conn_rate.ts`,
        "10.0.2.15",
        String(acceptPort),
        String(seconds),
      ],
      { timeoutMs: (seconds + 20) * 1000 },
    );
    kernel = field(r.stdout, "rate");
    // What its extra plug and tap cost a round trip: against the back-to-back RTT to the slirp.
    kernelRtt = await pingMedianUs(g, "10.0.2.20", WARM_PINGS, 0);
  } finally {
    await plug.stop({ timeoutMs: 2000 });
  }
  f.rttCold.samples[kind].push(cold);
  f.rttWarm.samples[kind].push(warm);
  f.trips.samples[kind].push(roundTripsPerConnection(cps, cold));
  f.tripsWarm.samples[kind].push(roundTripsPerConnection(cps, warm));
  f.guest.samples[kind].push(guestUs);
  f.floor.samples[kind].push(floor);
  f.kernel.samples[kind].push(kernel);
  f.kernelRtt.samples[kind].push(kernelRtt);
  log(
    `slirp ${kind === "c" ? "libslirp" : "ours"} floor: ${
      usPerConnection(cps).toFixed(0)
    } µs a connection; ` +
      `RTT ${cold.toFixed(0)} µs at 10 ms, ${warm.toFixed(0)} µs back to back ` +
      `(${roundTripsPerConnection(cps, cold).toFixed(2)} / ${
        roundTripsPerConnection(cps, warm).toFixed(2)
      } trips); ` +
      `veth connection ${guestUs.toFixed(0)} µs; zero-time slirp ${floor.toFixed(0)} conn/s ` +
      `(${usPerConnection(floor).toFixed(0)} µs); a kernel in the slirp's place ${
        kernel.toFixed(0)
      } conn/s ` +
      `(${usPerConnection(kernel).toFixed(0)} µs), RTT to it ${kernelRtt.toFixed(0)} µs back to back`,
  );
}

/** Connections at once in the slirp's many-at-once row, as `ab -c 16` opens them. */
const CONCURRENT = 16;

/**
 * `connload connect`: CONCURRENT connections at once through the forward on
 * the host's `port` for `seconds` (each reads the guest's byte and the end,
 * is closed and opened again), with the CPU each of `stages` (name: pid) and
 * the client spent per connection, in µs.
 *
 * The forward's guest port serves this row alone: the sequential row's
 * connections before it must not share its tuples. When runs shared a guest
 * port, libslirp's rate fell from 11,000 to 200-1,400 connections/s from
 * the second run on (ours did not). libslirp starts each connection's
 * sequence 64,000 above the last one's, so about 33,000 connections later a
 * new SYN on a tuple the guest still holds in TIME-WAIT looks old to it and
 * waits for a retransmission; our ISNs follow a clock (tcp/isn.ts). One run
 * of 2 s makes fewer connections than that through libslirp.
 */
async function manyConnections(
  port: number,
  seconds: number,
  stages: Record<string, number>,
): Promise<{ rate: number; failures: number; cpuUs: Record<string, number> }> {
  const before: Record<string, number> = {};
  for (const [name, pid] of Object.entries(stages)) before[name] = await cpuSeconds(pid);
  const client = spawnManaged([CONNLOAD, "connect", String(port), String(CONCURRENT), String(seconds)], {
    name: "connload connect",
  });
  await exitWithin(client, (seconds + 10) * 1000);
  const line = client.stdout.split("\n").find((l) => l.startsWith("connect ")) ?? "";
  const n = field(line, "connections");
  if (n < 1) throw new Error(`no connection through the forward (${field(line, "failures")} failed)`);
  const cpuUs: Record<string, number> = {};
  for (const [name, pid] of Object.entries(stages)) {
    cpuUs[name] = ((await cpuSeconds(pid)) - before[name]!) / n * 1e6;
  }
  cpuUs.client = field(line, "cpu") / n * 1e6;
  return { rate: n / field(line, "seconds"), failures: field(line, "failures"), cpuUs };
}

/**
 * Starts a slirp of `kind` (C: Debian's libslirp plugin through vde_plug)
 * on the switch `slirpSw`, plugs the guest's tap t0 into `guestSw` and
 * configures the guest as 10.0.2.15 behind 10.0.2.2. Each of `forwards` is
 * `hostPort:10.0.2.15:guestPort`. The slirp is `procs`' first process, the
 * guest's plug its second.
 */
async function startSlirpGuest(
  g: Netns,
  kind: SwitchKind,
  mtu: number,
  slirpSw: string,
  guestSw: string,
  forwards: string[],
  procs: ManagedProcess[],
): Promise<void> {
  const slirpCmd = kind === "c"
    ? [
      "vde_plug",
      `vde://${slirpSw}`,
      `slirp:///mtu=${mtu}${forwards.length ? `/tcpfwd=${forwards.join(",")}` : ""}`,
    ]
    : [
      ...VDE_CMD,
      "slirp",
      "--sock",
      slirpSw,
      "--mtu",
      String(mtu),
      ...forwards.flatMap((f) => ["--forward", `tcp:${f}`]),
    ];
  procs.push(spawnManaged(slirpCmd, { name: `${kind} slirp` }));
  procs.push(g.spawn(["vde_plug", `vde://${guestSw}`, "tap://t0"], { name: "guest plug" }));
  await g.waitForCarrier("t0", 20_000);
  await g.run(["ip", "link", "set", "t0", "mtu", String(mtu)]);
  await g.run(["ip", "addr", "replace", "10.0.2.15/24", "dev", "t0"]);
  await g.run(["ip", "route", "replace", "default", "via", "10.0.2.2"]);
  await waitForPing(g, "10.0.2.2", 30_000);
}

interface IperfReport {
  end?: {
    sum_received?: { bits_per_second?: number; seconds?: number; bytes?: number };
    sum_sent?: { retransmits?: number };
  };
}

/** iperf3 from the guest to a one-shot server on the host's loopback (`reverse`: host to guest). */
async function slirpIperf(
  g: Netns,
  extra: string[],
  reverse: boolean,
  timeoutMs: number,
  procs: ManagedProcess[],
): Promise<IperfReport> {
  // On the host's loopback, which every run shares: a port of this run's own (see free_port.ts).
  const port = String(await freeLoopbackPort());
  const srv = spawnManaged(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port], {
    name: "iperf3 server",
  });
  procs.push(srv);
  await waitFor(
    async () => (await run(["ss", "-Hltn", `sport = :${port}`], { check: false })).stdout.trim() !== "",
    { timeoutMs: 5000, what: "iperf3 server" },
  );
  const args = ["iperf3", "-c", "10.0.2.2", "-p", port, ...extra, "-J", "--connect-timeout", "5000"];
  if (reverse) args.push("-R");
  const r = await g.run(args, { check: false, timeoutMs });
  await srv.stop({ timeoutMs: 2000 });
  if (!r.success) throw new Error(`iperf3 failed: ${r.stderr.trim() || r.stdout.slice(0, 200)}`);
  return JSON.parse(r.stdout) as IperfReport;
}

/** One TcpExt counter of a namespace (/proc/net/netstat). */
async function tcpExt(g: Netns, name: string): Promise<number> {
  const lines = (await g.run(["cat", "/proc/net/netstat"])).stdout.split("\n");
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith("TcpExt:")) continue;
    const keys = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    const k = keys.indexOf(name);
    return k < 0 ? 0 : Number(values[k]);
  }
  return 0;
}

/**
 * Slirp on a lossy wire: Debian's wirefilter (2% loss, 3+-2 ms delay each
 * way) between the guest's switch and the slirp's, joined by dpipe (its own
 * `-v` mode does not pass frames here); 50 MB each way with
 * iperf3, time and retransmissions, ours against libslirp.
 */
async function slirpLossSection(metrics: Metric[]): Promise<void> {
  const what = "50 MB through wirefilter 2% loss, 3+-2 ms (C = libslirp)";
  const up = metric(`slirp ${what}: guest->host time`, "s", "lower", 0.5);
  const down = metric(`slirp ${what}: host->guest time`, "s", "lower", 0.5);
  const upRtx = metric(`slirp ${what}: guest->host, the guest's retransmits`, "segs", "lower");
  const downDup = metric(`slirp ${what}: host->guest, duplicates the guest got`, "segs", "lower");
  metrics.push(up, down, upRtx, downDup);
  let missing = await canNetns();
  for (const tool of ["vde_plug", "iperf3", "wirefilter", "dpipe"]) {
    if (missing === null && !(await hasCommand(tool))) missing = `${tool} is not installed`;
  }
  if (missing === null && !(await slirpPluginInstalled())) {
    missing = "Debian's libvdeplug-slirp is not installed";
  }
  if (missing !== null) {
    for (const x of [up, down, upRtx, downDup]) x.skipped = missing;
    log(`slirp loss section skipped: ${missing}`);
    return;
  }
  await withNetns(async (lab) => {
    const g = await lab.namespace("gl");
    await g.tap("t0");
    await g.run(["ip", "link", "set", "t0", "up"]);
    // One round only: libslirp alone takes minutes here, and the gap is several-fold, not a matter of noise.
    for (const kind of KINDS) {
      const switches: SwitchHandle[] = [];
      const procs: ManagedProcess[] = [];
      const name = kind === "c" ? "libslirp" : "ours";
      try {
        const slirpSw = await startIn("ours");
        switches.push(slirpSw);
        const guestSw = await startIn("ours");
        switches.push(guestSw);
        procs.push(
          spawnManaged(
            [
              "dpipe",
              "vde_plug",
              guestSw.dir,
              "=",
              "wirefilter",
              "-l",
              "2",
              "-d",
              "3+2",
              "=",
              "vde_plug",
              slirpSw.dir,
            ],
            { name: "wirefilter" },
          ),
        );
        await startSlirpGuest(g, kind, 1500, slirpSw.dir, guestSw.dir, [], procs);
        const n = ["-n", "50M"];
        const r1 = await slirpIperf(g, n, false, 300_000, procs);
        up.samples[kind].push(r1.end?.sum_received?.seconds ?? NaN);
        upRtx.samples[kind].push(r1.end?.sum_sent?.retransmits ?? NaN);
        const dup0 = await tcpExt(g, "TCPDSACKOldSent") + await tcpExt(g, "TCPDSACKOfoSent");
        const r2 = await slirpIperf(g, n, true, 300_000, procs);
        down.samples[kind].push(r2.end?.sum_received?.seconds ?? NaN);
        const dup = await tcpExt(g, "TCPDSACKOldSent") + await tcpExt(g, "TCPDSACKOfoSent") - dup0;
        downDup.samples[kind].push(dup);
        log(
          `slirp ${name} lossy: up ${up.samples[kind].at(-1)!.toFixed(1)} s (${upRtx.samples[kind].at(-1)} ` +
            `retransmits), down ${down.samples[kind].at(-1)!.toFixed(1)} s (${dup} duplicates)`,
        );
      } catch (err) {
        for (const x of [up, down]) x.errors[kind] = message(err);
        log(`slirp ${name} lossy: ${message(err)}`);
      } finally {
        for (const p of procs.reverse()) await p.stop({ timeoutMs: 2000 });
        for (const sw of switches) await stopIn(sw);
      }
    }
  });
  log("slirp loss target: ours >= 2x faster than libslirp both ways (time ratio <= 0.5)");
}

async function slirpPluginInstalled(): Promise<boolean> {
  return await pathOk("/usr/lib/x86_64-linux-gnu/vdeplug/libvdeplug_slirp.so") ||
    await pathOk("/usr/lib/aarch64-linux-gnu/vdeplug/libvdeplug_slirp.so");
}

async function pathOk(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Report

interface Row {
  metric: string;
  c: string;
  ours: string;
  ratio: string;
  target: string;
  pass: string;
}

function fmtValue(v: number | null, unit: string): string {
  if (v === null) return "n/a";
  if (unit === "frames/s") return Math.round(v).toLocaleString("en-US");
  if (unit === "ms") return `${v.toFixed(3)} ms`;
  if (unit === "ms/MB") return `${v.toFixed(2)} ms/MB`;
  if (unit === "MiB") return `${v.toFixed(1)} MiB`;
  if (unit === "trips") return `${v.toFixed(2)} trips`;
  return `${v.toFixed(0)} ${unit}`;
}

/** Table rows plus whether every target that could be checked was met. */
function rows(metrics: Metric[]): { rows: Row[]; notes: string[]; allPass: boolean } {
  const out: Row[] = [];
  const notes: string[] = [];
  let allPass = true;
  for (const m of metrics) {
    const c = median(m.samples.c);
    const ours = median(m.samples.ours);
    const ratio = c !== null && ours !== null && c > 0 ? ours / c : null;
    let target = "info";
    let pass = "-";
    if (m.target !== undefined) {
      target = `${m.better === "higher" ? ">=" : "<="} ${m.target.toFixed(2)}x`;
      if (ratio === null) {
        pass = "n/a";
        allPass = false;
      } else {
        const ok = m.better === "higher" ? ratio >= m.target : ratio <= m.target;
        pass = ok ? "PASS" : "FAIL";
        allPass &&= ok;
      }
    } else if (m.better === "lower") {
      target = "info (lower is better)";
    }
    out.push({
      metric: m.label,
      c: m.skipped ? "skipped" : fmtValue(c, m.unit),
      ours: m.skipped ? "skipped" : fmtValue(ours, m.unit),
      ratio: ratio === null ? "n/a" : `${ratio.toFixed(2)}x`,
      target,
      pass,
    });
    if (m.skipped) notes.push(`${m.label}: skipped: ${m.skipped}`);
    for (const kind of KINDS) {
      const e = m.errors[kind];
      if (e) notes.push(`${m.label}, ${kind === "c" ? "C" : "ours"}: ${e}`);
    }
  }
  return { rows: out, notes, allPass };
}

function printTable(table: Row[]): void {
  const head: Row = {
    metric: "metric",
    c: "C vde_switch",
    ours: "ours",
    ratio: "ours/C",
    target: "target",
    pass: "pass",
  };
  const cols = Object.keys(head) as (keyof Row)[];
  const width = (k: keyof Row) => Math.max(...[head, ...table].map((r) => r[k].length));
  const right = new Set<keyof Row>(["c", "ours", "ratio"]);
  const line = (r: Row) =>
    "| " + cols.map((k) => (right.has(k) ? r[k].padStart(width(k)) : r[k].padEnd(width(k)))).join(" | ") +
    " |";
  console.log(line(head));
  console.log(
    "|" +
      cols.map((k) => (right.has(k) ? "-".repeat(width(k) + 1) + ":" : "-".repeat(width(k) + 2))).join("|") +
      "|",
  );
  for (const r of table) console.log(line(r));
}

async function machineInfo(): Promise<Record<string, string>> {
  const text = async (cmd: string[]) =>
    (await run(cmd, { check: false }).catch(() => null))?.stdout.trim() ?? "";
  return {
    date: new Date().toISOString(),
    kernel: await text(["uname", "-r"]),
    cpus: await text(["nproc"]),
    deno: Deno.version.deno,
    vde_switch: (await text(["vde_switch", "-v"])).split("\n")[0]!,
    ours: ourSwitchCommand("{dir}").cmd.join(" "),
    max_dgram_qlen: await Deno.readTextFile("/proc/sys/net/unix/max_dgram_qlen").then((s) => s.trim()).catch(
      () => "?",
    ),
  };
}

// ---------------------------------------------------------------------------

const USAGE =
  `usage: deno task bench [--quick] [--strict] [--slirp] [--slirp-conn] [--slirp-loss] [--bomb] [--cables] [--taps] [--capture]
                       [--throughput] [--dataplane] [--list-ping] [--stp] [--web]
  --quick   two short rounds (1.5 s) per measurement
  --bomb    only the DHCP option bomb row (forwarding in \`vde switch --slirp\` during a flood)
  --slirp   only the slirp sections (ours against Debian's libslirp plugin)
  --slirp-conn  only the slirp's connections/s rows and their latency floor (ping RTT through the
                same chain, round trips a connection, the guest's part through a veth)
  --slirp-loss  only the lossy-wire slirp section (50 MB each way through wirefilter)
  --stp     only 64 B frames/s without and with spanning tree
  --web     only 64 B frames/s with and without a live page and 100 ms scrapes on --http
  --cables  only the cable section (two switches joined by each kind of cable, against dpipe)
  --taps    only the tap section (iperf3 between namespaces, each side's own plug tap://)
  --capture only the capture and snooping rows (64 B forwarding with a stalled \`vde capture\`, with --mcast-snooping, to a joined group)
  --throughput  only the throughput section (frames/s, CPU per frame and how busy the switch and the
                clients were, 64 B and 1500 B, and the floor: \`loadgen floor\` forwarding between the
                same clients without switching)
  --dataplane   only the data-plane section (slirp and plug behind Debian's switch, ping median/p99,
                ping while the console lists 65,536 MACs)
  --list-ping   only the row of the worst ping while the console lists 65,536 MACs (seconds a round)
  --memory  only the RSS rows (idle, 32 and 1,000 connected ports, a lab's process)
  --strict  exit 1 unless every target is met`;

async function main(args: string[]): Promise<number> {
  for (const a of args) {
    if (a === "-h" || a === "--help") {
      console.log(USAGE);
      return 0;
    }
    if (
      ![
        "--quick",
        "--strict",
        "--slirp",
        "--slirp-conn",
        "--slirp-loss",
        "--bomb",
        "--cables",
        "--taps",
        "--capture",
        "--throughput",
        "--dataplane",
        "--list-ping",
        "--stp",
        "--web",
        "--memory",
      ]
        .includes(a)
    ) {
      console.error(`bench: unknown option ${a}\n${USAGE}`);
      return 2;
    }
  }
  const plan = args.includes("--quick") ? QUICK : FULL;
  const started = Date.now();
  await buildTool("loadgen", ["-l:libvdeplug.so.2"]);
  await buildTool("connload");
  const info = await machineInfo();
  info.pinning = await chooseClientPin();
  log(`ours = ${info.ours}`);
  const metrics: Metric[] = [];
  const only = args.includes("--slirp")
    ? "slirp"
    : args.includes("--slirp-conn")
    ? "slirp-conn"
    : args.includes("--slirp-loss")
    ? "slirp-loss"
    : args.includes("--cables")
    ? "cables"
    : args.includes("--taps")
    ? "taps"
    : args.includes("--throughput")
    ? "throughput"
    : args.includes("--dataplane")
    ? "dataplane"
    : args.includes("--list-ping")
    ? "list-ping"
    : args.includes("--bomb")
    ? "bomb"
    : args.includes("--capture")
    ? "capture"
    : args.includes("--stp")
    ? "stp"
    : args.includes("--web")
    ? "web"
    : args.includes("--memory")
    ? "memory"
    : null;
  if (only === null || only === "throughput") await throughputSection(plan, metrics);
  if (only === null) {
    await vlanSection(plan, metrics);
    await stpSection(plan, metrics);
  }
  if (only === null || only === "memory") await rssSection(metrics);
  if (only === null) await pingSection(plan, metrics);
  if (only === "stp") {
    await throughputSection(plan, metrics, false);
    await stpSection(plan, metrics);
  }
  if (only === null || only === "taps") await tapSection(plan, metrics);
  if (only === null || only === "cables") await cableSection(plan, metrics);
  if (only === null || only === "slirp") await slirpSection(plan, metrics);
  if (only === "slirp-conn") await slirpSection(plan, metrics, true);
  if (only === null || only === "slirp" || only === "slirp-loss") await slirpLossSection(metrics);
  if (only === null || only === "bomb") await bombSection(plan, metrics);
  if (only === null || only === "capture") await captureSection(plan, metrics);
  if (only === null || only === "web") await webSection(plan, metrics);
  const dataplane: BenchContext = {
    plan,
    kinds: KINDS,
    row: (label, unit, better, target) => {
      const m = metric(label, unit, better, target);
      metrics.push(m);
      return m;
    },
    log,
    message,
    startIn,
    stopIn,
    startFloor: () => startFloor(120),
    vde: [...VDE_CMD],
  };
  if (only === null || only === "dataplane") await dataplaneSection(dataplane);
  if (only === "list-ping") await listPingSection(dataplane);

  const { rows: table, notes, allPass } = rows(metrics);
  console.log(
    `\nvde switch benchmark (${
      args.includes("--quick") ? "quick" : "full"
    }; ${plan.rounds} round(s) of ${plan.seconds} s, ` +
      `median shown; ${info.cpus} CPUs, ${info.pinning}, kernel ${info.kernel}, ` +
      `unix max_dgram_qlen ${info.max_dgram_qlen})\n`,
  );
  printTable(table);
  if (notes.length > 0) {
    console.log("\nnotes:");
    for (const n of notes) console.log(`- ${n}`);
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `\nours: ${info.ours}\ntook ${seconds.toFixed(0)} s; targets ${allPass ? "all met" : "NOT all met"}`,
  );

  await Deno.mkdir(BUILD, { recursive: true });
  const json = {
    info,
    plan,
    seconds,
    allPass,
    metrics: metrics.map((m) => ({
      ...m,
      c: median(m.samples.c),
      ours: median(m.samples.ours),
    })),
    table,
  };
  await Deno.writeTextFile(`${BUILD}/bench-last.json`, JSON.stringify(json, null, 2) + "\n");
  console.log(`results: scripts/.build/bench-last.json`);
  return args.includes("--strict") && !allPass ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
