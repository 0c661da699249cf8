/**
 * The switch's data-plane thread: a Switch with `dataplane: "thread"` in
 * process (links that stay on the main thread cross its rings; the control
 * copy of the engine reads the thread's MAC table and counters and sends it
 * every change), and `vde switch --dataplane thread` serving Debian's
 * vde_plug clients, whose sockets the thread reads and writes.
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { formatMac } from "../../src/wire/ethernet.ts";
import { Direction, sharedEngineState, SwitchEngine } from "../../src/switch/engine.ts";
import { SwitchThread } from "../../src/dataplane/switch_thread.ts";
import { McastSnooping } from "../../src/switch/mcast_snooping.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import {
  assertSent,
  BROADCAST,
  type ClientSet,
  ethFrame,
  mac,
  type RawClient,
  sameBytes,
  sleep,
  tagOf,
  threadWarmed,
  until,
  waitForNoClientFiles,
  waitForPortFiles,
  withSwitch,
} from "../helpers/vde_clients.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { buildIgmpQuery } from "../../src/wire/igmp.ts";
import { igmp, tagsSent as tags, udpToGroup } from "../helpers/igmp.ts";
import { ConsoleContext } from "../../src/console/switch/context.ts";
import { switchCommands } from "../../src/console/switch/switch_commands.ts";
import { FakeSession } from "../helpers/fake_session.ts";
import { formatReply } from "../../src/console/reply_format.ts";
import { parsePortListing } from "../../src/console/switch/listings.ts";
import { SwitchStatus } from "../../src/web/status.ts";
import { renderMetrics } from "../../src/web/metrics.ts";

const MAC_A = mac(0xa);
const MAC_B = mac(0xb);

/** A threaded switch with lone memory links on ports 1..n; always closed. */
async function withThreadedSwitch(
  n: number,
  fn: (sw: Switch, links: MemoryLink[]) => Promise<void>,
): Promise<void> {
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  const links: MemoryLink[] = [];
  try {
    for (let i = 1; i <= n; i++) {
      const link = new MemoryLink(`memory ${i}`);
      sw.attach(link, { port: i });
      links.push(link);
    }
    await threadWarmed(sw);
    await fn(sw, links);
  } finally {
    await sw.close();
  }
}

/** A UDP datagram to `group` (a.b.c.d) from A as an Ethernet frame, carrying `tag` in its payload. */
const udpTo = (group: number[], tag: number) => udpToGroup(group, tag, MAC_A);

Deno.test("threaded switch floods a broadcast from one main-thread link to the others, not back", async () => {
  await withThreadedSwitch(3, async (sw, [a, b, c]) => {
    assert.equal(sw.threaded, true);
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    await until("B and C get A's broadcast", () => tags(b!).includes(1) && tags(c!).includes(1));
    assert.ok(sameBytes(b!.sent[0]!, ethFrame(BROADCAST, MAC_A, 1)), "the frame crosses unchanged");
    assert.deepEqual(tags(a!), [], "nothing comes back to the source");
  });
});

Deno.test("threaded switch learns on its thread and the control copy lists the MAC and counters", async () => {
  await withThreadedSwitch(3, async (sw, [a, b, c]) => {
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    b!.receive(ethFrame(BROADCAST, MAC_B, 2));
    await until("both broadcasts arrive", () => tags(c!).includes(1) && tags(c!).includes(2));
    const learned = [...sw.engine.macTable.entries()].map((e) => `${e.mac}@${e.port}`).sort();
    assert.deepEqual(learned, ["02:00:00:00:00:0a@1", "02:00:00:00:00:0b@2"]);
    b!.receive(ethFrame(MAC_A, MAC_B, 3));
    await until("A gets B's unicast", () => tags(a!).includes(3));
    // The unicast went to A only: C saw the two broadcasts and nothing else.
    c!.receive(ethFrame(BROADCAST, mac(0xc), 4));
    await until("the marker from C reaches A", () => tags(a!).includes(4));
    assert.deepEqual(tags(c!), [1, 2]);
    const stats = sw.engine.portStats(2);
    assert.equal(stats.framesIn, 2);
    assert.equal(stats.framesOut, 2, "A's broadcast and C's marker");
  });
});

Deno.test("threaded switch counts floods and drops on its thread, and the console and /metrics show them", async () => {
  await withThreadedSwitch(3, async (sw, [a, b, c]) => {
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    a!.receive(new Uint8Array(10));
    a!.receive(new Uint8Array(11));
    // C's frame to A learns C on port 3; a frame from port 3 to C stays there (filtered).
    c!.receive(ethFrame(MAC_A, mac(0xc), 2));
    await until("A gets C's unicast", () => tags(a!).includes(2));
    c!.receive(ethFrame(mac(0xc), mac(0xd), 3));
    b!.receive(ethFrame(BROADCAST, MAC_B, 4));
    await until("C gets B's broadcast", () => tags(c!).includes(4));
    await until("the control copy reads the thread's counts", () => sw.engine.counters.flooded === 2);
    assert.deepEqual(
      { ...sw.engine.counters },
      {
        // Shorter than an Ethernet header: no frame, dropped by the link before the switch (BaseLink's
        // one rule for every link), counted in its dropsIn.
        short: 0,
        oversize: 0,
        badPort: 0,
        flooded: 2,
        unicast: 1,
        filtered: 1,
        vlanDropped: 0,
        mirrorDropped: 0,
        snoopDropped: 0,
        stpDropped: 0,
      },
    );
    assert.equal(a!.stats.dropsIn, 2, "the two runts are the link's drops");
    const commands = switchCommands(new ConsoleContext(sw));
    const reply = formatReply((await commands.execute("counters", new FakeSession(commands)))!);
    assert.match(reply, /^flooded +2$/m);
    assert.match(reply, /^short +0$/m);
    assert.match(reply, /^filtered +1$/m);
    const status = new SwitchStatus(sw, "/tmp/sw");
    const metrics = renderMetrics(status.snapshot());
    status.close();
    assert.match(metrics, /^vde_switch_frames_total\{switch="\/tmp\/sw",kind="flooded"\} 2$/m);
    assert.match(metrics, /^vde_switch_drops_total\{switch="\/tmp\/sw",reason="short"\} 0$/m);
  });
});

Deno.test("threaded switch applies VLAN and hub changes made on the control copy, in order", async () => {
  await withThreadedSwitch(3, async (sw, [a, b, c]) => {
    assert.equal(sw.engine.createVlan(5), "ok");
    assert.equal(sw.engine.setPortVlan(2, 5), "ok");
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    await until("C gets A's broadcast", () => tags(c!).includes(1));
    assert.deepEqual(tags(b!), [], "port 2 is in VLAN 5: A's VLAN 0 broadcast stays out");
    sw.engine.setPortVlan(2, 0);
    sw.engine.hub = true;
    assert.equal(sw.engine.hub, true);
    a!.receive(ethFrame(MAC_B, MAC_A, 2));
    await until("in hub mode B and C get A's unicast", () => tags(b!).includes(2) && tags(c!).includes(2));
  });
});

Deno.test("threaded switch handles a main-thread link's frames and the console's changes in the order they were made", async () => {
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  try {
    const [a, b, c] = [1, 2, 3].map((port) => {
      const link = new MemoryLink(`memory ${port}`);
      sw.attach(link, { port });
      return link;
    });
    // All of it before the thread has even started: it finds a frame, two changes and a frame waiting.
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    assert.equal(sw.engine.createVlan(5), "ok");
    assert.equal(sw.engine.setPortVlan(2, 5), "ok");
    a!.receive(ethFrame(BROADCAST, MAC_A, 2));
    await until("C gets both broadcasts", () => tags(c!).includes(1) && tags(c!).includes(2), 60_000);
    assert.deepEqual(tags(b!), [1], "B was in VLAN 0 for the first broadcast only");
  } finally {
    await sw.close();
  }
});

Deno.test("threaded switches with spanning tree joined by two wires block one port and a broadcast arrives once", async () => {
  const switches = [
    new Switch({ numPorts: 8, dataplane: "thread" }),
    new Switch({ numPorts: 8, dataplane: "thread" }),
  ];
  const clients = [new MemoryLink("client 1"), new MemoryLink("client 2")];
  try {
    switches.forEach((sw, i) => {
      const stp = sw.engine.enableStp({ mac: mac(0x50 + i), priority: i === 0 ? 32768 : 4096 });
      sw.attach(clients[i]!, { port: 5 });
      stp.setAdminEdge(5, true);
    });
    for (const port of [1, 2]) {
      const [x, y] = MemoryLink.pair(`s1 port ${port}`, `s2 port ${port}`);
      switches[0]!.attach(x, { port });
      switches[1]!.attach(y, { port });
    }
    for (const sw of switches) await threadWarmed(sw);
    const cablePorts = () =>
      switches.flatMap((sw) => sw.engine.stp!.ports().filter((p) => p.port === 1 || p.port === 2));
    await until(
      "one cable port of four discards, the rest forward",
      () => cablePorts().filter((p) => !p.forwarding).length === 1 && cablePorts().length === 4,
      20_000,
    );
    assert.equal(switches[1]!.engine.stp!.rootId, switches[1]!.engine.stp!.bridgeId, "priority 4096 is root");
    const owner = switches.find((sw) => sw.engine.stp!.ports().some((p) => p.port <= 2 && !p.forwarding))!;
    const blocked = owner.engine.stp!.ports().find((p) => p.port <= 2 && !p.forwarding)!;
    const dropsBefore = owner.engine.portStats(blocked.port).dropsIn;
    clients[0]!.receive(ethFrame(BROADCAST, MAC_A, 7));
    await until("the other client gets the broadcast", () => tags(clients[1]!).includes(7));
    // The copy that went round the loop ends on the discarding port: once it is
    // dropped there, nothing of the broadcast is in flight any more.
    await until(
      "the thread dropped what arrived on the discarding port",
      () => owner.engine.portStats(blocked.port).dropsIn > dropsBefore,
    );
    assert.equal(tags(clients[1]!).filter((t) => t === 7).length, 1, "once: the loop is cut");
    assert.equal(tags(clients[0]!).filter((t) => t === 7).length, 0, "it does not come back");
  } finally {
    await Promise.all(switches.map((sw) => sw.close()));
  }
});

Deno.test("threaded switch snoops IGMP on its thread: a member gets the group, a non-member not, and the console lists it", async () => {
  await withThreadedSwitch(4, async (sw, [a, b, c, router]) => {
    const snoop = new McastSnooping(mac(0x5e));
    sw.engine.snooping = snoop;
    const group = [239, 1, 1, 1];
    // A query from port 4 asking for answers within 0.1 s: another querier exists, so snooping governs
    // forwarding once that delay passed.
    router!.receive(buildIgmpQuery(mac(0x44), null, 1));
    b!.receive(igmp(0x16, group));
    await until(
      "the console's table lists port 2 in the group, and the querier governs forwarding",
      () =>
        snoop.groups().some((g) => g.port === 2 && g.group === "239.1.1.1") &&
        snoop.routers().some((r) => r.port === 4) && snoop.querierState().ipv4,
    );
    a!.receive(udpTo(group, 1));
    await until("the member gets the datagram", () => tags(b!).includes(1));
    await until("the router port gets it too", () => tags(router!).includes(1));
    a!.receive(ethFrame(BROADCAST, MAC_A, 2));
    await until("a broadcast marker reaches C", () => tags(c!).includes(2));
    assert.equal(tags(c!).includes(1), false, "the non-member got nothing of the group");
    sw.engine.snooping = null;
    a!.receive(udpTo(group, 3));
    await until("snooping off: the group is flooded to C too", () => tags(c!).includes(3));
  });
});

Deno.test("threaded switch: mcast/print says our querier is active once the thread routes by it, snooping and querier turned on together", async () => {
  await withThreadedSwitch(3, async (sw, [a, _b, c]) => {
    const commands = switchCommands(new ConsoleContext(sw));
    const session = new FakeSession(commands);
    const active = async () =>
      /querier active: ipv4 yes/.test(formatReply((await commands.execute("mcast/print", session))!));
    // A switch some seconds old: the thread's machine takes that clock as it is made (a tick the console's
    // copy is given later), and the thread's ticks are whole seconds from it.
    await sleep(3000);
    // Both before that tick reached the console's copy.
    await Promise.all([
      commands.execute("mcast/snooping 1", session),
      commands.execute("mcast/querier 1", session),
    ]);
    /** Whether C (no member, no router port) gets a datagram to an unregistered group: flooded. */
    let tag = 0;
    const flooded = async () => {
      const probe = ++tag * 2;
      a!.receive(udpTo([239, 9, 9, 9], probe));
      a!.receive(ethFrame(BROADCAST, MAC_A, probe + 1));
      await until("the broadcast marker behind the probe reaches C", () => tags(c!).includes(probe + 1));
      return tags(c!).includes(probe);
    };
    assert.equal(await active(), false, "not active as it starts");
    assert.equal(await flooded(), true, "and flooded");
    // A response interval (10 s) after the thread started it. Said before, it was said as soon as the
    // copy's clock (the switch's age) passed 10 s, while the thread flooded for 3 s more.
    await until("mcast/print says our querier is active", active, 15_000);
    assert.equal(await flooded(), false, "the thread routes by it: the unregistered group is not flooded");
  });
});

Deno.test("threaded switch shows a capture each frame in and out, numbered as the engine numbers them", async () => {
  await withThreadedSwitch(3, async (sw, [a, b, c]) => {
    const seen: string[] = [];
    sw.engine.observer = (port, direction, frame, seq) =>
      seen.push(`${seq}:${port}${direction === Direction.In ? "<" : ">"}${tagOf(frame)}`);
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    b!.receive(ethFrame(MAC_A, MAC_B, 2));
    await until("A gets B's unicast", () => tags(a!).includes(2));
    await until("the capture saw both frames", () => seen.length === 5);
    assert.deepEqual(seen, ["1:1<1", "1:2>1", "1:3>1", "2:2<2", "2:1>2"]);
    sw.engine.observer = null;
    c!.receive(ethFrame(BROADCAST, mac(0xc), 3));
    await until("A gets C's broadcast", () => tags(a!).includes(3));
    assert.equal(seen.length, 5, "no copies once the capture stopped");
  });
});

Deno.test("threaded switch shows a capture the BPDUs its spanning tree sends, each a frame of its own", async () => {
  await withThreadedSwitch(2, async (sw, [a]) => {
    const seen: { seq: number; port: number; bpdu: boolean }[] = [];
    sw.engine.observer = (port, direction, frame, seq) => {
      if (direction === Direction.Out) seen.push({ seq, port, bpdu: frame[0] === 1 && frame[1] === 0x80 });
    };
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    await until(
      "the capture saw A's broadcast leave by port 2",
      () => seen.some((s) => !s.bpdu && s.port === 2),
    );
    sw.engine.enableStp({ mac: mac(0x5f) });
    await until(
      "the capture saw BPDUs leave by both ports",
      () => [1, 2].every((p) => seen.some((s) => s.bpdu && s.port === p)),
    );
    const seqs = seen.map((s) => s.seq);
    assert.equal(new Set(seqs).size, seqs.length, `every copy is numbered as a frame of its own: ${seqs}`);
  });
});

Deno.test("threaded switch delivers the BPDUs spanning tree sends as a client plugs in, none dropped for coming before the port", async () => {
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  try {
    await threadWarmed(sw);
    const stp = sw.engine.enableStp({ mac: mac(0x5e) });
    const link = new MemoryLink("memory 1");
    sw.attach(link, { port: 1 });
    // The machine sends as the port comes up, in the same call that activates it: every one of those
    // reaches the link and the port's counters, as the later hellos do.
    await until(
      "the link got every BPDU the machine sent, and port/print counts them",
      () => {
        const sent = stp.port(1)!.bpdusOut;
        return sent > 0 && link.sent.length === sent && sw.engine.portStats(1).framesOut === sent;
      },
    );
  } finally {
    await sw.close();
  }
});

Deno.test("threaded switch copies a mirrored port's frames to the mirror output, which forwards nothing", async () => {
  await withThreadedSwitch(3, async (sw, [a, b, m]) => {
    assert.equal(sw.engine.addMirror(3, [1]), null);
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    await until("B and the mirror get A's broadcast", () => tags(b!).includes(1) && tags(m!).includes(1));
    m!.receive(ethFrame(BROADCAST, mac(0xc), 2));
    b!.receive(ethFrame(BROADCAST, MAC_B, 3));
    await until("A gets B's broadcast", () => tags(a!).includes(3));
    assert.equal(tags(a!).includes(2) || tags(b!).includes(2), false, "a mirror output's frames are dropped");
    await until("the mirror sees B's frame leave by port 1", () => tags(m!).includes(3));
    assert.equal(sw.engine.delMirror(3), true);
    a!.receive(ethFrame(BROADCAST, MAC_A, 4));
    await until("port 3 forwards again: it gets A's broadcast", () => tags(m!).includes(4));
  });
});

Deno.test("threaded switch keeps forwarding after the port count changes", async () => {
  await withThreadedSwitch(2, async (sw, [a, b]) => {
    assert.equal(sw.setNumPorts(64), true);
    const c = new MemoryLink("memory 40");
    sw.attach(c, { port: 40 });
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    await until("B and port 40 get A's broadcast", () => tags(b!).includes(1) && tags(c).includes(1));
    c.receive(ethFrame(MAC_A, mac(0xc), 2));
    await until("A gets port 40's unicast", () => tags(a!).includes(2));
    assert.equal(sw.engine.portStats(40).framesIn, 1);
  });
});

Deno.test("threaded switch carries a burst of 5,000 frames between main-thread links in order, none lost", async () => {
  await withThreadedSwitch(2, async (sw, [a, b]) => {
    b!.receive(ethFrame(BROADCAST, MAC_B, 0));
    await until("A learns B", () => tags(a!).includes(0));
    for (let i = 1; i <= 5000; i++) a!.receive(ethFrame(MAC_B, MAC_A, i));
    await until("B has the whole burst", () => b!.sent.length === 5000, 20_000);
    assert.deepEqual(tags(b!), Array.from({ length: 5000 }, (_, i) => i + 1));
    assert.equal(sw.ringDrops, 0);
  });
});

Deno.test("threaded switch resets counters and flushes its MAC table when the console asks", async () => {
  await withThreadedSwitch(2, async (sw, [a, b]) => {
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    await until("B gets the broadcast", () => tags(b!).includes(1));
    await until("the thread counted it", () => sw.engine.portStats(1).framesIn === 1);
    sw.engine.resetCounters(1);
    await until("the counters are zero", () => sw.engine.portStats(1).framesIn === 0);
    assert.equal(sw.engine.macTable.size, 1);
    sw.engine.macTable.clear();
    await until("the table is empty", () => sw.engine.macTable.size === 0);
  });
});

Deno.test("threaded switch forgets one port's MACs on its thread when the console flushes that port", async () => {
  await withThreadedSwitch(2, async (sw, [a, b]) => {
    a!.receive(ethFrame(BROADCAST, MAC_A, 1));
    b!.receive(ethFrame(BROADCAST, MAC_B, 2));
    await until("the thread learnt both", () => sw.engine.macTable.size === 2);
    sw.engine.flushMacs(1);
    await until("port 1's MAC is gone", () => sw.engine.macTable.size === 1);
    assert.deepEqual([...sw.engine.macTable.entries()].map((e) => e.port), [2]);
  });
});

Deno.test("threaded switch ages learnt MACs out on its thread, its table of 131,072 slots walked in slices", async () => {
  await withThreadedSwitch(2, async (sw, [a, b]) => {
    sw.engine.gcIntervalSeconds = 1;
    sw.engine.expireSeconds = 2;
    for (let i = 0; i < 1000; i++) a!.receive(ethFrame(BROADCAST, mac(0x100 + i), i));
    await until("the thread learnt 1,000 MACs", () => sw.engine.macTable.size === 1000, 20_000);
    assert.equal(sw.engine.macTable.slots, 131072, "the thread's table is at full size from the start");
    assert.equal(sw.engine.aging, false, "the control copy never ages: the thread does");
    // Listed while the thread removes them: only real entries, never one half gone.
    const learnt = new Set(Array.from({ length: 1000 }, (_, i) => formatMac(mac(0x100 + i))));
    await until("every MAC aged out", () => {
      for (const e of sw.engine.macTable.entries()) {
        assert.ok(learnt.has(e.mac) && e.port === 1 && Number.isFinite(e.lastSeen), JSON.stringify(e));
      }
      return sw.engine.macTable.size === 0;
    }, 30_000);
    b!.sent.length = 0;
    b!.receive(ethFrame(mac(0x100), MAC_B, 1));
    await until("a unicast to an aged-out MAC is flooded again", () => tags(a!).includes(1));
  });
});

Deno.test("vde switch --dataplane thread forwards between vde_plug clients and lists them on its console", async () => {
  await withSwitch("ours", { extraArgs: ["--dataplane", "thread"] }, async ({ sw, dir, clients }) => {
    const a = clients.vdePlug(dir);
    const b = clients.vdePlug(dir);
    const c = clients.vdePlug(dir);
    await waitForPortFiles(dir, 3);
    await until("the switch says it forwards on its thread", () => sw.stderr().includes("data-plane thread"));
    const bcA = ethFrame(BROADCAST, MAC_A, 1);
    await a.send(bcA);
    assert.ok(sameBytes(await b.waitTag(1), bcA), "B got A's broadcast intact");
    await c.waitTag(1);
    await b.send(ethFrame(BROADCAST, MAC_B, 2));
    await Promise.all([a.waitTag(2), c.waitTag(2)]);
    const ab = ethFrame(MAC_B, MAC_A, 3, 1514);
    await a.send(ab, ethFrame(BROADCAST, MAC_A, 4));
    await c.waitTag(4);
    assert.ok(sameBytes(await b.waitTag(3), ab), "B got A's unicast intact");
    assert.equal(c.hasTag(3), false, "C does not see a learned unicast");
    const console = await MgmtClient.connect(`${dir}/mgmt`);
    const reply = await console.command("hash/print");
    console.close();
    const macs = (reply.lines ?? []).join("\n");
    assert.match(macs, /02:00:00:00:00:0a VLAN 0000 to port: 00[1-3]/);
    assert.match(macs, /02:00:00:00:00:0b/);
    // A client that leaves frees its port: the thread let go of the socket, and the file is gone.
    await clients.stopAll();
    await waitForNoClientFiles(dir);
  });
});

/** Two raw clients on `dir`, A and B, each known to the switch by a broadcast the other got. */
async function knownPair(dir: string, clients: ClientSet): Promise<[RawClient, RawClient]> {
  const a = await clients.raw(dir);
  const b = await clients.raw(dir);
  assertSent(a.send(ethFrame(BROADCAST, MAC_A, 1)), "A's broadcast");
  await b.waitTag(1);
  assertSent(b.send(ethFrame(BROADCAST, MAC_B, 2)), "B's broadcast");
  await a.waitTag(2);
  return [a, b];
}

/** Waits until `b` has the frames tagged 1000 to 1000 + count - 1, and checks they came in that order. */
async function assertAllInOrder(b: RawClient, count: number): Promise<void> {
  const got: number[] = [];
  await until(`${count} frames at B`, () => {
    b.poll();
    for (const f of b.frames.splice(0)) if (tagOf(f) >= 1000) got.push(tagOf(f));
    return got.length >= count;
  });
  assert.deepEqual(got, [...Array(count).keys()].map((i) => 1000 + i), "every frame, in order");
}

Deno.test("threaded switch holds frames for a client whose queue is full and delivers them in order once it reads", async () => {
  await withSwitch("ours", { extraArgs: ["--dataplane", "thread"] }, async ({ dir, clients }) => {
    const [a, b] = await knownPair(dir, clients);
    // 300 jumbo frames (2.7 MB) to B, which does not read meanwhile: the switch's socket towards it
    // takes about 130 (its 1 MiB send buffer, doubled by the kernel, at 16 KB of accounting each).
    const count = 300;
    for (let i = 0; i < count; i++) {
      const frame = ethFrame(MAC_B, MAC_A, 1000 + i, 9000);
      await until(`A's frame ${i} sent`, () => a.send(frame) === 0);
    }
    // Give the thread time to forward what it can (and, before, drop the rest).
    await sleep(200);
    await assertAllInOrder(b, count);
  });
});

Deno.test("threaded switch forwards a burst that fills its batches, then a lone frame each way once it has slept", async () => {
  await withSwitch("ours", { extraArgs: ["--dataplane", "thread"] }, async ({ sw, dir, clients }) => {
    const [a, b] = await knownPair(dir, clients);
    // Queued while the switch is stopped, A's frames reach its thread as full batches of 64 (a
    // drain that goes on after a full one, and a sendmmsg of a whole batch).
    const count = 100;
    Deno.kill(sw.pid, "SIGSTOP");
    try {
      for (let i = 0; i < count; i++) assertSent(a.send(ethFrame(MAC_B, MAC_A, 1000 + i)), `A's frame ${i}`);
    } finally {
      Deno.kill(sw.pid, "SIGCONT");
    }
    await assertAllInOrder(b, count);
    // Idle, the thread blocks again (its poll after a burst is over): a lone frame each way wakes it.
    await sleep(100);
    assertSent(a.send(ethFrame(MAC_B, MAC_A, 3)), "A's lone frame");
    await b.waitTag(3);
    assertSent(b.send(ethFrame(MAC_A, MAC_B, 4)), "B's lone frame");
    await a.waitTag(4);
  });
});

Deno.test("switch thread still relays a BPDU and a snooped IGMP report when a flood has filled its ring towards the main thread", async () => {
  const state = sharedEngineState();
  const reader = new SwitchEngine({ numPorts: 8, shared: { state, writer: false } }, () => {});
  let data = 0;
  const bpdus: number[] = [];
  const snooped: number[] = [];
  const thread = new SwitchThread({ numPorts: 8, hashSeed: 1 }, state, {
    frame: () => data++,
    failed: () => {},
    event: () => {},
    observed: () => {},
    bpdu: (port) => bpdus.push(port),
    snooped: (port) => snooped.push(port),
    snoopTick: () => {},
  });
  try {
    for (const port of [1, 2, 3]) {
      thread.command({ op: "call", method: "activatePort", args: [port] });
      thread.command({ op: "remote", port, count: 1 });
    }
    // Spanning tree relayed to this thread, every port forwarding; snooping on.
    thread.command({ op: "stp", on: true });
    for (const port of [1, 2, 3]) {
      thread.command({ op: "call", method: "setStpPortState", args: [port, true, true] });
    }
    thread.command({ op: "snooping", settings: new McastSnooping(mac(0x5e)).settings });
    await threadWarmed(thread);
    thread.input(1, ethFrame(BROADCAST, MAC_A, 0, 1514));
    await until("the thread forwards", () => data === 2, 20_000);
    // This thread stays busy (it does not drain ringOut) while 2,500 full-size broadcasts each leave twice
    // towards it: 7.6 MB for a 4 MiB ring. Then a BPDU and an IGMP report, which the thread relays last.
    const flood = 2500;
    for (let i = 1; i <= flood; i++) thread.input(1, ethFrame(BROADCAST, MAC_A, i, 1514));
    const bpdu = ethFrame(new Uint8Array([0x01, 0x80, 0xc2, 0, 0, 0]), MAC_A, 0, 60);
    thread.input(2, bpdu);
    thread.input(3, igmp(0x16, [239, 1, 1, 1]));
    assert.equal(thread.ringDrops, 0, "the flood fits ringIn");
    const deadline = Date.now() + 20_000;
    const taken = () =>
      reader.portStats(1).framesIn + reader.portStats(2).framesIn + reader.portStats(3).framesIn;
    while (taken() < flood + 3 && Date.now() < deadline) { /* busy: ringOut is not drained meanwhile */ }
    assert.equal(taken(), flood + 3, "the thread took every frame in");
    await until("the BPDU reached the machine's side", () => bpdus.length === 1);
    await until("so did the IGMP report", () => snooped.length === 1);
    assert.deepEqual([bpdus[0], snooped[0]], [2, 3]);
    assert.ok(data < 2 * flood, `the ring was full: ${data} of ${2 * flood} flooded copies crossed`);
    assert.ok(reader.portStats(2).dropsOut > 0, "the copies that did not fit are counted as drops");
  } finally {
    await thread.stop();
  }
});

Deno.test("threaded switch: port/resetcounter then port/print in one session shows zeros, 200 times over", async () => {
  await withThreadedSwitch(2, async (sw, [a]) => {
    const commands = switchCommands(new ConsoleContext(sw));
    const session = new FakeSession(commands);
    const run = async (line: string) => (await commands.execute(line, session))!;
    const stale: string[] = [];
    for (let i = 0; i < 200; i++) {
      a!.receive(ethFrame(BROADCAST, MAC_A, i));
      await until(`port 1 counts frame ${i}`, () => sw.engine.portStats(1).framesIn > 0, 20_000);
      // Every other round resets all ports (one thread command per port), the others port 1 alone.
      assert.equal((await run(i % 2 === 0 ? "port/resetcounter" : "port/resetcounter 1")).code, 0);
      const [port] = parsePortListing((await run("port/print 1")).lines ?? []);
      const counts = `${port?.framesIn}/${port?.bytesIn}/${port?.framesOut}/${port?.bytesOut}`;
      if (counts !== "0/0/0/0") stale.push(`round ${i}: ${counts}`);
    }
    assert.deepEqual(stale, [], "port 1's counters read right after the reset");
  });
});
