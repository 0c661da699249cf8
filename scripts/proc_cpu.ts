/**
 * CPU time of a process from /proc, for the bench's per-byte and
 * per-frame rows: the kernel's own accounting, which a loaded machine
 * disturbs less than a rate.
 */

/** User plus system CPU time of process `pid` (all its threads), in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (clock ticks, 100/s).
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) / 100;
}
