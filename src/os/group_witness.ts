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
 * is pending (ShdPnd). A signal sent to us alone leaves it as it was. It
 * is replaced at each signal asked about (one that holds a signal cannot
 * show a second of its kind), the next one started before the last one is
 * read: a group's signal that comes meanwhile is on one or the other,
 * never between them (it would be taken for one sent to us alone, and
 * passed on again).
 *
 * A witness that a group's signal struck before it blocked it (the next
 * one, in the moment between its fork and `env`) dies of it; dequeued, the
 * signal is no longer pending, and /proc shows a zombie, or nothing once
 * Deno reaped it (before the status reaches JavaScript): where /proc cannot
 * tell, the answer waits for the witness's exit status.
 *
 * What no witness tells: two of a group's signals of one kind that both
 * come before the next witness starts (within the listener's latency, a
 * double Ctrl-C) pend as one on the last; the second is taken for one sent
 * to us alone and passed on. That is the side to err on: the command had
 * two of the kind asked and gets one more, where the other answer would
 * drop a `kill -INT` sent to us alone that nothing else delivers. The
 * kernel's siginfo would not tell them apart either: kill(2) of a group and
 * of this process alone both give si_code SI_USER and the sender's pid
 * (tried); only a terminal's keys differ (SI_KERNEL), and reading siginfo
 * (signalfd) needs the signal blocked in every thread, Deno's runtime's too.
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
  // Pending, blocked or not: a fatal signal that came unblocked is left pending by the kernel until reaped.
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

/**
 * The witness: INT and QUIT blocked. The core size limit 0: a QUIT that comes before env blocks it
 * dumps no core where the user's limit would write one (the cwd's `core`).
 */
const WITNESS_ARGV: readonly string[] = ["sh", "-c", "ulimit -c 0; exec env --block-signal cat"];

/**
 * The exit status of `witness`, once it is stopped (null where none comes): waited for as this process's
 * work, since a witness's status alone (unref'd) would not keep it running until then.
 */
function ended(witness: Witness): Promise<Deno.CommandStatus | null> {
  witness.child.ref();
  return witness.child.status.catch(() => null);
}

/** A witness of group-wide signals; `close` ends it. */
export class GroupSignalWitness {
  #witness: Witness | null = null;
  #closed = false;

  readonly #argv: readonly string[];

  /** `argv` runs a witness: a test's that blocks nothing stands for one struck before it blocks. */
  constructor(argv: readonly string[] = WITNESS_ARGV) {
    this.#argv = argv;
  }

  /**
   * Whether `signal`, just received, was sent to this process's whole group; undefined where none can
   * tell. Said at once where the witness is alive; where it died, once its exit status is known.
   */
  async sentToGroup(signal: WitnessedSignal): Promise<boolean | undefined> {
    const witness = this.#witness;
    if (witness === null) return undefined;
    // The next one first: a group's signal from now on is on it, one before on this one, none between.
    this.#witness = this.#spawn();
    // Not yet reaped (ended is set only after), so its pid is no other process's.
    const seen = witness.ended === null
      ? witnessed(readOrNull(`/proc/${witness.child.pid}/status`), signal)
      : undefined;
    this.#stop(witness);
    if (seen !== undefined) return seen;
    // Dead, or not blocking it: a group's signal that struck it before it blocked them is what it died of
    // (a zombie's or one reaped: /proc holds no trace; a QUIT's core dump under way, neither); the KILL
    // just sent ends one alive, said as no answer.
    return (await ended(witness))?.signal === signal || undefined;
  }

  /**
   * Starts the witness (again); where it cannot start, the answers are undefined. Start it once this
   * process listens for INT and QUIT: it then starts with them at their default (a signal before it blocks
   * them ends it, which it tells), not ignored as this process may have inherited them (lost, untold).
   */
  start(): this {
    const last = this.#witness;
    this.#witness = this.#spawn();
    this.#stop(last);
    return this;
  }

  /** A new witness; null where it cannot start. */
  #spawn(): Witness | null {
    if (this.#closed) return null;
    try {
      const child = new Deno.Command(this.#argv[0]!, {
        args: this.#argv.slice(1),
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
      return witness;
    } catch {
      return null;
    }
  }

  #stop(witness: Witness | null): void {
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
    this.#witness = null;
    this.#stop(witness);
    if (witness !== null) await ended(witness);
  }
}
