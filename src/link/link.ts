import { log } from "../log.ts";
import { printable } from "../console/reply_format.ts";
import { MIN_FRAME } from "../wire/ethernet.ts";
import { RateLimitedLog } from "../rate_limited_log.ts";

/**
 * The Link: one end of a virtual Ethernet wire.
 *
 * Every part of vde that moves frames is a Link: a switch port's client, a
 * tap, a stream to a child process, stdio. A switch holds Links in its ports;
 * `plug(a, b)` joins two Links. Frames are whole Ethernet frames with no FCS.
 *
 * Contract:
 * - `send(frame)` never throws and never keeps the view: it copies or writes
 *   before returning. A link that cannot take the frame now drops and counts.
 * - `onFrame` is called once per arriving frame; the view is borrowed and only
 *   valid during the call (the receive buffer is reused). Keep a copy if needed.
 * - `closed` resolves exactly once with the reason the link ended, whoever
 *   ended it; `close()` is idempotent.
 */
export interface Link {
  /** What the link is made of, for whoever shows it (the console's module column). */
  readonly kind: LinkKind;
  /** Human-readable peer description: "vde_plug pid 4242", "stdio". */
  readonly description: string;
  /** Queue one frame towards the far end; drop and count when it cannot. */
  send(frame: Uint8Array): void;
  /** Receiver of arriving frames; the view is valid only during the call. */
  onFrame: FrameHandler;
  /** Resolves when the link is gone, with the reason. */
  readonly closed: Promise<string>;
  /** Ends the link; resolves `closed` if it has not resolved yet. */
  close(reason?: string): void;
  /** Counters of what this link carried and dropped. */
  readonly stats: LinkStats;
  /**
   * Optional: the signal that killed the process this link ran (a `cmd://` command), set before `closed`
   * resolves with that death as its reason; null (or absent) otherwise. A field, so that whoever must tell a
   * death by its own stop signal from another need not read it back out of the reason's sentence.
   */
  readonly killedBy?: Deno.Signal | null;
  /**
   * Optional: true when the link ended of a failure its owner must report (a `cmd://` command that exited
   * non-zero or was killed, a cable that never connected), set before `closed` resolves; false (or absent)
   * when it simply ended (end of input, closed by its peer or owner).
   */
  readonly failed?: boolean;
  /**
   * Optional: where the far end is now (`from 10.0.0.2:41234`), for a link whose far end moves over its
   * life, which a description given once cannot follow: a cable listener's session, each of whose
   * connections comes from its own address. The console shows it after the description.
   */
  readonly farEnd?: string;
  /**
   * Optional flow control, output side: true while frames sent here are
   * being queued because the far end is not keeping up (soon they drop).
   * A sender that can wait (a TCP stack) holds new data until `onDrain`.
   */
  readonly congested?: boolean;
  /** Optional: called once the queue behind `congested` has emptied. Set by the sender. */
  onDrain?: (() => void) | null;
  /**
   * Optional flow control, input side: frames this link emits go to `peer`
   * (null: no longer). A link that can hold its output back watches
   * `peer.congested` and `peer.onDrain`; `plug` calls this.
   */
  feeds?(peer: FlowPeer | null): void;
}

/**
 * What a source watches of where its frames go: a Link's output-side flow
 * control, or the same two members on something that is not a whole link
 * (a switch thread's ring).
 */
export type FlowPeer = Pick<Link, "congested" | "onDrain">;

/**
 * The link a source's frames go to, watched for flow control: `set` hooks
 * the source's drain handler onto the new peer (and off the old one);
 * `congested` reads the peer's state. A peer without flow control (or none)
 * never counts as congested.
 */
export class CongestionWatch {
  #peer: FlowPeer | null = null;
  readonly #onDrain: () => void;

  constructor(onDrain: () => void) {
    this.#onDrain = onDrain;
  }

  /** Watches `peer` from now on (null: nothing). */
  set(peer: FlowPeer | null): void {
    const prev = this.#peer;
    if (prev !== null && prev.onDrain === this.#onDrain) prev.onDrain = null;
    this.#peer = peer !== null && "congested" in peer ? peer : null;
    if (this.#peer !== null) this.#peer.onDrain = this.#onDrain;
  }

  /** True while the watched peer is backed up. */
  get congested(): boolean {
    return this.#peer !== null && this.#peer.congested === true;
  }
}

/**
 * What a link is made of: "vde" for a vde_switch datagram endpoint (either
 * side of the unix socket), "stream" for a byte stream (stdio, a pipe, a
 * socket), otherwise the VNL scheme or subsystem that made it. A link says
 * it, so nobody guesses from its class or its description.
 */
export type LinkKind =
  | "vde"
  | "tap"
  | "stream"
  | "cmd"
  | "udp"
  | "vxlan"
  | "vxvde"
  | "slirp"
  | "wire"
  | "null"
  | "node"
  | "seqpacket"
  | "cable"
  | "memory";

/** Receives one borrowed frame. */
export type FrameHandler = (frame: Uint8Array) => void;

/** Counters kept by every link. */
export interface LinkStats {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Frames dropped on the way out (queue full, peer gone, too large). */
  dropsOut: number;
  /** Frames dropped on the way in (malformed, too large). */
  dropsIn: number;
}

/** A fresh set of zero counters. */
export function newLinkStats(): LinkStats {
  return { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, dropsOut: 0, dropsIn: 0 };
}

/** A handler that discards frames; the default `onFrame` of a new link. */
export const discard: FrameHandler = () => {};

/**
 * A handler that drops frames, as a listener: unlike `discard` (nobody listens yet, so a stream link holds
 * what it read and waits), the link reads on and so sees its end.
 */
export const dropFrames: FrameHandler = () => {};

/**
 * Small base for links: the closed promise, idempotent close and counters.
 * Subclasses implement `send` and `teardown`.
 */
export abstract class BaseLink implements Link {
  abstract readonly kind: LinkKind;
  readonly stats: LinkStats = newLinkStats();
  readonly closed: Promise<string>;
  #resolve!: (reason: string) => void;
  #ended = false;
  #onFrame: FrameHandler = discard;
  #attached: Promise<void> | null = null;
  #resolveAttached: (() => void) | null = null;

  constructor(public description: string) {
    this.closed = new Promise((r) => (this.#resolve = r));
  }

  /** Receiver of arriving frames (`discard` until someone listens). */
  get onFrame(): FrameHandler {
    return this.#onFrame;
  }

  set onFrame(handler: FrameHandler) {
    this.#onFrame = handler;
    if (handler !== discard) this.#markAttached();
  }

  /**
   * Resolves once a handler other than `discard` has been set, or the link
   * has closed. A byte-stream link decodes nothing before then: what it has
   * read is held, the rest waits in the pipe, instead of being decoded into
   * frames nobody receives (the second link of `vde plug` is opened after
   * the first one is already up).
   */
  protected whenAttached(): Promise<void> {
    if (this.#onFrame !== discard || this.#ended) return Promise.resolve();
    this.#attached ??= new Promise((r) => (this.#resolveAttached = r));
    return this.#attached;
  }

  #markAttached(): void {
    this.#resolveAttached?.();
    this.#resolveAttached = null;
  }

  /** True once the link has ended. */
  get isClosed(): boolean {
    return this.#ended;
  }

  abstract send(frame: Uint8Array): void;

  /** Releases the link's resources; called once by close(). */
  protected abstract teardown(): void;

  close(reason = "closed"): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      this.teardown();
    } finally {
      this.#resolve(reason);
      this.#markAttached();
    }
  }

  /**
   * Counts `frame` as sent, or as dropped when the link has ended.
   *
   * @returns false when the frame must be dropped
   */
  protected countOut(frame: Uint8Array): boolean {
    if (this.#ended) {
      this.stats.dropsOut++;
      return false;
    }
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    return true;
  }

  /**
   * Hands a received frame to onFrame, counting it; never throws. Anything
   * shorter than MIN_FRAME is no frame: it is counted in dropsIn and said once
   * here, for every link alike (a stream's length field, a datagram, a cable's
   * record can each carry 1-13 bytes), instead of reaching a switch that
   * drops it or a tap whose write of it fails.
   */
  protected deliver(frame: Uint8Array): void {
    if (frame.length < MIN_FRAME) {
      this.stats.dropsIn++;
      logOnce(`runt:${this.description}`, runtLine(this.description, frame.length));
      return;
    }
    this.stats.framesIn++;
    this.stats.bytesIn += frame.length;
    try {
      this.onFrame(frame);
    } catch (err) {
      this.stats.dropsIn++;
      logOnce(`onFrame:${this.description}`, `frame handler failed on ${this.description}: ${err}`);
    }
  }
}

/** The line a frame of `length` bytes (0-13) that `where` dropped is said with. */
export function runtLine(where: string, length: number): string {
  return `${where}: dropped a ${length}-byte frame (shorter than an Ethernet header)`;
}

/**
 * Once-said lines. Each key is said once; a key names a link (its description, which a local user chooses
 * anew per connection), so a user who connects over and over, each time sending a runt or causing a failed
 * send, would still make a line per connection. So the keys' kind (what precedes the key's first ':', e.g.
 * `runt`) is also rate-limited per process, as a switch's refused ctl requests are: the first
 * ONCE_LINES_PER_WINDOW lines of each kind a minute are said in full, the rest as one count at the minute's
 * end. Kinds are the code's own prefixes, a handful, so the map of limiters stays small.
 */
const logged = new Set<string>();
const byKind = new Map<string, RateLimitedLog>();
/** Lines of one kind said in full per window; the rest are counted. */
export const ONCE_LINES_PER_WINDOW = 10;
let onceWindowMs = 60_000;

/** Logs a message once per key, and at most ONCE_LINES_PER_WINDOW a minute per kind, so a hostile peer cannot flood the log. */
export function logOnce(key: string, message: string): void {
  if (logged.has(key)) return;
  if (logged.size > 10_000) logged.clear();
  logged.add(key);
  const colon = key.indexOf(":");
  logOfKind(colon < 0 ? key : key.slice(0, colon), message);
}

/**
 * Logs a line whose caller already says it once per event of its own (a switch port's first oversize frame
 * per activation), under `kind`'s limit of ONCE_LINES_PER_WINDOW a minute that once-said lines share.
 */
export function logOfKind(kind: string, message: string): void {
  let limiter = byKind.get(kind);
  if (limiter === undefined) {
    limiter = new RateLimitedLog(
      (m) => log("vde", m),
      ONCE_LINES_PER_WINDOW,
      onceWindowMs,
      `${kind} line(s)`,
    );
    byKind.set(kind, limiter);
  }
  // A link's description may be a peer's words (a switch client's request): a newline or a terminal escape
  // in them forges no line.
  limiter.line(printable(message));
}

/** For tests: says the counts held back, forgets the kinds' windows, and makes new ones `ms` long. */
export function setOnceLineWindow(ms: number): void {
  for (const limiter of byKind.values()) limiter.close();
  byKind.clear();
  onceWindowMs = ms;
}
