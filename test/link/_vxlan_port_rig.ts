/**
 * A program for vxlan_link.test.ts, run inside a namespace with multicast
 * on lo: it opens vxlan:// links of one process on one port and pins what
 * their shared socket must do when they come and go. A link closed while
 * another uses the port leaves the other receiving and its own group left;
 * a datagram too short for a VXLAN header or of a VNI no link has reaches
 * no link; a refused VNI leaves the port as it was; the last link closes
 * the socket (the port is free again) and repeated opens leak no fd.
 * Prints "ok" last; any failed check throws.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { openVxlanLink, type VxlanLink } from "../../src/link/vxlan_link.ts";
import { vxlanHeader } from "../../src/wire/vxlan.ts";

const PORT = 4799;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
/** Groups joined on lo, as /proc/net/igmp prints them (hex, network order reversed). */
const joined = () => Deno.readTextFileSync("/proc/net/igmp");
const G5 = "0105C7EF"; // 239.199.5.1
const G6 = "0205C7EF"; // 239.199.5.2

const sender = dgram.createSocket("udp4");
await new Promise<void>((r) => sender.bind(0, "127.0.0.1", r));
const send = (bytes: Uint8Array) =>
  new Promise<void>((r, j) => sender.send(bytes, PORT, "127.0.0.1", (e) => e ? j(e) : r()));
const datagram = (vni: number, tag: number) => {
  const d = new Uint8Array(8 + 60);
  d.set(vxlanHeader(vni));
  d.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5], 8);
  d[30] = tag;
  return d;
};
const tags = (link: VxlanLink) => {
  const got: number[] = [];
  link.onFrame = (f) => got.push(f[22]!);
  return got;
};
async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !ok(); i++) await sleep(20);
  assert.ok(ok(), what);
}

// The poller's own descriptors come with the first link; count from after them.
(await openVxlanLink(`239.199.5.1/vni=5/port=${PORT}`)).close();
const base = fds();
const a = await openVxlanLink(`239.199.5.1/vni=5/port=${PORT}`);
const b = await openVxlanLink(`239.199.5.2/vni=6/port=${PORT}`);
const gotA = tags(a);
const gotB = tags(b);
assert.match(joined(), new RegExp(G5));
assert.match(joined(), new RegExp(G6));

// Hostile and foreign datagrams first: the valid one after them arrives alone.
await send(new Uint8Array([8, 0, 0]));
await send(datagram(9, 1));
await send(datagram(6, 2));
await until("vni 6's frame reaches b", () => gotB.length > 0);
assert.deepEqual(gotB, [2]);
assert.deepEqual(gotA, []);

await assert.rejects(openVxlanLink(`239.199.5.1/vni=6/port=${PORT}`), /vni 6 on port 4799 is taken/);
a.close();
assert.doesNotMatch(joined(), new RegExp(G5), "a's group is left once no link uses it");
assert.match(joined(), new RegExp(G6));
await send(datagram(5, 3));
await send(datagram(6, 4));
await until("b still receives after a closed", () => gotB.length > 1);
assert.deepEqual(gotB, [2, 4]);
assert.deepEqual(gotA, []);

for (let i = 0; i < 20; i++) (await openVxlanLink(`239.199.5.1/vni=5/port=${PORT}`)).close();
b.close();
b.close();
assert.equal(fds(), base, "every socket opened was closed");
assert.doesNotMatch(joined(), new RegExp(G6));

// The port is free again: another socket may have it.
const free = dgram.createSocket("udp4");
await new Promise<void>((r, j) => {
  free.once("error", j);
  free.bind(PORT, r);
});
free.close();
sender.close();
console.log("ok");
