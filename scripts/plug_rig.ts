/**
 * A/B rig for the bench's plug rows (bench_dataplane.ts, interleavedPlugs):
 * three chains up at once between two namespaces, each behind a Debian
 * vde_switch of its own and on its own tap pair and /24, with Debian's
 * `vde_plug tap://` on a's side and, on b's, Debian's `vde_plug` (C, t0),
 * our `vde plug` from checkout A (t1) and from checkout B (t2). Each pair
 * runs iperf3 once per chain, in turns (the order reversed every pair),
 * "from" b's plug (iperf3 -R: b's plug reads its tap and sends to the
 * switch, the bench's failing row) or "to" it. Run as root:
 *   deno run -A scripts/plug_rig.ts PAIRS SECONDS from|to A_REPO B_REPO
 *
 * Per run it prints the rate, the retransmits, what the C switch sent
 * towards the receiving plug (its port's OUT count) and how much of that
 * the plug never wrote to its tap, what the sending side's tap and its
 * qdisc dropped before a plug read it, and the CPU per MB of b's plug and
 * of the switch; then per chain the medians (ranges), and per pair B/A,
 * A/C and B/C (medians, ranges). RIG_B_ENV="K=V ..." is added to B's
 * plug's environment (a setting under test; RIG_A_ENV to A's);
 * RIG_STAT=EVENTS (perf's, comma-separated) counts them for b's plug
 * during each run, per data segment. Names (namespaces, /tmp directory)
 * carry `plugc1rig`; all is removed at the end.
 */

import { median } from "./rig_args.ts";
import { envOf, sh, spawnKept, waitFor } from "./rig_process.ts";

const [pairsArg, secondsArg, way, aRepo, bRepo] = Deno.args;
if (!aRepo || !bRepo || (way !== "from" && way !== "to")) {
  console.error("usage: plug_rig.ts PAIRS SECONDS from|to A_REPO B_REPO");
  Deno.exit(2);
}
const PAIRS = Number(pairsArg);
const SECONDS = Number(secondsArg);
const NS = ["plugc1rig-a", "plugc1rig-b"] as const;
const DIR = Deno.makeTempDirSync({ prefix: "plugc1rig-" });
const children: Deno.ChildProcess[] = [];
/** RIG_STAT=EVENTS: `perf stat` of b's plug during each run, printed per data segment (1448 bytes). */
const STAT_EVENTS = Deno.env.get("RIG_STAT") ?? "";

const spawn = (cmd: string[], env: Record<string, string> = {}) => spawnKept(children, cmd, env);

const inNs = (ns: string, cmd: string[]) => ["ip", "netns", "exec", ns, ...cmd];

/** utime + stime of a process (all its threads), in seconds. */
async function cpuOf(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface Chain {
  name: string;
  tap: string;
  net: string;
  mgmt: string;
  sw: Deno.ChildProcess;
  plugA: Deno.ChildProcess;
  plugB: Deno.ChildProcess;
}

/** Frames the chain's switch sent to the plug `pid` (its port's OUT count). */
async function sentTo(chain: Chain, pid: number): Promise<number> {
  const out = await sh(["unixcmd", "-f", "/etc/vde2/vdecmd", "-s", chain.mgmt, "port/print"], false);
  const block = out.replaceAll("\0", "").split(/^ ?Port /m).find((p) => p.includes(`pid=${pid}`));
  return Number(/OUT:\s+pkts\s+(\d+)/.exec(block ?? "")?.[1] ?? NaN);
}

async function tapStat(ns: string, tap: string, stat: string): Promise<number> {
  return Number((await sh(inNs(ns, ["cat", `/sys/class/net/${tap}/statistics/${stat}`]))).trim());
}

/** Frames the sending side's qdisc on the tap dropped (`tc -s qdisc`: its "dropped" count). */
async function qdiscDrops(ns: string, tap: string): Promise<number> {
  const out = await sh(inNs(ns, ["tc", "-s", "qdisc", "show", "dev", tap]));
  return [...out.matchAll(/dropped (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

interface Run {
  mbps: number;
  retr: number;
  lostPct: number;
  /** Frames the sending side's tap (or its qdisc) dropped before its plug read them. */
  sourceDrops: number;
  plugMsPerMB: number;
  switchMsPerMB: number;
}

async function measure(chain: Chain): Promise<Run> {
  const reverse = way === "from";
  // The receiving side: a's vde_plug when b's plug sends, else b's plug.
  const [sinkNs, sinkPlug] = reverse ? [NS[0], chain.plugA] : [NS[1], chain.plugB];
  const sourceNs = reverse ? NS[1] : NS[0];
  const [sent0, rx0] = [await sentTo(chain, sinkPlug.pid), await tapStat(sinkNs, chain.tap, "rx_packets")];
  const dropped0 = await tapStat(sourceNs, chain.tap, "tx_dropped") + await qdiscDrops(sourceNs, chain.tap);
  const [plug0, sw0] = [await cpuOf(chain.plugB.pid), await cpuOf(chain.sw.pid)];
  const args = ["iperf3", "-c", `${chain.net}.2`, "-p", "5212", "-t", String(SECONDS), "-J"];
  if (reverse) args.push("-R");
  const stat = STAT_EVENTS === "" ? null : new Deno.Command("perf", {
    args: ["stat", "-x", ",", "-e", STAT_EVENTS, "-p", String(chain.plugB.pid), "-o", `${DIR}/stat`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const report = JSON.parse(await sh(inNs(NS[0], args))) as {
    end: { sum_received: { bits_per_second: number; bytes: number }; sum_sent: { retransmits?: number } };
  };
  if (stat !== null) {
    stat.kill("SIGINT");
    await stat.status;
    const frames = report.end.sum_received.bytes / 1448;
    const counts = (await Deno.readTextFile(`${DIR}/stat`)).split("\n").filter((l) => /^\d/.test(l))
      .map((l) => l.split(",")).map((f) =>
        `${f[2]!.replace("syscalls:sys_enter_", "")} ${(Number(f[0]) / frames).toFixed(3)}`
      );
    console.log(`  ${chain.name}'s b plug per data segment: ${counts.join(", ")}`);
  }
  const [plug1, sw1] = [await cpuOf(chain.plugB.pid), await cpuOf(chain.sw.pid)];
  const [sent1, rx1] = [await sentTo(chain, sinkPlug.pid), await tapStat(sinkNs, chain.tap, "rx_packets")];
  const dropped1 = await tapStat(sourceNs, chain.tap, "tx_dropped") + await qdiscDrops(sourceNs, chain.tap);
  const mb = report.end.sum_received.bytes / 1e6;
  const sent = sent1 - sent0;
  return {
    mbps: report.end.sum_received.bits_per_second / 1e6,
    retr: report.end.sum_sent.retransmits ?? 0,
    lostPct: 100 * (sent - (rx1 - rx0)) / Math.max(1, sent),
    sourceDrops: dropped1 - dropped0,
    plugMsPerMB: 1000 * (plug1 - plug0) / mb,
    switchMsPerMB: 1000 * (sw1 - sw0) / mb,
  };
}

async function cleanup(): Promise<void> {
  for (const c of children.reverse()) {
    try {
      c.kill("SIGTERM");
    } catch { /* gone */ }
  }
  for (const c of children) {
    const t = setTimeout(() => {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
    }, 2000);
    await c.status;
    clearTimeout(t);
  }
  for (const ns of NS) await sh(["ip", "netns", "del", ns], false);
  await Deno.remove(DIR, { recursive: true }).catch(() => {});
}

Deno.addSignalListener("SIGINT", () => {
  cleanup().finally(() => Deno.exit(130));
});

const range = (xs: number[]) =>
  `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}]`;

try {
  for (const ns of NS) await sh(["ip", "netns", "add", ns]);
  const chains: Chain[] = [];
  const kinds = [
    { name: "C", cmd: ["vde_plug"], env: {} },
    {
      name: "A",
      cmd: ["deno", "run", "-A", "--v8-flags=--no-maglev", `${aRepo}/mod.ts`, "plug"],
      env: envOf(Deno.env.get("RIG_A_ENV")),
    },
    {
      name: "B",
      cmd: ["deno", "run", "-A", "--v8-flags=--no-maglev", `${bRepo}/mod.ts`, "plug"],
      env: envOf(Deno.env.get("RIG_B_ENV")),
    },
  ];
  for (const [i, k] of kinds.entries()) {
    const tap = `t${i}`;
    const net = `10.198.${3 + i}`;
    for (const [j, ns] of NS.entries()) {
      await sh(inNs(ns, ["ip", "tuntap", "add", "dev", tap, "mode", "tap"]));
      await sh(inNs(ns, ["ip", "addr", "add", `${net}.${j + 1}/24`, "dev", tap]));
      await sh(inNs(ns, ["ip", "link", "set", tap, "up"]));
      await sh(inNs(ns, ["ip", "link", "set", "lo", "up"]));
    }
    const dir = `${DIR}/sw${i}`;
    const mgmt = `${DIR}/mgmt${i}`;
    const sw = spawn(["vde_switch", "-s", dir, "-M", mgmt]);
    await waitFor("the switch", async () => (await Deno.stat(`${dir}/ctl`).catch(() => null)) !== null);
    const plugA = spawn(inNs(NS[0], ["vde_plug", `vde://${dir}`, `tap://${tap}`]));
    const plugB = spawn(inNs(NS[1], [...k.cmd, `vde://${dir}`, `tap://${tap}`]), k.env);
    await waitFor(`${k.name}'s ping`, async () =>
      (await new Deno.Command("ip", {
        args: ["netns", "exec", NS[0], "ping", "-c1", "-W1", `${net}.2`],
        stdout: "null",
        stderr: "null",
      }).output()).success);
    spawn(inNs(NS[1], ["iperf3", "-s", "-B", `${net}.2`, "-p", "5212"]));
    // `ip netns exec` execs: the pid is the plug's. Deno's `vde plug` is its own process too.
    chains.push({ name: k.name, tap, net, mgmt, sw, plugA, plugB });
  }
  await new Promise((r) => setTimeout(r, 500));
  const runs: Record<string, Run[]> = { C: [], A: [], B: [] };
  const ratios: Record<string, number[]> = { "B/A": [], "A/C": [], "B/C": [] };
  for (let pair = 0; pair < PAIRS; pair++) {
    const rate: Record<string, number> = {};
    for (const chain of pair % 2 === 0 ? chains : [...chains].reverse()) {
      const r = await measure(chain);
      runs[chain.name]!.push(r);
      rate[chain.name] = r.mbps;
      console.log(
        `pair ${pair + 1} ${chain.name}: ${r.mbps.toFixed(0)} Mbit/s, ${r.retr} retr, ${
          r.lostPct.toFixed(2)
        }% lost towards the receiving plug, ${r.sourceDrops} dropped at the sending tap; b's plug ${
          r.plugMsPerMB.toFixed(2)
        } ms/MB, switch ${r.switchMsPerMB.toFixed(2)} ms/MB`,
      );
    }
    ratios["B/A"]!.push(rate.B! / rate.A!);
    ratios["A/C"]!.push(rate.A! / rate.C!);
    ratios["B/C"]!.push(rate.B! / rate.C!);
  }
  for (const [name, rs] of Object.entries(runs)) {
    console.log(
      `${name}: ${range(rs.map((r) => r.mbps))} Mbit/s, retr ${range(rs.map((r) => r.retr))}, lost ${
        range(rs.map((r) => r.lostPct))
      } %, plug ${range(rs.map((r) => r.plugMsPerMB))} ms/MB, switch ${
        range(rs.map((r) => r.switchMsPerMB))
      } ms/MB`,
    );
  }
  for (const [name, xs] of Object.entries(ratios)) console.log(`${name} per pair: ${range(xs)}`);
} finally {
  await cleanup();
}
