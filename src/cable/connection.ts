/**
 * One TCP connection of a cable, after its handshake, as a Link.
 *
 * Theory of operation:
 * - Output: `send()` appends the frame to the current batch (VDE stream
 *   framing, the same bytes a plain cable writes) and schedules a flush on a
 *   microtask, so all frames of one turn of the event loop leave in one
 *   write. A batch is at most MAX_RECORD_BODY bytes; a full batch queues and
 *   a new one starts. Batches waiting to be written are bounded by
 *   `maxPendingBytes`: past it frames are dropped and counted, so a peer that
 *   stops reading costs bounded memory. One flush loop writes batches in
 *   order: plain, a batch is written as it is; sealed, it is encrypted into
 *   one record (its number is its nonce) and written: with OpenSSL at once,
 *   on the main thread; with WebCrypto up to SEAL_DEPTH records are
 *   encrypted at once on its threads while the oldest is written. While a
 *   write or an encryption is in flight new frames gather in the next batch.
 * - Input: one read loop. Plain, a StreamDecoder hands frames to the switch;
 *   a zero length is a keepalive; a length above the limit means the stream
 *   cannot be trusted and ends the connection. Sealed, a RecordDecoder cuts
 *   records, each is given to the opener at once (numbers in wire order);
 *   OpenSSL opens it on the spot and its frames are delivered, WebCrypto's
 *   results are delivered in order by a second loop, so reading, decryption
 *   and delivery overlap. A record that fails to open ends the
 *   connection with a log line; nothing of it, or of anything after it, is
 *   delivered.
 * - Flow control: the far end's TCP can wait, so frames are never dropped
 *   for a full peer here. While the link the frames go to (`feeds`: a
 *   switch's socket or ring) reads as congested, nothing more is read (TCP
 *   pushes back on the far end); plain, decoding stops after the frame that
 *   found it full and the rest of the chunk waits; sealed, records opened
 *   meanwhile wait in order, copied (only then), as does the rest of a
 *   record whose frames filled the peer part-way, and each is delivered
 *   once there is room. Not reading is no silence of the peer:
 *   the liveness check pauses meanwhile. As a peer itself a connection is
 *   congested while more than a quarter of `maxPendingBytes` waits, and
 *   calls `onDrain` once the flush loop takes it below, so a source that can
 *   wait (a stream, a slirp) does instead of losing frames here.
 * - Liveness: when nothing was sent for KEEPALIVE_MS a keepalive goes out
 *   (plain: a zero length; sealed: an empty keepalive record); when nothing
 *   arrived for `deadAfterMs` the connection is declared dead, so a path that
 *   silently vanished (an address that moved) is noticed and replaced.
 * - Round-trip time: when both ends offered echo in the handshake (sealed
 *   only), an echo request goes out at once and then on every liveness tick
 *   once the previous one was answered;
 *   the peer returns its body, and the time until that reply is `rttSeconds`
 *   (queueing behind frames included, as ping's would be). Echo records
 *   travel through the flush loop like frames, since a record's number is
 *   its nonce and records must leave in the order they were sealed. A peer
 *   that did not offer echo is never sent one (first-version peers refuse
 *   unknown record types), and echo from a peer that did not offer it is
 *   refused as before.
 */
import { BaseLink, CongestionWatch, type FlowPeer } from "../link/link.ts";
import { DrainMark } from "../link/drain_mark.ts";
import { MAX_FRAME_IN, StreamDecoder, StreamEncoder } from "../wire/stream_framing.ts";
import {
  ECHO_BODY_SIZE,
  framesFrom,
  MAX_RECORD_BODY,
  RECORD_HEADER_SIZE,
  RecordDecoder,
  RecordType,
  TAG_SIZE,
} from "../wire/cable_record.ts";
import type { CableTransport, SealedChannel } from "./handshake.ts";

/** Idle time after which a keepalive is sent (shorter when `deadAfterMs` is short). */
export const KEEPALIVE_MS = 5_000;
/** Silence after which the peer is declared dead, by default. */
export const DEAD_AFTER_MS = 20_000;
/** Default bound of the bytes waiting to be written. */
export const MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** Records being encrypted at once (WebCrypto). */
const SEAL_DEPTH = 3;
/** Sealed bytes gathered for one write. */
const MAX_WRITE = 1024 * 1024;
/** Header and tag of a record. */
const RECORD_OVERHEAD = RECORD_HEADER_SIZE + TAG_SIZE;
/** Records being decrypted before reading pauses. */
const MAX_OPENING = 32;
/** Read buffer size. */
const READ_BUFFER = 256 * 1024;
/** Echo replies (and requests) waiting to be sealed; a peer asking faster than we write gets no more. */
const MAX_CONTROL = 8;

/** Options of a connection. */
export interface CableConnectionOptions {
  /** Bound of the bytes waiting to be written. */
  maxPendingBytes?: number;
  /** Silence after which the peer is declared dead. */
  deadAfterMs?: number;
  /** Bytes read past the handshake. */
  leftover?: Uint8Array;
  /** Both ends take echo records (the handshake said so): measure the round-trip time. */
  echo?: boolean;
}

const PLAIN_KEEPALIVE = new Uint8Array(2);
const EMPTY = new Uint8Array(0);

/** A cable connection carrying frames, plain or sealed. */
export class CableConnection extends BaseLink {
  readonly kind = "cable" as const;
  readonly #t: CableTransport;
  readonly #channel: SealedChannel | null;
  readonly #maxPending: number;
  #current: StreamEncoder;
  readonly #queue: StreamEncoder[] = [];
  readonly #free: StreamEncoder[] = [];
  #queuedBytes = 0;
  /** Sealed records waiting for one write (OpenSSL). */
  #sealed = new Uint8Array(0);
  #flushing = false;
  #lastSend = Date.now();
  #lastReceive = Date.now();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #keepaliveMs: number;
  /** Records given to the opener and not yet delivered, in order. */
  readonly #opening: Promise<Uint8Array | null>[] = [];
  /** The record type of each entry of #opening. */
  readonly #openingTypes: number[] = [];
  /** Echo records waiting for the flush loop. */
  readonly #control: { type: number; body: Uint8Array }[] = [];
  readonly #echo: boolean;
  #echoSeq = 0;
  #echoSentAt = 0;
  #rttMs: number | undefined;
  #delivering = false;
  #resumeReading: (() => void) | null = null;
  /** Who waits for the peer to drain (the read loop, the delivery of opened records); the peer's silence meanwhile is ours. */
  readonly #roomWaiters: (() => void)[] = [];
  /** Where this connection's frames go, when it can say it is full. */
  readonly #out = new CongestionWatch(() => this.#drained());
  /** When this connection reads as congested to whoever feeds it: taking a batch below the mark calls `onDrain`. */
  readonly #drain: DrainMark;
  onDrain: (() => void) | null = null;
  readonly #deliverFrame = (frame: Uint8Array) => this.deliver(frame);
  readonly #holds = () => this.#out.congested;
  /** Bytes written to and read from the transport, headers and tags included. */
  wireBytesOut = 0;
  wireBytesIn = 0;

  constructor(
    description: string,
    t: CableTransport,
    channel: SealedChannel | null,
    o: CableConnectionOptions = {},
  ) {
    super(description);
    this.#t = t;
    this.#channel = channel;
    this.#maxPending = o.maxPendingBytes ?? MAX_PENDING_BYTES;
    // A throwing onDrain is the source's own business: it is not this connection's to fail.
    this.#drain = new DrainMark(this.#maxPending, this, () => {});
    this.#echo = o.echo === true && channel !== null;
    this.#current = this.#encoder();
    const deadAfter = o.deadAfterMs ?? DEAD_AFTER_MS;
    // Keepalives come often enough that a live peer is never mistaken for a dead one.
    this.#keepaliveMs = Math.min(KEEPALIVE_MS, deadAfter / 4);
    this.#timer = setInterval(() => this.#tick(deadAfter), this.#keepaliveMs / 2);
    this.#timer.unref();
    this.#read(o.leftover ?? new Uint8Array(0)).then(
      (reason) => this.close(reason),
      (err) => this.close(`read failed: ${errorText(err)}`),
    );
    if (this.#echo) this.#sendEcho();
  }

  /** The latest measured round-trip time, or undefined (no echo yet, or the peer does not answer echo). */
  get rttSeconds(): number | undefined {
    return this.#rttMs === undefined ? undefined : this.#rttMs / 1000;
  }

  /** Whether this connection measures its round-trip time (both ends offered echo). */
  get echo(): boolean {
    return this.#echo;
  }

  /** A new echo request; a reply to an older one no longer counts. */
  #sendEcho(): void {
    const body = new Uint8Array(ECHO_BODY_SIZE);
    this.#echoSeq = (this.#echoSeq + 1) >>> 0;
    new DataView(body.buffer).setUint32(0, this.#echoSeq);
    this.#echoSentAt = performance.now();
    this.#queueControl(RecordType.echoRequest, body);
  }

  #onEchoReply(body: Uint8Array): void {
    if (body.length !== ECHO_BODY_SIZE || this.#echoSentAt === 0) return;
    if (new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0) !== this.#echoSeq) return;
    this.#rttMs = performance.now() - this.#echoSentAt;
    this.#echoSentAt = 0;
  }

  #queueControl(type: number, body: Uint8Array): void {
    if (this.isClosed || this.#control.length >= MAX_CONTROL) return;
    this.#control.push({ type, body });
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /** True for a sealed (encrypted) connection. */
  get sealed(): boolean {
    return this.#channel !== null;
  }

  /** Bytes waiting to be written. */
  get pendingBytes(): number {
    return this.#queuedBytes + this.#current.length;
  }

  /** True while more than a quarter of the bound waits to be written: a source that can wait should. */
  get congested(): boolean {
    return this.#drain.congested(this.pendingBytes);
  }

  #encoder(): StreamEncoder {
    return this.#free.pop() ?? new StreamEncoder({ maxBytes: MAX_RECORD_BODY, initialCapacity: 64 * 1024 });
  }

  /**
   * Queues one frame; drops and counts it when closed, invalid or over the
   * bound. Implements Link.send.
   *
   * @returns whether the frame was queued
   */
  send(frame: Uint8Array): boolean {
    if (this.isClosed) {
      this.stats.dropsOut++;
      return false;
    }
    let r = this.#current.append(frame);
    if (r === "full") {
      if (this.#queuedBytes + this.#current.length + frame.length > this.#maxPending) {
        this.stats.dropsOut++;
        return false;
      }
      this.#queuedBytes += this.#current.length;
      this.#queue.push(this.#current);
      this.#current = this.#encoder();
      r = this.#current.append(frame);
    }
    if (r !== "ok") {
      this.stats.dropsOut++;
      return false;
    }
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush());
    }
    return true;
  }

  #nextBatch(): StreamEncoder | null {
    const queued = this.#queue.shift();
    if (queued !== undefined) {
      this.#queuedBytes -= queued.length;
      // A batch is on its way out: a source told this connection was congested may send again once it is not.
      this.#drain.tookOut(this.pendingBytes);
      return queued;
    }
    if (this.#current.length === 0) return null;
    const batch = this.#current;
    this.#current = this.#encoder();
    this.#drain.tookOut(this.pendingBytes);
    return batch;
  }

  async #flush(): Promise<void> {
    const sealer = this.#channel?.sealer ?? null;
    // WebCrypto: up to SEAL_DEPTH records are encrypted at once (on its
    // threads) while the oldest is written; numbers and writes stay in order.
    const sealing: { record: Promise<Uint8Array>; frames: number; bytes: number }[] = [];
    try {
      for (;;) {
        if (this.isClosed) return;
        if (sealer === null) {
          const batch = this.#nextBatch();
          if (batch === null) return;
          await this.#writeAll(batch.bytes);
          this.stats.framesOut += batch.frames;
          this.stats.bytesOut += batch.frameBytes;
          this.#recycle(batch);
          continue;
        }
        if (sealer.sealInto !== undefined) {
          // OpenSSL: every waiting batch sealed at once, one record each, into one buffer for one write.
          let length = 0;
          let frames = 0;
          let frameBytes = 0;
          for (let c = this.#control.shift(); c !== undefined; c = this.#control.shift()) {
            const need = length + c.body.length + RECORD_OVERHEAD;
            if (this.#sealed.length < need) this.#growSealed(need, length);
            length += sealer.sealInto(c.type, c.body, this.#sealed, length);
          }
          for (let batch = this.#nextBatch(); batch !== null; batch = this.#nextBatch()) {
            const need = length + batch.length + RECORD_OVERHEAD;
            if (this.#sealed.length < need) this.#growSealed(need, length);
            length += sealer.sealInto(RecordType.frames, batch.bytes, this.#sealed, length);
            frames += batch.frames;
            frameBytes += batch.frameBytes;
            this.#recycle(batch);
            if (length >= MAX_WRITE) break;
          }
          if (length === 0) return;
          await this.#writeAll(this.#sealed.subarray(0, length));
          this.stats.framesOut += frames;
          this.stats.bytesOut += frameBytes;
          continue;
        }
        while (sealing.length < SEAL_DEPTH) {
          const c = this.#control.shift();
          if (c !== undefined) {
            const record = sealer.seal(c.type, c.body) as Promise<Uint8Array>;
            record.catch(() => {}); // awaited below
            sealing.push({ record, frames: 0, bytes: 0 });
            continue;
          }
          const batch = this.#nextBatch();
          if (batch === null) break;
          const record = sealer.seal(RecordType.frames, batch.bytes) as Promise<Uint8Array>;
          record.catch(() => {}); // awaited below; a failure closes the connection there
          sealing.push({ record, frames: batch.frames, bytes: batch.frameBytes });
          this.#recycle(batch);
        }
        const next = sealing.shift();
        if (next === undefined) return;
        await this.#writeAll(await next.record);
        this.stats.framesOut += next.frames;
        this.stats.bytesOut += next.bytes;
      }
    } catch (err) {
      this.close(`write failed: ${errorText(err)}`);
    } finally {
      this.#flushing = false;
    }
  }

  #growSealed(need: number, keep: number): void {
    const bigger = new Uint8Array(Math.max(need, this.#sealed.length * 2));
    bigger.set(this.#sealed.subarray(0, keep));
    this.#sealed = bigger;
  }

  #recycle(batch: StreamEncoder): void {
    batch.reset();
    if (this.#free.length < 4) this.#free.push(batch);
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#t.write(bytes.subarray(off));
    this.wireBytesOut += bytes.length;
    this.#lastSend = Date.now();
  }

  #tick(deadAfter: number): void {
    if (this.isClosed) return;
    const now = Date.now();
    if (this.#roomWaiters.length > 0) this.#lastReceive = now;
    else if (now - this.#lastReceive > deadAfter) {
      this.close(`nothing heard from the peer for ${Math.round(deadAfter / 1000)} s`);
      return;
    }
    // A new echo once the last was answered (one still unanswered keeps counting: a round trip
    // longer than a tick is still measured); an echo is traffic, so it serves as a keepalive.
    if (this.#echo && (this.#echoSentAt === 0 || performance.now() - this.#echoSentAt > deadAfter)) {
      this.#sendEcho();
      return;
    }
    if (now - this.#lastSend >= this.#keepaliveMs && !this.#flushing) {
      this.#flushing = true;
      this.#keepalive().catch((err) => this.close(`write failed: ${errorText(err)}`)).finally(() => {
        this.#flushing = false;
        if ((this.pendingBytes > 0 || this.#control.length > 0) && !this.isClosed) {
          this.#flushing = true;
          queueMicrotask(() => this.#flush());
        }
      });
    }
  }

  async #keepalive(): Promise<void> {
    const sealer = this.#channel?.sealer;
    await this.#writeAll(
      sealer === undefined ? PLAIN_KEEPALIVE : await sealer.seal(RecordType.keepalive, EMPTY),
    );
  }

  /** Holds reading (and delivery) while `peer` is congested, until its `onDrain` (null: nobody to wait for). */
  feeds(peer: FlowPeer | null): void {
    this.#out.set(peer);
    if (!this.#out.congested) this.#drained();
  }

  #drained(): void {
    this.#wake();
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  /** Waits while the peer reads as congested; false when the connection closed meanwhile. */
  async #roomAhead(): Promise<boolean> {
    while (!this.isClosed && this.#out.congested) {
      await new Promise<void>((r) => this.#roomWaiters.push(r));
    }
    return !this.isClosed;
  }

  /** Reads until the stream ends; resolves with the reason. */
  async #read(leftover: Uint8Array): Promise<string> {
    // One microtask first: the owner sets onFrame right after construction, before
    // the frames already read with the handshake are delivered.
    await Promise.resolve();
    let failure: string | null = null;
    const fail = (reason: string) => {
      failure ??= reason;
    };
    /** Hands on a chunk; returns the bytes used (plain: fewer when the peer filled, see StreamDecoder). */
    let push: (chunk: Uint8Array) => number;
    if (this.#channel === null) {
      const decoder = new StreamDecoder(this.#deliverFrame, {
        maxFrame: MAX_FRAME_IN,
        onOversize: (len) => fail(`frame length ${len} above ${MAX_FRAME_IN}: the stream is corrupt`),
        holds: this.#holds,
      });
      push = (chunk) => decoder.push(chunk);
    } else {
      const opener = this.#channel.opener;
      const decoder = new RecordDecoder((header, type, ct) => {
        if (failure !== null || this.isClosed) return;
        const echo = this.#echo && (type === RecordType.echoRequest || type === RecordType.echoReply);
        if (type !== RecordType.frames && type !== RecordType.keepalive && !echo) {
          fail(`unexpected record type ${type}`);
          return;
        }
        const body = opener.open(header, ct);
        if (body instanceof Promise) {
          this.#opening.push(body);
          this.#openingTypes.push(type);
        } else if (this.#opening.length > 0 || this.#delivering || this.#out.congested) {
          // Behind records still opening elsewhere or being delivered (the rest of one may wait for room,
          // already taken off the queue), or waiting for room: keep the order (the view would be reused).
          this.#opening.push(Promise.resolve(body?.slice() ?? null));
          this.#openingTypes.push(type);
        } else {
          const at = this.#deliverBody(body, type);
          // The peer filled part-way: the rest of the record waits, copied, ahead of any record after it.
          if (body !== null && at >= 0 && at < body.length) {
            this.#opening.push(Promise.resolve(body.slice(at)));
            this.#openingTypes.push(type);
          }
        }
      });
      push = (chunk) => {
        if (!decoder.push(chunk)) fail(decoder.error ?? "bad record");
        if (this.#opening.length > 0 && !this.#delivering) this.#deliverOpened();
        return chunk.length;
      };
    }
    /** Hands on all of `chunk`, waiting for room whenever the peer fills; false once closed. */
    const pushAll = async (chunk: Uint8Array): Promise<boolean> => {
      for (let used = push(chunk); used < chunk.length; used = push(chunk)) {
        chunk = chunk.subarray(used);
        if (!(await this.#roomAhead())) return false;
      }
      return true;
    };
    if (leftover.length > 0) {
      this.wireBytesIn += leftover.length;
      if (!(await pushAll(leftover))) return "closed";
    }
    const buf = new Uint8Array(READ_BUFFER);
    while (!this.isClosed && failure === null) {
      if (this.#opening.length >= MAX_OPENING) {
        await new Promise<void>((r) => (this.#resumeReading = r));
        continue;
      }
      if (this.#out.congested && !(await this.#roomAhead())) break;
      let n: number | null;
      try {
        n = await this.#t.read(buf);
      } catch (err) {
        return this.isClosed ? "closed" : `read failed: ${errorText(err)}`;
      }
      if (n === null) return "peer closed the connection";
      this.#lastReceive = Date.now();
      this.wireBytesIn += n;
      if (!(await pushAll(buf.subarray(0, n)))) break;
    }
    return failure ?? "closed";
  }

  /** Delivers opened records in wire order; ends the connection at the first bad one. */
  async #deliverOpened(): Promise<void> {
    this.#delivering = true;
    try {
      while (this.#opening.length > 0 && !this.isClosed) {
        const body = await this.#opening[0]!;
        this.#opening.shift();
        const type = this.#openingTypes.shift()!;
        if (this.#opening.length < MAX_OPENING / 2) this.#wake();
        let at = 0;
        do {
          if (this.isClosed || !(await this.#roomAhead())) return;
          at = this.#deliverBody(body, type, at);
          if (at < 0) return;
        } while (body !== null && at < body.length);
      }
    } finally {
      this.#delivering = false;
      this.#wake();
    }
  }

  /**
   * Delivers the frames of an opened record from byte `from` on (or answers
   * an echo), stopping after a frame that found the peer full.
   *
   * @returns where it stopped (the body's length: all delivered), or -1 (and
   *   closed) when the record was bad
   */
  #deliverBody(body: Uint8Array | null, type: number, from = 0): number {
    if (this.isClosed) return -1;
    if (body === null) {
      this.#opening.length = 0;
      this.#openingTypes.length = 0;
      this.close(
        `a record failed authentication: ${this.#channel?.opener.failure ?? "tampered or out of order"}`,
      );
      return -1;
    }
    if (type === RecordType.echoRequest) {
      if (body.length === ECHO_BODY_SIZE) this.#queueControl(RecordType.echoReply, body.slice());
      return body.length;
    }
    if (type === RecordType.echoReply) {
      this.#onEchoReply(body);
      return body.length;
    }
    // Keepalives are empty; a frames record holds at least one frame.
    const at = framesFrom(body, from, MAX_FRAME_IN, this.#deliverFrame, this.#holds);
    if (typeof at !== "number") {
      this.close(`malformed frames record: ${at}`);
      return -1;
    }
    return at;
  }

  #wake(): void {
    const r = this.#resumeReading;
    this.#resumeReading = null;
    r?.();
  }

  protected teardown(): void {
    this.#out.set(null);
    this.#drained();
    clearInterval(this.#timer);
    this.stats.dropsOut += this.#current.frames + this.#queue.reduce((n, b) => n + b.frames, 0);
    this.#queue.length = 0;
    this.#current.reset();
    this.#opening.length = 0;
    this.#openingTypes.length = 0;
    this.#control.length = 0;
    this.#wake();
    this.#channel?.sealer.dispose();
    this.#channel?.opener.dispose();
    try {
      this.#t.close();
    } catch { /* closed already */ }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
