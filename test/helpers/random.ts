/**
 * The tests' seeded randomness: the project's one PRNG (xoshiro128**, the
 * generator wirefilter's `--seed` drives, src/wirefilter/prng.ts) as a plain
 * function, so a failing fuzz or simulation run repeats exactly from its seed.
 */
import { Xoshiro128 } from "../../src/wirefilter/prng.ts";

/** A seeded source of uniform doubles in [0, 1). */
export function prng(seed: number): () => number {
  const r = new Xoshiro128(seed);
  return () => r.next();
}

/** `n` seeded pseudo-random bytes. */
export function randomBytes(seed: number, n: number): Uint8Array<ArrayBuffer> {
  const r = new Xoshiro128(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = r.nextUint32();
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
  }
  return out;
}

/** How `mutate` changes a valid input. */
export interface MutateOptions {
  /** Chance it is cut short, at a random length; default 0.15. */
  cut?: number;
  /** Chance (when not cut) it is lengthened by up to `growBy` bytes; default 0.1. */
  grow?: number;
  /** Most bytes added; default 64. */
  growBy?: number;
  /** Whether the bytes added are random, not zeros; default false. */
  randomGrowth?: boolean;
  /** Bytes then set to random values: from `minFlips` to `maxFlips`; default 1 to 6. */
  minFlips?: number;
  maxFlips?: number;
  /** Where a byte is set, for an input of `length` bytes (where the lengths and choices live); default anywhere. */
  at?: (length: number) => number;
}

/** A copy of valid input `t` changed as a fuzzer changes it: cut short or lengthened, then a few bytes set. */
export function mutate(t: Uint8Array, rnd: () => number, o: MutateOptions = {}): Uint8Array {
  let f = t.slice();
  const kind = rnd();
  const cut = o.cut ?? 0.15;
  if (kind < cut) f = f.subarray(0, Math.floor(rnd() * f.length));
  else if (kind < cut + (o.grow ?? 0.1)) {
    const g = new Uint8Array(f.length + Math.floor(rnd() * (o.growBy ?? 64)));
    g.set(f);
    if (o.randomGrowth) { for (let i = f.length; i < g.length; i++) g[i] = Math.floor(rnd() * 256); }
    f = g;
  }
  const min = o.minFlips ?? 1;
  const flips = min + Math.floor(rnd() * ((o.maxFlips ?? 6) - min + 1));
  for (let i = 0; i < flips && f.length > 0; i++) {
    const at = o.at === undefined ? Math.floor(rnd() * f.length) : Math.min(f.length - 1, o.at(f.length));
    f[at] = Math.floor(rnd() * 256);
  }
  return f;
}

/** Random bytes of a random length below `max`. */
export function junk(rnd: () => number, max: number): Uint8Array {
  const b = new Uint8Array(Math.floor(rnd() * max));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}
