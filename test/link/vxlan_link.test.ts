/**
 * vxlan:// (spec 3.7): option parsing with vdeplug4's defaults and
 * abbreviations, the direct-mapped learning table, two of ours on a VXLAN
 * segment between two namespaces, and the Link conformance suite there.
 */
import assert from "node:assert/strict";
import { MacAddressTable, parseVxVnl } from "../../src/link/vxlan_link.ts";
import { encodeSockaddr } from "../../src/io/sockaddr.ts";
import { formatIp, ipLiteral } from "../../src/wire/ip_address.ts";
import { withNetns } from "../helpers/netns.ts";
import { skipUnless } from "../helpers/processes.ts";
import { exchange, missing, netnsLinks, plugIn, vethPair } from "../helpers/netns_pair.ts";
import { conformance } from "../helpers/link_conformance.ts";

const VXLAN = {
  scheme: "vxlan" as const,
  port: 4789,
  keys: ["port", "vni", "ttl", "rcvbuf", "v4", "v6", "hashsize", "expiretime", "if"],
};

Deno.test("parseVxVnl: vdeplug4's vxlan defaults", () => {
  const o = parseVxVnl("", VXLAN);
  assert.equal(formatIp(o.group), "239.0.0.1");
  assert.equal(o.port, 4789);
  assert.equal(o.vni, 1);
  assert.equal(o.ttl, 1);
  assert.equal(o.hashSize, 1024);
  assert.equal(o.expireSeconds, 128);
  assert.equal(formatIp(parseVxVnl("/v6", VXLAN).group), "ff05:56de::1");
});

Deno.test("parseVxVnl: options, abbreviations and sizes", () => {
  const o = parseVxVnl("239.5.6.7/p=5000/vni=4660/ttl=3/rcvbuf=2M/h=100/e=30/if=eth9", VXLAN);
  assert.equal(formatIp(o.group), "239.5.6.7");
  assert.deepEqual(
    [o.port, o.vni, o.ttl, o.rcvbuf, o.hashSize, o.expireSeconds, o.ifName],
    [5000, 4660, 3, 2 * 1024 * 1024, 100, 30, "eth9"],
  );
  assert.equal(formatIp(parseVxVnl("[ff05::9]/vni=2", VXLAN).group), "ff05::9");
});

Deno.test("parseVxVnl refuses unicast groups, bad numbers and unknown options", () => {
  const cases: [string, RegExp][] = [
    ["10.0.0.1", /not a multicast address/],
    ["host.example", /must be an IP address/],
    ["/vni=16777216", /vni must be/],
    ["/port=x", /port must be/],
    ["/rcvbuf=lots", /rcvbuf must be a size/],
    ["/colour=red", /unknown vxlan:\/\/ option/],
  ];
  for (const [vnl, why] of cases) assert.throws(() => parseVxVnl(vnl, VXLAN), why, vnl);
});

Deno.test("MacAddressTable learns, moves, expires and forgets", () => {
  const t = new MacAddressTable(100, 10);
  assert.equal(t.size, 128);
  const a = encodeSockaddr(ipLiteral("10.0.0.1"), 4789);
  const b = encodeSockaddr(ipLiteral("10.0.0.2"), 4789);
  t.learn(0x0200, 1, a, 0);
  t.learn(0x0200, 2, a, 0);
  assert.deepEqual(t.lookup(0x0200, 1, 1000), a);
  assert.equal(t.lookup(0x0200, 3, 1000), null);
  t.learn(0x0200, 1, b, 2000); // the MAC moved
  assert.deepEqual(t.lookup(0x0200, 1, 2000), b);
  assert.equal(t.lookup(0x0200, 2, 10_001), null, "expired after 10 s");
  assert.equal(t.count(2000), 2);
  assert.equal(t.forgetAddress(a), 1);
  assert.equal(t.lookup(0x0200, 2, 2000), null);
  assert.deepEqual(t.lookup(0x0200, 1, 2000), b);
});

Deno.test("vxlan:// ours in two namespaces: frames cross, unicast to learnt VTEPs", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    const url = "vxlan://239.199.2.1/vni=99/port=4790";
    const x = plugIn(p.a, "ours", url);
    const y = plugIn(p.b, "ours", url);
    try {
      await exchange(x, y);
      await exchange(y, x, { tagBase: 5000 });
    } finally {
      await Promise.all([x.stop(), y.stop()]);
    }
  });
});

conformance(
  "vxlan:// between two namespaces",
  () => netnsLinks("vxlan://239.199.2.3/vni=98/port=4791"),
  async (t) => skipUnless(t, await missing(false)),
);
