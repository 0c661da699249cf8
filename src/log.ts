/**
 * Log lines of the long-running commands: to stderr by default, appended to
 * a file for a daemon (`--logfile`). One line per event, prefixed with the
 * component, as vde_switch prints `vde_switch: <msg>`.
 */

let file: Deno.FsFile | null = null;
const encoder = new TextEncoder();

/** Sends log lines to `path` (appending) instead of stderr. */
export function setLogFile(path: string): void {
  file = Deno.openSync(path, { append: true, create: true });
}

/** Writes one log line. */
export function log(component: string, message: string): void {
  const line = `${component}: ${message}`;
  if (file === null) {
    console.error(line);
    return;
  }
  try {
    file.writeSync(encoder.encode(`${new Date().toISOString()} ${line}\n`));
  } catch { /* a log that cannot be written must not stop the switch */ }
}
