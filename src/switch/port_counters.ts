/**
 * Per-port traffic counters, one Float64Array per counter indexed by port.
 *
 * Float64 holds exact integers up to 2^53, so byte counts never wrap in
 * practice, and bumping an element allocates nothing on the data path.
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
  framesIn: Float64Array;
  /** Bytes accepted, by port. */
  bytesIn: Float64Array;
  /** Frames sent, by port. */
  framesOut: Float64Array;
  /** Bytes sent, by port. */
  bytesOut: Float64Array;
  /** Frames dropped on input, by port. */
  dropsIn: Float64Array;
  /** Frames dropped on output, by port. */
  dropsOut: Float64Array;

  constructor(size: number) {
    this.framesIn = new Float64Array(size);
    this.bytesIn = new Float64Array(size);
    this.framesOut = new Float64Array(size);
    this.bytesOut = new Float64Array(size);
    this.dropsIn = new Float64Array(size);
    this.dropsOut = new Float64Array(size);
  }

  /** Number of ports counted. */
  get size(): number {
    return this.framesIn.length;
  }

  /** Changes the number of ports, keeping the counts of ports that remain. */
  resize(size: number): void {
    this.framesIn = resized(this.framesIn, size);
    this.bytesIn = resized(this.bytesIn, size);
    this.framesOut = resized(this.framesOut, size);
    this.bytesOut = resized(this.bytesOut, size);
    this.dropsIn = resized(this.dropsIn, size);
    this.dropsOut = resized(this.dropsOut, size);
  }

  /** Zeroes one port's counters. */
  reset(port: number): void {
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
