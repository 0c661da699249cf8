/**
 * A small rig for the bench's one-at-a-time connections/s row, for A/B work
 * on the slirp alone: our switch (this checkout's), a guest namespace on it
 * by Debian's `vde_plug tap://`, `connload serve` in the guest (one byte,
 * then close), and each kind's `vde slirp` with a forward to it; the client
 * is `connload connect PORT 1 SECONDS` (C, one connection at a time), so the
 * row's ends cost little and the same in every run. Kinds run in turn,
 * alternating order each pair: `lib` (Debian's libslirp plugin) or
 * `NAME=REPO` (our slirp from the checkout REPO). Per run: connections/s,
 * the slirp's CPU (and its user part) per connection and its sleeps (voluntary context
 * switches) and preemptions per connection; then medians and ranges.
 *
 *   deno run -A scripts/conn_rig.ts PAIRS SECONDS new=/work/wt base=/work/base
 *
 * RIG_PIN_NAME=CPUS keeps kind NAME's switch, slirp and guest plug on those
 * vCPUs (taskset), to tell what wake-ups across vCPUs cost the row
 * (RIG_PIN_WHO=slirp: the slirp alone).
 *
 * RIG_PERF=stat counts the slirp's system calls by kind (perf stat on the
 * syscall tracepoints) into NAME-PAIR.stat in a directory the rig makes;
 * RIG_PERF=record profiles it (perf record -g, the JIT's symbols from
 * --perf-basic-prof) into NAME-PAIR.perf there, RIG_PERF=user its user time
 * alone (--all-user). V8 leaves those symbols in /tmp/perf-PID.map, which
 * `perf report` reads: remove it, and the directory, when done. Either slows
 * the slirp: read rates and CPU from runs without it. With RIG_PERF,
 * RIG_CAPTURE=1 also writes a second of the guest's tap (tcpdump, headers)
 * into NAME-PAIR.pcap.
 *
 * RIG_THREADS=1 splits the slirp's CPU per connection by thread (user and
 * system, from /proc/PID/task), to tell the slirp thread's share from the
 * runtime's other threads'. User and system are charged a whole scheduler
 * tick at a time to the thread a tick finds running, so a thread that runs
 * briefly and seldom (V8's helpers) reads wrong by several µs a connection
 * either way; the exact time on a CPU (schedstat) and its sleeps a
 * connection are printed beside them.
 *
 * RIG_WARM=SECONDS: the uncounted connections before each run (1 s unless
 * set).
 *
 * RIG_V8 adds V8 flags to our slirps (--trace-gc: their collections are
 * counted per isolate at the end of each run); RIG_V8_LOG=PREFIX writes each
 * run's slirp output (V8's traces) to PREFIX-NAME-PAIR.txt, line-buffered
 * (stdbuf), and counts TurboFan's compiles and the deopts in the counted run
 * (with --trace-opt,--trace-deopt; RIG_WARM=0: the first real connections).
 * RIG_V8_NAME adds V8 flags to kind NAME's slirp alone (a V8 setting A/B on
 * one checkout: `a=REPO b=REPO RIG_V8_b=...`).
 */
import { withNetns } from "../test/helpers/netns.ts";
import { type ManagedProcess, run, spawnManaged, waitFor } from "../test/helpers/processes.ts";
import { startOurSwitch } from "../test/helpers/switches.ts";
import { DENO_RUN } from "../src/cli/v8_flags.ts";
import { contextSwitches, cpuSeconds } from "./proc_cpu.ts";
import { freeLoopbackPort } from "./free_port.ts";
import { waitForPing } from "../test/helpers/netns.ts";
import { median, rigArgs } from "./rig_args.ts";

const SCRIPTS = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const CONNLOAD = `${SCRIPTS}/.build/connload`;
const { pairs, seconds, kinds } = rigArgs(Deno.args, 4);
if (!(await Deno.stat(CONNLOAD).catch(() => null))) {
  await Deno.mkdir(`${SCRIPTS}/.build`, { recursive: true });
  await run(["cc", "-O2", "-Wall", "-o", CONNLOAD, `${SCRIPTS}/connload.c`]);
}
const perfDir = Deno.env.get("RIG_PERF") ? await Deno.makeTempDir({ prefix: "conn_rig-" }) : null;
if (perfDir !== null) console.log(`perf output in ${perfDir}`);

const perfMode = Deno.env.get("RIG_PERF");
/** V8 flags added to our slirps': RIG_V8 (e.g. --trace-gc), and the JIT's symbols for perf record. */
const extraV8 = [
  Deno.env.get("RIG_V8"),
  perfMode === "record" || perfMode === "user" ? "--perf-basic-prof" : undefined,
].filter(
  Boolean,
);
const runFlags = DENO_RUN.map((f) =>
  f.startsWith("--v8-flags=") && extraV8.length ? `${f},${extraV8.join(",")}` : f
);

/** `deno run`'s flags for kind `name`'s slirp: RIG_V8_NAME adds V8 flags to that kind's alone. */
function flagsFor(name: string): string[] {
  const own = Deno.env.get(`RIG_V8_${name}`);
  if (own === undefined) return runFlags;
  return runFlags.map((f) => f.startsWith("--v8-flags=") ? `${f},${own}` : f);
}

/** User CPU time of process `pid` (all its threads), in seconds (field 14 of /proc/PID/stat). */
async function userSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[11]) / 100;
}

/** A thread's name, user and system CPU seconds and sleeps (voluntary context switches). */
interface ThreadTimes {
  name: string;
  user: number;
  sys: number;
  wakes: number;
  /** Seconds on a CPU, exact (schedstat), where user and sys are sampled at the scheduler's ticks. */
  onCpu: number;
}

/** Each thread's times, by thread id (/proc/PID/task/TID/stat and status). */
async function threadTimes(pid: number): Promise<Map<number, ThreadTimes>> {
  const out = new Map<number, ThreadTimes>();
  for await (const e of Deno.readDir(`/proc/${pid}/task`)) {
    const stat = await Deno.readTextFile(`/proc/${pid}/task/${e.name}/stat`).catch(() => null);
    const status = await Deno.readTextFile(`/proc/${pid}/task/${e.name}/status`).catch(() => null);
    const sched = await Deno.readTextFile(`/proc/${pid}/task/${e.name}/schedstat`).catch(() => null);
    if (stat === null || status === null || sched === null) continue;
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const wakes = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const onCpu = Number(sched.split(" ")[0]) / 1e9;
    out.set(Number(e.name), {
      name,
      user: Number(rest[11]) / 100,
      sys: Number(rest[12]) / 100,
      wakes,
      onCpu,
    });
  }
  return out;
}

/**
 * RIG_THREADS=1: a line of each thread's user and system µs and sleeps a connection (those above 0.5 µs
 * or 0.01 sleeps): a helper thread that sleeps about once a connection is handed work per connection.
 */
function threadLine(before: Map<number, ThreadTimes>, after: Map<number, ThreadTimes>, n: number): string {
  const parts: string[] = [];
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { user: 0, sys: 0, wakes: 0, onCpu: 0 };
    const user = (a.user - b.user) * 1e6 / n;
    const sys = (a.sys - b.sys) * 1e6 / n;
    const wakes = (a.wakes - b.wakes) / n;
    const onCpu = (a.onCpu - b.onCpu) * 1e6 / n;
    if (user + sys >= 0.5 || wakes >= 0.01 || onCpu >= 0.5) {
      parts.push(
        `${a.name}[${tid}] ${user.toFixed(1)}u+${sys.toFixed(1)}s (${onCpu.toFixed(1)} on CPU) ${
          wakes.toFixed(2)
        } sleeps`,
      );
    }
  }
  return parts.join(", ");
}

interface Sample {
  rate: number;
  cpuUs: number;
  userUs: number;
  sleeps: number;
  preempted: number;
}
const samples: Record<string, Sample[]> = {};

await withNetns(async (lab) => {
  const g = await lab.namespace("g");
  await g.tap("t0");
  await g.run(["ip", "link", "set", "t0", "up"]);
  let guestPort = 5400;
  for (let p = 0; p < pairs; p++) {
    for (const kind of p % 2 === 0 ? kinds : [...kinds].reverse()) {
      const tmp = await lab.tempDir();
      const sw = await startOurSwitch(`${tmp}/sw`);
      const procs: ManagedProcess[] = [];
      let slirpOutAtRun = -1;
      try {
        const fwd = await freeLoopbackPort();
        // A fresh guest port each run: the previous run's TIME-WAIT entries stay in the guest (bench.ts).
        const acceptPort = guestPort++;
        const forward = `${fwd}:10.0.2.15:${acceptPort}`;
        const cmd = kind.repo === null ? ["vde_plug", `vde://${sw.dir}`, `slirp:///tcpfwd=${forward}`] : [
          Deno.execPath(),
          ...flagsFor(kind.name),
          `${kind.repo}/mod.ts`,
          "slirp",
          "--sock",
          sw.dir,
          "--forward",
          `tcp:${forward}`,
        ];
        // V8 prints its traces through stdio, block-buffered into a pipe: line by line, so the counted
        // run's start can be placed among them.
        const v8Lines = kind.repo !== null && Deno.env.get("RIG_V8_LOG") !== undefined
          ? ["stdbuf", "-oL"]
          : [];
        const slirp = spawnManaged([...v8Lines, ...cmd], { name: `${kind.name} slirp` });
        procs.push(slirp);
        procs.push(g.spawn(["vde_plug", `vde://${sw.dir}`, "tap://t0"], { name: "guest plug" }));
        await g.waitForCarrier("t0", 20_000);
        await g.run(["ip", "addr", "replace", "10.0.2.15/24", "dev", "t0"]);
        await g.run(["ip", "route", "replace", "default", "via", "10.0.2.2"]);
        await waitForPing(g, "10.0.2.2", 30_000);
        // RIG_PIN_NAME=CPUS: the switch, the slirp and the guest's plug (every thread) kept to those vCPUs.
        const pin = Deno.env.get(`RIG_PIN_${kind.name}`);
        if (pin !== undefined) {
          const slirpOnly = Deno.env.get("RIG_PIN_WHO") === "slirp";
          for (const pid of slirpOnly ? [slirp.pid] : [sw.pid, slirp.pid, procs[1]!.pid]) {
            await run(["taskset", "-a", "-p", "-c", pin, String(pid)]);
          }
        }
        procs.push(g.spawn([CONNLOAD, "serve", String(acceptPort)], { name: "connload serve" }));
        await waitFor(
          async () =>
            (await g.run(["ss", "-Hltn", `sport = :${acceptPort}`], { check: false })).stdout.trim() !== "",
          { timeoutMs: 5000, what: "connload serve" },
        );
        // A warm-up, not counted: the first connections compile the slirp's path (RIG_WARM seconds, 1 unless set;
        // V8's helpers go on compiling it for 3-4 s on a loaded machine, so 1 s leaves that in the run).
        const warm = Number(Deno.env.get("RIG_WARM") ?? "1");
        await run([CONNLOAD, "connect", String(fwd), "1", String(warm)], {
          check: false,
          timeoutMs: (warm + 20) * 1000,
        });
        // Where the counted run starts in the slirp's output (V8's traces: RIG_V8_LOG).
        slirpOutAtRun = slirp.stdout.length;
        const cpu0 = await cpuSeconds(slirp.pid);
        const user0 = await userSeconds(slirp.pid);
        const cs0 = await contextSwitches(slirp.pid);
        const threads = Deno.env.get("RIG_THREADS") === "1";
        const t0 = threads ? await threadTimes(slirp.pid) : null;
        const perf = perfDir !== null
          ? spawnManaged([
            "perf",
            ...(perfMode === "record" || perfMode === "user"
              ? [
                "record",
                "-g",
                ...(perfMode === "user" ? ["--all-user"] : []),
                "-o",
                `${perfDir}/${kind.name}-${p + 1}.perf`,
              ]
              : [
                "stat",
                "-e",
                "syscalls:sys_enter_*",
                "-e",
                "context-switches",
                "-o",
                `${perfDir}/${kind.name}-${p + 1}.stat`,
              ]),
            "-p",
            String(slirp.pid),
            "--",
            "sleep",
            String(seconds),
          ], { name: "perf" })
          : null;
        // RIG_CAPTURE=1: the guest's tap for one second from the run's second, headers only.
        const capture = perfDir !== null && Deno.env.get("RIG_CAPTURE") === "1"
          ? g.spawn([
            "timeout",
            "2",
            "sh",
            "-c",
            `sleep 1; exec tcpdump -q -n -i t0 -s 96 -w ${perfDir}/${kind.name}-${p + 1}.pcap`,
          ], { name: "tcpdump" })
          : null;
        const r = await run([CONNLOAD, "connect", String(fwd), "1", String(seconds)], {
          check: false,
          timeoutMs: (seconds + 20) * 1000,
        });
        if (perf) await perf.status;
        if (capture) await capture.status;
        const cpu1 = await cpuSeconds(slirp.pid);
        const user1 = await userSeconds(slirp.pid);
        const cs1 = await contextSwitches(slirp.pid);
        const t1 = t0 !== null ? await threadTimes(slirp.pid) : null;
        const n = Number(/connections=(\d+)/.exec(r.stdout)?.[1] ?? NaN);
        const secs = Number(/seconds=([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
        const s: Sample = {
          rate: n / secs,
          cpuUs: (cpu1 - cpu0) * 1e6 / n,
          userUs: (user1 - user0) * 1e6 / n,
          sleeps: (cs1.voluntary - cs0.voluntary) / n,
          preempted: (cs1.involuntary - cs0.involuntary) / n,
        };
        (samples[kind.name] ??= []).push(s);
        console.log(
          `${kind.name} pair ${p + 1}: ${s.rate.toFixed(0)} conn/s, slirp ${s.cpuUs.toFixed(1)} µs CPU (${
            s.userUs.toFixed(1)
          } user), ${s.sleeps.toFixed(2)} sleeps, ${
            s.preempted.toFixed(2)
          } preempted a connection (${r.stdout.trim()})`,
        );
        if (t0 !== null && t1 !== null) console.log(`  threads, µs a connection: ${threadLine(t0, t1, n)}`);
      } catch (err) {
        console.log(`${kind.name} pair ${p + 1}: ${(err as Error).message}`);
      } finally {
        for (const pr of procs.reverse()) await pr.stop({ timeoutMs: 2000 });
        const v8Log = Deno.env.get("RIG_V8_LOG");
        if (v8Log !== undefined) {
          const out = procs.find((pr) => pr.name.endsWith("slirp"))?.stdout ?? "";
          const at = slirpOutAtRun >= 0 ? slirpOutAtRun : out.length;
          await Deno.writeTextFile(
            `${v8Log}-${kind.name}-${p + 1}.txt`,
            `${out.slice(0, at)}=== the counted run starts\n${out.slice(at)}`,
          );
          // TurboFan's compiles and the deopts during the counted run (--trace-opt,--trace-deopt).
          if (slirpOutAtRun >= 0) {
            const run = out.slice(slirpOutAtRun).split("\n");
            console.log(
              `${kind.name} pair ${p + 1}: in the counted run ${
                run.filter((l) => l.startsWith("[compiling method") && l.includes("TURBOFAN")).length
              } TurboFan compiles, ${run.filter((l) => l.startsWith("[bailout")).length} deopts`,
            );
          }
        }
        if (Deno.env.get("RIG_V8")?.includes("trace-gc")) {
          const out = procs.find((pr) => pr.name.endsWith("slirp"))?.stdout ?? "";
          const perIsolate = new Map<string, number>();
          for (const l of out.split("\n").filter((l) => l.includes("Scavenge"))) {
            const id = l.split("]")[0]!;
            perIsolate.set(id, (perIsolate.get(id) ?? 0) + 1);
          }
          console.log(`scavenges per isolate: ${[...perIsolate.values()].join(", ")}`);
          console.log(
            `${kind.name} pair ${p + 1}: ${
              out.split("\n").filter((l) => l.includes("Scavenge")).length
            } scavenges, ${out.split("\n").filter((l) => l.includes("Mark-Compact")).length} mark-compacts`,
          );
        }
        await sw.stop();
      }
    }
  }
});

for (const [name, ss] of Object.entries(samples)) {
  const col = (k: keyof Sample, d: number) => {
    const xs = ss.map((s) => s[k]);
    return `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)}]`;
  };
  console.log(
    `${name} (${ss.length}): ${col("rate", 0)} conn/s, slirp ${col("cpuUs", 1)} µs CPU (${
      col("userUs", 1)
    } user), ${col("sleeps", 2)} sleeps, ${col("preempted", 2)} preempted a connection`,
  );
}
