/**
 * Per-port traffic counters, one Float64Array per counter indexed by port.
 *
 * Float64 holds exact integers up to 2^53, so byte counts never wrap in
 * practice, and bumping an element allocates nothing on the data path.
 *
 * Shared between threads, the six arrays are views of one SharedArrayBuffer
 * with room for every port an engine may have, so resizing only re-views it
 * and the other thread's views stay valid; the data-plane thread's counters
 * write, the main thread's read (their `reset` does nothing: the control
 * plane forwards it). An aligned Float64 store is never seen half-written.
 */

/** A copy of one port's counters. */
export interface PortStats {
  /** Frames accepted from the port. */
  framesIn: number;
  /** Bytes of the frames accepted from the port. */
  bytesIn: number;
  /** Frames handed to the port's output. */
  framesOut: number;
  /** Bytes of the frames handed to the port's output. */
  bytesOut: number;
  /** Frames from the port that were dropped (too short, too long, port inactive). */
  dropsIn: number;
  /** Frames for the port that its transport could not send. */
  dropsOut: number;
}

/** Counters for ports 0..size-1. */
export class PortCounters {
  /** Frames accepted, by port. */
  framesIn!: Float64Array<ArrayBufferLike>;
  /** Bytes accepted, by port. */
  bytesIn!: Float64Array<ArrayBufferLike>;
  /** Frames sent, by port. */
  framesOut!: Float64Array<ArrayBufferLike>;
  /** Bytes sent, by port. */
  bytesOut!: Float64Array<ArrayBufferLike>;
  /** Frames dropped on input, by port. */
  dropsIn!: Float64Array<ArrayBufferLike>;
  /** Frames dropped on output, by port. */
  dropsOut!: Float64Array<ArrayBufferLike>;

  readonly #shared: { buffer: SharedArrayBuffer; writer: boolean } | null;
  readonly #stride: number;

  /** Bytes of shared storage for up to `maxPorts` ports. */
  static sharedBytes(maxPorts: number): number {
    return 6 * 8 * maxPorts;
  }

  /**
   * @param shared storage shared with another thread, sized by `sharedBytes`,
   *   and whether this side writes it
   */
  constructor(size: number, shared?: { buffer: SharedArrayBuffer; writer: boolean }) {
    this.#shared = shared ?? null;
    this.#stride = shared === undefined ? 0 : shared.buffer.byteLength / 48;
    if (shared !== undefined && size > this.#stride) {
      throw new RangeError(`Expected shared counters for at least ${size} ports`);
    }
    this.#place(size);
  }

  /** Sets the six arrays for `size` ports: views of the shared storage, or copies keeping the counts. */
  #place(size: number): void {
    const shared = this.#shared;
    const stride = this.#stride;
    let index = 0;
    const at = (old: Float64Array<ArrayBufferLike> | undefined) =>
      shared !== null
        ? new Float64Array(shared.buffer, index++ * stride * 8, size)
        : old === undefined
        ? new Float64Array(size)
        : resized(old, size);
    this.framesIn = at(this.framesIn);
    this.bytesIn = at(this.bytesIn);
    this.framesOut = at(this.framesOut);
    this.bytesOut = at(this.bytesOut);
    this.dropsIn = at(this.dropsIn);
    this.dropsOut = at(this.dropsOut);
  }

  /** Number of ports counted. */
  get size(): number {
    return this.framesIn.length;
  }

  /** Changes the number of ports, keeping the counts of ports that remain. */
  resize(size: number): void {
    const old = this.size;
    this.#place(size);
    // Shared ports that come back start from zero, as fresh arrays would.
    if (this.#shared?.writer) { for (let p = old; p < size; p++) this.reset(p); }
  }

  /** Zeroes one port's counters. */
  reset(port: number): void {
    if (this.#shared !== null && !this.#shared.writer) return;
    this.framesIn[port] = 0;
    this.bytesIn[port] = 0;
    this.framesOut[port] = 0;
    this.bytesOut[port] = 0;
    this.dropsIn[port] = 0;
    this.dropsOut[port] = 0;
  }

  /** Copies one port's counters. */
  snapshot(port: number): PortStats {
    return {
      framesIn: this.framesIn[port]!,
      bytesIn: this.bytesIn[port]!,
      framesOut: this.framesOut[port]!,
      bytesOut: this.bytesOut[port]!,
      dropsIn: this.dropsIn[port]!,
      dropsOut: this.dropsOut[port]!,
    };
  }
}

function resized(array: Float64Array, size: number): Float64Array {
  const next = new Float64Array(size);
  next.set(array.subarray(0, Math.min(size, array.length)));
  return next;
}
