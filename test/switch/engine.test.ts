import assert from "node:assert/strict";
import {
  AGING_SLOTS_PER_TICK,
  type EngineEvent,
  type EngineOptions,
  NO_VLAN,
  sharedEngineState,
  SwitchEngine,
} from "../../src/switch/engine.ts";
import { buildFrame, VDE_MAX_FRAME } from "../../src/wire/ethernet.ts";
import { prng } from "../helpers/random.ts";

const A = "02:00:00:00:00:0a";
const B = "02:00:00:00:00:0b";
const C = "02:00:00:00:00:0c";
const BROADCAST = "ff:ff:ff:ff:ff:ff";

/** An engine with ports 0..numPorts-1, the given ones active, recording what it sends. */
function rig(options: EngineOptions = {}, active = [1, 2, 3, 4]) {
  const sent: { port: number; frame: Uint8Array }[] = [];
  const events: EngineEvent[] = [];
  const engine = new SwitchEngine(
    { numPorts: 8, onEvent: (e) => events.push(e), ...options },
    (port, frame) => sent.push({ port, frame }),
  );
  for (const port of active) engine.activatePort(port);
  events.length = 0;
  /** Ports the next input goes to, in order; clears the record. */
  const send = (port: number, frame: Uint8Array): number[] => {
    sent.length = 0;
    engine.input(port, frame);
    return sent.map((s) => s.port);
  };
  return { engine, sent, events, send };
}

Deno.test("engine floods broadcast to all active ports but the source", () => {
  const { send } = rig();
  assert.deepEqual(send(2, buildFrame({ dst: BROADCAST, src: A })), [1, 3, 4]);
});

Deno.test("engine floods multicast to all active ports but the source", () => {
  const { send } = rig();
  assert.deepEqual(send(1, buildFrame({ dst: "01:00:5e:00:00:01", src: A })), [2, 3, 4]);
  assert.deepEqual(send(1, buildFrame({ dst: "33:33:00:00:00:01", src: A })), [2, 3, 4]);
  assert.deepEqual(send(1, buildFrame({ dst: "01:80:c2:00:00:00", src: A })), [2, 3, 4]);
});

Deno.test("engine floods unknown unicast to all ports but the source", () => {
  const { send, engine } = rig();
  assert.deepEqual(send(3, buildFrame({ dst: B, src: A })), [1, 2, 4]);
  assert.equal(engine.counters.flooded, 1);
});

Deno.test("engine sends the lent frame itself, unchanged", () => {
  const { engine, sent } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: A, vlan: 7, payload: 20 });
  engine.input(1, frame);
  assert.ok(sent.every((s) => s.frame === frame));
});

Deno.test("engine sends known unicast to the learned port only", () => {
  const { send, engine } = rig();
  send(2, buildFrame({ dst: BROADCAST, src: B }));
  assert.deepEqual(send(1, buildFrame({ dst: B, src: A })), [2]);
  assert.deepEqual(send(2, buildFrame({ dst: A, src: B })), [1]);
  assert.equal(engine.counters.unicast, 2);
});

Deno.test("engine never reflects a frame to its source port", () => {
  const { send, engine } = rig();
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  send(1, buildFrame({ dst: BROADCAST, src: B }));
  assert.deepEqual(send(1, buildFrame({ dst: B, src: A })), [], "destination learned on the source port");
  assert.equal(engine.counters.filtered, 1);
});

Deno.test("engine learns the source MAC with the port's untagged VLAN", () => {
  const { send, engine, events } = rig();
  send(3, buildFrame({ dst: BROADCAST, src: A }));
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), 3);
  assert.deepEqual(events.map((e) => e.type), ["mac-learned"]);
  assert.deepEqual(events[0], {
    type: "mac-learned",
    mac: A,
    vlan: 0,
    port: 3,
    message: `MAC ${A} VLAN 0 learned on port 3`,
  });
});

Deno.test("engine drops a frame tagged for a VLAN its port is not in, and counts it", () => {
  const { send, engine } = rig();
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A, vlan: 10 })), [], "VLAN 10 does not exist");
  engine.createVlan(10);
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A, vlan: 10 })), [], "port 1 is not in VLAN 10");
  assert.equal(engine.counters.vlanDropped, 2);
  assert.equal(engine.portStats(1).dropsIn, 2);
  assert.equal(engine.macTable.size, 0, "nothing learned from a dropped frame");
});

/** VLAN 10: port 1 and 3 tagged, port 2 untagged; VLAN 0: ports 1, 3, 4 untagged. */
function vlanRig() {
  const r = rig();
  assert.equal(r.engine.createVlan(10), "ok");
  assert.equal(r.engine.addVlanPort(10, 1), "ok");
  assert.equal(r.engine.addVlanPort(10, 3), "ok");
  assert.equal(r.engine.setPortVlan(2, 10), "ok");
  return r;
}

Deno.test("engine floods a tagged frame tagged to the VLAN's tagged members and untagged to its untagged ones", () => {
  const { send, sent, engine } = vlanRig();
  const tagged = buildFrame({ dst: BROADCAST, src: A, vlan: 10, payload: 50 });
  assert.deepEqual(send(1, tagged), [2, 3]);
  assert.deepEqual(
    sent[0]!.frame,
    buildFrame({ dst: BROADCAST, src: A, payload: 50 }),
    "port 2: tag removed",
  );
  assert.equal(sent[1]!.frame, tagged, "port 3: the frame as it came");
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 10), 1, "learned under the VID");
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), -1);
});

Deno.test("engine tags an untagged frame with its port's VLAN towards tagged members", () => {
  const { send, sent, engine } = vlanRig();
  const plain = buildFrame({ dst: BROADCAST, src: B, payload: 50 });
  assert.deepEqual(send(2, plain), [1, 3]);
  const expected = buildFrame({ dst: BROADCAST, src: B, vlan: 10, payload: 50 });
  assert.deepEqual(sent[0]!.frame, expected);
  assert.deepEqual(sent[1]!.frame, expected);
  assert.equal(engine.macTable.lookup(0x0200, 0x0b, 10), 2, "learned under the port's untagged VLAN");
  assert.equal(engine.portStats(1).bytesOut, plain.length + 4, "counted as sent, tag included");
});

Deno.test("engine sends a known unicast in the form its destination port takes", () => {
  const { send, sent } = vlanRig();
  send(1, buildFrame({ dst: BROADCAST, src: A, vlan: 10 }));
  send(2, buildFrame({ dst: BROADCAST, src: B }));
  const toA = buildFrame({ dst: A, src: C, vlan: 10 });
  assert.deepEqual(send(3, toA), [1]);
  assert.equal(sent[0]!.frame, toA, "tagged to tagged: unchanged");
  assert.deepEqual(send(3, buildFrame({ dst: B, src: C, vlan: 10 })), [2]);
  assert.deepEqual(sent[0]!.frame, buildFrame({ dst: B, src: C }), "tagged to untagged: tag removed");
  assert.deepEqual(send(2, buildFrame({ dst: A, src: B })), [1]);
  assert.deepEqual(sent[0]!.frame, buildFrame({ dst: A, src: B, vlan: 10 }), "untagged to tagged: tag added");
  assert.deepEqual(
    send(4, buildFrame({ dst: A, src: C })),
    [1, 3],
    "A is unknown in VLAN 0: floods VLAN 0 only",
  );
});

Deno.test("engine keeps VLANs apart: a VLAN 0 broadcast never reaches a port untagged in another VLAN", () => {
  const { send } = vlanRig();
  assert.deepEqual(send(4, buildFrame({ dst: BROADCAST, src: C })), [1, 3]);
  assert.deepEqual(
    send(1, buildFrame({ dst: BROADCAST, src: A, vlan: 0 })),
    [3, 4],
    "priority-tagged: VLAN 0",
  );
});

Deno.test("a port with no untagged VLAN takes only tagged frames", () => {
  const { send, engine } = vlanRig();
  assert.equal(engine.setPortVlan(3, NO_VLAN), "ok");
  assert.deepEqual(send(3, buildFrame({ dst: BROADCAST, src: C })), []);
  assert.equal(engine.counters.vlanDropped, 1);
  assert.deepEqual(send(4, buildFrame({ dst: BROADCAST, src: C })), [1], "and is no longer in VLAN 0");
});

Deno.test("leaving a VLAN forgets the MACs learned on the port; its untagged VLAN cannot be left", () => {
  const { send, engine } = vlanRig();
  send(1, buildFrame({ dst: BROADCAST, src: A, vlan: 10 }));
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  assert.equal(engine.macTable.size, 2);
  assert.equal(engine.delVlanPort(0, 1), "in-use");
  assert.equal(engine.delVlanPort(10, 1), "ok");
  assert.equal(engine.macTable.size, 0);
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A, vlan: 10 })), [], "no longer a member");
  assert.deepEqual(send(2, buildFrame({ dst: BROADCAST, src: B })), [3]);
});

Deno.test("resetPortVlans puts a freed port back untagged in VLAN 0 and in no other VLAN", () => {
  const { send, engine } = vlanRig();
  engine.resetPortVlans(2);
  engine.resetPortVlans(1);
  assert.equal(engine.portVlan(2), 0);
  assert.deepEqual(engine.vlanMembers(10), [{ port: 3, tagged: true }]);
  assert.deepEqual(send(4, buildFrame({ dst: BROADCAST, src: C })), [1, 2, 3]);
});

Deno.test("an output callback that switches a frame of its own does not disturb the frame being flooded", () => {
  const seen: { port: number; frame: Uint8Array }[] = [];
  let nested = false;
  const engine: SwitchEngine = new SwitchEngine({ numPorts: 8 }, (port, frame) => {
    seen.push({ port, frame: frame.slice() });
    if (port === 3 && !nested) {
      nested = true;
      engine.input(4, buildFrame({ dst: BROADCAST, src: C, payload: 70 }));
    }
  });
  for (const p of [1, 2, 3, 4]) engine.activatePort(p);
  engine.createVlan(10);
  engine.addVlanPort(10, 3);
  engine.setPortVlan(2, 10);
  engine.addVlanPort(10, 1);
  engine.setPortVlan(4, 10);
  engine.input(2, buildFrame({ dst: BROADCAST, src: B, payload: 30 }));
  const outer = buildFrame({ dst: BROADCAST, src: B, vlan: 10, payload: 30 });
  const fromOuter = seen.filter((s) => s.frame.length === outer.length);
  assert.deepEqual(fromOuter.map((s) => s.port), [1, 3]);
  for (const s of fromOuter) assert.deepEqual(s.frame, outer);
});

Deno.test("engine does not learn a multicast source MAC", () => {
  const { send, engine } = rig();
  send(1, buildFrame({ dst: BROADCAST, src: "03:00:00:00:00:01" }));
  assert.equal(engine.macTable.size, 0);
});

Deno.test("engine ages MAC entries out after 100 s at a GC tick, not at 99 s", () => {
  const { send, engine, events } = rig();
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  for (let s = 2; s < 99; s += 2) engine.tick(s * 1000);
  engine.tick(99_000);
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), 1, "still there at 99 s");
  assert.equal(engine.tick(100_000), 0, "an entry exactly 100 s old is not expired");
  assert.equal(engine.macTable.size, 1);
  assert.equal(engine.tick(102_000), 1);
  assert.equal(engine.macTable.size, 0);
  assert.deepEqual(send(2, buildFrame({ dst: A, src: B })), [1, 3, 4], "A is unknown again");
  const removed = events.find((e) => e.type === "mac-removed");
  assert.deepEqual(removed, {
    type: "mac-removed",
    reason: "expired",
    mac: A,
    vlan: 0,
    port: 1,
    message: `MAC ${A} VLAN 0 on port 1 expired`,
  });
});

Deno.test("engine ages only once a GC interval has passed since the last aging", () => {
  const { send, engine } = rig({ gcIntervalSeconds: 10 });
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  engine.tick(100_000); // ages here (entry 100 s old, stays)
  engine.tick(105_000);
  assert.equal(engine.macTable.size, 1, "105 s: expired but no GC yet");
  engine.tick(110_000);
  assert.equal(engine.macTable.size, 0);
});

/** MAC text of host number `n` (02:00:00:xx:xx:xx). */
function hostMac(n: number): string {
  return `02:00:00:${[16, 8, 0].map((s) => ((n >> s) & 0xff).toString(16).padStart(2, "0")).join(":")}`;
}

Deno.test("engine ages a 65,536-entry table in slices a tick each, saying so until the pass is over", () => {
  // The switch thread's table: shared storage at full size, 131,072 slots.
  const { engine } = rig({ shared: { state: sharedEngineState(65536), writer: true } });
  for (let i = 0; i < 65536; i++) engine.macTable.learn(0x0200, i, 0, 1 + (i % 4), 0);
  assert.equal(engine.tick(1_000), 0, "the first tick starts a pass; nothing is due");
  assert.equal(engine.aging, true);
  let ticks = 1;
  for (let ms = 1_001; engine.aging; ms++, ticks++) engine.tick(ms);
  assert.equal(ticks, 131072 / AGING_SLOTS_PER_TICK);
  assert.equal(engine.tick(2_000), 0, "no new pass before a GC interval since the last began");
  assert.equal(engine.aging, false);
  // Everything due: each slice removes some, charged against its slots, until all are gone.
  let removed = engine.tick(101_000);
  ticks = 1;
  for (let ms = 101_001; engine.aging; ms++, ticks++) removed += engine.tick(ms);
  assert.equal(removed, 65536);
  assert.equal(engine.macTable.size, 0);
  assert.ok(ticks > 8 && ticks < 200, `${ticks} ticks`);
  assert.equal(engine.aging, false);
});

Deno.test("engine ages each entry out after its lifetime, within a GC interval, a tick and a pass", () => {
  const random = prng(11);
  const { engine, send, events } = rig({ shared: { state: sharedEngineState(65536), writer: true } });
  // Aging driven as the switch thread drives it: a tick a second, a millisecond apart during a pass.
  const seen = new Map<string, number>();
  const removedAt = new Map<string, number>();
  let host = 0;
  for (let ms = 0; ms < 400_000; ms += engine.aging ? 1 : 1000) {
    events.length = 0;
    engine.tick(ms);
    for (const e of events) if (e.type === "mac-removed") removedAt.set(e.mac, engine.now);
    if (ms > 250_000) continue;
    // New hosts, and some known ones heard again (a refresh), between ticks.
    for (let k = Math.floor(random() * 40); k > 0; k--) {
      const n = random() < 0.8 || host === 0 ? host++ : Math.floor(random() * host);
      const mac = hostMac(n);
      send(1 + (n % 4), buildFrame({ dst: BROADCAST, src: mac }));
      seen.set(mac, engine.now);
    }
  }
  assert.ok(seen.size > 5000, `${seen.size} hosts`);
  assert.equal(engine.macTable.size, 0);
  for (const [mac, t] of seen) {
    const gone = removedAt.get(mac);
    assert.ok(gone !== undefined, `${mac} never aged out`);
    assert.ok(gone > t + 100, `${mac} last seen at ${t} s, gone at ${gone} s: before its time`);
    // GC interval (2 s) + a 1 s tick + a pass of 8 ticks a millisecond apart (0.1 s is plenty).
    assert.ok(gone <= t + 100 + 2 + 1 + 0.1, `${mac} last seen at ${t} s, gone only at ${gone} s`);
  }
});

Deno.test("engine time only moves forwards", () => {
  const { engine } = rig();
  engine.tick(5_500);
  assert.equal(engine.now, 5.5);
  engine.tick(3_000);
  engine.tick(NaN);
  engine.tick(-1);
  assert.equal(engine.now, 5.5);
});

Deno.test("engine refreshing an entry keeps it alive past the original lifetime", () => {
  const { send, engine } = rig();
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  engine.tick(60_000);
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  engine.tick(150_000);
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), 1);
});

Deno.test("engine moves a MAC to a new port after min persistence and logs the move", () => {
  const { send, engine, events } = rig();
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  engine.tick(3_001);
  send(2, buildFrame({ dst: BROADCAST, src: A }));
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), 2);
  const moved = events.filter((e) => e.type === "mac-moved");
  assert.equal(moved.length, 1);
  assert.equal(moved[0]!.message, `MAC ${A} moved from port 1 to port 2`);
  assert.deepEqual(send(3, buildFrame({ dst: A, src: B })), [2]);
});

Deno.test("engine keeps a MAC on its port when it reappears elsewhere within min persistence", () => {
  const { send, engine, events } = rig();
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  engine.tick(2_000);
  send(2, buildFrame({ dst: BROADCAST, src: A }));
  engine.tick(3_000);
  send(2, buildFrame({ dst: BROADCAST, src: A }));
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), 1);
  assert.equal(events.filter((e) => e.type === "mac-moved").length, 0);
  assert.deepEqual(send(3, buildFrame({ dst: A, src: B })), [1]);
});

Deno.test("engine honours a changed min persistence", () => {
  const { send, engine } = rig({ minPersistenceSeconds: 0 });
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  engine.tick(1);
  send(2, buildFrame({ dst: BROADCAST, src: A }));
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), 2);
  engine.minPersistenceSeconds = 60;
  engine.tick(30_000);
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), 2);
});

Deno.test("engine in hub mode floods everything except port 0 and the source, without learning", () => {
  const { send, engine } = rig({ hub: true }, [0, 1, 2, 3]);
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A })), [2, 3]);
  assert.deepEqual(send(2, buildFrame({ dst: A, src: B })), [1, 3]);
  assert.deepEqual(send(0, buildFrame({ dst: A, src: C })), [1, 2, 3]);
  assert.equal(engine.macTable.size, 0);
});

Deno.test("engine in switch mode treats port 0 like any other port", () => {
  const { send } = rig({}, [0, 1, 2]);
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A })), [0, 2]);
  assert.deepEqual(send(0, buildFrame({ dst: A, src: B })), [1]);
});

Deno.test("engine switches between hub and switch mode", () => {
  const { send, engine } = rig({}, [0, 1, 2]);
  engine.hub = true;
  assert.equal(engine.hub, true);
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A })), [2]);
  engine.hub = false;
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A })), [0, 2]);
});

Deno.test("engine counts frames and bytes in and out per port", () => {
  const { send, engine } = rig();
  send(1, buildFrame({ dst: BROADCAST, src: A, payload: 86 })); // 100 bytes, to 2, 3, 4
  send(2, buildFrame({ dst: A, src: B, payload: 36 })); // 50 bytes, to 1
  assert.deepEqual(engine.portStats(1), {
    framesIn: 1,
    bytesIn: 100,
    framesOut: 1,
    bytesOut: 50,
    dropsIn: 0,
    dropsOut: 0,
  });
  assert.deepEqual(engine.portStats(2), {
    framesIn: 1,
    bytesIn: 50,
    framesOut: 1,
    bytesOut: 100,
    dropsIn: 0,
    dropsOut: 0,
  });
  assert.equal(engine.portStats(3).framesOut, 1);
  engine.countDropOut(3);
  engine.countDropOut(99); // ignored
  assert.equal(engine.portStats(3).dropsOut, 1);
  engine.resetCounters(2);
  assert.deepEqual(engine.portStats(2), {
    framesIn: 0,
    bytesIn: 0,
    framesOut: 0,
    bytesOut: 0,
    dropsIn: 0,
    dropsOut: 0,
  });
  assert.deepEqual(engine.counters, {
    short: 0,
    oversize: 0,
    badPort: 0,
    flooded: 1,
    unicast: 1,
    filtered: 0,
    vlanDropped: 0,
    mirrorDropped: 0,
    snoopDropped: 0,
    stpDropped: 0,
  });
});

Deno.test("engine drops and counts a 13-byte frame", () => {
  const { send, engine } = rig();
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A }).subarray(0, 13)), []);
  assert.deepEqual(send(1, new Uint8Array(0)), []);
  assert.equal(engine.counters.short, 2);
  assert.equal(engine.portStats(1).dropsIn, 2);
  assert.equal(engine.portStats(1).framesIn, 0);
  assert.equal(engine.macTable.size, 0);
});

Deno.test("engine forwards a 14-byte frame", () => {
  const { send } = rig();
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A })), [2, 3, 4]);
});

Deno.test("engine drops a frame tagged 802.1Q but too short to hold the tag", () => {
  const { send, engine } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: A, vlan: 3 }).subarray(0, 16);
  assert.deepEqual(send(1, frame), []);
  assert.equal(engine.counters.short, 1);
  assert.equal(engine.portStats(1).dropsIn, 1);
});

Deno.test("engine drops and counts a 9235-byte frame while a 9234-byte frame passes", () => {
  const { send, engine } = rig();
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A, payload: VDE_MAX_FRAME + 1 - 14 })), []);
  assert.equal(engine.counters.oversize, 1);
  assert.equal(engine.portStats(1).dropsIn, 1);
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A, payload: VDE_MAX_FRAME - 14 })), [2, 3, 4]);
  assert.equal(engine.portStats(2).bytesOut, VDE_MAX_FRAME);
});

Deno.test("engine applies a smaller maxFrame", () => {
  const { send, engine } = rig({ maxFrame: 1518 });
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A, payload: 1505 })), []);
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A, payload: 1504 })), [2, 3, 4]);
  assert.equal(engine.counters.oversize, 1);
});

Deno.test("engine drops and counts input from an inactive or out-of-range port", () => {
  const { send, engine } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: A });
  assert.deepEqual(send(5, frame), []);
  assert.deepEqual(send(8, frame), []);
  assert.deepEqual(send(-1, frame), []);
  assert.deepEqual(send(1.5, frame), []);
  assert.deepEqual(send(NaN, frame), []);
  assert.equal(engine.counters.badPort, 5);
  assert.equal(engine.portStats(5).dropsIn, 1);
  assert.equal(engine.macTable.size, 0);
});

Deno.test("engine flushes a deactivated port's MACs and stops sending to it", () => {
  const { send, engine, events } = rig();
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  send(1, buildFrame({ dst: BROADCAST, src: C }));
  send(2, buildFrame({ dst: BROADCAST, src: B }));
  events.length = 0;
  assert.equal(engine.deactivatePort(1), 2);
  assert.equal(engine.isActive(1), false);
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), -1);
  assert.equal(engine.macTable.lookup(0x0200, 0x0b, 0), 2);
  assert.deepEqual(send(2, buildFrame({ dst: A, src: B })), [3, 4]);
  assert.deepEqual(events.map((e) => e.type), ["mac-removed", "mac-removed", "port-deactivated"]);
  assert.equal(engine.deactivatePort(1), 0, "deactivating twice is harmless");
});

Deno.test("engine keeps a port's VLAN and counters while it is inactive", () => {
  const { send, engine } = rig();
  engine.createVlan(7);
  engine.setPortVlan(1, 7);
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  engine.deactivatePort(1);
  engine.activatePort(1);
  assert.equal(engine.portVlan(1), 7);
  assert.equal(engine.portStats(1).framesIn, 1);
});

Deno.test("engine flushes a port's MACs when its untagged VLAN changes", () => {
  const { send, engine } = rig();
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  engine.setPortVlan(1, 0);
  assert.equal(engine.macTable.size, 1, "same VLAN: nothing changes");
  assert.equal(engine.setPortVlan(1, 3), "missing", "VLAN 3 does not exist yet");
  assert.equal(engine.macTable.size, 1);
  engine.createVlan(3);
  assert.equal(engine.setPortVlan(1, 3), "ok");
  assert.equal(engine.macTable.size, 0);
  assert.equal(engine.setPortVlan(1, 4096), "invalid");
  assert.equal(engine.setPortVlan(8, 1), "invalid");
});

Deno.test("engine reports port activation and refuses ports out of range", () => {
  const { engine, events } = rig({}, []);
  engine.activatePort(3);
  engine.activatePort(3);
  assert.deepEqual(events, [{ type: "port-activated", port: 3, message: "Port 3 activated" }]);
  assert.deepEqual(engine.activePorts(), [3]);
  assert.throws(() => engine.activatePort(8), RangeError);
  assert.throws(() => engine.activatePort(-1), RangeError);
  assert.equal(engine.isActive(8), false);
});

Deno.test("engine stops learning new MACs when the table is full but keeps forwarding", () => {
  const { send, engine } = rig({ maxMacs: 2 });
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  send(2, buildFrame({ dst: BROADCAST, src: B }));
  send(3, buildFrame({ dst: BROADCAST, src: C }));
  assert.equal(engine.macTable.size, 2);
  assert.equal(engine.macTable.lookup(0x0200, 0x0c, 0), -1);
  assert.deepEqual(send(1, buildFrame({ dst: C, src: A })), [2, 3, 4], "C floods");
  assert.deepEqual(send(3, buildFrame({ dst: B, src: C })), [2], "known MACs still switch");
});

Deno.test("engine survives a flood of random source MACs with a bounded table", () => {
  const { engine } = rig({ maxMacs: 1000 }, [1, 2]);
  const frame = buildFrame({ dst: BROADCAST, src: A });
  for (let i = 0; i < 50_000; i++) {
    frame[8] = i >>> 16;
    frame[9] = i >>> 8;
    frame[10] = i;
    engine.input(1, frame);
  }
  assert.equal(engine.macTable.size, 1000);
  assert.equal(engine.portStats(2).framesOut, 50_000);
});

Deno.test("engine grows its port count and refuses to shrink below an active port", () => {
  const { engine, send } = rig({}, [1, 6]);
  engine.createVlan(9);
  engine.setPortVlan(6, 9);
  engine.addVlanPort(9, 1);
  engine.setNumPorts(16);
  assert.equal(engine.numPorts, 16);
  engine.activatePort(15);
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A })), [15], "a new port is untagged in VLAN 0");
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A, vlan: 9 })), [6]);
  assert.throws(() => engine.setNumPorts(10), {
    message: "Cannot reduce the switch to 10 ports: port 15 is active",
  });
  assert.equal(engine.numPorts, 16, "a refused change changes nothing");
  engine.deactivatePort(15);
  engine.setNumPorts(7);
  assert.equal(engine.numPorts, 7);
  assert.equal(engine.portVlan(6), 9);
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A, vlan: 9 })), [6]);
  assert.throws(() => engine.portStats(7), RangeError);
  assert.throws(() => engine.setNumPorts(0), RangeError);
  assert.throws(() => engine.setNumPorts(2.5), RangeError);
});

Deno.test("engine defaults to 32 ports with vde_switch's timers", () => {
  const engine = new SwitchEngine({}, () => {});
  assert.equal(engine.numPorts, 32);
  assert.equal(engine.hub, false);
  assert.equal(engine.expireSeconds, 100);
  assert.equal(engine.gcIntervalSeconds, 2);
  assert.equal(engine.minPersistenceSeconds, 3);
  assert.equal(engine.maxFrame, VDE_MAX_FRAME);
  assert.equal(engine.macTable.maxEntries, 65536);
  assert.throws(() => new SwitchEngine({ numPorts: 0 }, () => {}), RangeError);
  assert.throws(() => new SwitchEngine({ expireSeconds: -1 }, () => {}), RangeError);
});

Deno.test("engine keeps flooding when one port's output throws, and counts the drop", () => {
  const sent: number[] = [];
  const events: EngineEvent[] = [];
  const engine = new SwitchEngine({ numPorts: 4, onEvent: (e) => events.push(e) }, (port) => {
    if (port === 2) throw new Error("boom");
    sent.push(port);
  });
  for (const port of [1, 2, 3]) engine.activatePort(port);
  engine.input(1, buildFrame({ dst: BROADCAST, src: A }));
  assert.deepEqual(sent, [3]);
  assert.equal(engine.portStats(2).dropsOut, 1);
  assert.ok(events.some((e) => e.type === "output-error" && e.port === 2));
});

Deno.test("engine copes with an output that deactivates a port during a flood", () => {
  const sent: number[] = [];
  const engine: SwitchEngine = new SwitchEngine({ numPorts: 4 }, (port) => {
    sent.push(port);
    if (port === 1) engine.deactivatePort(3);
  });
  for (const port of [0, 1, 2, 3]) engine.activatePort(port);
  engine.input(2, buildFrame({ dst: BROADCAST, src: A }));
  assert.deepEqual(sent, [0, 1]);
});

Deno.test("engine switches a million frames without trouble", () => {
  let copies = 0;
  const engine = new SwitchEngine({ numPorts: 8 }, () => copies++);
  for (const port of [1, 2, 3, 4]) engine.activatePort(port);
  const ab = buildFrame({ dst: B, src: A, payload: 50 });
  const ba = buildFrame({ dst: A, src: B, payload: 50 });
  const bc = buildFrame({ dst: BROADCAST, src: C, payload: 50 });
  for (let i = 0; i < 1_000_000; i++) {
    const kind = i % 8;
    if (kind === 0) engine.input(3, bc);
    else if (kind & 1) engine.input(1, ab);
    else engine.input(2, ba);
  }
  const inTotal = [1, 2, 3].reduce((sum, p) => sum + engine.portStats(p).framesIn, 0);
  assert.equal(inTotal, 1_000_000);
  assert.equal(engine.counters.flooded, 125_001, "every broadcast plus A's first frame to unknown B");
  assert.equal(copies, 125_001 * 3 + (1_000_000 - 125_001));
});
