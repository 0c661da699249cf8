/**
 * Initial sequence numbers and reused 4-tuples. Through a forward the engine
 * is the client towards the guest, and the guest sees the host client's
 * port, so the tuple repeats whenever the host reuses a client port; the
 * guest usually still holds the previous connection in TIME-WAIT. A Linux
 * guest takes the new SYN only when its sequence number is above the old
 * connection's (no timestamps here), and otherwise answers with an ACK; the
 * connection then waited a whole SYN retransmission timeout (1 s). These
 * tests pin the two remedies: clock-driven ISNs per tuple, and an immediate
 * SYN after the RST that clears a stale peer state.
 */
import assert from "node:assert/strict";
import { IsnGenerator } from "../../src/slirp/tcp/isn.ts";
import { seqGt } from "../../src/slirp/tcp/seq.ts";
import { EngineRig, type MemoryConn, settle } from "./tcp_rig.ts";
import { prng } from "../helpers/random.ts";
import {
  buildTcpSegment,
  formatTcpFlags,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  type TcpHeaderFields,
} from "../../src/wire/tcp.ts";

const GUEST = new Uint8Array([10, 0, 2, 15]);
const GW = new Uint8Array([10, 0, 2, 2]);
const CLIENT = new Uint8Array([198, 51, 100, 7]);

/** Seeded 32-bit random numbers, as the engine takes them. */
function rand32(seed: number): () => number {
  const r = prng(seed);
  return () => Math.floor(r() * 2 ** 32);
}

Deno.test("ISN: the same tuple moves forward with the clock; other tuples are scattered", () => {
  let t = 1000;
  const g = new IsnGenerator(() => t, rand32(1));
  const a = g.next(GW, 5555, GUEST, 80);
  assert.equal(g.next(GW, 5555, GUEST, 80), a, "same tuple, same instant");
  t += 1;
  const b = g.next(GW, 5555, GUEST, 80);
  assert.equal((b - a) >>> 0, 250, "4 us ticks");
  t += 0.004;
  assert.ok(seqGt(g.next(GW, 5555, GUEST, 80), b));
  // Neighbouring tuples land far apart (the hash, not the clock, decides).
  const others = new Set<number>();
  for (let p = 5000; p < 5100; p++) others.add(g.next(GW, p, GUEST, 80) >>> 20);
  assert.ok(others.size > 80, `only ${others.size} distinct high parts`);
  // Another key, another hash.
  const h = new IsnGenerator(() => t, rand32(2));
  assert.notEqual(h.next(GW, 5555, GUEST, 80), g.next(GW, 5555, GUEST, 80));
  // IPv6 tuples hash too, and differ from each other by port.
  const v6a = new Uint8Array(16).fill(0xfd, 0, 1);
  const v6b = v6a.slice();
  v6b[15] = 0x15;
  assert.notEqual(g.hash(v6a, 1, v6b, 2), g.hash(v6a, 1, v6b, 3));
  // Months of uptime: still a 32-bit number.
  t = 1e13;
  const big = g.next(GW, 5555, GUEST, 80);
  assert.ok(Number.isInteger(big) && big >= 0 && big < 2 ** 32);
});

/** The engine rig on a seeded random source, with a guest that answers from port 80. */
class Rig extends EngineRig {
  constructor(seed: number) {
    super({ random: rand32(seed), log: () => {} });
  }

  /** A segment from the guest's port 80 to the client endpoint `to:port`. */
  send(to: Uint8Array, port: number, f: Partial<TcpHeaderFields> & { flags: number }, payload?: Uint8Array) {
    const seg = buildTcpSegment(
      { srcPort: 80, dstPort: port, seq: 0, window: 65535, ...f },
      payload,
      GUEST,
      to,
    );
    this.engine.input(GUEST, to, seg);
  }
}

/**
 * A guest at 10.0.2.15:80 that behaves like Linux for a tuple it closed
 * first: TIME-WAIT remembers the next sequence number it expected, a SYN above
 * it starts a new connection, any other SYN gets an ACK for the old one.
 */
async function oneConnection(
  rig: Rig,
  client: { hostname: string; port: number },
  to: Uint8Array,
  timeWaitRcvNxt: number | null,
): Promise<{ conn: MemoryConn; rcvNxt: number; stalled: boolean }> {
  const info = rig.engine.listForwards()[0]!;
  const conn = rig.hostNet.listener(info.hostPort).inject(client);
  await settle();
  let syn = rig.take()[0]!;
  assert.equal(formatTcpFlags(syn.flags), "SYN");
  let stalled = false;
  if (timeWaitRcvNxt !== null && !seqGt(syn.seq, timeWaitRcvNxt)) {
    // Not acceptable in TIME-WAIT: the guest answers with an ACK of the old connection.
    stalled = true;
    rig.send(to, client.port, { seq: 1, ack: timeWaitRcvNxt, flags: TCP_ACK });
    const [rst, again] = rig.take();
    assert.equal(formatTcpFlags(rst!.flags), "RST");
    assert.equal(rst!.seq, timeWaitRcvNxt, "the RST carries the sequence number TIME-WAIT expects");
    assert.equal(formatTcpFlags(again!.flags), "SYN", "the SYN is resent at once, not after the RTO");
    assert.equal(again!.seq, syn.seq);
    syn = again!;
    // The RST killed the TIME-WAIT: the resent SYN is a new connection.
  }
  // Handshake, then the guest sends one byte and closes first.
  const gIss = 77_000;
  rig.send(to, client.port, { seq: gIss, ack: syn.seq + 1, flags: TCP_SYN | TCP_ACK, mss: 1460 });
  rig.take();
  rig.send(
    to,
    client.port,
    { seq: gIss + 1, ack: syn.seq + 1, flags: TCP_ACK | TCP_FIN },
    new Uint8Array([120]),
  );
  await settle();
  assert.equal(conn.writtenBytes, 1);
  conn.end();
  await settle();
  const fin = rig.take().find((o) => (o.flags & TCP_FIN) !== 0)!;
  assert.ok(fin !== undefined, "the engine's FIN");
  rig.send(to, client.port, { seq: gIss + 3, ack: fin.seq + 1, flags: TCP_ACK });
  await settle();
  assert.equal(rig.engine.stats.connections, 0, "closed on the engine's side");
  return { conn, rcvNxt: (fin.seq + 1) >>> 0, stalled };
}

Deno.test("forward: a new connection on the same tuple is acceptable to the guest's TIME-WAIT", async () => {
  for (const [hostname, to] of [["198.51.100.7", CLIENT], ["127.0.0.1", GW]] as const) {
    const rig = new Rig(11);
    await rig.engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 80 });
    const rnd = prng(5);
    let tw: number | null = null;
    let stalls = 0;
    for (let i = 0; i < 200; i++) {
      const r = await oneConnection(rig, { hostname, port: 5555 }, to, tw);
      if (r.stalled) stalls++;
      tw = r.rcvNxt;
      rig.t += 0.05 + rnd() * 2; // the next connect: 50 us to 2 ms later
    }
    assert.equal(stalls, 0, `${hostname}: SYNs below the TIME-WAIT's sequence number`);
    rig.engine.close();
  }
});

Deno.test("forward: a stale ACK to our SYN gets a RST and an immediate SYN, once", async () => {
  const rig = new Rig(3);
  await rig.engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 80 });
  const info = rig.engine.listForwards()[0]!;
  rig.hostNet.listener(info.hostPort).inject({ hostname: "198.51.100.7", port: 6000 });
  await settle();
  const [syn] = rig.take();
  // The guest thinks an old connection is open (or in TIME-WAIT) and ACKs it.
  rig.send(CLIENT, 6000, { seq: 500, ack: 123_456, flags: TCP_ACK });
  assert.deepEqual(rig.take().map((o) => `${formatTcpFlags(o.flags)} ${o.seq}`), [
    "RST 123456",
    `SYN ${syn!.seq}`,
  ]);
  // A second stale ACK: RST only; the SYN waits for its timer.
  rig.send(CLIENT, 6000, { seq: 500, ack: 123_456, flags: TCP_ACK });
  assert.deepEqual(rig.take().map((o) => formatTcpFlags(o.flags)), ["RST"]);
  // A RST from the guest still refuses the connection as before.
  rig.send(CLIENT, 6000, { seq: 0, ack: syn!.seq + 1, flags: TCP_RST | TCP_ACK });
  await settle();
  assert.equal(rig.engine.stats.connections, 0);
  rig.engine.close();
});
