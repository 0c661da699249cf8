/**
 * Whether a signal that reached this process was sent to its whole process
 * group (the terminal's Ctrl-C or Ctrl-\, `kill -INT -PGID`) or to this
 * process alone (`kill -INT PID` from another shell). A wrapper needs to
 * know: its command, in the same group, got a group's signal already, and
 * one sent again may force what the first asked gracefully; one sent to the
 * wrapper alone it must pass on. Deno does not say who sent a signal (no
 * siginfo), so a witness does.
 *
 * Theory of operation: the witness is a child in this process's group
 * that does nothing (`cat` of a pipe of ours, so it ends with us whatever
 * ends us, its core size limit 0), both signals at their default action,
 * fatal. A signal sent to
 * the group reaches the witness in the same kernel call that reaches us,
 * and a fatal one marks it for death there and then (SIGKILL pending on it,
 * the signal on its process): by the time our listener runs, /proc says it
 * is dying, a zombie, or gone. A signal sent to us alone leaves it as it
 * was. A witness that died is replaced at the next question.
 *
 * Where a witness cannot tell (it cannot be started, or it inherited the
 * signal ignored, as a `nohup` or a `trap '' INT` leaves it), `sentToGroup`
 * answers undefined and the caller falls back on what it knew before.
 */

/** The signals a witness tells apart: both fatal to it by default. */
export type WitnessedSignal = "SIGINT" | "SIGQUIT";

const SIGNAL_BIT: Record<WitnessedSignal | "SIGKILL", bigint> = {
  SIGINT: 1n << 1n,
  SIGQUIT: 1n << 2n,
  SIGKILL: 1n << 8n,
};

/** A mask field (`SigPnd:`, `ShdPnd:`, `SigIgn:`) of a /proc/PID/status text; 0 where it is missing. */
function maskOf(status: string, field: string): bigint {
  const hex = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, "m").exec(status)?.[1];
  return hex === undefined ? 0n : BigInt(`0x${hex}`);
}

/**
 * Whether a process whose /proc/PID/stat and status read `stat` and
 * `status` (null: gone) was struck by a fatal signal: gone, a zombie or
 * dead, or SIGINT, SIGQUIT or SIGKILL pending on it.
 */
export function struck(stat: string | null, status: string | null): boolean {
  if (stat === null || status === null) return true;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  if (state === "Z" || state === "X" || state === "x") return true;
  const pending = maskOf(status, "SigPnd") | maskOf(status, "ShdPnd");
  return (pending & (SIGNAL_BIT.SIGINT | SIGNAL_BIT.SIGQUIT | SIGNAL_BIT.SIGKILL)) !== 0n;
}

/** Whether a /proc/PID/status text says `signal` is ignored there (a witness that cannot tell). */
export function ignores(status: string, signal: WitnessedSignal): boolean {
  return (maskOf(status, "SigIgn") & SIGNAL_BIT[signal]) !== 0n;
}

function readOrNull(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** A witness of group-wide signals; `close` ends it. */
export class GroupSignalWitness {
  #child: Deno.ChildProcess | null = null;
  #closed = false;

  /** Whether `signal`, just received, was sent to this process's whole group; undefined where none can tell. */
  sentToGroup(signal: WitnessedSignal): boolean | undefined {
    const child = this.#child;
    if (child === null) return undefined;
    const status = readOrNull(`/proc/${child.pid}/status`);
    if (struck(readOrNull(`/proc/${child.pid}/stat`), status)) {
      this.#replace();
      return true;
    }
    return status !== null && ignores(status, signal) ? undefined : false;
  }

  /** Starts the witness (again); where it cannot start, the answers are undefined. */
  start(): this {
    this.#replace();
    return this;
  }

  #replace(): void {
    this.#end();
    if (this.#closed) return;
    try {
      // QUIT's default action dumps core: none is written for a witness (a core_pattern piping to a
      // program such as systemd-coredump is still told, and stores nothing under that limit).
      const child = new Deno.Command("sh", {
        args: ["-c", "ulimit -c 0; exec cat"],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
      // It never keeps this process waiting: its end is ours.
      child.unref();
      child.status.catch(() => {});
      this.#child = child;
    } catch {
      this.#child = null;
    }
  }

  #end(): void {
    const child = this.#child;
    this.#child = null;
    if (child === null) return;
    child.stdin.close().catch(() => {});
    try {
      child.kill("SIGKILL");
    } catch { /* gone already */ }
  }

  /** Ends the witness; resolves once it is reaped. */
  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#child;
    this.#end();
    await child?.status.catch(() => {});
  }
}
