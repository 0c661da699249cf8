/**
 * Initial sequence numbers in the manner of RFC 6528: a clock that ticks
 * every 4 microseconds plus a keyed hash of the connection's 4-tuple.
 *
 * The hash keeps different tuples' sequence spaces apart (an off-path
 * attacker cannot predict them); the clock makes a new connection on the
 * same tuple start above the previous one, which is what a peer still
 * holding that tuple in TIME-WAIT checks before it accepts the new SYN
 * (RFC 6191, RFC 9293 3.4.1). A random ISN fails that check half the time,
 * and the SYN then waits for a retransmission.
 *
 * The keyed hash is HalfSipHash-2-4 (32-bit words, 64-bit key), written
 * here from its published description.
 */

/** Clock ticks per millisecond: one tick every 4 us. */
const TICKS_PER_MS = 250;

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/** Makes ISNs for 4-tuples; `now` in milliseconds, `random` seeds the key. */
export class IsnGenerator {
  readonly #k0: number;
  readonly #k1: number;
  readonly #now: () => number;
  // Sip state, kept in fields to avoid allocating per call.
  #v0 = 0;
  #v1 = 0;
  #v2 = 0;
  #v3 = 0;

  constructor(now: () => number, random: () => number) {
    this.#now = now;
    this.#k0 = random() >>> 0;
    this.#k1 = random() >>> 0;
  }

  /** The ISN for a connection from `local:localPort` to `remote:remotePort`. */
  next(local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number): number {
    const ticks = Math.floor(this.#now() * TICKS_PER_MS);
    // Keep the low 32 bits of the tick count exactly (it may exceed 2^53 / 2^32 over a long run).
    const clock = (ticks % 4294967296) >>> 0;
    return (clock + this.hash(local, localPort, remote, remotePort)) >>> 0;
  }

  /** The keyed hash of a 4-tuple (addresses of 4 or 16 bytes). */
  hash(local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number): number {
    this.#v0 = this.#k0;
    this.#v1 = this.#k1;
    this.#v2 = (0x6c796765 ^ this.#k0) | 0;
    this.#v3 = (0x74656462 ^ this.#k1) | 0;
    this.#words(local);
    this.#words(remote);
    this.#block(((localPort & 0xffff) << 16) | (remotePort & 0xffff));
    const len = local.length + remote.length + 4;
    this.#block((len & 0xff) << 24);
    this.#v2 ^= 0xff;
    for (let i = 0; i < 4; i++) this.#round();
    return (this.#v1 ^ this.#v3) >>> 0;
  }

  #words(a: Uint8Array): void {
    for (let i = 0; i + 3 < a.length; i += 4) {
      this.#block(a[i]! | (a[i + 1]! << 8) | (a[i + 2]! << 16) | (a[i + 3]! << 24));
    }
  }

  #block(m: number): void {
    this.#v3 ^= m;
    this.#round();
    this.#round();
    this.#v0 ^= m;
  }

  #round(): void {
    let v0 = this.#v0, v1 = this.#v1, v2 = this.#v2, v3 = this.#v3;
    v0 = (v0 + v1) | 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) | 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) | 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
    this.#v0 = v0;
    this.#v1 = v1;
    this.#v2 = v2;
    this.#v3 = v3;
  }
}
