/**
 * State-machine cases for one guest-facing TCP endpoint, driven by hand-made
 * segments on a fake clock: every segment it emits is parsed and checked.
 */
import assert from "node:assert/strict";
import {
  buildTcpSegment,
  formatTcpFlags,
  newTcpRepr,
  parseTcp,
  setTcpChecksum,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  type TcpHeaderFields,
  type TcpRepr,
  verifyTcpChecksum,
  writeTcpAckOptions,
  writeTcpBase,
} from "../../src/wire/tcp.ts";
import { newTcpStats } from "../../src/slirp/tcp/stats.ts";
import {
  DEFAULT_TCB_CONFIG,
  type TcbConfig,
  type TcbHost,
  TcpConnection,
  TcpState,
} from "../../src/slirp/tcp/tcb.ts";

const US = new Uint8Array([192, 0, 2, 1]);
const PEER = new Uint8Array([10, 0, 2, 15]);
const US_PORT = 80;
const PEER_PORT = 40000;
const PEER_ISS = 1000;
const OUR_ISS = 5000;

interface Seg extends TcpRepr {
  payload: Uint8Array;
}

/** One connection on a fake clock, with the peer played by the test. */
class Rig implements TcbHost {
  t = 0;
  out: Seg[] = [];
  events: string[] = [];
  readonly stats = newTcpStats();
  readonly conn: TcpConnection;
  /** The peer's next sequence number. */
  peerSeq = PEER_ISS + 1;

  constructor(cfg: Partial<TcbConfig> = {}, iss = OUR_ISS) {
    const full: TcbConfig = { ...DEFAULT_TCB_CONFIG, keepAliveIdleMs: Infinity, ...cfg };
    this.conn = new TcpConnection(this, full, this.stats, US, US_PORT, PEER, PEER_PORT, iss);
  }

  now(): number {
    return this.t;
  }
  emit(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    assert.deepEqual(src, US);
    assert.deepEqual(dst, PEER);
    assert.ok(verifyTcpChecksum(src, dst, seg), "checksum of an emitted segment");
    const copy = seg.slice();
    const r = newTcpRepr();
    const err = parseTcp(copy, r);
    if (err !== null) throw new Error(`emitted a bad segment: ${err}`);
    this.out.push({ ...r, payload: copy.subarray(r.headerLength) });
  }
  onEstablished(): void {
    this.events.push("established");
  }
  onReadable(): void {
    this.events.push("readable");
  }
  onWritable(): void {
    this.events.push("writable");
  }
  onTimeWait(): void {
    this.events.push("time-wait");
  }
  onClosed(reason: string | null): void {
    this.events.push(`closed:${reason}`);
  }
  onTimer(): void {}
  ackFlushAsks = 0;
  onAckPending(): void {
    this.ackFlushAsks++;
  }
  outputBlocked(): boolean {
    return false;
  }

  /**
   * Delivers a segment from the peer. `sack` adds SACK blocks (`[left, right, ...]`, with the
   * timestamp option when `tsVal` is given); `rawOptions` replaces the options with these bytes.
   */
  input(
    f: Partial<TcpHeaderFields> & { flags: number; sack?: number[]; rawOptions?: number[] },
    payload: Uint8Array = new Uint8Array(0),
  ): void {
    const fields = { srcPort: PEER_PORT, dstPort: US_PORT, seq: this.peerSeq, ack: 0, window: 65535, ...f };
    const seg = f.sack === undefined && f.rawOptions === undefined
      ? buildTcpSegment(fields, payload, PEER, US)
      : segmentWithOptions(fields, f.sack ?? [], f.rawOptions, payload);
    const r = newTcpRepr();
    const err = parseTcp(seg, r, { urgentPastData: "clamp" });
    if (err !== null) throw new Error(err);
    if (!this.#opened && this.conn.state === TcpState.Closed && r.flags === TCP_SYN) {
      // What the engine does with a SYN for no connection.
      this.#opened = true;
      this.conn.receiveSyn(r);
      return;
    }
    this.conn.input(r, seg);
  }
  #opened = false;

  /** Data from the peer at its current sequence number (advancing it). */
  data(payload: Uint8Array, extra: Partial<TcpHeaderFields> = {}): void {
    this.input({ flags: TCP_ACK, ack: this.conn.sndMax, ...extra }, payload);
    this.peerSeq = (this.peerSeq + payload.length) >>> 0;
  }

  /** Advances the clock, running due timers. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const d = this.conn.deadline;
      if (d > end) break;
      this.t = Math.max(this.t, d);
      this.conn.poll();
    }
    this.t = end;
  }

  take(): Seg[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  /** Passive open through to ESTABLISHED; returns the SYN-ACK. */
  accept(syn: Partial<TcpHeaderFields> = { mss: 1460, wscale: 7 }, rttMs = 0): Seg {
    this.input({ flags: TCP_SYN, seq: PEER_ISS, ...syn });
    assert.equal(this.conn.state, TcpState.SynPending);
    assert.equal(this.take().length, 0, "no answer before acceptSyn");
    this.conn.acceptSyn();
    const [synAck] = this.take();
    assert.ok(synAck);
    this.advance(rttMs);
    this.input({ flags: TCP_ACK, ack: (OUR_ISS + 1) >>> 0 });
    assert.equal(this.conn.state, TcpState.Established);
    return synAck!;
  }
}

/** A peer segment with SACK blocks (and timestamps), or with raw option bytes. */
function segmentWithOptions(
  f: TcpHeaderFields,
  sack: number[],
  raw: number[] | undefined,
  payload: Uint8Array,
): Uint8Array {
  const opts = new Uint8Array(40);
  let n: number;
  if (raw !== undefined) {
    opts.set(raw);
    n = (raw.length + 3) & ~3;
  } else {
    n = writeTcpAckOptions(opts, 0, f.tsVal !== undefined, f.tsVal ?? 0, f.tsEcr ?? 0, sack, sack.length / 2);
  }
  const seg = new Uint8Array(20 + n + payload.length);
  writeTcpBase(seg, 0, f.srcPort, f.dstPort, f.seq, f.ack ?? 0, 20 + n, f.flags, f.window ?? 0);
  seg.set(opts.subarray(0, n), 20);
  seg.set(payload, 20 + n);
  setTcpChecksum(PEER, US, seg);
  return seg;
}

function flagsOf(s: Seg): string {
  return formatTcpFlags(s.flags);
}

function bytes(n: number, seed = 1): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);
}

Deno.test("with a jumbo MSS the rings, and the window scale offered, reach the larger sizes", () => {
  const sizes = {
    receiveBufferSize: 512 * 1024,
    receiveBufferSizeLarge: 2 << 20,
    sendBufferSize: 512 * 1024,
    sendBufferSizeLarge: 4 << 20,
  };
  const jumbo = new Rig({ mss: 9176, ...sizes });
  assert.equal(jumbo.accept({ mss: 9176, wscale: 7 }).wscale, 6, "2 MiB needs a shift of 6");
  assert.equal(jumbo.conn.rcvBuf!.max, 2 << 20);
  assert.equal(jumbo.conn.sndBuf!.max, 4 << 20);
  const plain = new Rig({ mss: 1460, ...sizes });
  assert.equal(plain.accept({ mss: 1460, wscale: 7 }).wscale, 4, "512 KiB needs a shift of 4");
  assert.equal(plain.conn.rcvBuf!.max, 512 * 1024);
  assert.equal(plain.conn.sndBuf!.max, 512 * 1024);
});

Deno.test("the send ring grows to what the switch queues in full-size frames, never below sendBufferSize", () => {
  const sizes = { sendBufferSize: 512 * 1024, sendBufferSizeLarge: 4 << 20 };
  const ours = new Rig({ mss: 1460, switchQueueFrames: 911, ...sizes });
  ours.accept({ mss: 1460, wscale: 7 });
  assert.equal(ours.conn.sndBuf!.max, 2 << 20, "906 frames of 1460 bytes round up to 2 MiB");
  const debian = new Rig({ mss: 1460, switchQueueFrames: 93, ...sizes });
  debian.accept({ mss: 1460, wscale: 7 });
  assert.equal(debian.conn.sndBuf!.max, 512 * 1024);
  const unknown = new Rig({ mss: 1460, switchQueueFrames: 0, ...sizes });
  unknown.accept({ mss: 1460, wscale: 7 });
  assert.equal(unknown.conn.sndBuf!.max, 512 * 1024);
  const jumbo = new Rig({ mss: 9176, switchQueueFrames: 911, ...sizes });
  jumbo.accept({ mss: 9176, wscale: 7 });
  assert.equal(jumbo.conn.sndBuf!.max, 4 << 20, "a jumbo MSS keeps its own size");
});

Deno.test("passive open: SYN waits for acceptSyn, then SYN-ACK with MSS and window scale", () => {
  const rig = new Rig({ mss: 1400, receiveBufferSize: 256 * 1024, initialBufferSize: 128 * 1024 });
  const synAck = rig.accept({ mss: 1000, wscale: 7 });
  assert.equal(flagsOf(synAck), "SYN|ACK");
  assert.equal(synAck.seq, OUR_ISS);
  assert.equal(synAck.ack, PEER_ISS + 1);
  assert.equal(synAck.mss, 1400);
  assert.equal(synAck.wscale, 3, "256 KiB needs a shift of 3");
  assert.equal(synAck.window, 65535, "the SYN-ACK window is unscaled (128 KiB offered, capped)");
  assert.equal(rig.conn.effMss, 1000, "we send no more than the peer's MSS");
  assert.equal(rig.conn.sndShift, 7);
  assert.equal(rig.conn.rcvShift, 3);
  assert.deepEqual(rig.events, ["established"]);
});

Deno.test("passive open without the peer's window scale: no scaling either way, window capped at 65535", () => {
  const rig = new Rig({ initialBufferSize: 128 * 1024 });
  const synAck = rig.accept({ mss: 1460 });
  assert.equal(synAck.wscale, -1);
  assert.equal(rig.conn.sndShift, 0);
  assert.equal(rig.conn.rcvShift, 0);
  rig.conn.sendAck();
  assert.equal(rig.take()[0]!.window, 65535);
});

Deno.test("passive open without MSS option uses 536", () => {
  const rig = new Rig();
  rig.accept({});
  assert.equal(rig.conn.effMss, 536);
});

Deno.test("refuseSyn answers the SYN with RST|ACK and closes", () => {
  const rig = new Rig();
  rig.input({ flags: TCP_SYN, seq: PEER_ISS });
  rig.conn.refuseSyn();
  const [rst] = rig.take();
  assert.equal(flagsOf(rst!), "RST|ACK");
  assert.equal(rst!.ack, PEER_ISS + 1);
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.deepEqual(rig.events, ["closed:refused"]);
});

Deno.test("a RST while the SYN is pending closes without an answer", () => {
  const rig = new Rig();
  rig.input({ flags: TCP_SYN, seq: PEER_ISS });
  rig.input({ flags: TCP_RST, seq: PEER_ISS + 1 });
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.equal(rig.take().length, 0);
  assert.deepEqual(rig.events, ["closed:reset"]);
});

Deno.test("SYN-ACK is retransmitted with exponential backoff, then the connection gives up with a RST", () => {
  const rig = new Rig({ initialRtoMs: 1000, synRetries: 3 });
  rig.input({ flags: TCP_SYN, seq: PEER_ISS, mss: 1460 });
  rig.conn.acceptSyn();
  rig.take();
  const times: number[] = [];
  for (let i = 0; i < 40 && rig.conn.state !== TcpState.Closed; i++) {
    rig.advance(500);
    for (const s of rig.take()) {
      if (s.flags === (TCP_SYN | TCP_ACK)) times.push(rig.t);
      else assert.equal(flagsOf(s), "RST|ACK");
    }
  }
  assert.deepEqual(times, [1000, 3000, 7000]);
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.deepEqual(rig.events, ["closed:timeout"]);
});

Deno.test("a retransmitted SYN in SYN-RECEIVED gets the SYN-ACK again", () => {
  const rig = new Rig();
  rig.input({ flags: TCP_SYN, seq: PEER_ISS });
  rig.conn.acceptSyn();
  rig.take();
  rig.input({ flags: TCP_SYN, seq: PEER_ISS });
  const [again] = rig.take();
  assert.equal(flagsOf(again!), "SYN|ACK");
  assert.equal(again!.seq, OUR_ISS);
});

Deno.test("active open: SYN, SYN-ACK, ACK; an unacceptable SYN-ACK gets a RST", () => {
  const rig = new Rig({ mss: 1460 });
  rig.conn.connect();
  const [syn] = rig.take();
  assert.equal(flagsOf(syn!), "SYN");
  assert.equal(syn!.mss, 1460);
  assert.ok(syn!.wscale >= 0);
  // Wrong ACK: RST with its sequence number from the ACK.
  rig.input({ flags: TCP_SYN | TCP_ACK, seq: PEER_ISS, ack: OUR_ISS + 7 });
  const [rst] = rig.take();
  assert.equal(flagsOf(rst!), "RST");
  assert.equal(rst!.seq, OUR_ISS + 7);
  assert.equal(rig.conn.state, TcpState.SynSent);
  rig.input({
    flags: TCP_SYN | TCP_ACK,
    seq: PEER_ISS,
    ack: OUR_ISS + 1,
    mss: 1200,
    wscale: 2,
    window: 1000,
  });
  assert.equal(rig.conn.state, TcpState.Established);
  const [ack] = rig.take();
  assert.equal(flagsOf(ack!), "ACK");
  assert.equal(ack!.ack, PEER_ISS + 1);
  assert.equal(rig.conn.effMss, 1200);
  assert.equal(rig.conn.sndWnd, 1000, "the SYN-ACK window is not scaled");
  assert.equal(rig.conn.sndShift, 2);
});

Deno.test("active open refused: RST|ACK to our SYN closes with 'refused'", () => {
  const rig = new Rig();
  rig.conn.connect();
  rig.take();
  rig.input({ flags: TCP_RST | TCP_ACK, seq: 0, ack: OUR_ISS + 1 });
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.deepEqual(rig.events, ["closed:refused"]);
});

Deno.test("in-order data is ACKed every second segment, a lone segment after the delayed-ACK time", () => {
  const rig = new Rig({ delayedAckMs: 40, ackEvery: 2 });
  rig.accept();
  rig.data(bytes(1000));
  assert.equal(rig.take().length, 0, "first segment: ACK held");
  rig.data(bytes(1000));
  const [a] = rig.take();
  assert.equal(a!.ack, PEER_ISS + 1 + 2000);
  rig.data(bytes(500));
  assert.equal(rig.take().length, 0);
  rig.advance(39);
  assert.equal(rig.take().length, 0);
  rig.advance(1);
  const [b] = rig.take();
  assert.equal(b!.ack, PEER_ISS + 1 + 2500);
  assert.equal(rig.conn.readableBytes, 2500);
});

Deno.test("in-order jumbo segments (above 4 KiB) are ACKed every fourth, smaller ones every second", () => {
  const rig = new Rig({ delayedAckMs: 40, ackEvery: 2, ackEveryLarge: 4, initialBufferSize: 256 * 1024 });
  rig.accept({ mss: 9000, wscale: 7 });
  for (let i = 1; i <= 3; i++) {
    rig.data(bytes(9000));
    assert.equal(rig.take().length, 0, `jumbo segment ${i}: ACK held`);
  }
  rig.data(bytes(9000));
  const [a] = rig.take();
  assert.equal(a!.ack, PEER_ISS + 1 + 36_000);
  rig.data(bytes(4000));
  assert.equal(rig.take().length, 0);
  rig.data(bytes(4000));
  assert.equal(
    rig.take()[0]!.ack,
    PEER_ISS + 1 + 44_000,
    "two segments of 4 KiB or less: ACKed at the second",
  );
});

Deno.test("a held ACK asks for the end-of-batch flush, except for jumbo segments without PSH, whose ACK waits for the fourth or the timer (then 16 quick ACKs)", () => {
  const rig = new Rig({ delayedAckMs: 10, ackEvery: 2, ackEveryLarge: 4, initialBufferSize: 256 * 1024 });
  rig.accept({ mss: 9000, wscale: 7 });
  rig.data(bytes(9000));
  rig.data(bytes(9000));
  assert.equal(rig.ackFlushAsks, 0, "a jumbo stream's segments leave their ACK to the fourth");
  rig.data(bytes(9000), { flags: TCP_ACK | TCP_PSH });
  assert.equal(rig.ackFlushAsks, 1, "the end of the peer's write: flushed with the batch");
  rig.data(bytes(9000), { flags: TCP_ACK | TCP_PSH });
  assert.equal(rig.ackFlushAsks, 1, "asked once per batch");
  assert.equal(rig.take()[0]!.ack, PEER_ISS + 1 + 36_000, "the fourth is ACKed");
  rig.conn.flushAck();
  rig.data(bytes(100));
  assert.equal(rig.ackFlushAsks, 2, "a small segment (a write's tail) asks for the flush");
  rig.conn.flushAck();
  assert.equal(rig.take()[0]!.ack, PEER_ISS + 1 + 36_100);
  rig.data(bytes(9000));
  assert.equal(rig.ackFlushAsks, 2);
  assert.equal(rig.take().length, 0);
  rig.advance(10);
  assert.equal(rig.take()[0]!.ack, PEER_ISS + 1 + 45_100, "a lone jumbo segment: the delayed-ACK timer");
  // The peer may have waited for that ACK (a small congestion window after a timeout): quick ACKs.
  rig.data(bytes(9000));
  assert.equal(rig.ackFlushAsks, 3, "after the timer, a jumbo segment without PSH asks for the flush");
  rig.conn.flushAck();
  assert.equal(rig.take()[0]!.ack, PEER_ISS + 1 + 54_100);
  for (let i = 0; i < 15; i++) {
    rig.data(bytes(9000));
    rig.conn.flushAck();
    rig.conn.consume(rig.conn.readableBytes);
  }
  assert.equal(rig.ackFlushAsks, 18, "16 quick ACKs");
  rig.data(bytes(9000));
  assert.equal(rig.ackFlushAsks, 18, "then held again");
});

Deno.test("flushAck sends a held ACK at once", () => {
  const rig = new Rig({ delayedAckMs: 40 });
  rig.accept();
  rig.data(bytes(100));
  assert.equal(rig.take().length, 0);
  rig.conn.flushAck();
  assert.equal(rig.take()[0]!.ack, PEER_ISS + 1 + 100);
  rig.conn.flushAck();
  assert.equal(rig.take().length, 0, "nothing held, nothing sent");
});

Deno.test("out-of-order segments are kept, dup-ACKed at once, and delivered in order when the hole fills", () => {
  const rig = new Rig();
  rig.accept();
  const all = bytes(3000, 9);
  const base = rig.peerSeq;
  rig.input({ flags: TCP_ACK, seq: base + 2000, ack: OUR_ISS + 1 }, all.subarray(2000));
  rig.input({ flags: TCP_ACK, seq: base + 1000, ack: OUR_ISS + 1 }, all.subarray(1000, 2000));
  const dups = rig.take();
  assert.equal(dups.length, 2);
  for (const d of dups) assert.equal(d.ack, base, "duplicate ACK for the hole");
  assert.equal(rig.conn.readableBytes, 0);
  rig.input({ flags: TCP_ACK, seq: base, ack: OUR_ISS + 1 }, all.subarray(0, 1000));
  const [ack] = rig.take();
  assert.equal(ack!.ack, base + 3000, "the filled hole is ACKed at once, past the queued data");
  const got = new Uint8Array(3000);
  assert.equal(rig.conn.read(got), 3000);
  assert.deepEqual(got, all);
  assert.equal(rig.stats.outOfOrder, 2);
});

Deno.test("the out-of-order list is bounded: a segment needing a new range past the cap is dropped", () => {
  const rig = new Rig({ maxOutOfOrderRanges: 2 });
  rig.accept();
  const base = rig.peerSeq;
  for (const off of [1000, 3000, 5000]) {
    rig.input({ flags: TCP_ACK, seq: base + off, ack: OUR_ISS + 1 }, bytes(500));
  }
  assert.equal(rig.stats.outOfOrder, 2);
  assert.equal(rig.stats.outOfOrderDropped, 1);
  // A segment adjacent to a kept range merges without needing a new range.
  rig.input({ flags: TCP_ACK, seq: base + 1500, ack: OUR_ISS + 1 }, bytes(500));
  assert.equal(rig.stats.outOfOrder, 3);
});

Deno.test("overlapping and duplicate segments deliver each byte once", () => {
  const rig = new Rig();
  rig.accept();
  const all = bytes(4000, 3);
  const base = rig.peerSeq;
  const send = (from: number, to: number) =>
    rig.input({ flags: TCP_ACK, seq: base + from, ack: OUR_ISS + 1 }, all.subarray(from, to));
  send(1000, 2500);
  send(2000, 3000);
  send(0, 1500);
  send(0, 1500);
  send(2900, 4000);
  send(500, 3500);
  const got = new Uint8Array(5000);
  assert.equal(rig.conn.read(got), 4000);
  assert.deepEqual(got.subarray(0, 4000), all);
});

Deno.test("retransmission timeout: RTO from the measured RTT, doubling, then abort with RST", () => {
  const rig = new Rig({ minRtoMs: 200, dataRetries: 3 });
  // The handshake takes 50 ms: the first RTT sample.
  rig.input({ flags: TCP_SYN, seq: PEER_ISS, mss: 1460 });
  rig.conn.acceptSyn();
  rig.advance(50);
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1 });
  assert.equal(rig.conn.srtt, 50);
  assert.equal(rig.conn.rttvar, 25);
  assert.equal(rig.conn.rto, 200, "50 + 4*25 = 150, raised to the 200 ms minimum");
  rig.take();
  rig.conn.write(bytes(100));
  assert.equal(rig.take().length, 1);
  const times: number[] = [];
  for (let i = 0; i < 40 && rig.conn.state !== TcpState.Closed; i++) {
    rig.advance(100);
    for (const s of rig.take()) {
      if (s.payload.length > 0) times.push(rig.t);
      else assert.equal(flagsOf(s), "RST|ACK");
    }
  }
  assert.deepEqual(times, [250, 650, 1450]);
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.deepEqual(rig.events.slice(-1), ["closed:retransmission timeout"]);
});

Deno.test("fast retransmit on the third duplicate ACK, recovery on the full ACK", () => {
  const rig = new Rig();
  rig.accept({ mss: 1000, wscale: 0 });
  rig.conn.write(bytes(5000));
  const sent = rig.take();
  assert.equal(sent.length, 5);
  assert.deepEqual(sent.map((s) => s.payload.length), [1000, 1000, 1000, 1000, 1000]);
  const una = OUR_ISS + 1;
  rig.input({ flags: TCP_ACK, ack: una + 1000 });
  for (let i = 0; i < 2; i++) rig.input({ flags: TCP_ACK, ack: una + 1000 });
  assert.equal(rig.take().filter((s) => s.payload.length > 0).length, 0, "two duplicates: nothing yet");
  rig.input({ flags: TCP_ACK, ack: una + 1000 });
  const [rtx] = rig.take();
  assert.equal(rtx!.seq, una + 1000);
  assert.equal(rtx!.payload.length, 1000);
  assert.equal(rig.stats.fastRetransmits, 1);
  assert.ok(rig.conn.inRecovery);
  rig.input({ flags: TCP_ACK, ack: una + 5000 });
  assert.equal(rig.conn.inRecovery, false);
  assert.equal(rig.conn.sndUna, una + 5000);
});

Deno.test("NewReno: a partial ACK during recovery retransmits the next hole", () => {
  const rig = new Rig();
  rig.accept({ mss: 1000, wscale: 0 });
  rig.conn.write(bytes(6000));
  rig.take();
  const una = OUR_ISS + 1;
  for (let i = 0; i < 4; i++) rig.input({ flags: TCP_ACK, ack: una });
  assert.equal(rig.take()[0]!.seq, una);
  rig.input({ flags: TCP_ACK, ack: una + 3000 });
  const rtx = rig.take().filter((s) => s.payload.length > 0);
  assert.equal(rtx[0]!.seq, una + 3000);
  assert.equal(rig.stats.fastRetransmits, 2);
});

Deno.test("the send window: never more in flight than the peer's window", () => {
  const rig = new Rig();
  rig.accept({ mss: 1000, wscale: 0 });
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1, window: 2500 });
  rig.conn.write(bytes(10000));
  const sent = rig.take();
  const inFlight = sent.reduce((n, s) => n + s.payload.length, 0);
  assert.ok(inFlight <= 2500, `in flight ${inFlight}`);
  assert.ok(inFlight >= 2000);
});

/** The most a bulk sender had in flight while the peer ACKed each round's segments one by one, `rttMs` later. */
function largestFlight(rig: Rig, rounds: number, rttMs = 0): number {
  rig.conn.write(bytes(400_000));
  let largest = 0;
  for (let i = 0; i < rounds; i++) {
    const sent = rig.take();
    if (sent.length === 0) break;
    largest = Math.max(largest, rig.conn.inFlight);
    rig.advance(rttMs);
    for (const s of sent) rig.input({ flags: TCP_ACK, ack: (s.seq + s.payload.length) >>> 0, window: 16384 });
    rig.conn.write(bytes(400_000));
  }
  return largest;
}

Deno.test("behind a switch that queues less than the send ring, a short path has its queue less five frames in flight", () => {
  const sizes = { sendBufferSize: 512 * 1024, initialBufferSize: 512 * 1024 };
  const debian = new Rig({ mss: 1460, switchQueueFrames: 93, ...sizes });
  debian.accept({ mss: 1460, wscale: 7 });
  assert.equal(largestFlight(debian, 12), 88 * 1460, "Debian's 93 frames: 88 in flight once cwnd allows");
  // Unknown queue: the ring (512 KiB) is the limit, as is a long path (the handshake took 3 ms).
  const unknown = new Rig({ mss: 1460, switchQueueFrames: 0, ...sizes });
  unknown.accept({ mss: 1460, wscale: 7 });
  assert.ok(largestFlight(unknown, 12) > 200 * 1460, "no cap without the switch's queue");
  const far = new Rig({ mss: 1460, switchQueueFrames: 93, ...sizes });
  far.accept({ mss: 1460, wscale: 7 }, 3);
  assert.ok(largestFlight(far, 12, 3) > 200 * 1460, "no cap on a long path");
});

Deno.test("behind that switch a guest that asks for a smaller MSS has no more frames in flight than at 1460", () => {
  const rig = new Rig({
    mss: 1460,
    switchQueueFrames: 93,
    sendBufferSize: 512 * 1024,
    initialBufferSize: 512 * 1024,
  });
  rig.accept({ mss: 536, wscale: 7 });
  assert.equal(
    largestFlight(rig, 12),
    88 * 536,
    "88 segments of the guest's 536, not 88 x 1460 bytes (240 frames)",
  );
});

/**
 * A SACK connection behind Debian's switch (93 frames) with a flight at the cap (88 segments) just
 * sent, the guest's window 2 MB: the segments of that flight.
 */
function flightAtTheCap(): { rig: Rig; flight: Seg[] } {
  const rig = new Rig({
    mss: 1460,
    switchQueueFrames: 93,
    sendBufferSize: 512 * 1024,
    initialBufferSize: 512 * 1024,
  });
  rig.accept({ mss: 1460, wscale: 7, sackPermitted: true });
  assert.equal(largestFlight(rig, 12), 88 * 1460);
  rig.take();
  rig.input({ flags: TCP_ACK, ack: rig.conn.sndNxt, window: 16384 });
  return { rig, flight: rig.take() };
}

Deno.test("behind that switch a frame lost at the flight cap leaves new data flowing while the peer SACKs past it", () => {
  // The flight at the cap again, then its first segment lost in the switch's queue: the peer SACKs
  // the rest one by one as they arrive.
  const { rig, flight } = flightAtTheCap();
  assert.equal(flight.length, 88);
  const una = rig.conn.sndUna;
  const top = rig.conn.sndMax;
  const fresh: Seg[] = [];
  for (let k = 1; k < flight.length; k++) {
    const s = flight[k]!;
    rig.input({
      flags: TCP_ACK,
      ack: una,
      window: 16384,
      sack: [flight[1]!.seq, (s.seq + s.payload.length) >>> 0],
    });
    fresh.push(...rig.take().filter((o) => o.payload.length > 0 && o.seq !== una));
  }
  assert.ok(rig.conn.inRecovery);
  // What the peer SACKed has left the switch's queue: new data takes its place, up to the reduced
  // window, while the hole is still open (counted from sndUna, the cap had stopped it until then).
  assert.ok(fresh.length >= 40, `${fresh.length} new segments during the recovery`);
  for (const o of fresh) assert.ok(((o.seq - top) | 0) >= 0, "only new data besides the hole");
  // The hole filled: the pipe is not empty, the window not down to a segment.
  rig.input({ flags: TCP_ACK, ack: top, window: 16384 });
  assert.equal(rig.conn.inRecovery, false);
  assert.ok(
    rig.conn.inFlight >= 40 * 1460,
    `${rig.conn.inFlight / 1460} segments in flight after the recovery`,
  );
  assert.ok(rig.conn.cwnd >= 40 * 1460, `cwnd ${rig.conn.cwnd / 1460} segments after the recovery`);
  assert.equal(rig.stats.rtoTimeouts, 0);
});

Deno.test("behind that switch a long recovery's SACKed data does not lift ssthresh above the flight cap", () => {
  // The flight's first segment lost, its retransmissions too: the peer SACKs all the rest, and
  // the new data sent against the pipe, until far more than the cap is outstanding.
  const { rig, flight: pending } = flightAtTheCap();
  const una = rig.conn.sndUna;
  const left = (pending[0]!.seq + pending[0]!.payload.length) >>> 0;
  while (pending.length > 0 && rig.conn.inFlight < 140 * 1460) {
    const s = pending.shift()!;
    if (s.payload.length === 0 || s.seq === una) continue;
    rig.input({ flags: TCP_ACK, ack: una, window: 16384, sack: [left, (s.seq + s.payload.length) >>> 0] });
    pending.push(...rig.take());
  }
  assert.ok(rig.conn.inFlight >= 140 * 1460, `${rig.conn.inFlight / 1460} segments outstanding`);
  // The timeout: the threshold is CUBIC's 0.7 of what the switch's queue held at most, not of what
  // was outstanding (0.7 x 140 segments is more than the cap: no reduction at all).
  rig.advance(rig.conn.rto + 1);
  assert.equal(rig.stats.rtoTimeouts, 1);
  assert.ok(
    rig.conn.ssthresh <= Math.round(0.7 * 88 * 1460),
    `ssthresh ${rig.conn.ssthresh / 1460} segments`,
  );
});

/** A passive open with SACK or not and 10 segments sent (the initial window) of exactly 10 written. */
function tenInFlight(sack: boolean): { rig: Rig; sent: Seg[] } {
  const rig = new Rig({ mss: 1000 });
  rig.accept({ mss: 1000, wscale: 0, ...(sack ? { sackPermitted: true } : {}) });
  rig.conn.write(bytes(10_000));
  const sent = rig.take().filter((s) => s.payload.length > 0);
  assert.equal(sent.length, 10);
  return { rig, sent };
}

Deno.test("a SACK recovery whose last ACK covers everything sent leaves the window at ssthresh, not one segment", () => {
  const { rig, sent } = tenInFlight(true);
  const una = rig.conn.sndUna;
  // The first segment lost: the peer SACKs the others; the retransmission fills the hole.
  for (let k = 1; k < sent.length; k++) {
    rig.input({ flags: TCP_ACK, ack: una, sack: [sent[1]!.seq, (sent[k]!.seq + 1000) >>> 0] });
  }
  assert.ok(rig.conn.inRecovery);
  const ssthresh = rig.conn.ssthresh;
  assert.ok(ssthresh >= 4000, `ssthresh ${ssthresh}`);
  rig.take();
  rig.input({ flags: TCP_ACK, ack: rig.conn.sndMax });
  assert.equal(rig.conn.inRecovery, false);
  assert.equal(rig.conn.inFlight, 0);
  // RFC 6675 (and Linux) end the recovery at ssthresh: the next write goes out as that many
  // segments at once, not one waiting for the peer's delayed ACK.
  assert.equal(rig.conn.cwnd, ssthresh);
  rig.conn.write(bytes(20_000));
  assert.equal(rig.take().length, Math.floor(ssthresh / 1000));
});

Deno.test("a NewReno recovery whose last ACK covers everything sent leaves two segments (RFC 6582 3.2)", () => {
  const { rig } = tenInFlight(false);
  const una = rig.conn.sndUna;
  for (let k = 0; k < 3; k++) rig.input({ flags: TCP_ACK, ack: una });
  assert.ok(rig.conn.inRecovery);
  rig.input({ flags: TCP_ACK, ack: rig.conn.sndMax });
  assert.equal(rig.conn.inRecovery, false);
  // min(ssthresh, max(FlightSize, SMSS) + SMSS) with nothing in flight.
  assert.equal(rig.conn.cwnd, 2000);
});

Deno.test("zero window: nothing sent, probes on the persist timer, data again once it opens", () => {
  const rig = new Rig({ minRtoMs: 200, initialRtoMs: 1000 });
  rig.accept({ mss: 1000, wscale: 0 });
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1, window: 0 });
  rig.conn.write(bytes(3000));
  assert.equal(rig.take().length, 0);
  rig.advance(5000);
  const probes = rig.take();
  assert.ok(probes.length >= 2, `probes ${probes.length}`);
  for (const p of probes) {
    assert.equal(p.payload.length, 0);
    assert.equal(p.seq, OUR_ISS, "a probe sits one below sndUna");
  }
  assert.ok(rig.stats.windowProbes >= 2);
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1, window: 65535 });
  assert.equal(rig.take().reduce((n, s) => n + s.payload.length, 0), 3000);
});

Deno.test("a window too small to use, announced again, keeps the persist timer running until the data leaves", () => {
  const rig = new Rig({ minRtoMs: 200, initialRtoMs: 1000 });
  rig.accept({ mss: 1000, wscale: 0 });
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1, window: 0 });
  rig.conn.write(bytes(3000));
  // The peer reads a little: a window less than a segment and half the largest (65535) it offered,
  // which sender-side silly window avoidance does not fill at once.
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1, window: 500 });
  assert.equal(rig.take().length, 0);
  // The same window again (its answer to a probe, or its window update repeated): nothing to send
  // into yet, and the persist timer must still be what sends into it (a forward's client stalled for
  // good once the guest's update that its reader had emptied its buffer was lost).
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1, window: 500 });
  assert.ok(rig.conn.persistAt !== Infinity, "the persist timer runs");
  rig.advance(rig.conn.persistAt - rig.t);
  const sent = rig.take();
  assert.deepEqual(
    sent.map((s) => [s.seq, s.payload.length]),
    [[OUR_ISS + 1, 500]],
    "what the window takes leaves",
  );
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 501, window: 65535 });
  assert.equal(rig.take().reduce((n, s) => n + s.payload.length, 0), 2500);
});

Deno.test("receive window: closes when the owner does not read, out-of-window data is refused, reading reopens it", () => {
  const rig = new Rig({ receiveBufferSize: 8192, initialBufferSize: 8192 });
  rig.accept({ mss: 1000, wscale: 0 });
  for (let i = 0; i < 8; i++) rig.data(bytes(1024, i));
  rig.conn.flushAck();
  const last = rig.take().at(-1)!;
  assert.equal(last.window, 0, "8 KiB unread closes the window");
  // More data is outside the window: refused and ACKed.
  rig.input({ flags: TCP_ACK, seq: rig.peerSeq, ack: OUR_ISS + 1 }, bytes(100));
  const [refused] = rig.take();
  assert.equal(refused!.ack, rig.peerSeq);
  assert.equal(rig.stats.outOfWindow, 1);
  assert.equal(rig.conn.readableBytes, 8192);
  const sink = new Uint8Array(8192);
  assert.equal(rig.conn.read(sink), 8192);
  const [update] = rig.take();
  assert.equal(update!.window, 8192, "a window update when the owner drains");
  assert.ok(rig.stats.windowUpdates >= 1);
});

Deno.test("receive autotuning: the window starts at the initial ring and grows as it fills, up to the maximum", () => {
  const rig = new Rig({ initialBufferSize: 4096, receiveBufferSize: 65536 });
  const synAck = rig.accept({ mss: 1000, wscale: 0 });
  assert.equal(synAck.window, 4096, "only allocated space is offered");
  const windows: number[] = [];
  for (let i = 0; i < 80; i++) {
    rig.take();
    rig.conn.sendAck();
    const w = rig.take()[0]!.window;
    console.log(
      "readable",
      rig.conn.readableBytes,
      rig.conn.rcvShift,
      rig.conn.rcvAdvRight - rig.conn.rcvNxt,
    );
    windows.push(w);
    if (w < 1000) break;
    rig.data(bytes(1000, i));
  }
  assert.ok(Math.max(...windows) > 4096, `the window grew: ${windows.join(",")}`);
  assert.ok(rig.conn.rcvBuf!.capacity <= 65536);
  assert.ok(rig.conn.readableBytes <= 65536);
  assert.equal(windows.at(-1)! < 1000, true, "and closed at the maximum with nobody reading");
});

Deno.test("receive autotuning respects the engine-wide buffer budget", () => {
  const rig = new Rig({ initialBufferSize: 4096, receiveBufferSize: 65536, maxBufferBytes: 8192 });
  rig.accept({ mss: 1000, wscale: 0 });
  for (let i = 0; i < 4; i++) rig.data(bytes(1000, i));
  assert.equal(rig.conn.rcvBuf!.capacity, 4096, "no growth past the budget");
  rig.take();
  rig.conn.sendAck();
  const w = rig.take()[0]!.window << rig.conn.rcvShift;
  assert.equal(w, 96, "the window is what is left of 4 KiB");
});

Deno.test("window scaling carries windows beyond 64 KiB", () => {
  const rig = new Rig({ receiveBufferSize: 1 << 20, initialBufferSize: 1 << 20, receiveWindowSegments: 0 });
  rig.accept({ mss: 1460, wscale: 7 });
  rig.conn.sendAck();
  const [a] = rig.take();
  assert.equal(a!.window << rig.conn.rcvShift, 1 << 20);
  // The peer offers 2 MiB (16384 << 7): we may send past 64 KiB.
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1, window: 16384 });
  rig.conn.write(bytes(200_000));
  const inFlight = rig.take().reduce((n, s) => n + s.payload.length, 0);
  assert.equal(inFlight, 10 * 1460, "limited by the initial congestion window, not the 64 KiB field");
});

Deno.test("on a short path the receive window reaches at most receiveWindowSegments past what arrived", () => {
  const rig = new Rig({ receiveBufferSize: 1 << 20, initialBufferSize: 1 << 20, receiveWindowSegments: 64 });
  rig.accept({ mss: 1460, wscale: 7 });
  const cap = 64 * rig.conn.cfg.mss;
  const win = (s: Seg) => s.window << rig.conn.rcvShift;
  rig.conn.sendAck();
  const first = win(rig.take()[0]!);
  assert.ok(first <= cap && first > cap - (1 << rig.conn.rcvShift), `first window ${first}`);
  // A peer that sends all it may: what it has in flight (offered but not yet arrived) never passes the
  // cap, however much the owner holds unread.
  let sent = 0;
  let edge = first;
  while (sent < 400_000) {
    rig.data(bytes(1000, sent));
    sent += 1000;
    for (const s of rig.take()) {
      assert.ok(win(s) <= cap, `window ${win(s)} within ${cap}`);
      edge = Math.max(edge, sent + win(s));
    }
    assert.ok(edge - sent <= cap, `${edge - sent} bytes may be in flight, at most ${cap}`);
  }
});

Deno.test("on a short path data held for the host does not close the window", () => {
  const rig = new Rig({ receiveBufferSize: 1 << 20, initialBufferSize: 1 << 20, receiveWindowSegments: 64 });
  rig.accept({ mss: 1460, wscale: 7 });
  const cap = 64 * rig.conn.cfg.mss;
  // Half the cap arrives and waits for a host write: the window the peer sees is still the whole cap.
  for (let i = 0; i < 32; i++) rig.data(bytes(1460, i));
  rig.take();
  rig.conn.sendAck();
  const w = rig.take()[0]!.window << rig.conn.rcvShift;
  assert.equal(rig.conn.readableBytes, 32 * 1460);
  assert.ok(w > cap - (1 << rig.conn.rcvShift) && w <= cap, `window ${w} with half the cap held`);
  // Nor does the host write that drains it make a window update: the edge did not move.
  rig.conn.consume(rig.conn.receiveRegion().length);
  assert.equal(rig.take().length, 0, "no window update after the host write");
});

Deno.test("on a short path a guest that asks for a smaller MSS is offered as many of its segments, not more frames", () => {
  const rig = new Rig({ receiveBufferSize: 1 << 20, initialBufferSize: 1 << 20, switchQueueFrames: 93 });
  rig.accept({ mss: 536, wscale: 7 });
  // Past the SYN-ACK's 64 KiB, which a window may not take back.
  for (let i = 0; i < 64; i++) rig.data(bytes(536, i));
  rig.take();
  rig.conn.sendAck();
  const offered = rig.take()[0]!.window << rig.conn.rcvShift;
  // Within the queue less five of its frames (a few short of it as the window moves in whole segments).
  assert.ok(offered <= 88 * 536 && offered > 84 * 536, `window ${offered}, 88 x 536 = ${88 * 536}`);
});

Deno.test("on a short path the receive window stays five frames below what the switch queues for us", () => {
  for (const [queued, segs] of [[60, 55], [200, 195]] as const) {
    const rig = new Rig({
      receiveBufferSize: 1 << 20,
      initialBufferSize: 1 << 20,
      switchQueueFrames: queued,
    });
    rig.accept({ mss: 1460, wscale: 7 });
    rig.conn.sendAck();
    const offered = rig.take()[0]!.window << rig.conn.rcvShift;
    const cap = segs * rig.conn.cfg.mss;
    assert.ok(
      offered <= cap && offered > cap - (1 << rig.conn.rcvShift),
      `${queued} frames: window ${offered}`,
    );
  }
});

Deno.test("a jumbo MSS keeps the ring's whole receive window on a short path", () => {
  const rig = new Rig({
    mss: 9000,
    receiveBufferSize: 1 << 20,
    initialBufferSize: 1 << 20,
    receiveWindowSegments: 4,
  });
  rig.accept({ mss: 9000, wscale: 7 });
  rig.conn.sendAck();
  const [a] = rig.take();
  assert.equal(a!.window << rig.conn.rcvShift, 1 << 20);
});

Deno.test("on a long path (the handshake took 2 ms or more) the receive window is the ring's", () => {
  const rig = new Rig({ receiveBufferSize: 1 << 20, initialBufferSize: 1 << 20, receiveWindowSegments: 64 });
  rig.accept({ mss: 1460, wscale: 7 }, 3);
  rig.conn.sendAck();
  const [a] = rig.take();
  assert.equal(a!.window << rig.conn.rcvShift, 1 << 20);
});

Deno.test("peer FIN: CLOSE-WAIT, end of stream after the data; our FIN then LAST-ACK, CLOSED", () => {
  const rig = new Rig();
  rig.accept();
  rig.data(bytes(10));
  rig.input({ flags: TCP_ACK | TCP_FIN, ack: OUR_ISS + 1 });
  assert.equal(rig.conn.state, TcpState.CloseWait);
  assert.ok(rig.conn.peerFin);
  rig.conn.flushAck();
  assert.equal(rig.take().length, 0, "the FIN's ACK (and the data's) waits for our next segment");
  assert.equal(rig.conn.readableBytes, 10, "data before the FIN stays readable");
  // Half-close: we may still send; our first segment carries the ACK.
  rig.conn.write(bytes(100));
  const [d] = rig.take();
  assert.equal(d!.payload.length, 100);
  assert.equal(d!.ack, PEER_ISS + 1 + 10 + 1, "the data carries the FIN's ACK");
  rig.conn.closeSend();
  const [fin] = rig.take();
  assert.equal(flagsOf(fin!), "FIN|ACK");
  assert.equal(fin!.seq, OUR_ISS + 1 + 100);
  assert.equal(rig.conn.state, TcpState.LastAck);
  rig.input({ flags: TCP_ACK, seq: PEER_ISS + 12, ack: OUR_ISS + 102 });
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.ok(rig.events.includes("closed:null"));
  const sink = new Uint8Array(100);
  assert.equal(rig.conn.read(sink), 10, "unread data survives an orderly close");
});

Deno.test("peer FIN: its ACK rides on our FIN when the owner closes at once, else leaves at the delayed-ACK time", () => {
  const rig = new Rig({ delayedAckMs: 40 });
  rig.accept();
  rig.input({ flags: TCP_ACK | TCP_FIN, ack: OUR_ISS + 1 });
  rig.conn.flushAck();
  assert.equal(rig.take().length, 0, "no bare ACK for the FIN");
  rig.conn.closeSend();
  const [fin] = rig.take();
  assert.equal(flagsOf(fin!), "FIN|ACK");
  assert.equal(fin!.ack, PEER_ISS + 2, "our FIN acknowledges theirs: one segment, not two");
  rig.advance(100);
  assert.equal(rig.take().filter((s) => s.payload.length === 0 && flagsOf(s) === "ACK").length, 0);

  const slow = new Rig({ delayedAckMs: 40 });
  slow.accept();
  slow.input({ flags: TCP_ACK | TCP_FIN, ack: OUR_ISS + 1 });
  slow.advance(39);
  assert.equal(slow.take().length, 0);
  slow.advance(1);
  const [ack] = slow.take();
  assert.equal(flagsOf(ack!), "ACK");
  assert.equal(ack!.ack, PEER_ISS + 2, "an owner that does not close: the timer sends the ACK");
});

/** A rig whose owner lends ring buffers from a pool, as the engine does. */
class PoolRig extends Rig {
  readonly pool: Uint8Array<ArrayBuffer>[] = [];
  readonly given: Uint8Array<ArrayBuffer>[] = [];
  takeBuffer(size: number): Uint8Array<ArrayBuffer> | null {
    const b = this.pool.pop() ?? null;
    return b !== null && b.length === size ? b : null;
  }
  giveBuffer(buf: Uint8Array<ArrayBuffer>): void {
    this.given.push(buf);
  }
}

Deno.test("a connection's rings come from its owner's pool and go back once closed and drained", () => {
  const rig = new PoolRig({ initialBufferSize: 16 * 1024 });
  const a = new Uint8Array(16 * 1024).fill(0xee);
  const b = new Uint8Array(16 * 1024).fill(0xee);
  rig.pool.push(a, b);
  rig.accept();
  assert.ok(rig.conn.sndBuf!.buf === b && rig.conn.rcvBuf!.buf === a, "both rings take pooled storage");
  // Stale bytes in pooled storage never show: only what arrives is read.
  rig.data(bytes(10));
  rig.input({ flags: TCP_ACK | TCP_FIN, ack: OUR_ISS + 1 });
  rig.conn.closeSend();
  rig.input({ flags: TCP_ACK, seq: PEER_ISS + 12, ack: OUR_ISS + 2 });
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.deepEqual(
    rig.given,
    [b],
    "the send ring goes back at the close; unread data keeps the receive ring",
  );
  const sink = new Uint8Array(100);
  assert.equal(rig.conn.read(sink), 10);
  assert.deepEqual(sink.subarray(0, 10), bytes(10));
  assert.deepEqual(rig.given, [b, a], "the drained receive ring goes back too");
  assert.equal(rig.stats.bufferBytes, 0);
});

Deno.test("our FIN first: FIN-WAIT-1, FIN-WAIT-2 (still receiving), TIME-WAIT, CLOSED after 2 MSL", () => {
  const rig = new Rig({ timeWaitMs: 10_000 });
  rig.accept();
  rig.conn.closeSend();
  const [fin] = rig.take();
  assert.equal(flagsOf(fin!), "FIN|ACK");
  assert.equal(rig.conn.state, TcpState.FinWait1);
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 2 });
  assert.equal(rig.conn.state, TcpState.FinWait2);
  rig.data(bytes(300));
  assert.equal(rig.conn.readableBytes, 300, "half-closed: the peer still sends");
  rig.input({ flags: TCP_ACK | TCP_FIN, ack: OUR_ISS + 2 });
  assert.equal(rig.conn.state, TcpState.TimeWait);
  assert.ok(rig.events.includes("time-wait"));
  rig.take();
  // A retransmitted FIN is ACKed again in TIME-WAIT.
  rig.input({ flags: TCP_ACK | TCP_FIN, ack: OUR_ISS + 2 });
  const [again] = rig.take();
  assert.equal(again!.ack, rig.peerSeq + 1);
  rig.advance(9_999);
  assert.equal(rig.conn.state, TcpState.TimeWait);
  rig.advance(10_001);
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.ok(rig.events.includes("closed:null"));
});

Deno.test("simultaneous close: CLOSING then TIME-WAIT", () => {
  const rig = new Rig();
  rig.accept();
  rig.conn.closeSend();
  rig.take();
  rig.input({ flags: TCP_ACK | TCP_FIN, ack: OUR_ISS + 1 });
  assert.equal(rig.conn.state, TcpState.Closing);
  rig.input({ flags: TCP_ACK, seq: PEER_ISS + 2, ack: OUR_ISS + 2 });
  assert.equal(rig.conn.state, TcpState.TimeWait);
});

Deno.test("a FIN ahead of missing data waits for the data", () => {
  const rig = new Rig();
  rig.accept();
  const base = rig.peerSeq;
  rig.input({ flags: TCP_ACK | TCP_FIN, seq: base + 100, ack: OUR_ISS + 1 }, bytes(50));
  assert.equal(rig.conn.state, TcpState.Established);
  rig.input({ flags: TCP_ACK, seq: base, ack: OUR_ISS + 1 }, bytes(100));
  assert.equal(rig.conn.state, TcpState.CloseWait);
  assert.equal(rig.conn.readableBytes, 150);
});

Deno.test("RST: exact sequence resets, in-window gets a challenge ACK, out-of-window is ignored", () => {
  const rig = new Rig();
  rig.accept();
  rig.input({ flags: TCP_RST, seq: PEER_ISS + 1 + 100 });
  const [challenge] = rig.take();
  assert.equal(flagsOf(challenge!), "ACK");
  assert.equal(rig.conn.state, TcpState.Established);
  rig.input({ flags: TCP_RST, seq: PEER_ISS + 1 + 10_000_000 });
  assert.equal(rig.take().length, 0);
  assert.equal(rig.conn.state, TcpState.Established);
  rig.input({ flags: TCP_RST, seq: PEER_ISS + 1 });
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.deepEqual(rig.events.slice(-1), ["closed:reset"]);
  assert.equal(rig.take().length, 0, "no answer to a RST");
});

Deno.test("a SYN on an established connection gets a challenge ACK, not a reset", () => {
  const rig = new Rig();
  rig.accept();
  rig.input({ flags: TCP_SYN, seq: PEER_ISS + 1 });
  const [ack] = rig.take();
  assert.equal(flagsOf(ack!), "ACK");
  assert.equal(rig.conn.state, TcpState.Established);
});

Deno.test("abort sends RST|ACK and closes", () => {
  const rig = new Rig();
  rig.accept();
  rig.conn.abort("host reset");
  const [rst] = rig.take();
  assert.equal(flagsOf(rst!), "RST|ACK");
  assert.equal(rst!.seq, OUR_ISS + 1);
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.deepEqual(rig.events.slice(-1), ["closed:host reset"]);
});

Deno.test("keep-alive: probes after idle, answered probes keep it, silence aborts", () => {
  const rig = new Rig({ keepAliveIdleMs: 60_000, keepAliveIntervalMs: 10_000, keepAliveProbes: 3 });
  rig.accept();
  rig.advance(60_000);
  const [probe] = rig.take();
  assert.equal(probe!.seq, OUR_ISS, "one below sndUna");
  assert.equal(probe!.payload.length, 0);
  // The peer answers with an ACK: idle again.
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1 });
  rig.advance(59_000);
  assert.equal(rig.take().length, 0);
  rig.advance(1_000);
  assert.equal(rig.take().length, 1);
  rig.advance(30_000);
  const rest = rig.take();
  assert.equal(rest.filter((s) => s.flags === TCP_ACK).length, 2);
  assert.equal(flagsOf(rest.at(-1)!), "RST|ACK");
  assert.equal(rig.conn.state, TcpState.Closed);
  assert.deepEqual(rig.events.slice(-1), ["closed:keep-alive timeout"]);
});

Deno.test("the owner's reads: a keep-alive probe from the peer is answered with an ACK", () => {
  const rig = new Rig();
  rig.accept();
  rig.input({ flags: TCP_ACK, seq: PEER_ISS, ack: OUR_ISS + 1 });
  const [ack] = rig.take();
  assert.equal(ack!.ack, PEER_ISS + 1);
});

Deno.test("urgent data is delivered in line", () => {
  const rig = new Rig();
  rig.accept();
  rig.data(bytes(10), { flags: TCP_ACK | TCP_URG | TCP_PSH, urgent: 50 });
  assert.equal(rig.conn.readableBytes, 10);
});

Deno.test("sequence numbers wrap around 2^32 both ways", () => {
  const rig = new Rig({}, 0xffffff00);
  // Peer ISS near the top too.
  rig.peerSeq = 0xfffffff0 + 1;
  rig.input({ flags: TCP_SYN, seq: 0xfffffff0, mss: 1000 });
  rig.conn.acceptSyn();
  rig.take();
  rig.input({ flags: TCP_ACK, ack: 0xffffff01 });
  assert.equal(rig.conn.state, TcpState.Established);
  const payload = bytes(3000, 5);
  rig.data(payload);
  const got = new Uint8Array(3000);
  assert.equal(rig.conn.read(got), 3000);
  assert.deepEqual(got, payload);
  rig.conn.write(bytes(2000));
  const sent = rig.take().filter((s) => s.payload.length > 0);
  assert.equal(sent[0]!.seq, 0xffffff01);
  rig.input({ flags: TCP_ACK, ack: (0xffffff01 + 2000) >>> 0 });
  assert.equal(rig.conn.sndUna, (0xffffff01 + 2000) >>> 0);
  assert.equal(rig.conn.inFlight, 0);
});

Deno.test("send ring: bounded by sendBufferSize, space returns as ACKs arrive", () => {
  const rig = new Rig({ sendBufferSize: 16384, initialBufferSize: 4096 });
  rig.accept({ mss: 1000, wscale: 0, window: 65535 });
  const taken = rig.conn.write(bytes(100_000));
  assert.equal(taken, 16384);
  assert.equal(rig.conn.sendSpace, 0);
  const sent = rig.take().reduce((n, s) => n + s.payload.length, 0);
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1 + sent });
  assert.equal(rig.conn.sendSpace, sent);
  assert.ok(rig.events.includes("writable"));
});

Deno.test("bufferBytes in the stats follows the rings and returns to zero", () => {
  const rig = new Rig({ initialBufferSize: 4096 });
  rig.accept();
  assert.equal(rig.stats.bufferBytes, 8192);
  rig.data(bytes(20000));
  assert.ok(rig.stats.bufferBytes > 8192);
  rig.conn.abort();
  assert.equal(rig.stats.bufferBytes, 0);
});

Deno.test("empty out-of-window segments are answered at a limited rate (no ACK wars)", () => {
  const rig = new Rig();
  rig.accept();
  // A confused peer sends stale ACKs below our rcvNxt, many per millisecond.
  for (let i = 0; i < 100; i++) rig.input({ flags: TCP_ACK, seq: PEER_ISS - 5000, ack: OUR_ISS + 1 });
  assert.equal(rig.take().length, 1);
  rig.advance(10);
  rig.input({ flags: TCP_ACK, seq: PEER_ISS - 5000, ack: OUR_ISS + 1 });
  assert.equal(rig.take().length, 1);
  // Old data is always answered (the peer may have missed our ACK).
  for (let i = 0; i < 3; i++) {
    rig.input({ flags: TCP_ACK, seq: PEER_ISS - 5000, ack: OUR_ISS + 1 }, bytes(100));
  }
  assert.equal(rig.take().length, 3);
});

// ---------------------------------------------------------------- SACK and timestamps

/** The SACK blocks of an emitted segment as [left, right] pairs relative to `base`. */
function sackOf(s: Seg, base: number): number[][] {
  const out: number[][] = [];
  for (let k = 0; k < s.sackCount; k++) {
    out.push([(s.sackBlocks[2 * k]! - base) >>> 0, (s.sackBlocks[2 * k + 1]! - base) >>> 0]);
  }
  return out;
}

const SACK_SYN: Partial<TcpHeaderFields> = { mss: 1000, wscale: 0, sackPermitted: true, tsVal: 7000 };

Deno.test("SACK and timestamps are on only when both SYNs carry them; an old peer gets plain segments", () => {
  const rig = new Rig();
  const synAck = rig.accept(SACK_SYN);
  assert.equal(synAck.sackPermitted, true);
  assert.equal(synAck.hasTimestamp, true);
  assert.equal(synAck.tsEcr, 7000, "the SYN-ACK echoes the SYN's timestamp");
  assert.ok(rig.conn.sackOk && rig.conn.tsOk);
  rig.conn.write(bytes(3000));
  const data = rig.take();
  assert.ok(data.every((s) => s.hasTimestamp && s.tsEcr === 7000), "every segment carries timestamps");
  assert.ok(data.every((s) => s.payload.length <= 1000 - 12), "the timestamp option comes out of the MSS");

  const old = new Rig();
  const plain = old.accept({ mss: 1000, wscale: 0 });
  assert.equal(plain.sackPermitted, false);
  assert.equal(plain.hasTimestamp, false);
  assert.ok(!old.conn.sackOk && !old.conn.tsOk);
  old.conn.write(bytes(3000));
  const segs = old.take();
  assert.deepEqual(segs.map((s) => s.headerLength), [20, 20, 20]);
  assert.deepEqual(segs.map((s) => s.payload.length), [1000, 1000, 1000]);

  const off = new Rig({ sack: false, timestamps: false });
  const refused = off.accept(SACK_SYN);
  assert.equal(refused.sackPermitted, false, "configured off: not offered back");
  assert.equal(refused.hasTimestamp, false);
});

Deno.test("SACK receiver: every ACK reports the out-of-order queue, the latest block first", () => {
  const rig = new Rig();
  rig.accept({ mss: 1000, wscale: 0, sackPermitted: true });
  const base = PEER_ISS + 1;
  const seg = (i: number) =>
    rig.input({ flags: TCP_ACK, seq: base + i * 100, ack: OUR_ISS + 1 }, bytes(100, i));
  const lastAck = () => {
    const acks = rig.take().filter((s) => s.payload.length === 0);
    assert.ok(acks.length > 0, "an ACK at once");
    return acks[acks.length - 1]!;
  };
  seg(0);
  rig.conn.flushAck();
  assert.deepEqual(sackOf(lastAck(), base), [], "in order: no blocks");
  seg(2);
  let a = lastAck();
  assert.equal(a.ack, base + 100);
  assert.deepEqual(sackOf(a, base), [[200, 300]]);
  seg(5);
  assert.deepEqual(sackOf(lastAck(), base), [[500, 600], [200, 300]]);
  seg(7);
  assert.deepEqual(sackOf(lastAck(), base), [[700, 800], [500, 600], [200, 300]]);
  seg(3);
  assert.deepEqual(
    sackOf(lastAck(), base),
    [[200, 400], [700, 800], [500, 600]],
    "the block just grown first",
  );
  seg(9);
  seg(11);
  a = lastAck();
  assert.equal(a.sackCount, 4, "four blocks without timestamps");
  assert.deepEqual(sackOf(a, base)[0], [1100, 1200]);
  for (const i of [1, 4, 6, 8, 10]) seg(i);
  a = lastAck();
  assert.equal(a.ack, base + 1200);
  assert.equal(a.sackCount, 0, "the queue is empty: no blocks");
  assert.equal(rig.conn.readableBytes, 1200);
});

Deno.test("SACK sender: fast recovery retransmits only the holes the peer reports", () => {
  const rig = new Rig();
  rig.accept({ mss: 1000, wscale: 0, sackPermitted: true });
  rig.conn.write(bytes(10_000));
  const sent = rig.take();
  assert.equal(sent.length, 10);
  const una = OUR_ISS + 1;
  // Segments 0 and 4 lost: the peer holds 1-3 and 5-9.
  rig.input({ flags: TCP_ACK, ack: una, sack: [una + 1000, una + 2000] });
  rig.input({ flags: TCP_ACK, ack: una, sack: [una + 1000, una + 3000] });
  rig.input({ flags: TCP_ACK, ack: una, sack: [una + 1000, una + 4000] });
  let rtx = rig.take().filter((s) => s.payload.length > 0);
  assert.deepEqual(rtx.map((s) => s.seq - una), [0], "the first hole at the third duplicate");
  assert.ok(rig.conn.inRecovery);
  for (let k = 6; k <= 10; k++) {
    rig.input({ flags: TCP_ACK, ack: una, sack: [una + 5000, una + k * 1000, una + 1000, una + 4000] });
  }
  rtx = rig.take().filter((s) => s.payload.length > 0);
  assert.deepEqual(rtx.map((s) => s.seq - una), [4000], "then the second hole, nothing the peer holds");
  rig.input({ flags: TCP_ACK, ack: una + 4000, sack: [una + 5000, una + 10_000] });
  rig.input({ flags: TCP_ACK, ack: una + 10_000 });
  assert.equal(rig.conn.inRecovery, false);
  assert.equal(rig.stats.retransmits, 2);
  assert.equal(rig.stats.rtoTimeouts, 0);
  assert.equal(rig.conn.sackedBytes, 0);
});

Deno.test("SACK sender: after a timeout, go-back-N skips what the peer SACKed", () => {
  const rig = new Rig({ initialRtoMs: 1000 });
  rig.accept({ mss: 1000, wscale: 0, sackPermitted: true });
  rig.conn.write(bytes(6000));
  rig.take();
  const una = OUR_ISS + 1;
  rig.advance(2 * rig.conn.rto);
  let rtx = rig.take().filter((s) => s.payload.length > 0);
  assert.equal(rig.stats.tailLossProbes, 1, "first the last segment, as a probe");
  assert.equal(rig.stats.rtoTimeouts, 1);
  assert.deepEqual(rtx.map((s) => s.seq - una), [5000, 0]);
  rig.input({ flags: TCP_ACK, ack: una + 1000, sack: [una + 2000, una + 4000] });
  rtx = rig.take().filter((s) => s.payload.length > 0);
  assert.deepEqual(rtx.map((s) => s.seq - una), [1000, 4000], "2000-4000 is not sent again");
});

Deno.test("a hole with too few duplicate ACKs behind it is resent after the reordering window, not the RTO", () => {
  const rig = new Rig({ initialRtoMs: 1000, minRtoMs: 1000 });
  rig.accept({ mss: 1000, wscale: 0, sackPermitted: true });
  rig.conn.write(bytes(3000));
  rig.take();
  const una = OUR_ISS + 1;
  // Only two segments follow the lost one: two duplicates, never three.
  rig.input({ flags: TCP_ACK, ack: una, sack: [una + 1000, una + 2000] });
  rig.input({ flags: TCP_ACK, ack: una, sack: [una + 1000, una + 3000] });
  assert.equal(rig.take().filter((s) => s.payload.length > 0).length, 0, "not at once: it may be late");
  rig.advance(10);
  const rtx = rig.take().filter((s) => s.payload.length > 0);
  assert.deepEqual(rtx.map((s) => s.seq - una), [0]);
  assert.equal(rig.stats.rtoTimeouts, 0);
});

Deno.test("hostile SACK blocks (outside the window, overlapping, empty, reversed, malformed) are ignored", () => {
  const rig = new Rig();
  rig.accept({ mss: 1000, wscale: 0, sackPermitted: true });
  rig.conn.write(bytes(5000));
  rig.take();
  const una = OUR_ISS + 1;
  const max = una + 5000;
  const hostile = [
    [una - 500, una + 500], // below the ACK (a D-SACK at best)
    [max, max + 1000], // never sent
    [una + 4000, max + 1], // past sndMax
    [una + 2000, una + 2000], // empty
    [una + 3000, una + 2000], // reversed
    [(una + 0x80000000) >>> 0, (una + 0x80001000) >>> 0], // half the sequence space away
    [una, una + 1000], // at the ACK itself
  ];
  for (const b of hostile) {
    rig.input({ flags: TCP_ACK, ack: una, sack: b });
    assert.equal(rig.conn.sackedBytes, 0, `block ${b.map((x) => x - una)} ignored`);
  }
  assert.equal(rig.stats.sackBlocksIgnored, hostile.length);
  // Overlapping and repeated blocks count each byte once.
  rig.input({
    flags: TCP_ACK,
    ack: una,
    sack: [una + 1000, una + 3000, una + 2000, una + 4000, una + 1500, una + 2500],
  });
  assert.equal(rig.conn.sackedBytes, 3000);
  // A SACK option whose length is not 2 + 8n is skipped; one running past the header fails the segment.
  rig.input({ flags: TCP_ACK, ack: una, rawOptions: [1, 1, 5, 7, 0, 0, 0, 0, 0, 0, 0, 0] });
  const past = segmentWithOptions(
    { srcPort: PEER_PORT, dstPort: US_PORT, seq: rig.peerSeq, ack: una, flags: TCP_ACK },
    [],
    [1, 1, 5, 42, 0, 0, 0, 0],
    new Uint8Array(0),
  );
  assert.notEqual(parseTcp(past, newTcpRepr()), null, "dropped before it reaches the connection");
  assert.equal(rig.conn.sackedBytes, 3000);
  assert.equal(rig.conn.sndUna, una);
  // The transfer still completes.
  rig.input({ flags: TCP_ACK, ack: una + 5000 });
  assert.equal(rig.conn.sndUna, una + 5000);
  assert.equal(rig.conn.sackedBytes, 0);
  assert.equal(rig.conn.state, TcpState.Established);
});

Deno.test("a peer that drops what it SACKed (reneging) is served by the second timeout", () => {
  const rig = new Rig({ initialRtoMs: 1000 });
  rig.accept({ mss: 1000, wscale: 0, sackPermitted: true });
  rig.conn.write(bytes(3000));
  rig.take();
  const una = OUR_ISS + 1;
  rig.input({ flags: TCP_ACK, ack: una, sack: [una + 1000, una + 3000] });
  rig.advance(1000);
  rig.take();
  rig.input({ flags: TCP_ACK, ack: una + 1000 });
  rig.advance(5000);
  const rtx = rig.take().filter((s) => s.payload.length > 0);
  assert.ok(rtx.some((s) => s.seq === una + 1000), "the reneged data is sent again");
});

Deno.test("timestamps: RTT from the echo of each ACK, PAWS drops an old duplicate", () => {
  const rig = new Rig({ minRtoMs: 10 });
  rig.accept(SACK_SYN);
  rig.t = 100;
  rig.conn.write(bytes(1000));
  const [d] = rig.take();
  rig.t = 180;
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1001, tsVal: 7100, tsEcr: d!.tsVal });
  // The handshake measured 0 ms; one sample of 80 ms moves the average an eighth of the way.
  assert.ok(Math.abs(rig.conn.srtt - 10) < 0.1, `srtt ${rig.conn.srtt}`);
  // In-order data with a newer timestamp is taken and its timestamp echoed.
  rig.data(bytes(100), { tsVal: 7200, tsEcr: d!.tsVal });
  rig.conn.flushAck();
  assert.equal(rig.take().at(-1)!.tsEcr, 7200);
  // A segment stamped before that is an old duplicate (a wrapped sequence number, say): dropped.
  rig.data(bytes(100), { tsVal: 7150, tsEcr: d!.tsVal });
  assert.equal(rig.stats.pawsDropped, 1);
  assert.equal(rig.conn.readableBytes, 100, "the old segment's bytes were not taken");
  const [ack] = rig.take();
  assert.equal(ack!.ack, PEER_ISS + 101, "answered with an ACK");
});

const TLP_AND_SLACK_MS = 20;

Deno.test("timestamps: a timeout whose ACK echoes the original segments was spurious and is undone", () => {
  const rig = new Rig({ minRtoMs: 200 });
  rig.accept(SACK_SYN);
  rig.conn.write(bytes(20 * 988));
  const sent = rig.take();
  const cwnd = rig.conn.cwnd;
  // A tail loss probe first, then the timeout.
  rig.advance(rig.conn.rto + TLP_AND_SLACK_MS);
  assert.equal(rig.stats.tailLossProbes, 1);
  assert.equal(rig.stats.rtoTimeouts, 1);
  assert.ok(rig.conn.cwnd < cwnd, "the timeout shrank the window");
  rig.take();
  const max = rig.conn.sndMax;
  // The ACK was only late: it echoes the originals' timestamp, from before the timeout.
  rig.input({ flags: TCP_ACK, ack: OUR_ISS + 1 + 988, tsVal: 7100, tsEcr: sent[0]!.tsVal });
  assert.equal(rig.stats.spuriousTimeouts, 1);
  assert.ok(rig.conn.cwnd >= cwnd, `window restored (${rig.conn.cwnd} < ${cwnd})`);
  const resent = rig.take().filter((s) => s.payload.length > 0 && s.seq < max);
  assert.equal(resent.length, 0, "the rest of the window is not sent again");
});
