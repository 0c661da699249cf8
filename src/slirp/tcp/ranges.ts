/**
 * Sorted lists of disjoint byte ranges in sequence space, as two parallel
 * arrays of starts and ends: the receive side's out-of-order data, the
 * send side's SACK scoreboard and its retransmitted ranges. The lists are
 * short (bounded by the caller), so linear scans beat anything cleverer;
 * they change only when segments are lost or reordered, not on the
 * in-order fast path.
 */
import { seqDiff, seqGt, seqLe, seqLt } from "./seq.ts";

/** Drops the parts of a sorted list of ranges below `seq`; returns the bytes dropped. */
export function trimRanges(starts: number[], ends: number[], seq: number): number {
  let k = 0;
  let dropped = 0;
  while (k < starts.length && seqLe(ends[k]!, seq)) {
    dropped += seqDiff(ends[k]!, starts[k]!);
    k++;
  }
  if (k > 0) {
    starts.splice(0, k);
    ends.splice(0, k);
  }
  if (starts.length > 0 && seqLt(starts[0]!, seq)) {
    dropped += seqDiff(seq, starts[0]!);
    starts[0] = seq;
  }
  return dropped;
}

/** Bytes of [from, to) that a sorted list of ranges covers. */
export function covered(starts: number[], ends: number[], from: number, to: number): number {
  let n = 0;
  for (let k = 0; k < starts.length && seqLt(starts[k]!, to); k++) {
    const a = seqGt(starts[k]!, from) ? starts[k]! : from;
    const b = seqLt(ends[k]!, to) ? ends[k]! : to;
    if (seqLt(a, b)) n += seqDiff(b, a);
  }
  return n;
}

/**
 * Adds the range [s, e) to a sorted list of disjoint ranges (`starts`,
 * `ends`), merging what it touches. Returns the bytes it newly covers, or
 * -1 when it touches nothing and the list already holds `max` ranges.
 */
export function addRange(starts: number[], ends: number[], s: number, e: number, max: number): number {
  const n = starts.length;
  let i = 0;
  while (i < n && seqLt(ends[i]!, s)) i++;
  let j = i;
  let ns = s;
  let ne = e;
  let had = 0;
  while (j < n && seqLe(starts[j]!, e)) {
    if (seqLt(starts[j]!, ns)) ns = starts[j]!;
    if (seqGt(ends[j]!, ne)) ne = ends[j]!;
    had += seqDiff(ends[j]!, starts[j]!);
    j++;
  }
  if (j === i) {
    if (n >= max) return -1;
    starts.splice(i, 0, ns);
    ends.splice(i, 0, ne);
  } else {
    starts.splice(i, j - i, ns);
    ends.splice(i, j - i, ne);
  }
  return seqDiff(ne, ns) - had;
}

/**
 * Removes [s, e) from a sorted list of disjoint ranges, cutting a range it
 * falls inside in two. Returns the bytes removed.
 */
export function removeRange(starts: number[], ends: number[], s: number, e: number): number {
  let removed = 0;
  for (let k = 0; k < starts.length && seqLt(starts[k]!, e); k++) {
    const a = starts[k]!;
    const b = ends[k]!;
    if (seqLe(b, s)) continue;
    const lo = seqGt(a, s) ? a : s;
    const hi = seqLt(b, e) ? b : e;
    removed += seqDiff(hi, lo);
    if (seqLt(a, s) && seqGt(b, e)) {
      ends[k] = s;
      starts.splice(k + 1, 0, e);
      ends.splice(k + 1, 0, b);
      return removed;
    }
    if (seqLt(a, s)) {
      ends[k] = s;
    } else if (seqGt(b, e)) {
      starts[k] = e;
    } else {
      starts.splice(k, 1);
      ends.splice(k, 1);
      k--;
    }
  }
  return removed;
}
