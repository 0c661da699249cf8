/**
 * The gateway guard (src/slirp/gateway_guard.ts): a slirp bound to a link
 * probes for its addresses, and a frame from elsewhere claiming them is one
 * line and a count, while the stack keeps serving. Stacks here are wired as
 * a switch would carry them (never back to the port a frame came from), or
 * to themselves as a loop in the network would, on a virtual clock.
 */
import assert from "node:assert/strict";
import { buildFrame, formatMac } from "../../src/wire/ethernet.ts";
import { ARP_REPLY, ARP_REQUEST, newArpPacket, parseArp, writeArp } from "../../src/wire/arp.ts";
import { buildDhcp, DHCP_MSG, DHCP_OPT } from "../../src/wire/dhcp.ts";
import { newIpv6Header, parseIpv6, solicitedNode, writeIpv6Header } from "../../src/wire/ipv6.ts";
import { finishIcmpv6, ICMPV6 } from "../../src/wire/icmpv6.ts";
import { newNdpMessage, parseNdp, writeNeighborAdvert, writeNeighborSolicit } from "../../src/wire/ndp.ts";
import { ipLiteral, ipv4ToU32 } from "../../src/wire/ip_address.ts";
import { defaultConfig, parseForward, type SlirpConfig } from "../../src/slirp/config.ts";
import { SlirpStack } from "../../src/slirp/stack.ts";
import {
  ANSWER_WAIT_MS,
  DNS_RECHECK_MS,
  PROBE_DELAY_MS,
  PROBE_GAP_MS,
  PROBES,
} from "../../src/slirp/gateway_guard.ts";
import { FakeHostNet, GUEST_MAC, udp4Frame } from "./helpers.ts";

const GW6 = ipLiteral("fd00::2");
const DNS6 = ipLiteral("fd00::3");
const ALL_NODES = ipLiteral("ff02::1");
const BROADCAST = "ff:ff:ff:ff:ff:ff";

/** A stack on a virtual clock whose frames go to `route` (bound with `attach`, as a link binds it). */
function boundStack(clock: { now: number }, config: Partial<SlirpConfig> = {}) {
  const logs: string[] = [];
  const net = new FakeHostNet();
  const stack = new SlirpStack({
    config: { ...defaultConfig(), dnsUpstream: [], ...config },
    hostNet: net,
    now: () => clock.now,
    log: (m) => logs.push(m),
  });
  const sent: Uint8Array[] = [];
  stack.attach({ output: (f) => sent.push(f.slice()), kick: () => {}, congested: () => false });
  return { stack, logs, net, sent };
}

type Bound = ReturnType<typeof boundStack>;

/** Moves every frame sent so far to `deliver`, until none is left (frames answered in turn included). */
function carry(stacks: Bound[], deliver: (from: Bound, frame: Uint8Array) => void): void {
  for (let moved = true; moved;) {
    moved = false;
    for (const s of stacks) {
      for (const f of s.sent.splice(0)) {
        moved = true;
        deliver(s, f);
      }
    }
  }
}

/** A two-port switch: each stack's frames reach the other, never itself. */
function hub(a: Bound, b: Bound): () => void {
  return () => carry([a, b], (from, f) => (from === a ? b : a).stack.input(f));
}

/** Runs the clock for `ms` in 100 ms steps, polling each stack and carrying frames. */
function run(clock: { now: number }, stacks: Bound[], ms: number, carryAll: () => void): void {
  for (let t = 0; t < ms; t += 100) {
    clock.now += 100;
    for (const s of stacks) s.stack.poll();
    carryAll();
  }
}

function guestArpRequest(targetIp: number[]): Uint8Array {
  const p = new Uint8Array(28);
  writeArp(
    p,
    0,
    ARP_REQUEST,
    new Uint8Array([2, 0, 0, 0, 0, 0x15]),
    0x0a00020f,
    new Uint8Array(6),
    ipv4ToU32(new Uint8Array(targetIp)),
  );
  return buildFrame({ src: GUEST_MAC, type: 0x0806, payload: p });
}

function guestDiscover(): Uint8Array {
  const chaddr = new Uint8Array([2, 0, 0, 0, 0, 0x15]);
  const msg = buildDhcp({
    op: 1,
    xid: 7,
    chaddr,
    options: [[DHCP_OPT.MESSAGE_TYPE, new Uint8Array([DHCP_MSG.DISCOVER])]],
  });
  return udp4Frame([0, 0, 0, 0], 68, [255, 255, 255, 255], 67, msg, { dstMac: BROADCAST });
}

/** A guest's duplicate address detection for `target` (source ::, no options). */
function dadSolicit(target: Uint8Array): Uint8Array {
  const ip = new Uint8Array(40 + 24);
  const l = writeNeighborSolicit(ip, 40, target, null);
  const group = solicitedNode(target);
  writeIpv6Header(ip, 0, l, 58, 255, new Uint8Array(16), group);
  finishIcmpv6(ip, 40, l, 8, 24);
  return buildFrame({ src: GUEST_MAC, dst: "33:33:ff:00:00:02", type: 0x86dd, payload: ip });
}

function withDestination(frame: Uint8Array, mac: string): Uint8Array {
  const f = frame.slice();
  f.set(mac.split(":").map((x) => parseInt(x, 16)), 0);
  return f;
}

const conflictLines = (logs: string[]) => logs.filter((l) => /two slirps on one switch/i.test(l));

Deno.test("a slirp bound to a link sends 3 ARP probes and 3 DAD solicitations for its gateway, 1 s apart, from a probe MAC", () => {
  const clock = { now: 5000 };
  const s = boundStack(clock);
  const seen: Uint8Array[] = [];
  run(clock, [s], 4000, () => seen.push(...s.sent.splice(0)));
  // Each ARP probe for the gateway goes with one for the DNS address (its own test, below).
  const arp = seen.filter((f) => f[12] === 0x08 && f[13] === 0x06 && f[41] === 2);
  // Each DAD solicitation for the gateway goes with one for the IPv6 DNS address (its own test, below).
  const allNs = seen.filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[54] === ICMPV6.NEIGHBOR_SOLICIT);
  const ns = allNs.filter((f) => f[77] === 2);
  assert.equal(allNs.filter((f) => f[77] === 3).length, PROBES);
  assert.equal(arp.length, PROBES);
  assert.equal(seen.filter((f) => f[12] === 0x08 && f[13] === 0x06 && f[41] === 3).length, PROBES);
  assert.equal(ns.length, PROBES);
  const a = newArpPacket();
  for (const f of arp) {
    assert.equal(parseArp(f, 14, f.length - 14, a), null);
    assert.equal(formatMac(f, 0), BROADCAST);
    assert.equal(a.op, ARP_REQUEST);
    assert.equal(a.senderIp, 0, "an ARP probe's sender address is 0.0.0.0 (RFC 5227)");
    assert.equal(a.targetIp, 0x0a000202);
    assert.equal(formatMac(f, a.senderMacOffset), formatMac(f, 6));
    assert.notEqual(
      formatMac(f, 6),
      "52:55:0a:00:02:02",
      "not the gateway MAC: an answer to it would go back to the other slirp",
    );
    assert.equal(f[6]! & 3, 2, "locally administered, unicast");
  }
  const h = newIpv6Header();
  const n = newNdpMessage();
  for (const f of ns) {
    assert.equal(parseIpv6(f, 14, f.length - 14, h), null);
    assert.equal(h.hopLimit, 255);
    assert.ok(f.subarray(22, 38).every((x) => x === 0), "from the unspecified address");
    assert.equal(formatMac(f, 0), "33:33:ff:00:00:02");
    assert.equal(parseNdp(f, h.dataOffset, h.dataLength, n), null);
    assert.deepEqual(f.subarray(n.targetOffset, n.targetOffset + 16), GW6);
    assert.equal(n.sourceMacOffset, -1, "no source link-layer option from ::");
  }
  assert.equal(s.stack.stats.gatewayConflicts, 0);
  assert.deepEqual(conflictLines(s.logs), []);
  // Spaced as promised: the first soon after binding, then a second apart.
  assert.ok(PROBE_DELAY_MS < 1000 && PROBE_GAP_MS === 1000);
});

Deno.test("a second slirp on the switch hears the first answer its probes: one line, every claim counted, both keep serving", () => {
  const clock = { now: 1000 };
  const first = boundStack(clock);
  run(clock, [first], 4000, () => first.sent.splice(0));
  const second = boundStack(clock);
  const both = hub(first, second);
  run(clock, [first, second], 4000, both);

  // Each probe drew an ARP reply (to the probe MAC, from the same gateway MAC) and a neighbour advertisement.
  assert.equal(second.stack.stats.gatewayConflicts, 2 * PROBES);
  const lines = conflictLines(second.logs);
  assert.equal(lines.length, 1, second.logs.join("\n"));
  assert.match(lines[0]!, /gateway address is taken/);
  assert.match(lines[0]!, /ARP reply for 10\.0\.2\.2 from 52:55:0a:00:02:02/);
  assert.match(lines[0]!, /one slirp per switch/);
  assert.match(lines[0]!, /addr=10\.0\.3\.2\/24/);
  assert.match(lines[0]!, /keeps serving/);
  assert.ok(second.stack.describe().some((l) => /gateway conflict: an ARP reply/.test(l)));
  // The first only answered: a probe is not a claim.
  assert.equal(first.stack.stats.gatewayConflicts, 0);
  assert.deepEqual(conflictLines(first.logs), []);

  // Both still serve a guest.
  for (const s of [first, second]) {
    s.sent.length = 0;
    s.stack.input(guestArpRequest([10, 0, 2, 2]));
    s.stack.input(guestDiscover());
    assert.equal(s.sent.length, 2, "an ARP reply and a DHCP offer");
  }
});

/** An ARP frame from a host with `ip` at `mac` (`op`: a reply to the probe MAC at `to`, or a broadcast request). */
function hostArp(op: number, mac: Uint8Array, ip: number, to: Uint8Array, targetIp: number): Uint8Array {
  const p = new Uint8Array(28);
  writeArp(p, 0, op, mac, ip, op === ARP_REPLY ? to : new Uint8Array(6), targetIp);
  return buildFrame({
    src: formatMac(mac, 0),
    dst: op === ARP_REPLY ? formatMac(to, 0) : BROADCAST,
    type: 0x0806,
    payload: p,
  });
}

const dnsLines = (logs: string[]) => logs.filter((l) => /DNS address .* is taken/.test(l));

Deno.test("a host given the slirp's DNS address answers its probe: said once with vnameserver=, and the slirp leaves that address's ARP to the host", () => {
  const clock = { now: 1000 };
  const s = boundStack(clock);
  const host = new Uint8Array([0xa6, 0xeb, 0x42, 0xca, 0x5b, 0xfd]);
  const a = newArpPacket();
  // The host at 10.0.2.3 answers every ARP request for its address, the slirp's probes included.
  run(clock, [s], 4000, () => {
    for (const f of s.sent.splice(0)) {
      if (f[12] !== 0x08 || f[13] !== 0x06 || parseArp(f, 14, f.length - 14, a) !== null) continue;
      if (a.op !== ARP_REQUEST || a.targetIp !== 0x0a000203) continue;
      s.stack.input(
        hostArp(
          ARP_REPLY,
          host,
          0x0a000203,
          f.subarray(a.senderMacOffset, a.senderMacOffset + 6),
          a.senderIp,
        ),
      );
    }
  });
  const lines = dnsLines(s.logs);
  assert.equal(lines.length, 1, s.logs.join("\n"));
  assert.match(
    lines[0]!,
    /DNS address 10\.0\.2\.3 is taken on this switch: an ARP reply for 10\.0\.2\.3 from a6:eb:42:ca:5b:fd/,
  );
  assert.match(lines[0]!, /vnameserver=ADDR, an address no host has, in 10\.0\.2\.0\/24/);
  assert.deepEqual(conflictLines(s.logs), [], "no second slirp");
  assert.ok(s.stack.describe().some((l) => /DNS address taken: an ARP reply/.test(l)));
  // A guest asking for 10.0.2.3 hears the host alone; the gateway still answers.
  s.sent.length = 0;
  s.stack.input(guestArpRequest([10, 0, 2, 3]));
  assert.equal(s.sent.length, 0, "no ARP answer for the host's address");
  s.stack.input(guestArpRequest([10, 0, 2, 2]));
  assert.equal(s.sent.length, 1, "the gateway's answer");
  // The host on 10.0.2.3 is a guest like any other: its ARP for the gateway answered, its packets carried.
  s.sent.length = 0;
  s.stack.input(hostArp(ARP_REQUEST, host, 0x0a000203, new Uint8Array(6), 0x0a000202));
  assert.equal(s.sent.length, 1, "the host's ARP for the gateway answered");
  assert.equal(formatMac(s.sent[0]!, 0), "a6:eb:42:ca:5b:fd");
  s.stack.input(
    udp4Frame([10, 0, 2, 3], 4000, [10, 0, 2, 2], 9, new Uint8Array(8), { mac: formatMac(host, 0) }),
  );
  assert.equal(s.net.sockets.flatMap((k) => k.sent).length, 1, "the host's datagram to the gateway carried");
});

/** Answers, as a host at 10.0.2.3 with `mac` does, every ARP request for its address the stack sent. */
function answerAsDnsHost(s: Bound, mac: Uint8Array): void {
  const a = newArpPacket();
  for (const f of s.sent.splice(0)) {
    if (f[12] !== 0x08 || f[13] !== 0x06 || parseArp(f, 14, f.length - 14, a) !== null) continue;
    if (a.op !== ARP_REQUEST || a.targetIp !== 0x0a000203) continue;
    const to = f.subarray(a.senderMacOffset, a.senderMacOffset + 6);
    s.stack.input(hostArp(ARP_REPLY, mac, 0x0a000203, to, a.senderIp));
  }
}

Deno.test("a host holding the slirp's DNS address is asked again every DNS_RECHECK_MS: while it answers it keeps the address; once renumbered, the slirp answers for it again and says so", () => {
  const clock = { now: 1000 };
  const s = boundStack(clock);
  const host = new Uint8Array([0xa6, 0xeb, 0x42, 0xca, 0x5b, 0xfd]);
  run(clock, [s], 4000, () => answerAsDnsHost(s, host));
  assert.equal(dnsLines(s.logs).length, 1, s.logs.join("\n"));
  // Three rechecks answered: still the host's, said once.
  run(clock, [s], 3 * DNS_RECHECK_MS, () => answerAsDnsHost(s, host));
  assert.equal(dnsLines(s.logs).length, 1, s.logs.join("\n"));
  s.sent.length = 0;
  s.stack.input(guestArpRequest([10, 0, 2, 3]));
  assert.equal(s.sent.length, 0, "the host's address still");
  assert.ok(s.stack.nextTimerMs() <= DNS_RECHECK_MS, "a recheck is due");
  // The host is given another address: it answers no more.
  run(clock, [s], 2 * DNS_RECHECK_MS, () => void s.sent.splice(0));
  const free = s.logs.filter((l) => /DNS address 10\.0\.2\.3 is free again/.test(l));
  assert.equal(free.length, 1, s.logs.join("\n"));
  assert.ok(!s.stack.describe().some((l) => /DNS address taken/.test(l)), s.stack.describe().join("\n"));
  s.stack.input(guestArpRequest([10, 0, 2, 3]));
  assert.equal(s.sent.length, 1, "the slirp answers for its DNS address again");
  // Free, nothing more is asked.
  s.sent.length = 0;
  run(clock, [s], 2 * DNS_RECHECK_MS, () => {});
  assert.equal(s.sent.filter((f) => f[12] === 0x08 && f[13] === 0x06).length, 0);
});

Deno.test("a host that comes up later with the slirp's DNS address is heard by its own ARP; another slirp's answer for it is not a host's", () => {
  const clock = { now: 1000 };
  const late = boundStack(clock);
  run(clock, [late], 4000, () => void late.sent.splice(0));
  const host = new Uint8Array([2, 0, 0, 0, 0, 0x33]);
  late.stack.input(hostArp(ARP_REQUEST, host, 0x0a000203, new Uint8Array(6), 0x0a000201));
  assert.equal(dnsLines(late.logs).length, 1, late.logs.join("\n"));
  assert.match(dnsLines(late.logs)[0]!, /an ARP request for 10\.0\.2\.3 from 02:00:00:00:00:33/);

  // libslirp (Debian's slirp:// plugin) answers for its DNS address from 52:55 and that address.
  const beside = boundStack(clock);
  beside.stack.input(
    hostArp(ARP_REPLY, new Uint8Array([0x52, 0x55, 10, 0, 2, 3]), 0x0a000203, beside.stack.mac, 0),
  );
  assert.deepEqual(dnsLines(beside.logs), [], "another slirp, not a host");

  // Two slirps of one network: the first answers the second's DNS probe from the MAC they share.
  const first = boundStack(clock);
  run(clock, [first], 4000, () => void first.sent.splice(0));
  const second = boundStack(clock);
  run(clock, [first, second], 4000, hub(first, second));
  assert.equal(conflictLines(second.logs).length, 1, "said as a second slirp");
  assert.deepEqual(dnsLines(second.logs), []);
  assert.deepEqual(dnsLines(first.logs), []);
});

/** A neighbour advertisement for `target` from `mac` (to all nodes, as an answer to DAD). */
function hostAdvert(mac: Uint8Array, target: Uint8Array): Uint8Array {
  const ip = new Uint8Array(40 + 32);
  const l = writeNeighborAdvert(ip, 40, target, mac, { router: false, solicited: false, override: true });
  writeIpv6Header(ip, 0, l, 58, 255, target, ALL_NODES);
  finishIcmpv6(ip, 40, l, 8, 24);
  return buildFrame({ src: formatMac(mac, 0), dst: "33:33:00:00:00:01", type: 0x86dd, payload: ip });
}

/** Answers, as a host at fd00::3 with `mac` does, every solicitation for its address the stack sent. */
function answerAsDns6Host(s: Bound, mac: Uint8Array): void {
  const h = newIpv6Header();
  const n = newNdpMessage();
  for (const f of s.sent.splice(0)) {
    if (f[12] !== 0x86 || f[13] !== 0xdd || parseIpv6(f, 14, f.length - 14, h) !== null) continue;
    if (f[54] !== ICMPV6.NEIGHBOR_SOLICIT || parseNdp(f, h.dataOffset, h.dataLength, n) !== null) continue;
    if (f.subarray(n.targetOffset, n.targetOffset + 16).every((x, i) => x === DNS6[i])) {
      s.stack.input(hostAdvert(mac, DNS6));
    }
  }
}

/** The neighbour advertisements for fd00::3 among `frames`. */
const dns6Adverts = (frames: Uint8Array[]) =>
  frames.filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[54] === ICMPV6.NEIGHBOR_ADVERT && f[77] === 3);

const dns6Lines = (logs: string[]) => logs.filter((l) => /IPv6 DNS address .* is taken/.test(l));

Deno.test("a host given the slirp's IPv6 DNS address answers its DAD probe: said once with vnameserver6=, the slirp leaves that address's solicitations to the host, and takes it back once the host is gone", () => {
  const clock = { now: 1000 };
  const s = boundStack(clock);
  const host = new Uint8Array([0xa6, 0xeb, 0x42, 0xca, 0x5b, 0xfe]);
  run(clock, [s], 4000, () => answerAsDns6Host(s, host));
  const lines = dns6Lines(s.logs);
  assert.equal(lines.length, 1, s.logs.join("\n"));
  assert.match(
    lines[0]!,
    /IPv6 DNS address fd00::3 is taken on this switch: a neighbour advertisement for fd00::3 from a6:eb:42:ca:5b:fe/,
  );
  assert.match(lines[0]!, /vnameserver6=ADDR, an address no host has, in fd00::\/64/);
  assert.deepEqual(conflictLines(s.logs), [], "no second slirp");
  assert.equal(s.stack.stats.gatewayConflicts, 0);
  assert.ok(s.stack.describe().some((l) => /IPv6 DNS address taken: a neighbour advertisement/.test(l)));
  // A guest's solicitation for fd00::3 is the host's to answer; the gateway's is still answered.
  s.sent.length = 0;
  s.stack.input(dadSolicit(DNS6));
  assert.deepEqual(dns6Adverts(s.sent), [], "no advertisement for the host's address");
  s.stack.input(dadSolicit(GW6));
  assert.equal(s.sent.length, 1, "the gateway's advertisement");
  // While the host answers the rechecks it keeps the address, said once.
  s.sent.length = 0;
  run(clock, [s], 3 * DNS_RECHECK_MS, () => answerAsDns6Host(s, host));
  assert.equal(dns6Lines(s.logs).length, 1, s.logs.join("\n"));
  s.sent.length = 0;
  s.stack.input(dadSolicit(DNS6));
  assert.deepEqual(dns6Adverts(s.sent), [], "the host's address still");
  // The host is renumbered: it answers no more, and the slirp answers for fd00::3 again.
  run(clock, [s], 2 * DNS_RECHECK_MS, () => void s.sent.splice(0));
  const free = s.logs.filter((l) => /IPv6 DNS address fd00::3 is free again/.test(l));
  assert.equal(free.length, 1, s.logs.join("\n"));
  assert.ok(!s.stack.describe().some((l) => /IPv6 DNS address taken/.test(l)), s.stack.describe().join("\n"));
  s.stack.input(dadSolicit(DNS6));
  assert.equal(dns6Adverts(s.sent).length, 1, "the slirp answers for its IPv6 DNS address again");
  // The IPv4 DNS address was never the host's.
  assert.deepEqual(s.logs.filter((l) => /DNS address 10\.0\.2\.3/.test(l)), []);
});

Deno.test("the slirp's own advertisement for its IPv6 DNS address, come back, and libslirp's (52:56 and the address's last bytes) are no host's", () => {
  const clock = { now: 1000 };
  const s = boundStack(clock);
  run(clock, [s], 4000, () => void s.sent.splice(0));
  s.stack.input(hostAdvert(s.stack.mac, DNS6));
  s.stack.input(hostAdvert(new Uint8Array([0x52, 0x56, 0, 0, 0, 3]), DNS6));
  assert.deepEqual(dns6Lines(s.logs), []);
  assert.equal(s.stack.stats.gatewayConflicts, 0);
  s.stack.input(dadSolicit(DNS6));
  assert.equal(dns6Adverts(s.sent).length, 1, "the slirp still answers for fd00::3");
});

Deno.test("a foreign ARP reply, neighbour advertisement or DHCP offer for the gateway counts, with the same MAC, said once", () => {
  const clock = { now: 1000 };
  const other = boundStack(clock);
  const us = boundStack(clock);
  run(clock, [other, us], 3000, () => {
    other.sent.length = 0;
    us.sent.length = 0;
  });
  const answer = (frame: Uint8Array) => {
    other.stack.input(frame);
    const out = other.sent.splice(0);
    assert.equal(out.length, 1);
    return out[0]!;
  };
  // The other's answers to its guest, as a switch that floods them (or libslirp, which broadcasts offers) shows them.
  us.stack.input(withDestination(answer(guestArpRequest([10, 0, 2, 2])), "52:55:0a:00:02:02"));
  assert.equal(us.stack.stats.gatewayConflicts, 1);
  us.stack.input(withDestination(answer(guestDiscover()), BROADCAST));
  assert.equal(us.stack.stats.gatewayConflicts, 2);
  us.stack.input(answer(dadSolicit(GW6)));
  assert.equal(us.stack.stats.gatewayConflicts, 3);
  const lines = conflictLines(us.logs);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /an ARP reply for 10\.0\.2\.2 from 52:55:0a:00:02:02 came from another port/);
  assert.equal(conflictLines(other.logs).length, 0);

  // The same claims on their own, each the first of a fresh stack.
  for (
    const [frame, said] of [
      [withDestination(answer(guestDiscover()), BROADCAST), /a DHCP offer from 10\.0\.2\.2/],
      [answer(dadSolicit(GW6)), /a neighbour advertisement for fd00::2 .*addr6=/],
    ] as const
  ) {
    const fresh = boundStack(clock);
    fresh.stack.input(frame);
    assert.equal(fresh.stack.stats.gatewayConflicts, 1);
    assert.match(conflictLines(fresh.logs)[0] ?? "", said);
  }
});

Deno.test("a slirp's own frames, come back through a loop, are not a conflict", () => {
  const clock = { now: 1000 };
  const s = boundStack(clock, {
    forwards: [parseForward("udp:5353:10.0.2.15:53", defaultConfig())],
    v6: true,
  });
  const loop = () => carry([s], (_, f) => s.stack.input(f));
  // Its probes.
  run(clock, [s], 4000, loop);
  // An ARP request of its own for a guest (data for it through a forward, its MAC unknown).
  const fwd = s.net.sockets.find((k) => k.localPort === 5353)!;
  fwd.receive(new Uint8Array([1, 2, 3]), [127, 0, 0, 1], 40000);
  const a = newArpPacket();
  const request = s.sent.find((f) => parseArp(f, 14, f.length - 14, a) === null && a.op === ARP_REQUEST);
  assert.ok(request !== undefined, "the stack asked for the guest");
  loop();
  // Its answer to a guest's duplicate address detection for fd00::2, to all nodes.
  s.stack.input(dadSolicit(GW6));
  assert.equal(s.sent.length, 1);
  loop();
  assert.equal(s.stack.stats.gatewayConflicts, 0);
  assert.deepEqual(conflictLines(s.logs), []);
  // A reply is a claim all the same.
  const reply = new Uint8Array(28);
  writeArp(reply, 0, ARP_REPLY, s.stack.mac, 0x0a000202, new Uint8Array(6), 0x0a00020f);
  s.stack.input(buildFrame({ src: "52:55:0a:00:02:02", dst: BROADCAST, type: 0x0806, payload: reply }));
  assert.equal(s.stack.stats.gatewayConflicts, 1);
});

Deno.test("the conflict line's option moves every family the slirp runs, to the next network of each size", () => {
  /** The line a fresh slirp says on hearing another's answer to `ask` (a guest's frame). */
  const said = (config: Partial<SlirpConfig>, ask: Uint8Array, to?: string) => {
    const clock = { now: 1000 };
    const other = boundStack(clock, config);
    const us = boundStack(clock, config);
    other.sent.length = 0;
    other.stack.input(ask);
    const answer = other.sent[0]!;
    us.stack.input(to === undefined ? answer : withDestination(answer, to));
    return conflictLines(us.logs)[0] ?? "";
  };
  const both = /\(slirp option addr=10\.0\.3\.2\/24\/addr6=fd00:0:0:1::2\/64\)/;
  // Moving IPv4 alone met the other slirp's IPv6 at the next start (it answers for fd00::2 too).
  assert.match(said({}, guestArpRequest([10, 0, 2, 2]), "52:55:0a:00:02:02"), both);
  assert.match(said({}, dadSolicit(GW6)), both);
  assert.match(
    said({ v6: false }, guestArpRequest([10, 0, 2, 2]), "52:55:0a:00:02:02"),
    /\(slirp option addr=10\.0\.3\.2\/24\)/,
  );
  assert.match(said({ v4: false }, dadSolicit(GW6)), /\(slirp option addr6=fd00:0:0:1::2\/64\)/);
});

/** A stack's `onProbed` calls, each with the conflict lines logged by then. */
function probedCalls(s: Bound): number[] {
  const calls: number[] = [];
  s.stack.onProbed = () => calls.push(conflictLines(s.logs).length);
  return calls;
}

Deno.test("a --daemon's readiness: the first probe unanswered is said ANSWER_WAIT_MS after it left, timed from its departure when it leaves late", () => {
  const clock = { now: 1000 };
  const s = boundStack(clock);
  const calls = probedCalls(s);
  s.stack.probeAddresses(); // plugged in
  // A loaded machine: the stack's timers run only 500 ms later, so the probe leaves then.
  clock.now += 500;
  s.stack.poll();
  assert.equal(
    s.sent.filter((f) => f[12] === 0x08 && f[13] === 0x06).length,
    2,
    "the ARP probes (gateway, DNS) left now",
  );
  assert.ok(s.stack.nextTimerMs() <= ANSWER_WAIT_MS, "a timer is due for the answer's wait");
  // A sleep of 300 ms from plugging in was over here, before the probe could be answered.
  clock.now += ANSWER_WAIT_MS - 1;
  s.stack.poll();
  assert.deepEqual(calls, [], "still waiting for an answer");
  clock.now += 1;
  s.stack.poll();
  assert.deepEqual(calls, [], "the wait is over, but the loop reads once more before it is said");
  assert.equal(s.stack.nextTimerMs(), 0, "due at once: the loop's next turn reads without waiting");
  s.stack.poll();
  assert.deepEqual(calls, [0]);
  // Once: the later probes are no readiness.
  run(clock, [s], 3000, () => s.sent.splice(0));
  assert.deepEqual(calls, [0]);
});

Deno.test("a --daemon's readiness: another slirp's answer to the first probe is said at once, after the gateway-taken line", () => {
  const clock = { now: 1000 };
  const first = boundStack(clock);
  run(clock, [first], 4000, () => first.sent.splice(0));
  const second = boundStack(clock);
  const calls = probedCalls(second);
  second.stack.probeAddresses(); // plugged in: the guard starts over
  clock.now += PROBE_DELAY_MS;
  second.stack.poll();
  hub(first, second)();
  assert.deepEqual(calls, [1], "with the line logged, before the wait for no answer is over");
  run(clock, [first, second], 3000, hub(first, second));
  assert.deepEqual(calls, [1], "once");
});

Deno.test("a --daemon's readiness: an answer read only after the wait was over (the thread held off its core, its timer run first) is still said before readiness", () => {
  const clock = { now: 1000 };
  const first = boundStack(clock);
  run(clock, [first], 4000, () => first.sent.splice(0));
  const second = boundStack(clock);
  const calls = probedCalls(second);
  second.stack.probeAddresses();
  clock.now += PROBE_DELAY_MS;
  second.stack.poll(); // the probe leaves
  const probe = second.sent.splice(0);
  for (const f of probe) first.stack.input(f); // the other slirp answers at once...
  clock.now += ANSWER_WAIT_MS + 300; // ...but this thread runs again only 500 ms later: its timer first
  second.stack.poll();
  assert.deepEqual(calls, [], "not said unanswered before the loop read what came");
  for (const f of first.sent.splice(0)) second.stack.input(f); // the loop's read
  assert.deepEqual(calls, [1], "the gateway-taken line, then readiness");
  second.stack.poll();
  assert.deepEqual(calls, [1], "once");
});

Deno.test("a --daemon's readiness: a slirp with no address family to probe for is ready at once", () => {
  const clock = { now: 1000 };
  const s = boundStack(clock, { v4: false, v6: false });
  const calls = probedCalls(s);
  s.stack.probeAddresses();
  assert.deepEqual(calls, [0]);
});
