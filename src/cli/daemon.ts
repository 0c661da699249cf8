/**
 * `--daemon` without fork(): the process starts a detached copy of itself
 * with the same command line (the runtime's flags too) and waits for the
 * copy to say so itself. The copy's stderr is a pipe to the parent:
 * everything it logs while starting arrives there, and once it serves it
 * writes a ready mark and points its stderr at /dev/null. End of the pipe
 * without the mark means the copy failed: the parent prints the copy's own
 * lines (its error last) and exits with the copy's status, so `vde switch
 * -d` says why, as a foreground start would (status 0 where it marked
 * its end as one it was told to make: a wirefilter rc's `shutdown`; a
 * copy that a stop signal reached before it served marks that too, so the
 * parent names the signal and the log file where the copy's stop line went). A copy that serves has its start-up lines (the rc script's
 * failures, say) printed too: they would otherwise reach no one without a
 * log file. Readiness is never guessed from a socket that answers: an
 * older program on the same path would answer too. A stop signal (Ctrl-C)
 * while the copy starts is passed on to it, so it stops rather than serves,
 * and again once it reports ready, should the copy have lost the first: a
 * process keeps an ignored SIGINT until it listens, and a copy run from an
 * entry that listens late (mod.ts loads the library first) could.
 */
import { C, cstr, libc } from "../../ffi/libc.ts";
import { ExitStatus } from "./main.ts";
import { onSignals, STOP_SIGNALS } from "./signals.ts";
import { commandLine } from "../os/processes.ts";
import { DENO_RUN } from "./v8_flags.ts";

const CHILD_MARK = "VDE_DAEMON_CHILD";
/** The terminal the parent was started on (its stderr's), for a late warning of the copy's (`openStartingTerminal`). */
const TERMINAL_MARK = "VDE_DAEMON_TERMINAL";
/** Written by the copy on its stderr once it serves; no log line looks like it. */
const READY_MARK = "\u0000vde ready\n";
/** Written by the copy on its stderr as it ends, as it was told, without serving (reportEndedAsTold). */
const ENDED_MARK = "\u0000vde ended as told\n";
/**
 * Written by the copy on its stderr when a stop signal reaches it before it serves (reportStoppedBeforeServing):
 * `[signal, log file that keeps its stop line ("" for none)]` as JSON, a newline (JSON, not a tab between the
 * two: a log file's name may hold a tab or a newline, which would end the mark early).
 */
const STOPPED_MARK = "\u0000vde stopped: ";
/** How long the copy may take to start (slow under load, never forever). */
const START_TIMEOUT_MS = 60_000;
/** How long a copy stopped for taking too long may spend undoing its start. */
const CLEANUP_TIMEOUT_MS = 30_000;

/**
 * The background copy did not report in time and was stopped; `killed` when
 * it did not end on SIGTERM either and got SIGKILL, so it undid nothing.
 */
export class StartTimeout extends ExitStatus {
  constructor(message: string, readonly killed: boolean) {
    super(1, message);
  }
}

/** A stop signal reached the copy as it reported that it serves: it stopped, nothing is up. */
export class StoppedAtReady extends ExitStatus {
  constructor(message: string) {
    super(1, message);
  }
}

/**
 * Whether this process is the background copy, read once: the mark is then
 * taken out of the environment, so what the copy runs (a lab host's command,
 * a cmd:// cable) is not taken for a copy too: a `vde switch -d` there would
 * stay in the foreground and print the ready mark.
 */
const IS_DAEMON_CHILD = (() => {
  const marked = Deno.env.get(CHILD_MARK) === "1";
  if (marked) Deno.env.delete(CHILD_MARK);
  return marked;
})();

/**
 * The terminal the parent's stderr was, in the copy (read once and taken out of the environment, as the
 * child mark is); null when it was none. Only a terminal device's name is taken: the copy writes to it.
 */
const STARTING_TERMINAL = (() => {
  const path = Deno.env.get(TERMINAL_MARK);
  Deno.env.delete(TERMINAL_MARK);
  return IS_DAEMON_CHILD && path !== undefined && /^\/dev\/(pts\/\d+|tty[A-Za-z0-9]*)$/.test(path)
    ? path
    : null;
})();

/** True in the background copy started by `daemonize`. */
export function isDaemonChild(): boolean {
  return IS_DAEMON_CHILD;
}

/**
 * The command line that runs this program again, as it was started: this
 * process's own argv (/proc/self/cmdline) after the executable, so the
 * runtime's flags (`deno run --v8-flags=... --location=... -A mod.ts`, a
 * bundle run with flags) reach the copy too; a compiled binary adds its
 * baked-in flags itself. Where that argv cannot be read or does not end in
 * this program's arguments, the script (or binary) is run as vde is
 * (-A and its V8 flags, v8_flags.ts).
 */
export function selfCommand(): { cmd: string; args: string[] } {
  const exe = Deno.execPath();
  const own = commandLine(Deno.pid)?.slice(1);
  if (own !== undefined && endsWith(own, Deno.args)) return { cmd: exe, args: own };
  const isDenoRuntime = /(^|\/)deno$/.test(exe) && Deno.mainModule.startsWith("file:");
  const args = isDenoRuntime
    ? [...DENO_RUN, new URL(Deno.mainModule).pathname, ...Deno.args]
    : [...Deno.args];
  return { cmd: exe, args };
}

function endsWith(all: readonly string[], tail: readonly string[]): boolean {
  if (tail.length > all.length) return false;
  const at = all.length - tail.length;
  return tail.every((a, i) => all[at + i] === a);
}

/**
 * Starts the background copy and returns once it reports that it serves.
 *
 * @throws ExitStatus when the copy exits first (its lines already printed)
 *   or does not report within `startTimeoutMs` (then it is stopped)
 */
export async function daemonize(
  what: string,
  startTimeoutMs = START_TIMEOUT_MS,
  cleanupTimeoutMs = CLEANUP_TIMEOUT_MS,
): Promise<void> {
  const { cmd, args } = selfCommand();
  const terminal = stderrTerminal();
  const child = new Deno.Command(cmd, {
    args,
    env: { [CHILD_MARK]: "1", ...(terminal === null ? {} : { [TERMINAL_MARK]: terminal }) },
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), startTimeoutMs)));
  // Ctrl-C while the copy starts is meant for it: it stops (a lab undoes what it made) and says so
  // here, rather than coming up behind a prompt that looked cancelled.
  let interrupted: Deno.Signal | undefined;
  const signalChild = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* exited meanwhile */ }
  };
  const stopForwarding = onSignals((signal) => {
    interrupted ??= signal;
    signalChild(signal);
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), timeout]);
      if (next === "timeout") {
        const killed = await terminate(child, cleanupTimeoutMs);
        printLines(text);
        throw new StartTimeout(
          `the background ${what} did not start within ${startTimeoutMs / 1000} s`,
          killed,
        );
      }
      if (next.done) break;
      text += decoder.decode(next.value, { stream: true });
      const mark = text.indexOf(READY_MARK);
      if (mark >= 0) {
        // What the copy logged while starting (a startup script's failing lines) is what a
        // foreground start shows before it serves; after this the copy has no terminal.
        const before = text.slice(0, mark);
        // A stop signal from someone else reached the copy just before it served (it marked that, then
        // still reported ready): it is stopping, so it is not up, and the mark is no line to print.
        const stop = takeStoppedMark(before);
        printLines(stop?.rest ?? before);
        interrupted ??= stop?.signal;
        if (interrupted !== undefined) {
          // Ctrl-C came before the mark was read: the copy stops (its stderr is /dev/null by now, its
          // lines up to the mark are printed above), so nothing stays up. It is told again: one that lost
          // the first (an ignored SIGINT, before it listened: early_sigint.ts) came up as if never told;
          // one that had it takes the second as a stop signal again, which only hurries it.
          signalChild(interrupted);
          reader.cancel().catch(() => {});
          await child.status;
          throw new StoppedAtReady(`${interrupted}: the background ${what} was stopped`);
        }
        reader.cancel().catch(() => {});
        child.unref();
        return;
      }
    }
    const status = await child.status;
    // A copy that said it ends as told before serving (a wirefilter rc's `shutdown`, which Debian's
    // wirefilter exits 0 at) did not fail; any other end before the ready mark did (a capture whose switch
    // went, a Ctrl-C), whatever its status.
    const asTold = text.includes(ENDED_MARK);
    if (asTold) text = text.replace(ENDED_MARK, "");
    const stop = takeStoppedMark(text);
    if (stop !== null) text = stop.rest;
    printLines(text);
    if (asTold && status.code === 0 && interrupted === undefined) throw new ExitStatus(0);
    // The copy printed its own error line; add one only if it said nothing, or if its stop line went to its
    // log file alone (a copy stopped by someone else than this parent would otherwise end "with status 0").
    const signal = interrupted ?? stop?.signal;
    const stoppedLine = signal === undefined
      ? undefined
      : `${signal}: the background ${what} was stopped before it served` +
        (stop?.log ? `; see ${stop.log}` : "");
    throw new ExitStatus(
      status.code === 0 ? 1 : status.code,
      stop?.log && stoppedLine !== undefined
        ? stoppedLine
        : text.trim() !== ""
        ? undefined
        : stoppedLine ?? `the background ${what} exited with status ${status.code} before serving`,
    );
  } finally {
    stopForwarding();
    clearTimeout(timer);
  }
}

/**
 * Stops a copy that is taking too long: SIGTERM first, so it undoes what it
 * made (a lab's namespaces), SIGKILL if it has not ended after a while.
 * True when it took SIGKILL (and so undid nothing).
 */
async function terminate(child: Deno.ChildProcess, graceMs: number): Promise<boolean> {
  const signal = (s: Deno.Signal) => {
    try {
      child.kill(s);
    } catch { /* exited meanwhile */ }
  };
  signal("SIGTERM");
  let killed = false;
  const late = setTimeout(() => {
    killed = true;
    signal("SIGKILL");
  }, graceMs);
  await child.status;
  clearTimeout(late);
  return killed;
}

/** The terminal device this process's stderr is (`/dev/pts/3`), or null when it is none. */
function stderrTerminal(): string | null {
  try {
    return Deno.stderr.isTerminal() ? Deno.readLinkSync("/proc/self/fd/2") : null;
  } catch {
    return null;
  }
}

/**
 * In the background copy, before `reportReady` (while the parent, whose stderr it is, holds it open: a
 * terminal closed after the parent returned could have its name handed to another login's): the terminal
 * its parent was started on, opened for writing (not as the copy's controlling terminal, never blocking it),
 * for a warning that comes moments after the parent returned (slirp.ts: a gateway taken behind a slow
 * cable); null when there is none or it is gone.
 */
export function openStartingTerminal(): { write(line: string): void; close(): void } | null {
  if (STARTING_TERMINAL === null) return null;
  const fd = libc().open(cstr(STARTING_TERMINAL), C.O_WRONLY | C.O_NOCTTY | C.O_NONBLOCK | C.O_CLOEXEC, 0);
  if (fd < 0) return null;
  let open = true;
  return {
    write: (line) => {
      const bytes = new TextEncoder().encode(`${line}\n`);
      // A terminal that is gone or full loses the line: syslog has it.
      if (open) libc().write(fd, bytes, bytes.length);
    },
    close: () => {
      if (open) libc().close(fd);
      open = false;
    },
  };
}

/** Set once the background copy said it serves: its stderr is /dev/null from then on. */
let readyReported = false;

/** Whether this background copy has said it serves (its parent has returned, or is about to). */
export function hasReportedReady(): boolean {
  return readyReported;
}

function printLines(text: string): void {
  if (text !== "") Deno.stderr.writeSync(new TextEncoder().encode(text.endsWith("\n") ? text : `${text}\n`));
}

/** The stop the copy marked (reportStoppedBeforeServing) and `text` without the mark, or null when it marked none. */
function takeStoppedMark(text: string): { signal: Deno.Signal; log: string; rest: string } | null {
  const at = text.indexOf(STOPPED_MARK);
  if (at < 0) return null;
  const end = text.indexOf("\n", at);
  if (end < 0) return null;
  let said: unknown;
  try {
    said = JSON.parse(text.slice(at + STOPPED_MARK.length, end));
  } catch {
    return null;
  }
  if (!Array.isArray(said) || typeof said[1] !== "string") return null;
  // Only a stop signal: the parent may pass it on to the copy (a copy that marked it, then said ready).
  const signal = STOP_SIGNALS.find((s) => s === said[0]);
  if (signal === undefined) return null;
  return { signal, log: said[1], rest: text.slice(0, at) + text.slice(end + 1) };
}

/**
 * In the background copy, a stop signal that came before it serves: the waiting parent says that stop (and
 * where `logfile` keeps the copy's stop line), not that the copy "exited with status 0 before serving".
 */
export function reportStoppedBeforeServing(signal: Deno.Signal, logfile?: string): void {
  if (!isDaemonChild() || readyReported) return;
  try {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`${STOPPED_MARK}${JSON.stringify([signal, logfile ?? ""])}\n`),
    );
  } catch { /* the parent gave up waiting */ }
}

/**
 * In the background copy, ending before it serves as it was told (a wirefilter rc's `shutdown`, where
 * Debian's wirefilter exits 0): the waiting parent exits 0 with the copy's lines, not as a failed start.
 */
export function reportEndedAsTold(): void {
  if (!isDaemonChild()) return;
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(ENDED_MARK));
  } catch { /* the parent gave up waiting */ }
}

/**
 * In the background copy: hands the waiting parent `lines` to print (where
 * the program serves, how to stop it) and says that it serves, then detaches stdout and stderr from it (the parent is about to exit, and
 * a write to its closed pipe would fail).
 */
export function reportReady(lines = ""): void {
  if (!isDaemonChild()) return;
  readyReported = true;
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(lines + READY_MARK));
  } catch { /* the parent gave up waiting */ }
  const devNull = libc().open(cstr("/dev/null"), C.O_RDWR, 0);
  if (devNull < 0) return;
  libc().dup2(devNull, 1);
  libc().dup2(devNull, 2);
  libc().close(devNull);
}
