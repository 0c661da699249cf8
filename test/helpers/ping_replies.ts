/**
 * Counting iputils ping's replies without the flake of its short wait
 * after the last probe. Plain `ping -c N` stops waiting max(2 x its slowest
 * reply yet, the interval) after probe N once any reply came (`-W` counts
 * only before the first), so on a loaded machine a last reply 0.2 s late
 * was counted lost (1 of 2 in errors.test.ts). Here each run has one deadline
 * (`-w`, 2 s past the probes' time), before which ping waits for N replies and
 * probes on past N until it has them, so only the replies to probes 1..N are
 * taken: a frame lost is still one reply short. A test that counts the frames a
 * ping makes counts those of probes 1..N too (an extra probe may be sent).
 * A test expecting no reply at all keeps plain `-c`: it would wait out the
 * deadline for nothing.
 */

/** The argv of `count` pings of `to`, `intervalS` apart, each reply given till the deadline; `extra` before `to`. */
export function pingArgs(to: string, count: number, extra: string[] = [], intervalS = 0.2): string[] {
  const deadline = Math.ceil(count * intervalS) + 2;
  return ["ping", "-c", String(count), "-i", String(intervalS), "-w", String(deadline), ...extra, to];
}

/** A bound for a run of pingArgs(count, intervalS), in ms: its deadline and some. */
export function pingTimeoutMs(count: number, intervalS = 0.2): number {
  return (Math.ceil(count * intervalS) + 7) * 1000;
}

/** The round trip in ms of each reply to probes 1..`count` in ping's output, by sequence number (duplicates once). */
export function repliesIn(stdout: string, count: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of stdout.matchAll(/ icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ?ms/g)) {
    const seq = Number(m[1]);
    if (seq <= count && !out.has(seq)) out.set(seq, Number(m[2]));
  }
  return out;
}
