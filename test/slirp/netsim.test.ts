/**
 * Deterministic network simulation of the slirp TCP engine (after smoltcp's
 * tests/netsim.rs): seeded loss, duplication and reordering on a fake clock.
 * Every transfer checks that each byte arrives once, in order, and that the
 * connection then closes; SYN floods check that memory stays bounded.
 */
import assert from "node:assert/strict";
import { createTcpEngine } from "../../src/slirp/tcp/engine.ts";
import { TcpState } from "../../src/slirp/tcp/tcb.ts";
import {
  EngineNode,
  fillPattern,
  MemoryConn,
  MemoryHostNet,
  patternByte,
  settle,
  SimNet,
  SimPeer,
  simulateTransfer,
  type TransferOptions,
} from "./tcp_rig.ts";
import { prng } from "../helpers/random.ts";
import { buildTcpSegment, TCP_SYN } from "../../src/wire/tcp.ts";

const SEEDS = [1, 2, 3, 4, 5];
const LOSSES = [0, 0.01, 0.05, 0.1, 0.2, 0.3];
const SIZES: [number, number][] = [[0, 0], [1, 0], [1460, 1], [70_000, 3_000], [250_000, 250_000]];

/** Runs a transfer, checks the bytes, then runs on until both ends are CLOSED; returns the retransmissions. */
function transferAndClose(o: TransferOptions): number {
  const label = `seed ${o.seed} loss ${o.loss ?? 0} sizes ${o.bytesAB}/${o.bytesBA}`;
  const r = simulateTransfer(o);
  assert.ok(
    r.done,
    `${label}: transfer did not finish (got ${r.b.received}/${o.bytesAB} and ${r.a.received}/${o.bytesBA})`,
  );
  assert.equal(r.b.mismatchAt, -1, `${label}: A->B bytes differ at ${r.b.mismatchAt}`);
  assert.equal(r.a.mismatchAt, -1, `${label}: B->A bytes differ at ${r.a.mismatchAt}`);
  assert.equal(r.b.received, o.bytesAB, label);
  assert.equal(r.a.received, o.bytesBA, label);
  assert.equal(r.a.badSegments + r.b.badSegments, 0, `${label}: a segment failed its checksum`);
  // The closing handshake completes too (through TIME-WAIT).
  const closed = r.net.run(
    () => r.a.conn!.state === TcpState.Closed && r.b.conn!.state === TcpState.Closed,
    () => {
      r.a.step();
      r.b.step();
    },
    600_000,
  );
  assert.ok(closed, `${label}: not closed (states ${r.a.conn!.state}/${r.b.conn!.state})`);
  if ((o.loss ?? 0) === 0 && (o.duplicate ?? 0) === 0) {
    assert.equal(r.a.closedReason, null, label);
    assert.equal(r.b.closedReason, null, label);
  }
  assert.equal(r.a.stats.bufferBytes, 0, `${label}: A holds buffers after close`);
  assert.equal(r.b.stats.bufferBytes, 0, `${label}: B holds buffers after close`);
  return r.a.stats.retransmits + r.b.stats.retransmits;
}

for (const loss of LOSSES) {
  Deno.test(`netsim: ${loss * 100}% loss with duplication and reordering, ${SEEDS.length} seeds, ${SIZES.length} sizes`, () => {
    let retransmits = 0;
    for (const seed of SEEDS) {
      for (const [ab, ba] of SIZES) {
        retransmits += transferAndClose({
          seed: seed * 1000 + Math.round(loss * 100),
          loss,
          duplicate: Math.min(0.1, loss / 2),
          reorder: loss > 0 ? 0.2 : 0,
          reorderMs: 5,
          bytesAB: ab,
          bytesBA: ba,
        });
      }
    }
    if (loss === 0) assert.equal(retransmits, 0, "no loss, no retransmission");
    else assert.ok(retransmits > 0, "losses were repaired by retransmission");
  });
}

Deno.test("netsim: IPv6 endpoints at 10% loss", () => {
  for (const seed of SEEDS) {
    transferAndClose({
      seed,
      loss: 0.1,
      duplicate: 0.05,
      reorder: 0.2,
      bytesAB: 100_000,
      bytesBA: 50_000,
      v6: true,
    });
  }
});

Deno.test("netsim: small buffers and a slow reader (zero windows, persist probes) at 5% loss", () => {
  for (const seed of SEEDS) {
    const small = { sendBufferSize: 4096, receiveBufferSize: 4096, initialBufferSize: 1024 };
    const o: TransferOptions = {
      seed,
      loss: 0.05,
      reorder: 0.1,
      bytesAB: 60_000,
      bytesBA: 20_000,
      cfgA: small,
      cfgB: small,
    };
    // A reader that takes 300 bytes per step keeps the windows small and often closed.
    const r = simulateTransfer({ ...o, maxMs: 1 });
    for (const peer of [r.a, r.b]) {
      peer.readLimit = 300;
      peer.readIntervalMs = 10;
    }
    const done = r.net.run(
      () => r.a.gotEof && r.b.gotEof && r.b.received === o.bytesAB && r.a.received === o.bytesBA,
      () => {
        r.a.step();
        r.b.step();
      },
      3_600_000,
    );
    assert.ok(done, `seed ${seed}: ${r.b.received}/${o.bytesAB}, ${r.a.received}/${o.bytesBA}`);
    assert.equal(r.b.mismatchAt, -1);
    assert.equal(r.a.mismatchAt, -1);
  }
});

Deno.test("netsim: tail-drop queue (congestion) without random loss", () => {
  for (const seed of SEEDS) {
    const r = simulateTransfer({ seed, queueLimit: 16, bytesAB: 2_000_000, bytesBA: 100_000, delayMs: 2 });
    assert.ok(r.done);
    assert.equal(r.b.mismatchAt, -1);
    assert.ok(r.net.tailDropped > 0, "the queue overflowed at least once");
  }
});

Deno.test("netsim: MSS 536 and no window scaling", () => {
  for (const seed of SEEDS) {
    transferAndClose({
      seed,
      loss: 0.05,
      reorder: 0.1,
      bytesAB: 80_000,
      bytesBA: 80_000,
      cfgA: { mss: 536, windowScaling: false },
      cfgB: { mss: 536 },
    });
  }
});

// ---------------------------------------------------------------------------
// The whole engine (NAT and host bridging) inside the simulation, with
// in-memory host sockets.

/** A host-side server for an in-memory conn: sends `down` pattern bytes (tag 2), checks the upload (tag 1). */
function serve(conn: MemoryConn, down: number) {
  const state = { received: 0, mismatch: -1, sent: 0, upEof: false };
  conn.source = (p) => {
    if (state.sent >= down) return null;
    const n = Math.min(p.length, down - state.sent, 16384);
    fillPattern(2, state.sent, p.subarray(0, n));
    state.sent += n;
    return n;
  };
  conn.sink = (chunk) => {
    for (let k = 0; k < chunk.length; k++) {
      if (state.mismatch < 0 && chunk[k] !== patternByte(1, state.received + k)) {
        state.mismatch = state.received + k;
      }
    }
    state.received += chunk.length;
  };
  conn.onCloseWrite = () => state.upEof = true;
  return state;
}

async function engineTransfer(
  seed: number,
  loss: number,
  up: number,
  down: number,
  inbound: boolean,
): Promise<void> {
  const label = `seed ${seed} loss ${loss} up ${up} down ${down} ${inbound ? "inbound" : "outbound"}`;
  const net = new SimNet(seed, { loss, duplicate: loss / 3, reorder: loss > 0 ? 0.1 : 0 });
  const hostNet = new MemoryHostNet();
  const node = new EngineNode(net);
  const rnd = prng(seed);
  const engine = createTcpEngine(node.core, {
    hostLoopback: true,
    hostNet,
    random: () => Math.floor(rnd() * 2 ** 32),
    tcp: { keepAliveIdleMs: Infinity },
  });
  node.engine = engine;
  const guest = new SimPeer(net, new Uint8Array([10, 0, 2, 15]), inbound ? 8080 : 45000);
  node.peer = guest;
  guest.toSend = up;
  guest.sendTag = 1;
  guest.recvTag = 2;
  let server: ReturnType<typeof serve> | null = null;
  if (inbound) {
    await engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 8080 });
    const [fwd] = engine.listForwards();
    guest.listen(node, Math.floor(rnd() * 2 ** 32));
    const conn = hostNet.listener(fwd!.hostPort).inject({ hostname: "198.51.100.7", port: 51000 });
    server = serve(conn, down);
  } else {
    hostNet.onConnect = () => {
      const conn = new MemoryConn();
      server = serve(conn, down);
      return conn;
    };
    guest.connect(node, new Uint8Array([203, 0, 113, 5]), 80, Math.floor(rnd() * 2 ** 32));
  }
  const done = await net.runAsync(
    () =>
      server !== null && server.received === up && server.upEof && guest.received === down && guest.gotEof,
    () => guest.step(),
    3_600_000,
  );
  assert.ok(done, `${label}: host got ${server?.received}/${up}, guest got ${guest.received}/${down}`);
  assert.equal(server!.mismatch, -1, `${label}: upload differs at ${server!.mismatch}`);
  assert.equal(guest.mismatchAt, -1, `${label}: download differs at ${guest.mismatchAt}`);
  if (inbound) {
    assert.deepEqual(
      [...guest.conn!.remoteAddr],
      [198, 51, 100, 7],
      "the guest sees the real client address",
    );
    assert.equal(guest.conn!.remotePort, 51000, "and its port");
  } else {
    assert.deepEqual(hostNet.connects.map((c) => `${c.hostname}:${c.port}`), ["203.0.113.5:80"]);
  }
  // Both sides close; the engine forgets the flow and its buffers.
  const closed = await net.runAsync(
    () => engine.stats.connections === 0 && guest.conn!.state === TcpState.Closed,
    () => guest.step(),
    600_000,
  );
  assert.ok(
    closed,
    `${label}: not closed (engine has ${engine.stats.connections}, guest state ${guest.conn!.state})`,
  );
  assert.equal(engine.stats.bufferBytes, 0, `${label}: buffers left`);
  engine.close();
}

for (const loss of [0, 0.02, 0.1, 0.2]) {
  Deno.test(`netsim: engine NAT outbound and inbound at ${loss * 100}% loss, bytes checked both ways`, async () => {
    for (const seed of [1, 2, 3]) {
      await engineTransfer(seed, loss, 200_000, 300_000, false);
      await engineTransfer(seed + 10, loss, 150_000, 100_000, true);
    }
  });
}

// ---------------------------------------------------------------------------
// SYN floods.

function synFrom(i: number): [Uint8Array, Uint8Array, Uint8Array] {
  const src = new Uint8Array([10, 0, 2, 15 + (i % 200)]);
  const dst = new Uint8Array([203, 0, 113, 5]);
  const seg = buildTcpSegment(
    {
      srcPort: 1024 + (i % 60000),
      dstPort: 80,
      seq: (i * 7919) >>> 0,
      flags: TCP_SYN,
      window: 65535,
      mss: 1460,
      wscale: 7,
    },
    undefined,
    src,
    dst,
  );
  return [src, dst, seg];
}

Deno.test("SYN flood against unanswered host connects: half-open flows stay capped, memory bounded", async () => {
  const net = new SimNet(1);
  const hostNet = new MemoryHostNet();
  hostNet.onConnect = () => "hang";
  const node = new EngineNode(net);
  const engine = createTcpEngine(node.core, { hostLoopback: true, hostNet, maxHalfOpen: 128 });
  node.engine = engine;
  let maxConnections = 0;
  for (let i = 0; i < 20_000; i++) {
    const [src, dst, seg] = synFrom(i);
    engine.input(src, dst, seg);
    maxConnections = Math.max(maxConnections, engine.stats.connections);
  }
  await Promise.resolve();
  assert.ok(maxConnections <= 128, `connections peaked at ${maxConnections}`);
  assert.equal(engine.stats.halfOpen, 128);
  assert.equal(engine.stats.synEvicted, 20_000 - 128);
  assert.equal(engine.stats.bufferBytes, 0, "half-open flows hold no buffers");
  // Evicted connects were cancelled.
  assert.equal(hostNet.connects.filter((c) => c.signal.aborted).length, 20_000 - 128);
  // The guest got a RST for each evicted SYN.
  assert.equal(engine.stats.rstOut, 20_000 - 128);
  engine.close();
  assert.equal(engine.stats.connections, 0);
});

Deno.test("SYN flood with answering hosts (SYN-RECEIVED flood): capped, evicted host sockets closed, then a real connection works", async () => {
  const net = new SimNet(2);
  const hostNet = new MemoryHostNet();
  const node = new EngineNode(net);
  const engine = createTcpEngine(node.core, {
    hostLoopback: true,
    hostNet,
    maxHalfOpen: 64,
    tcp: { keepAliveIdleMs: Infinity },
  });
  node.engine = engine;
  for (let i = 0; i < 5000; i++) {
    const [src, dst, seg] = synFrom(i);
    engine.input(src, dst, seg);
    if (i % 100 === 0) await Promise.resolve();
  }
  await Promise.resolve();
  await Promise.resolve();
  assert.ok(engine.stats.connections <= 64, `connections ${engine.stats.connections}`);
  const open = hostNet.conns.filter((c) => !c.closed).length;
  assert.ok(open <= 64, `${open} host sockets still open`);
  // A legitimate guest still gets through.
  const guest = new SimPeer(net, new Uint8Array([10, 0, 2, 99]), 50000);
  node.peer = guest;
  guest.toSend = 1000;
  guest.finAfterSend = false;
  guest.connect(node, new Uint8Array([203, 0, 113, 5]), 80, 12345);
  const ok = await net.runAsync(() => guest.established, () => guest.step(), 10_000);
  assert.ok(ok, "the real connection was established");
  engine.close();
});

Deno.test("a forward's clients hold at most half the flows: the guest's connects still get through", async () => {
  const net = new SimNet(4);
  const hostNet = new MemoryHostNet();
  const node = new EngineNode(net);
  const engine = createTcpEngine(node.core, {
    hostLoopback: true,
    hostNet,
    maxConnections: 16,
    maxHalfOpen: 12,
    tcp: { keepAliveIdleMs: Infinity },
  });
  node.engine = engine;
  await engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 8080 });
  const [fwd] = engine.listForwards();
  const listener = hostNet.listener(fwd!.hostPort);
  // A local user's flood of the forward (nothing in the guest answers it: each stays half-open).
  const clients: MemoryConn[] = [];
  for (let i = 0; i < 40; i++) {
    clients.push(listener.inject({ hostname: "127.0.0.1", port: 40000 + i }));
    await Promise.resolve();
  }
  assert.ok(
    engine.stats.connections <= 8,
    `the forward's clients hold ${engine.stats.connections} of 16 flows`,
  );
  await settle();
  const open = clients.filter((c) => !c.closed).length;
  assert.ok(open <= 8, `${open} clients left open: those turned away are closed`);
  // The guest's own connection, half-open while the flood goes on, then established.
  hostNet.onConnect = () => new MemoryConn();
  const guest = new SimPeer(net, new Uint8Array([10, 0, 2, 15]), 45000);
  node.peer = guest;
  guest.toSend = 1000;
  guest.finAfterSend = false;
  guest.connect(node, new Uint8Array([203, 0, 113, 5]), 80, 777);
  for (let i = 40; i < 80; i++) listener.inject({ hostname: "127.0.0.1", port: 40000 + i });
  const ok = await net.runAsync(() => guest.established, () => guest.step(), 10_000);
  assert.ok(ok, `the guest's connection was not established (${engine.stats.connections} flows)`);
  engine.close();
});

Deno.test("a flood of a forward's clients evicts its own half-open flows, not the guest's pending connect", async () => {
  const net = new SimNet(5);
  const hostNet = new MemoryHostNet();
  const node = new EngineNode(net);
  const engine = createTcpEngine(node.core, { hostLoopback: true, hostNet, maxHalfOpen: 4 });
  node.engine = engine;
  await engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 8080 });
  const [fwd] = engine.listForwards();
  const listener = hostNet.listener(fwd!.hostPort);
  // The guest's connect to a slow host: half-open until the host answers.
  hostNet.onConnect = () => "hang";
  const [src, dst, seg] = synFrom(0);
  engine.input(src, dst, seg);
  await settle();
  assert.equal(hostNet.connects.length, 1);
  for (let i = 0; i < 40; i++) {
    listener.inject({ hostname: "127.0.0.1", port: 40000 + i });
    await settle(4);
  }
  assert.ok(engine.stats.synEvicted >= 30, `${engine.stats.synEvicted} evicted`);
  assert.equal(hostNet.connects[0]!.signal.aborted, false, "the guest's connect was evicted");
  engine.close();
});

Deno.test("under a flood of a forward's clients, the guest's next connect evicts one of theirs, not its own pending one", async () => {
  const net = new SimNet(6);
  const hostNet = new MemoryHostNet();
  const node = new EngineNode(net);
  const engine = createTcpEngine(node.core, { hostLoopback: true, hostNet, maxHalfOpen: 8 });
  node.engine = engine;
  await engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 8080 });
  const [fwd] = engine.listForwards();
  const listener = hostNet.listener(fwd!.hostPort);
  const flood = async (n: number) => {
    for (let i = 0; i < n; i++) {
      listener.inject({ hostname: "127.0.0.1", port: 40000 + (i % 20000) });
      await settle(4);
    }
  };
  // The guest's connects to a slow host: half-open until the host answers.
  hostNet.onConnect = () => "hang";
  await flood(20);
  engine.input(...synFrom(0));
  await settle();
  // The flood goes on long enough to give up every forward client older than the guest's connect.
  await flood(20);
  engine.input(...synFrom(1));
  await settle();
  assert.equal(hostNet.connects.length, 2);
  assert.equal(
    hostNet.connects[0]!.signal.aborted,
    false,
    "the guest's first connect was evicted by its second",
  );
  assert.equal(hostNet.connects[1]!.signal.aborted, false);
  engine.close();
});

Deno.test("a forward's clients that closed first leave TIME-WAIT flows that give way to new clients past their share", async () => {
  const net = new SimNet(7);
  const hostNet = new MemoryHostNet();
  const node = new EngineNode(net);
  const engine = createTcpEngine(node.core, {
    hostLoopback: true,
    hostNet,
    maxConnections: 8,
    tcp: { timeWaitMs: 60_000 },
  });
  node.engine = engine;
  await engine.addForward({ hostPort: 0, guestAddr: "10.0.2.15", guestPort: 8080 });
  const [fwd] = engine.listForwards();
  const listener = hostNet.listener(fwd!.hostPort);
  // Short connections one after another (a health check, a load test): each client sends nothing and
  // closes first, so the engine holds each flow's TIME-WAIT; twice the forwards' share of 4.
  for (let i = 0; i < 8; i++) {
    const guest = new SimPeer(net, new Uint8Array([10, 0, 2, 15]), 8080);
    node.peer = guest;
    guest.toSend = 0;
    guest.closeOnEof = true;
    guest.listen(node, 5000 + i);
    listener.inject({ hostname: "127.0.0.1", port: 40000 + i }).end();
    const ok = await net.runAsync(() => guest.closedReason !== undefined, () => guest.step(), 10_000);
    assert.ok(ok, `client ${i} never reached the guest (${engine.stats.timeWait} flows in TIME-WAIT)`);
    assert.equal(guest.closedReason, null);
  }
  engine.close();
});

Deno.test("TIME-WAIT is capped: the oldest gives way", async () => {
  const net = new SimNet(3);
  const hostNet = new MemoryHostNet();
  const node = new EngineNode(net);
  const engine = createTcpEngine(node.core, {
    hostLoopback: true,
    hostNet,
    maxTimeWait: 5,
    tcp: { timeWaitMs: 60_000 },
  });
  node.engine = engine;
  // Connections that the host closes first end in TIME-WAIT on the engine's side.
  hostNet.onConnect = () => {
    const c = new MemoryConn();
    c.end();
    return c;
  };
  for (let i = 0; i < 12; i++) {
    const guest = new SimPeer(net, new Uint8Array([10, 0, 2, 15]), 41000 + i);
    node.peer = guest;
    guest.toSend = 0;
    guest.closeOnEof = true;
    guest.connect(node, new Uint8Array([203, 0, 113, 5]), 80, 1000 + i);
    const ok = await net.runAsync(() => guest.closedReason !== undefined, () => guest.step(), 10_000);
    assert.ok(ok, `connection ${i} closed on the guest side`);
    assert.equal(guest.closedReason, null);
    assert.equal(guest.sawTimeWait, false, "the host closed first, so the engine holds the TIME-WAIT");
    assert.ok(engine.stats.timeWait <= 5, `time-wait ${engine.stats.timeWait}`);
  }
  assert.equal(engine.stats.timeWait, 5);
  engine.close();
});

Deno.test("hostile segments on a live connection's tuple: nothing throws, invariants hold, a clean transfer follows", async () => {
  const net = new SimNet(77);
  const hostNet = new MemoryHostNet();
  const node = new EngineNode(net);
  const engine = createTcpEngine(node.core, {
    hostLoopback: true,
    hostNet,
    tcp: { keepAliveIdleMs: Infinity },
  });
  node.engine = engine;
  const rnd = prng(4242);
  const guestAddr = new Uint8Array([10, 0, 2, 15]);
  const far = new Uint8Array([203, 0, 113, 5]);
  // A live flow to attack: the guest established, the host side sends now and then.
  const victim = new SimPeer(net, guestAddr, 47000);
  node.peer = victim;
  victim.toSend = 0;
  victim.finAfterSend = false;
  const hostConns: MemoryConn[] = [];
  hostNet.onConnect = () => {
    const c = new MemoryConn();
    hostConns.push(c);
    return c;
  };
  victim.connect(node, far, 80, 999);
  assert.ok(await net.runAsync(() => engine.stats.established === 1, () => victim.step(), 10_000));
  const v = victim.conn!;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  for (let i = 0; i < 30_000; i++) {
    const near = (base: number) => (base + Math.floor((rnd() - 0.5) * 200_000)) >>> 0;
    const seq = rnd() < 0.8 ? near(v.sndNxt) : Math.floor(rnd() * 2 ** 32);
    const ack = rnd() < 0.8 ? near(v.rcvNxt) : Math.floor(rnd() * 2 ** 32);
    const flags = rnd() < 0.1
      ? Math.floor(rnd() * 256)
      : pick([0x10, 0x18, 0x11, 0x12, 0x02, 0x14, 0x04, 0x30, 0x19]);
    const payload = new Uint8Array(pick([0, 0, 1, 100, 1460, 3000]));
    const seg = buildTcpSegment(
      {
        srcPort: 47000,
        dstPort: 80,
        seq,
        ack,
        flags,
        window: Math.floor(rnd() * 65536),
        urgent: Math.floor(rnd() * 65536),
        mss: rnd() < 0.1 ? Math.floor(rnd() * 65536) : 0,
        wscale: rnd() < 0.1 ? Math.floor(rnd() * 256) : -1,
      },
      payload,
      guestAddr,
      far,
    );
    if (rnd() < 0.05) seg[12] = Math.floor(rnd() * 256); // lying data offset (checksum then fails or the parser refuses)
    engine.input(guestAddr, far, seg);
    if (i % 500 === 0) {
      hostConns[0]?.push(new Uint8Array(1000));
      await settle(4);
      net.now += 50;
      engine.poll();
    }
    assert.ok(engine.stats.bufferBytes <= 4 * 1024 * 1024, `buffers ${engine.stats.bufferBytes}`);
    assert.ok(engine.stats.connections <= 1);
  }
  assert.ok(engine.stats.badSegments + engine.stats.badChecksum > 0);
  // The fuzz reached the established connection's paths, not just the no-connection ones.
  assert.ok(engine.stats.outOfWindow > 1000 && engine.stats.rstIn > 0, JSON.stringify(engine.stats));
  // A fresh connection still works end to end.
  const guest = new SimPeer(net, guestAddr, 48000);
  node.peer = guest;
  guest.toSend = 100_000;
  guest.sendTag = 1;
  let server: ReturnType<typeof serve> | null = null;
  hostNet.onConnect = () => {
    const c = new MemoryConn();
    server = serve(c, 50_000);
    return c;
  };
  guest.connect(node, far, 81, 5);
  const ok = await net.runAsync(
    () => server !== null && server.received === 100_000 && guest.received === 50_000 && guest.gotEof,
    () => guest.step(),
    600_000,
  );
  assert.ok(ok, "a clean transfer after the fuzzing");
  assert.equal(server!.mismatch, -1);
  assert.equal(guest.mismatchAt, -1);
  engine.close();
});
