/**
 * Start and stop switches for interop tests and the benchmark: Debian's C
 * `vde_switch` and ours, both serving a socket directory, both stopped with a
 * bounded wait.
 *
 * "Ours" is {@link VDE_CLI}` switch --sock DIR` unless the
 * environment variable VDE_OURS_CMD says otherwise (see {@link ourSwitchCommand}),
 * so the same tests can run against any implementation, including
 * `VDE_OURS_CMD=vde_switch` to check the harness itself.
 */
import { fileURLToPath } from "node:url";
import {
  describeStatus,
  type ManagedProcess,
  pathExists,
  run,
  type RunResult,
  spawnManaged,
  waitFor,
} from "./processes.ts";
import { DENO_RUN } from "../../src/cli/v8_flags.ts";
import { boundSockets, holderOf } from "../../src/os/socket_owner.ts";

/** Repository root (two levels above this file). */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/**
 * `vde` as the tests run it: `deno run -A --v8-flags=... --quiet <repo>/src/cli/vde.ts`, run as a user's
 * `vde` is (`deno task vde`, `deno task install`; src/cli/v8_flags.ts), so what the tests pin is the
 * program users run, with its V8 flags. Not mod.ts, which runs the same command line but only once Deno
 * has loaded the whole library (a module's static graph loads before any of it runs): under load a
 * SIGINT a second after the start was lost there, where vde.ts listens from its first line
 * (early_sigint.ts).
 */
export const VDE_CLI: readonly string[] = [
  Deno.execPath(),
  ...DENO_RUN,
  "--quiet",
  `${REPO_ROOT}/src/cli/vde.ts`,
];

/** Which implementation a handle runs. */
export type SwitchKind = "c" | "ours";

/** Options shared by both starters. */
export interface SwitchOptions {
  /** Number of ports (`-n N` / `--ports N`); the implementation's default when absent. */
  ports?: number;
  /** Hub mode (`-x` / `--hub`). */
  hub?: boolean;
  /** Extra arguments appended to the command line. */
  extraArgs?: string[];
  /** Bound for DIR/ctl to appear; default 5 s for C, 20 s for ours (Deno start-up). */
  readyTimeoutMs?: number;
  /**
   * Minimum open-file limit the switch needs (e.g. 1000 ports need > 2000 fds).
   * If our own soft limit is lower, the switch is started under `prlimit`.
   */
  nofile?: number;
  /** An open-file limit to start the switch under whatever ours is (a machine short of descriptors). */
  nofileCap?: number;
  /** Words that run the switch's command (`unshare --mount sh -c '...; exec "$@"' sh`): a machine of its own. */
  prefix?: string[];
}

/** A running switch. */
export interface SwitchHandle {
  readonly kind: SwitchKind;
  /** The socket directory (DIR/ctl is the control socket). */
  readonly dir: string;
  readonly pid: number;
  readonly process: ManagedProcess;
  /** Captured standard error so far. */
  stderr(): string;
  /** VmRSS of the switch process in KiB. */
  rssKiB(): Promise<number>;
  /** SIGTERM, bounded wait, SIGKILL; resolves with the exit status. */
  stop(timeoutMs?: number): Promise<Deno.CommandStatus>;
}

/** A command line and the stdin it needs. */
export interface SwitchCommand {
  cmd: string[];
  /** "piped" for implementations that exit on stdin EOF (Debian's vde_switch). */
  stdin: "null" | "piped";
}

/** The Debian `vde_switch` command line for `dir`. */
export function cSwitchCommand(dir: string, opts: SwitchOptions = {}): SwitchCommand {
  const cmd = ["vde_switch", "-s", dir];
  if (opts.ports !== undefined) cmd.push("-n", String(opts.ports));
  if (opts.hub) cmd.push("-x");
  cmd.push(...(opts.extraArgs ?? []));
  // Debian's vde_switch treats stdin as its console and exits on EOF.
  return { cmd, stdin: "piped" };
}

/**
 * Our switch's command line for `dir`.
 *
 * Without VDE_OURS_CMD: {@link VDE_CLI}` switch --sock DIR [--ports N] [--hub]`.
 * With VDE_OURS_CMD (split like a shell would, quotes allowed):
 * - if it contains `{dir}`, the placeholders are filled in: `{dir}`, `{ports}`
 *   (the port count, 32 if none was asked for) and a `{hub}` word that becomes
 *   `-x` or disappears; a requested port count or hub mode without its
 *   placeholder is appended as `-n N` / `-x`;
 * - otherwise it is a prefix and `-s DIR [-n N] [-x]` is appended (the
 *   spelling both vde_switch and our CLI accept).
 * stdin is "null", except "piped" when the program is `vde_switch` (it exits on
 * EOF) or VDE_OURS_STDIN=piped.
 */
export function ourSwitchCommand(
  dir: string,
  opts: SwitchOptions = {},
  env = Deno.env.get("VDE_OURS_CMD"),
): SwitchCommand {
  let cmd: string[];
  if (env === undefined || env.trim() === "") {
    cmd = [...VDE_CLI, "switch", "--sock", dir];
    if (opts.ports !== undefined) cmd.push("--ports", String(opts.ports));
    if (opts.hub) cmd.push("--hub");
  } else {
    const words = splitCommand(env);
    if (words.length === 0) throw new Error("VDE_OURS_CMD is empty");
    if (words.some((w) => w.includes("{dir}"))) {
      const hasPorts = words.some((w) => w.includes("{ports}"));
      const hasHub = words.includes("{hub}");
      cmd = words
        .filter((w) => w !== "{hub}" || opts.hub)
        .map((w) =>
          w === "{hub}" ? "-x" : w.replaceAll("{dir}", dir).replaceAll("{ports}", String(opts.ports ?? 32))
        );
      if (!hasPorts && opts.ports !== undefined) cmd.push("-n", String(opts.ports));
      if (!hasHub && opts.hub) cmd.push("-x");
    } else {
      cmd = [...words, "-s", dir];
      if (opts.ports !== undefined) cmd.push("-n", String(opts.ports));
      if (opts.hub) cmd.push("-x");
    }
  }
  cmd.push(...(opts.extraArgs ?? []));
  const program = cmd[0]!.split("/").pop();
  const piped = program === "vde_switch" || Deno.env.get("VDE_OURS_STDIN") === "piped";
  return { cmd, stdin: piped ? "piped" : "null" };
}

/** Splits a command string into words: whitespace separates, '...' and "..." quote, \ escapes. */
export function splitCommand(s: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unbalanced quote in command: ${s}`);
  if (inWord) words.push(cur);
  return words;
}

/** Starts Debian's `vde_switch` on `dir` (stdin kept open) and waits until DIR/ctl exists. */
export function startCSwitch(dir: string, opts: SwitchOptions = {}): Promise<SwitchHandle> {
  return startSwitch("c", dir, cSwitchCommand(dir, opts), opts.readyTimeoutMs ?? 5000, opts);
}

/** Starts our switch (see {@link ourSwitchCommand}) on `dir` and waits until DIR/ctl exists. */
export function startOurSwitch(dir: string, opts: SwitchOptions = {}): Promise<SwitchHandle> {
  return startSwitch("ours", dir, ourSwitchCommand(dir, opts), opts.readyTimeoutMs ?? 20_000, opts);
}

/** Starts the switch of `kind`. */
export function startSwitchOf(
  kind: SwitchKind,
  dir: string,
  opts: SwitchOptions = {},
): Promise<SwitchHandle> {
  return kind === "c" ? startCSwitch(dir, opts) : startOurSwitch(dir, opts);
}

/**
 * Whether the unix socket bound at `path` listens, read from /proc/net/unix
 * (flag __SO_ACCEPTCON) rather than probed: a connection that closes without
 * a request triggers Debian vde_switch's lost-endpoint bug (spec 9 item 9).
 * A socket not listed at all (another network namespace) counts as ready.
 */
export async function listens(path: string): Promise<boolean> {
  let table: string;
  try {
    table = await Deno.readTextFile("/proc/net/unix");
  } catch {
    return true;
  }
  return listensIn(table, path) ?? true;
}

/**
 * Whether `table` (a /proc/net/unix) has the socket bound at `path` listening; undefined when it lists none
 * there. Our switch binds through the directory it holds, so the kernel names its socket
 * /proc/self/fd/N/NAME: such a row is `path`'s when its process has fd N on `path`'s directory.
 */
export function listensIn(table: string, path: string): boolean | undefined {
  const sockets = boundSockets(table, path);
  const own = sockets.filter((s) => s.heldFd === undefined);
  const held = sockets.filter((s) => s.heldFd !== undefined);
  // A held name's row is this path's only if its holder's fd is this directory (checked through /proc).
  const found = held.length === 0 ? undefined : holderOf(held, path)?.socket;
  const rows = found === undefined ? own : [...own, ...held.filter((s) => s.inode === found.inode)];
  if (rows.length === 0) return undefined;
  return rows.some((s) => s.listening);
}

async function startSwitch(
  kind: SwitchKind,
  dir: string,
  command: SwitchCommand,
  readyTimeoutMs: number,
  { nofile, nofileCap, prefix = [] }: SwitchOptions,
): Promise<SwitchHandle> {
  let cmd = [...prefix, ...command.cmd];
  const limit = nofileCap ?? (nofile !== undefined && (await softNofile()) < nofile ? nofile : undefined);
  if (limit !== undefined) {
    // prlimit execs the switch, so the pid (and its RSS) stays the switch's own.
    cmd = ["prlimit", `--nofile=${limit}:${limit}`, "--", ...cmd];
  }
  const proc = spawnManaged(cmd, { name: `${kind} switch`, stdin: command.stdin });
  const ctl = `${dir}/ctl`;
  const announces = kind === "ours" && !/vde_switch$/.test(command.cmd[0] ?? "");
  try {
    await waitFor(async () => {
      if (proc.exitStatus !== null) {
        throw new Error(
          `${kind} switch exited (${describeStatus(proc.exitStatus)}) before creating ${ctl}: ${
            cmd.join(" ")
          }\n` +
            proc.stderr.trim(),
        );
      }
      if (!(await pathExists(ctl, true))) return false;
      // Our switch says when it is serving (ctl listening, taps attached, pid file
      // written); a ctl file alone may be a stale one or not listening yet.
      if (announces) return proc.stderr.includes("vde switch: serving ");
      // The C switch does not say: its ctl file exists from bind(), before listen().
      return await listens(ctl);
    }, { timeoutMs: readyTimeoutMs, what: `${kind} switch control socket ${ctl}` });
  } catch (err) {
    await proc.stop({ timeoutMs: 1000 });
    if (err instanceof Error && err.message.startsWith("timed out")) {
      throw new Error(`${err.message}\ncommand: ${cmd.join(" ")}\nstderr: ${proc.stderr.trim()}`);
    }
    throw err;
  }
  return {
    kind,
    dir,
    pid: proc.pid,
    process: proc,
    stderr: () => proc.stderr,
    rssKiB: () => vmRssKiB(proc.pid),
    stop: (timeoutMs = 5000) => proc.stop({ timeoutMs }),
  };
}

/** VmRSS of process `pid` in KiB, from /proc/PID/status. */
export async function vmRssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Our soft RLIMIT_NOFILE (children inherit it). */
async function softNofile(): Promise<number> {
  const limits = await Deno.readTextFile("/proc/self/limits");
  const m = limits.match(/^Max open files\s+(\S+)/m);
  if (!m || m[1] === "unlimited") return Number.MAX_SAFE_INTEGER;
  return Number(m[1]);
}

/** Our `vde switch --sock DIR --http 0` as a background process (its log names the web view's port). */
export function spawnHttpSwitch(dir: string): ManagedProcess {
  return spawnManaged([...VDE_CLI, "switch", "--sock", dir, "--http", "0"]);
}

/**
 * Runs console `command` on the management socket `mgmt` of a switch, Debian's or ours, through Debian's
 * unixcmd (vde2), whose exit status is 255 whatever the answer: read its output.
 */
export function unixcmd(mgmt: string, command: string): Promise<RunResult> {
  return run(["unixcmd", "-f", "/etc/vde2/vdecmd", "-s", mgmt, command], { check: false, timeoutMs: 10_000 });
}

/** The blocks of `port/print` on management socket `mgmt`, one a port (`Port NNNN ...` and its lines). */
export async function portBlocks(mgmt: string): Promise<string[]> {
  const r = await unixcmd(mgmt, "port/print");
  return r.stdout.replaceAll("\0", "").split(/^(?=Port )/m).filter((b) => b.startsWith("Port "));
}

/** Waits until the switch's console at `mgmt` answers (each switch listens on its ctl before that). */
export async function waitForConsole(mgmt: string): Promise<void> {
  await waitFor(async () => (await unixcmd(mgmt, "help")).stdout.includes("port/print"), {
    timeoutMs: 20_000,
    what: `the switch's console at ${mgmt}`,
  });
}
