/**
 * Child processes for tests and benchmarks: spawn with guaranteed cleanup,
 * run-to-completion with a time bound, bounded waits, and the capability
 * checks that decide between skipping (locally) and failing (in CI).
 *
 * Everything here is bounded in time because `deno test` has no per-test
 * timeout: a hung child must turn into a failed test, never a hung run.
 */
import { RUN_ID } from "./run_id.ts";

/** True when running under CI, where a missing capability is a failure, not a skip. */
export function isCI(): boolean {
  return Deno.env.get("CI") === "true";
}

// ---------------------------------------------------------------------------
// Cleanup on SIGINT/SIGTERM

type Cleanup = () => Promise<void> | void;

const cleanups = new Set<Cleanup>();
let signalsInstalled = false;
let interrupted = false;

/** Upper bound for all cleanups after a signal, so a stuck teardown cannot keep the process alive. */
const SIGNAL_CLEANUP_BOUND_MS = 15_000;

async function onSignal(signal: Deno.Signal): Promise<void> {
  if (interrupted) return; // a second Ctrl-C while cleaning up: let the first finish
  interrupted = true;
  console.error(`\n${signal}: cleaning up test processes and namespaces...`);
  const all = [...cleanups].reverse();
  cleanups.clear();
  const work = (async () => {
    for (const fn of all) {
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  })();
  await Promise.race([work, sleep(SIGNAL_CLEANUP_BOUND_MS)]);
  Deno.exit(signal === "SIGINT" ? 130 : 143);
}

const sigint = () => void onSignal("SIGINT");
const sigterm = () => void onSignal("SIGTERM");

/**
 * Registers `fn` to run if the process is interrupted (SIGINT/SIGTERM) before
 * the returned function is called. The listeners exist only while something is
 * registered, so Deno's default signal behaviour is back once all is clean.
 */
export function registerCleanup(fn: Cleanup): () => void {
  cleanups.add(fn);
  if (!signalsInstalled) {
    Deno.addSignalListener("SIGINT", sigint);
    Deno.addSignalListener("SIGTERM", sigterm);
    signalsInstalled = true;
  }
  return () => {
    cleanups.delete(fn);
    if (cleanups.size === 0 && signalsInstalled && !interrupted) {
      Deno.removeSignalListener("SIGINT", sigint);
      Deno.removeSignalListener("SIGTERM", sigterm);
      signalsInstalled = false;
    }
  };
}

// ---------------------------------------------------------------------------
// Reaper: cleanup that survives our own death

/** Environment variable naming the pid of the run that spawned a process, so orphans can be found. */
export const OWNER_ENV = "VDE_TEST_OWNER";
/** Prefix of this run's namespaces and temp dirs: `vdet<id>x` (then a lab number and `-`; the id: run_id.ts). */
export const RUN_PREFIX = `vdet${RUN_ID}x`;
/** Prefix of this run's root-namespace interface names (IFNAMSIZ leaves room for little): `vt<id36>i`. */
export const ROOT_IF_PREFIX = `vt${RUN_ID.toString(36)}i`;
/** Prefix of a run's test user's name (student.ts): `vderl<id>`, one a run at a time. */
export const STUDENT_PREFIX = "vderl";
/** This run's test user's name. */
export const RUN_STUDENT = `${STUDENT_PREFIX}${RUN_ID}`;

// Waits for the run's pid to vanish, then removes what the run still owned:
// processes tagged with OWNER_ENV, its test user and the user's processes
// (which run with a login's environment, untagged), namespaces and
// interfaces with its prefix, its temp dirs. Signal listeners cannot cover
// SIGKILL, nor SIGINT under `deno test` (its runner exits at once without
// calling them).
const REAPER_SCRIPT = `
pid=$1; nsp=$2; ifp=$3; tmp=$4; user=$5
# Not kill -0 alone: a run that died unreaped (its parent, a container's pid 1, does not wait) is a
# zombie, which takes signals; its state follows the last ")" of /proc/PID/stat.
runs() { s=$(cat /proc/"$pid"/stat 2>/dev/null) || return 1; s=\${s##*) }; [ "\${s%% *}" != Z ]; }
while runs; do sleep 1; done
for e in /proc/[0-9]*/environ; do
  if tr '\\0' '\\n' < "$e" 2>/dev/null | grep -qx "${OWNER_ENV}=$pid"; then
    p=\${e#/proc/}; kill -9 "\${p%/environ}" 2>/dev/null
  fi
done
# userdel refuses a user whose processes run: killed first, waited for (bounded).
if getent passwd "$user" >/dev/null; then
  n=0
  while pkill -KILL -u "$user" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
  userdel "$user" 2>/dev/null
fi
for ns in /run/netns/"$nsp"*; do
  [ -e "$ns" ] || continue
  n=\${ns##*/}
  for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  ip netns del "$n" 2>/dev/null
done
for i in $(ip -o link show 2>/dev/null | sed -n "s/^[0-9]*: \\($ifp[0-9a-z]*\\)[@:].*/\\1/p"); do
  ip link del "$i" 2>/dev/null
done
rm -rf "$tmp"/"$nsp"*
`;

let reaperStarted = false;

/**
 * Starts (once per process) a detached watcher that cleans up after this run
 * if it dies without tearing down. Called by every spawn; cheap when idle.
 */
export function ensureReaper(): void {
  if (reaperStarted) return;
  reaperStarted = true;
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const args = [
    "sh",
    "-c",
    REAPER_SCRIPT,
    "vde-test-reaper",
    String(Deno.pid),
    RUN_PREFIX,
    ROOT_IF_PREFIX,
    tmp,
    RUN_STUDENT,
  ];
  try {
    // setsid: a Ctrl-C for our process group must not kill the watcher too.
    const child = new Deno.Command("setsid", { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
    child.unref(); // never keeps this process alive
    child.status.catch(() => {});
  } catch {
    // No setsid: signal listeners and the next run's sweep still clean up.
  }
}

// ---------------------------------------------------------------------------
// Small utilities

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options for {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Poll period; default 25 ms. */
  intervalMs?: number;
  /** What we are waiting for, for the timeout message. */
  what: string;
}

/**
 * Polls `probe` until it returns something other than undefined/null/false and
 * returns that value; throws after `timeoutMs`. A probe that throws aborts the
 * wait at once (use that for "the process died, stop waiting").
 */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 25;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`);
    }
    await sleep(interval);
  }
}

/** Whether `path` exists (and, with `socket`, is a socket). Never throws. */
export async function pathExists(path: string, socket = false): Promise<boolean> {
  try {
    const info = await Deno.lstat(path);
    return socket ? info.isSocket === true : true;
  } catch {
    return false;
  }
}

/** Waits until `path` exists (as a socket when `socket` is set), bounded by `timeoutMs`. */
export async function waitForPath(path: string, timeoutMs: number, socket = false): Promise<void> {
  await waitFor(() => pathExists(path, socket), { timeoutMs, what: `${socket ? "socket" : "path"} ${path}` });
}

/** Whether an executable called `name` is on PATH. */
export async function hasCommand(name: string): Promise<boolean> {
  const dirs = (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":");
  for (const dir of dirs) {
    if (dir !== "" && await pathExists(`${dir}/${name}`)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Run to completion

/** Result of {@link run}. */
export interface RunResult {
  code: number;
  success: boolean;
  stdout: string;
  stderr: string;
  /** True when the command was killed for exceeding its time bound. */
  timedOut: boolean;
}

/** Options for {@link run}. */
export interface RunOptions {
  /** Kill the command after this long; default 10 s. */
  timeoutMs?: number;
  /** Throw when the command fails or times out; default true. */
  check?: boolean;
  /** Text written to the command's stdin (stdin is /dev/null otherwise). */
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs `cmd` to completion with a time bound; throws on failure unless `check` is false. */
export async function run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  ensureReaper();
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: opts.input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { ...opts.env, [OWNER_ENV]: String(Deno.pid) },
    cwd: opts.cwd,
  }).spawn();
  // The output is read here, not by child.output(): a background job the command left (a script that
  // failed half way) holds the pipes open, and output() would wait for their EOF past any bound.
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    stdout.stop();
    stderr.stop();
  }, timeoutMs);
  try {
    if (opts.input !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(opts.input)).catch(() => {});
      await writer.close().catch(() => {});
    }
    const status = await child.status;
    const result: RunResult = {
      code: status.code,
      success: status.success && !timedOut,
      stdout: await stdout.text,
      stderr: await stderr.text,
      timedOut,
    };
    if ((opts.check ?? true) && !result.success) {
      const why = timedOut ? `timed out after ${timeoutMs} ms` : `exit ${result.code}`;
      throw new Error(`command failed (${why}): ${cmd.join(" ")}\n${result.stderr.trim()}`);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** A stream read to its end, or until `stop`: its text so far. */
function collect(stream: ReadableStream<Uint8Array>): { text: Promise<string>; stop: () => void } {
  const reader = stream.getReader();
  const text = (async () => {
    const dec = new TextDecoder();
    let out = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        out += dec.decode(value, { stream: true });
      }
    } catch { /* cancelled by stop */ }
    return out + dec.decode();
  })();
  return { text, stop: () => void reader.cancel().catch(() => {}) };
}

// ---------------------------------------------------------------------------
// Background processes

/** Keep at most this much of each output stream, so a chatty child cannot exhaust memory. */
const MAX_CAPTURE = 1 << 20;
/** How long a ManagedProcess's `status` waits, once the child exited, for the rest of its output still in the pipes. */
const DRAIN_GRACE_MS = 2_000;

/** Options for {@link spawnManaged}. */
export interface SpawnOptions {
  /** Label for messages; default the command's first word. */
  name?: string;
  /** "piped" keeps a pipe open (see {@link ManagedProcess.closeStdin}); default "null". */
  stdin?: "null" | "piped";
  env?: Record<string, string>;
  cwd?: string;
  /** Register for SIGINT/SIGTERM cleanup; default true. */
  cleanupOnSignal?: boolean;
}

/**
 * A background child whose stdout and stderr are captured as text, and which
 * is stopped with a bounded wait (SIGTERM, then SIGKILL).
 */
export class ManagedProcess {
  /** Label used in messages. */
  readonly name: string;
  /** The command line. */
  readonly cmd: readonly string[];
  /** Process id. */
  readonly pid: number;
  /**
   * Resolves when the child has exited and its output pipes are read to their end (or DRAIN_GRACE_MS
   * after the exit, if a job it left holds them): `stdout` and `stderr` then hold all it printed.
   */
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #stdout = "";
  #stderr = "";
  #exit: Deno.CommandStatus | null = null;
  /** The child was reaped (its pid may be reused): no signal is sent from then on. */
  #reaped = false;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #listeners = new Set<() => void>();
  #unregister: () => void;
  #drained: Promise<void>;

  constructor(cmd: string[], opts: SpawnOptions = {}) {
    this.cmd = cmd;
    this.name = opts.name ?? cmd[0]!;
    ensureReaper();
    this.#child = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdin: opts.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
      env: { ...opts.env, [OWNER_ENV]: String(Deno.pid) },
      cwd: opts.cwd,
    }).spawn();
    this.pid = this.#child.pid;
    if (opts.stdin === "piped") this.#stdin = this.#child.stdin.getWriter();
    this.#drained = Promise.all([
      this.#pump(this.#child.stdout, (s) => (this.#stdout = cap(this.#stdout + s))),
      this.#pump(this.#child.stderr, (s) => (this.#stderr = cap(this.#stderr + s))),
    ]).then(() => {});
    // The exit is seen before the pipes are read to their end: a child that prints its last line and exits
    // at once (a refused cable client) has that line still in the pipe when its status comes in, the more
    // so on a loaded machine. So `status` (and `exitStatus`) wait for the pipes, bounded: a job the child
    // left may hold them open for good.
    this.status = this.#child.status.then(async (s) => {
      this.#reaped = true;
      await atMost(this.#drained, DRAIN_GRACE_MS);
      this.#exit = s;
      this.#notify();
      return s;
    });
    this.#unregister = (opts.cleanupOnSignal ?? true)
      ? registerCleanup(() => this.stop({ timeoutMs: 2000 }).then(() => {}))
      : () => {};
    this.status.finally(() => this.#unregister());
  }

  async #pump(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) {
        add(dec.decode(chunk, { stream: true }));
        this.#notify();
      }
    } catch { /* the stream ends with the child */ }
  }

  #notify(): void {
    for (const fn of [...this.#listeners]) fn();
  }

  /** Captured standard output so far (the tail, if very long). */
  get stdout(): string {
    return this.#stdout;
  }

  /** Captured standard error so far (the tail, if very long). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Exit status once exited, else null. */
  get exitStatus(): Deno.CommandStatus | null {
    return this.#exit;
  }

  /**
   * Waits until captured output (stdout, or stderr with `stream`) matches `re`;
   * returns the match. Fails early if the child exits first (its output read
   * to the end, as `status` has it).
   */
  waitForOutput(
    re: RegExp,
    timeoutMs: number,
    stream: "stdout" | "stderr" = "stdout",
  ): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = (stream === "stdout" ? this.#stdout : this.#stderr).match(re);
        if (m) return done(() => resolve(m));
        if (this.#exit === null) return;
        done(() =>
          reject(
            new Error(
              `${this.name} exited (${
                describeStatus(this.#exit)
              }) before printing ${re}\n${this.#stderr.trim()}`,
            ),
          )
        );
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(
              new Error(
                `timed out after ${timeoutMs} ms waiting for ${this.name} to print ${re}\n${this.#stderr.trim()}`,
              ),
            )
          ),
        timeoutMs,
      );
      let finished = false;
      const done = (fn: () => void) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.#listeners.delete(check);
        fn();
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Sends `signal` if the child still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#reaped) return;
    try {
      this.#child.kill(signal);
    } catch { /* raced with exit */ }
  }

  /** Closes the stdin pipe (EOF for the child), if one was requested. */
  async closeStdin(): Promise<void> {
    const w = this.#stdin;
    this.#stdin = null;
    if (w) await w.close().catch(() => {});
  }

  /** Writes text to the child's stdin pipe. */
  async write(text: string): Promise<void> {
    if (!this.#stdin) throw new Error(`${this.name}: stdin is not piped`);
    await this.#stdin.write(new TextEncoder().encode(text));
  }

  /**
   * Stops the child: `signal` (default SIGTERM), then SIGKILL if it has not
   * exited within `timeoutMs` (default 3 s). Always closes stdin and waits for
   * the output pumps, so no resource outlives the call.
   */
  async stop(opts: { signal?: Deno.Signal; timeoutMs?: number } = {}): Promise<Deno.CommandStatus> {
    this.kill(opts.signal ?? "SIGTERM");
    const exited = await Promise.race([
      this.status.then(() => true),
      sleep(opts.timeoutMs ?? 3000).then(() => false),
    ]);
    if (!exited) this.kill("SIGKILL");
    const status = await this.status;
    await this.closeStdin();
    await this.#drained;
    return status;
  }
}

/** Spawns `cmd` in the background with captured output and cleanup on SIGINT/SIGTERM. */
export function spawnManaged(cmd: string[], opts: SpawnOptions = {}): ManagedProcess {
  return new ManagedProcess(cmd, opts);
}

/** "exit 1" or "signal SIGKILL", for messages. */
export function describeStatus(s: Deno.CommandStatus | null): string {
  if (s === null) return "running";
  return s.signal ? `signal ${s.signal}` : `exit ${s.code}`;
}

/** Waits for `p`, or `ms`, whichever comes first; the timer is cleared either way. */
async function atMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function cap(s: string): string {
  return s.length > MAX_CAPTURE ? s.slice(s.length - MAX_CAPTURE) : s;
}

// ---------------------------------------------------------------------------
// Capabilities

/** null when running as root, else why not. */
export function hasRoot(): string | null {
  const uid = Deno.uid();
  return uid === 0 ? null : `needs root (running as uid ${uid})`;
}

/**
 * Decides what a test does about a missing capability (`reason` non-null):
 * in CI it throws, so the test fails; elsewhere it prints the reason and
 * returns true, and the test should return at once. Returns false when the
 * capability is there.
 */
export function skipUnless(t: Deno.TestContext, reason: string | null): boolean {
  if (reason === null) return false;
  if (isCI()) throw new Error(`${t.name}: cannot run in CI: ${reason}`);
  console.log(`SKIP ${t.name}: ${reason}`);
  return true;
}

/**
 * A command prefix that runs the rest as root without the capabilities that
 * override file permissions: root then meets a socket's or directory's mode
 * as any other user would.
 */
export const AS_OTHER_USER = [
  "setpriv",
  "--bounding-set=-dac_override,-dac_read_search",
  "--inh-caps=-dac_override,-dac_read_search",
];

/** A command prefix that runs the rest as nobody (uid and gid 65534, no groups): another user, none to create. */
export const AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

/** Debian's nogroup: a group the tests may give a switch's sockets to, no user's own. */
export const NOGROUP = 65534;

/** A command prefix running as uid 12345, in nogroup alone: neither root nor a switch's owner. */
export const AS_NOGROUP_MEMBER = ["setpriv", "--reuid=12345", "--regid=12345", `--groups=${NOGROUP}`];

/** {@link skipUnless} for root. Usage: `if (skipUnlessRoot(t)) return;` */
export function skipUnlessRoot(t: Deno.TestContext): boolean {
  return skipUnless(t, hasRoot());
}

/**
 * Skips as `skipUnless` does when one of `commands` (a Debian peer's executable, mapped to its package) is
 * not on PATH: on a fresh machine `deno task test` says what to install rather than failing with NotFound.
 */
export async function skipWithout(t: Deno.TestContext, commands: Record<string, string>): Promise<boolean> {
  for (const [command, pkg] of Object.entries(commands)) {
    if (!(await hasCommand(command))) return skipUnless(t, `needs ${command} (Debian package ${pkg})`);
  }
  return false;
}

/** Pids of processes whose command line mentions `text` (a test's unique directory): what a test must not leave. */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(text)) pids.push(Number(e.name));
    } catch { /* exited */ }
  }
  return pids;
}
