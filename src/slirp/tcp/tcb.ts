/**
 * One TCP endpoint (RFC 9293) facing the guest: the state machine, its
 * buffers and timers, with no I/O of its own.
 *
 * Theory of operation. A `TcpConnection` is driven from three sides:
 * `input` (a checked segment from the peer), the owner's calls (data written
 * into the send ring and committed, data consumed from the receive ring, a
 * half-close, an abort) and `poll` (timers, on the owner's clock). It
 * answers by emitting segments through its {@link TcbHost} and by events
 * (established, readable, writable, closed).
 *
 * Send side: the send ring holds every byte from `sndUna` (oldest
 * unacknowledged) to the end of the data the owner committed; its head is
 * sequence number `sndBase`. `sndNxt` is the next byte to send and `sndMax`
 * the highest ever sent: after a retransmission timeout `sndNxt` goes back
 * to `sndUna` and the window is sent again in slow start (go-back-N); an ACK
 * past `sndNxt` moves it forward. The FIN, once queued, takes the sequence
 * number just after the data. What may be in flight is the smaller of the
 * peer's window and the congestion window (and, on a short path behind a
 * switch that drops what it cannot queue, that queue: `#flightCap`): slow
 * start (RFC 5681), then
 * CUBIC's growth and 0.7 decrease (RFC 9438, cc_cubic.ts; NewReno's
 * additive increase and halving when configured), fast retransmit on the
 * third duplicate ACK, fast recovery with partial ACKs (RFC 6582) for a
 * peer without SACK. A SACK recovery ends with the window at ssthresh,
 * where it stayed all through (RFC 6675); NewReno's inflated one deflates
 * to at most what is still in flight and a segment (RFC 6582). The retransmission timeout follows RFC 6298 with
 * Karn's rule (one segment timed at a time, never a retransmitted one).
 * A zero window starts the persist timer; probes are empty segments one
 * below `sndUna`, which the peer answers with its window. It runs while
 * data waits behind a window too small to use: an ACK that stops it
 * leaves `output` to send or to start it again.
 *
 * SACK and timestamps are offered in our SYN and used when the peer's SYN
 * offers them too (a peer without them gets plain segments). With SACK the
 * sender keeps a scoreboard: the ranges above `sndUna` the peer reported
 * holding (blocks below the ACK, empty or past `sndMax` are ignored), and
 * the ranges it retransmitted. Loss recovery then follows RFC 6675: it
 * starts at the third duplicate ACK or once more than two segments are
 * SACKed, reduces the window (as the congestion control says), and sends
 * while the pipe (bytes still in the network: holes not yet lost, plus
 * retransmissions) is below cwnd: lost holes first, then new data, then
 * another hole below the highest SACKed byte. A retransmission still
 * missing once the peer SACKs data first sent after it was lost too, and is
 * sent again (as Linux did before RACK) rather than left to the timeout: a
 * queue that overflows in bursts drops retransmissions as readily as
 * originals. After a timeout, go-back-N skips SACKed ranges, and from the
 * second timeout in a row the scoreboard is dropped (the peer may have
 * reneged).
 * With timestamps, every segment carries TSval (our millisecond clock,
 * offset per connection) and TSecr (the peer's TS.Recent, RFC 7323 4.3);
 * every ACK that advances `sndUna` gives an RTT sample unless its echo is
 * older than the last timeout; PAWS drops segments stamped older than
 * TS.Recent. Options come out of the MSS: a data segment's payload is the
 * MSS less the options it carries.
 *
 * Links that reorder or stall: a fast recovery or a timeout whose first
 * retransmission is answered with an older timestamp was spurious (the
 * original was late; RFC 3522) and is undone, and after a spurious
 * recovery the duplicate threshold grows by one (up to 16). A hole with
 * too few duplicates behind it (a small window) is declared lost once a
 * fraction of the RTT has passed (after RFC 8985's reordering window), and
 * with SACK a flight that draws no ACK for two RTTs resends its last
 * segment as a probe (RFC 8985 7), whose SACK then reveals the holes: the
 * retransmission timeout is left for lost retransmissions.
 *
 * Receive side: the receive ring holds bytes from `rcvBase` (oldest not yet
 * consumed by the owner) to `rcvNxt`; out-of-order segments are written at
 * their offset past the contents, and a short sorted list of received ranges
 * (bounded) remembers them. The advertised window is the free space of the
 * ring as allocated, so every byte offered has a place, and on a short path
 * (a switch on this host) no more than a few frames less than what the
 * switch's socket queues for us (`switchQueueFrames`, read by the slirp
 * thread; unknown, or once a frame was lost there:
 * `receiveWindowSegments`) past `rcvNxt`, so that a switch that drops what
 * it cannot queue (Debian's) never has to; bytes already received and held
 * for the owner are not in that queue and do not count against it; a ring
 * more than half full doubles (autotuning) up to its maximum while the
 * engine-wide buffer budget (and its class's, see {@link RingBudget}) allows. The right edge only moves right (scaling rounds a
 * window field down by less than one unit; data up to the largest edge ever
 * offered is still accepted) and only by useful steps (receiver-side silly
 * window avoidance). ACKs are coalesced: every `ackEvery` in-order segments
 * (`ackEveryLarge` for jumbo ones), at the owner's `flushAck`, or after
 * `delayedAckMs`. A jumbo segment without PSH (the peer's write goes on)
 * does not ask for the owner's flush: flushed at the end of every batch,
 * a slirp thread that keeps up with the frames sent an ACK every 1.4 of
 * them (MTU 65520 guest->host, 49-80 ACKs per MB against 31 with the
 * flush left to PSH, each costing the switch, the guest's plug and the
 * guest a frame); after the delayed-ACK timer fired (the peer may have
 * waited for it: a congestion window below ackEveryLarge segments after a
 * timeout) the next QUICK_ACKS segments ask for the flush again, as Linux's
 * quick ACKs do; out-of-order data, a
 * filled hole and a FIN are ACKed at once so the peer's fast retransmit
 * works; with SACK every ACK reports the out-of-order ranges (the one that
 * grew last first, then the highest; 3 blocks with timestamps, else 4).
 * Empty out-of-window segments are answered at a limited rate.
 *
 * Invariants: `sndUna <= sndNxt <= sndMax`; `rcvBase <= rcvNxt <= rcvAdvRight`
 * (sequence order); `rcvAdvRight - rcvBase` never exceeds the receive ring's
 * capacity; the rings never exceed their `max`; nothing on the data path
 * allocates except the views needed to copy bytes (and a ring's growth).
 */
import { checksumBuffer } from "../../wire/checksum_wasm.ts";
import {
  setTcpChecksum,
  TCP_ACK,
  TCP_FIN,
  TCP_HEADER_LEN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  tcpAckOptionsLength,
  type TcpRepr,
  writeTcpAckOptions,
  writeTcpBase,
  writeTcpHeader,
} from "../../wire/tcp.ts";
import { ByteRing, pow2AtLeast } from "./ring.ts";
import { addRange, covered, removeRange, trimRanges } from "./ranges.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from "./seq.ts";
import { Cubic } from "./cc_cubic.ts";
import type { TcpStats } from "./stats.ts";

/** Connection states; `SynPending` is a received SYN not yet answered (the host connect is in progress). */
export const TcpState = {
  Closed: 0,
  SynPending: 1,
  SynSent: 2,
  SynReceived: 3,
  Established: 4,
  FinWait1: 5,
  FinWait2: 6,
  CloseWait: 7,
  Closing: 8,
  LastAck: 9,
  TimeWait: 10,
} as const;
/** One of {@link TcpState}. */
export type TcpState = typeof TcpState[keyof typeof TcpState];

const STATE_NAMES = [
  "CLOSED",
  "SYN-PENDING",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
];

/** The name of a state, as RFC 9293 spells it. */
export function stateName(s: TcpState): string {
  return STATE_NAMES[s] ?? "?";
}

/** Tunables shared by the connections of one engine. */
export interface TcbConfig {
  /** Largest payload we accept (advertised as MSS) and send. */
  mss: number;
  /**
   * Largest send ring, bytes (rounded up to a power of two): what may be in
   * flight at most. Larger when the switch holds more full-size frames for a
   * port (`switchQueueFrames` less `QUEUE_MARGIN_FRAMES`: about 906 behind
   * ours, so 1.3 MB in flight at MSS 1460 and a 2 MiB ring; behind Debian's,
   * 93, it stays 512 KiB with 88 frames in flight on a short path, see
   * `#flightCap`), and never more in flight than that, so a download
   * does not outrun the switch's queue towards the guest. At MTU 1500
   * host->guest behind our switch each round of the guest's ACKs then finds
   * room for more: 6 alternating pairs (iperf3 3 s after an upload, as the
   * bench runs it; two cores shared with other work), 512 KiB against this,
   * 2,612/2,940, 2,343/2,486, 2,670/2,837, 2,242/2,313, 2,258/2,576 and
   * 2,465/2,939 Mbit/s. Tried: the whole 2 MiB ring in flight, as fast but
   * with more retransmits counted by iperf3 (1-20 a run against 0-5).
   */
  sendBufferSize: number;
  /**
   * The same when our MSS is above `LARGE_SEGMENT` bytes, if larger. At MTU
   * 65520 host->guest, a download through our switch to a `vde_plug` tap,
   * 2 MiB instead of 512 KiB took 10-15% less CPU per MB in our switch and
   * slirp threads (fewer, larger batches); it needs a switch that holds
   * frames for a full reader (ours and vde_switch do) rather than drop them.
   */
  sendBufferSizeLarge: number;
  /** Largest receive ring, bytes: the largest window we advertise (rounded up to a power of two). */
  receiveBufferSize: number;
  /**
   * The same when our MSS is above `LARGE_SEGMENT` bytes (a jumbo MTU), if
   * larger. At MTU 65520 a guest's Linux sending through our switch and its
   * `vde_plug` tap saw a round trip of about 1.5 ms at 3 Gbit/s (its own
   * queue), more than 512 KiB: `ss -ti` in the guest showed it limited by
   * our window 39% of the time (3% with 4 MiB).
   */
  receiveBufferSizeLarge: number;
  /**
   * Largest window we advertise on a short path, in the peer's segments
   * (`effMss`; `mss` at most) (0: no limit but the ring's). What the peer may have in flight towards us
   * is what a switch in between must queue for us when we are late, and
   * Debian's vde_switch queues about 90 full-size frames for a port (its
   * socket's send buffer) and drops the rest. Behind it, iperf3 from a
   * guest through our slirp with a 512 KiB window lost about 200 frames
   * there per 3 s run on a loaded machine (the guest resending as many),
   * none with 64 segments. 88 (128 KB at MSS 1460, what libslirp offers)
   * stays below the switch's 93 and was faster behind our own switch
   * (median of 3 rounds 1,030 against 876 Mbit/s). In segments, not
   * bytes: the switch's queue counts frames. Not applied to a jumbo MSS
   * (above `LARGE_SEGMENT`). See `shortPathRttMs` for where. The limit
   * when `switchQueueFrames` is unknown, and the most it allows once a
   * frame was lost on a short path.
   */
  receiveWindowSegments: number;
  /**
   * Full-size frames the switch's socket queues for us before its sender
   * must drop or hold them (its send buffer; 0: unknown, then
   * `receiveWindowSegments` applies). The slirp thread reads it when it
   * plugs in (io/unix_peer_queue.ts): 93 for Debian's vde_switch with the
   * system's default buffer, about 900 for ours (a 2 MiB buffer, and it
   * holds frames beyond that rather than drop them). On a short path the
   * window stays a few frames below it: behind Debian's switch as capped
   * as before, behind ours as large as the ring. Behind ours, iperf3 from
   * a guest (16 alternating rounds, loaded machine): 0.64-2.9x the rate
   * with the 88-segment cap round by round (median 1.09x, geometric mean
   * 1.21x; the cap starved the guest when this thread stalled), the guest
   * resending 0-1 segments a run against 0-24 (tail loss probes).
   */
  switchQueueFrames: number;
  /**
   * `receiveWindowSegments` applies while the smallest round trip measured
   * is below this, ms: a switch on this host, not a long path. Measured by
   * our data's ACKs and, with timestamps, by the echo in the peer's data
   * (ms: 0 or 1 here, however loaded the machine; a handshake alone took
   * over 2 ms at times, and the uncapped window lost 167 frames). On a
   * lossy path of 2-10 ms (wirefilter: 2%, 3+-2 ms each way) a 64-segment
   * window stalled a guest behind each hole being recovered: 50 MB up in
   * 8.3 s against 3.8 without it (libslirp 16 s).
   */
  shortPathRttMs: number;
  /** Rings start at this size and double on demand. */
  initialBufferSize: number;
  /**
   * Budget for all rings of the connections sharing one stats object (one
   * engine): rings stop growing past their initial size while the total is
   * above it.
   */
  maxBufferBytes: number;
  /** Offer window scaling. */
  windowScaling: boolean;
  /** Offer and accept selective acknowledgments (RFC 2018). */
  sack: boolean;
  /** Offer and accept timestamps (RFC 7323). */
  timestamps: boolean;
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  /** Delayed-ACK timeout. */
  delayedAckMs: number;
  /** ACK at once after this many in-order segments. */
  ackEvery: number;
  /**
   * The same for segments above `LARGE_SEGMENT` bytes (jumbo frames). An
   * ACK frame costs every hop between the guest and us (the switch, a tap
   * plug, the guest's kernel) as much as a data frame; at MTU 65520, ACKing
   * every 4 of them (36 KB, about what Linux's GRO acknowledges at once)
   * instead of every 2: Debian's `vde_plug` took 0.48-0.53 ms of CPU per MB
   * against 0.58-0.66, our switch and slirp less too. Every 8 (72 KB): once
   * the slirp thread took jumbo frames in batches (slirp_worker.ts, a round
   * of 8 KB naps), 4 alternating pairs guest->host: CPU per MB of the
   * whole chain (switch, plugs, slirp, both iperf3) 2.63-2.85 ms against
   * 2.83-2.96, lower in every pair; the guest saw an ACK per 6.8 segments
   * instead of 3.7, and was window-limited 1.3% of the time.
   */
  ackEveryLarge: number;
  /** SYN or SYN-ACK retransmissions before giving up. */
  synRetries: number;
  /** Consecutive data retransmission timeouts before giving up. */
  dataRetries: number;
  /** Idle time before the first keep-alive probe (Infinity: none). */
  keepAliveIdleMs: number;
  keepAliveIntervalMs: number;
  keepAliveProbes: number;
  /** TIME-WAIT duration (2 MSL). */
  timeWaitMs: number;
  /** Out-of-order ranges kept before further out-of-order segments are dropped. */
  maxOutOfOrderRanges: number;
  /** Initial congestion window in segments (RFC 6928: 10). */
  initialWindowSegments: number;
  /** Growth and decrease of the congestion window: CUBIC (RFC 9438) or NewReno's (RFC 5681). */
  congestionControl: "cubic" | "newreno";
}

/** Defaults for {@link TcbConfig}. */
export const DEFAULT_TCB_CONFIG: TcbConfig = {
  mss: 1460,
  sendBufferSize: 512 * 1024,
  sendBufferSizeLarge: 2 * 1024 * 1024,
  receiveBufferSize: 512 * 1024,
  receiveBufferSizeLarge: 2 * 1024 * 1024,
  receiveWindowSegments: 88,
  switchQueueFrames: 0,
  shortPathRttMs: 2,
  initialBufferSize: 16 * 1024,
  maxBufferBytes: 256 * 1024 * 1024,
  windowScaling: true,
  sack: true,
  timestamps: true,
  initialRtoMs: 1000,
  minRtoMs: 200,
  maxRtoMs: 60_000,
  delayedAckMs: 10,
  ackEvery: 2,
  ackEveryLarge: 8,
  synRetries: 5,
  dataRetries: 12,
  keepAliveIdleMs: 2 * 3600_000,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
  timeWaitMs: 10_000,
  maxOutOfOrderRanges: 32,
  initialWindowSegments: 10,
  congestionControl: "cubic",
};

/**
 * Ring memory shared by a class of connections whose peers are not to be
 * trusted with the engine-wide budget (an inbound forward's clients: anyone
 * on the host). Their rings grow past `initialBufferSize` only while all of
 * theirs together stay within `limit`.
 */
export interface RingBudget {
  /** Bytes the rings of the connections on this budget hold now (kept by the connections). */
  used: number;
  /** The most their rings may grow to together, bytes. */
  readonly limit: number;
}

/** What a connection needs from its owner. */
export interface TcbHost {
  /** The clock, milliseconds. */
  now(): number;
  /**
   * Sends a segment (checksum filled) from `src` to `dst`; the view is
   * borrowed. `frame` is the buffer `segment` lies in, with
   * `SEGMENT_HEADROOM` bytes before it that the owner may overwrite.
   */
  emit(src: Uint8Array, dst: Uint8Array, segment: Uint8Array, frame: Uint8Array): void;
  /** The handshake completed. */
  onEstablished(): void;
  /** In-order data, or the peer's FIN, became available. */
  onReadable(): void;
  /** An ACK freed space in the send ring. */
  onWritable(): void;
  /** The connection entered TIME-WAIT: its buffers are gone; only timers remain. */
  onTimeWait(): void;
  /** The connection is over. `reason` is null for an orderly close, else why ("reset", "timeout", ...). */
  onClosed(reason: string | null): void;
  /** A timer deadline moved (maybe earlier): read `deadline`. */
  onTimer(): void;
  /** An ACK is being held for coalescing: the owner may call `flushAck` after its batch. */
  onAckPending(): void;
  /**
   * True while the link towards the peer is backed up: new data waits (the
   * owner calls `output` again once it drains) instead of being dropped there.
   */
  outputBlocked(): boolean;
  /**
   * Optional ring storage pool: a new ring's buffer of `size` bytes, or
   * null (the connection allocates one). A connection's two 16 KiB rings
   * cost more to allocate, zero and free than the rest of its handshake.
   */
  takeBuffer?(size: number): Uint8Array<ArrayBuffer> | null;
  /**
   * A released ring's buffer (`send`: the send ring's), which the owner
   * may reuse once no host read or write of its own holds a view of it.
   */
  giveBuffer?(buf: Uint8Array<ArrayBuffer>, send: boolean): void;
}

/** At most one ACK per this many ms answers empty out-of-window segments, stray RSTs and SYNs. */
const CHALLENGE_ACK_INTERVAL_MS = 10;
/** TS.Recent older than this no longer rejects segments (RFC 7323 5.5: 24 days). */
const PAWS_IDLE_MS = 24 * 86400_000;
/** RFC 6675 DupThresh: a hole with more than (DupThresh - 1) segments SACKed above it is lost. */
const DUP_THRESH = 3;
/** Frames of a switch's queue left for its other traffic to us (see `switchQueueFrames`). */
const QUEUE_MARGIN_FRAMES = 5;
/** Held ACKs flushed at the end of a batch after the delayed-ACK timer fired (see the header). */
const QUICK_ACKS = 16;
/** Segments longer than this are ACKed every `ackEveryLarge`, not every `ackEvery`. */
const LARGE_SEGMENT = 4096;
/** The largest the duplicate threshold grows on a path that reorders. */
const MAX_DUP_THRESH = 16;
/** What a tail loss probe allows for the peer's delayed ACK of a lone segment (RFC 8985's WCDelAckT is 200). */
const TLP_DELAYED_ACK_MS = 50;
/** The shortest probe timeout (as Linux's): a busy host delays ACKs by a few ms, and a probe then is waste. */
const TLP_MIN_MS = 10;

/**
 * Bytes in front of every segment built here, which the owner may fill
 * with the IP and Ethernet headers (at least 14 + 40): the segment then
 * becomes a frame where it was built (`TcbHost.emit`), not in a copy.
 */
export const SEGMENT_HEADROOM = 64;
// One scratch buffer for every segment built: `emit` borrows it. It lives in the checksum module's
// memory, so the checksum of each segment is a SIMD sum in place, not a copy and a sum.
const FRAME = checksumBuffer(SEGMENT_HEADROOM + TCP_HEADER_LEN + 40 + 65535);
const SCRATCH = FRAME.subarray(SEGMENT_HEADROOM);
let lastView: Uint8Array = SCRATCH.subarray(0, 0);
function scratchView(len: number): Uint8Array {
  if (lastView.length !== len) lastView = SCRATCH.subarray(0, len);
  return lastView;
}

/** A guest-facing TCP endpoint. */
export class TcpConnection {
  state: TcpState = TcpState.Closed;
  /** Our address and port (the source of what we emit). */
  readonly localAddr: Uint8Array;
  readonly localPort: number;
  /** The peer's address and port. */
  readonly remoteAddr: Uint8Array;
  readonly remotePort: number;
  readonly cfg: TcbConfig;
  readonly stats: TcpStats;
  #host: TcbHost;

  // Send sequence space.
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  /** The peer's window, scaled, bytes. */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Shift applied to the peer's window fields. */
  sndShift = 0;
  maxSndWnd = 0;
  /** The most we have in flight, bytes, beyond the send ring's bound (see `sendBufferSize`). */
  #sendCap = Infinity;
  /** Sequence number of the send ring's head byte. */
  sndBase = 0;
  sndBuf: ByteRing | null = null;
  /** The owner closed its side: a FIN follows the data. */
  finQueued = false;
  /** Largest payload per segment we send. */
  effMss = 536;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** Sequence number of the receive ring's head byte. */
  rcvBase = 0;
  /** Right edge of the largest window advertised. */
  rcvAdvRight = 0;
  /** Shift applied to the windows we advertise. */
  rcvShift = 0;
  rcvBuf: ByteRing | null = null;
  /** The peer's FIN was received in order. */
  peerFin = false;
  /** Sequence number of an out-of-order FIN, or -1. */
  #rcvFinSeq = -1;
  #oooStart: number[] = [];
  #oooEnd: number[] = [];
  #peerWscale = -1;
  #weScale = false;
  /** SACK is on for this connection (both ends offered it). */
  sackOk = false;
  /** Timestamps are on for this connection (both ends offered them). */
  tsOk = false;
  /** The peer's timestamp to echo (RFC 7323 TS.Recent) and when it came. */
  #tsRecent = 0;
  #tsRecentAt = 0;
  /** rcvNxt as of our last segment (RFC 7323 Last.ACK.sent). */
  #lastAckSent = 0;
  /** Start of the latest out-of-order segment: its SACK block is reported first. */
  #oooLatest = 0;
  /** SACK blocks of the segment being built, `[left, right, ...]`. */
  #sackOut: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  // The SACK scoreboard: what the peer reported holding above sndUna, sorted, disjoint.
  #sbStart: number[] = [];
  #sbEnd: number[] = [];
  /** Bytes in the scoreboard. */
  sackedBytes = 0;
  // What SACK recovery retransmitted and the peer has not acknowledged yet, sorted, disjoint
  // (RFC 6675's HighRxt, kept per range so that a hole skipped while it was not yet lost is
  // still sent once it is, and one retransmitted in the previous recovery is not sent twice).
  #rxStart: number[] = [];
  #rxEnd: number[] = [];
  // Each SACK retransmission not yet known to have arrived, in the order sent, with sndMax when it
  // left: once the peer SACKs data above that mark (sent after it), the retransmission was lost too
  // and its range leaves #rxStart/#rxEnd, to be sent again without waiting for the timeout.
  #lrStart: number[] = [];
  #lrEnd: number[] = [];
  #lrMark: number[] = [];
  /** The tail loss probe's deadline (Infinity: none), and whether probes wait for an ACK that moves on. */
  #tlpAt = Infinity;
  #tlpOut = false;
  /** When a hole that too few duplicates reported counts as lost anyway (Infinity: none pending). */
  #reoAt = Infinity;
  /**
   * Duplicate ACKs (and segments SACKed above a hole) that mean loss: 3, one more after every
   * recovery that turned out spurious, since the path reorders.
   */
  dupThresh = DUP_THRESH;
  // Undoing a spurious fast retransmit (RFC 3522 Eifel detection, RFC 4015 response): the window
  // before the recovery, and the timestamp of its first retransmission.
  #undoArmed = false;
  #rtoUndoArmed = false;
  #undoNxt = 0;
  #undoCwnd = 0;
  #undoSsthresh = 0;
  #rxTs = 0;
  /** Our timestamp clock at the last retransmission timeout: older echoes give no RTT sample. */
  #tsAtTimeout = 0;

  // Congestion control.
  cwnd = 0;
  ssthresh = 0x7fffffff;
  #cwndAcc = 0;
  /** CUBIC's state, or null for NewReno's additive increase and halving. */
  readonly #cubic: Cubic | null;
  dupAcks = 0;
  inRecovery = false;
  #recover = 0;

  // Round-trip estimation.
  srtt = 0;
  /** The smallest round trip measured, ms (Infinity before the first; see `shortPathRttMs`). */
  minRtt = Infinity;
  rttvar = 0;
  rto: number;
  #rttSeq = 0;
  #rttStart = -1;
  #backoffs = 0;
  /** A SYN was resent at once after a stale ACK in SYN-SENT. */
  #synRetriedOnAck = false;
  #synTries = 0;

  // Timers (absolute ms on the host clock; Infinity when off).
  rtxAt = Infinity;
  ackAt = Infinity;
  /** The owner was asked to flush this connection's ACK at the end of its batch (`onAckPending`). */
  #ackQueued = false;
  /** Jumbo segments still to ask for the end-of-batch flush whatever their PSH (after a delayed-ACK timeout). */
  #quickAcks = 0;
  persistAt = Infinity;
  keepAt = Infinity;
  closeAt = Infinity;
  #persistBackoff = 0;
  #forceSmall = false;
  /** A partial last segment waits: the owner is adding more data in this round (`commitSend`). */
  #holdTail = false;
  /** The last `output` left such a partial segment unsent, or the persist timer unarmed (see `releaseTail`). */
  #tailHeld = false;
  #lastChallenge = -Infinity;
  #keepProbes = 0;
  ackPending = 0;
  /** Data with PSH arrived since the owner last cleared this: the sender finished a write; deliver now. */
  pushed = false;
  /** Why the connection closed, once it has. */
  closeReason: string | null = null;
  /** The ring budget of this connection's class, beside the engine-wide one; null: none. */
  readonly #budget: RingBudget | null;

  constructor(
    host: TcbHost,
    cfg: TcbConfig,
    stats: TcpStats,
    localAddr: Uint8Array,
    localPort: number,
    remoteAddr: Uint8Array,
    remotePort: number,
    iss: number,
    budget: RingBudget | null = null,
  ) {
    this.#host = host;
    this.cfg = cfg;
    this.stats = stats;
    this.#budget = budget;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
    this.iss = iss >>> 0;
    this.#tsAtTimeout = this.#tsClock();
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.sndBase = seqAdd(this.iss, 1);
    this.#recover = this.iss;
    this.rto = cfg.initialRtoMs;
    this.effMss = Math.max(64, Math.min(cfg.mss, remoteAddr.length === 16 ? 1220 : 536));
    this.#cubic = cfg.congestionControl === "cubic" ? new Cubic(this.effMss) : null;
  }

  /** The earliest timer, or Infinity. */
  get deadline(): number {
    return Math.min(
      this.rtxAt,
      this.ackAt,
      this.persistAt,
      this.keepAt,
      this.closeAt,
      this.#reoAt,
      this.#tlpAt,
    );
  }

  /** True from ESTABLISHED on, until CLOSED (the states in which data may flow). */
  get synchronized(): boolean {
    return this.state >= TcpState.Established;
  }

  /** Bytes of in-order data the owner may read now. */
  get readableBytes(): number {
    return this.rcvBuf === null ? 0 : this.rcvBuf.length;
  }

  /** Bytes the owner may still commit to the send ring. */
  get sendSpace(): number {
    if (this.finQueued || this.sndBuf === null || !this.#canQueue()) return 0;
    return this.sndBuf.max - this.sndBuf.length;
  }

  /** Bytes in the send ring not sent yet. */
  get unsentBytes(): number {
    return this.sndBuf === null ? 0 : Math.max(0, this.sndBuf.length - seqDiff(this.sndMax, this.sndUna));
  }

  /** Bytes sent and not yet acknowledged (data and SYN/FIN). */
  get inFlight(): number {
    return seqDiff(this.sndNxt, this.sndUna);
  }

  /** Memory held by the rings. */
  get bufferBytes(): number {
    return (this.sndBuf?.capacity ?? 0) + (this.rcvBuf?.capacity ?? 0);
  }

  // A method, so that the compiler does not narrow `state` across calls that change it.
  #isClosed(): boolean {
    return this.state === TcpState.Closed;
  }

  #canQueue(): boolean {
    const s = this.state;
    return s === TcpState.Established || s === TcpState.CloseWait || s === TcpState.SynReceived ||
      s === TcpState.SynSent;
  }

  // ---------------------------------------------------------------- opening

  /** Active open: sends a SYN. */
  connect(): void {
    this.state = TcpState.SynSent;
    this.#weScale = this.cfg.windowScaling;
    this.#sendSyn(false);
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.#rttStart = this.#host.now();
    this.#rttSeq = this.sndNxt;
    this.rtxAt = this.#host.now() + this.rto;
    this.#host.onTimer();
  }

  /**
   * Passive open, first half: records the peer's SYN without answering it
   * (state SYN-PENDING); `acceptSyn` answers later, `refuseSyn` resets.
   */
  receiveSyn(syn: TcpRepr): void {
    this.state = TcpState.SynPending;
    this.irs = syn.seq;
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.rcvBase = this.rcvNxt;
    this.rcvAdvRight = this.rcvNxt;
    this.#peerOptions(syn);
    this.#negotiate(syn, this.#host.now());
    this.#weScale = this.cfg.windowScaling && syn.wscale >= 0;
    this.#applyScaling();
    this.sndWnd = syn.window;
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = syn.seq;
    this.sndWl2 = this.iss;
  }

  /** Passive open, second half: answers the recorded SYN with a SYN-ACK. */
  acceptSyn(): void {
    if (this.state !== TcpState.SynPending) return;
    this.state = TcpState.SynReceived;
    this.#sendSyn(true);
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.#rttStart = this.#host.now();
    this.#rttSeq = this.sndNxt;
    this.rtxAt = this.#host.now() + this.rto;
    this.#host.onTimer();
  }

  /** Passive open refused: answers the recorded SYN with a RST and closes. */
  refuseSyn(reason = "refused"): void {
    if (this.state !== TcpState.SynPending) return;
    this.#sendRst(0, this.rcvNxt, true);
    this.#close(reason);
  }

  #peerOptions(r: TcpRepr): void {
    const fallback = this.remoteAddr.length === 16 ? 1220 : 536;
    const peer = r.mss > 0 ? r.mss : fallback;
    this.effMss = Math.max(64, Math.min(peer, this.cfg.mss));
    this.#peerWscale = r.wscale;
  }

  /** SACK and timestamps are on when we offer them and the peer's SYN does too. */
  #negotiate(r: TcpRepr, now: number): void {
    this.sackOk = this.cfg.sack && r.sackPermitted;
    this.tsOk = this.cfg.timestamps && r.hasTimestamp;
    if (this.tsOk) {
      this.#tsRecent = r.tsVal;
      this.#tsRecentAt = now;
    }
  }

  /** Our timestamp clock: milliseconds, offset per connection so that it does not reveal the host's uptime. */
  #tsClock(): number {
    return (Math.floor(this.#host.now()) + this.iss) >>> 0;
  }

  #applyScaling(): void {
    if (this.#weScale && this.#peerWscale >= 0) {
      this.sndShift = this.#peerWscale;
      this.rcvShift = this.#ourShift();
    } else {
      this.sndShift = 0;
      this.rcvShift = 0;
    }
  }

  /** The largest window this connection offers now, bytes (see `receiveWindowSegments`). */
  get receiveWindowMax(): number {
    return this.#windowCap();
  }

  /**
   * The window's limit on a short path, bytes, else Infinity (see
   * `receiveWindowSegments` and `switchQueueFrames`). Not for a jumbo MSS:
   * a switch holds a dozen such frames for us, not 88, and a long window is
   * what a jumbo MTU is for (see `receiveBufferSizeLarge`).
   */
  #windowCap(): number {
    const cfg = this.cfg;
    if (cfg.mss > LARGE_SEGMENT || this.minRtt >= cfg.shortPathRttMs) return Infinity;
    let segs = cfg.receiveWindowSegments;
    const queued = cfg.switchQueueFrames;
    if (queued > 0) {
      // What the switch queues for us, less a few frames for its other traffic; once it lost a
      // frame anyway (a sender that drops for another reason), no more than the default.
      const fit = Math.max(1, queued - QUEUE_MARGIN_FRAMES);
      segs = this.stats.shortPathLosses > 0 && segs > 0 ? Math.min(fit, segs) : fit;
    }
    // The peer's segments, not ours: a guest that asked for MSS 536 sends 2.7 times the frames per byte.
    return segs > 0 ? segs * this.effMss : Infinity;
  }

  /** The receive ring's largest size: a jumbo MTU's own when ours is one (see `receiveBufferSizeLarge`). */
  #receiveMax(): number {
    return this.#jumbo(this.cfg.receiveBufferSize, this.cfg.receiveBufferSizeLarge);
  }

  /**
   * What the switch holds for a guest's port in full-size frames, less a few, bytes, when that is
   * more than `sendBufferSize` (see there), else 0: the send ring grows to it, and no more than
   * that is in flight. Not for a jumbo MSS (see `sendBufferSizeLarge`).
   */
  #switchFlight(): number {
    const cfg = this.cfg;
    const fit = (cfg.switchQueueFrames - QUEUE_MARGIN_FRAMES) * cfg.mss;
    return cfg.mss > LARGE_SEGMENT || fit <= cfg.sendBufferSize ? 0 : fit;
  }

  /**
   * The most in flight towards the guest now, bytes: `#sendCap` behind a switch that queues more than
   * the send ring; behind one that queues less and drops the rest (Debian's, 93 frames), on a short
   * path, a few frames less than its queue. Our sender outruns that switch's queue towards the guest's
   * plug, where libslirp (slower) never does: host->guest at MTU 1500, 5 s of iperf3 seen on the
   * guest's tap, with 512 KiB in flight 1,164 segments were resent and the gaps of over 1 ms between
   * frames added up to 660 ms; with 88 frames none were resent (94 ms of gaps); with 132, 730; with 176,
   * 521 and 1.5 s of gaps. In the segments we send, not our MSS: a guest that asked for a smaller one
   * (536) gets as many frames as at 1460, not 2.7 times as many.
   * This cap is what a download behind Debian's switch waits for: counted in `output` (5 s, 785 MB),
   * 99.9% of the sends that stopped for room stopped here, none for want of the host's data
   * (256-320 KB unsent), the rest at the guest's window (1.6-6.6 MB) or cwnd (1 MB). Yet a larger
   * cap was no faster
   * (slirpdl3, alternating single runs on a loaded machine, Mbit/s): 125 frames 1,591, 1,533 and
   * 1,511 against 88's 1,771, 1,740 and 1,749; 105 frames 1,698 and 1,654 against 1,765 and 1,319,
   * resending about 0.4 frames per MB (none at 88); 61 frames 1,637 and 1,329. The guest's plug, at
   * nice 0 among the machine's other work, is preempted for longer than a larger window's surplus
   * takes to fill its queue, and what is lost then costs more than the window gains.
   * Like cwnd, the cap bounds what is in the network (RFC 6675's pipe in a recovery), not
   * `sndNxt - sndUna`: SACKed frames have left the switch's queue, and new data takes their place
   * while a hole is resent.
   */
  #flightCap(): number {
    const cfg = this.cfg;
    if (
      this.#sendCap !== Infinity || cfg.switchQueueFrames <= 0 || cfg.mss > LARGE_SEGMENT ||
      this.minRtt >= cfg.shortPathRttMs
    ) return this.#sendCap;
    return Math.max(1, cfg.switchQueueFrames - QUEUE_MARGIN_FRAMES) * this.#segMss();
  }

  /** A ring's largest size: `large` (if larger) when our MSS is a jumbo MTU's, else `size`. */
  #jumbo(size: number, large: number): number {
    return this.cfg.mss > LARGE_SEGMENT ? Math.max(size, large) : size;
  }

  #initialRing(): number {
    return Math.min(pow2AtLeast(this.cfg.initialBufferSize), pow2AtLeast(this.#receiveMax()));
  }

  /** Doubles `ring` if it may grow and the engine-wide budget (and the connection's own) allows; true when it grew. */
  #grow(ring: ByteRing): boolean {
    const cap = ring.capacity;
    if (cap >= ring.max || this.stats.bufferBytes + cap > this.cfg.maxBufferBytes) return false;
    if (this.#budget !== null && this.#budget.used + cap > this.#budget.limit) return false;
    ring.ensureCapacity(cap * 2);
    this.#held(ring.capacity - cap);
    return true;
  }

  /** Counts `delta` bytes more (or fewer) of ring storage held, engine-wide and in the connection's budget. */
  #held(delta: number): void {
    this.stats.bufferBytes += delta;
    if (this.#budget !== null) this.#budget.used += delta;
  }

  #ourShift(): number {
    const max = pow2AtLeast(this.#receiveMax());
    let s = 0;
    while (s < 14 && (65535 << s) < max) s++;
    return s;
  }

  #sendSyn(withAck: boolean): void {
    // The first window is the receive ring's initial capacity: only allocated space is ever offered.
    const win = Math.min(this.#initialRing(), 65535);
    const wscale = this.#weScale ? this.#ourShift() : -1;
    // A SYN offers what we are configured for; a SYN-ACK only what the peer offered too.
    const ts = withAck ? this.tsOk : this.cfg.timestamps;
    const hlen = writeTcpHeader(SCRATCH, 0, {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq: this.iss,
      ack: withAck ? this.rcvNxt : 0,
      flags: withAck ? TCP_SYN | TCP_ACK : TCP_SYN,
      window: win,
      mss: this.cfg.mss,
      wscale,
      sackPermitted: withAck ? this.sackOk : this.cfg.sack,
      tsVal: ts ? this.#tsClock() : undefined,
      tsEcr: withAck ? this.#tsRecent : 0,
    });
    if (withAck) {
      this.rcvAdvRight = seqAdd(this.rcvNxt, win);
      this.#lastAckSent = this.rcvNxt;
    }
    this.#emit(hlen);
  }

  #establish(): void {
    this.state = TcpState.Established;
    this.stats.established++;
    const flight = this.#switchFlight();
    this.#sendCap = flight > 0 ? flight : Infinity;
    const sendMax = this.#jumbo(this.cfg.sendBufferSize, this.cfg.sendBufferSizeLarge);
    this.sndBuf = this.#newRing(this.cfg.initialBufferSize, Math.max(sendMax, flight));
    this.rcvBuf = this.#newRing(this.#initialRing(), this.#receiveMax());
    this.#held(this.bufferBytes);
    this.cwnd = this.cfg.initialWindowSegments * this.effMss;
    this.#armKeepAlive(this.#host.now());
    this.#host.onEstablished();
  }

  // ---------------------------------------------------------------- owner calls

  /**
   * The contiguous free run of the send ring, at most `maxLen` bytes, for
   * the owner to fill and `commitSend`. Grows the ring when it is full and
   * the peer's window could take more. Empty when no space.
   */
  sendRegion(maxLen: number): Uint8Array<ArrayBuffer> {
    const ring = this.sndBuf;
    if (ring === null || this.finQueued || !this.#canQueue()) return EMPTY;
    if (ring.free === 0 && this.maxSndWnd > ring.length / 2) this.#grow(ring);
    return ring.writable(maxLen);
  }

  /**
   * Adds `n` bytes, written into `sendRegion`, to the data to send, and sends what the windows allow.
   * `more`: the owner adds more right away (a host read that filled the region it was given is read
   * again in the same round), so a last partial segment waits for it instead of leaving as a small frame
   * of its own; the owner calls `releaseTail` once it has no more.
   */
  commitSend(n: number, more = false): void {
    if (n <= 0 || this.sndBuf === null) return;
    this.sndBuf.commit(n);
    this.#holdTail = more;
    this.output();
    this.#holdTail = false;
    this.#host.onTimer();
  }

  /** Sends the partial segment a `commitSend(.., true)` held, if it did: the owner has no more for it. */
  releaseTail(): void {
    if (!this.#tailHeld) return;
    this.output();
    // Behind a closed window it armed the persist timer: the owner keeps the deadlines.
    this.#host.onTimer();
  }

  /**
   * Copies `data` into the send ring as far as it fits and sends.
   *
   * @returns the bytes taken
   */
  write(data: Uint8Array): number {
    let done = 0;
    while (done < data.length) {
      const region = this.sendRegion(data.length - done);
      if (region.length === 0) break;
      region.set(data.subarray(done, done + region.length));
      this.sndBuf!.commit(region.length);
      done += region.length;
    }
    if (done > 0) {
      this.output();
      this.#host.onTimer();
    }
    return done;
  }

  /** The contiguous run of received in-order data at the ring's head (a view; may be empty). */
  receiveRegion(maxLen = Infinity): Uint8Array<ArrayBuffer> {
    return this.rcvBuf === null ? EMPTY : this.rcvBuf.readable(maxLen);
  }

  /** The owner took `n` bytes of received data: frees them and may advertise a larger window. */
  consume(n: number): void {
    const ring = this.rcvBuf;
    if (ring === null || n <= 0) return;
    if (n > ring.length) n = ring.length;
    ring.consume(n);
    this.rcvBase = seqAdd(this.rcvBase, n);
    this.#maybeWindowUpdate();
    this.#releaseDrained();
  }

  /** Reads up to `dst.length` received bytes into `dst` and consumes them; returns the count. */
  read(dst: Uint8Array): number {
    let done = 0;
    while (done < dst.length) {
      const region = this.receiveRegion(dst.length - done);
      if (region.length === 0) break;
      dst.set(region, done);
      done += region.length;
      this.rcvBuf!.consume(region.length);
      this.rcvBase = seqAdd(this.rcvBase, region.length);
    }
    if (done > 0) {
      this.#maybeWindowUpdate();
      this.#releaseDrained();
    }
    return done;
  }

  /**
   * The furthest right edge we could offer now: only allocated space (the
   * ring grows, autotuning, before the window does), and on a short path
   * no more than the window cap past `rcvNxt`. The cap bounds what is in
   * flight towards us, in the switch's queue; bytes already here, held for
   * a host write, are not in it and do not close the window (measured from
   * `rcvBase`, a 64 KB hold took half of the 88 segments a guest behind
   * Debian's switch may have in flight).
   */
  #rightEdge(ring: ByteRing): number {
    const right = seqAdd(this.rcvBase, ring.capacity);
    const limit = this.#windowCap();
    if (limit === Infinity) return right;
    const capped = seqAdd(this.rcvNxt, limit);
    return seqLt(capped, right) ? capped : right;
  }

  /** After the owner drained data: a window update when the window was small and can grow by a useful step. */
  #maybeWindowUpdate(): void {
    const ring = this.rcvBuf;
    if (ring === null || !this.synchronized || this.peerFin) return;
    const cap = ring.capacity;
    const potential = this.#rightEdge(ring);
    const step = Math.min(2 * this.cfg.mss, cap >> 1);
    if (seqDiff(potential, this.rcvAdvRight) >= step && seqDiff(this.rcvAdvRight, this.rcvNxt) < (cap >> 1)) {
      this.stats.windowUpdates++;
      this.sendAck();
      this.#host.onTimer();
    }
  }

  /** The owner has no more data: a FIN follows what is queued. */
  closeSend(): void {
    if (this.finQueued) return;
    switch (this.state) {
      case TcpState.SynPending:
      case TcpState.SynSent:
        this.#close(null);
        return;
      case TcpState.SynReceived:
      case TcpState.Established:
        this.finQueued = true;
        if (this.state === TcpState.Established) this.state = TcpState.FinWait1;
        break;
      case TcpState.CloseWait:
        this.finQueued = true;
        this.state = TcpState.LastAck;
        break;
      default:
        return;
    }
    this.output();
    this.#host.onTimer();
  }

  /** Resets the connection (RST to the peer when synchronized) and closes it. */
  abort(reason = "aborted"): void {
    if (this.state === TcpState.Closed) return;
    if (this.state === TcpState.SynPending) {
      this.#sendRst(0, this.rcvNxt, true);
    } else if (this.state !== TcpState.TimeWait && this.state !== TcpState.SynSent) {
      this.#sendRst(this.sndMax, this.rcvNxt, true);
    } else if (this.state === TcpState.SynSent) {
      this.#sendRst(this.sndNxt, 0, false);
    }
    this.#close(reason);
  }

  /** Sends any ACK held for coalescing (the owner's end of a batch, for a connection that asked). */
  flushAck(): void {
    this.#ackQueued = false;
    if (this.ackPending > 0 && this.state !== TcpState.Closed) this.sendAck();
  }

  // ---------------------------------------------------------------- input

  /**
   * Processes one segment from the peer. `r` is the parsed header and `seg`
   * the whole segment (payload at `r.headerLength`).
   */
  input(r: TcpRepr, seg: Uint8Array): void {
    const now = this.#host.now();
    switch (this.state) {
      case TcpState.Closed:
        return;
      case TcpState.SynPending:
        if ((r.flags & TCP_RST) !== 0) {
          this.stats.rstIn++;
          this.#close("reset");
        }
        // A retransmitted SYN waits for the host connect like the first.
        return;
      case TcpState.SynSent:
        this.#inputSynSent(r, now);
        this.#host.onTimer();
        return;
    }
    this.#inputSynchronized(r, seg, now);
    this.#host.onTimer();
  }

  #inputSynSent(r: TcpRepr, now: number): void {
    const f = r.flags;
    const hasAck = (f & TCP_ACK) !== 0;
    if (hasAck && (seqLe(r.ack, this.iss) || seqGt(r.ack, this.sndMax))) {
      if ((f & TCP_RST) === 0) {
        this.#sendRst(r.ack, 0, false);
        // Most likely the peer still holds an older connection on this tuple (TIME-WAIT, or one it
        // believes open) and did not take our SYN as new. The RST clears that; resend the SYN now
        // rather than after a full retransmission timeout. Once per connection, so a peer that keeps
        // answering this way cannot loop us.
        if (!this.#synRetriedOnAck) {
          this.#synRetriedOnAck = true;
          this.stats.retransmits++;
          this.#rttStart = -1;
          this.#sendSyn(false);
        }
      }
      return;
    }
    if ((f & TCP_RST) !== 0) {
      this.stats.rstIn++;
      if (hasAck) this.#close("refused");
      return;
    }
    if ((f & TCP_SYN) === 0) return;
    this.#negotiate(r, now);
    this.irs = r.seq;
    this.rcvNxt = seqAdd(r.seq, 1);
    this.rcvBase = this.rcvNxt;
    this.rcvAdvRight = this.rcvNxt;
    this.#peerOptions(r);
    this.#applyScaling();
    if (!hasAck) {
      // Simultaneous open: answer with SYN-ACK and wait for the ACK.
      this.state = TcpState.SynReceived;
      this.sndWnd = r.window;
      this.sndWl1 = r.seq;
      this.#sendSyn(true);
      this.rtxAt = now + this.rto;
      return;
    }
    this.sndUna = r.ack;
    this.#sampleRtt(now, r.ack);
    this.sndWnd = r.window; // unscaled in a SYN
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = r.seq;
    this.sndWl2 = r.ack;
    this.rtxAt = Infinity;
    this.#backoffs = 0;
    this.#establish();
    if (this.state !== TcpState.Established) return;
    this.sendAck();
    this.output();
  }

  #inputSynchronized(r: TcpRepr, seg: Uint8Array, now: number): void {
    const f = r.flags;
    let seq = r.seq;
    let dataOff = r.headerLength;
    let dataLen = r.payloadLength;
    const segLen = dataLen + ((f & TCP_SYN) !== 0 ? 1 : 0) + ((f & TCP_FIN) !== 0 ? 1 : 0);

    // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost.
    if (
      this.state === TcpState.SynReceived && (f & TCP_SYN) !== 0 && (f & TCP_ACK) === 0 && seq === this.irs
    ) {
      this.#sendSyn(true);
      return;
    }

    // 0. PAWS (RFC 7323 5): a timestamp older than the one last echoed marks an old duplicate.
    if (this.tsOk && r.hasTimestamp && (f & TCP_RST) === 0 && seqLt(r.tsVal, this.#tsRecent)) {
      if (now - this.#tsRecentAt <= PAWS_IDLE_MS) {
        this.stats.pawsDropped++;
        if (segLen > 0 || this.#challengeAllowed(now)) this.sendAck();
        return;
      }
      // TS.Recent is too old to judge by (the peer's clock may have wrapped since).
      this.#tsRecent = r.tsVal;
      this.#tsRecentAt = now;
    }

    // 1. Sequence acceptability.
    const wnd = seqDiff(this.rcvAdvRight, this.rcvNxt);
    let ok: boolean;
    if (segLen === 0) {
      ok = wnd <= 0 ? seq === this.rcvNxt : seqGe(seq, this.rcvNxt) && seqLt(seq, this.rcvAdvRight);
    } else if (wnd <= 0) {
      // A zero window still takes a bare FIN (or ACK) at rcvNxt.
      ok = dataLen === 0 && seq === this.rcvNxt;
    } else {
      const last = seqAdd(seq, segLen - 1);
      ok = (seqGe(seq, this.rcvNxt) && seqLt(seq, this.rcvAdvRight)) ||
        (seqGe(last, this.rcvNxt) && seqLt(last, this.rcvAdvRight));
    }
    if (!ok) {
      if ((f & TCP_RST) === 0) {
        this.stats.outOfWindow++;
        if (this.state === TcpState.TimeWait && (f & TCP_FIN) !== 0) this.closeAt = now + this.cfg.timeWaitMs;
        // Empty segments (stale ACKs, probes) are answered at a limited rate: two confused
        // peers must not ACK each other's ACKs forever.
        if (segLen > 0 || this.#challengeAllowed(now)) this.sendAck();
      }
      return;
    }
    this.#keepProbes = 0;
    this.#armKeepAlive(now);
    if (
      this.tsOk && r.hasTimestamp && seqLe(seq, this.#lastAckSent) && seqGe(r.tsVal, this.#tsRecent)
    ) {
      this.#tsRecent = r.tsVal;
      this.#tsRecentAt = now;
    }
    if (this.minRtt > 0 && this.tsOk && r.hasTimestamp && dataLen > 0) {
      // The peer's data echoes the last of our segments it saw: a round trip as the receiver sees it
      // (milliseconds), for the short-path test (shortPathRttMs), where we send only ACKs.
      const rtt = seqDiff(this.#tsClock(), r.tsEcr);
      if (rtt >= 0 && rtt < this.minRtt) this.minRtt = rtt;
    }

    // 2. RST (RFC 5961 3.2: exact match resets, in-window answers a challenge ACK).
    if ((f & TCP_RST) !== 0) {
      this.stats.rstIn++;
      if (seq === this.rcvNxt || this.state === TcpState.SynReceived) {
        this.#close(this.state === TcpState.TimeWait ? null : "reset");
      } else if (this.#challengeAllowed(now)) {
        this.sendAck();
      }
      return;
    }

    // 3. SYN in a synchronized state: challenge ACK (RFC 5961 4.2).
    if ((f & TCP_SYN) !== 0) {
      if (this.#challengeAllowed(now)) this.sendAck();
      return;
    }

    // 4. ACK.
    if ((f & TCP_ACK) === 0) return;
    if (this.state === TcpState.SynReceived) {
      if (seqLe(r.ack, this.sndUna) || seqGt(r.ack, this.sndMax)) {
        this.#sendRst(r.ack, 0, false);
        return;
      }
      this.sndWnd = r.window << this.sndShift;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seq;
      this.sndWl2 = r.ack;
      this.sndUna = r.ack;
      this.#sampleRtt(now, r.ack);
      this.rtxAt = Infinity;
      this.#backoffs = 0;
      const fin = this.finQueued;
      this.#establish();
      if (fin) this.state = TcpState.FinWait1;
      this.output();
    } else {
      if (!this.#processAck(r, seq, dataLen, now)) return;
      if (this.state === TcpState.Closed) return;
      if (this.state === TcpState.TimeWait) {
        if ((f & TCP_FIN) !== 0) {
          this.closeAt = now + this.cfg.timeWaitMs;
          this.sendAck();
        }
        return;
      }
    }

    // 5. Data (URG is treated as in-line data).
    const st = this.state;
    const takesData = st === TcpState.Established || st === TcpState.FinWait1 || st === TcpState.FinWait2;
    const finSeq = seqAdd(seq, dataLen);
    if (dataLen > 0 && takesData && !this.peerFin) {
      if (seqLt(seq, this.rcvNxt)) {
        const skip = seqDiff(this.rcvNxt, seq);
        dataOff += skip;
        dataLen -= skip;
        seq = this.rcvNxt;
      }
      const room = seqDiff(this.rcvAdvRight, seq);
      if (dataLen > room) dataLen = Math.max(0, room);
      if (dataLen > 0) {
        const push = (f & TCP_PSH) !== 0;
        if (push) this.pushed = true;
        this.#receiveData(seq, seg, dataOff, dataLen, push, now);
      }
    } else if (dataLen > 0) {
      // Data after the peer's FIN, or in a state that takes none: just ACK.
      this.sendAck();
    }

    // 6. FIN, possibly ahead of missing data: remembered until rcvNxt reaches it.
    if ((f & TCP_FIN) !== 0) {
      if (this.peerFin) {
        this.sendAck();
      } else if (takesData && seqGe(finSeq, this.rcvNxt) && seqLe(finSeq, this.rcvAdvRight)) {
        this.#rcvFinSeq = finSeq;
      }
    }
    if (this.#rcvFinSeq !== -1 && this.#rcvFinSeq === this.rcvNxt && !this.peerFin) this.#receiveFin(now);
  }

  /** Rate limit for ACKs answering empty unacceptable segments and challenges (RFC 5961 7). */
  #challengeAllowed(now: number): boolean {
    if (now - this.#lastChallenge < CHALLENGE_ACK_INTERVAL_MS) return false;
    this.#lastChallenge = now;
    return true;
  }

  /** ACK processing for synchronized states; false when the segment is to be dropped. */
  #processAck(r: TcpRepr, seq: number, dataLen: number, now: number): boolean {
    const ack = r.ack;
    if (seqGt(ack, this.sndMax)) {
      // ACKs something never sent.
      this.sendAck();
      return false;
    }
    const window = r.window << this.sndShift;
    const newlySacked = this.sackOk && r.sackCount > 0 && this.#updateScoreboard(r);
    if (newlySacked && this.#lrStart.length > 0) this.#findLostRetransmits(ack);
    // With SACK blocks, a duplicate is an ACK that reports more data held (RFC 6675 2), even if the
    // window moved; one that reports nothing new (a D-SACK for a needless retransmission) is none.
    const isDup = ack === this.sndUna && dataLen === 0 && (r.flags & TCP_FIN) === 0 &&
      (this.sackOk && r.sackCount > 0 ? newlySacked : window === this.sndWnd) &&
      seqGt(this.sndMax, this.sndUna);
    // Window update first (RFC 9293 3.10.7.4), so that what the ACK releases is sent against the new window.
    // The window grew, or the persist timer stopped: `output` looks again.
    let recheck = false;
    if (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, ack))) {
      recheck = window > this.sndWnd;
      this.sndWnd = window;
      if (window > this.maxSndWnd) this.maxSndWnd = window;
      this.sndWl1 = seq;
      this.sndWl2 = ack;
      if (window > 0) {
        // A persist timer stopped here is `output`'s to restart: a window smaller than a segment and
        // half the largest still waits for it. A window announced again unchanged (the answer to a
        // probe) stopped it with nothing to restart it, and the data waited for ever for an update
        // that, once lost, nothing asked for again.
        if (this.persistAt !== Infinity) recheck = true;
        this.persistAt = Infinity;
        this.#persistBackoff = 0;
      }
    }
    if (seqGt(ack, this.sndUna)) this.#newAck(ack, now, r);
    else if (isDup) this.#dupAck();
    else if (recheck) this.output();
    // Our FIN acknowledged?
    if (this.finQueued && ack === this.sndMax && seqGt(this.sndMax, this.#dataEnd())) {
      switch (this.state) {
        case TcpState.FinWait1:
          this.state = TcpState.FinWait2;
          break;
        case TcpState.Closing:
          this.#enterTimeWait(now);
          break;
        case TcpState.LastAck:
          this.#close(null);
          return false;
      }
    }
    return true;
  }

  #newAck(ack: number, now: number, r: TcpRepr): void {
    const acked = seqDiff(ack, this.sndUna);
    // Bytes of data (not SYN/FIN) newly acknowledged.
    const ring = this.sndBuf;
    let dataAcked = 0;
    if (ring !== null) {
      dataAcked = Math.min(ring.length, Math.max(0, seqDiff(ack, this.sndBase)));
      if (dataAcked > 0) {
        ring.consume(dataAcked);
        this.sndBase = seqAdd(this.sndBase, dataAcked);
      }
    }
    this.sndUna = ack;
    this.#reoAt = Infinity;
    if (seqGt(ack, this.sndNxt)) this.sndNxt = ack;
    if (this.#sbStart.length > 0) this.#trimScoreboard(ack);
    if (this.tsOk && r.hasTimestamp) {
      // RFC 7323 4: an ACK that advances the left edge echoes when its segment left, retransmitted
      // or not. Except an echo from before the last timeout: the peer answers a go-back-N copy of
      // what it already holds with the timestamp of the original, and that would measure the timeout.
      const rtt = seqDiff(this.#tsClock(), r.tsEcr);
      if (rtt >= 0 && rtt <= this.cfg.maxRtoMs && seqGe(r.tsEcr, this.#tsAtTimeout)) this.#rttSample(rtt);
    } else {
      this.#sampleRtt(now, ack);
    }
    if (this.#backoffs > 0) {
      // New data got through: drop the backed-off timeout (as Linux does, RFC 6298 5.7 allows).
      this.#backoffs = 0;
      if (this.srtt > 0) this.rto = this.#rtoFromEstimate();
    }
    // Congestion control.
    const mss = this.effMss;
    if (this.#rtoUndoArmed) {
      // Eifel for timeouts (RFC 3522, RFC 4015): the first ACK after a timeout echoing a timestamp
      // from before it acknowledges the originals; the timeout was spurious. Back to where we were,
      // without resending the rest of the window.
      this.#rtoUndoArmed = false;
      if (r.hasTimestamp && seqLt(r.tsEcr, this.#tsAtTimeout)) {
        this.cwnd = Math.max(this.cwnd, this.#undoCwnd);
        this.ssthresh = Math.max(this.ssthresh, this.#undoSsthresh);
        this.#cubic?.undo();
        if (seqGt(this.#undoNxt, this.sndNxt)) this.sndNxt = this.#undoNxt;
        this.#recover = ack;
        this.stats.spuriousTimeouts++;
      }
    }
    if (this.#undoArmed && this.inRecovery) {
      // The first ACK past the retransmitted segment echoes the timestamp of the copy that filled
      // the hole: an older one than the retransmission's means the original was only late.
      this.#undoArmed = false;
      if (r.hasTimestamp && seqLt(r.tsEcr, this.#rxTs)) this.#undoRecovery(ack);
    }
    if (this.inRecovery) {
      if (seqGe(ack, this.#recover)) {
        this.inRecovery = false;
        // With SACK the window was ssthresh all through the recovery, never inflated: it stays there
        // (RFC 6675; Linux's tcp_end_cwnd_reduction). Cut to what is still in flight, a recovery whose
        // last ACK covered everything left one segment, answered by the guest's delayed ACK, and a
        // slow start back. NewReno's inflated window deflates (RFC 6582 3.2 step 3, option 1).
        this.cwnd = this.sackOk ? this.ssthresh : Math.min(this.ssthresh, Math.max(this.inFlight, mss) + mss);
        this.dupAcks = 0;
      } else if (this.sackOk) {
        // Partial ACK: the scoreboard says what else is missing (RFC 6675).
        this.#sackOutput();
      } else {
        // Partial ACK: the next hole is lost too (RFC 6582).
        this.#retransmitFirst();
        this.stats.fastRetransmits++;
        this.cwnd = Math.max(this.cwnd - acked + mss, mss);
      }
    } else {
      this.dupAcks = 0;
      if (this.cwnd < this.ssthresh) {
        this.cwnd += Math.min(acked, 2 * mss);
      } else if (this.#cubic !== null) {
        this.#cubic.mss = mss;
        this.cwnd = this.#cubic.avoid(this.cwnd, acked, now, this.srtt);
      } else {
        this.#cwndAcc += acked;
        if (this.#cwndAcc >= this.cwnd) {
          this.#cwndAcc -= this.cwnd;
          this.cwnd += mss;
        }
      }
      const cap = 2 * (ring?.max ?? 65536) + 4 * mss;
      if (this.cwnd > cap) this.cwnd = cap;
    }
    this.rtxAt = seqGt(this.sndMax, this.sndUna) ? now + this.rto : Infinity;
    this.#tlpOut = false;
    this.#armTlp(now);
    if (dataAcked > 0) {
      this.output();
      this.#host.onWritable();
    }
  }

  #dupAck(): void {
    this.stats.dupAcks++;
    this.dupAcks++;
    const mss = this.effMss;
    if (this.inRecovery) {
      if (this.sackOk) {
        this.#sackOutput();
      } else if (this.dupAcks > 3) {
        this.cwnd += mss;
        this.output();
      }
      return;
    }
    // With SACK, enough data held above sndUna means loss even before the third duplicate
    // (RFC 6675 IsLost), e.g. when duplicate ACKs were lost.
    const lost = this.dupAcks >= this.dupThresh ||
      (this.sackOk && this.sackedBytes > (this.dupThresh - 1) * mss);
    // `recover` is one past the last byte sent when the previous episode began: data from there on
    // was sent after it, and its loss is a new one (RFC 6582 3.2 step 1).
    if (seqLt(this.sndUna, this.#recover)) return;
    if (lost) {
      this.#enterRecovery();
    } else if (this.#reoAt === Infinity) {
      // Too few duplicates yet, maybe because the window is small: a hole still open after a
      // fraction of the RTT is lost anyway (after RFC 8985's reordering window).
      const window = Math.min(this.srtt, (this.srtt / 4) * (this.dupThresh - 2));
      this.#reoAt = this.#host.now() + Math.max(1, window);
    }
  }

  /** Fast retransmit and recovery: NewReno's (RFC 6582), or RFC 6675's with SACK. */
  #enterRecovery(): void {
    const mss = this.effMss;
    this.#reoAt = Infinity;
    this.#tlpAt = Infinity;
    this.#undoCwnd = this.cwnd;
    this.#undoSsthresh = this.ssthresh;
    this.#undoArmed = this.tsOk;
    this.#rxTs = this.#tsClock();
    this.ssthresh = this.#reduce(this.inFlight);
    this.#recover = this.sndMax;
    this.inRecovery = true;
    this.stats.fastRetransmits++;
    if (this.sackOk) {
      this.cwnd = this.ssthresh;
      // Unless the previous recovery already resent it and that copy may still be on its way.
      if (this.#rxStart.length === 0 || seqGt(this.#rxStart[0]!, this.sndUna)) this.#retransmitFirst();
      else this.#undoArmed = false;
      this.#sackOutput();
    } else {
      this.#retransmitFirst();
      this.cwnd = this.ssthresh + 3 * mss;
    }
  }

  /**
   * Tail loss probe (RFC 8985 7), with SACK: when the last segments of a
   * flight are lost nothing comes back to report them, and only the
   * retransmission timeout (200 ms at least) would. Two RTTs without an ACK
   * resend the last segment instead; its ACK, SACKing it, reveals the
   * holes before it to the usual recovery.
   */
  #armTlp(now: number): void {
    if (
      !this.sackOk || this.inRecovery || this.#tlpOut || this.srtt === 0 || !seqGt(this.sndMax, this.sndUna)
    ) {
      this.#tlpAt = Infinity;
      return;
    }
    // A lone segment may wait for the peer's delayed ACK.
    const pto = 2 * this.srtt + (this.inFlight <= this.effMss ? TLP_DELAYED_ACK_MS : 0);
    const at = now + Math.max(TLP_MIN_MS, pto);
    this.#tlpAt = at < this.rtxAt ? at : Infinity;
  }

  #probeTail(now: number): void {
    this.#tlpAt = Infinity;
    if (this.inRecovery || !seqGt(this.sndMax, this.sndUna) || this.sndBuf === null) return;
    const dataEnd = this.#dataEnd();
    const finSent = this.finQueued && seqGt(this.sndMax, dataEnd);
    const end = finSent ? dataEnd : this.sndMax;
    const mss = this.#segMss();
    const start = seqDiff(end, this.sndUna) > mss ? seqAdd(end, -mss) : this.sndUna;
    const len = Math.max(0, seqDiff(end, start));
    if (len === 0 && !finSent) return;
    this.#tlpOut = true;
    this.stats.tailLossProbes++;
    this.#sendData(start, len, finSent);
    this.#rttStart = -1;
    this.rtxAt = now + this.rto;
  }

  /** The slow-start threshold after a congestion event with `flight` bytes in the network. */
  #reduce(flight: number): number {
    const mss = this.effMss;
    // Behind a switch's queue the cap is the window's ceiling (as Linux's cwnd clamp): what is
    // outstanding may exceed it by SACKed data and lost holes (`output` counts the pipe against it),
    // and a threshold above it would leave the rate as it was after a loss at the cap (SACK
    // recovery's retransmissions, bound by cwnd = ssthresh alone, beyond the switch's queue).
    flight = Math.min(flight, this.#flightCap());
    if (this.#cubic === null) return Math.max(flight >> 1, 2 * mss);
    this.#cubic.mss = mss;
    return this.#cubic.reduce(flight, this.cwnd < this.ssthresh);
  }

  /** A recovery that was not needed: restores the window and tolerates more reordering. */
  #undoRecovery(ack: number): void {
    this.inRecovery = false;
    this.dupAcks = 0;
    this.cwnd = Math.max(this.cwnd, this.#undoCwnd);
    this.ssthresh = Math.max(this.ssthresh, this.#undoSsthresh);
    this.#cubic?.undo();
    // Further holes of this window may be late too; each gets its own (undoable) recovery.
    this.#recover = ack;
    if (this.dupThresh < MAX_DUP_THRESH) this.dupThresh++;
    this.stats.spuriousRecoveries++;
  }

  #sampleRtt(now: number, ack: number): void {
    if (this.#rttStart < 0 || seqLt(ack, this.#rttSeq)) return;
    const r = Math.max(0, now - this.#rttStart);
    this.#rttStart = -1;
    this.#rttSample(r);
  }

  #rttSample(r: number): void {
    if (r < this.minRtt) this.minRtt = r;
    if (this.srtt === 0) {
      this.srtt = r || 0.001;
      this.rttvar = r / 2;
    } else {
      // Timestamps give a sample per ACK, not per round trip: weigh each accordingly (RFC 7323 G).
      const k = this.tsOk ? Math.max(1, Math.ceil(this.inFlight / (2 * this.effMss))) : 1;
      const beta = 0.25 / k;
      const alpha = 0.125 / k;
      this.rttvar = (1 - beta) * this.rttvar + beta * Math.abs(this.srtt - r);
      this.srtt = (1 - alpha) * this.srtt + alpha * r;
    }
    this.rto = this.#rtoFromEstimate();
  }

  // ---------------------------------------------------------------- SACK sender (RFC 6675)

  /** Merges the peer's SACK blocks into the scoreboard, ignoring any that make no sense; true when it grew. */
  #updateScoreboard(r: TcpRepr): boolean {
    const lower = seqGt(r.ack, this.sndUna) ? r.ack : this.sndUna;
    const span = seqDiff(this.sndMax, lower);
    let grew = false;
    for (let k = 0; k < r.sackCount; k++) {
      const left = r.sackBlocks[2 * k]!;
      const right = r.sackBlocks[2 * k + 1]!;
      const lo = seqDiff(left, lower);
      const hi = seqDiff(right, lower);
      // Strictly above the cumulative ACK (else a D-SACK or a lie), not empty, nothing never sent.
      if (lo <= 0 || hi <= lo || hi > span) {
        this.stats.sackBlocksIgnored++;
        continue;
      }
      const added = addRange(this.#sbStart, this.#sbEnd, left, right, this.cfg.maxOutOfOrderRanges);
      if (added > 0) {
        this.sackedBytes += added;
        grew = true;
      }
    }
    return grew;
  }

  /** Drops what the cumulative ACK now covers from the scoreboard. */
  #trimScoreboard(ack: number): void {
    this.sackedBytes -= trimRanges(this.#sbStart, this.#sbEnd, ack);
    trimRanges(this.#rxStart, this.#rxEnd, ack);
  }

  #clearScoreboard(): void {
    this.#sbStart.length = 0;
    this.#sbEnd.length = 0;
    this.sackedBytes = 0;
    this.#clearRetransmitted();
  }

  #clearRetransmitted(): void {
    this.#rxStart.length = 0;
    this.#rxEnd.length = 0;
    this.#lrStart.length = 0;
    this.#lrEnd.length = 0;
    this.#lrMark.length = 0;
  }

  /** Remembers a SACK retransmission of [start, start+len) for {@link #findLostRetransmits}. */
  #noteRetransmit(start: number, len: number): void {
    // Bounded: past the bound a lost retransmission waits for the timeout, as before.
    if (this.#lrStart.length >= this.cfg.maxOutOfOrderRanges) return;
    this.#lrStart.push(start);
    this.#lrEnd.push(seqAdd(start, len));
    this.#lrMark.push(this.sndMax);
  }

  /**
   * Lost retransmissions (as Linux found them before RACK): a retransmission
   * still unacknowledged while the peer SACKs data first sent after it was
   * lost as well. Without this only the retransmission timeout (200 ms at
   * least) repairs it, and a queue that overflows in bursts (a C vde_switch's
   * towards a slow reader) drops retransmissions as readily as originals.
   * Its range is taken out of the retransmitted ranges, so the pipe no
   * longer counts it and the next SACK output sends it again.
   */
  #findLostRetransmits(ack: number): void {
    const highest = this.#sbEnd.length > 0 ? this.#sbEnd[this.#sbEnd.length - 1]! : ack;
    const ls = this.#lrStart;
    const le = this.#lrEnd;
    const lm = this.#lrMark;
    let k = 0;
    for (let i = 0; i < ls.length; i++) {
      const start = ls[i]!;
      const end = le[i]!;
      if (seqLe(end, ack) || covered(this.#sbStart, this.#sbEnd, start, end) === seqDiff(end, start)) {
        continue;
      }
      if (seqGt(highest, lm[i]!)) {
        removeRange(this.#rxStart, this.#rxEnd, start, end);
        this.stats.lostRetransmits++;
        continue;
      }
      ls[k] = start;
      le[k] = end;
      lm[k++] = lm[i]!;
    }
    ls.length = k;
    le.length = k;
    lm.length = k;
  }

  /**
   * RFC 6675 SetPipe: the bytes still in the network. A hole with more than
   * (DupThresh - 1) segments SACKed above it is lost and no longer counts;
   * what was retransmitted counts again.
   */
  #pipe(): number {
    const s = this.#sbStart;
    const e = this.#sbEnd;
    const lostAbove = (this.dupThresh - 1) * this.effMss;
    let pipe = 0;
    let pos = this.sndUna;
    let above = this.sackedBytes;
    for (let i = 0; i <= s.length; i++) {
      const holeEnd = i < s.length ? s[i]! : this.sndMax;
      const hole = seqDiff(holeEnd, pos);
      if (hole > 0) {
        if (i === s.length || above <= lostAbove) pipe += hole;
        if (this.#rxStart.length > 0) pipe += covered(this.#rxStart, this.#rxEnd, pos, holeEnd);
      }
      if (i < s.length) {
        above -= seqDiff(e[i]!, s[i]!);
        pos = e[i]!;
      }
    }
    return pipe;
  }

  /**
   * RFC 6675 NextSeg rule 1 (`lostOnly`) or 3: retransmits one segment of
   * the first part of a hole below the highest SACKed byte that was not
   * retransmitted yet. Returns the bytes sent (0: no such hole).
   */
  #retransmitHole(lostOnly: boolean, mss: number): number {
    const s = this.#sbStart;
    const e = this.#sbEnd;
    const lostAbove = (this.dupThresh - 1) * this.effMss;
    let pos = this.sndUna;
    let above = this.sackedBytes;
    const rs = this.#rxStart;
    const re = this.#rxEnd;
    for (let i = 0; i < s.length; i++) {
      const end = s[i]!;
      if (!lostOnly || above > lostAbove) {
        // The first byte of the hole not retransmitted yet, and how far the run goes.
        let start = pos;
        let stop = end;
        for (let k = 0; k < rs.length && seqLt(rs[k]!, stop); k++) {
          if (seqLe(re[k]!, start)) continue;
          if (seqLe(rs[k]!, start)) start = re[k]!;
          else stop = rs[k]!;
        }
        if (seqLt(start, stop)) {
          const len = Math.min(mss, seqDiff(stop, start));
          this.#sendData(start, len, false);
          addRange(rs, re, start, seqAdd(start, len), this.cfg.maxOutOfOrderRanges);
          this.#noteRetransmit(start, len);
          this.#rttStart = -1;
          this.stats.sackRetransmits++;
          return len;
        }
      }
      above -= seqDiff(e[i]!, end);
      pos = e[i]!;
    }
    return 0;
  }

  /** Sending during SACK recovery (RFC 6675 5): lost holes first, then new data, then one more hole. */
  #sackOutput(): void {
    const mss = this.#segMss();
    let pipe = this.#pipe();
    while (this.cwnd - pipe >= mss && !this.#host.outputBlocked()) {
      const len = this.#retransmitHole(true, mss);
      if (len === 0) break;
      pipe += len;
    }
    this.output();
    if (this.cwnd - this.#pipe() >= mss && !this.#host.outputBlocked()) this.#retransmitHole(false, mss);
  }

  /** Bytes of the scoreboard below `seq`. */
  #sackedBelow(seq: number): number {
    let n = 0;
    for (let i = 0; i < this.#sbStart.length && seqLt(this.#sbStart[i]!, seq); i++) {
      n += seqDiff(seqLt(this.#sbEnd[i]!, seq) ? this.#sbEnd[i]! : seq, this.#sbStart[i]!);
    }
    return n;
  }

  /** After a timeout (go-back-N): moves sndNxt past SACKed data; returns the bytes up to the next SACKed block. */
  #skipSacked(): number {
    const s = this.#sbStart;
    const e = this.#sbEnd;
    for (let i = 0; i < s.length; i++) {
      if (seqLe(e[i]!, this.sndNxt)) continue;
      if (seqLe(s[i]!, this.sndNxt)) {
        this.sndNxt = e[i]!;
        continue;
      }
      return seqDiff(s[i]!, this.sndNxt);
    }
    return Infinity;
  }

  #rtoFromEstimate(): number {
    return Math.min(this.cfg.maxRtoMs, Math.max(this.cfg.minRtoMs, this.srtt + Math.max(1, 4 * this.rttvar)));
  }

  #receiveData(seq: number, seg: Uint8Array, off: number, len: number, push: boolean, now: number): void {
    const ring = this.rcvBuf!;
    const offset = seqDiff(seq, this.rcvBase);
    const cap = ring.capacity;
    if (seq === this.rcvNxt) {
      ring.writeAt(offset, seg, off, len);
      if (ring.capacity !== cap) this.#held(ring.capacity - cap);
      const hadHoles = this.#oooStart.length > 0;
      let nxt = seqAdd(this.rcvNxt, len);
      if (hadHoles) nxt = this.#mergeOoo(nxt);
      const advance = seqDiff(nxt, this.rcvNxt);
      this.rcvNxt = nxt;
      ring.commit(advance);
      this.stats.bytesIn += advance;
      // Autotuning: a ring more than half full limits the peer; offer more (budget allowing).
      if (ring.length >= ring.capacity >> 1) this.#grow(ring);
      if (hadHoles) {
        this.sendAck();
      } else {
        this.ackPending++;
        const large = len > LARGE_SEGMENT;
        if (this.ackPending >= (large ? this.cfg.ackEveryLarge : this.cfg.ackEvery)) {
          this.sendAck();
        } else {
          if (this.ackAt === Infinity) this.ackAt = now + this.cfg.delayedAckMs;
          // A jumbo segment without PSH has more of the peer's write behind it: its ACK waits for the
          // ackEveryLarge-th or the delayed-ACK timer, not for the end of the batch (see the header).
          const hold = large && !push && this.#quickAcks === 0;
          if (this.#quickAcks > 0) this.#quickAcks--;
          if (!hold && !this.#ackQueued) {
            this.#ackQueued = true;
            this.#host.onAckPending();
          }
        }
      }
      this.#host.onReadable();
      return;
    }
    // Out of order: a frame lost on the way. On a short path each new hole is counted, and once one
    // is, the windows of the engine's connections there keep to `receiveWindowSegments` (#windowCap).
    if (this.#oooStart.length === 0 && this.minRtt < this.cfg.shortPathRttMs) this.stats.shortPathLosses++;
    // Keep it at its offset if the range list has room.
    if (addRange(this.#oooStart, this.#oooEnd, seq, seqAdd(seq, len), this.cfg.maxOutOfOrderRanges) >= 0) {
      this.#oooLatest = seq;
      ring.writeAt(offset, seg, off, len);
      if (ring.capacity !== cap) this.#held(ring.capacity - cap);
      this.stats.outOfOrder++;
      if (seqDiff(seqAdd(seq, len), this.rcvBase) >= ring.capacity >> 1) this.#grow(ring);
    } else {
      this.stats.outOfOrderDropped++;
    }
    this.sendAck();
  }

  #mergeOoo(nxt: number): number {
    const starts = this.#oooStart;
    const ends = this.#oooEnd;
    let k = 0;
    while (k < starts.length && seqLe(starts[k]!, nxt)) {
      if (seqGt(ends[k]!, nxt)) nxt = ends[k]!;
      k++;
    }
    if (k > 0) {
      starts.splice(0, k);
      ends.splice(0, k);
    }
    return nxt;
  }

  #receiveFin(now: number): void {
    this.peerFin = true;
    this.#rcvFinSeq = -1;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    if (this.state === TcpState.Established) {
      // The first FIN's ACK waits, as Linux's does: the owner's close usually follows at once and our FIN
      // carries it (a segment less per connection through a forward); else the delayed-ACK timer sends it.
      // Data ACKs still held go with it: after its FIN the peer sends nothing that an ACK would release.
      this.ackPending = 0;
      if (this.ackAt === Infinity) {
        this.ackAt = now + this.cfg.delayedAckMs;
        this.#host.onTimer();
      }
    } else this.sendAck();
    switch (this.state) {
      case TcpState.Established:
        this.state = TcpState.CloseWait;
        break;
      case TcpState.FinWait1:
        this.state = TcpState.Closing;
        break;
      case TcpState.FinWait2:
        this.#enterTimeWait(now);
        break;
    }
    this.#host.onReadable();
  }

  // ---------------------------------------------------------------- output

  #dataEnd(): number {
    return seqAdd(this.sndBase, this.sndBuf === null ? 0 : this.sndBuf.length);
  }

  /** Sends new data (and the FIN) as far as the peer's and the congestion windows allow. */
  output(): void {
    this.#tailHeld = false;
    const st = this.state;
    if (
      st !== TcpState.Established && st !== TcpState.CloseWait && st !== TcpState.FinWait1 &&
      st !== TcpState.Closing && st !== TcpState.LastAck
    ) return;
    const dataEnd = this.#dataEnd();
    const mss = this.#segMss();
    // In SACK recovery the congestion window limits the pipe (RFC 6675), not sndNxt - sndUna.
    const sackRecovery = this.inRecovery && this.sackOk;
    let pipe = sackRecovery ? this.#pipe() : 0;
    const flightCap = this.#flightCap();
    let sent = false;
    // Held back by the guest link, not the window: the engine's drain (`resume`) sends it, no probe.
    let linkBlocked = false;
    for (;;) {
      // After a timeout, what the peer SACKed is not sent again.
      const limit = this.#sbStart.length > 0 && seqLt(this.sndNxt, this.sndMax)
        ? this.#skipSacked()
        : Infinity;
      // Negative once the FIN is out (sndNxt is one past the data).
      const unsent = seqDiff(dataEnd, this.sndNxt);
      if (unsent < 0 || (unsent === 0 && !this.finQueued)) break;
      // Outside recovery, what the peer SACKed is not in flight either (after a timeout).
      const flight = sackRecovery
        ? pipe
        : this.inFlight - (this.#sbStart.length > 0 ? this.#sackedBelow(this.sndNxt) : 0);
      // The cap counts what is in the switch's queue, as cwnd does: not what the peer SACKed, nor a
      // hole deemed lost. Counted from sndUna, a loss at the cap stopped new data until the hole was
      // filled, and the recovery ended with the pipe empty (cwnd one segment, the guest's delayed ACK).
      const usable = Math.min(this.sndWnd - this.inFlight, Math.min(flightCap, this.cwnd) - flight);
      let len = Math.min(unsent, mss, Math.max(0, usable), limit);
      if (len < unsent && len < mss && len < limit && !this.#forceSmall) {
        // Window-limited: avoid silly small segments (RFC 9293 3.8.6.2.1).
        if (len < (this.maxSndWnd >> 1)) len = 0;
      }
      this.#forceSmall = false;
      // The rest of a host read that filled a whole region: the next read completes its segment.
      if (this.#holdTail && len === unsent && len < mss) {
        this.#tailHeld = true;
        break;
      }
      const fin = this.finQueued && len === unsent;
      if (len === 0 && !fin) break;
      if (this.#host.outputBlocked()) {
        linkBlocked = true;
        break;
      }
      this.#sendData(this.sndNxt, len, fin);
      if (this.#rttStart < 0 && seqGe(this.sndNxt, this.sndMax)) {
        this.#rttStart = this.#host.now();
        this.#rttSeq = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
      }
      this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
      pipe += len + (fin ? 1 : 0);
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      if (this.rtxAt === Infinity) this.rtxAt = this.#host.now() + this.rto;
      sent = true;
      if (fin) break;
    }
    // New data restarts the tail loss probe (RFC 8985 7.2).
    if (sent) this.#armTlp(this.#host.now());
    // Persist: data waits behind a zero (or too small) window with nothing in flight. While the owner
    // adds more (`commitSend`'s `more`) its `releaseTail` arms it: a read that fills the ring to the
    // last byte finds no room for the next, and nothing else would (forwards' clients behind a guest
    // that read nothing for seconds then waited for ever for a window update that never came).
    if (
      !linkBlocked && seqLt(this.sndNxt, dataEnd) && this.sndNxt === this.sndUna &&
      this.persistAt === Infinity && this.rtxAt === Infinity
    ) {
      if (this.#holdTail) this.#tailHeld = true;
      else this.persistAt = this.#host.now() + this.#persistInterval();
    }
  }

  #persistInterval(): number {
    return Math.min(this.cfg.maxRtoMs, Math.max(this.rto, this.cfg.minRtoMs) * 2 ** this.#persistBackoff);
  }

  /** Retransmits the first unacknowledged segment (fast retransmit). */
  #retransmitFirst(): void {
    const dataEnd = this.#dataEnd();
    const unsent = seqDiff(dataEnd, this.sndUna);
    let len = Math.max(0, Math.min(unsent, this.#segMss()));
    // Up to what the peer SACKed, which it holds already.
    if (this.#sbStart.length > 0) len = Math.min(len, seqDiff(this.#sbStart[0]!, this.sndUna));
    const fin = this.finQueued && len === unsent && seqGt(this.sndMax, dataEnd);
    if (len === 0 && !fin) return;
    this.#sendData(this.sndUna, len, fin);
    if (this.inRecovery && this.sackOk && len > 0) {
      addRange(
        this.#rxStart,
        this.#rxEnd,
        this.sndUna,
        seqAdd(this.sndUna, len),
        this.cfg.maxOutOfOrderRanges,
      );
      this.#noteRetransmit(this.sndUna, len);
    }
    // Karn: no RTT sample across a retransmission.
    this.#rttStart = -1;
  }

  /** Option bytes on our next synchronized segment. */
  #optionsLength(): number {
    const blocks = this.sackOk ? Math.min(this.#oooStart.length, this.tsOk ? 3 : 4) : 0;
    return blocks === 0 && !this.tsOk ? 0 : tcpAckOptionsLength(this.tsOk, blocks);
  }

  /** Largest payload of a segment sent now: the MSS counts data only, options come out of it (RFC 6691). */
  #segMss(): number {
    return this.effMss - this.#optionsLength();
  }

  /** Writes the header (with timestamps and SACK blocks as negotiated) of a synchronized segment; returns its length. */
  #writeHeader(seq: number, flags: number): number {
    let hlen = TCP_HEADER_LEN;
    const sack = this.sackOk && this.#oooStart.length > 0;
    if (this.tsOk || sack) {
      const blocks = sack ? this.#fillSackBlocks() : 0;
      hlen += writeTcpAckOptions(
        SCRATCH,
        TCP_HEADER_LEN,
        this.tsOk,
        this.#tsClock(),
        this.#tsRecent,
        this.#sackOut,
        blocks,
      );
    }
    writeTcpBase(SCRATCH, 0, this.localPort, this.remotePort, seq, this.rcvNxt, hlen, flags, this.#window());
    this.#lastAckSent = this.rcvNxt;
    return hlen;
  }

  /**
   * The SACK blocks to send, from the out-of-order list: the block holding
   * the latest segment first, then the highest others (RFC 2018 4).
   */
  #fillSackBlocks(): number {
    const starts = this.#oooStart;
    const ends = this.#oooEnd;
    const n = starts.length;
    const max = this.tsOk ? 3 : 4;
    let first = n - 1;
    for (let i = 0; i < n; i++) {
      if (seqLe(starts[i]!, this.#oooLatest) && seqLt(this.#oooLatest, ends[i]!)) {
        first = i;
        break;
      }
    }
    const out = this.#sackOut;
    out[0] = starts[first]!;
    out[1] = ends[first]!;
    let k = 1;
    for (let i = n - 1; i >= 0 && k < max; i--) {
      if (i === first) continue;
      out[2 * k] = starts[i]!;
      out[2 * k + 1] = ends[i]!;
      k++;
    }
    return k;
  }

  #sendData(seq: number, len: number, fin: boolean): void {
    const dataEnd = this.#dataEnd();
    let flags = TCP_ACK;
    if (fin) flags |= TCP_FIN;
    if (len > 0 && seqAdd(seq, len) === dataEnd) flags |= TCP_PSH;
    const hlen = this.#writeHeader(seq, flags);
    if (len > 0) this.sndBuf!.copyOut(seqDiff(seq, this.sndBase), SCRATCH, hlen, len);
    if (seqLt(seq, this.sndMax)) this.stats.retransmits++;
    this.stats.bytesOut += len;
    this.ackPending = 0;
    this.ackAt = Infinity;
    this.#emit(hlen + len);
  }

  /** Sends a bare ACK now (clears any held ACK). */
  sendAck(): void {
    if (
      this.state === TcpState.Closed || this.state === TcpState.SynPending || this.state === TcpState.SynSent
    ) return;
    // sndMax, not sndNxt: while retransmitting, sndNxt lags behind what the peer already has,
    // and an ACK below its rcvNxt would be dropped unread (and answered, ad infinitum).
    const hlen = this.#writeHeader(this.sndMax, TCP_ACK);
    this.ackPending = 0;
    this.ackAt = Infinity;
    this.stats.acksOut++;
    this.#emit(hlen);
  }

  #sendRst(seq: number, ack: number, withAck: boolean): void {
    writeTcpBase(
      SCRATCH,
      0,
      this.localPort,
      this.remotePort,
      seq,
      withAck ? ack : 0,
      TCP_HEADER_LEN,
      withAck ? TCP_RST | TCP_ACK : TCP_RST,
      0,
    );
    this.stats.rstOut++;
    this.#emit(TCP_HEADER_LEN);
  }

  /** An empty segment one below `sndUna`: the peer answers with an ACK (keep-alive and window probe). */
  #sendProbe(): void {
    this.#emit(this.#writeHeader(seqAdd(this.sndUna, -1), TCP_ACK));
  }

  /** The window field to send now; updates the advertised right edge. */
  #window(): number {
    const ring = this.rcvBuf;
    if (ring === null) {
      // Handshake or TIME-WAIT: whatever was offered last.
      const w = seqDiff(this.rcvAdvRight, this.rcvNxt);
      return w <= 0 ? 0 : Math.min(0xffff, w >>> this.rcvShift);
    }
    const cap = ring.capacity;
    let right = this.#rightEdge(ring);
    // Receiver silly window avoidance: move the right edge only by a useful step.
    if (
      seqDiff(right, this.rcvAdvRight) < Math.min(cap >> 1, this.cfg.mss) &&
      seqGe(this.rcvAdvRight, this.rcvNxt)
    ) {
      right = this.rcvAdvRight;
    }
    let field = seqDiff(right, this.rcvNxt) >>> this.rcvShift;
    if (seqLt(right, this.rcvNxt)) field = 0;
    if (field > 0xffff) field = 0xffff;
    const edge = seqAdd(this.rcvNxt, field << this.rcvShift);
    if (seqGt(edge, this.rcvAdvRight)) this.rcvAdvRight = edge;
    return field;
  }

  #emit(len: number): void {
    const seg = scratchView(len);
    setTcpChecksum(this.localAddr, this.remoteAddr, seg);
    this.stats.segmentsOut++;
    this.#host.emit(this.localAddr, this.remoteAddr, seg, FRAME);
  }

  // ---------------------------------------------------------------- timers

  #armKeepAlive(now: number): void {
    const idle = this.cfg.keepAliveIdleMs;
    this.keepAt = idle === Infinity ? Infinity : now + idle;
  }

  /** Runs the timers that are due. */
  poll(): void {
    const now = this.#host.now();
    if (this.state === TcpState.Closed) return;
    if (now >= this.closeAt) {
      this.#close(null);
      return;
    }
    if (now >= this.ackAt) {
      // The peer may have waited for it (a congestion window of fewer than ackEveryLarge segments, after a
      // timeout): its next jumbo segments ask for the end-of-batch flush, as Linux's quick ACKs do.
      this.#quickAcks = QUICK_ACKS;
      this.sendAck();
    }
    if (now >= this.#reoAt) {
      this.#reoAt = Infinity;
      if (this.dupAcks > 0 && !this.inRecovery && seqGe(this.sndUna, this.#recover)) this.#enterRecovery();
    }
    if (now >= this.#tlpAt) this.#probeTail(now);
    if (now >= this.rtxAt) this.#onRtxTimeout(now);
    if (this.#isClosed()) return;
    if (now >= this.persistAt) {
      this.persistAt = Infinity;
      if (this.sndWnd > this.inFlight) {
        // A small window that never grew: send into it anyway (RFC 9293 3.8.6.2.1 override).
        this.#forceSmall = true;
        this.output();
        this.#forceSmall = false;
      }
      if (this.sndNxt === this.sndUna) {
        this.stats.windowProbes++;
        this.#sendProbe();
      }
      if (this.#persistBackoff < 16) this.#persistBackoff++;
      this.persistAt = now + this.#persistInterval();
    }
    if (now >= this.keepAt) {
      if (!this.synchronized || this.state === TcpState.TimeWait) {
        this.keepAt = Infinity;
      } else if (this.#keepProbes >= this.cfg.keepAliveProbes) {
        this.stats.timeouts++;
        this.abort("keep-alive timeout");
        return;
      } else {
        this.#keepProbes++;
        this.stats.keepAliveProbes++;
        this.#sendProbe();
        this.keepAt = now + this.cfg.keepAliveIntervalMs;
      }
    }
  }

  #onRtxTimeout(now: number): void {
    this.stats.rtoTimeouts++;
    if (this.state === TcpState.SynSent || this.state === TcpState.SynReceived) {
      if (++this.#synTries > this.cfg.synRetries) {
        this.stats.timeouts++;
        if (this.state === TcpState.SynReceived) this.#sendRst(this.sndNxt, this.rcvNxt, true);
        this.#close("timeout");
        return;
      }
      this.rto = Math.min(this.cfg.maxRtoMs, this.rto * 2);
      this.#rttStart = -1;
      this.stats.retransmits++;
      this.#sendSyn(this.state === TcpState.SynReceived);
      this.rtxAt = now + this.rto;
      return;
    }
    if (!seqGt(this.sndMax, this.sndUna)) {
      this.rtxAt = Infinity;
      return;
    }
    if (++this.#backoffs > this.cfg.dataRetries) {
      this.stats.timeouts++;
      this.abort("retransmission timeout");
      return;
    }
    const mss = this.effMss;
    // A first timeout may be spurious (a stalled host, a late ACK): remember what to go back to.
    this.#rtoUndoArmed = this.tsOk && this.#backoffs === 1;
    if (this.#rtoUndoArmed) {
      this.#undoCwnd = this.cwnd;
      this.#undoSsthresh = this.ssthresh;
      this.#undoNxt = this.sndNxt;
    }
    this.ssthresh = this.#reduce(seqDiff(this.sndMax, this.sndUna));
    this.cwnd = mss;
    this.#cwndAcc = 0;
    this.inRecovery = false;
    this.#recover = this.sndMax;
    this.dupAcks = 0;
    // The scoreboard spares SACKed data from go-back-N. A peer may drop what it SACKed (reneging,
    // RFC 2018 8), and then a scoreboard that skips it stalls us: from the second timeout in a row, forget it.
    if (this.#backoffs > 1) this.#clearScoreboard();
    this.#clearRetransmitted();
    this.#reoAt = Infinity;
    this.#tlpAt = Infinity;
    this.#tlpOut = true; // no probe in go-back-N, until an ACK moves on
    this.#tsAtTimeout = this.#tsClock();
    this.rto = Math.min(this.cfg.maxRtoMs, this.rto * 2);
    this.#rttStart = -1;
    this.sndNxt = this.sndUna;
    this.rtxAt = Infinity;
    this.output();
    if (this.rtxAt === Infinity) this.rtxAt = now + this.rto;
  }

  // ---------------------------------------------------------------- closing

  #enterTimeWait(now: number): void {
    this.state = TcpState.TimeWait;
    this.#release(true);
    this.rtxAt = Infinity;
    this.persistAt = Infinity;
    this.keepAt = Infinity;
    this.#reoAt = Infinity;
    this.#tlpAt = Infinity;
    this.ackAt = Infinity;
    this.closeAt = now + this.cfg.timeWaitMs;
    this.#host.onTimeWait();
  }

  #newRing(initial: number, max: number): ByteRing {
    const reuse = this.#host.takeBuffer?.(ByteRing.initialCapacity(initial, max)) ?? null;
    return new ByteRing(initial, max, reuse);
  }

  /** Frees the rings; received data the owner has not read yet survives an orderly close. */
  #release(keepUnread: boolean): void {
    if (this.sndBuf !== null) {
      this.#held(-this.sndBuf.capacity);
      this.#host.giveBuffer?.(this.sndBuf.buf, true);
    }
    this.sndBuf = null;
    if (this.rcvBuf !== null && !(keepUnread && this.rcvBuf.length > 0)) {
      this.#held(-this.rcvBuf.capacity);
      this.#host.giveBuffer?.(this.rcvBuf.buf, false);
      this.rcvBuf = null;
    }
    this.#oooStart.length = 0;
    this.#oooEnd.length = 0;
    this.#clearScoreboard();
  }

  /** After a read: once closed or in TIME-WAIT, the drained receive ring goes. */
  #releaseDrained(): void {
    const ring = this.rcvBuf;
    if (
      ring !== null && ring.length === 0 &&
      (this.state === TcpState.Closed || this.state === TcpState.TimeWait)
    ) {
      this.#held(-ring.capacity);
      this.#host.giveBuffer?.(ring.buf, false);
      this.rcvBuf = null;
    }
  }

  #close(reason: string | null): void {
    if (this.state === TcpState.Closed) return;
    this.state = TcpState.Closed;
    this.closeReason = reason;
    this.#release(reason === null);
    this.rtxAt = Infinity;
    this.ackAt = Infinity;
    this.persistAt = Infinity;
    this.keepAt = Infinity;
    this.#reoAt = Infinity;
    this.#tlpAt = Infinity;
    this.closeAt = Infinity;
    this.ackPending = 0;
    if (reason === null) this.stats.closedOrderly++;
    else this.stats.closedAbort++;
    this.#host.onClosed(reason);
  }
}

const EMPTY = new Uint8Array(0);
