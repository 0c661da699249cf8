/**
 * Whether a signal that reached this process was sent to its whole process
 * group (the terminal's Ctrl-C or Ctrl-\, `kill -INT -PGID`) or to this
 * process alone (`kill -INT PID` from another shell). A wrapper needs to
 * know: its command, in the same group, got a group's signal already, and
 * one sent again may force what the first asked gracefully; one sent to the
 * wrapper alone it must pass on. Deno does not say who sent a signal (no
 * siginfo), so a witness does.
 *
 * Theory of operation: the witness is a child in this process's group that
 * does nothing (`cat` of a pipe of ours, so it ends with us whatever ends
 * us) with every signal blocked (`env --block-signal`). A signal sent to the
 * group is queued on the witness in the same kernel call that reaches us,
 * and, blocked, stays there: by the time our listener runs, /proc says it
 * is pending (ShdPnd). A signal sent to us alone leaves it as it was. Once
 * it holds one, the witness is replaced: a second of the same kind would
 * not show.
 *
 * Blocked, not fatal: a witness that died of the signal would leave a
 * moment (while it dequeues a QUIT and dumps core, a core-dump handler told
 * on every Ctrl-\) in which /proc shows neither the signal nor a death, and
 * a witness killed otherwise (a group's HUP or TERM, a `kill -9`) would be
 * taken for one struck. Blocked signals are queued even where they were
 * inherited ignored (a `nohup`, a script's background job, `trap '' INT`).
 *
 * Where a witness cannot tell (it cannot be started, is gone, or does not
 * block the signal: an `env` without --block-signal, or one not yet
 * started), `sentToGroup` answers undefined and the caller falls back on
 * what it knew before.
 */

/** The signals a witness tells apart. */
export type WitnessedSignal = "SIGINT" | "SIGQUIT";

const SIGNAL_BIT: Record<WitnessedSignal, bigint> = { SIGINT: 1n << 1n, SIGQUIT: 1n << 2n };

/** A mask field (`SigPnd:`, `ShdPnd:`, `SigBlk:`) of a /proc/PID/status text; 0 where it is missing. */
function maskOf(status: string, field: string): bigint {
  const hex = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, "m").exec(status)?.[1];
  return hex === undefined ? 0n : BigInt(`0x${hex}`);
}

/**
 * What a witness whose /proc/PID/status reads `status` (null: gone) says of `signal`: true, it is
 * pending there (sent to the group); false, it is blocked there and not pending (not sent to the
 * group); undefined where it cannot tell (gone, exiting, or not blocking it).
 */
export function witnessed(status: string | null, signal: WitnessedSignal): boolean | undefined {
  if (status === null) return undefined;
  const bit = SIGNAL_BIT[signal];
  // Pending, blocked or not: a witness that a group's INT killed before it blocked it holds it until reaped.
  if (((maskOf(status, "SigPnd") | maskOf(status, "ShdPnd")) & bit) !== 0n) return true;
  if (/^State:\s*[ZX]/m.test(status)) return undefined;
  return (maskOf(status, "SigBlk") & bit) !== 0n ? false : undefined;
}

function readOrNull(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** One witness process; `ended` its status once it is reaped (its pid may then be another process's). */
interface Witness {
  child: Deno.ChildProcess;
  ended: Deno.CommandStatus | null;
}

/** A witness of group-wide signals; `close` ends it. */
export class GroupSignalWitness {
  #witness: Witness | null = null;
  #closed = false;

  /** Whether `signal`, just received, was sent to this process's whole group; undefined where none can tell. */
  sentToGroup(signal: WitnessedSignal): boolean | undefined {
    const witness = this.#witness;
    if (witness === null) return undefined;
    // Reaped: a group's signal that came before it blocked them ended it (a QUIT's core dump leaves no trace in /proc).
    const ended = witness.ended;
    const answer = ended === null
      ? witnessed(readOrNull(`/proc/${witness.child.pid}/status`), signal)
      : ended.signal === signal || undefined;
    // One that holds the signal cannot show the next; one that cannot tell is tried afresh.
    if (answer !== false) this.#replace();
    return answer;
  }

  /**
   * Starts the witness (again); where it cannot start, the answers are undefined. Start it once this
   * process listens for INT and QUIT: it then starts with them at their default (a signal before it blocks
   * them ends it, which it tells), not ignored as this process may have inherited them (lost, untold).
   */
  start(): this {
    this.#replace();
    return this;
  }

  #replace(): void {
    this.#end();
    if (this.#closed) return;
    try {
      // The core size limit 0: a QUIT that comes before env blocks it dumps no core where the user's limit
      // would write one (the cwd's `core`).
      const child = new Deno.Command("sh", {
        args: ["-c", "ulimit -c 0; exec env --block-signal cat"],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
      // It never keeps this process waiting: its end is ours.
      child.unref();
      const witness: Witness = { child, ended: null };
      child.status.then(
        (status) => (witness.ended = status),
        () => (witness.ended = { success: false, code: -1, signal: null }),
      );
      this.#witness = witness;
    } catch {
      this.#witness = null;
    }
  }

  #end(): void {
    const witness = this.#witness;
    this.#witness = null;
    if (witness === null) return;
    witness.child.stdin.close().catch(() => {});
    try {
      witness.child.kill("SIGKILL");
    } catch { /* gone already */ }
  }

  /** Ends the witness; resolves once it is reaped. */
  async close(): Promise<void> {
    this.#closed = true;
    const witness = this.#witness;
    this.#end();
    await witness?.child.status.catch(() => {});
  }
}
