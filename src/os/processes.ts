/**
 * Processes as the programs see them: whether one still runs, for the
 * programs that record a pid (a lab's state, a switch's pid file) and must
 * tell a live owner from one that is gone (a process killed but not yet
 * reaped by its parent is a zombie: it still takes signals, so a signal
 * cannot tell, and /proc says so); and why a command could not be started.
 */

/** True while process `pid` runs (exists and is not a zombie). Sends it nothing. */
export function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return false;
  }
  // "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so the state follows the last ")".
  // Killed but not yet reaped (its parent, often init in a container, is slow to wait): a zombie
  // runs nothing, and `vde down` would otherwise wait for it as long as it lingers.
  return stat[stat.lastIndexOf(")") + 2] !== "Z";
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
