/**
 * A frame dropped for a VLAN its port does not carry is said: a port's first since it came up at
 * once, with the VLAN and the command that makes the port carry it, then counts at most once a
 * minute, so a sender spraying every VLAN id makes a line a minute, not 4,094. The engine tells
 * them from its input and its tick; the switch says them in the log.
 */
import assert from "node:assert/strict";
import { type EngineOptions, NO_VLAN, SwitchEngine, type VlanDropNote } from "../../src/switch/engine.ts";
import { SUMMARY_SECONDS, vlanDropLine } from "../../src/switch/vlan_drop_notes.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { Switch } from "../../src/switch/switch.ts";
import { setOnceLineWindow } from "../../src/link/link.ts";
import { setLogWriter } from "../../src/log.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { until } from "../helpers/vde_clients.ts";

const A = "02:00:00:00:00:0a";
const BROADCAST = "ff:ff:ff:ff:ff:ff";

/** An engine with ports 1-4 active, recording its VLAN drop notes. */
function rig(options: EngineOptions = {}) {
  const notes: VlanDropNote[] = [];
  const engine = new SwitchEngine({ numPorts: 8, ...options, onVlanDropped: (n) => notes.push(n) }, () => {});
  for (const port of [1, 2, 3, 4]) engine.activatePort(port);
  return { engine, notes };
}

const tagged = (vlan: number) => buildFrame({ dst: BROADCAST, src: A, vlan });

Deno.test("a port's first frame tagged for a VLAN it does not carry is told at once, later ones as a count a minute on", () => {
  const { engine, notes } = rig();
  engine.tick(1000);
  engine.input(1, tagged(20));
  assert.deepEqual(notes, [{ port: 1, vlan: 20, count: 1, first: true }]);
  // A sender spraying every VLAN id: nothing more is told until the minute is up.
  for (let vlan = 1; vlan <= 4094; vlan++) engine.input(1, tagged(vlan));
  engine.input(2, tagged(30));
  engine.tick(1000 + (SUMMARY_SECONDS - 1) * 1000);
  assert.equal(notes.length, 2, "port 2's first is told at once; no counts before the minute");
  assert.deepEqual(notes[1], { port: 2, vlan: 30, count: 1, first: true });
  engine.input(2, tagged(31));
  engine.tick(1000 + SUMMARY_SECONDS * 1000);
  assert.deepEqual(notes.slice(2), [
    { port: 1, vlan: 4094, count: 4094, first: false },
    { port: 2, vlan: 31, count: 1, first: false },
  ]);
  assert.equal(engine.counters.vlanDropped, 4097);
  // Nothing dropped since: no more lines; a drop now waits for the next round, a minute after the last.
  engine.tick(1000 + (SUMMARY_SECONDS + 5) * 1000);
  engine.input(1, tagged(40));
  engine.tick(1000 + (2 * SUMMARY_SECONDS - 1) * 1000);
  assert.equal(notes.length, 4);
  engine.tick(1000 + 2 * SUMMARY_SECONDS * 1000);
  assert.deepEqual(notes.slice(4), [{ port: 1, vlan: 40, count: 1, first: false }]);
});

Deno.test("an untagged frame on a port with no untagged VLAN is told as untagged, and a port that comes up again is told again", () => {
  const { engine, notes } = rig();
  engine.createVlan(10);
  engine.addVlanPort(10, 3);
  assert.equal(engine.setPortVlan(3, NO_VLAN), "ok");
  engine.input(3, buildFrame({ dst: BROADCAST, src: A }));
  assert.deepEqual(notes, [{ port: 3, vlan: -1, count: 1, first: true }]);
  engine.deactivatePort(3);
  engine.activatePort(3);
  engine.input(3, tagged(11));
  assert.deepEqual(notes[1], { port: 3, vlan: 11, count: 1, first: true });
});

Deno.test("frames a port's VLANs take, and a flat switch's untagged frames, tell nothing", () => {
  const { engine, notes } = rig();
  engine.createVlan(10);
  engine.addVlanPort(10, 1);
  engine.input(1, tagged(10));
  engine.input(2, buildFrame({ dst: BROADCAST, src: A }));
  engine.tick(SUMMARY_SECONDS * 5000);
  assert.deepEqual(notes, []);
  assert.equal(engine.counters.vlanDropped, 0);
});

Deno.test("the lines name the port, the VLAN and the command that makes the port carry it", () => {
  const first = (vlan: number): VlanDropNote => ({ port: 3, vlan, count: 1, first: true });
  const counted = "(counted as vlanDropped; said once, later ones as a count at most once a minute)";
  assert.equal(
    vlanDropLine("port 3 (tap t1)", first(20), true),
    `port 3 (tap t1): dropped a frame tagged for VLAN 20, which port 3 does not carry ${counted}: ` +
      "vlan/addport 20 3 makes it carry it",
  );
  assert.equal(
    vlanDropLine("port 3", first(20), false),
    `port 3: dropped a frame tagged for VLAN 20, which this switch does not have ${counted}: ` +
      "vlan/create 20, then vlan/addport 20 3, makes it carry it",
  );
  assert.equal(
    vlanDropLine("port 3", first(4095), false),
    `port 3: dropped a frame tagged for VLAN 4095, which this switch does not have ${counted}: ` +
      "VLAN ids here are 0-4093",
  );
  assert.equal(
    vlanDropLine("port 3", first(-1), false),
    `port 3: dropped an untagged frame: port 3 has no untagged VLAN ${counted}: port/setvlan 3 VLAN gives it one`,
  );
  assert.equal(
    vlanDropLine("port 3", { port: 3, vlan: 4094, count: 4093, first: false }, false),
    "port 3: dropped 4093 more frame(s) for VLANs port 3 does not carry since the last such line, the last " +
      "tagged for VLAN 4094 (counted as vlanDropped)",
  );
});

/** Runs `fn` on a warmed switch of 4 ports on `dataplane`, with what the log says in `lines`. */
async function withLoggedSwitch(
  dataplane: "main" | "thread",
  fn: (sw: Switch, lines: string[]) => Promise<void>,
): Promise<void> {
  const lines: string[] = [];
  setLogWriter((line) => lines.push(line));
  setOnceLineWindow(60_000);
  const sw = new Switch({ numPorts: 4, dataplane });
  try {
    await sw.warmed;
    await fn(sw, lines);
  } finally {
    setLogWriter(null);
    await sw.close();
  }
}

for (const dataplane of ["main", "thread"] as const) {
  Deno.test(`a switch says a port's first frame tagged for a VLAN it lacks in its log, once (data plane on ${dataplane})`, async () => {
    await withLoggedSwitch(dataplane, async (sw, lines) => {
      const link = new MemoryLink("tap t7");
      sw.attach(link, { port: 2 });
      for (const vlan of [20, 21, 20]) link.receive(tagged(vlan));
      await until("the VLAN line", () => lines.some((l) => l.includes("VLAN 20")), 30_000);
      await sw.settled();
      const said = lines.filter((l) => l.includes("port 2 (tap t7)"));
      assert.deepEqual(said.map((l) => l.trimEnd()), [
        "vde: port 2 (tap t7): dropped a frame tagged for VLAN 20, which this switch does not have (counted as " +
        "vlanDropped; said once, later ones as a count at most once a minute): vlan/create 20, then " +
        "vlan/addport 20 2, makes it carry it",
      ]);
      assert.equal(sw.engine.counters.vlanDropped, 3);
    });
  });
}

Deno.test("ports removed from the switch had their drops told as they went down; the others are still counted", () => {
  const { engine, notes } = rig();
  engine.activatePort(6);
  for (const port of [2, 6]) for (let i = 0; i < 3; i++) engine.input(port, tagged(50));
  engine.deactivatePort(6);
  engine.setNumPorts(5);
  engine.tick(SUMMARY_SECONDS * 1000);
  assert.deepEqual(notes.filter((n) => !n.first), [
    { port: 6, vlan: 50, count: 2, first: false },
    { port: 2, vlan: 50, count: 2, first: false },
  ]);
  engine.setNumPorts(8);
  engine.activatePort(6);
  engine.input(6, tagged(51));
  assert.deepEqual(notes.at(-1), { port: 6, vlan: 51, count: 1, first: true });
});

Deno.test("a port's first drop long after the last round of counts is followed by its count a minute on, not at the next tick", () => {
  const { engine, notes } = rig();
  engine.tick(1000);
  engine.input(1, tagged(20));
  engine.input(1, tagged(20));
  engine.tick(1000 + SUMMARY_SECONDS * 1000);
  assert.equal(notes.length, 2, "port 1's first, then its count");
  // Quiet for a while; then port 2 (or port 1 come up again) drops, and goes on dropping.
  const later = 1000 + 10 * SUMMARY_SECONDS * 1000;
  engine.tick(later);
  engine.input(2, tagged(30));
  engine.input(2, tagged(30));
  engine.tick(later + 1000);
  engine.tick(later + (SUMMARY_SECONDS - 1) * 1000);
  assert.deepEqual(
    notes.slice(2),
    [{ port: 2, vlan: 30, count: 1, first: true }],
    "no count within the minute",
  );
  engine.tick(later + SUMMARY_SECONDS * 1000);
  assert.deepEqual(notes.slice(3), [{ port: 2, vlan: 30, count: 1, first: false }]);
});

Deno.test("a port that goes down has its count told then, so the next client on it is not named for its drops", () => {
  const { engine, notes } = rig();
  engine.tick(1000);
  for (const vlan of [20, 21, 22]) engine.input(1, tagged(vlan));
  engine.deactivatePort(1);
  assert.deepEqual(notes, [
    { port: 1, vlan: 20, count: 1, first: true },
    { port: 1, vlan: 22, count: 2, first: false },
  ]);
  engine.activatePort(1);
  engine.tick(1000 + SUMMARY_SECONDS * 1000);
  assert.equal(notes.length, 2, "nothing left for the round to tell of the port's next client");
});

for (const dataplane of ["main", "thread"] as const) {
  Deno.test(`a switch says a leaving client's uncounted VLAN drops by port alone, not naming the next client (data plane on ${dataplane})`, async () => {
    await withLoggedSwitch(dataplane, async (sw, lines) => {
      const first = new MemoryLink("client one");
      sw.attach(first, { port: 2 });
      for (const vlan of [20, 21, 22]) first.receive(tagged(vlan));
      await until("the first VLAN line", () => lines.some((l) => l.includes("VLAN 20")), 30_000);
      await sw.settled();
      first.close("left");
      await until(
        "the leaving client's count",
        () => lines.some((l) => l.includes("2 more frame(s)")),
        30_000,
      );
      sw.attach(new MemoryLink("client two"), { port: 2 });
      await sw.settled();
      const counts = lines.filter((l) => l.includes("more frame(s)")).map((l) => l.trimEnd());
      assert.deepEqual(counts, [
        "vde: port 2: dropped 2 more frame(s) for VLANs port 2 does not carry since the last such line, the " +
        "last tagged for VLAN 22 (counted as vlanDropped)",
      ]);
    });
  });
}
