/**
 * Processes as the programs see them: whether one still runs, for the
 * programs that record a pid (a lab's state, a switch's pid file) and must
 * tell a live owner from one that is gone (a process killed but not yet
 * reaped by its parent is a zombie: it still takes signals, so a signal
 * cannot tell, and /proc says so); every process's open descriptors, for
 * what only a walk of them all tells (who holds a file, a socket, a tap: one
 * walk, `openFds`, which each such question filters); and why a command
 * could not be started.
 */

/**
 * The fields of /proc/PID/stat (`pid` a number or "self") from the 3rd
 * (state) on, so the Nth field is at index N - 3; null when it is gone or
 * /proc does not say. COMM (the 2nd) may hold spaces and parentheses, so
 * the fields start after the last ")".
 */
export function statFields(pid: number | "self"): string[] | null {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  return fieldsOfStat(stat);
}

/** `statFields` of the text of a /proc/PID/stat already read. */
export function fieldsOfStat(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * Every process's pid, from the numeric entries of `proc` (/proc, or a
 * test's stand-in); none where it cannot be read. A pid listed may be gone
 * by the time its files are read: each reader skips what it cannot read.
 */
export function processIds(proc = "/proc"): number[] {
  try {
    return [...Deno.readDirSync(proc)].filter((e) => /^\d+$/.test(e.name)).map((e) => Number(e.name));
  } catch {
    return [];
  }
}

/** One open descriptor of a process, as /proc lists it. */
export interface OpenFd {
  pid: number;
  /** Its number in that process. */
  fd: number;
  /** Its /proc entry (`PROC/PID/fd/N`): a link to what is open there, which stat follows and lstat does not. */
  path: string;
}

/**
 * Every open descriptor of every process under `proc` (/proc, or a test's
 * stand-in), one process's at a time: for a question only a walk of them
 * all answers (who holds a file, a socket). A process that is gone, or
 * whose descriptors we may not read (another user's, for a user not root),
 * is skipped; a descriptor closed after it was listed is still yielded, and
 * its reader finds it gone. Reads /proc as it goes: never on a data path.
 */
export function* openFds(proc = "/proc"): Generator<OpenFd> {
  for (const pid of processIds(proc)) {
    const dir = `${proc}/${pid}/fd`;
    let names: string[];
    try {
      // Listed whole before any is yielded: a process that ends midway is one the caller never half-reads.
      names = [...Deno.readDirSync(dir)].map((e) => e.name);
    } catch {
      continue; // Gone, or not ours to read.
    }
    for (const name of names) {
      const fd = Number(name);
      if (Number.isSafeInteger(fd)) yield { pid, fd, path: `${dir}/${name}` };
    }
  }
}

/** True while process `pid` runs (exists and is not a zombie). Sends it nothing. */
export function processAlive(pid: number): boolean {
  const state = statFields(pid)?.[0];
  // Killed but not yet reaped (its parent, often init in a container, is slow to wait): a zombie
  // runs nothing, and `vde down` would otherwise wait for it as long as it lingers.
  return state !== undefined && state !== "Z";
}

/**
 * When process `pid` started, in clock ticks since boot (the 22nd field):
 * with the pid, what tells a process from a later one the kernel gave the
 * same number. Null when it is gone or /proc does not say.
 */
export function processStartTime(pid: number): number | null {
  const start = Number(statFields(pid)?.[22 - 3]);
  return Number.isSafeInteger(start) ? start : null;
}

/**
 * Waits while process `pid` runs, looking every `pollMs`: true once it is
 * gone, false when it still runs after `timeoutMs` (no bound by default).
 */
export async function untilExit(pid: number, timeoutMs = Infinity, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return true;
}

/**
 * What process `pid` runs, as its argument list, or null when /proc does
 * not say (gone, or hidden from this user).
 */
export function commandLine(pid: number): string[] | null {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return raw.split("\0").filter((a, i, all) => a !== "" || i < all.length - 1);
  } catch {
    return null;
  }
}

/**
 * Whether live process `pid` may be a vde program (a switch or filter that
 * owns a pid file): its executable is this program's, or a Deno runtime, or
 * an argument names vde. Conservative: what /proc does not show counts as
 * vde, so only a process plainly something else (a pid reused after
 * `kill -9`) is taken for a stranger.
 */
export function mayBeVde(pid: number): boolean {
  const args = commandLine(pid);
  // A kernel thread has an empty command line; an unreadable one is unknown.
  if (args === null) return true;
  let exe: string | null = null;
  try {
    exe = Deno.readLinkSync(`/proc/${pid}/exe`);
  } catch { /* another user's process: judged by its arguments */ }
  if (exe !== null && (exe === Deno.execPath() || /(^|\/)deno$/.test(exe))) return true;
  return args.some((a, i) =>
    /vde/i.test(a.slice(a.lastIndexOf("/") + 1)) || (i === 0 && /(^|\/)deno$/.test(a))
  );
}

/**
 * Why `program` could not be started, as one line: Deno says "Failed to
 * spawn 'x': entity not found" for a command that is not on the PATH.
 */
export function cannotRun(program: string, err: unknown): string {
  const why = err instanceof Deno.errors.NotFound
    ? "no such command (not on the PATH)"
    : err instanceof Deno.errors.PermissionDenied
    ? "permission denied (not executable?)"
    : err instanceof Error
    ? err.message
    : String(err);
  return `cannot run "${program}": ${why}`;
}
