/**
 * The engine without spanning tree: a MAC that keeps moving between ports (a loop's broadcast storm) is
 * counted and said once a minute, naming the MAC and the ports; a healthy move is counted, never said.
 * QEMU's default MAC on two ports that are up is two VMs without mac=, said as that, not as a loop.
 */
import assert from "node:assert/strict";
import { type LoopWarning, SwitchEngine } from "../../src/switch/engine.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { FLAP_MOVES } from "../../src/switch/loop_detector.ts";

const A = "02:00:00:00:00:0a";
const QEMU = "52:54:00:12:34:56";
const BROADCAST = "ff:ff:ff:ff:ff:ff";

function rig() {
  const warnings: LoopWarning[] = [];
  const engine = new SwitchEngine({ numPorts: 5, onLoopSuspected: (w) => warnings.push(w) }, () => {});
  for (const p of [1, 2, 3]) engine.activatePort(p);
  return { engine, warnings };
}

Deno.test("a broadcast circling two cables (the MAC on ports 2 and 3 in turn) warns once a minute: loop? run with --stp", () => {
  const { engine, warnings } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: A });
  engine.tick(1);
  engine.input(1, frame);
  // The storm: the host's frame comes back on both cables, over and over, every few ms of the virtual clock.
  for (let ms = 2; ms < 120_000; ms += 5) {
    engine.tick(ms);
    engine.input(ms % 10 === 2 ? 2 : 3, frame);
  }
  assert.equal(warnings.length, 2, warnings.map((w) => w.message).join("\n"));
  const w = warnings[0]!;
  assert.equal(w.mac, A);
  assert.deepEqual([w.from, w.to].sort(), [2, 3]);
  assert.ok(w.moves > FLAP_MOVES);
  assert.match(
    w.message,
    new RegExp(`^MAC ${A} VLAN 0 keeps moving between ports [23] and [23]: loop\\? run with --stp$`),
  );
  assert.ok(engine.macMoves > 10_000, String(engine.macMoves));
});

Deno.test("a host that moves to another port once counts one move and no warning", () => {
  const { engine, warnings } = rig();
  engine.tick(1);
  engine.input(1, buildFrame({ dst: BROADCAST, src: A }));
  for (let ms = 2; ms < 10_000; ms += 5) {
    engine.tick(ms);
    engine.input(2, buildFrame({ dst: BROADCAST, src: A }));
  }
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), 2);
  assert.equal(engine.macMoves, 1);
  assert.deepEqual(warnings, []);
});

Deno.test("a MAC refreshed on its own port counts no move", () => {
  const { engine } = rig();
  for (let ms = 1; ms < 5_000; ms += 5) {
    engine.tick(ms);
    engine.input(1, buildFrame({ dst: BROADCAST, src: A }));
  }
  assert.equal(engine.macMoves, 0);
});

Deno.test("on a data-plane thread's 1 s clock, a storm the table has followed to one cable still warns", () => {
  const { engine, warnings } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: A });
  // The host spoke once; its frame comes back on port 2 until the table follows it there (after 3 s),
  // then on both cables, hundreds of times per tick: a MAC on its learned port and another, tick after tick.
  engine.tick(1);
  engine.input(1, frame);
  let warnedAt = -1;
  for (let s = 1; s <= 12 && warnedAt < 0; s++) {
    engine.tick(s * 1000);
    for (let i = 0; i < 200; i++) engine.input(s < 5 || i % 2 === 0 ? 2 : 3, frame);
    if (warnings.length > 0) warnedAt = s;
  }
  assert.equal(engine.macTable.lookup(0x0200, 0x0a, 0), 2);
  assert.ok(warnedAt >= 5 && warnedAt <= 8, `warned at ${warnedAt} s, ${engine.macMoves} moves`);
  assert.deepEqual([warnings[0]!.from, warnings[0]!.to], [2, 3]);
});

Deno.test("QEMU's default MAC from two VMs on ports 2 and 3 is said once a minute with the mac= to give each", () => {
  const { engine, warnings } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: QEMU });
  // Two iPXE ROMs asking DHCP in turn, a frame every 500 ms each, for 90 s.
  for (let ms = 1; ms < 90_000; ms += 250) {
    engine.tick(ms);
    engine.input(ms % 500 === 1 ? 2 : 3, frame);
  }
  assert.equal(warnings.length, 2, warnings.map((w) => w.message).join("\n"));
  assert.equal(
    warnings[0]!.message,
    `MAC ${QEMU} VLAN 0, QEMU's default, is on ports 2 and 3: two VMs started without mac= share it and ` +
      "each loses frames; give each its own, e.g. -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:03",
  );
  assert.doesNotMatch(warnings.map((w) => w.message).join("\n"), /--stp/);
});

Deno.test("a VM with QEMU's default MAC that quit and came back on another port is not told of", () => {
  const { engine, warnings } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: QEMU });
  engine.tick(1);
  engine.input(2, frame);
  engine.deactivatePort(2);
  engine.tick(2);
  engine.input(3, frame);
  assert.deepEqual(warnings, []);
});

/** `n` hosts' broadcast frames, distinct source MACs. */
function hostFrames(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const mac = `02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${
      (i & 255).toString(16).padStart(2, "0")
    }`;
    return buildFrame({ dst: BROADCAST, src: mac });
  });
}

Deno.test("a storm of many hosts' broadcasts (more MACs circling than the detector has slots) still warns", () => {
  const { engine, warnings } = rig();
  const frames = hostFrames(200);
  engine.tick(1);
  for (const f of frames) engine.input(1, f);
  // Every host's broadcast comes back on both cables in turn, all of them interleaved, for up to 10 s.
  for (let ms = 2; ms < 10_000 && warnings.length === 0; ms += 5) {
    engine.tick(ms);
    for (const f of frames) engine.input(ms % 10 === 2 ? 2 : 3, f);
  }
  assert.equal(warnings.length, 1, `${engine.macMoves} moves, no warning`);
});

Deno.test("on a data-plane thread's 1 s clock, a storm of many hosts' broadcasts still warns", () => {
  const { engine, warnings } = rig();
  const frames = hostFrames(200);
  engine.tick(1);
  for (const f of frames) engine.input(1, f);
  let warnedAt = -1;
  for (let s = 1; s <= 12 && warnedAt < 0; s++) {
    engine.tick(s * 1000);
    for (let i = 0; i < 20; i++) for (const f of frames) engine.input(i % 2 === 0 ? 2 : 3, f);
    if (warnings.length > 0) warnedAt = s;
  }
  assert.ok(warnedAt >= 1 && warnedAt <= 8, `warned at ${warnedAt} s, ${engine.macMoves} moves`);
});

Deno.test("a loop between two cables circling the broadcasts of 1000 hosts on this switch's own ports warns within 2 s", () => {
  for (const clockMs of [1, 1000]) {
    const warnings: LoopWarning[] = [];
    const engine = new SwitchEngine({ numPorts: 40, onLoopSuspected: (w) => warnings.push(w) }, () => {});
    for (let p = 1; p < 40; p++) engine.activatePort(p);
    // Each host on one of ports 4-39 speaks every 10 ms (its entry stays on its port); each of its frames
    // comes back on cable 2, then on cable 3 (the table keeps its port, the detector sees it move).
    const frames = hostFrames(1000);
    const home = (i: number) => 4 + (i % 36);
    let warnedAt = -1;
    for (let ms = 1; ms < 10_000 && warnedAt < 0; ms += 10) {
      if (ms === 1 || ms % clockMs < 10) engine.tick(ms);
      frames.forEach((f, i) => engine.input(home(i), f));
      for (const cable of [2, 3]) for (const f of frames) engine.input(cable, f);
      if (warnings.length > 0) warnedAt = ms;
    }
    assert.ok(warnedAt >= 0 && warnedAt <= 2000 + clockMs, `clock ${clockMs} ms: warned at ${warnedAt} ms`);
    assert.match(warnings[0]!.message, /keeps moving between ports \d+ and \d+: loop\? run with --stp/);
  }
});

Deno.test("a thousand hosts moving to another port at once (an uplink re-cabled) count a move each and warn nothing", () => {
  const { engine, warnings } = rig();
  const frames = hostFrames(1000);
  engine.tick(1);
  for (const f of frames) engine.input(1, f);
  // From now on they all come in on port 2, ten frames each per 100 ms, for 10 s.
  for (let ms = 100; ms < 10_000; ms += 100) {
    engine.tick(ms);
    for (let i = 0; i < 10; i++) for (const f of frames) engine.input(2, f);
  }
  // One each (301,000 before: each frame the table kept on the old port evicted another host's count and
  // counted again); a host the detector stopped following before the table moved it may count twice.
  assert.ok(engine.macMoves >= 1000 && engine.macMoves < 1100, String(engine.macMoves));
  assert.deepEqual(warnings, []);
});

Deno.test("a loop circling a VM's broadcast with QEMU's default MAC (thousands of moves a second) says loop? run with --stp", () => {
  const { engine, warnings } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: QEMU });
  engine.tick(1);
  engine.input(1, frame);
  // The VM on port 1 spoke once; its frame comes back on both cables of a loop, every 0.2 ms, for 5 s.
  for (let us = 1000; us < 5_000_000; us += 200) {
    if (us % 1000 === 0) engine.tick(us / 1000);
    engine.input(us % 400 === 0 ? 2 : 3, frame);
  }
  const said = warnings.map((w) => w.message).join("\n");
  assert.match(
    said,
    new RegExp(`MAC ${QEMU} VLAN 0 keeps moving between ports [123] and [123]: loop\\? run with --stp`),
  );
});

Deno.test("a loop circling QEMU's default MAC is said as a loop only, never first as two VMs sharing it", () => {
  for (const clockMs of [1, 1000]) {
    const { engine, warnings } = rig();
    const frame = buildFrame({ dst: BROADCAST, src: QEMU });
    engine.tick(1);
    engine.input(1, frame);
    // Its frame comes back on both cables every 0.2 ms for 5 s; the engine's clock ticks every clockMs
    // (1000: a data-plane thread's).
    for (let us = 1000; us < 5_000_000; us += 200) {
      if (us % (clockMs * 1000) === 0) engine.tick(us / 1000);
      engine.input(us % 400 === 0 ? 2 : 3, frame);
    }
    const said = warnings.map((w) => w.message).join("\n");
    assert.deepEqual(warnings.map((w) => w.kind), ["loop"], said);
  }
});

Deno.test("a loop circling many hosts' broadcasts and a VM's with QEMU's default MAC is said as a loop only, its slot in the detector held or not", () => {
  for (const clockMs of [1, 1000]) {
    const { engine, warnings } = rig();
    // More hosts than the detector has slots, and the VM's frame after theirs: the slot it hashes to is
    // held by a host's MAC storming between the same two cables, so the detector does not follow it.
    const frames = [...hostFrames(1000), buildFrame({ dst: BROADCAST, src: QEMU })];
    engine.tick(1);
    for (const f of frames) engine.input(1, f);
    // Every frame comes back on both cables in turn, every 10 ms, for 8 s.
    for (let ms = 10; ms < 8000; ms += 10) {
      if (ms % clockMs === 0) engine.tick(ms);
      for (const f of frames) engine.input(ms % 20 === 0 ? 2 : 3, f);
    }
    const said = warnings.map((w) => w.message).join("\n");
    assert.deepEqual(warnings.map((w) => w.kind), ["loop"], said);
  }
});

Deno.test("two VMs sharing QEMU's default MAC are said once it has moved 2 s without storming", () => {
  const { engine, warnings } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: QEMU });
  let saidAt = -1;
  for (let ms = 1; ms < 10_000 && saidAt < 0; ms += 50) {
    engine.tick(ms);
    engine.input(ms % 100 === 1 ? 2 : 3, frame);
    if (warnings.length > 0) saidAt = ms;
  }
  assert.ok(saidAt >= 2000 && saidAt <= 2200, `said at ${saidAt} ms`);
  assert.equal(warnings[0]!.kind, "qemu-default-mac");
});

Deno.test("two busy VMs sharing QEMU's default MAC (200 moves a second) are never said as a loop", () => {
  const { engine, warnings } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: QEMU });
  for (let ms = 1; ms < 90_000; ms += 5) {
    engine.tick(ms);
    engine.input(ms % 10 === 1 ? 2 : 3, frame);
  }
  const said = warnings.map((w) => w.message).join("\n");
  assert.equal(warnings.length, 2, said);
  assert.doesNotMatch(said, /loop/);
});

Deno.test("two VMs sharing QEMU's default MAC do not use up the warning of a loop beside them", () => {
  const { engine, warnings } = rig();
  const vm = buildFrame({ dst: BROADCAST, src: QEMU });
  const host = buildFrame({ dst: BROADCAST, src: A });
  engine.tick(1);
  engine.input(1, host);
  // The VMs flap their MAC between ports 2 and 3 from the start; 20 s in, the host's broadcast starts circling.
  for (let ms = 2; ms < 30_000; ms += 5) {
    engine.tick(ms);
    engine.input(ms % 10 === 2 ? 2 : 3, vm);
    if (ms > 20_000) engine.input(ms % 10 === 2 ? 3 : 2, host);
  }
  const said = warnings.map((w) => w.message).join("\n");
  assert.match(
    said,
    new RegExp(`MAC ${A} VLAN 0 keeps moving between ports [23] and [23]: loop\\? run with --stp`),
  );
});

Deno.test("between ticks the loop detector counts moves on the owner's stamp: 11 moves in 0.1 s across a tick are one window's, said", () => {
  // A data-plane thread ticks once a second and stamps each turn; on the ticks alone, the moves before the
  // tick at 1.5 s were all at 0.5 s, a window that ends at the tick, and the count started again.
  for (const stamped of [true, false]) {
    const { engine, warnings } = rig();
    engine.tick(500);
    engine.input(1, buildFrame({ dst: BROADCAST, src: A }));
    const frame = buildFrame({ dst: BROADCAST, src: A });
    for (let ms = 1410; ms <= 1510; ms += 10) {
      if (ms === 1500) engine.tick(1500);
      if (stamped) engine.stamp(ms);
      engine.input(ms % 20 === 10 ? 2 : 3, frame);
    }
    assert.equal(warnings.length, stamped ? 1 : 0, `stamped ${stamped}`);
    if (stamped) assert.equal(warnings[0]!.moves, FLAP_MOVES + 1);
  }
});
