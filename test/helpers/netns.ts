/**
 * Network-namespace labs for end-to-end tests: namespaces, veth pairs, taps
 * and background processes that are ALWAYS torn down, whether the test body
 * returns, throws, or the process is interrupted (SIGINT/SIGTERM).
 *
 * Every kernel object carries a per-run prefix `vdet<id>x<lab>-` (run_id.ts),
 * so concurrent runs never collide. Three layers of cleanup: the lab's own
 * try/finally teardown; SIGINT/SIGTERM listeners; and, for deaths no listener
 * sees (SIGKILL, Ctrl-C under `deno test`), a detached reaper (processes.ts)
 * plus a sweep at the start of every lab that removes what runs that are over left.
 * Only addresses inside these namespaces are used.
 */
import {
  hasCommand,
  hasRoot,
  type ManagedProcess,
  pathExists,
  registerCleanup,
  ROOT_IF_PREFIX,
  run,
  RUN_PREFIX,
  type RunOptions,
  type RunResult,
  spawnManaged,
  type SpawnOptions,
  STUDENT_PREFIX,
  waitFor,
} from "./processes.ts";
import { RunJudge } from "./run_id.ts";

export { hasRoot };

const NETNS_DIR = "/run/netns";

let labCounter = 0;
let ifCounter = 0;

/** A network namespace owned by a {@link Lab}. */
export class Netns {
  /** Kernel name, e.g. `vdet4242x0-a`. */
  readonly name: string;
  /** The short name given to {@link Lab.namespace}. */
  readonly short: string;
  readonly #lab: Lab;

  constructor(lab: Lab, short: string, name: string) {
    this.#lab = lab;
    this.short = short;
    this.name = name;
  }

  /** `cmd` prefixed so that it runs inside this namespace. */
  exec(cmd: string[]): string[] {
    return ["ip", "netns", "exec", this.name, ...cmd];
  }

  /** Runs `cmd` inside the namespace to completion (bounded; throws on failure unless `check: false`). */
  run(cmd: string[], opts?: RunOptions): Promise<RunResult> {
    return run(this.exec(cmd), opts);
  }

  /** Starts `cmd` in the background inside the namespace; killed at teardown. */
  spawn(cmd: string[], opts?: SpawnOptions): ManagedProcess {
    return this.#lab.spawn(this, cmd, opts);
  }

  /** Creates a persistent tap `name` inside the namespace (removed with the namespace). */
  async tap(name: string): Promise<void> {
    await run(["ip", "-n", this.name, "tuntap", "add", "dev", name, "mode", "tap"]);
  }

  /** Adds `cidr` (e.g. 10.199.1.1/24) to `dev` and brings it up. */
  async addr(dev: string, cidr: string): Promise<void> {
    await run(["ip", "-n", this.name, "addr", "add", cidr, "dev", dev]);
    await run(["ip", "-n", this.name, "link", "set", dev, "up"]);
  }

  /** Waits until `dev` reports carrier (e.g. a tap once a process has attached to it). */
  async waitForCarrier(dev: string, timeoutMs = 5000): Promise<void> {
    await waitFor(async () => {
      const r = await run(["ip", "-n", this.name, "-o", "link", "show", dev], { check: false });
      return r.success && !r.stdout.includes("NO-CARRIER") && r.stdout.includes("LOWER_UP");
    }, { timeoutMs, what: `carrier on ${dev} in ${this.name}` });
  }
}

/**
 * One test's set of namespaces and processes. Create it with {@link withNetns},
 * which guarantees {@link Lab.teardown}.
 */
export class Lab {
  /** Prefix of this lab's namespace names, e.g. `vdet4242x0-`. */
  readonly prefix: string;
  #namespaces: Netns[] = [];
  #rootIfs: string[] = [];
  #processes: ManagedProcess[] = [];
  #tempDirs: string[] = [];
  #deferred: (() => Promise<void> | void)[] = [];
  #tornDown = false;

  constructor() {
    this.prefix = `${RUN_PREFIX}${labCounter++}-`;
  }

  /** Creates namespace `<prefix><short>` with loopback up. */
  async namespace(short: string): Promise<Netns> {
    if (!/^[a-z0-9_.-]{1,32}$/i.test(short)) throw new Error(`bad namespace name: ${short}`);
    const ns = new Netns(this, short, this.prefix + short);
    await run(["ip", "netns", "add", ns.name]);
    this.#namespaces.push(ns);
    await run(["ip", "-n", ns.name, "link", "set", "lo", "up"]);
    return ns;
  }

  /**
   * Creates a veth pair with one end `aName` in `a` and the other `bName` in
   * `b`. A null side stays in the root namespace under a generated unique
   * name (returned), since names there are shared with everything else.
   */
  async veth(a: Netns | null, aName: string, b: Netns | null, bName: string): Promise<[string, string]> {
    const nameA = a ? aName : this.#rootIfName();
    const nameB = b ? bName : this.#rootIfName();
    const cmd = ["ip", "link", "add", nameA];
    if (a) cmd.push("netns", a.name);
    cmd.push("type", "veth", "peer", "name", nameB);
    if (b) cmd.push("netns", b.name);
    await run(cmd);
    if (!a) this.#rootIfs.push(nameA);
    if (!b) this.#rootIfs.push(nameB);
    return [nameA, nameB];
  }

  /**
   * A unique interface name for the root namespace, deleted at teardown if
   * it still exists (for a tap a process creates there, say).
   */
  rootInterfaceName(): string {
    const name = this.#rootIfName();
    this.#rootIfs.push(name);
    return name;
  }

  #rootIfName(): string {
    // IFNAMSIZ allows 15 characters: "vt" + pid in base 36 (<= 5) + "i" + counter.
    const name = `${ROOT_IF_PREFIX}${(ifCounter++).toString(36)}`;
    if (name.length > 15) throw new Error(`interface name too long: ${name}`);
    return name;
  }

  /** Starts `cmd` in the background, inside `ns` (or the root namespace for null); killed at teardown. */
  spawn(ns: Netns | null, cmd: string[], opts: SpawnOptions = {}): ManagedProcess {
    const full = ns ? ns.exec(cmd) : cmd;
    // The lab's own teardown handles signals; a second registration would race it.
    const p = spawnManaged(full, { name: cmd[0], ...opts, cleanupOnSignal: false });
    this.#processes.push(p);
    return p;
  }

  /** A fresh temporary directory, removed at teardown. */
  async tempDir(): Promise<string> {
    const dir = await Deno.makeTempDir({ prefix: `${this.prefix}` });
    this.#tempDirs.push(dir);
    return dir;
  }

  /** Runs `fn` at teardown, before processes are stopped (last registered runs first). */
  defer(fn: () => Promise<void> | void): void {
    this.#deferred.push(fn);
  }

  /**
   * Removes everything: deferred callbacks, processes (SIGTERM, then SIGKILL),
   * any process still inside a namespace, the namespaces, root-namespace
   * interfaces, temp dirs. Every step runs even if an earlier one failed;
   * the errors are collected and thrown together.
   */
  async teardown(): Promise<void> {
    if (this.#tornDown) return;
    this.#tornDown = true;
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    for (const fn of this.#deferred.reverse()) await attempt("deferred cleanup", async () => await fn());
    await Promise.all(
      this.#processes.map((p) => attempt(`stop ${p.name}`, () => p.stop({ timeoutMs: 2000 }))),
    );
    for (const ns of this.#namespaces.reverse()) {
      await attempt(`delete ${ns.name}`, () => deleteNamespace(ns.name));
    }
    for (const ifname of this.#rootIfs) {
      await attempt(`delete ${ifname}`, () => run(["ip", "link", "del", ifname], { check: false }));
    }
    for (const dir of this.#tempDirs) {
      await attempt(`remove ${dir}`, () => Deno.remove(dir, { recursive: true }).catch(() => {}));
    }
    if (errors.length > 0) throw new Error(`netns teardown: ${errors.join("; ")}`);
  }
}

/** Kills whatever still runs inside namespace `name`, then deletes it. */
async function deleteNamespace(name: string): Promise<void> {
  if (!(await pathExists(`${NETNS_DIR}/${name}`))) return;
  // A namespace lives on while a process is inside it, and its taps with it.
  const pids = await run(["ip", "netns", "pids", name], { check: false });
  for (const pid of pids.stdout.split(/\s+/).filter((s) => /^\d+$/.test(s))) {
    try {
      Deno.kill(Number(pid), "SIGKILL");
    } catch { /* already gone */ }
  }
  await run(["ip", "netns", "del", name]);
}

/**
 * Runs `fn` with a fresh {@link Lab} and tears the lab down afterwards, also on
 * error or SIGINT/SIGTERM. Leftovers of dead earlier runs are swept first.
 * If both `fn` and teardown fail, `fn`'s error wins and teardown's is logged.
 */
export async function withNetns<T>(fn: (lab: Lab) => Promise<T>): Promise<T> {
  await sweepStale();
  const lab = new Lab();
  const unregister = registerCleanup(() => lab.teardown());
  let result: T;
  try {
    result = await fn(lab);
  } catch (err) {
    await lab.teardown().catch((e) => console.error(e instanceof Error ? e.message : String(e)));
    throw err;
  } finally {
    unregister();
  }
  await lab.teardown();
  return result;
}

/**
 * Deletes test users (`vderl<id>`, student.ts) with their processes, namespaces (`vdet<id>x...`),
 * root-namespace interfaces (`vt<id36>i...`), temp dirs (`$TMPDIR/vdet<id>x...`) and lock files left by runs that
 * are over (run_id.ts: judged by the run's lock, not by a pid, which means
 * another process in another pid namespace). Returns what it removed.
 */
export async function sweepStale(): Promise<string[]> {
  const removed: string[] = [];
  if (hasRoot() !== null) return removed;
  const runs = new RunJudge();
  try {
    await sweepOver(runs, removed);
  } finally {
    runs.release();
  }
  return removed;
}

async function sweepOver(runs: RunJudge, removed: string[]): Promise<void> {
  const runRe = /^vdet(\d+)x/;
  // Users first: their processes may run from the temp dirs below.
  const users = await run(["getent", "passwd"], { check: false });
  for (const line of users.stdout.split("\n")) {
    const m = line.match(new RegExp(`^(${STUDENT_PREFIX}(\\d+)):`));
    if (!m || !runs.over(Number(m[2]))) continue;
    await removeUser(m[1]!);
    removed.push(`user ${m[1]}`);
  }
  try {
    for await (const entry of Deno.readDir(NETNS_DIR)) {
      const m = entry.name.match(runRe);
      if (!m || !runs.over(Number(m[1]))) continue;
      try {
        await deleteNamespace(entry.name);
        removed.push(entry.name);
      } catch { /* another sweeper got there first */ }
    }
  } catch { /* no /run/netns yet: nothing to sweep */ }
  const links = await run(["ip", "-o", "link", "show"], { check: false });
  for (const line of links.stdout.split("\n")) {
    const m = line.match(/^\d+: (vt([0-9a-z]+)i[0-9a-z]+)[@:]/);
    if (!m || !runs.over(parseInt(m[2]!, 36))) continue;
    await run(["ip", "link", "del", m[1]!], { check: false });
    removed.push(m[1]!);
  }
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  try {
    for await (const entry of Deno.readDir(tmp)) {
      const m = entry.name.match(runRe);
      if (!m || !entry.isDirectory || !runs.over(Number(m[1]))) continue;
      await Deno.remove(`${tmp}/${entry.name}`, { recursive: true }).catch(() => {});
      removed.push(`${tmp}/${entry.name}`);
    }
  } catch { /* unreadable temp dir: nothing to sweep */ }
  // The locks of runs that left nothing else: judged over, they go at `release`.
  try {
    for await (const entry of Deno.readDir(runs.dir)) {
      const m = entry.name.match(/^vdet(\d+)x\.lock$/);
      if (m) runs.over(Number(m[1]));
    }
  } catch { /* no run has held one yet */ }
}

/**
 * Removes user `name` (made with its own group) after killing whatever of theirs still runs; userdel
 * refuses a user whose processes run, so the SIGKILLs are waited for (bounded). Never throws: a failure is
 * said on stderr.
 */
export async function removeUser(name: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    // pkill exits 0 while it finds a process of theirs to kill.
    if ((await run(["pkill", "-KILL", "-u", name], { check: false })).code !== 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const removed = await run(["userdel", name], { check: false });
  if (removed.code !== 0) console.error(`userdel ${name}: ${removed.stderr.trim()}`);
}

/** Summary of one ping run. */
export interface PingResult {
  /** Requests sent: may exceed the count asked for (see `ping`). */
  transmitted: number;
  /** Requests answered, at most the count asked for (see `ping`). */
  received: number;
  /** Replies that came twice (ping counts them apart): a duplicated frame on the path. */
  duplicates: number;
  /** Shortest round-trip time in milliseconds (load cannot shorten it); null when nothing came back. */
  minMs: number | null;
  /** Average round-trip time in milliseconds; null when nothing came back. */
  avgMs: number | null;
  /** Raw output, for failure messages. */
  output: string;
}

let pingProgram: Promise<string[]> | null = null;

/** iputils `ping` when installed, else busybox's (present on the base image). */
function pingCommand(): Promise<string[]> {
  pingProgram ??= hasCommand("ping").then((yes) => yes ? ["ping"] : ["busybox", "ping"]);
  return pingProgram;
}

/** Whether some ping implementation is available. */
export async function canPing(): Promise<boolean> {
  return await hasCommand("ping") || await hasCommand("busybox");
}

/**
 * Pings `to` from inside `ns`: `count` echo requests `intervalS` seconds
 * apart, bounded by a deadline. Reads both iputils' and busybox's summaries.
 *
 * With a deadline (`-w`), iputils' `-c` means "until `count` replies", not
 * "`count` requests": when a reply is late (a loaded machine), ping sends
 * another request at the next interval, and replies that then arrive
 * together are all counted, so "6 transmitted, 6 received" answers a
 * `-c 5` (reproduced by stopping the far tap's plug for 0.5 s; no reply
 * was a duplicate). `received` is therefore capped at `count`: reaching it
 * means `count` requests were answered, which is what callers ask.
 */
export async function ping(ns: Netns, to: string, count: number, intervalS = 0.2): Promise<PingResult> {
  const deadlineS = Math.ceil(count * intervalS + 3);
  const cmd = [
    ...(await pingCommand()),
    "-q",
    "-c",
    String(count),
    "-i",
    String(intervalS),
    "-w",
    String(deadlineS),
    to,
  ];
  const r = await ns.run(cmd, { check: false, timeoutMs: (deadlineS + 5) * 1000 });
  const output = r.stdout + r.stderr;
  const counts = output.match(/(\d+) packets transmitted, (\d+) (?:packets )?received/);
  const dups = output.match(/\+?(\d+) duplicates/);
  const rtt = output.match(/= ([\d.]+)\/([\d.]+)\//);
  return {
    transmitted: counts ? Number(counts[1]) : 0,
    received: counts ? Math.min(count, Number(counts[2])) : 0,
    duplicates: dups ? Number(dups[1]) : 0,
    minMs: rtt ? Number(rtt[1]) : null,
    avgMs: rtt ? Number(rtt[2]) : null,
    output,
  };
}

/** Pings until one answer comes back (ARP resolved, path up); throws after `timeoutMs`. */
export async function waitForPing(ns: Netns, to: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await ping(ns, to, 1, 0.2)).received === 1, {
    timeoutMs,
    intervalMs: 100,
    what: `a ping answer from ${to} in ${ns.name}`,
  });
}

let netnsProbe: Promise<string | null> | null = null;

/**
 * null when namespaces, veths and taps can be created here, else why not.
 * Probes once per process by creating and deleting a throwaway namespace.
 */
export function canNetns(): Promise<string | null> {
  netnsProbe ??= probeNetns();
  return netnsProbe;
}

async function probeNetns(): Promise<string | null> {
  const root = hasRoot();
  if (root !== null) return root;
  if (!(await pathExists("/dev/net/tun"))) return "no /dev/net/tun";
  try {
    await withNetns(async (lab) => {
      const a = await lab.namespace("probe");
      const b = await lab.namespace("probe2");
      await lab.veth(a, "p0", b, "p1");
      await a.tap("t0");
    });
    return null;
  } catch (err) {
    return `cannot create network namespaces: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * null when namespaces work and every tool in `tools` and ping are here;
 * otherwise what is missing, for `skipUnless`.
 */
export async function labMissing(tools: string[]): Promise<string | null> {
  const netns = await canNetns();
  if (netns !== null) return netns;
  for (const tool of tools) {
    if (!(await hasCommand(tool))) return `${tool} is not installed`;
  }
  if (!(await canPing())) return "neither ping nor busybox is installed";
  return null;
}
