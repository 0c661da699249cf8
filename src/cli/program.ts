/**
 * The life of a long-running command (`vde switch`, `vde wirefilter`), in
 * one place: daemon start-up, log file, stop signals, the pid file, and
 * the order things are undone.
 *
 * A program's `main` builds its parts and hands each one's cleanup to
 * `defer` (onto an AsyncDisposableStack) as soon as the part exists; when it
 * serves it calls `ready()` (pid file written, a waiting `--daemon` parent
 * released), then awaits `stopped`. Whether `main` returns or throws
 * half-way through start-up, the stack undoes exactly what was built, in
 * reverse order. Signals are listened for before anything exists on disk,
 * so a signal during start-up still cleans up.
 */
import type { Command } from "commander";
import { poller } from "../io/poller.ts";
import { discardStderrLog, log, setLateWarnings, setLogFile, setSyslog } from "../log.ts";
import { SyslogSender } from "../os/syslog.ts";
import { daemonize, isDaemonChild, reportReady, reportStoppedBeforeServing } from "./daemon.ts";
import { UsageError } from "./main.ts";
import { STOP_SIGNALS, untilSignal } from "./signals.ts";
import { commandLine, mayBeVde, processAlive } from "../os/processes.ts";
import { ownerAndMode } from "../os/users.ts";
import { unwritable } from "../os/unwritable.ts";
import { readSmallFile } from "../os/owned_file.ts";
import { printable } from "../console/reply_format.ts";

/** Most a pid file holds: a pid and a newline, with room for blanks; a longer one names no pid. */
const MAX_PIDFILE_BYTES = 64;

/** What every long-running command shares on its command line. */
export interface ProgramOptions {
  /** Log prefix and the noun of messages ("vde switch"). */
  component: string;
  /** What a failed daemon start calls the program ("switch", "filter"). */
  noun: string;
  daemon?: boolean;
  pidfile?: string;
  logfile?: string;
  /** A daemon's parent says nothing once it serves (slirpvde's -q -d): no line where or how to stop it. */
  quiet?: boolean;
  /** Stop the shared poller at exit (false where the program never started it). */
  stopPoller?: boolean;
}

/**
 * The options of program `component` (its `noun` in a failed daemon start's
 * words) from its command's `--daemon`, `--pidfile` and `--logfile`.
 */
export function programOf(
  component: string,
  noun: string,
  flags: { daemon?: boolean; pidfile?: string; logfile?: string },
  stopPoller?: boolean,
): ProgramOptions {
  return {
    component,
    noun,
    daemon: flags.daemon,
    pidfile: flags.pidfile,
    logfile: flags.logfile,
    stopPoller,
  };
}

/**
 * `--daemon`, `--pidfile` and `--logfile` on command `c`, as every program
 * that takes them has them; `daemon` says when a `--daemon` start returns.
 */
export function withDaemonOptions(c: Command, daemon: string): Command {
  return c.option("-d, --daemon", daemon)
    .option("-p, --pidfile <file>", "write the pid to FILE (removed at exit)")
    .option("--logfile <file>", "append log lines to FILE (a --daemon logs nothing without it)");
}

/** What `main` gets: the stack its parts go on, and the stop request. */
export interface Program {
  /**
   * Adds the cleanup of a part just built; cleanups run in reverse order
   * when the program ends or fails to start, and one that throws does not
   * stop the others.
   */
  defer(cleanup: () => unknown): void;
  /** Resolves with the reason of the first stop (a signal's name, `shutdown`, ...). */
  readonly stopped: Promise<string>;
  stop(reason: string): void;
  /** True in the background copy of a `--daemon` start: no console there. */
  readonly inBackground: boolean;
  /**
   * Marks the program as serving: writes the pid file, logs `serving` (where
   * it serves, how to reach its console) and releases a waiting `--daemon`
   * parent, which prints that line with the pid that stops it.
   */
  ready(serving?: string): void;
}

/**
 * Writes a pid file the way vde_switch does, except that a stale one (its
 * pid gone, or reused by a process that is no vde program: what `kill -9`
 * leaves for a supervisor's restart) is replaced, and `say` is told so. A
 * file naming a live vde process is refused.
 *
 * @throws UsageError naming the file
 */
export function writePidfile(path: string, say: (message: string) => void = () => {}): void {
  for (let attempt = 0;; attempt++) {
    try {
      // 644 whatever the umask: a pid file others may write (umask 000) aims a supervisor's kill.
      Deno.writeTextFileSync(path, `${Deno.pid}\n`, { createNew: true, mode: 0o644 });
      return;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) {
        throw new UsageError(printable(`cannot write pid file ${path}${unwritable(path, "--pidfile", err)}`));
      }
    }
    const stale = attempt === 0 ? whyPidfileIsStale(path) : null;
    if (typeof stale !== "string") {
      throw new UsageError(
        `pid file ${path} ${stale?.refusal ?? "already exists (another program wrote it meanwhile)"}`,
      );
    }
    try {
      Deno.removeSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        // Another user's, in /tmp: the sticky bit lets only its owner remove it, and no retry will.
        const whose = ownerAndMode(path);
        throw new UsageError(
          `cannot replace the stale pid file ${path}${whose === "" ? "" : ` (${whose})`}: ${
            (err as Error).message
          }; give a pid file of your own`,
        );
      }
    }
    say(`pid file ${path} was stale (${stale}): replaced`);
  }
}

/** Why an existing pid file may be replaced, or why it may not (`refusal`). */
function whyPidfileIsStale(path: string): string | { refusal: string } {
  // Read only as a small regular file, never through a symlink and never blocking: a user's FIFO at
  // root's `--pidfile /tmp/x.pid` blocked the read (and the switch, deaf to signals then) for good, and a
  // link to /dev/zero read without end.
  const file = readSmallFile(path, MAX_PIDFILE_BYTES, true);
  if (typeof file === "string" && file.startsWith("it ")) {
    return { refusal: `already exists and ${file.slice(3)}: give a pid file of your own` };
  }
  const pid = typeof file === "string" ? NaN : Number(file.text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    return { refusal: "already exists and names no pid (remove it if no program runs with it)" };
  }
  if (pid === Deno.pid) return `pid ${pid} is this process, which had not written it`;
  if (!processAlive(pid)) return `pid ${pid} is not running`;
  if (!mayBeVde(pid)) {
    const args = commandLine(pid) ?? [];
    return `pid ${pid} runs ${JSON.stringify(args.join(" ").slice(0, 60))}, no vde program`;
  }
  return { refusal: `already exists and names pid ${pid}, which is running (another switch?)` };
}

/** Names of this process's stdin, which a `--daemon` start's background copy has as /dev/null. */
const STDIN_NAMES = ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"];

/**
 * Refuses a startup script read from stdin (`echo hub on | vde switch -d --rc /dev/stdin`) for a
 * `--daemon` start: its background copy's stdin is /dev/null, so the script was read as empty and
 * nothing said so.
 *
 * @throws UsageError naming the option and what to give instead
 */
export function refuseStdinScriptInBackground(
  option: string,
  path: string | undefined,
  daemon?: boolean,
): void {
  if (!daemon || path === undefined || !STDIN_NAMES.includes(path)) return;
  throw new UsageError(
    `${option} ${path} with --daemon: in the background stdin is /dev/null, so the script would be empty; ` +
      "give a file, or " + option + " <(COMMANDS)",
  );
}

/** Runs `main` as a program: in the background for `--daemon`, cleaned up whatever happens. */
export async function runProgram(o: ProgramOptions, main: (p: Program) => Promise<void>): Promise<void> {
  if (o.logfile !== undefined) {
    try {
      setLogFile(o.logfile);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (o.daemon && !isDaemonChild()) {
    await daemonize(o.noun);
    return;
  }
  const inBackground = o.daemon === true && isDaemonChild();
  // A daemon with a --logfile says its start's warnings (an --rc file's failing lines) in that file, and to
  // the command that started it too, as a daemon without one does: on the stderr its parent prints until the
  // ready mark, so a start that fails after them (a --tap refused) shows them above its reason too.
  if (inBackground && o.logfile !== undefined) {
    setLateWarnings((line) => {
      try {
        Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
      } catch { /* the parent gave up waiting */ }
    });
  }
  await using resources = new AsyncDisposableStack();
  if (o.stopPoller !== false) resources.defer(() => poller().stop().catch(() => {}));
  const { stopped, stop, remove } = untilSignal();
  const defer = (cleanup: () => unknown) =>
    resources.defer(async () => {
      try {
        await cleanup();
      } catch { /* keep cleaning up */ }
    });
  // The pid file goes last: once it is gone, everything else is.
  let pidfileWritten = false;
  // A failure after ready ends a program that served (a cable refused for a key rotated on its listener):
  // its log says it ended, not that it could not start.
  let served = false;
  // A stop signal before it serves (a join held by its switch) is said by the parent too: with a log file
  // the copy's stop line is there alone, and the parent would say only that the copy ended "with status 0".
  if (inBackground) {
    stopped.then((reason) => {
      const signal = STOP_SIGNALS.find((s) => s === reason);
      if (!served && signal !== undefined) reportStoppedBeforeServing(signal, o.logfile);
    });
  }
  /** The daemon's parent was told it runs: from then on no one reads its stderr. */
  let detached = false;
  defer(() => pidfileWritten && Deno.removeSync(o.pidfile!));
  defer(remove);
  const program: Program = {
    defer,
    stopped,
    stop,
    inBackground,
    ready: (serving?: string) => {
      // Said where the user looks: a daemon's parent prints what it is handed, its log file keeps it.
      served = true;
      const toParent: string[] = [];
      const say = (m: string) => {
        log(o.component, m);
        if (inBackground && o.logfile !== undefined) toParent.push(`${o.component}: ${m}`);
      };
      if (o.pidfile !== undefined) {
        writePidfile(o.pidfile, say);
        pidfileWritten = true;
      }
      if (!inBackground) {
        if (serving !== undefined) log(o.component, serving);
        return;
      }
      // A daemon that forks tells where it serves and how to stop it; scripts read nothing on stdout.
      if (serving !== undefined && o.logfile !== undefined) log(o.component, serving);
      const pidfile = o.pidfile === undefined ? "" : ` (pid file ${o.pidfile})`;
      if (!o.quiet) {
        toParent.push(
          `${o.component}: ${serving === undefined ? "" : `${serving}; `}` +
            `in the background as pid ${Deno.pid}${pidfile}; stop: kill ${Deno.pid}`,
        );
      }
      reportReady(toParent.map((line) => `${line}\n`).join(""));
      detached = true;
      if (o.logfile !== undefined) setLateWarnings(null);
      // No stderr from here on: the lines go to syslog, as vde_switch's daemon's (journalctl -t vde); with a
      // --logfile, those it cannot take (its disk full), which went to a stderr that is /dev/null now.
      discardStderrLog();
      const syslog = new SyslogSender("vde");
      setSyslog((severity, line) => syslog.send(severity, line.replace(/^vde /, "")));
      if (o.logfile === undefined && serving !== undefined) log(o.component, serving);
    },
  };
  try {
    await main(program);
  } catch (err) {
    // Until the parent was told it runs, the parent shows the error (a pid file that cannot be written
    // included), and the log file keeps it for later; after, only the log file or syslog is there to say it.
    if (inBackground && (o.logfile !== undefined || detached)) {
      // Not to the parent too: it prints the error line the copy ends with.
      if (!detached) setLateWarnings(null);
      log(o.component, `${served ? "ended" : "cannot start"}: ${(err as Error).message}`, "err");
    }
    throw err;
  }
}
