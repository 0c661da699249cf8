/**
 * Log lines of the long-running commands: to stderr by default, appended to
 * a file for a daemon (`--logfile`), to syslog for a daemon without one (as
 * vde_switch's daemon: `setSyslog`), where it has no stderr (its warnings, for a
 * while after its start returned, to the terminal that started it too: `setLateWarnings`). One
 * line per event, prefixed with the component, as vde_switch prints
 * `vde_switch: <msg>`. While a console owns the terminal it takes the lines
 * (`setLogWriter`), so they appear above the prompt instead of in the middle
 * of the line being typed.
 *
 * A log file moved away (logrotate's default `create`, or `mv` by hand) is
 * reopened by name before the next line, so a rotation needs neither
 * `copytruncate` nor a signal: SIGHUP stops every vde program, and a file held
 * open would otherwise take every later line into `FILE.1` for good.
 */
import { openOutputFile } from "./os/output_file.ts";
import { unwritable } from "./os/unwritable.ts";
import { writeFailure } from "./os/write_failure.ts";
import type { Severity } from "./os/syslog.ts";
import { printable } from "./console/reply_format.ts";

let file: Deno.FsFile | null = null;
/** The log file's name (absolute: a daemon's working directory is not the one it was started in) and mode. */
let filePath = "";
let fileMode = 0o644;
let fileOption = "--logfile";
/** When the name last could not be opened again (ms), and the line that said why into the file held. */
let refusedAt = -Infinity;
let refusal = "";
/** Whether the last write to the log file failed: said once, until a write succeeds again. */
let fileFailed = false;
/** How long a name that could not be opened again is left before the next try: not once a line. */
const REOPEN_RETRY_MS = 1000;
let discard = false;
let quiet = false;
let writer: ((line: string, severity: Severity) => void) | null = null;
let syslog: ((severity: Severity, line: string) => void) | null = null;
let lateWarnings: ((line: string) => void) | null = null;
const encoder = new TextEncoder();

/**
 * Sends log lines to `path` (appending) instead of stderr; `fresh` empties it first (a lab's log as a new
 * run takes it), through the file opened, not its name, which may have been swapped since.
 *
 * @throws Error naming the file when it cannot be opened
 */
export function setLogFile(path: string, option = "--logfile", mode = 0o644, fresh = false): void {
  try {
    // 644 whatever the umask: a log others may write (umask 000) could be given forged lines. A lab's is
    // 600: its hosts' `exec` lines and what they print (a variable's secret too) are its user's alone.
    // Never through a symlink nor into another user's file: root's `--logfile /tmp/net.log` is a name any
    // user may have made first.
    file = openOutputFile(path, { append: true, mode });
    // Emptied, not replaced: a rootless lab's process outside may have it open to append already.
    if (fresh) file.truncateSync(0);
    filePath = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
    fileMode = mode;
    fileOption = option;
  } catch (err) {
    throw new Error(printable(`cannot open the log file ${path}${unwritable(path, option, err)}`));
  }
}

/** Drops log lines that have no file to go to (a daemon has no stderr). */
export function discardStderrLog(): void {
  discard = true;
}

/**
 * Drops the info lines meant for stderr (slirpvde's -q): a notice, a warning or an error is still said
 * there, a log file or syslog still gets them all.
 */
export function quietStderrLog(): void {
  quiet = true;
}

/** Sends the lines a daemon without a log file would drop to `send` (its syslog sender). */
export function setSyslog(send: (severity: Severity, line: string) => void): void {
  syslog = send;
}

/**
 * Hands a daemon's warnings and errors (whose stderr is gone) to `w` as well as to its log file or syslog:
 * until its start returned, to the command that started it, which prints them above its own line (program.ts,
 * for a daemon with a `--logfile`: a mistake in its `--rc` file); for a while after (slirp.ts: a gateway
 * taken behind a slow cable, to the terminal that started it). null ends that.
 */
export function setLateWarnings(w: ((line: string) => void) | null): void {
  lateWarnings = w;
}

/** Whether the lines go to a `--logfile` (then a daemon's warnings go there, never to a terminal). */
export function logsToFile(): boolean {
  return file !== null;
}

/** Hands log lines meant for stderr to `w` (a console's "print above the prompt"); null restores stderr. */
export function setLogWriter(w: ((line: string, severity: Severity) => void) | null): void {
  writer = w;
}

/** Writes one log line; `severity` is syslog's (err: the line a daemon dies with). */
export function log(component: string, message: string, severity: Severity = "info"): void {
  const line = `${component}: ${message}`;
  if (!filed(component, line, severity)) unfiled(line, severity);
}

/**
 * Writes one log line into the log file alone where there is one: for a line its caller says elsewhere
 * already (a daemon's serving line, in the one its parent prints), which a file that cannot be written
 * must not have said twice. Without a log file, as log.
 */
export function logToFile(component: string, message: string, severity: Severity = "info"): void {
  const line = `${component}: ${message}`;
  if (file === null) unfiled(line, severity);
  else filed(component, line, severity);
}

/**
 * Appends `line` to the log file; false where there is none, or it cannot be written (a full disk), which
 * must not stop the switch nor lose its lines unsaid: the first failure says why and what to do, on one line
 * where lines go without a file, and the caller says the line there.
 */
function filed(component: string, line: string, severity: Severity): boolean {
  if (file === null) return false;
  reopenIfMoved(component);
  try {
    file.writeSync(encoder.encode(`${new Date().toISOString()} ${line}\n`));
    fileFailed = false;
  } catch (err) {
    if (!fileFailed) {
      fileFailed = true;
      unfiled(
        printable(
          `${component}: cannot write the log file ${filePath}: ${writeFailure(err)}; ` +
            "its lines go to stderr (a daemon's to syslog) until it can",
        ),
        "err",
      );
    }
    return false;
  }
  if (severity === "warning" || severity === "err") lateWarnings?.(line);
  return true;
}

/** Says `line` where lines go without a log file: stderr (or the console's writer), a daemon's syslog. */
function unfiled(line: string, severity: Severity): void {
  if (discard) {
    syslog?.(severity, line);
    if (severity === "warning" || severity === "err") lateWarnings?.(line);
    return;
  }
  if (quiet && severity === "info") return;
  try {
    if (writer !== null) writer(`${line}\n`, severity);
    else console.error(line);
  } catch { /* stderr is gone (a closed terminal): the shutdown that follows must still run */ }
}

/**
 * Opens the log file's name again when it no longer names the file held (moved or removed by a rotation):
 * two stats a line, and log lines are few (rate limited where a peer could cause them). A name that cannot
 * be opened now (refused as setLogFile refuses it: another user's file or symlink put there; its directory
 * removed) leaves the lines going to the file held, as before, which is told why once (its admin reads it
 * there, where the lines went on), and is tried again a second later, not at every line: each try walks the
 * name's directories (half a millisecond, against a few microseconds for a line).
 */
function reopenIfMoved(component: string): void {
  if (file === null) return;
  const now = Date.now();
  if (now - refusedAt < REOPEN_RETRY_MS) return;
  try {
    const named = Deno.statSync(filePath);
    const held = file.statSync();
    if (named.ino === held.ino && named.dev === held.dev) return;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) return;
  }
  try {
    const reopened = openOutputFile(filePath, { append: true, mode: fileMode });
    file.close();
    file = reopened;
    refusedAt = -Infinity;
    refusal = "";
  } catch (err) {
    refusedAt = now;
    const why = printable(
      `${component}: ${filePath} no longer names this log, and cannot be opened again` +
        `${unwritable(filePath, fileOption, err)}: the lines go on here until it can`,
    );
    if (why === refusal) return;
    refusal = why;
    try {
      file.writeSync(encoder.encode(`${new Date(now).toISOString()} ${why}\n`));
    } catch { /* as any line's */ }
  }
}
