import assert from "node:assert/strict";
import { CHAIN_MAX, type GroupEntry, GroupTable } from "../../src/switch/mcast_group_table.ts";

const entry = (vlan: number, addr: Uint8Array): GroupEntry => ({
  vlan,
  family: addr.length === 4 ? 4 : 6,
  addr,
  ports: [1],
  until: [0],
  sendTo: [],
  sendLength: 0,
  sendVersion: -1,
  next: null,
});

/** ff0e::N as 16 bytes. */
function group6(n: number): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xff;
  a[1] = 0x0e;
  new DataView(a.buffer).setUint32(12, n);
  return a;
}

/** `count` IPv6 groups that share one bucket of `table` (as a guest who knew its seed would pick them). */
function colliding(table: GroupTable, count: number): Uint8Array[] {
  const target = table.bucketOf(6, 0, group6(0), 0);
  const out = [group6(0)];
  for (let n = 1; out.length < count; n++) {
    const g = group6(n);
    if (table.bucketOf(6, 0, g, 0) === target) out.push(g);
  }
  return out;
}

Deno.test("groups crafted to one bucket: the chain stops at CHAIN_MAX entries (the rest refused), each of those still found, so a lookup compares at most CHAIN_MAX addresses", () => {
  const table = new GroupTable(4096, 1234);
  const groups = colliding(table, CHAIN_MAX + 12);
  const taken = groups.map((g) => table.insert(entry(0, g)));
  assert.deepEqual(taken, groups.map((_, i) => i < CHAIN_MAX));
  groups.forEach((g, i) => assert.equal(table.find(6, 0, g, 0)?.addr, i < CHAIN_MAX ? g : undefined));
  // Removing one from the middle of the chain leaves the others reachable and makes room for one more.
  table.remove(table.find(6, 0, groups[3]!, 0)!);
  assert.equal(table.find(6, 0, groups[3]!, 0), undefined);
  for (const i of [0, 1, 2, 4, 5, 6, 7]) assert.ok(table.find(6, 0, groups[i]!, 0), `group ${i}`);
  assert.equal(table.insert(entry(0, groups[CHAIN_MAX]!)), true);
  assert.equal(table.entries().length, CHAIN_MAX);
});

Deno.test("the hash is keyed: groups crafted to share a bucket under one seed are spread under another, and the same seed gives the same buckets", () => {
  const groups = colliding(new GroupTable(4096, 1234), 40);
  const other = new GroupTable(4096, 99);
  assert.ok(groups.every((g) => other.insert(entry(0, g))), "none refused");
  const buckets = new Set(groups.map((g) => other.bucketOf(6, 0, g, 0)));
  assert.ok(buckets.size > 30, `${buckets.size} buckets`);
  const same = new GroupTable(4096, 1234);
  assert.equal(new Set(groups.map((g) => same.bucketOf(6, 0, g, 0))).size, 1);
});

Deno.test("a group's VLAN and family are part of its key: VLAN 0 and 4095, 239.255.255.255 and 224.0.0.0, ff0e:: and an IPv4 group of the same bytes are each their own entry", () => {
  const table = new GroupTable(64, 7);
  const v4 = [
    new Uint8Array([239, 255, 255, 255]),
    new Uint8Array([224, 0, 0, 0]),
    new Uint8Array([255, 14, 0, 0]),
  ];
  const v6 = group6(0); // ff0e:: begins with the bytes of the third IPv4 "group"
  for (const vlan of [0, 4095]) {
    for (const a of v4) assert.ok(table.insert(entry(vlan, a)));
    assert.ok(table.insert(entry(vlan, v6)));
  }
  for (const vlan of [0, 4095]) {
    for (const a of v4) {
      const e = table.find(4, vlan, a, 0)!;
      assert.equal(e.vlan, vlan);
      assert.deepEqual(e.addr, a);
    }
    const e = table.find(6, vlan, v6, 0)!;
    assert.equal(e.family, 6);
    assert.equal(e.vlan, vlan);
  }
  assert.equal(table.find(4, 1, v4[0]!, 0), undefined);
  assert.equal(table.entries().length, 8);
});

Deno.test("a raised mcast_hash_max grows the buckets: groups its old buckets' chains refused fit, and all are found", () => {
  const table = new GroupTable(16, 12345);
  const groups = Array.from({ length: 2000 }, (_, n) => group6(n));
  const first = groups.filter((g) => table.insert(entry(0, g)));
  // 32 buckets of at most CHAIN_MAX: the rest are refused before the grow.
  assert.ok(first.length <= 32 * CHAIN_MAX, `${first.length}`);
  table.grow(4096);
  for (const g of first) assert.ok(table.find(6, 0, g, 0) !== undefined);
  const rest = groups.filter((g) => table.find(6, 0, g, 0) === undefined);
  const refused = rest.filter((g) => !table.insert(entry(0, g))).length;
  assert.equal(refused, 0);
  for (const g of groups) assert.ok(table.find(6, 0, g, 0) !== undefined);
  assert.equal(table.entries().length, 2000);
});
