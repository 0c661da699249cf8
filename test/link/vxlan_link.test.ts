/**
 * vxlan:// (spec 3.7): option parsing with vdeplug4's defaults and
 * abbreviations, the direct-mapped learning table, two of ours on a VXLAN
 * segment between two namespaces, the Link conformance suite there, and
 * what may share a port: links of one process (one VNI each), not processes.
 */
import assert from "node:assert/strict";
import { MacAddressTable, parseVxVnl } from "../../src/link/vxlan_link.ts";
import { encodeSockaddr } from "../../src/io/sockaddr.ts";
import { formatIp, ipLiteral } from "../../src/wire/ip_address.ts";
import { withNetns } from "../helpers/netns.ts";
import { run, skipUnless, waitFor } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { exchange, loopbackMulticast, missing, netnsLinks, plugIn, vethPair } from "../helpers/netns_pair.ts";
import { REPO_ROOT } from "../helpers/switches.ts";
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

Deno.test("vxlan:// links of one process share a port, one VNI each with one ttl= and if=; another process is refused, told its cable's other end goes on another host or namespace", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    const g = "vxlan://239.199.2.5";
    const plug = (...vnls: string[]) =>
      run(p.a.exec([...ourCli(), "plug", ...vnls]), { check: false, timeoutMs: 30_000 });
    const refusals: [string[], RegExp][] = [
      [
        [`${g}/vni=5`, `${g}/vni=5`],
        /vni 5 on port 4789 is taken by another link of this process \(vxlan 239\.199\.2\.5:4789 vni 5\)/,
      ],
      [[`${g}/vni=5`, `${g}/vni=6/ttl=2`], /port 4789 is this process's VTEP with ttl=1, not ttl=2: /],
      // A vxvde:// member shares its port only with its kind: the message must not blame another process.
      [
        ["vxvde://239.199.2.6", `${g}/vni=5/port=14789`],
        /vxlan:\/\/ UDP port 14789 is taken on this host \(a vxvde:\/\/ of this process, /,
      ],
      // One socket holds the port's groups; the namespace allows it one (below), so the second is over Linux's cap.
      [
        [`${g}/vni=5/port=24789`, "vxlan://239.199.2.7/vni=6/port=24789"],
        /port 24789 is this process's VTEP, whose socket is in 1 multicast group, as many as Linux lets one socket join \(sysctl net\.ipv4\.igmp_max_memberships\): give 239\.199\.2\.7 another port=/,
      ],
    ];
    await p.a.run(["sysctl", "-qw", "net.ipv4.igmp_max_memberships=1"]);
    for (const [vnls, why] of refusals) {
      const r = await plug(...vnls);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const both = p.a.spawn([...ourCli(), "plug", `${g}/vni=5`, `${g}/vni=6`], { name: "vde plug two VNIs" });
    await waitFor(async () => {
      assert.equal(both.exitStatus, null, both.stderr);
      return (await p.a.run(["ss", "-Hunl", "sport = :4789"])).stdout.includes(":4789");
    }, { timeoutMs: 20_000, what: "the plug to bind port 4789" });
    const third = await plug(`${g}/vni=7`, "null://");
    assert.equal(third.code, 1, third.stderr);
    assert.match(
      third.stderr,
      /^vde: .*vxlan:\/\/ UDP port 4789 is taken on this host \(.*\): a host is one VTEP per port, so a cable's other end goes on another host or network namespace \(ip netns exec NS vde plug \.\.\.\), not beside this one; /,
    );
    assert.equal(third.stderr.trim().split("\n").length, 1, third.stderr);
  });
});

Deno.test("vxlan:// links sharing a port come and go: groups left, foreign and short datagrams reach no link, no fd kept", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    const ns = await lab.namespace("a");
    await loopbackMulticast(ns);
    const r = await ns.run(["deno", "run", "-A", `${REPO_ROOT}/test/link/_vxlan_port_rig.ts`], {
      check: false,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n").at(-1), "ok", r.stdout);
  });
});

Deno.test("vxlan:// and vxvde:// where no route reaches the group say in one line to name the interface with if=", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    // Two hosts on one link with no default route: Linux's own word was "IP_ADD_MEMBERSHIP: No such device".
    const a = await lab.namespace("a");
    for (const vnl of ["vxlan://", "vxvde://"]) {
      const r = await run(a.exec([...ourCli(), "plug", "null://", vnl]), { check: false, timeoutMs: 30_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^vde: .*no route on this host reaches multicast group 239\.0\.0\.1 \(no default route\?\): name the interface that leads to the other hosts with if=IFNAME\n$/,
      );
    }
  });
});
