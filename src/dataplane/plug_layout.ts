/**
 * What the plug thread (plug_worker.ts) and its owner (plug_thread.ts)
 * share: the start message and the layout of the shared control block,
 * `[Int32 stop flag, warm waits, 2 spare][Float64 counters: frames, bytes, drops, for
 * a->b then b->a]`.
 */

/** One end of a plug, as an fd the thread reads and writes. */
export interface PlugEnd {
  fd: number;
  /** A datagram socket (one datagram, one frame) or a tap (one read or write, one frame). */
  kind: "dgram" | "tap";
  /** For messages: the link's description. */
  name: string;
}

/** The message that starts the thread. */
export interface PlugStart {
  a: PlugEnd;
  b: PlugEnd;
  /** Eventfd the owner writes to stop the thread. */
  wakeFd: number;
  shared: SharedArrayBuffer;
  /** How long the thread keeps warm after a frame, in ms (keep_warm.ts); 0: never. */
  keepWarmMs: number;
}

/** What the thread says when it has stopped; `reason` is set when the cable ended by itself. */
export interface PlugStopped {
  stopped: true;
  reason: string | null;
}

/**
 * What the thread counted and drops, said once per kind per end while it runs (the owner prints
 * the line: the thread has no log): `oversize`, a frame from `end` longer than a VDE frame
 * (`value`: its length, VDE_MAX_FRAME + 1 when cut short); `runt`, one from `end` shorter than an
 * Ethernet header (`value`: its length); `send`, frames towards `end` lost to a failure that
 * repeats (`value`: the errno).
 */
export interface PlugDropped {
  dropped: "oversize" | "runt" | "send";
  end: "a" | "b";
  value: number;
}

/** What the thread posts to its owner. */
export type PlugReply = PlugStopped | PlugDropped;

/** Index of the stop flag in the Int32 view. */
export const PLUG_STOP = 0;
/** Index in the Int32 view: short waits the thread took to stay warm after traffic (plug_worker.ts, KEEP_WARM_MS). */
export const PLUG_WARM_WAITS = 1;
/** Bytes of the shared block. */
export const PLUG_SHARED_BYTES = 16 + 6 * 8;

/** First counter of a direction in the Float64 view (at byte 16): frames, bytes, drops. */
export function counterIndex(direction: "ab" | "ba"): number {
  return direction === "ab" ? 0 : 3;
}
