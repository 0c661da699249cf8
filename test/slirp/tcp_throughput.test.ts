/**
 * Throughput of the TCP engine alone (no guest stack, no IP, no sockets):
 * pre-built guest segments in, in-memory host streams out, and the other
 * way. Prints the rates; fails only far below the 1 Gbit/s target, so a
 * slow CI machine does not flake but a data-path regression shows.
 */
import assert from "node:assert/strict";
import { createTcpEngine } from "../../src/slirp/tcp/engine.ts";
import { MemoryConn, MemoryHostNet, settle } from "./tcp_rig.ts";
import {
  buildTcpSegment,
  setTcpChecksum,
  TCP_ACK,
  TCP_SYN,
  tcpSeq,
  writeTcpBase,
} from "../../src/wire/tcp.ts";

const GUEST = new Uint8Array([10, 0, 2, 15]);
const REMOTE = new Uint8Array([203, 0, 113, 5]);
const RUN_MS = 700;
const FLOOR_MBPS = 300;

/** An engine with one established flow whose host end is `conn`; returns the engine and the SYN-ACK's sequence. */
async function established(conn: MemoryConn, onSegment: (seg: Uint8Array) => void) {
  const hostNet = new MemoryHostNet();
  hostNet.onConnect = () => conn;
  let synAck = -1;
  const engine = createTcpEngine({
    sendSegment(_s, _d, seg) {
      if ((seg[13]! & TCP_SYN) !== 0) synAck = tcpSeq(seg);
      onSegment(seg);
    },
    now: () => performance.now(),
    mss: () => 1460,
  }, { hostLoopback: true, hostNet, tcp: { keepAliveIdleMs: Infinity } });
  const syn = { srcPort: 40000, dstPort: 80, seq: 100, flags: TCP_SYN, mss: 1460, wscale: 7, window: 65535 };
  engine.input(GUEST, REMOTE, buildTcpSegment(syn, undefined, GUEST, REMOTE));
  await settle();
  assert.ok(synAck >= 0);
  const ack = { srcPort: 40000, dstPort: 80, seq: 101, ack: synAck + 1, flags: TCP_ACK, window: 65535 };
  engine.input(GUEST, REMOTE, buildTcpSegment(ack, undefined, GUEST, REMOTE));
  await settle();
  return { engine, ourSeq: (synAck + 1) >>> 0 };
}

Deno.test("throughput: guest to host, engine alone", async () => {
  const conn = new MemoryConn();
  let toHost = 0;
  conn.sink = (chunk) => toHost += chunk.length;
  let acks = 0;
  const { engine, ourSeq } = await established(conn, () => acks++);
  const seg = new Uint8Array(20 + 1460);
  crypto.getRandomValues(seg.subarray(20));
  let seq = 101;
  let segments = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < RUN_MS) {
    for (let i = 0; i < 32; i++) {
      writeTcpBase(seg, 0, 40000, 80, seq, ourSeq, 20, TCP_ACK, 65535);
      setTcpChecksum(GUEST, REMOTE, seg);
      engine.input(GUEST, REMOTE, seg);
      seq = (seq + 1460) >>> 0;
      segments++;
    }
    engine.flush();
    await settle(8);
  }
  const ms = performance.now() - t0;
  const mbps = toHost * 8 / ms / 1000;
  console.log(
    `  ${mbps.toFixed(0)} Mbit/s, ${(segments / ms).toFixed(0)}k segments/s in, ${
      (acks / segments).toFixed(2)
    } ACKs per segment`,
  );
  assert.equal(engine.stats.outOfWindow, 0);
  assert.ok(mbps > FLOOR_MBPS, `${mbps.toFixed(0)} Mbit/s`);
  engine.close();
});

Deno.test("throughput: host to guest, engine alone", async () => {
  const conn = new MemoryConn();
  conn.source = (p) => p.length;
  let bytes = 0;
  let highest = 0;
  const { engine } = await established(conn, (seg) => {
    const len = seg.length - (seg[12]! >> 4) * 4;
    if (len > 0) {
      bytes += len;
      highest = (tcpSeq(seg) + len) >>> 0;
    }
  });
  const ack = new Uint8Array(20);
  const t0 = performance.now();
  while (performance.now() - t0 < RUN_MS) {
    await settle(8);
    // The guest ACKs everything so far with a 8 MiB window (65535 << 7).
    writeTcpBase(ack, 0, 40000, 80, 101, highest, 20, TCP_ACK, 65535);
    setTcpChecksum(GUEST, REMOTE, ack);
    engine.input(GUEST, REMOTE, ack);
  }
  const ms = performance.now() - t0;
  const mbps = bytes * 8 / ms / 1000;
  console.log(`  ${mbps.toFixed(0)} Mbit/s, ${(engine.stats.segmentsOut / ms).toFixed(0)}k segments/s out`);
  assert.ok(mbps > FLOOR_MBPS, `${mbps.toFixed(0)} Mbit/s`);
  engine.close();
});
