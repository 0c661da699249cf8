/**
 * Our RSTP next to vde_switch's FSTP (a model of it, _fstp_model.ts) on a
 * virtual clock: rings of both, cabled point to point, must end with one
 * root and the links both ends forward making a tree, and stay so past
 * FSTP's timers; and an FSTP port hears and answers FSTP's role code.
 */
import assert from "node:assert/strict";
import { Role, Rstp } from "../../src/switch/rstp.ts";
import { BpduFlag, buildBpdu, FstpRole, parseBpdu } from "../../src/wire/stp.ts";
import { FstpModel } from "./_fstp_model.ts";

interface Node {
  rootId: string;
  receive(port: number, frame: Uint8Array): void;
  tick(nowMs: number): void;
  enablePort(port: number): void;
  isForwarding(port: number): boolean;
}

/** Switches joined by cables (switch, port) = (switch, port); BPDUs delivered in order after each event. */
class Net {
  readonly nodes: Node[] = [];
  readonly cables: [number, number, number, number][] = [];
  readonly logs: string[] = [];
  #queue: { node: number; port: number; frame: Uint8Array }[] = [];
  #nowMs = 0;

  add(kind: "ours" | "fstp", mac: number, priority = 32768): void {
    const index = this.nodes.length;
    const address = new Uint8Array([0x02, 0, 0, 0, 0, mac]);
    const send = (port: number, frame: Uint8Array) => {
      this.#queue.push({ node: index, port, frame });
    };
    const node: Node = kind === "fstp" ? new FstpModel(address, priority, send) : new Rstp(
      { mac: address, priority, log: (line) => this.logs.push(line) },
      { send, setPortState: () => {}, flush: () => {} },
    );
    node.tick(this.#nowMs);
    this.nodes.push(node);
  }

  cable(a: number, pa: number, b: number, pb: number): void {
    this.cables.push([a, pa, b, pb]);
    this.nodes[a]!.enablePort(pa);
    this.nodes[b]!.enablePort(pb);
    this.#deliver();
  }

  run(seconds: number, each: () => void = () => {}): void {
    for (let s = 0; s < seconds; s++) {
      this.#nowMs += 1000;
      for (const n of this.nodes) n.tick(this.#nowMs);
      this.#deliver();
      each();
    }
  }

  #deliver(): void {
    for (let guard = 0; this.#queue.length > 0 && guard < 100_000; guard++) {
      const { node, port, frame } = this.#queue.shift()!;
      for (const [a, pa, b, pb] of this.cables) {
        if (a === node && pa === port) this.nodes[b]!.receive(pb, frame);
        else if (b === node && pb === port) this.nodes[a]!.receive(pa, frame);
      }
    }
  }

  /** Whether the cables both ends forward join every switch without a loop. */
  isTree(): boolean {
    const open = this.cables.filter(([a, pa, b, pb]) =>
      this.nodes[a]!.isForwarding(pa) && this.nodes[b]!.isForwarding(pb)
    );
    if (open.length !== this.nodes.length - 1) return false;
    const reached = new Set([0]);
    for (let grew = true; grew;) {
      grew = false;
      for (const [a, , b] of open) {
        if (reached.has(a) !== reached.has(b)) {
          reached.add(a).add(b);
          grew = true;
        }
      }
    }
    return reached.size === this.nodes.length;
  }

  roots(): string[] {
    return this.nodes.map((n) => n.rootId);
  }
}

/** A ring of three on ports 1 and 2: 0-1, 1-2, 2-0; `rootAt` gets priority 4096. */
function ring(kinds: ("ours" | "fstp")[], rootAt: number): Net {
  const net = new Net();
  kinds.forEach((kind, i) => net.add(kind, i + 1, i === rootAt ? 4096 : 32768));
  net.cable(0, 1, 1, 1);
  net.cable(1, 2, 2, 1);
  net.cable(2, 2, 0, 2);
  return net;
}

function assertSettles(net: Net, rootAt: number): void {
  net.run(30);
  const root = net.nodes[rootAt]!.rootId;
  assert.ok(root.startsWith("1000."), root);
  assert.deepEqual(net.roots(), net.nodes.map(() => root), "one root");
  // Past FSTP's reopening of ports that went quiet (4 to 8 hellos of 4 s) and its 12 s root timeout.
  let loops = 0;
  net.run(60, () => loops += net.isTree() ? 0 : 1);
  assert.equal(loops, 0, "seconds without a tree after convergence");
}

for (
  const [kinds, rootAt] of [
    [["fstp", "fstp", "ours"], 2],
    [["fstp", "fstp", "ours"], 0],
    [["fstp", "ours", "ours"], 0],
    [["fstp", "ours", "ours"], 1],
    [["ours", "fstp", "ours"], 1],
  ] as const
) {
  Deno.test(`a ring of ${kinds.join(", ")} with the ${kinds[rootAt]} switch ${rootAt} as root settles into one tree`, () => {
    assertSettles(ring([...kinds], rootAt), rootAt);
  });
}

Deno.test("a cut cable in a mixed ring: the tree reforms over the cable that was blocked", () => {
  const net = ring(["fstp", "ours", "ours"], 0);
  assertSettles(net, 0);
  // Cut the cable between the FSTP root and our switch 1: switch 1 must reach the root through switch 2.
  net.cables.splice(0, 1);
  (net.nodes[0] as FstpModel).disablePort(1);
  (net.nodes[1] as Rstp).disablePort(1);
  net.run(30);
  assert.ok(net.isTree(), "a tree of the two cables left");
  assert.deepEqual(net.roots(), net.nodes.map(() => net.nodes[0]!.rootId));
});

Deno.test("a port that hears FSTP says so once in the log and answers in FSTP's role code", () => {
  const sent: { port: number; frame: Uint8Array }[] = [];
  const logs: string[] = [];
  const ours = new Rstp(
    { mac: new Uint8Array([2, 0, 0, 0, 0, 9]), log: (line) => logs.push(line) },
    {
      send: (port, frame) => {
        sent.push({ port, frame });
      },
      setPortState: () => {},
      flush: () => {},
    },
  );
  ours.tick(0);
  ours.enablePort(1);
  ours.enablePort(2);
  const fstp = new FstpModel(new Uint8Array([2, 0, 0, 0, 0, 1]), 4096, (port, frame) => {
    if (port === 1) ours.receive(1, frame);
  });
  fstp.enablePort(1);
  fstp.tick(0);
  fstp.tick(4000);
  fstp.tick(8000);
  const view = ours.port(1)!;
  assert.equal(view.role, Role.Root);
  assert.ok(view.fstp);
  assert.ok(view.forwarding);
  assert.equal(ours.port(2)!.fstp, false);
  assert.equal(logs.length, 1, logs.join("\n"));
  assert.match(logs[0]!, /^port 1 hears vde_switch's FSTP \(bridge 1000\.020000000001\)/);
  // Our root port tells FSTP so in its code (01), every hello; port 2 speaks the standard's (11, designated).
  sent.length = 0;
  for (let t = 1000; t <= 8000; t += 1000) ours.tick(t);
  const codes = (port: number) =>
    sent.filter((s) => s.port === port).map((s) => {
      const bpdu = parseBpdu(s.frame);
      return bpdu.ok ? (bpdu.value.flags & BpduFlag.RoleMask) >> 2 : -1;
    });
  assert.ok(codes(1).length >= 3, `root port BPDUs: ${codes(1)}`);
  assert.ok(codes(1).every((c) => c === FstpRole.Root), `${codes(1)}`);
  assert.ok(codes(2).every((c) => c === 3), `${codes(2)}`);
});

Deno.test("FSTP's discarding code means designated when its vector is as good as ours, else a blocked port (agreement)", () => {
  const sent: number[] = [];
  const ours = new Rstp({ mac: new Uint8Array([2, 0, 0, 0, 0, 5]), priority: 4096 }, {
    send: (port) => {
      sent.push(port);
    },
    setPortState: () => {},
    flush: () => {},
  });
  ours.tick(0);
  ours.enablePort(1);
  // From a worse bridge, discarding its end: our designated port forwards at once on its agreement.
  const worse = buildBpdu({
    kind: "rst",
    version: 2,
    flags: (FstpRole.Discarding << 2) | BpduFlag.Proposal | BpduFlag.Agreement,
    rootId: ours.bridgeId,
    rootPathCost: 20_000_000,
    bridgeId: "8000.020000000007",
    portId: 0x8001,
    messageAge: 0,
    maxAge: 40 * 256,
    helloTime: 4 * 256,
    forwardDelay: 15 * 256,
  }, new Uint8Array([2, 0, 0, 0, 0, 7]));
  // FSTP's dialect: forward delay 0, timers little-endian seconds.
  worse.set([0, 0, 40, 0, 4, 0, 0, 0], 44);
  const parsed = parseBpdu(worse);
  assert.ok(parsed.ok && parsed.value.fstp === true);
  ours.receive(1, worse);
  assert.equal(ours.port(1)!.role, Role.Designated);
  assert.ok(ours.port(1)!.forwarding, "agreed: forwarding at once");
  // From a better root, discarding its end: its vector is still the designated one for this link.
  const better = worse.slice();
  better.set([0x10, 0x00, 2, 0, 0, 0, 0, 1], 22);
  better.set([0, 0, 0, 0], 30);
  ours.receive(1, better);
  assert.equal(ours.port(1)!.role, Role.Root);
  assert.equal(ours.rootId, "1000.020000000001");
});
