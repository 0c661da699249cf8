import assert from "node:assert/strict";
import { MAX_VLAN, NO_VLAN, VlanTable } from "../../src/switch/vlan_table.ts";

Deno.test("a new VLAN table is one flat LAN: VLAN 0 with every port untagged", () => {
  const t = new VlanTable(4);
  assert.equal(t.flat, true);
  assert.deepEqual(t.vlans(), [0]);
  assert.deepEqual(t.members(0).map((m) => m.port), [0, 1, 2, 3]);
  assert.ok(t.members(0).every((m) => !m.tagged));
});

Deno.test("VLAN ids take vde_switch 2.3.2's ranges: create 1..4093, the rest 0..4093", () => {
  const t = new VlanTable(4);
  assert.equal(t.create(0), "invalid");
  assert.equal(t.create(MAX_VLAN + 1), "invalid");
  assert.equal(t.create(1.5), "invalid");
  assert.equal(t.create(MAX_VLAN), "ok");
  assert.equal(t.create(MAX_VLAN), "exists");
  assert.equal(t.addPort(MAX_VLAN + 1, 1), "invalid");
  assert.equal(t.addPort(7, 1), "missing");
  assert.equal(t.addPort(MAX_VLAN, 4), "invalid", "port out of range");
  assert.equal(t.remove(9), "missing");
  assert.equal(t.setUntagged(1, NO_VLAN + 1), "invalid");
  assert.equal(t.setUntagged(1, 7), "missing");
});

Deno.test("a port is a member of its untagged VLAN and of the VLANs it was added to, tagged", () => {
  const t = new VlanTable(4);
  t.create(5);
  assert.equal(t.addPort(5, 1), "ok");
  assert.equal(t.flat, false);
  assert.equal(t.setUntagged(2, 5), "ok");
  assert.deepEqual(t.members(5), [{ port: 1, tagged: true }, { port: 2, tagged: false }]);
  assert.deepEqual(t.members(0).map((m) => m.port), [0, 1, 3], "port 2 left VLAN 0");
  assert.equal(t.delPort(5, 2), "in-use", "its untagged VLAN");
  assert.equal(t.delPort(5, 1), "ok");
  assert.equal(t.delPort(5, 1), "ok", "again: nothing to do, as vde_switch answers");
});

Deno.test("a VLAN with members cannot be removed; VLAN 0 can once it is empty", () => {
  const t = new VlanTable(2);
  t.create(5);
  t.addPort(5, 0);
  assert.equal(t.remove(5), "in-use");
  t.delPort(5, 0);
  assert.equal(t.remove(5), "ok");
  assert.equal(t.remove(0), "in-use");
  t.create(6);
  t.setUntagged(0, 6);
  t.setUntagged(1, NO_VLAN);
  assert.equal(t.remove(0), "ok");
  assert.deepEqual(t.vlans(), [6]);
});

Deno.test("resetPort and resize leave ports as new: untagged in VLAN 0, in nothing else", () => {
  const t = new VlanTable(2);
  t.create(5);
  t.addPort(5, 1);
  t.setUntagged(1, NO_VLAN);
  t.resetPort(1);
  assert.equal(t.untagged(1), 0);
  assert.deepEqual(t.members(5), []);
  assert.equal(t.flat, true);
  t.resize(4);
  assert.deepEqual(t.members(0).map((m) => m.port), [0, 1, 2, 3]);
  t.addPort(5, 3);
  t.resize(3);
  assert.deepEqual(t.members(5), [], "port 3 went with the shrink");
  assert.equal(t.flat, true);
});
