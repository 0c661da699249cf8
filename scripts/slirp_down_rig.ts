/**
 * A small rig for one row of the data-plane bench: a slirp behind Debian's
 * vde_switch, iperf3 host->guest (down) at MTU 1500, as
 * bench_dataplane.ts's "slirp behind C" chain runs it, for A/B work on the
 * slirp alone. Each kind runs in turn (alternating order each pair):
 * `lib` (Debian's libslirp plugin) and any number of `NAME=REPO` (our
 * `vde slirp` from the checkout REPO). Per run: Mbit/s, retransmits, CPU
 * per MB of the C switch, the slirp and the guest's vde_plug and the
 * machine, and the frames per MB the C switch sent (tried to) and got on
 * the guest's port and the slirp's (its port counters), and how often per MB
 * the switch, the slirp and the guest's plug slept (voluntary context
 * switches: who waits for whom) and were preempted (the three summed).
 * Going down, iperf3's retransmits are those of the host's sender on
 * loopback (a stall of the slirp's reads shows there); what our slirp
 * resends to the guest shows as slirp->sw frames per MB above 690.6
 * (1e6 / 1448, its payload with timestamps), printed to a tenth.
 *
 *   deno run -A scripts/slirp_down_rig.ts PAIRS SECONDS lib new=/work/wt base=/work/base
 *
 * RIG_V8 (or RIG_V8_NAME for one kind) passes V8 flags to our slirps;
 * RIG_PERF=stat counts our slirp's system calls and context switches
 * (perf stat), RIG_PERF=1 or g records a profile (perf record, g: with call
 * graphs; add RIG_V8=--perf-basic-prof for the JIT's symbols), each into
 * NAME.stat or NAME.perf in a directory of its own the rig names (not a
 * fixed /tmp path: perf stat -o follows a symlink a local user left there,
 * and root's perf then overwrites the file it points to).
 *
 * RIG_PERF=trace records the slirp's sendmmsg, sendto and read system
 * calls (perf's syscall tracepoints, into NAME-PAIR.trace) and prints per run
 * the frames each sendmmsg asked for (median, p90, max), how many sent fewer
 * (the switch's socket was full: EAGAIN) and the host reads' count per MB and
 * median size (scripts/syscall_trace.ts): whether our bursts overrun the
 * switch, without the CPU a call graph costs.
 *
 * RIG_CAPTURE=1 writes one second of the guest's tap (tcpdump, headers only,
 * from the run's second second) per run into KIND-PAIR.pcap in a directory of
 * its own, as perf's: where the frames reaching the guest pause, and what
 * the guest had left unacknowledged then.
 *
 * RIG_SWITCH=ours puts our switch (from each kind's checkout; the current one
 * for lib) in the C switch's place, as the bench's own slirp rows do (no port
 * counters then: frames/MB read NaN); RIG_MTU=N sets the slirp's and the
 * guest's MTU (default 1500), for the MTU 65520 rows.
 *
 * RIG_UP=1 runs iperf3 guest->host (up) instead: the C switch then streams
 * into the slirp, and what it could not send there shows as the guest's
 * retransmits only (its port counters count a frame out before the send
 * that may drop it: sw->slirp is what it tried). Short runs (SECONDS 1)
 * weigh a stream's start, before a slirp raises its priority; RIG_P=N runs
 * N streams at once (iperf3 -P), whose windows together outgrow the
 * switch's queue.
 */
import { waitForPing, withNetns } from "../test/helpers/netns.ts";
import { type ManagedProcess, run, spawnManaged, waitFor } from "../test/helpers/processes.ts";
import { REPO_ROOT, startCSwitch, startOurSwitch } from "../test/helpers/switches.ts";
import { DENO_RUN } from "../src/cli/v8_flags.ts";
import { contextSwitches, cpuSeconds, machineCpu } from "./proc_cpu.ts";
import { freeLoopbackPort } from "./free_port.ts";
import { median, rigArgs } from "./rig_args.ts";
import { formatSyscalls, summariseSyscalls } from "./syscall_trace.ts";

const { pairs, seconds, kinds } = rigArgs(Deno.args, 5);

/** V8 flags for a kind's `deno run`: RIG_V8_NAME, else RIG_V8 (e.g. --perf-basic-prof for perf). */
function v8Flags(name: string): string | undefined {
  return Deno.env.get(`RIG_V8_${name}`) ?? Deno.env.get("RIG_V8");
}

interface Sample {
  mbps: number;
  retr: number;
  sw: number;
  slirp: number;
  plug: number;
  machine: number;
  idle: number;
  toGuestPerMb: number;
  fromSlirpPerMb: number;
  fromGuestPerMb: number;
  toSlirpPerMb: number;
  /** Voluntary context switches (sleeps) per MB of the switch, the slirp and the guest's plug. */
  swSleeps: number;
  slirpSleeps: number;
  plugSleeps: number;
  /** Involuntary ones (preempted) per MB of the same three, summed. */
  preempted: number;
}
const samples: Record<string, Sample[]> = {};
/** Guest->host (RIG_UP=1) rather than host->guest. */
const up = Deno.env.get("RIG_UP") === "1";
const parallel = Deno.env.get("RIG_P") ?? "1";
/** Our switch in the C switch's place (RIG_SWITCH=ours), and the chain's MTU (RIG_MTU). */
const oursSwitch = Deno.env.get("RIG_SWITCH") === "ours";
const mtu = Number(Deno.env.get("RIG_MTU") ?? 1500);
/** Where perf writes (RIG_PERF): made here, mode 0700, with a name nobody could foresee. */
const perfDir = Deno.env.get("RIG_PERF") ? await Deno.makeTempDir({ prefix: "slirp_rig-" }) : null;
if (perfDir !== null) console.log(`perf output in ${perfDir}`);
/** Where tcpdump writes a second of the guest's tap per run (RIG_CAPTURE=1), as perfDir. */
const captureDir = Deno.env.get("RIG_CAPTURE") ? await Deno.makeTempDir({ prefix: "slirp_rig-" }) : null;
if (captureDir !== null) console.log(`captures in ${captureDir}`);

/** Port counters of the C switch: per client pid, frames in and out. */
async function ports(mgmt: string): Promise<Map<number, { inp: number; out: number }>> {
  const r = await run(["unixcmd", "-f", "/etc/vde2/vdecmd", "-s", mgmt, "port/print"], {
    check: false,
    timeoutMs: 5000,
  });
  const m = new Map<number, { inp: number; out: number }>();
  for (const block of r.stdout.replaceAll("\0", "").split(/^ ?Port /m)) {
    const pid = Number(/pid=(\d+)/.exec(block)?.[1] ?? NaN);
    const inp = Number(/IN:\s+pkts\s+(\d+)/.exec(block)?.[1] ?? NaN);
    const out = Number(/OUT:\s+pkts\s+(\d+)/.exec(block)?.[1] ?? NaN);
    if (Number.isFinite(pid)) m.set(pid, { inp, out });
  }
  return m;
}

await withNetns(async (lab) => {
  const g = await lab.namespace("g");
  await g.tap("t0");
  await g.run(["ip", "link", "set", "t0", "up"]);
  for (let p = 0; p < pairs; p++) {
    for (const kind of p % 2 === 0 ? kinds : [...kinds].reverse()) {
      const tmp = await lab.tempDir();
      const mgmt = `${tmp}/mgmt`;
      // Each kind's own switch: a change to the switch's forwarding is A/B'd with the slirp's.
      if (oursSwitch) {
        Deno.env.set(
          "VDE_OURS_CMD",
          `${Deno.execPath()} ${DENO_RUN.join(" ")} --quiet ${
            kind.repo ?? REPO_ROOT
          }/mod.ts switch --sock {dir}`,
        );
      }
      const sw = oursSwitch
        ? await startOurSwitch(`${tmp}/sw`)
        : await startCSwitch(`${tmp}/sw`, { extraArgs: ["-M", mgmt] });
      const procs: ManagedProcess[] = [];
      try {
        const cmd = kind.repo === null ? ["vde_plug", `vde://${sw.dir}`, `slirp:///mtu=${mtu}`] : [
          "deno",
          "run",
          "-A",
          `--v8-flags=${["--no-maglev", v8Flags(kind.name)].filter(Boolean).join(",")}`,
          `${kind.repo}/mod.ts`,
          "slirp",
          "--sock",
          sw.dir,
          "--mtu",
          String(mtu),
        ];
        const slirp = spawnManaged(cmd, { name: `${kind.name} slirp` });
        procs.push(slirp);
        const guest = g.spawn(["vde_plug", `vde://${sw.dir}`, "tap://t0"], { name: "guest plug" });
        procs.push(guest);
        await waitFor(async () => {
          const r = await g.run(["ip", "-o", "link", "show", "t0"], { check: false });
          return r.success && r.stdout.includes("LOWER_UP");
        }, { timeoutMs: 20_000, what: "plug" });
        await g.run(["ip", "link", "set", "t0", "mtu", String(mtu)]);
        await g.run(["ip", "addr", "replace", "10.0.2.15/24", "dev", "t0"]);
        await g.run(["ip", "route", "replace", "default", "via", "10.0.2.2"]);
        await waitForPing(g, "10.0.2.2", 30_000);
        const port = String(await freeLoopbackPort());
        const srv = spawnManaged(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port], {
          name: "iperf3 -s",
        });
        procs.push(srv);
        await waitFor(
          async () => (await run(["ss", "-Hltn", `sport = :${port}`], { check: false })).stdout.trim() !== "",
          { timeoutMs: 5000, what: "iperf3 server" },
        );
        const pids = [sw.pid, slirp.pid, guest.pid];
        const before = await Promise.all(pids.map(cpuSeconds));
        const cs0 = await Promise.all(pids.map(contextSwitches));
        const mb0 = await machineCpu();
        const pc0 = await ports(mgmt);
        const perf = perfDir !== null && kind.repo !== null
          ? spawnManaged(
            Deno.env.get("RIG_PERF") === "trace"
              ? [
                "perf",
                "record",
                "-e",
                "syscalls:sys_enter_sendmmsg,syscalls:sys_exit_sendmmsg,syscalls:sys_exit_sendto,syscalls:sys_exit_read",
                "-o",
                `${perfDir}/${kind.name}-${p + 1}.trace`,
                "-p",
                String(slirp.pid),
                "--",
                "sleep",
                String(seconds - 1),
              ]
              : Deno.env.get("RIG_PERF") === "stat"
              ? [
                "perf",
                "stat",
                "-e",
                "syscalls:sys_enter_read,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_recvmmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_write,syscalls:sys_enter_futex,context-switches",
                "-o",
                `${perfDir}/${kind.name}.stat`,
                "-p",
                String(slirp.pid),
                "--",
                "sleep",
                String(seconds - 1),
              ]
              : [
                "perf",
                "record",
                ...(Deno.env.get("RIG_PERF") === "g" ? ["-g"] : []),
                "-o",
                `${perfDir}/${kind.name}.perf`,
                "-p",
                // Our switch too when it is in the chain (perf report --sort comm,dso,sym tells them apart).
                oursSwitch ? `${slirp.pid},${sw.pid}` : String(slirp.pid),
                "--",
                "sleep",
                String(seconds - 1),
              ],
            { name: "perf" },
          )
          : null;
        // One second of the guest's tap, headers only, from the run's second second (RIG_CAPTURE).
        const capture = captureDir !== null
          ? g.spawn([
            "timeout",
            "2",
            "sh",
            "-c",
            `sleep 1; exec tcpdump -q -i t0 -s 96 -w ${captureDir}/${kind.name}-${p + 1}.pcap`,
          ], { name: "tcpdump" })
          : null;
        const r = await g.run(
          [
            "iperf3",
            "-c",
            "10.0.2.2",
            "-p",
            port,
            "-t",
            String(seconds),
            "-J",
            ...(up ? [] : ["-R"]),
            "-P",
            parallel,
          ],
          { check: false, timeoutMs: (seconds + 30) * 1000 },
        );
        if (perf) await perf.status;
        if (capture) await capture.status;
        const mb1 = await machineCpu();
        const after = await Promise.all(pids.map(cpuSeconds));
        const cs1 = await Promise.all(pids.map(contextSwitches));
        const pc1 = await ports(mgmt);
        const rep = JSON.parse(r.stdout) as {
          end: {
            sum_received: { bits_per_second: number; bytes: number };
            sum_sent: { retransmits: number };
          };
        };
        const mb = rep.end.sum_received.bytes / 1e6;
        const per = after.map((a, i) => (a - before[i]!) * 1000 / mb);
        const busy = mb1.busy - mb0.busy;
        const total = mb1.total - mb0.total;
        const d = (pid: number, k: "inp" | "out") => (pc1.get(pid)?.[k] ?? NaN) - (pc0.get(pid)?.[k] ?? 0);
        const s: Sample = {
          mbps: rep.end.sum_received.bits_per_second / 1e6,
          retr: rep.end.sum_sent.retransmits,
          sw: per[0]!,
          slirp: per[1]!,
          plug: per[2]!,
          machine: busy * 1000 / mb,
          idle: 100 * (1 - busy / total),
          toGuestPerMb: d(guest.pid, "out") / mb,
          fromSlirpPerMb: d(slirp.pid, "inp") / mb,
          fromGuestPerMb: d(guest.pid, "inp") / mb,
          toSlirpPerMb: d(slirp.pid, "out") / mb,
          swSleeps: (cs1[0]!.voluntary - cs0[0]!.voluntary) / mb,
          slirpSleeps: (cs1[1]!.voluntary - cs0[1]!.voluntary) / mb,
          plugSleeps: (cs1[2]!.voluntary - cs0[2]!.voluntary) / mb,
          preempted: cs1.reduce((a, c, i) => a + c.involuntary - cs0[i]!.involuntary, 0) / mb,
        };
        (samples[kind.name] ??= []).push(s);
        console.log(
          `${kind.name} pair ${p + 1}: ${s.mbps.toFixed(0)} Mbit/s ${s.retr} retr; ms/MB sw ${
            s.sw.toFixed(2)
          } slirp ${s.slirp.toFixed(2)} plug ${s.plug.toFixed(2)} machine ${s.machine.toFixed(2)} (${
            s.idle.toFixed(1)
          }% idle); frames/MB ` +
            `slirp->sw ${s.fromSlirpPerMb.toFixed(1)} sw->guest ${s.toGuestPerMb.toFixed(1)} guest->sw ${
              s.fromGuestPerMb.toFixed(0)
            } sw->slirp ${s.toSlirpPerMb.toFixed(0)}; sleeps/MB sw ${s.swSleeps.toFixed(0)} slirp ${
              s.slirpSleeps.toFixed(0)
            } plug ${s.plugSleeps.toFixed(0)}, preempted ${s.preempted.toFixed(0)}`,
        );
        if (perf !== null && Deno.env.get("RIG_PERF") === "trace") {
          // The trace covers seconds - 1 of the run's seconds: per MB of what moved in that time.
          const text = await run(["perf", "script", "-i", `${perfDir}/${kind.name}-${p + 1}.trace`], {
            check: false,
          });
          console.log(
            `${kind.name} pair ${p + 1}: ${
              formatSyscalls(summariseSyscalls(text.stdout), mb * (seconds - 1) / seconds)
            }`,
          );
        }
      } catch (err) {
        console.log(`${kind.name} pair ${p + 1}: ${(err as Error).message}`);
      } finally {
        for (const pr of procs.reverse()) await pr.stop({ timeoutMs: 2000 });
        await sw.stop();
      }
    }
  }
});

for (const [name, ss] of Object.entries(samples)) {
  const col = (k: keyof Sample) => {
    const xs = ss.map((s) => s[k]);
    return `${median(xs).toFixed(k === "mbps" || k.endsWith("PerMb") ? 0 : 2)} [${
      Math.min(...xs).toFixed(k === "mbps" || k.endsWith("PerMb") ? 0 : 2)
    }-${Math.max(...xs).toFixed(k === "mbps" || k.endsWith("PerMb") ? 0 : 2)}]`;
  };
  console.log(
    `${name} (${ss.length}): ${col("mbps")} Mbit/s, retr ${col("retr")}, ms/MB sw ${col("sw")} slirp ${
      col("slirp")
    } plug ${col("plug")} machine ${col("machine")}, frames/MB slirp->sw ${col("fromSlirpPerMb")} guest->sw ${
      col("fromGuestPerMb")
    } sw->slirp ${col("toSlirpPerMb")}, sleeps/MB sw ${col("swSleeps")} slirp ${col("slirpSleeps")} plug ${
      col("plugSleeps")
    } preempted ${col("preempted")}`,
  );
}
