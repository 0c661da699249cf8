/**
 * Whether a process still runs, for the programs that record a pid (a lab's
 * state, a switch's pid file) and must tell a live owner from one that is
 * gone. A process killed but not yet reaped by its parent is a zombie: it
 * still takes signals (so a signal cannot tell), and /proc says so.
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
