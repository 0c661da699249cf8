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
