/**
 * The handover of a datagram socket between its owner and the owner's
 * receive thread (src/dataplane/read_handover.ts), as pure logic: the
 * word's transitions, a seeded simulation of both threads interleaved step
 * by step (one reader at a time, frames in order), and the governor on a
 * virtual clock.
 */
import assert from "node:assert/strict";
import { HandoverGovernor, ReadHandover } from "../../src/dataplane/read_handover.ts";

Deno.test("the handover word moves direct -> relayed -> returning -> direct, each step by its own side only, once the receive thread runs", () => {
  const owner = ReadHandover.create();
  const rx = ReadHandover.attach(owner.sab);
  assert.equal(owner.mode, "direct");
  assert.equal(rx.rxReads, false, "the receive thread starts in standby");
  assert.equal(owner.engage(), false, "not to a receive thread that does not run yet");
  assert.equal(owner.mode, "direct");
  rx.rxStarted();
  assert.equal(owner.canEngage, true);
  assert.equal(owner.release(), false, "nothing to release while the owner reads");
  assert.equal(rx.rxReturn(), false, "nothing to return");
  assert.equal(owner.engage(), true);
  assert.equal(owner.mode, "relayed");
  assert.equal(rx.rxReads, true);
  assert.equal(owner.engage(), false, "engaged once");
  assert.equal(owner.reclaim(() => true), false, "not asked back");
  assert.equal(owner.release(), true);
  assert.equal(owner.mode, "returning");
  assert.equal(rx.rxReads, false, "the receive thread stops at its next look");
  assert.equal(owner.reclaim(() => true), false, "the receive thread has not let go yet");
  assert.equal(owner.engage(), false, "no engaging while a return is under way");
  assert.equal(rx.rxReturn(), true);
  assert.equal(rx.rxReturn(), false, "returned once");
  assert.equal(owner.reclaim(() => false), false, "frames it read still wait in the ring");
  assert.equal(owner.mode, "returning");
  assert.equal(owner.reclaim(() => true), true);
  assert.equal(owner.mode, "direct");
  assert.equal(owner.engage(), true, "and again");
});

/** A small seeded generator (mulberry32), so a failing interleaving can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("owner and receive thread interleaved at random never read the socket together and deliver every frame in order", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rand = random(seed);
    const owner = ReadHandover.create();
    const rx = ReadHandover.attach(owner.sab);
    rx.rxStarted();
    const socket: number[] = [];
    const ring: number[] = [];
    const delivered: number[] = [];
    let next = 0;
    /** What each side does as the protocol lets it: the owner's epoll interest and the receive thread's. */
    let ownerWatches = true;
    let rxWatches = false;
    let handovers = 0;
    for (let step = 0; step < 3000; step++) {
      const r = rand();
      if (r < 0.3) {
        for (let i = Math.floor(rand() * 4); i >= 0; i--) socket.push(next++);
      } else if (r < 0.5) {
        // The owner reads (only when its view says so, and only while it watches the socket).
        if (owner.mode === "direct" && ownerWatches) {
          delivered.push(...socket.splice(0, 1 + Math.floor(rand() * 3)));
        } else assert.equal(ownerWatches, false, `seed ${seed}: the owner watches a socket it does not read`);
        // Its governor's decision, at random: a stream (engage) or a quiet spell (release).
        if (owner.mode === "direct" && rand() < 0.1) {
          ownerWatches = false;
          owner.engage();
          handovers++;
        } else if (owner.mode === "relayed" && rand() < 0.1) owner.release();
      } else if (r < 0.7) {
        // The receive thread reads what it may, publishes, then follows the word.
        if (rxWatches && rx.rxReads) ring.push(...socket.splice(0, 1 + Math.floor(rand() * 3)));
        if (rx.rxReads) rxWatches = true;
        else {
          rxWatches = false;
          rx.rxReturn();
        }
      } else {
        // The owner delivers from the ring, then reclaims if it may.
        delivered.push(...ring.splice(0, ring.length));
        if (owner.reclaim(() => ring.length === 0)) ownerWatches = true;
      }
      assert.ok(!(ownerWatches && rxWatches), `seed ${seed}, step ${step}: two readers`);
    }
    // Drain what is left through whoever reads.
    delivered.push(...ring.splice(0), ...socket.splice(0));
    assert.deepEqual(delivered, [...Array(next).keys()], `seed ${seed}: frames out of order or lost`);
    assert.ok(handovers > 5, `seed ${seed}: only ${handovers} handovers`);
  }
});

function governorRig(lossy = true) {
  const clock = { now: 1000 };
  const governor = new HandoverGovernor(() => clock.now);
  if (lossy) governor.lossSeen();
  return { clock, governor };
}

Deno.test("after a loss the governor engages the receive thread on 80 frames or 6 KiB in one read or 100 Mbit/s over 10 ms, not for a download's acknowledgements", () => {
  const { clock, governor } = governorRig();
  // A download's acknowledgements: 66-byte frames, 40 a ms (about 1 Gbit/s of data the other way).
  for (let i = 0; i < 400; i++) {
    clock.now += 0.025;
    assert.equal(governor.direct(66, 1), false, `ack ${i}`);
  }
  // A download's acknowledgements found waiting by a late owner stay unrelayed up to 79 frames.
  assert.equal(governor.direct(64 * 78, 64), false, "64 acknowledgements with SACK blocks waiting");
  assert.equal(governor.direct(79 * 66, 79), false, "79 acknowledgements waiting");
  assert.equal(governor.direct(80 * 66, 80), true, "80: several flows, and the owner is late");
  const g1 = governorRig();
  assert.equal(g1.governor.direct(4 * 1514, 4), false, "4 full-size frames in one read");
  assert.equal(g1.governor.direct(5 * 1514, 5), true, "5: a stream's backlog");
  const g2 = governorRig();
  let engaged = false;
  // Full-size frames at about 200 Mbit/s.
  for (let i = 0; i < 200 && !engaged; i++) {
    g2.clock.now += 0.06;
    engaged = g2.governor.direct(1514, 1);
  }
  assert.ok(engaged, "a stream");
  assert.ok(g2.clock.now - 1000 <= 10.1, `engaged within one window, after ${g2.clock.now - 1000} ms`);
});

Deno.test("the governor gives the socket back 250 ms after the last window of a stream", () => {
  const { clock, governor } = governorRig();
  assert.equal(governor.direct(86 * 1514, 86), true, "a window's worth at once");
  // The stream goes on through the ring for 50 ms.
  for (let i = 0; i < 50; i++) {
    clock.now += 1;
    assert.equal(governor.relayed(15_000), false);
  }
  // Then only acknowledgements: kept for the hold, then given back.
  let back = -1;
  for (let i = 0; i < 600 && back < 0; i++) {
    clock.now += 1;
    if (governor.relayed(200)) back = i;
  }
  assert.ok(back >= 245 && back <= 265, `given back after ${back} ms of quiet`);
});

Deno.test("the governor gives the socket back on the first batch after the hold, whatever the stream's last window left", () => {
  const { clock, governor } = governorRig();
  assert.equal(governor.direct(86 * 1514, 86), true, "a stream");
  // Its tail: 60 KB more within one window, short of a window's early worth.
  assert.equal(governor.relayed(60_000), false);
  // A pause past the hold, then a few frames: 60 KB over 300 ms is no stream.
  clock.now += 300;
  assert.equal(governor.relayed(8_000), true, "given back");
});

Deno.test("the governor leaves every stream to the owner until a loss on the way in, then relays it", () => {
  const { clock, governor } = governorRig(false);
  // 9 KB frames at about 3 Gbit/s, full-size ones at about 1.5 Gbit/s, one or ten at a time, and a late
  // owner's full batch.
  for (let i = 0; i < 2000; i++) {
    clock.now += 0.025;
    const frames = i % 10 === 0 ? 10 : 1;
    assert.equal(governor.direct(frames * 9230, frames), false, `jumbo read ${i}`);
    assert.equal(governor.direct(frames * 1514, frames), false, `full-size read ${i}`);
  }
  assert.equal(governor.direct(64 * 1514, 64), false, "a full batch of full-size frames");
  governor.lossSeen();
  assert.equal(governor.direct(5 * 1514, 5), true, "after a loss: 5 full-size frames are a backlog");
  const g = governorRig();
  assert.equal(g.governor.direct(9230, 1), true, "after a loss: a jumbo frame is a backlog, as before");
});
