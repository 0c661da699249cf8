/**
 * The engine with spanning tree on: two engines joined by two cables (a
 * loop) and a host on each, on a virtual clock. Frames between engines are
 * queued and delivered in order, so a loop shows as a queue that never
 * empties.
 */
import assert from "node:assert/strict";
import { SwitchEngine } from "../../src/switch/engine.ts";
import { Role } from "../../src/switch/rstp.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { type Bpdu, buildBpdu, isBpduDestination } from "../../src/wire/stp.ts";

/** An RST BPDU as vde_switch's FSTP sends it on a VLAN's tagged ports (its timers aside). */
const FSTP_HELLO: Bpdu = {
  kind: "rst",
  version: 2,
  flags: 0x7c,
  rootId: "1000.020000000009",
  rootPathCost: 0,
  bridgeId: "1000.020000000009",
  portId: 0x8001,
  messageAge: 0,
  maxAge: 40 * 256,
  helloTime: 4 * 256,
  forwardDelay: 15 * 256,
};

const HOST_A = "02:00:00:00:00:0a";
const HOST_B = "02:00:00:00:00:0b";

/** Engines x and y; cables on ports 1 and 2 of both; hosts on port 3. */
function loopRig(stp = true) {
  const queue: { to: SwitchEngine; port: number; frame: Uint8Array }[] = [];
  const cables = new Map<number, boolean>([[1, true], [2, true]]);
  const hostFrames: Record<"x" | "y", Uint8Array[]> = { x: [], y: [] };
  const engines: Record<"x" | "y", SwitchEngine> = {} as Record<"x" | "y", SwitchEngine>;
  for (const name of ["x", "y"] as const) {
    engines[name] = new SwitchEngine({ numPorts: 8 }, (port, frame) => {
      if (port === 3) hostFrames[name].push(frame.slice());
      else if (cables.get(port)) {
        queue.push({ to: engines[name === "x" ? "y" : "x"], port, frame: frame.slice() });
      }
    });
  }
  let now = 0;
  for (const [i, name] of (["x", "y"] as const).entries()) {
    const engine = engines[name];
    engine.tick(1);
    if (stp) engine.enableStp({ mac: new Uint8Array([2, 0, 0, 0, 1, i + 1]) });
    for (const port of [1, 2, 3]) engine.activatePort(port);
  }
  const deliver = (limit = 10000) => {
    let n = 0;
    while (queue.length > 0 && n < limit) {
      const { to, port, frame } = queue.shift()!;
      to.input(port, frame);
      n++;
    }
    return n;
  };
  const run = (seconds: number) => {
    for (let s = 0; s < seconds; s++) {
      now += 1000;
      engines.x.tick(now);
      engines.y.tick(now);
      deliver();
    }
  };
  const cut = (port: number) => {
    cables.set(port, false);
    engines.x.deactivatePort(port);
    engines.y.deactivatePort(port);
    deliver();
  };
  return { engines, hostFrames, deliver, run, cut, queue };
}

function broadcastFrom(rig: ReturnType<typeof loopRig>, src: string) {
  rig.hostFrames.x.length = rig.hostFrames.y.length = 0;
  rig.engines.x.input(3, buildFrame({ src, dst: "ff:ff:ff:ff:ff:ff", payload: new Uint8Array(46) }));
  return rig.deliver();
}

/** A copy of `frame` tagged for VLAN `vid` (0: priority-tagged, priority 5). */
function tagged(frame: Uint8Array, vid = 7): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12));
  out.set([0x81, 0x00, vid === 0 ? 0xa0 : vid >> 8, vid & 0xff], 12);
  out.set(frame.subarray(12), 16);
  return out;
}

function dataFrames(frames: Uint8Array[]): Uint8Array[] {
  return frames.filter((f) => !isBpduDestination(f));
}

Deno.test("spanning tree: a broadcast crosses a two-cable loop once, one cable port discards", () => {
  const rig = loopRig();
  rig.run(10);
  const ports = [rig.engines.x, rig.engines.y].flatMap((e) => e.stp!.ports().filter((p) => p.port !== 3));
  const blocked = ports.filter((p) => !p.forwarding);
  assert.equal(blocked.length, 1, JSON.stringify(ports));
  assert.ok(blocked[0]!.role === Role.Alternate || blocked[0]!.role === Role.Backup);
  assert.ok(broadcastFrom(rig, HOST_A) < 10, "the broadcast does not circulate");
  assert.equal(dataFrames(rig.hostFrames.y).length, 1);
  assert.equal(dataFrames(rig.hostFrames.x).length, 0);
  // No BPDU ever reaches a host as anything but a BPDU of the switch itself, and the host port is an edge.
  assert.equal(rig.engines.y.stp!.port(3)?.edge, true);
});

Deno.test("spanning tree: cutting the forwarding cable moves traffic to the other at once", () => {
  const rig = loopRig();
  rig.run(10);
  const forwarding = rig.engines.y.stp!.rootPort;
  rig.cut(forwarding);
  rig.run(1);
  broadcastFrom(rig, HOST_A);
  assert.equal(dataFrames(rig.hostFrames.y).length, 1);
  const other = forwarding === 1 ? 2 : 1;
  assert.equal(rig.engines.y.stp!.rootPort, other);
  assert.equal(rig.engines.x.stp!.port(other)?.forwarding, true);
});

Deno.test("spanning tree: BPDUs go to the machine, never flooded; without it they flood like any frame", () => {
  const rig = loopRig();
  rig.run(5);
  const bpduToHost = rig.hostFrames.y.filter(isBpduDestination);
  // The host port receives only the switch's own BPDUs (its designated port's), never relayed ones.
  const mac = (f: Uint8Array) => Array.from(f.subarray(6, 12)).join(",");
  assert.ok(bpduToHost.every((f) => mac(f) === "2,0,0,0,1,2"), "only y's own BPDUs");
  const plain = new SwitchEngine({ numPorts: 4 }, (port) => sent.push(port));
  const sent: number[] = [];
  for (const p of [1, 2, 3]) plain.activatePort(p);
  plain.input(1, rig.hostFrames.y.find(isBpduDestination)!);
  assert.deepEqual(sent, [2, 3]);
  // Tagged (FSTP's BPDU for VLAN 7), as vde_switch without -F passes it: in its VLAN only.
  plain.createVlan(7);
  for (const p of [1, 2]) plain.addVlanPort(7, p);
  sent.length = 0;
  plain.input(1, tagged(rig.hostFrames.y.find(isBpduDestination)!));
  assert.deepEqual(sent, [2]);
});

Deno.test("spanning tree: a discarding port neither forwards nor learns; a learning port learns only", () => {
  const sent: number[] = [];
  const engine = new SwitchEngine({ numPorts: 4 }, (port, frame) => {
    if (!isBpduDestination(frame)) sent.push(port);
  });
  engine.tick(1000);
  // 802.1D only: no edge detection, so the ports walk through the states on timers.
  const mac = new Uint8Array([2, 0, 0, 0, 0, 1]);
  engine.enableStp({ mac, forwardDelay: 4, maxAge: 6, helloTime: 1, forceVersion: 0 });
  for (const p of [1, 2]) engine.activatePort(p);
  const at = (s: number) => engine.tick(1000 + s * 1000);
  engine.input(1, buildFrame({ src: HOST_A, dst: "ff:ff:ff:ff:ff:ff" }));
  assert.deepEqual(sent, []);
  assert.equal(engine.macTable.size, 0);
  assert.equal(engine.counters.stpDropped, 1);
  for (let s = 1; s <= 6; s++) at(s);
  assert.equal(engine.stp!.isLearning(1), true);
  assert.equal(engine.stp!.isForwarding(1), false);
  engine.input(1, buildFrame({ src: HOST_A, dst: HOST_B }));
  assert.deepEqual(sent, []);
  assert.equal(engine.macTable.size, 1);
  for (let s = 7; s <= 10; s++) at(s);
  assert.equal(engine.stp!.isForwarding(1), true);
  engine.input(1, buildFrame({ src: HOST_A, dst: HOST_B }));
  assert.deepEqual(sent, [2]);
});

Deno.test("spanning tree cannot be used in hub mode; hub mode turns it off", () => {
  const hub = new SwitchEngine({ hub: true }, () => {});
  assert.throws(() => hub.enableStp({ mac: new Uint8Array(6) }), /Can't use fstp in hub mode/);
  const sw = new SwitchEngine({}, () => {});
  sw.enableStp({ mac: new Uint8Array(6) });
  sw.hub = true;
  assert.equal(sw.stp, null);
});

Deno.test("spanning tree off again: every active port forwards", () => {
  const sent: number[] = [];
  const engine = new SwitchEngine({ numPorts: 4 }, (port, frame) => {
    if (!isBpduDestination(frame)) sent.push(port);
  });
  engine.enableStp({ mac: new Uint8Array([2, 0, 0, 0, 0, 1]) });
  for (const p of [1, 2, 3]) engine.activatePort(p);
  engine.disableStp();
  engine.input(1, buildFrame({ src: HOST_A }));
  assert.deepEqual(sent, [2, 3]);
});

Deno.test("spanning tree run by another engine: BPDUs are relayed, ports discard until told, a state may precede activation", () => {
  const sent: number[] = [];
  const relayed: number[] = [];
  const engine = new SwitchEngine({ numPorts: 8 }, (port) => sent.push(port));
  engine.activatePort(1);
  engine.activatePort(2);
  engine.relayStp((port) => relayed.push(port));
  assert.equal(engine.stp, null, "no machine here");
  engine.input(1, buildFrame({ dst: "01:80:c2:00:00:00", src: HOST_A }));
  assert.deepEqual(relayed, [1], "the BPDU went to the relay, not flooded");
  assert.deepEqual(sent, []);
  engine.input(1, buildFrame({ src: HOST_A }));
  assert.deepEqual(sent, [], "both ports discard until the machine says otherwise");
  engine.setStpPortState(1, true, true);
  // The machine's word for port 3 comes before its activation, as a mirrored switch posts them.
  engine.setStpPortState(3, true, true);
  engine.activatePort(3);
  engine.input(1, buildFrame({ src: HOST_A }));
  assert.deepEqual(sent, [3], "port 3 forwards; port 2 still discards");
  engine.setStpPortState(2, true, false);
  engine.input(2, buildFrame({ src: HOST_B }));
  assert.equal(engine.macTable.size, 2, "a learning port learns (A was learned on forwarding port 1)");
  engine.flushStpPort(2);
  assert.equal(engine.macTable.size, 1, "a flush of port 2 forgets B");
  engine.relayStp(null);
  sent.length = 0;
  engine.input(1, buildFrame({ src: HOST_A }));
  assert.deepEqual(sent, [2, 3], "off again: every active port forwards");
});

Deno.test("a control copy hands its machine's BPDUs to sendBpdu and sends no frame itself", () => {
  const sent: number[] = [];
  const bpdus: number[] = [];
  const engine = new SwitchEngine(
    { numPorts: 8, control: { sendBpdu: (port, frame) => isBpduDestination(frame) && bpdus.push(port) } },
    (port) => sent.push(port),
  );
  engine.tick(1);
  engine.activatePort(1);
  engine.enableStp({ mac: new Uint8Array([2, 0, 0, 0, 1, 1]) });
  for (let t = 1000; t <= 5000; t += 1000) engine.tick(t);
  assert.ok(bpdus.includes(1), "hellos left by port 1 through sendBpdu");
  assert.deepEqual(sent, []);
});

Deno.test("spanning tree: a port that hears FSTP sends its BPDUs untagged and tagged for each VLAN it carries; tagged ones in are consumed", () => {
  const sent: [number, number, number][] = [];
  const engine = new SwitchEngine({ numPorts: 5 }, (port, frame) => {
    if (!isBpduDestination(frame)) return;
    const vlan = frame[12] === 0x81 ? frame[15]! : -1;
    const at = vlan < 0 ? 14 : 18;
    sent.push([port, vlan, (frame[at + 7]! >> 2) & 3]);
  });
  engine.tick(1000);
  engine.enableStp({ mac: new Uint8Array([2, 0, 0, 0, 0, 1]) });
  engine.createVlan(7);
  engine.createVlan(8);
  for (const p of [1, 2, 3]) {
    engine.activatePort(p);
    engine.addVlanPort(7, p);
  }
  engine.addVlanPort(8, 1);
  const hello = buildBpdu(FSTP_HELLO, new Uint8Array([2, 0, 0, 0, 0, 9]));
  // FSTP's dialect: forward delay 0, timers little-endian seconds.
  hello.set([0, 0, 40, 0, 4, 0, 0, 0], 44);
  const taggedHello = tagged(hello);
  for (const p of [2, 3]) engine.stp!.setAdminEdge(p, true);
  sent.length = 0;
  engine.input(1, taggedHello);
  assert.equal(sent.length, 0, "a tagged BPDU is neither switched nor answered");
  // Heard and counted, as port/print counts it, but not taken into the tree.
  assert.equal(engine.stp!.port(1)!.bpdusIn, 1);
  assert.notEqual(engine.stp!.port(1)!.role, Role.Root);
  assert.equal(engine.stp!.badBpdus, 0);
  engine.input(1, hello);
  assert.equal(engine.stp!.port(1)!.role, Role.Root);
  sent.length = 0;
  for (let s = 2; s <= 5; s++) engine.tick(s * 1000);
  // Port 1, FSTP's: untagged, then for VLANs 7 and 8, each in FSTP's root port code (01).
  const port1 = sent.filter(([port]) => port === 1);
  assert.ok(port1.length >= 3, JSON.stringify(sent));
  assert.deepEqual(port1.slice(0, 3), [[1, -1, 1], [1, 7, 1], [1, 8, 1]]);
  // Port 2 (edge, no FSTP): untagged only, the standard's designated code (11).
  assert.ok(sent.filter(([port]) => port === 2).every(([, vlan, code]) => vlan === -1 && code === 3));
});

Deno.test("spanning tree: a priority-tagged BPDU (VLAN 0) is the untagged tree's, as the Linux bridge and vde_switch take it", () => {
  const engine = new SwitchEngine({ numPorts: 4 }, () => {});
  engine.tick(1000);
  engine.enableStp({ mac: new Uint8Array([2, 0, 0, 0, 0, 1]) });
  for (const p of [1, 2]) engine.activatePort(p);
  // A standard RST BPDU from a better root, sent with an 802.1p priority tag.
  engine.input(1, tagged(buildBpdu(FSTP_HELLO, new Uint8Array([2, 0, 0, 0, 0, 9])), 0));
  assert.equal(engine.stp!.port(1)!.bpdusIn, 1);
  assert.equal(engine.stp!.rootId, FSTP_HELLO.rootId);
  assert.equal(engine.stp!.port(1)!.role, Role.Root);
});

Deno.test("spanning tree: a port's BPDU counts are its frame counts, each tagged copy in and out counted once", () => {
  const engine = new SwitchEngine({ numPorts: 4 }, () => {});
  engine.tick(1000);
  engine.enableStp({ mac: new Uint8Array([2, 0, 0, 0, 0, 1]) });
  engine.createVlan(7);
  engine.activatePort(1);
  engine.addVlanPort(7, 1);
  // vde_switch -F with VLAN 7 tagged on the cable: each hello once untagged and once tagged, as it sends them.
  const hello = buildBpdu(FSTP_HELLO, new Uint8Array([2, 0, 0, 0, 0, 9]));
  hello.set([0, 0, 40, 0, 4, 0, 0, 0], 44);
  for (let s = 2; s <= 9; s++) {
    if (s % 2 === 0) {
      engine.input(1, hello);
      engine.input(1, tagged(hello));
    }
    engine.tick(s * 1000);
  }
  const view = engine.stp!.port(1)!;
  const stats = engine.portStats(1);
  assert.equal(view.bpdusIn, 8);
  assert.equal(view.bpdusIn, stats.framesIn);
  assert.ok(view.bpdusOut >= 8 && view.bpdusOut % 2 === 0, `sent ${view.bpdusOut}: each untagged and tagged`);
  assert.equal(view.bpdusOut, stats.framesOut);
});
