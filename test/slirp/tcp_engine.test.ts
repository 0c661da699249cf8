/**
 * The TCP engine's NAT and bridging, with in-memory host sockets and a fake
 * clock: which host connection a guest SYN opens, what the guest sees, how
 * closes, resets, back-pressure and forwards behave.
 */
import assert from "node:assert/strict";
import { EngineRig, MemoryConn, type SentSegment, settle } from "./tcp_rig.ts";
import {
  buildTcpSegment,
  formatTcpFlags,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  type TcpHeaderFields,
} from "../../src/wire/tcp.ts";
import { formatIp } from "../../src/wire/ip_address.ts";

const GUEST = new Uint8Array([10, 0, 2, 15]);
const GUEST6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x15]);
const GW = new Uint8Array([10, 0, 2, 2]);
const GW6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
const REMOTE = new Uint8Array([203, 0, 113, 5]);

/** The engine rig with this file's guest-side helpers. */
class Rig extends EngineRig {
  /** A segment from the guest. */
  send(
    src: Uint8Array,
    dst: Uint8Array,
    f: Partial<TcpHeaderFields> & { flags: number },
    payload?: Uint8Array,
  ): void {
    const seg = buildTcpSegment(
      { srcPort: 40000, dstPort: 80, seq: 100, window: 65535, ...f },
      payload,
      src,
      dst,
    );
    this.engine.input(src, dst, seg);
  }

  /** Opens a guest connection to dst:port through a MemoryConn; returns it and the guest's next seq. */
  async open(
    dst = REMOTE,
    port = 80,
    srcPort = 40000,
  ): Promise<{ conn: MemoryConn; seq: number; ourSeq: number }> {
    const conn = new MemoryConn();
    this.hostNet.onConnect = () => conn;
    this.send(GUEST, dst, { srcPort, dstPort: port, seq: 100, flags: TCP_SYN, mss: 1460, wscale: 0 });
    await settle();
    const [synAck] = this.take();
    assert.equal(formatTcpFlags(synAck!.flags), "SYN|ACK");
    const ourSeq = (synAck!.seq + 1) >>> 0;
    this.send(GUEST, dst, { srcPort, dstPort: port, seq: 101, ack: ourSeq, flags: TCP_ACK });
    await settle();
    return { conn, seq: 101, ourSeq };
  }
}

function flags(o: SentSegment): string {
  return formatTcpFlags(o.flags);
}

Deno.test("a guest SYN opens a host connection first; the SYN-ACK follows only once it succeeds", async () => {
  const rig = new Rig();
  rig.hostNet.onConnect = () => "hang";
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, mss: 1460, wscale: 7 });
  await settle();
  assert.deepEqual(rig.hostNet.connects.map((c) => `${c.hostname}:${c.port}`), ["203.0.113.5:80"]);
  assert.equal(rig.take().length, 0, "no SYN-ACK while connecting");
  // A retransmitted SYN does not start a second connect.
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, mss: 1460, wscale: 7 });
  assert.equal(rig.hostNet.connects.length, 1);
  assert.equal(rig.engine.stats.halfOpen, 1);
});

Deno.test("outbound: SYN-ACK from the destination's address with our MSS and window scale", async () => {
  const rig = new Rig();
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, mss: 1460, wscale: 7 });
  await settle();
  const [synAck] = rig.take();
  assert.equal(flags(synAck!), "SYN|ACK");
  assert.equal(synAck!.src, "203.0.113.5");
  assert.equal(synAck!.dst, "10.0.2.15");
  assert.equal(synAck!.srcPort, 80);
  assert.equal(synAck!.dstPort, 40000);
  assert.equal(synAck!.ack, 101);
  assert.equal(synAck!.mss, 1460);
  assert.ok(synAck!.wscale > 0);
});

Deno.test("the gateway maps to the host's loopback, IPv4 and IPv6", async () => {
  const rig = new Rig();
  rig.send(GUEST, GW, { flags: TCP_SYN, dstPort: 8000 });
  rig.send(GUEST6, GW6, { flags: TCP_SYN, dstPort: 8001 });
  await settle();
  assert.deepEqual(rig.hostNet.connects.map((c) => `${c.hostname}:${c.port}`), [
    "127.0.0.1:8000",
    "::1:8001",
  ]);
  const [a, b] = rig.take();
  assert.equal(a!.src, "10.0.2.2");
  assert.equal(b!.src, "fd00::2");
  assert.equal(b!.mss, 1440, "IPv6 uses the core's IPv6 MSS");
});

Deno.test("without host loopback, the gateway refuses at once", () => {
  const rig = new Rig({ hostLoopback: false });
  rig.send(GUEST, GW, { flags: TCP_SYN, seq: 500 });
  const [rst] = rig.take();
  assert.equal(flags(rst!), "RST|ACK");
  assert.equal(rst!.ack, 501);
  assert.equal(rst!.src, "10.0.2.2");
  assert.equal(rig.hostNet.connects.length, 0);
});

Deno.test("other addresses of the guest network and loopback are refused; multicast is dropped", () => {
  const rig = new Rig();
  rig.send(GUEST, new Uint8Array([10, 0, 2, 77]), { flags: TCP_SYN });
  rig.send(GUEST, new Uint8Array([127, 0, 0, 1]), { flags: TCP_SYN });
  assert.deepEqual(rig.take().map(flags), ["RST|ACK", "RST|ACK"]);
  rig.send(GUEST, new Uint8Array([224, 0, 0, 1]), { flags: TCP_SYN });
  rig.send(GUEST, new Uint8Array([255, 255, 255, 255]), { flags: TCP_SYN });
  assert.equal(rig.take().length, 0);
  assert.equal(rig.hostNet.connects.length, 0);
});

Deno.test("mapOutbound redirects or refuses virtual services", async () => {
  const rig = new Rig({
    mapOutbound: (dst) => {
      if (formatIp(dst.addr) === "10.0.2.3" && dst.port === 53) return { hostname: "127.0.0.1", port: 5353 };
      if (dst.port === 25) return null;
      return undefined;
    },
  });
  rig.send(GUEST, new Uint8Array([10, 0, 2, 3]), { flags: TCP_SYN, dstPort: 53 });
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, dstPort: 25, srcPort: 40001 });
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, dstPort: 443, srcPort: 40002 });
  await settle();
  assert.deepEqual(rig.hostNet.connects.map((c) => `${c.hostname}:${c.port}`), [
    "127.0.0.1:5353",
    "203.0.113.5:443",
  ]);
  const outs = rig.take();
  assert.equal(outs.filter((o) => o.flags === (TCP_RST | TCP_ACK)).length, 1);
});

Deno.test("a refused host connect answers the guest with RST|ACK", async () => {
  const rig = new Rig();
  rig.hostNet.onConnect = () => "refuse";
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, seq: 1000 });
  await settle();
  const [rst] = rig.take();
  assert.equal(flags(rst!), "RST|ACK");
  assert.equal(rst!.ack, 1001);
  assert.equal(rig.engine.stats.connectsFailed, 1);
  assert.equal(rig.engine.stats.connections, 0);
  assert.equal(rig.engine.stats.halfOpen, 0);
});

Deno.test("a host connect that never answers times out on the engine's clock", async () => {
  const rig = new Rig({ connectTimeoutMs: 5000 });
  rig.hostNet.onConnect = () => "hang";
  rig.send(GUEST, REMOTE, { flags: TCP_SYN });
  await settle();
  rig.advance(4999);
  assert.equal(rig.take().length, 0);
  rig.advance(1);
  assert.deepEqual(rig.take().map(flags), ["RST|ACK"]);
  assert.ok(rig.hostNet.connects[0]!.signal.aborted);
  assert.equal(rig.engine.stats.connections, 0);
});

Deno.test("a guest RST while the host connect is pending cancels it", async () => {
  const rig = new Rig();
  rig.hostNet.onConnect = () => "hang";
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, seq: 100 });
  rig.send(GUEST, REMOTE, { flags: TCP_RST, seq: 101 });
  await settle();
  assert.ok(rig.hostNet.connects[0]!.signal.aborted);
  assert.equal(rig.engine.stats.connections, 0);
  assert.equal(rig.take().length, 0);
});

Deno.test("segments for no connection: ACKs get a RST from their ack number, RSTs are ignored", () => {
  const rig = new Rig();
  rig.send(GUEST, REMOTE, { flags: TCP_ACK, seq: 5, ack: 777 });
  const [a] = rig.take();
  assert.equal(flags(a!), "RST");
  assert.equal(a!.seq, 777);
  rig.send(GUEST, REMOTE, { flags: TCP_FIN, seq: 5 }, new Uint8Array(10));
  const [b] = rig.take();
  assert.equal(flags(b!), "RST|ACK");
  assert.equal(b!.ack, 5 + 10 + 1);
  rig.send(GUEST, REMOTE, { flags: TCP_RST, seq: 5 });
  assert.equal(rig.take().length, 0);
});

Deno.test("bad checksums and malformed segments are dropped and counted", () => {
  const rig = new Rig();
  const seg = buildTcpSegment({ srcPort: 1, dstPort: 2, seq: 3, flags: TCP_SYN }, undefined, GUEST, REMOTE);
  seg[17]! ^= 0xff;
  rig.engine.input(GUEST, REMOTE, seg);
  rig.engine.input(GUEST, REMOTE, new Uint8Array(12));
  const lying = buildTcpSegment({ srcPort: 1, dstPort: 2, seq: 3, flags: TCP_SYN }, undefined, GUEST, REMOTE);
  lying[12] = 0xf0;
  rig.engine.input(GUEST, REMOTE, lying);
  assert.equal(rig.engine.stats.badChecksum, 1);
  assert.equal(rig.engine.stats.badSegments, 2);
  assert.equal(rig.take().length, 0);
  assert.equal(rig.hostNet.connects.length, 0);
});

Deno.test("bridging: guest data reaches the host, host data reaches the guest, FINs become half-closes", async () => {
  const rig = new Rig();
  const { conn, seq, ourSeq } = await rig.open();
  const up = new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n");
  rig.send(GUEST, REMOTE, { seq, ack: ourSeq, flags: TCP_ACK | TCP_PSH }, up);
  await settle();
  assert.deepEqual(conn.writtenData(), up);
  conn.push(new TextEncoder().encode("HTTP/1.0 200 OK\r\n\r\nhello"));
  await settle();
  const data = rig.take().filter((o) => o.payload.length > 0);
  assert.equal(new TextDecoder().decode(data[0]!.payload), "HTTP/1.0 200 OK\r\n\r\nhello");
  assert.equal(data[0]!.ack, seq + up.length, "the data carries the ACK");
  // Guest half-closes: the host stream is shut for writing after the data.
  rig.send(GUEST, REMOTE, { seq: seq + up.length, ack: ourSeq + 24, flags: TCP_ACK | TCP_FIN });
  await settle();
  assert.ok(conn.writeClosed);
  assert.equal(conn.closed, false, "the host may still send");
  conn.push(new TextEncoder().encode("more"));
  conn.end();
  await settle();
  const tail = rig.take();
  assert.ok(tail.some((o) => o.payload.length === 4));
  const fin = tail.find((o) => (o.flags & TCP_FIN) !== 0)!;
  assert.ok(fin, "host end of stream becomes a FIN");
  rig.send(GUEST, REMOTE, { seq: seq + up.length + 1, ack: fin.seq + 1, flags: TCP_ACK });
  await settle();
  assert.ok(conn.closed, "both directions done: host socket closed");
  assert.equal(rig.engine.stats.connections, 0);
  assert.equal(rig.engine.stats.closedOrderly, 1);
});

Deno.test("bridging: host reads that fill their buffer are cut into full segments, one short one at the end", async () => {
  // 4 KiB reads at MSS 1460: each read alone would leave a 1,176-byte segment behind its two full ones.
  const rig = new Rig({ hostReadSize: 4096 });
  const { conn } = await rig.open();
  rig.take();
  conn.synchronous = true;
  conn.push(new Uint8Array(3 * 4096).fill(0x62));
  await settle();
  const sizes = rig.take().map((o) => o.payload.length).filter((n) => n > 0);
  assert.equal(sizes.reduce((a, b) => a + b, 0), 3 * 4096);
  assert.deepEqual(sizes, [1460, 1460, 1460, 1460, 1460, 1460, 1460, 1460, 3 * 4096 - 8 * 1460]);
  rig.engine.close();
});

Deno.test("bridging: a batch's guest data leaves in one host write at the batch's flush, not a later turn", async () => {
  const rig = new Rig();
  const { conn, seq, ourSeq } = await rig.open();
  const parts = ["one,", "two,", "three"].map((t) => new TextEncoder().encode(t));
  let at = seq;
  for (const p of parts) {
    // The guest's write ends with PSH on its last segment.
    rig.send(
      GUEST,
      REMOTE,
      { seq: at, ack: ourSeq, flags: p === parts.at(-1) ? TCP_ACK | TCP_PSH : TCP_ACK },
      p,
    );
    at += p.length;
  }
  assert.equal(conn.writeCalls, 0, "nothing is written in the middle of a batch");
  // No await between the batch and its flush: the write has started by the time flush returns.
  rig.engine.flush();
  assert.equal(conn.writeCalls, 1);
  assert.equal(new TextDecoder().decode(conn.writtenData()), "one,two,three");
  // The guest's FIN half-closes the host stream once the write is done.
  rig.send(GUEST, REMOTE, { seq: at, ack: ourSeq, flags: TCP_ACK | TCP_FIN });
  rig.engine.flush();
  await settle();
  assert.ok(conn.writeClosed);
});

Deno.test("bridging: a host socket that answers at once gets the guest's data and half-close in the batch's flush, and is read in it", async () => {
  const rig = new Rig();
  const { conn, seq, ourSeq } = await rig.open();
  conn.synchronous = true;
  const up = new TextEncoder().encode("last words");
  rig.send(GUEST, REMOTE, { seq, ack: ourSeq, flags: TCP_ACK | TCP_PSH }, up);
  rig.send(GUEST, REMOTE, { seq: seq + up.length, ack: ourSeq, flags: TCP_ACK | TCP_FIN });
  // No await: the write and the shutdown after it happen inside flush, before any promise reaction.
  rig.engine.flush();
  assert.deepEqual(conn.writtenData(), up);
  assert.ok(conn.writeClosed, "the half-close follows the write at once");
  assert.deepEqual(conn.lastHints, [true], "the write is marked last: the bytes may leave with the FIN");
  // Host data and its end, read in the round that hears of them, with no promise between reads.
  await settle();
  rig.take();
  conn.push(new TextEncoder().encode("reply"));
  conn.end();
  const calls = conn.syncCalls;
  conn.poke();
  await settle();
  assert.ok(conn.syncCalls > calls, "the reads were answered synchronously");
  const out = rig.take();
  assert.equal(new TextDecoder().decode(out.find((o) => o.payload.length > 0)!.payload), "reply");
  assert.ok(out.some((o) => (o.flags & TCP_FIN) !== 0), "host end of stream becomes a FIN");
});

Deno.test("bridging: data in a batch without the guest's FIN is not marked last; the FIN's own batch half-closes", async () => {
  const rig = new Rig();
  const { conn, seq, ourSeq } = await rig.open();
  conn.synchronous = true;
  const up = new TextEncoder().encode("more to come");
  rig.send(GUEST, REMOTE, { seq, ack: ourSeq, flags: TCP_ACK | TCP_PSH }, up);
  rig.engine.flush();
  assert.deepEqual(conn.lastHints, [false], "a write with no FIN behind it leaves at once");
  assert.ok(!conn.writeClosed);
  rig.send(GUEST, REMOTE, { seq: seq + up.length, ack: ourSeq, flags: TCP_ACK | TCP_FIN });
  rig.engine.flush();
  assert.ok(conn.writeClosed);
  assert.deepEqual(conn.writtenData(), up);
});

Deno.test("a timer run between a batch and its flush sends the ACK the batch held, and the next batch's ACK still leaves at its flush", async () => {
  const rig = new Rig();
  const { seq, ourSeq } = await rig.open();
  rig.take();
  const part = new TextEncoder().encode("abc");
  rig.send(GUEST, REMOTE, { seq, ack: ourSeq, flags: TCP_ACK | TCP_PSH }, part);
  assert.deepEqual(rig.take(), [], "one small segment's ACK is held for the batch's end");
  rig.engine.poll();
  assert.deepEqual(rig.take().map((o) => o.ack), [seq + 3], "the timer run sends it");
  rig.send(GUEST, REMOTE, { seq: seq + 3, ack: ourSeq, flags: TCP_ACK | TCP_PSH }, part);
  rig.engine.flush();
  assert.deepEqual(rig.take().map((o) => o.ack), [seq + 6], "the connection queues its next held ACK again");
});

Deno.test("bridging: guest data without PSH is held for one host write until PSH, half the ring or 1 ms", async () => {
  const rig = new Rig();
  const { conn, seq, ourSeq } = await rig.open();
  const seg = new Uint8Array(1000).fill(0x61);
  let at = seq;
  for (let i = 0; i < 3; i++, at += seg.length) {
    rig.send(GUEST, REMOTE, { seq: at, ack: ourSeq, flags: TCP_ACK }, seg);
    rig.engine.flush();
  }
  assert.equal(conn.writeCalls, 0, "segments of one guest write wait for its end");
  rig.send(GUEST, REMOTE, { seq: at, ack: ourSeq, flags: TCP_ACK | TCP_PSH }, seg);
  at += seg.length;
  rig.engine.flush();
  assert.equal(conn.writeCalls, 1, "the PSH segment sends what is held in one write");
  assert.equal(conn.writtenBytes, 4000);
  // A guest that never sets PSH: the hold ends after a millisecond.
  rig.send(GUEST, REMOTE, { seq: at, ack: ourSeq, flags: TCP_ACK }, seg);
  rig.engine.flush();
  await settle();
  assert.equal(conn.writtenBytes, 4000);
  rig.advance(1);
  await settle();
  assert.equal(conn.writtenBytes, 5000, "the hold timer writes the rest");
});

Deno.test("host closes first: FIN to the guest, then the engine holds TIME-WAIT", async () => {
  const rig = new Rig({ tcp: { timeWaitMs: 1000, keepAliveIdleMs: Infinity } });
  const { conn, seq, ourSeq } = await rig.open();
  conn.end();
  await settle();
  const [fin] = rig.take();
  assert.equal(flags(fin!), "FIN|ACK");
  rig.send(GUEST, REMOTE, { seq, ack: ourSeq + 1, flags: TCP_ACK | TCP_FIN });
  await settle();
  assert.equal(rig.engine.stats.timeWait, 1);
  assert.ok(conn.closed);
  rig.advance(1000);
  assert.equal(rig.engine.stats.timeWait, 0);
  assert.equal(rig.engine.stats.connections, 0);
});

Deno.test("back-pressure guest to host: a host that does not read closes the guest's window, bounded", async () => {
  const rcvMax = 65536;
  const rig = new Rig({
    tcp: { receiveBufferSize: rcvMax, initialBufferSize: 4096, keepAliveIdleMs: Infinity },
  });
  const { conn, seq, ourSeq } = await rig.open();
  conn.stallWrites = true;
  let s = seq;
  let window = -1;
  for (let i = 0; i < 200; i++) {
    rig.send(GUEST, REMOTE, { seq: s, ack: ourSeq, flags: TCP_ACK | TCP_PSH }, new Uint8Array(1460));
    s += 1460;
    await settle(4);
  }
  rig.engine.flush();
  const acks = rig.take();
  window = acks.at(-1)!.window;
  assert.equal(window, 0, "the window closed");
  const accepted = acks.at(-1)!.ack - seq;
  assert.ok(accepted <= rcvMax, `accepted ${accepted}`);
  assert.ok(rig.engine.stats.bufferBytes <= rcvMax + 4096, `buffers ${rig.engine.stats.bufferBytes}`);
  assert.ok(rig.engine.stats.outOfWindow > 0);
  conn.releaseWrites();
  await settle();
  const update = rig.take().at(-1)!;
  assert.ok(update.window > 0, "a window update once the host takes the data");
  assert.equal(conn.writtenBytes, accepted);
});

Deno.test("back-pressure host to guest: the engine stops reading the host when the guest's window is full", async () => {
  const rig = new Rig({ tcp: { sendBufferSize: 65536, initialBufferSize: 4096, keepAliveIdleMs: Infinity } });
  const conn = new MemoryConn();
  const produced = endlessSource(conn, 0x61);
  rig.hostNet.onConnect = () => conn;
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, mss: 1000, wscale: 0, window: 20000 });
  await settle();
  const [synAck] = rig.take();
  rig.send(GUEST, REMOTE, { seq: 101, ack: synAck!.seq + 1, flags: TCP_ACK, window: 20000 });
  await settle(200);
  const sent = rig.take().reduce((n, o) => n + o.payload.length, 0);
  assert.ok(sent <= 20000, `sent ${sent} into a 20000-byte window`);
  assert.ok(produced() <= 65536, `read ${produced()} bytes from the host with a 64 KiB send buffer`);
  assert.ok(!conn.readPending, "no read outstanding: the host socket is not being read");
  // The guest ACKs everything and opens its window: reading resumes.
  rig.send(GUEST, REMOTE, { seq: 101, ack: synAck!.seq + 1 + sent, flags: TCP_ACK, window: 60000 });
  await settle(200);
  assert.ok(produced() > sent);
  rig.engine.close();
});

/**
 * A download behind Debian's switch (88 frames in flight of a 512 KiB send ring, the rest waiting
 * unsent): the engine reads `conn`, and `ack(most)` takes what it sent, checks the stream's bytes
 * (`byte(i)`, from the first) and acknowledges up to `most` bytes more of it.
 */
async function download(conn: MemoryConn, byte: (i: number) => number) {
  const rig = new Rig({ tcp: { keepAliveIdleMs: Infinity, switchQueueFrames: 93 } });
  conn.synchronous = true;
  rig.hostNet.onConnect = () => conn;
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, mss: 1460, wscale: 7, window: 65535 });
  await settle();
  const [synAck] = rig.take();
  const isn = (synAck!.seq + 1) >>> 0;
  let acked = isn;
  let sentTo = acked;
  let fin = false;
  const ack = async (most: number) => {
    for (const o of rig.take()) {
      const at = (o.seq - isn) | 0;
      for (let i = 0; i < o.payload.length; i++) {
        if (o.payload[i] !== byte(at + i)) assert.fail(`byte ${at + i}: ${o.payload[i]}`);
      }
      if ((o.flags & TCP_FIN) !== 0) fin = true;
      // A FIN counts one in the sequence space.
      const end = (o.seq + o.payload.length + (o.flags & TCP_FIN)) >>> 0;
      if (((end - sentTo) | 0) > 0) sentTo = end;
    }
    const n = Math.min(most, (sentTo - acked) | 0);
    acked = (acked + n) >>> 0;
    rig.send(GUEST, REMOTE, { seq: 101, ack: acked, flags: TCP_ACK, window: 65535 });
    await settle();
    return n;
  };
  await ack(0); // the handshake's
  // Slow start, an ACK every other segment, until the flight is full.
  for (let round = 0; ((sentTo - acked) | 0) < 80 * 1460; round++) {
    if (round > 1000 || (await ack(2 * 1460)) === 0) assert.fail(`no full flight after ${round} ACKs`);
  }
  return { rig, ack, fin: () => fin, acked: () => (acked - isn) | 0, unacked: () => (sentTo - acked) | 0 };
}

Deno.test("host to guest: with plenty still to send, the host is read once a full read fits, not after every ACK", async () => {
  const conn = new MemoryConn();
  const reads: number[] = [];
  conn.source = (p) => {
    p.fill(0x61);
    reads.push(p.length);
    return p.length;
  };
  const { rig, ack } = await download(conn, () => 0x61);
  // The guest acknowledges about 1 MB, 10 segments at a time.
  reads.length = 0;
  let total = 0;
  while (total < 1_000_000) total += await ack(10 * 1460);
  const bytes = reads.reduce((a, b) => a + b, 0);
  assert.ok(bytes >= total - 512 * 1024, `read ${bytes} of the ${total} acknowledged`);
  // One read per ACK would be 69; a full read is 256 KiB (two when the ring wraps).
  assert.ok(reads.length <= 10, `${reads.length} reads (${reads.join(", ")}) for ${total} bytes`);
  rig.engine.close();
});

Deno.test("host to guest: the host's end of stream, while a download waits for room for a full read, reaches the guest after all its bytes", async () => {
  const size = 1_500_000;
  const conn = new MemoryConn();
  const stream = new Uint8Array(size).map((_, i) => i % 251);
  conn.push(stream);
  conn.end();
  const { rig, ack, fin, acked } = await download(conn, (i) => i % 251);
  while (!fin()) if ((await ack(10 * 1460)) === 0) assert.fail(`stalled at ${acked()} of ${size}`);
  while ((await ack(1 << 20)) > 0);
  assert.equal(acked(), size + 1, "all the stream's bytes and its FIN");
  rig.engine.close();
});

Deno.test("host to guest: after a download the guest took, a small reply of the host leaves at once", async () => {
  const conn = new MemoryConn();
  conn.push(new Uint8Array(700_000));
  const { rig, ack, acked, unacked } = await download(conn, (i) => i < 700_000 ? 0 : 0x62);
  while (unacked() > 0 || acked() < 700_000) await ack(1 << 20);
  // A request and its answer: no ACK, timer or read of the guest's between the host's write and its segment.
  conn.push(new Uint8Array(100).fill(0x62));
  await settle();
  const out = rig.take().filter((o) => o.payload.length > 0);
  assert.deepEqual(out.map((o) => o.payload.length), [100]);
  rig.engine.close();
});

Deno.test("back-pressure towards the guest link: no new data while it is congested; resume sends what was held", async () => {
  const rig = new Rig();
  const { synAck, produced } = await heldBackFlow(rig, 8000);
  assert.ok(produced() > 0, "the host side is read into the send buffer");
  assert.equal(
    rig.take().filter((o) => o.payload.length > 0).length,
    0,
    "no data while the link is congested",
  );
  // A drain while still congested sends nothing either.
  rig.engine.resume!();
  assert.equal(rig.take().filter((o) => o.payload.length > 0).length, 0);
  rig.congested = false;
  rig.engine.resume!();
  const data = rig.take().filter((o) => o.payload.length > 0);
  assert.equal(
    data.reduce((n, o) => n + o.payload.length, 0),
    produced(),
    "everything held is sent on resume",
  );
  assert.equal(data[0]!.seq, (synAck!.seq + 1) >>> 0);
  assert.equal(rig.engine.stats.retransmits, 0);
  rig.engine.close();
});

Deno.test("what a drain of the guest link sends is sent again within a retransmission timeout when it is lost", async () => {
  const rig = new Rig({ tcp: { keepAliveIdleMs: Infinity } });
  await heldBackFlow(rig, 3000);
  // The link stays congested for minutes: a flow held back by it, its window open, has no timer of
  // its own (nor a probe to send) until the drain.
  for (let i = 0; i < 20 && rig.engine.nextTimerMs() < 30_000; i++) {
    rig.t += rig.engine.nextTimerMs();
    rig.engine.poll();
  }
  rig.take();
  assert.equal(rig.engine.nextTimerMs(), Infinity);
  assert.equal(rig.engine.stats.windowProbes, 0, "no window probes: the window is open");
  rig.congested = false;
  rig.engine.resume!();
  const sent = rig.take().filter((o) => o.payload.length > 0);
  assert.equal(sent.reduce((n, o) => n + o.payload.length, 0), 3000);
  // The guest never got them: only a timer the drain noted brings them again.
  const wait = rig.engine.nextTimerMs();
  assert.ok(wait <= 1000, `the next timer in ${wait} ms: the lost data would wait that long`);
  rig.t += wait;
  rig.engine.poll();
  assert.ok(rig.take().some((o) => o.payload.length > 0), "sent again");
  rig.engine.close();
});

Deno.test("a host reset resets the guest; a guest reset closes the host socket", async () => {
  const rig = new Rig();
  const a = await rig.open(REMOTE, 80, 40000);
  a.conn.reset();
  await settle();
  assert.deepEqual(rig.take().map(flags), ["RST|ACK"]);
  const b = await rig.open(REMOTE, 80, 40001);
  rig.send(GUEST, REMOTE, { srcPort: 40001, seq: b.seq, flags: TCP_RST });
  await settle();
  assert.ok(b.conn.closed);
  assert.equal(rig.engine.stats.connections, 0);
});

Deno.test("a SYN reusing a TIME-WAIT tuple opens a new connection", async () => {
  const rig = new Rig({ tcp: { timeWaitMs: 60_000, keepAliveIdleMs: Infinity } });
  const { conn, seq, ourSeq } = await rig.open();
  conn.end();
  await settle();
  rig.send(GUEST, REMOTE, { seq, ack: ourSeq + 1, flags: TCP_ACK | TCP_FIN });
  await settle();
  assert.equal(rig.engine.stats.timeWait, 1);
  rig.take();
  rig.send(GUEST, REMOTE, { seq: 90_000, flags: TCP_SYN });
  await settle();
  assert.equal(rig.engine.stats.timeWait, 0);
  assert.equal(flags(rig.take()[0]!), "SYN|ACK");
  assert.equal(rig.hostNet.connects.length, 2);
});

Deno.test("forwards: add, list, remove; clear one-line errors", async () => {
  const rig = new Rig();
  const info = await rig.engine.addForward({ hostPort: 8080, guestAddr: "10.0.2.15", guestPort: 80 });
  assert.deepEqual(info, {
    hostAddr: "0.0.0.0",
    hostPort: 8080,
    guestAddr: "10.0.2.15",
    guestPort: 80,
    v6: false,
    accepted: 0,
  });
  await rig.engine.addForward({ hostPort: 8081, guestAddr: "fd00::15", guestPort: 22 });
  assert.deepEqual(
    rig.engine.listForwards().map((f) => `${f.hostAddr}:${f.hostPort}->${f.guestAddr}:${f.guestPort}`),
    [
      "0.0.0.0:8080->10.0.2.15:80",
      ":::8081->fd00::15:22",
    ],
  );
  await assert.rejects(
    rig.engine.addForward({ hostPort: 8080, guestAddr: "10.0.2.15", guestPort: 81 }),
    /^Error: A TCP forward from 0.0.0.0 port 8080 already exists$/,
  );
  // A port taken by someone else.
  rig.hostNet.listen("127.0.0.1", 9000);
  await assert.rejects(
    rig.engine.addForward({ hostAddr: "127.0.0.1", hostPort: 9000, guestAddr: "10.0.2.15", guestPort: 80 }),
    (e: Error) => {
      assert.equal(
        e.message,
        "Host port 9000 on 127.0.0.1 is already in use (TCP forward to 10.0.2.15:80): " +
          "forward another host port (0 takes any free one)",
      );
      assert.ok(!e.message.includes("\n"));
      return true;
    },
  );
  await assert.rejects(
    rig.engine.addForward({ hostPort: 1, guestAddr: "10.0.3.15", guestPort: 80 }),
    /outside the guest network 10.0.2.0\/24/,
  );
  await assert.rejects(
    rig.engine.addForward({ hostPort: 1, guestAddr: "nonsense", guestPort: 80 }),
    /is not an IP address/,
  );
  await assert.rejects(
    rig.engine.addForward({ hostPort: 1, guestAddr: "10.0.2.15", guestPort: 0 }),
    /Guest port 0 is not a port number/,
  );
  await assert.rejects(
    rig.engine.addForward({ hostPort: 70000, guestAddr: "10.0.2.15", guestPort: 80 }),
    /Host port 70000/,
  );
  await assert.rejects(
    rig.engine.addForward({ hostPort: 1, guestAddr: "10.0.2.15", guestPort: 80, v6: true }),
    /is not IPv6/,
  );
  assert.equal(rig.engine.removeForward({ hostPort: 8080 }), true);
  assert.equal(rig.engine.removeForward({ hostPort: 8080 }), false);
  assert.equal(rig.engine.removeForward({ hostAddr: "::", hostPort: 8081 }), true);
  assert.deepEqual(rig.engine.listForwards(), []);
});

Deno.test("inbound: the guest sees the real client address and port", async () => {
  const rig = new Rig();
  const info = await rig.engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 80 });
  const listener = rig.hostNet.listener(info.hostPort);
  listener.inject({ hostname: "198.51.100.7", port: 5555 });
  listener.inject({ hostname: "::ffff:192.0.2.9", port: 5556 });
  listener.inject({ hostname: "127.0.0.1", port: 5557 });
  listener.inject({ hostname: "10.0.2.50", port: 5558 });
  await settle();
  const syns = rig.take();
  assert.deepEqual(syns.map((s) => `${flags(s)} ${s.src}:${s.srcPort} -> ${s.dst}:${s.dstPort}`), [
    "SYN 198.51.100.7:5555 -> 10.0.2.15:80",
    "SYN 192.0.2.9:5556 -> 10.0.2.15:80",
    "SYN 10.0.2.2:5557 -> 10.0.2.15:80",
    "SYN 10.0.2.2:5558 -> 10.0.2.15:80",
  ]);
  assert.equal(syns[0]!.mss, 1460);
  assert.equal(rig.engine.listForwards()[0]!.accepted, 4);
  assert.equal(rig.engine.stats.acceptsIn, 4);
});

Deno.test("inbound IPv6: real client, loopback as the gateway", async () => {
  const rig = new Rig();
  const info = await rig.engine.addForward({ hostPort: 0, guestAddr: "fd00::15", guestPort: 22 });
  const listener = rig.hostNet.listener(info.hostPort);
  listener.inject({ hostname: "2001:db8::5", port: 6000 });
  listener.inject({ hostname: "::1", port: 6001 });
  await settle();
  assert.deepEqual(rig.take().map((s) => `${s.src}:${s.srcPort}`), ["2001:db8::5:6000", "fd00::2:6001"]);
});

Deno.test("inbound handshake and data, both ways", async () => {
  const rig = new Rig();
  const info = await rig.engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 80 });
  const client = rig.hostNet.listener(info.hostPort).inject({ hostname: "198.51.100.7", port: 5555 });
  await settle();
  const [syn] = rig.take();
  const from = new Uint8Array([198, 51, 100, 7]);
  rig.send(GUEST, from, {
    srcPort: 80,
    dstPort: 5555,
    seq: 3000,
    ack: syn!.seq + 1,
    flags: TCP_SYN | TCP_ACK,
    mss: 1460,
  });
  await settle();
  const [ack] = rig.take();
  assert.equal(flags(ack!), "ACK");
  assert.equal(ack!.ack, 3001);
  client.push(new TextEncoder().encode("ping"));
  await settle();
  const [ping] = rig.take();
  assert.equal(new TextDecoder().decode(ping!.payload), "ping");
  rig.send(
    GUEST,
    from,
    { srcPort: 80, dstPort: 5555, seq: 3001, ack: ping!.seq + 4, flags: TCP_ACK | TCP_PSH },
    new TextEncoder().encode("pong"),
  );
  await settle();
  assert.equal(new TextDecoder().decode(client.writtenData()), "pong");
});

Deno.test("inbound refused by the guest closes the host client", async () => {
  const rig = new Rig();
  const info = await rig.engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 80 });
  const client = rig.hostNet.listener(info.hostPort).inject({ hostname: "198.51.100.7", port: 5555 });
  await settle();
  const [syn] = rig.take();
  rig.send(GUEST, new Uint8Array([198, 51, 100, 7]), {
    srcPort: 80,
    dstPort: 5555,
    seq: 0,
    ack: syn!.seq + 1,
    flags: TCP_RST | TCP_ACK,
  });
  await settle();
  assert.ok(client.closed);
  assert.equal(rig.engine.stats.acceptsFailed, 1);
  assert.equal(rig.engine.stats.connections, 0);
});

Deno.test("inbound: the same client port on two forwards to one guest port gets a distinct tuple", async () => {
  const rig = new Rig();
  const a = await rig.engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 80 });
  const b = await rig.engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 80 });
  rig.hostNet.listener(a.hostPort).inject({ hostname: "198.51.100.7", port: 5555 });
  rig.hostNet.listener(b.hostPort).inject({ hostname: "198.51.100.7", port: 5555 });
  await settle();
  const [s1, s2] = rig.take();
  assert.equal(s1!.srcPort, 5555);
  assert.notEqual(s2!.srcPort, 5555);
  assert.equal(rig.engine.stats.connections, 2);
});

Deno.test("close resets every connection, closes host sockets and listeners", async () => {
  const rig = new Rig();
  const { conn } = await rig.open();
  const info = await rig.engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 80 });
  const listener = rig.hostNet.listener(info.hostPort);
  assert.equal(rig.engine.describeConnections().length, 1);
  assert.match(rig.engine.describeConnections()[0]!, /^guest 10.0.2.15:40000 -> 203.0.113.5:80 ESTABLISHED/);
  rig.engine.close();
  await settle();
  assert.deepEqual(rig.take().map(flags), ["RST|ACK"]);
  assert.ok(conn.closed);
  assert.ok(listener.closed);
  assert.equal(rig.engine.stats.connections, 0);
  // A closed engine ignores input.
  rig.send(GUEST, REMOTE, { flags: TCP_SYN });
  assert.equal(rig.take().length, 0);
});

Deno.test("pooled rings: a connection on the rings another one filled shows neither side a stale byte", async () => {
  const STALE = 0xee;
  const rig = new Rig();
  const segments = (seq: number, bytes: Uint8Array, size: number) => {
    const out: { seq: number; payload: Uint8Array }[] = [];
    for (let o = 0; o < bytes.length; o += size) {
      out.push({ seq: seq + o, payload: bytes.subarray(o, o + size) });
    }
    return out;
  };
  // A fills both of its rings with STALE bytes, then closes in order: its rings go back to the pool.
  {
    const { conn, seq, ourSeq } = await rig.open(REMOTE, 80, 40000);
    const junk = new Uint8Array(7000).fill(STALE);
    for (const s of segments(seq, junk, 1000)) {
      rig.send(GUEST, REMOTE, { seq: s.seq, ack: ourSeq, flags: TCP_ACK }, s.payload);
    }
    rig.send(GUEST, REMOTE, { seq: seq + junk.length, ack: ourSeq, flags: TCP_ACK | TCP_FIN });
    // Less than half of each ring, so that neither grows and both go back to the pool.
    conn.push(junk.subarray(0, 6000));
    conn.end();
    await settle();
    let acked = ourSeq;
    for (const o of rig.take()) {
      acked = Math.max(acked, o.seq + o.payload.length + ((o.flags & TCP_FIN) ? 1 : 0));
    }
    rig.send(GUEST, REMOTE, { seq: seq + junk.length + 1, ack: acked, flags: TCP_ACK });
    await settle();
    assert.equal(conn.writtenData().length, junk.length);
    assert.equal(rig.engine.stats.bufferBytes, 0);
    assert.equal(rig.engine.stats.connections, 0, "A is gone and its rings pooled");
  }
  // B takes A's two buffers (each ring on the other's: stale bytes past anything B writes) and gets its
  // data out of order, with a hole that fills last.
  const { conn, seq, ourSeq } = await rig.open(REMOTE, 80, 40001);
  const up = new Uint8Array(4000);
  for (let i = 0; i < up.length; i++) up[i] = i % 200;
  const parts = segments(seq, up, 1000);
  for (const i of [1, 3, 2, 0]) {
    const s = parts[i]!;
    rig.send(GUEST, REMOTE, { srcPort: 40001, seq: s.seq, ack: ourSeq, flags: TCP_ACK | TCP_PSH }, s.payload);
  }
  conn.push(new TextEncoder().encode("reply"));
  await settle();
  assert.deepEqual(conn.writtenData(), up, "the host gets exactly the guest's bytes");
  const toGuest = rig.take();
  const payload = toGuest.flatMap((o) => [...o.payload]);
  assert.equal(
    new TextDecoder().decode(new Uint8Array(payload)),
    "reply",
    "the guest gets exactly the host's bytes",
  );
  assert.ok(toGuest.every((o) => (o.flags & TCP_RST) === 0));
});

Deno.test("churn: connections that carry data and close, reset or are refused leave the engine at its baseline", async () => {
  // A slirp left running for weeks: whatever the connections did, once their TIME-WAIT is over the
  // engine holds no flow, half-open entry, TIME-WAIT entry or ring bytes for them. Counted, not timed.
  const rig = new Rig({ tcp: { timeWaitMs: 1000, keepAliveIdleMs: Infinity } });
  const data = new Uint8Array(3000).fill(0x5a);
  for (let i = 0; i < 120; i++) {
    const srcPort = 20000 + i;
    if (i % 3 === 2) {
      rig.hostNet.onConnect = () => "refuse";
      rig.send(GUEST, REMOTE, { srcPort, seq: 100, flags: TCP_SYN, mss: 1460, wscale: 0 });
      await settle();
      assert.equal(flags(rig.take()[0]!), "RST|ACK");
      continue;
    }
    const { conn, seq, ourSeq } = await rig.open(REMOTE, 80, srcPort);
    rig.send(GUEST, REMOTE, { srcPort, seq, ack: ourSeq, flags: TCP_ACK | TCP_PSH }, data);
    if (i % 3 === 1) {
      rig.send(GUEST, REMOTE, { srcPort, seq: seq + data.length, flags: TCP_RST });
      await settle();
      rig.take();
      continue;
    }
    conn.push(data);
    conn.end();
    await settle();
    let acked = ourSeq;
    for (const o of rig.take()) {
      acked = Math.max(acked, o.seq + o.payload.length + ((o.flags & TCP_FIN) ? 1 : 0));
    }
    rig.send(GUEST, REMOTE, { srcPort, seq: seq + data.length, ack: acked, flags: TCP_ACK | TCP_FIN });
    await settle();
    rig.take();
  }
  assert.equal(rig.engine.stats.timeWait, 40, "the host-closed third wait out TIME-WAIT");
  rig.advance(1000);
  await settle();
  const { connections, halfOpen, timeWait, bufferBytes } = rig.engine.stats;
  assert.deepEqual({ connections, halfOpen, timeWait, bufferBytes }, {
    connections: 0,
    halfOpen: 0,
    timeWait: 0,
    bufferBytes: 0,
  });
});

/**
 * `clients` forward clients, each writing without end, answered by a guest that offers an 8 MiB window and
 * never acknowledges their data; the bytes the engine read from each, and the window of each one's SYN.
 */
async function floodForward(rig: Rig, clients: number): Promise<{ read: number[]; synWindows: number[] }> {
  const info = await rig.engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 80 });
  const listener = rig.hostNet.listener(info.hostPort);
  const read: number[] = [];
  const synWindows: number[] = [];
  for (let i = 0; i < clients; i++) {
    read.push(0);
    const client = listener.inject({ hostname: "198.51.100.7", port: 5000 + i });
    client.source = (p) => {
      p.fill(0x61);
      read[i]! += p.length;
      return p.length;
    };
    await settle();
    const [syn] = rig.take();
    synWindows.push(syn!.window);
    rig.send(GUEST, new Uint8Array([198, 51, 100, 7]), {
      srcPort: 80,
      dstPort: 5000 + i,
      seq: 3000,
      ack: syn!.seq + 1,
      flags: TCP_SYN | TCP_ACK,
      mss: 1460,
      wscale: 7,
      window: 65535,
    });
    // The window of a SYN is not scaled: the guest's next segment offers the 8 MiB.
    const from = new Uint8Array([198, 51, 100, 7]);
    rig.send(GUEST, from, { srcPort: 80, dstPort: 5000 + i, seq: 3001, ack: syn!.seq + 1, flags: TCP_ACK });
    await settle(200);
    rig.take();
  }
  return { read, synWindows };
}

Deno.test("forwards' clients the guest does not read hold their budget of ring memory together, and wait in their own socket", async () => {
  const budget = 1024 * 1024;
  const rig = new Rig({ maxForwardBufferBytes: budget });
  const { read, synWindows } = await floodForward(rig, 12);
  const total = read.reduce((a, b) => a + b, 0);
  // Each flow's send ring holds what was read: what grew within the budget, beside every ring's first
  // 16 KiB (never refused), and 512 KiB for the first alone (a ring's most).
  const firstRings = 12 * 16 * 1024;
  assert.ok(total <= budget + firstRings, `read ${total} bytes from the clients, budget ${budget}`);
  assert.ok(total > budget / 2, `read ${total} bytes: the budget was hardly used`);
  assert.equal(read[0], 512 * 1024);
  assert.equal(read[11], 16 * 1024, "the last client, after the budget was spent");
  assert.deepEqual(new Set(synWindows), new Set([16 * 1024]));
  rig.engine.close();
});

Deno.test("the guest's own connections grow their rings past the forwards' spent budget", async () => {
  const rig = new Rig({ maxForwardBufferBytes: 256 * 1024 });
  await floodForward(rig, 8);
  const conn = new MemoryConn();
  const produced = endlessSource(conn, 0x62);
  rig.hostNet.onConnect = () => conn;
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, mss: 1460, wscale: 7, window: 65535 });
  await settle();
  const [synAck] = rig.take();
  assert.equal(synAck!.window, 16 * 1024);
  rig.send(GUEST, REMOTE, { seq: 101, ack: synAck!.seq + 1, flags: TCP_ACK, window: 65535 });
  await settle(200);
  assert.equal(produced(), 512 * 1024);
  rig.engine.close();
});

Deno.test("a host read that fills the send ring to its last byte behind a closed window still probes the window", async () => {
  const rig = new Rig({ tcp: { initialBufferSize: 2048, sendBufferSize: 2048, keepAliveIdleMs: Infinity } });
  const conn = new MemoryConn();
  conn.source = (p) => {
    p.fill(0x63);
    return p.length;
  };
  rig.hostNet.onConnect = () => conn;
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, mss: 1460, window: 0 });
  await settle();
  const [synAck] = rig.take();
  rig.send(GUEST, REMOTE, { seq: 101, ack: synAck!.seq + 1, flags: TCP_ACK, window: 0 });
  await settle(200);
  assert.deepEqual(rig.take().filter((o) => o.payload.length > 0), [], "nothing fits a closed window");
  const wait = rig.engine.nextTimerMs();
  assert.ok(wait < Infinity, "no timer: the window would never be asked for again");
  rig.t += wait;
  rig.engine.poll();
  const probes = rig.take();
  assert.equal(rig.engine.stats.windowProbes, 1);
  assert.equal(probes.length, 1);
  rig.engine.close();
});

/** The host side yields `byte` as fast as it is read; `produced()` counts those read so far. */
function endlessSource(conn: MemoryConn, byte: number): () => number {
  let produced = 0;
  conn.source = (p) => {
    p.fill(byte);
    produced += p.length;
    return p.length;
  };
  return () => produced;
}

/**
 * A guest connection (open window) whose host side yields `total` bytes, established while the guest link
 * is congested: what it reads is held back. `produced()` counts the bytes read from the host.
 */
async function heldBackFlow(
  rig: Rig,
  total: number,
): Promise<{ synAck: SentSegment; produced: () => number }> {
  const conn = new MemoryConn();
  const produced = finiteSource(conn, total);
  rig.hostNet.onConnect = () => conn;
  rig.send(GUEST, REMOTE, { flags: TCP_SYN, mss: 1000, wscale: 0, window: 60000 });
  await settle();
  const [synAck] = rig.take();
  rig.congested = true;
  rig.send(GUEST, REMOTE, { seq: 101, ack: synAck!.seq + 1, flags: TCP_ACK, window: 60000 });
  await settle(100);
  return { synAck: synAck!, produced };
}

/** The host side yields `total` bytes of 0x62, then nothing; `produced()` counts those read so far. */
function finiteSource(conn: MemoryConn, total: number): () => number {
  let produced = 0;
  conn.source = (p) => {
    if (produced >= total) return 0;
    const n = Math.min(p.length, total - produced);
    p.fill(0x62, 0, n);
    produced += n;
    return n;
  };
  return () => produced;
}
