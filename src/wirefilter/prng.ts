/**
 * A small seeded pseudo-random generator for wirefilter's decisions, so
 * `--seed N` makes every loss, duplicate, jitter and bit flip reproducible.
 *
 * Theory of operation: xoshiro128** (32-bit state words, so plain integer
 * arithmetic in JavaScript with `Math.imul` and `>>> 0`), seeded through
 * splitmix32 so that nearby seeds give unrelated streams. `stream` numbers
 * derive independent generators from one seed: the filter gives each
 * direction its own, so the choices made for left-to-right frames do not
 * depend on how right-to-left traffic interleaves with them. Not for
 * cryptography.
 */

/** A source of uniform doubles in [0, 1) and normal deviates. */
export interface Random {
  /** A uniform double in [0, 1). */
  next(): number;
  /** A standard normal deviate (mean 0, standard deviation 1). */
  normal(): number;
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Xoshiro128 is a seeded xoshiro128** generator.
 *
 * @example
 * ```ts
 * import { Xoshiro128 } from "./prng.ts";
 * const a = new Xoshiro128(42);
 * const b = new Xoshiro128(42);
 * console.assert(a.next() === b.next());
 * ```
 */
export class Xoshiro128 implements Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare = 0;
  #hasSpare = false;

  /**
   * @param seed any integer (only its low 32 bits and `stream` matter)
   * @param stream selects one of several independent generators for the same seed
   */
  constructor(seed: number, stream = 0) {
    const st = { s: (Math.trunc(seed) ^ Math.imul(stream + 1, 0x632be5ab)) | 0 };
    this.#a = splitmix32(st);
    this.#b = splitmix32(st);
    this.#c = splitmix32(st);
    this.#d = splitmix32(st);
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  /** Implements Random.next: 32 bits scaled into [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Implements Random.normal with the Box-Muller transform (the second deviate is kept for the next call). */
  normal(): number {
    if (this.#hasSpare) {
      this.#hasSpare = false;
      return this.#spare;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    this.#hasSpare = true;
    return r * Math.cos(2 * Math.PI * v);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A random seed for runs without `--seed`. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
