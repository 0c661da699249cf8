/**
 * Loss recovery with SACK and timestamps on the seeded simulator: random
 * loss, bursts of three consecutive losses and isolated losses, with both
 * ends SACK-capable or one end without. Every transfer checks each byte;
 * the isolated-loss cases also check that recovery needed no timeout and
 * resent exactly what was lost.
 *
 * The loss models sit in a {@link LossyEdge} in front of a node, so the
 * simulator's own impairments (delay, reordering) still apply.
 */
import assert from "node:assert/strict";
import { DEFAULT_TCB_CONFIG, type TcbConfig, TcpState } from "../../src/slirp/tcp/tcb.ts";
import { prng } from "../helpers/random.ts";
import { SimNet, type SimNode, SimPeer, simulateTransfer } from "./tcp_rig.ts";
import {
  newTcpRepr,
  parseTcp,
  setTcpChecksum,
  TCP_ACK,
  TCP_SYN,
  writeTcpAckOptions,
  writeTcpBase,
} from "../../src/wire/tcp.ts";

/** Decides, per segment, whether the edge drops it. */
type LossModel = (seq: number, payloadLength: number) => boolean;

/** Something in front of a node: timers and queue are the node's; `deliver` may change what it gets. */
abstract class Edge<T extends SimNode> implements SimNode {
  readonly inner: T;

  constructor(inner: T) {
    this.inner = inner;
  }
  get queued(): number {
    return this.inner.queued;
  }
  set queued(n: number) {
    this.inner.queued = n;
  }
  abstract deliver(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void;
  deadline(): number {
    return this.inner.deadline();
  }
  poll(): void {
    this.inner.poll();
  }
}

/** A node's inbound edge: segments pass through a loss model first. */
class LossyEdge extends Edge<SimNode> {
  readonly model: LossModel;
  dropped = 0;
  #repr = newTcpRepr();

  constructor(inner: SimNode, model: LossModel) {
    super(inner);
    this.model = model;
  }
  deliver(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    const r = this.#repr;
    if (parseTcp(seg, r, { urgentPastData: "clamp" }) === null && this.model(r.seq, r.payloadLength)) {
      this.dropped++;
      return;
    }
    this.inner.deliver(src, dst, seg);
  }
}

/** Random loss with probability `p` per segment; each loss starts a burst of `burst` segments. */
function randomLoss(seed: number, p: number, burst = 1): LossModel {
  const rnd = prng(seed);
  let left = 0;
  return () => {
    if (left > 0) {
      left--;
      return true;
    }
    if (rnd() >= p) return false;
    left = burst - 1;
    return true;
  };
}

/**
 * Isolated losses of data: a first transmission is dropped with
 * probability `p`, never within `gap` segments of the previous loss, never
 * a retransmission and never among the last `tail` segments of the stream
 * (a lost tail has nothing behind it to report it, SACK or not).
 */
function isolatedLoss(seed: number, p: number, streamStart: () => number, total: number): LossModel {
  const rnd = prng(seed);
  const gap = 4;
  const tail = 4 * 1448;
  let highest = -1;
  let sinceLoss = gap;
  return (seq, len) => {
    if (len === 0) return false;
    const off = (seq - streamStart()) >>> 0;
    if (highest >= 0 && off < highest) return false; // a retransmission
    highest = off + len;
    sinceLoss++;
    if (sinceLoss < gap || off + len > total - tail || rnd() >= p) return false;
    sinceLoss = 0;
    return true;
  };
}

interface Run {
  a: SimPeer;
  b: SimPeer;
  net: SimNet;
  toB: LossyEdge;
  toA: LossyEdge;
}

/**
 * A transfer of `ab` bytes from A to B and `ba` back, with `modelAB`
 * dropping on the way to B and `modelBA` on the way to A; runs until both
 * ends are CLOSED and checks the bytes.
 */
function transfer(
  label: string,
  seed: number,
  ab: number,
  ba: number,
  models: (a: SimPeer, b: SimPeer) => [LossModel, LossModel],
  opts: {
    sackA?: boolean;
    sackB?: boolean;
    /** The senders' congestion control (default: the engine's, CUBIC). */
    cc?: TcbConfig["congestionControl"];
    reorder?: number;
    /** Random loss both ways, besides the models. */
    loss?: number;
    /** What stands in front of A, behind the loss model (e.g. a liar). */
    edgeA?: (a: SimPeer) => SimNode;
  } = {},
): Run {
  const net = new SimNet(seed, {
    delayMs: 5,
    reorder: opts.reorder ?? 0,
    reorderMs: 2,
    loss: opts.loss ?? 0,
  });
  const cc = { congestionControl: opts.cc ?? DEFAULT_TCB_CONFIG.congestionControl };
  const a = new SimPeer(net, new Uint8Array([10, 0, 2, 15]), 40000, { sack: opts.sackA ?? true, ...cc });
  const b = new SimPeer(net, new Uint8Array([192, 0, 2, 1]), 80, { sack: opts.sackB ?? true, ...cc });
  const [modelAB, modelBA] = models(a, b);
  const toB = new LossyEdge(b, modelAB);
  const toA = new LossyEdge(opts.edgeA?.(a) ?? a, modelBA);
  a.toSend = ab;
  b.toSend = ba;
  b.recvTag = a.sendTag;
  a.recvTag = b.sendTag;
  b.listen(toA, 1_000_000 + seed);
  a.connect(toB, b.addr, b.port, 3_000_000_000 + seed);
  const closed = net.run(
    () => a.conn!.state === TcpState.Closed && b.conn!.state === TcpState.Closed,
    () => {
      a.step();
      b.step();
    },
    24 * 3_600_000,
  );
  assert.ok(closed, `${label}: not closed (A ${a.conn!.state}, B ${b.conn!.state}; got ${b.received}/${ab})`);
  assert.equal(b.received, ab, `${label}: A->B bytes`);
  assert.equal(a.received, ba, `${label}: B->A bytes`);
  assert.equal(b.mismatchAt, -1, `${label}: A->B bytes differ`);
  assert.equal(a.mismatchAt, -1, `${label}: B->A bytes differ`);
  return { a, b, net, toB, toA };
}

const SEEDS = [1, 2, 3, 4, 5, 6];

for (const p of [0.01, 0.03, 0.05]) {
  Deno.test(`SACK netsim: ${p * 100}% random loss both ways, 300 kB each way, intact; SACK-less peers too`, () => {
    for (const seed of SEEDS) {
      for (const sack of [true, false]) {
        const r = transfer(`seed ${seed} sack ${sack}`, seed, 300_000, 300_000, () => [
          randomLoss(seed * 31, p),
          randomLoss(seed * 37, p),
        ], { sackA: sack, reorder: 0.05 });
        assert.equal(r.a.conn!.sackOk, sack);
        assert.ok(r.toB.dropped + r.toA.dropped > 0, "the model dropped something");
      }
    }
  });
}

Deno.test("SACK netsim: bursts of 3 consecutive losses (2% of segments start one), intact both ways", () => {
  const timeouts = { sack: 0, plain: 0 };
  for (const seed of SEEDS) {
    for (const [kind, sack] of [["sack", true], ["plain", false]] as const) {
      const r = transfer(`seed ${seed} ${kind}`, seed, 500_000, 200_000, () => [
        randomLoss(seed * 41, 0.02, 3),
        randomLoss(seed * 43, 0.02, 3),
      ], { sackB: sack });
      timeouts[kind] += r.a.stats.rtoTimeouts + r.b.stats.rtoTimeouts;
      assert.ok(r.toB.dropped + r.toA.dropped > 0, "the model dropped something");
    }
  }
  assert.ok(timeouts.sack < timeouts.plain, `timeouts with SACK ${timeouts.sack}, without ${timeouts.plain}`);
});

/** 1 MB from A to B with isolated losses on the way (3% of first transmissions); B with or without SACK. */
function isolatedTransfer(seed: number, sackB: boolean, cc?: TcbConfig["congestionControl"]): Run {
  const total = 1_000_000;
  return transfer(`seed ${seed}`, seed, total, 0, (a) => [
    isolatedLoss(seed * 53, 0.03, () => (a.conn!.iss + 1) >>> 0, total),
    () => false,
  ], { sackB, cc });
}

for (const cc of ["cubic", "newreno"] as const) {
  Deno.test(`SACK netsim (${cc}): isolated losses are repaired without a timeout, resending only what was lost`, () => {
    for (const seed of SEEDS) {
      const r = isolatedTransfer(seed, true, cc);
      assert.ok(r.toB.dropped >= 5, `seed ${seed}: only ${r.toB.dropped} losses`);
      assert.equal(r.a.stats.rtoTimeouts, 0, `seed ${seed}: timeouts`);
      assert.equal(r.a.stats.retransmits, r.toB.dropped, `seed ${seed}: resent exactly the lost segments`);
      assert.ok(r.a.stats.sackRetransmits + r.a.stats.fastRetransmits >= r.toB.dropped);
    }
  });
}

Deno.test("SACK netsim: isolated losses against a SACK-less peer still complete (NewReno)", () => {
  for (const seed of SEEDS) {
    const r = isolatedTransfer(seed, false);
    assert.equal(r.a.conn!.sackOk, false);
    assert.ok(r.toB.dropped >= 5);
    assert.ok(r.a.stats.retransmits >= r.toB.dropped);
  }
});

/**
 * Rewrites ACKs on their way to A with made-up SACK blocks: inside and
 * outside the window, empty, reversed, overlapping, up to four, some half
 * the sequence space away. The ACK number and window stay true.
 */
class SackLiar extends Edge<SimPeer> {
  readonly rnd: () => number;
  lies = 0;
  #repr = newTcpRepr();

  constructor(inner: SimPeer, seed: number) {
    super(inner);
    this.rnd = prng(seed);
  }
  deliver(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    const r = this.#repr;
    if (
      parseTcp(seg, r) !== null || r.payloadLength > 0 || (r.flags & (TCP_ACK | TCP_SYN)) !== TCP_ACK ||
      this.rnd() < 0.5
    ) {
      this.inner.deliver(src, dst, seg);
      return;
    }
    const blocks: number[] = [];
    const n = 1 + Math.floor(this.rnd() * 4);
    for (let k = 0; k < n; k++) {
      const pick = this.rnd();
      const base = pick < 0.1 ? r.ack + 0x80000000 : r.ack;
      const left = (base + Math.floor((this.rnd() - 0.2) * 60_000)) >>> 0;
      const len = pick < 0.2
        ? 0
        : pick < 0.3
        ? -Math.floor(this.rnd() * 3000)
        : Math.floor(this.rnd() * 20_000);
      blocks.push(left, (left + len) >>> 0);
    }
    const opts = new Uint8Array(40);
    const olen = writeTcpAckOptions(opts, 0, false, 0, 0, blocks, n);
    const out = new Uint8Array(20 + olen);
    writeTcpBase(out, 0, r.srcPort, r.dstPort, r.seq, r.ack, 20 + olen, r.flags, r.window);
    out.set(opts.subarray(0, olen), 20);
    setTcpChecksum(src, dst, out);
    this.lies++;
    this.inner.deliver(src, dst, out);
    const c = this.inner.conn!;
    const flight = (c.sndMax - c.sndUna) >>> 0;
    assert.ok(
      c.sackedBytes >= 0 && c.sackedBytes <= flight,
      `scoreboard ${c.sackedBytes} of ${flight} in flight`,
    );
  }
}

Deno.test("SACK netsim: on a short path our receive window never overflows a 90-segment queue in front of us", () => {
  for (const seed of SEEDS) {
    // Our engine at both ends: a sender that fills any window it is offered, and our receiver. 0.25 ms
    // each way: a switch on this host (a round trip below shortPathRttMs).
    const r = simulateTransfer({ seed, queueLimit: 90, delayMs: 0.25, bytesAB: 4_000_000, bytesBA: 0 });
    assert.ok(r.done, `seed ${seed}: incomplete`);
    assert.equal(r.b.mismatchAt, -1);
    assert.equal(r.net.tailDropped, 0, `seed ${seed}: the queue overflowed`);
    assert.equal(r.a.stats.retransmits, 0, `seed ${seed}: retransmissions`);
    // The same with a receiver that offers its whole ring (as Linux's does): the queue overflows.
    const open = simulateTransfer({
      seed,
      queueLimit: 90,
      delayMs: 0.25,
      bytesAB: 4_000_000,
      bytesBA: 0,
      cfgB: { receiveWindowSegments: 0 },
    });
    assert.ok(open.net.tailDropped > 0, `seed ${seed}: a large window overflows the queue`);
  }
});

// What the switch's socket queues for us sets the window on a short path (switchQueueFrames). The
// simulator's queue is that switch's: it tail-drops beyond its limit, or with no limit holds everything
// (as our switch does). Nothing here is random, so one seed says it all.
const SHORT = { seed: 1, delayMs: 0.25, bytesAB: 4_000_000, bytesBA: 0 };

Deno.test("SACK netsim: a switch that queues 93 frames for us (Debian's) gets a window that never overflows it", () => {
  const r = simulateTransfer({ ...SHORT, queueLimit: 93, cfgB: { switchQueueFrames: 93 } });
  assert.ok(r.done);
  assert.equal(r.b.mismatchAt, -1);
  assert.equal(r.net.tailDropped, 0, "the queue overflowed");
  assert.equal(r.a.stats.retransmits, 0);
  assert.equal(r.b.stats.shortPathLosses, 0);
});

Deno.test("SACK netsim: a switch that queues hundreds of frames for us (ours) gets the ring's whole window", () => {
  const held = simulateTransfer({ ...SHORT, cfgB: { switchQueueFrames: 911 } });
  const capped = simulateTransfer({ ...SHORT, cfgB: { switchQueueFrames: 0 } });
  assert.ok(held.done && capped.done);
  assert.equal(held.b.mismatchAt, -1);
  assert.equal(held.net.tailDropped, 0);
  // The simulated link has no rate of its own: the window per round trip is the rate.
  assert.ok(held.simMs < 0.7 * capped.simMs, `${held.simMs} ms against ${capped.simMs} ms with 88 segments`);
});

Deno.test("SACK netsim: after a frame lost on a short path the window falls back to receiveWindowSegments", () => {
  // A switch that says it queues 911 frames but drops beyond 120: the first overflow is the last.
  const r = simulateTransfer({ ...SHORT, queueLimit: 120, cfgB: { switchQueueFrames: 911 } });
  const stubborn = simulateTransfer({
    ...SHORT,
    queueLimit: 120,
    cfgB: { switchQueueFrames: 911, receiveWindowSegments: 0 },
  });
  assert.ok(r.done && stubborn.done);
  assert.equal(r.b.mismatchAt, -1);
  assert.ok(r.b.stats.shortPathLosses > 0 && r.net.tailDropped > 0);
  assert.ok(
    r.b.stats.shortPathLosses < stubborn.b.stats.shortPathLosses &&
      2 * r.net.tailDropped < stubborn.net.tailDropped,
    `${r.net.tailDropped} frames lost in ${r.b.stats.shortPathLosses} holes, against ${stubborn.net.tailDropped} in ${stubborn.b.stats.shortPathLosses} without the fallback`,
  );
});

Deno.test("SACK netsim: hostile SACK blocks on half the ACKs, with 3% loss: nothing breaks, the bytes arrive", () => {
  for (const seed of SEEDS) {
    let liar: SackLiar | null = null;
    const r = transfer(`seed ${seed}`, seed, 150_000, 0, () => [() => false, () => false], {
      loss: 0.03,
      edgeA: (a) => (liar = new SackLiar(a, seed * 61)),
    });
    assert.ok(liar!.lies > 10);
    assert.ok(r.a.conn!.sackOk);
    assert.ok(r.a.stats.sackBlocksIgnored > 0);
  }
});

for (const cc of ["cubic", "newreno"] as const) {
  Deno.test(`SACK netsim (${cc}): a tail-drop queue that also drops retransmissions costs no timeout`, () => {
    // 90 segments: what Debian's vde_switch buffers towards a slow reader; 16: a harsher queue. The
    // receiver offers a large window (as Linux's does) and the sender fills it, so the queue overflows.
    for (const queueLimit of [90, 16]) {
      for (const seed of SEEDS) {
        const r = simulateTransfer({
          seed,
          queueLimit,
          delayMs: 1,
          bytesAB: 4_000_000,
          bytesBA: 0,
          cfgA: { congestionControl: cc },
          cfgB: { receiveWindowSegments: 0 },
        });
        assert.ok(r.done, `queue ${queueLimit} seed ${seed}: incomplete`);
        assert.equal(r.b.mismatchAt, -1);
        assert.ok(r.net.tailDropped > 0, "the queue overflowed");
        assert.equal(r.a.stats.rtoTimeouts, 0, `queue ${queueLimit} seed ${seed}: timeouts`);
        if (queueLimit === 16) {
          assert.ok(r.a.stats.lostRetransmits > 0, "retransmissions were lost and resent");
        }
      }
    }
  });
}

Deno.test("SACK netsim: a download behind a switch that holds 911 frames for the guest keeps up to 906 full ones in flight", () => {
  // The guest (A) offers a window of megabytes, as Linux does. The queue is the switch's towards it:
  // 911 frames, and 5 more for the short segments a send ring's wrap cuts (the cap counts bytes).
  const guest = { receiveBufferSize: 8 << 20, receiveWindowSegments: 0 };
  const down = { seed: 1, delayMs: 0.25, bytesAB: 0, bytesBA: 8_000_000, queueLimit: 916, cfgA: guest };
  const held = simulateTransfer({ ...down, cfgB: { switchQueueFrames: 911 } });
  const ring = simulateTransfer({ ...down, cfgB: { switchQueueFrames: 93 } });
  const open = simulateTransfer({ ...down, cfgB: { switchQueueFrames: 0, sendBufferSize: 4 << 20 } });
  assert.ok(held.done && ring.done && open.done);
  assert.equal(held.a.mismatchAt, -1);
  assert.equal(held.net.tailDropped, 0, "the switch's queue overflowed");
  assert.equal(held.b.stats.retransmits, 0);
  assert.equal(held.b.conn!.sndBuf!.max, 2 << 20);
  assert.ok(open.net.tailDropped > 0, "a 4 MiB flight overflows that queue");
  // The simulated link has no rate of its own: the flight per round trip is the rate.
  assert.ok(held.simMs < 0.8 * ring.simMs, `${held.simMs} ms against ${ring.simMs} ms with 512 KiB`);
});

/**
 * A download (our sender, the slirp's, to a guest) behind a C vde_switch's port: a queue of 93
 * frames towards the guest that drops at its tail (the simulator's queue counts every frame not yet
 * delivered, more than a switch that drains as the guest reads holds), on a short path, with
 * `loss` both ways besides. The first transmissions of the `renege` segments and of the one after
 * each are dropped on the way to the guest, and its first ACK reporting that hole claims it held
 * the second (its SACK block stretched over it): a guest that SACKed data and dropped it (RFC 2018 8).
 */
function downloadBehindC(
  seed: number,
  o: { loss?: number; sack?: boolean; renege?: number[]; bytes?: number },
): { guest: SimPeer; slirp: SimPeer; net: SimNet; peak: number; reneged: number } {
  const bytes = o.bytes ?? 2_000_000;
  const net = new SimNet(seed, { delayMs: 0.25, loss: o.loss ?? 0, queueLimit: 93 });
  // The guest offers megabytes, as Linux does.
  const guest = new SimPeer(net, new Uint8Array([10, 0, 2, 15]), 40000, {
    receiveBufferSize: 8 << 20,
    receiveWindowSegments: 0,
    sack: o.sack ?? true,
  });
  const slirp = new SimPeer(net, new Uint8Array([192, 0, 2, 1]), 80, { switchQueueFrames: 93 });
  const renege = new Set(o.renege ?? []);
  const holes: [number, number][] = [];
  let reneged = 0;
  let highest = -1;
  const toGuest = new LossyEdge(guest, (seq, len) => {
    if (len === 0) return false;
    const off = (seq - slirp.conn!.iss - 1) >>> 0;
    if (off < highest) return false; // a retransmission
    highest = off + len;
    const index = Math.floor(off / 1448);
    if (renege.has(index)) return true;
    if (!renege.has(index - 1)) return false;
    holes.push([seq, (seq + len) >>> 0]);
    return true;
  });
  const repr = newTcpRepr();
  const toSlirp: SimNode = {
    get queued() {
      return slirp.queued;
    },
    set queued(n: number) {
      slirp.queued = n;
    },
    deadline: () => slirp.deadline(),
    poll: () => slirp.poll(),
    deliver(src, dst, seg) {
      if (holes.length === 0 || parseTcp(seg, repr) !== null || repr.sackCount === 0) {
        slirp.deliver(src, dst, seg);
        return;
      }
      const [start, end] = holes[0]!;
      const blocks = repr.sackBlocks.slice(0, 2 * repr.sackCount);
      const k = blocks.findIndex((v, i) => i % 2 === 0 && v === end);
      if (((start - repr.ack) | 0) <= 0 || k < 0) {
        slirp.deliver(src, dst, seg);
        return;
      }
      holes.shift();
      reneged++;
      blocks[k] = start;
      const opts = new Uint8Array(40);
      const olen = writeTcpAckOptions(
        opts,
        0,
        repr.hasTimestamp,
        repr.tsVal,
        repr.tsEcr,
        blocks,
        repr.sackCount,
      );
      const out = new Uint8Array(20 + olen);
      writeTcpBase(
        out,
        0,
        repr.srcPort,
        repr.dstPort,
        repr.seq,
        repr.ack,
        20 + olen,
        repr.flags,
        repr.window,
      );
      out.set(opts.subarray(0, olen), 20);
      setTcpChecksum(src, dst, out);
      slirp.deliver(src, dst, out);
    },
  };
  slirp.toSend = bytes;
  guest.recvTag = slirp.sendTag;
  slirp.listen(toGuest, 1_000_000 + seed);
  guest.connect(toSlirp, slirp.addr, slirp.port, 3_000_000_000 + seed);
  let peak = 0;
  const closed = net.run(
    () => guest.conn!.state === TcpState.Closed && slirp.conn!.state === TcpState.Closed,
    () => {
      guest.step();
      slirp.step();
      if (guest.queued > peak) peak = guest.queued;
    },
    24 * 3_600_000,
  );
  const label = `seed ${seed} ${JSON.stringify(o)}`;
  assert.ok(closed, `${label}: not closed (got ${guest.received}/${bytes})`);
  assert.equal(guest.received, bytes, label);
  assert.equal(guest.mismatchAt, -1, `${label}: bytes differ`);
  return { guest, slirp, net, peak, reneged };
}

Deno.test("SACK netsim: a download behind a C switch's 93 frames, with 0-5% loss, SACK or not: intact, the queue never overflows", () => {
  for (const loss of [0, 0.01, 0.03, 0.05]) {
    for (const sack of [true, false]) {
      for (const seed of [1, 2, 3]) {
        const r = downloadBehindC(seed, { loss, sack });
        assert.equal(r.slirp.conn === null || r.slirp.conn.sackOk, sack);
        // The flight cap counts the pipe, not all that is outstanding: what is SACKed or lost has
        // left the queue, and what takes its place never makes more than 88 frames there.
        assert.equal(r.net.tailDropped, 0, `loss ${loss} sack ${sack} seed ${seed}: the queue overflowed`);
        assert.ok(r.peak <= 88, `loss ${loss} sack ${sack} seed ${seed}: ${r.peak} frames queued`);
        if (loss > 0) assert.ok(r.slirp.stats.retransmits > 0);
      }
    }
  }
});

Deno.test("SACK netsim: a download behind a C switch to a guest that drops what it SACKed (reneging): intact, the queue never overflows", () => {
  for (const seed of [1, 2, 3]) {
    for (const loss of [0, 0.01]) {
      const r = downloadBehindC(seed, { loss, renege: [200, 700] });
      assert.ok(r.reneged >= 1, `seed ${seed}: the guest did not renege`);
      // Only the second timeout in a row forgets the scoreboard and resends what was reneged.
      assert.ok(
        r.slirp.stats.rtoTimeouts >= 2 * r.reneged,
        `seed ${seed}: ${r.slirp.stats.rtoTimeouts} timeouts`,
      );
      assert.equal(r.net.tailDropped, 0, `seed ${seed}: the queue overflowed`);
      assert.ok(r.peak <= 88, `seed ${seed}: ${r.peak} frames queued`);
    }
  }
});
