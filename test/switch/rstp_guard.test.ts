/**
 * BPDU guard and root guard in the RSTP machine, on the virtual clock of
 * the simulated networks (_stp_sim.ts): a guarded port facing a rogue
 * bridge with a better bridge id that would otherwise become everyone's
 * root.
 */
import assert from "node:assert/strict";
import { StpSim } from "./_stp_sim.ts";
import { Role, Rstp } from "../../src/switch/rstp.ts";
import { buildBpdu } from "../../src/wire/stp.ts";
import { FstpModel } from "./_fstp_model.ts";

const OURS = 0x222;
const ROGUE = 0x111;

/** Our bridge (index 0) with port 1 on LAN "a" and port 2 on LAN "b"; `guard` runs before a rogue comes. */
function withRogue(guard: (rstp: Rstp) => void): { sim: StpSim; logs: string[] } {
  const logs: string[] = [];
  const sim = new StpSim();
  sim.bridge(0, OURS, ["X", "0"], { log: (line) => logs.push(line) });
  guard(sim.rstp(0));
  sim.set(0, ["a", "_"]);
  sim.run(5);
  sim.bridge(1, ROGUE, ["a"]);
  return { sim, logs };
}

/** Our bridge alone, its log lines into `logs`; BPDUs are given to it by hand. */
function loneBridge(logs: string[]): { rstp: Rstp; mac: Uint8Array } {
  const mac = Uint8Array.of(0, 0, 0, 0, 2, 0x22);
  const rstp = new Rstp({ mac, log: (l) => logs.push(l) }, {
    send: () => {},
    setPortState: () => {},
    flush: () => {},
  });
  return { rstp, mac };
}

Deno.test("BPDU guard: a BPDU disables the port, once logged and counted; our tree keeps its root", () => {
  const { sim, logs } = withRogue((r) => r.setBpduGuard(1, true));
  sim.run(30);
  const ours = sim.rstp(0);
  assert.equal(ours.rootId, ours.bridgeId);
  const p = ours.port(1)!;
  assert.deepEqual(
    [p.enabled, p.forwarding, p.learning, p.role, p.guardTripped, p.guardTrips],
    [false, false, false, Role.Disabled, true, 1],
  );
  assert.equal(sim.describe(1), "root", "the rogue hears nothing from the disabled port");
  assert.deepEqual(logs.filter((l) => l.includes("BPDU guard")), [
    `port 1: BPDU guard: heard a BPDU from bridge 8000.000000000111: port disabled until its client leaves or stp/setguard 1 1`,
  ]);
  assert.equal(ours.port(2)!.forwarding, true, "the other port is untouched");
});

Deno.test("BPDU guard: a trip flushes the port's MAC entries and starts no topology change on the other bridges", () => {
  const sim = new StpSim();
  sim.bridge(0, OURS, ["X", "b"]);
  sim.bridge(2, 0x333, ["b"]);
  sim.rstp(0).setBpduGuard(1, true);
  sim.set(0, ["a", "_"]);
  sim.run(10);
  assert.equal(sim.rstp(0).port(1)!.edge, true);
  for (const i of [0, 2]) sim.flushes(i).length = 0;
  const changes = sim.rstp(0).topologyChanges;
  sim.bridge(1, ROGUE, ["a"]);
  sim.run(5);
  assert.equal(sim.rstp(0).port(1)!.guardTripped, true);
  assert.equal(sim.rstp(0).topologyChanges, changes);
  assert.deepEqual([sim.flushes(0), sim.flushes(2)], [[1], []]);
});

Deno.test("BPDU guard: a tripped port takes part again when its client leaves (as the kernel's on a link flap) or the operator sets the guard again", () => {
  const { sim, logs } = withRogue((r) => r.setBpduGuard(1, true));
  sim.run(5);
  const ours = sim.rstp(0);
  // The rogue plugs in again: back in the tree, its first BPDU trips the guard again and is never taken in.
  sim.set(0, ["X", "_"]);
  assert.ok(
    logs.includes("port 1: BPDU guard: its client left; the next one to plug in takes part"),
    logs.join("\n"),
  );
  assert.equal(ours.port(1)!.guardTripped, false);
  sim.set(0, ["a", "_"]);
  sim.run(60);
  assert.deepEqual([ours.port(1)!.enabled, ours.port(1)!.guardTripped, ours.port(1)!.guardTrips], [
    false,
    true,
    2,
  ]);
  assert.equal(ours.rootId, ours.bridgeId);
  // Another host, which sends no BPDU, gets the port number next: it is not locked out by the rogue's trip.
  sim.set(1, ["X"]);
  sim.set(0, ["X", "_"]);
  sim.set(0, ["b", "_"]);
  sim.run(5);
  assert.deepEqual([ours.port(1)!.enabled, ours.port(1)!.forwarding, ours.port(1)!.bpduGuard], [
    true,
    true,
    true,
  ]);
  // With the rogue back, the operator re-arms a tripped port: it comes back, hears the rogue and trips again.
  sim.set(1, ["b"]);
  sim.run(5);
  assert.equal(ours.port(1)!.guardTrips, 3);
  ours.setBpduGuard(1, true);
  assert.ok(logs.includes("port 1: re-enabled by the operator, BPDU guard on"), logs.join("\n"));
  sim.run(5);
  assert.deepEqual([ours.port(1)!.enabled, ours.port(1)!.guardTrips], [false, 4]);
  // Guard off: the port comes back for good and the better bridge becomes root, as without a guard.
  ours.setBpduGuard(1, false);
  sim.run(10);
  assert.equal(ours.rootId, sim.rstp(1).bridgeId);
  assert.deepEqual([ours.port(1)!.enabled, ours.port(1)!.role, ours.port(1)!.guardTrips], [
    true,
    Role.Root,
    4,
  ]);
});

Deno.test("BPDU guard trips on a TCN BPDU and on a malformed one not at all (counted as bad)", () => {
  const logs: string[] = [];
  const { rstp, mac } = loneBridge(logs);
  rstp.tick(0);
  rstp.setBpduGuard(3, true);
  rstp.enablePort(3);
  // A TCN carries no ids or times: the builder writes its four bytes alone.
  const id = "8000.000000000111";
  const times = { messageAge: 0, maxAge: 0, helloTime: 0, forwardDelay: 0 };
  const tcn = buildBpdu({
    kind: "tcn",
    version: 0,
    flags: 0,
    rootId: id,
    rootPathCost: 0,
    bridgeId: id,
    portId: 0,
    ...times,
  }, mac);
  const bad = tcn.slice();
  bad[17] = 1; // protocol id 1: no BPDU
  rstp.receive(3, bad);
  assert.deepEqual([rstp.port(3)!.badBpdus, rstp.port(3)!.guardTripped], [1, false]);
  rstp.receive(3, tcn);
  assert.deepEqual([rstp.port(3)!.guardTripped, rstp.port(3)!.bpdusIn], [true, 1]);
  rstp.receive(3, tcn);
  assert.equal(rstp.port(3)!.guardTrips, 1, "a disabled port hears nothing more");
  assert.deepEqual(logs, [
    "port 3: BPDU guard: heard a TCN BPDU: port disabled until its client leaves or stp/setguard 3 1",
  ]);
});

/**
 * Root R (0x200) - port 1 - ours (0x300) - port 2 (root guard) - rogue (0x100);
 * ours - port 3 - an 802.1D-only bridge L (0x400), which a sync would knock back to discarding.
 */
function rootGuardNet(logs: string[]): StpSim {
  const sim = new StpSim();
  sim.bridge(0, 0x300, ["X", "X", "X"], { log: (line) => logs.push(line) });
  sim.rstp(0).setRootGuard(2, true);
  sim.set(0, ["a", "b", "c"]);
  sim.bridge(1, 0x200, ["a"]);
  sim.bridge(3, 0x400, ["c"], { legacy: true });
  sim.run(40);
  return sim;
}

Deno.test("root guard: a superior BPDU keeps the port discarding as alternate; the tree keeps its root", () => {
  const logs: string[] = [];
  const sim = rootGuardNet(logs);
  const ours = sim.rstp(0);
  const root = sim.rstp(1).bridgeId;
  assert.equal(ours.rootId, root);
  sim.bridge(2, 0x100, ["b"]);
  for (let s = 0; s < 30; s++) {
    sim.run(1);
    assert.equal(ours.rootId, root, `second ${s}`);
    assert.equal(ours.port(1)!.forwarding, true, `root port, second ${s}`);
    assert.equal(ours.port(3)!.forwarding, true, `designated port towards the 802.1D bridge, second ${s}`);
  }
  const p = ours.port(2)!;
  assert.deepEqual(
    [p.role, p.forwarding, p.learning, p.rootBlocked, p.rootBlocks],
    [Role.Alternate, false, false, true, 1],
  );
  assert.equal(sim.rstp(3).rootId, root, "the 802.1D bridge behind us never hears of the rogue");
  assert.deepEqual(logs.filter((l) => l.includes("root guard")), [
    "port 2: root guard: bridge 8000.000000000100 offers root 8000.000000000100, better than ours: " +
    "port kept discarding (alternate) until that stops",
  ]);
  // Root guard off: the rogue's better id wins through that port, as it would have without the guard.
  ours.setRootGuard(2, false);
  sim.run(5);
  assert.deepEqual([ours.rootId, ours.port(2)!.role], [sim.rstp(2).bridgeId, Role.Root]);
  assert.equal(logs.at(-1), "port 2: root guard: port released (root guard off)");
});

Deno.test("root guard: the port is released once the superior information ages out (within max age)", () => {
  const logs: string[] = [];
  const sim = rootGuardNet(logs);
  const ours = sim.rstp(0);
  sim.bridge(2, 0x100, ["b"]);
  sim.run(10);
  assert.equal(ours.port(2)!.rootBlocked, true);
  // The rogue is unplugged: its information ages out (3 hellos) and the port becomes designated again.
  sim.set(2, ["X"]);
  sim.run(20);
  const p = ours.port(2)!;
  assert.deepEqual([p.role, p.forwarding, p.rootBlocked, p.rootBlocks], [Role.Designated, true, false, 1]);
  assert.equal(logs.at(-1), "port 2: root guard: port released (the superior information aged out)");
  assert.equal(ours.rootId, sim.rstp(1).bridgeId);
});

Deno.test("root guard: a host flipping between superior and inferior BPDUs is logged once and counted each time, for max age after its last hold", () => {
  const logs: string[] = [];
  const { rstp, mac } = loneBridge(logs);
  let now = 0;
  rstp.tick(now);
  rstp.setRootGuard(1, true);
  rstp.enablePort(1);
  const times = { messageAge: 0, maxAge: 20 * 256, helloTime: 2 * 256, forwardDelay: 15 * 256 };
  const claiming = (rootId: string) =>
    buildBpdu({
      kind: "rst",
      version: 2,
      flags: 0x0c,
      rootId,
      rootPathCost: 0,
      bridgeId: "9000.000000000111",
      portId: 0x8001,
      ...times,
    }, mac);
  for (let i = 0; i < 100; i++) {
    rstp.receive(1, claiming("1000.000000000111"));
    rstp.receive(1, claiming("9000.000000000111"));
  }
  assert.equal(rstp.port(1)!.rootBlocks, 100);
  assert.deepEqual(logs, [
    "port 1: root guard: bridge 9000.000000000111 offers root 1000.000000000111, better than ours: " +
    "port kept discarding (alternate) until that stops",
    "port 1: root guard: port released (that bridge offers worse now; if it flips again, holds are counted (stp), " +
    "not logged, for max age)",
  ]);
  // Max age (20 s) after its last hold, a new episode is logged again.
  for (let i = 0; i < 19; i++) rstp.tick(now += 1000);
  rstp.receive(1, claiming("1000.000000000111"));
  rstp.receive(1, claiming("9000.000000000111"));
  assert.deepEqual([logs.length, rstp.port(1)!.rootBlocks], [2, 101]);
  for (let i = 0; i < 20; i++) rstp.tick(now += 1000);
  rstp.receive(1, claiming("1000.000000000111"));
  assert.equal(logs.length, 3);
  assert.match(logs[2]!, /port kept discarding/);
});

Deno.test("root guard: an inferior bridge on the port is no cause; the port is designated and forwards", () => {
  const logs: string[] = [];
  const sim = rootGuardNet(logs);
  sim.bridge(2, 0x900, ["b"]);
  sim.run(10);
  const p = sim.rstp(0).port(2)!;
  assert.deepEqual([p.role, p.forwarding, p.rootBlocked, p.rootBlocks], [Role.Designated, true, false, 0]);
  assert.equal(sim.rstp(2).rootId, sim.rstp(1).bridgeId);
  assert.deepEqual(logs, []);
});

Deno.test("guards off (set or never set) change nothing: the same BPDUs, the same tree", () => {
  const runs = [false, true].map((touch) => {
    const { sim } = withRogue((r) => {
      if (!touch) return;
      for (const port of [1, 2]) {
        r.setBpduGuard(port, false);
        r.setRootGuard(port, false);
      }
    });
    sim.run(30);
    return { sim, sent: sim.sent.map((s) => `${s.bridge}:${s.port}:${Array.from(s.frame).join(",")}`) };
  });
  assert.deepEqual(runs[0]!.sent, runs[1]!.sent);
  const ours = runs[1]!.sim.rstp(0);
  assert.equal(ours.rootId, runs[1]!.sim.rstp(1).bridgeId, "without a guard the better bridge is root");
  for (const p of ours.ports()) assert.deepEqual([p.guardTrips, p.rootBlocks, p.guardTripped], [0, 0, false]);
});

Deno.test("guards hold against vde_switch's FSTP dialect too: BPDU guard trips, root guard blocks", () => {
  const logs: string[] = [];
  const queue: { to: "ours" | 1 | 2; port: number; frame: Uint8Array }[] = [];
  const ours = new Rstp({ mac: Uint8Array.of(2, 0, 0, 0, 0, 0x22), log: (l) => logs.push(l) }, {
    send: (port, frame) => {
      queue.push({ to: port === 1 ? 1 : 2, port: 1, frame });
    },
    setPortState: () => {},
    flush: () => {},
  });
  // Two FSTP switches with a better priority, on our ports 1 and 2.
  const fstp = [1, 2].map((n) =>
    new FstpModel(
      Uint8Array.of(2, 0, 0, 0, 0, n),
      4096,
      (_port, frame) => queue.push({ to: "ours", port: n, frame }),
    )
  );
  ours.setBpduGuard(1, true);
  ours.setRootGuard(2, true);
  const deliver = () => {
    for (let n = 0; queue.length > 0 && n < 10_000; n++) {
      const { to, port, frame } = queue.shift()!;
      if (to === "ours") ours.receive(port, frame);
      else fstp[to - 1]!.receive(port, frame);
    }
  };
  for (const [i, f] of fstp.entries()) {
    f.tick(0);
    f.enablePort(1);
    ours.tick(0);
    ours.enablePort(i + 1);
  }
  deliver();
  for (let s = 1; s <= 40; s++) {
    ours.tick(s * 1000);
    for (const f of fstp) f.tick(s * 1000);
    deliver();
  }
  assert.equal(ours.rootId, ours.bridgeId);
  assert.deepEqual([ours.port(1)!.guardTripped, ours.port(1)!.guardTrips], [true, 1]);
  const p2 = ours.port(2)!;
  assert.deepEqual([p2.role, p2.forwarding, p2.rootBlocked, p2.rootBlocks], [Role.Alternate, false, true, 1]);
  assert.equal(logs.filter((l) => l.includes("guard")).length, 2, logs.join("\n"));
});
