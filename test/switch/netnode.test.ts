/**
 * vdeplug4's node forwarding rules (libvdeplug_netnode.c), pure: hub
 * floods, switch learns by MAC and VLAN, multi copies the host's frames to
 * every joiner, bonding deals them round-robin; joiners of multi and
 * bonding reach the host only.
 */
import assert from "node:assert/strict";
import { HOST_PORT, NetNode, type NodeKind } from "../../src/switch/netnode.ts";

/** A frame from MAC ...:src to MAC ...:dst (0xff: broadcast), optionally tagged with `vlan`. */
function frame(dst: number, src: number, vlan?: number): Uint8Array {
  const f = new Uint8Array(vlan === undefined ? 60 : 64);
  f.set(dst === 0xff ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : [2, 0, 0, 0, 0, dst], 0);
  f.set([2, 0, 0, 0, 0, src], 6);
  if (vlan !== undefined) f.set([0x81, 0x00, vlan >> 8, vlan & 0xff, 0x08, 0x00], 12);
  else f.set([0x08, 0x00], 12);
  return f;
}

/** A node with joiners 1..n and a log of (port) outputs. */
function node(kind: NodeKind, n: number): { node: NetNode; out: number[] } {
  const out: number[] = [];
  const nd = new NetNode(kind, (port) => out.push(port));
  for (let p = 1; p <= n; p++) nd.join(p);
  return { node: nd, out };
}

Deno.test("hub: a joiner's frame goes to every other joiner and the host; the host's to every joiner", () => {
  const { node: hub, out } = node("hub", 3);
  hub.input(2, frame(1, 2), 0);
  assert.deepEqual(out.sort(), [HOST_PORT, 1, 3]);
  out.length = 0;
  hub.input(HOST_PORT, frame(1, 9), 0);
  assert.deepEqual(out.sort(), [1, 2, 3]);
});

Deno.test("switch: once both ends are learned, a unicast frame reaches its port alone (a third port sees none)", () => {
  const { node: sw, out } = node("switch", 3);
  sw.input(1, frame(0xff, 1), 0); // 1 says who it is: flooded
  assert.deepEqual(out.sort(), [HOST_PORT, 2, 3]);
  out.length = 0;
  sw.input(2, frame(1, 2), 0);
  assert.deepEqual(out, [1]);
  out.length = 0;
  sw.input(1, frame(2, 1), 0);
  assert.deepEqual(out, [2]);
});

Deno.test("switch: the host is a port: learned behind it, a frame goes to it alone", () => {
  const { node: sw, out } = node("switch", 2);
  sw.input(HOST_PORT, frame(0xff, 7), 0);
  assert.deepEqual(out.sort(), [1, 2]);
  out.length = 0;
  sw.input(1, frame(7, 1), 0);
  assert.deepEqual(out, [HOST_PORT]);
  out.length = 0;
  // To its own port: nowhere.
  sw.input(HOST_PORT, frame(7, 8), 0);
  assert.deepEqual(out, []);
});

Deno.test("switch: MAC and VLAN make the key, and tagged frames are forwarded as they are (a trunk)", () => {
  const { node: sw, out } = node("switch", 3);
  sw.input(1, frame(0xff, 1, 10), 0);
  out.length = 0;
  // Learned on VLAN 10 only: untagged to the same MAC floods.
  sw.input(2, frame(1, 2), 0);
  assert.deepEqual(out.sort(), [HOST_PORT, 1, 3]);
  out.length = 0;
  sw.input(2, frame(1, 2, 10), 0);
  assert.deepEqual(out, [1]);
  assert.equal(sw.portOf(new Uint8Array([2, 0, 0, 0, 0, 1]), 10), 1);
});

Deno.test("switch: an entry not refreshed for expiretime is forgotten, and one a port learned goes with the port", () => {
  const out: number[] = [];
  const sw = new NetNode("switch", (p) => out.push(p), { expireSeconds: 5 });
  for (const p of [1, 2, 3]) sw.join(p);
  sw.input(1, frame(0xff, 1), 0);
  sw.input(3, frame(0xff, 3), 0);
  out.length = 0;
  sw.input(2, frame(1, 2), 10);
  assert.deepEqual(out.sort(), [HOST_PORT, 1, 3], "expired: flooded");
  sw.leave(3);
  assert.equal(sw.portOf(new Uint8Array([2, 0, 0, 0, 0, 3])), -1);
});

Deno.test("multi: the host's frames go to every joiner, a joiner's to the host only", () => {
  const { node: multi, out } = node("multi", 3);
  multi.input(HOST_PORT, frame(1, 9), 0);
  assert.deepEqual(out.sort(), [1, 2, 3]);
  out.length = 0;
  multi.input(2, frame(0xff, 2), 0);
  assert.deepEqual(out, [HOST_PORT]);
});

Deno.test("bonding: the host's frames go round-robin over the joiners, a joiner's to the host only", () => {
  const { node: bond, out } = node("bonding", 3);
  for (let i = 0; i < 6; i++) bond.input(HOST_PORT, frame(0xff, 9), 0);
  assert.deepEqual(out, [2, 3, 1, 2, 3, 1]);
  out.length = 0;
  bond.leave(2);
  for (let i = 0; i < 4; i++) bond.input(HOST_PORT, frame(1, 9), 0);
  assert.deepEqual(out.length, 4);
  assert.deepEqual([...new Set(out)].sort(), [1, 3]);
  out.length = 0;
  bond.input(3, frame(0xff, 3), 0);
  assert.deepEqual(out, [HOST_PORT]);
});

Deno.test("a runt or a frame from a port that is not the node's is counted and dropped", () => {
  for (const kind of ["hub", "switch", "multi", "bonding"] as const) {
    const { node: nd, out } = node(kind, 2);
    nd.input(1, new Uint8Array(13), 0);
    nd.input(HOST_PORT, new Uint8Array(0), 0);
    nd.input(7, frame(0xff, 7), 0);
    assert.deepEqual(out, [], kind);
    assert.equal(nd.dropped, 3, kind);
  }
});

Deno.test("bonding with no joiner drops the host's frames quietly", () => {
  const { node: bond, out } = node("bonding", 0);
  bond.input(HOST_PORT, frame(1, 9), 0);
  assert.deepEqual(out, []);
});
