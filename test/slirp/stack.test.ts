import assert from "node:assert/strict";
import type { SlirpConfig } from "../../src/slirp/config.ts";
import { buildFrame, etherType, formatMac } from "../../src/wire/ethernet.ts";
import { ARP_REPLY, ARP_REQUEST, writeArp } from "../../src/wire/arp.ts";
import { buildDhcp, DHCP_MSG, DHCP_OPT, dhcpU32, parseDhcp, u32Option } from "../../src/wire/dhcp.ts";
import { formatIpv4, newIpv4Header, parseIpv4, writeIpv4Header } from "../../src/wire/ipv4.ts";
import { formatIpv6, newIpv6Header, parseIpv6, writeIpv6Header } from "../../src/wire/ipv6.ts";
import { ICMP, writeIcmpv4 } from "../../src/wire/icmpv4.ts";
import { finishIcmpv6, ICMPV6 } from "../../src/wire/icmpv6.ts";
import { newNdpMessage, parseNdp } from "../../src/wire/ndp.ts";
import { newUdpHeader, parseUdp, writeUdp } from "../../src/wire/udp.ts";
import { buildDnsMessage } from "../../src/wire/dns.ts";
import { parseForward, unprivilegedPortStart } from "../../src/slirp/config.ts";
import { MAX_UDP_FLOWS } from "../../src/slirp/stack.ts";
import { MAX_UDP_PEERS_PER_CLIENT } from "../../src/slirp/udp_nat.ts";
import { PROBE_WAIT_MS } from "../../src/slirp/dhcp_server.ts";
import { GUEST_MAC, GW_MAC, testStack, udp4Frame, udp6Frame } from "./helpers.ts";
import { ipLiteral, ipv4ToU32 } from "../../src/wire/ip_address.ts";
import { checkFrame } from "../helpers/packet_checker.ts";
import { valueOf } from "../helpers/parsed.ts";

const GUEST = [10, 0, 2, 15];
const GW = [10, 0, 2, 2];
const GUEST6 = ipLiteral("fd00::15");
const GW6 = ipLiteral("fd00::2");

function ipv4Of(frame: Uint8Array) {
  const h = newIpv4Header();
  assert.equal(parseIpv4(frame, 14, frame.length - 14, h), null);
  return h;
}

function udpOf(frame: Uint8Array) {
  const h = ipv4Of(frame);
  const u = newUdpHeader();
  assert.equal(parseUdp(frame, h.payloadOffset, h.payloadLength, u), null);
  return { h, u, payload: frame.slice(u.payloadOffset, u.payloadOffset + u.payloadLength) };
}

function arpRequest(targetIp: number[]): Uint8Array {
  const p = new Uint8Array(28);
  const mac = new Uint8Array([2, 0, 0, 0, 0, 0x15]);
  writeArp(
    p,
    0,
    ARP_REQUEST,
    mac,
    0x0a00020f,
    new Uint8Array(6),
    ipv4ToU32(new Uint8Array(targetIp)),
  );
  return buildFrame({ src: GUEST_MAC, type: 0x0806, payload: p });
}

function dhcpFrame(type: number, mac: string, extra: [number, Uint8Array][] = [], ciaddr = 0): Uint8Array {
  const chaddr = new Uint8Array(mac.split(":").map((x) => parseInt(x, 16)));
  const msg = buildDhcp({
    op: 1,
    xid: 0x1234,
    chaddr,
    ciaddr,
    options: [[DHCP_OPT.MESSAGE_TYPE, new Uint8Array([type])], ...extra],
  });
  return udp4Frame(ciaddr === 0 ? [0, 0, 0, 0] : GUEST, 68, [255, 255, 255, 255], 67, msg, {
    mac,
    dstMac: "ff:ff:ff:ff:ff:ff",
  });
}

Deno.test("ARP: the gateway and DNS addresses answer, others do not", () => {
  const t = testStack();
  t.stack.input(arpRequest(GW));
  t.stack.input(arpRequest([10, 0, 2, 3]));
  t.stack.input(arpRequest([10, 0, 2, 99]));
  const out = t.take();
  assert.equal(out.length, 2);
  checkFrame(out[0]!, { dst: GUEST_MAC, arp: { op: ARP_REPLY, senderMac: GW_MAC, senderIp: "10.0.2.2" } });
  checkFrame(out[1]!, { dst: GUEST_MAC, arp: { op: ARP_REPLY, senderIp: "10.0.2.3" } });
});

Deno.test("DHCP: DISCOVER, REQUEST, a second client, NAK, RELEASE, INFORM", () => {
  const t = testStack({ domain: "vde.test", search: ["lan"], mtu: 1400 });
  t.stack.input(dhcpFrame(DHCP_MSG.DISCOVER, GUEST_MAC));
  let [offer] = t.take();
  let m = valueOf(parseDhcp(udpOf(offer!).payload));
  assert.equal(m.messageType, DHCP_MSG.OFFER);
  assert.equal(formatIpv4(m.yiaddr), "10.0.2.15");
  assert.equal(dhcpU32(m, DHCP_OPT.ROUTER), 0x0a000202);
  assert.equal(dhcpU32(m, DHCP_OPT.DNS), 0x0a000203);
  assert.equal(dhcpU32(m, DHCP_OPT.SUBNET_MASK), 0xffffff00);
  assert.equal(dhcpU32(m, DHCP_OPT.LEASE_TIME), 86400);
  assert.equal(new TextDecoder().decode(m.options.get(DHCP_OPT.DOMAIN_NAME)), "vde.test");
  assert.ok(m.options.get(DHCP_OPT.DOMAIN_SEARCH) !== undefined);
  assert.deepEqual(m.options.get(DHCP_OPT.MTU), new Uint8Array([1400 >> 8, 1400 & 255]));
  assert.equal(formatMac(offer!, 0), GUEST_MAC);

  t.stack.input(
    dhcpFrame(DHCP_MSG.REQUEST, GUEST_MAC, [[DHCP_OPT.REQUESTED_IP, u32Option(0x0a00020f)], [
      DHCP_OPT.SERVER_ID,
      u32Option(0x0a000202),
    ]]),
  );
  m = valueOf(parseDhcp(udpOf(t.take()[0]!).payload));
  assert.equal(m.messageType, DHCP_MSG.ACK);
  assert.equal(formatIpv4(m.yiaddr), "10.0.2.15");

  // One lease per MAC: the same MAC asking again gets the same address; another gets the next.
  t.stack.input(dhcpFrame(DHCP_MSG.DISCOVER, GUEST_MAC));
  assert.equal(formatIpv4(valueOf(parseDhcp(udpOf(t.take()[0]!).payload)).yiaddr), "10.0.2.15");
  t.stack.input(dhcpFrame(DHCP_MSG.DISCOVER, "02:00:00:00:00:16"));
  [offer] = t.take();
  assert.equal(formatIpv4(valueOf(parseDhcp(udpOf(offer!).payload)).yiaddr), "10.0.2.16");
  // Asking for the first client's address: NAK.
  t.stack.input(
    dhcpFrame(DHCP_MSG.REQUEST, "02:00:00:00:00:16", [[DHCP_OPT.REQUESTED_IP, u32Option(0x0a00020f)]]),
  );
  assert.equal(valueOf(parseDhcp(udpOf(t.take()[0]!).payload)).messageType, DHCP_MSG.NAK);
  // RELEASE frees it.
  t.stack.input(dhcpFrame(DHCP_MSG.RELEASE, GUEST_MAC, [], 0x0a00020f));
  assert.equal(t.take().length, 0);
  assert.equal(t.stack.dhcp.leases().length, 0);
  // INFORM: options, no lease.
  t.stack.input(dhcpFrame(DHCP_MSG.INFORM, GUEST_MAC, [], 0x0a00020f));
  m = valueOf(parseDhcp(udpOf(t.take()[0]!).payload));
  assert.equal(m.messageType, DHCP_MSG.ACK);
  assert.equal(dhcpU32(m, DHCP_OPT.LEASE_TIME), null);
  assert.equal(dhcpU32(m, DHCP_OPT.ROUTER), 0x0a000202);
});

/** Takes the first IPv4 frame out of `t.out`; the others stay. */
function takeIpv4(t: ReturnType<typeof testStack>): Uint8Array | undefined {
  const i = t.out.findIndex((f) => etherType(f) === 0x0800);
  return i < 0 ? undefined : t.out.splice(i, 1)[0];
}

/**
 * A DISCOVER and REQUEST from `mac` through the stack: the address ACKed, or null when none was offered.
 * Other frames they caused (ARP requests) stay in `t.out`.
 */
function dhcpLease(t: ReturnType<typeof testStack>, mac: string): number | null {
  t.stack.input(dhcpFrame(DHCP_MSG.DISCOVER, mac));
  const offer = takeIpv4(t);
  if (offer === undefined) return null;
  const addr = valueOf(parseDhcp(udpOf(offer).payload)).yiaddr;
  t.stack.input(dhcpFrame(DHCP_MSG.REQUEST, mac, [[DHCP_OPT.REQUESTED_IP, u32Option(addr)]]));
  assert.equal(valueOf(parseDhcp(udpOf(takeIpv4(t)!).payload)).messageType, DHCP_MSG.ACK);
  return addr;
}

Deno.test("DHCP full: a guest whose frames the stack sees keeps its lease for good; a fake MAC's that no frame came from goes to a new guest", () => {
  // Pool 10.0.2.13 .. .14: a guest and a fake client fill it.
  const t = testStack({ prefixLength: 28, dhcpStart: 0x0a00020d });
  // A full pool's first DISCOVER asks by ARP whether the address is in use; the next takes it.
  const leaseVia = (mac: string): number | null => {
    const now = dhcpLease(t, mac);
    if (now !== null) return now;
    t.advance(PROBE_WAIT_MS);
    return dhcpLease(t, mac);
  };
  assert.equal(leaseVia(GUEST_MAC), 0x0a00020d);
  assert.equal(leaseVia("02:66:00:00:00:01"), 0x0a00020e);
  // The guest talks to a host, which answers: after the first, its frames take the neighbour cache's
  // fast path (the last address looked up), which only notes the address for the once-a-second stamp.
  const talk = () => {
    t.stack.input(udp4Frame([10, 0, 2, 13], 5000, GW, 7, new Uint8Array([1]), { mac: GUEST_MAC }));
    t.net.sockets.at(-1)!.receive(new Uint8Array([2]), [127, 0, 0, 1], 7);
    assert.ok(t.take().some((f) => formatMac(f, 0) === GUEST_MAC), "the answer reached the guest");
  };
  for (let minute = 0; minute <= 11; minute++) {
    talk();
    t.advance(60_000);
  }
  assert.equal(
    leaseVia("02:00:00:00:00:99"),
    0x0a00020e,
    "the fake client's unused lease goes to a new guest",
  );
  assert.equal(leaseVia("02:00:00:00:00:98"), null, "the talking guest's is kept, eleven minutes on");
  assert.equal(t.stack.dhcp.leaseOf(GUEST_MAC), 0x0a00020d);
  assert.ok(t.logs.some((l) => l.startsWith("DHCP: pool full: 10.0.2.14, leased to 02:66:00:00:00:01")));
});

Deno.test("DHCP full: a guest that sends no IPv4 (it talks IPv6 only, or is quiet) but answers ARP keeps its lease; the one whose address does not answer goes to a new guest", () => {
  // Pool 10.0.2.13 .. .14: a guest and a fake client fill it.
  const t = testStack({ prefixLength: 28, dhcpStart: 0x0a00020d });
  assert.equal(dhcpLease(t, GUEST_MAC), 0x0a00020d);
  assert.equal(dhcpLease(t, "02:66:00:00:00:01"), 0x0a00020e);
  // The guest's traffic is IPv6 only: no IPv4 frame from 10.0.2.13 after its lease.
  for (let s = 0; s < 40; s++) {
    t.stack.input(udp6Frame(GUEST6, 5000, ipLiteral("2001:db8::1"), 7, new Uint8Array([1])));
    t.advance(1000);
  }
  t.take();
  // A new guest finds the pool full: the stack asks who has each address before giving one away.
  const newcomer = "02:00:00:00:00:99";
  let got = dhcpLease(t, newcomer);
  let asked = false;
  for (const f of t.take()) {
    if (etherType(f) !== 0x0806 || f[21] !== ARP_REQUEST) continue;
    if (f.subarray(38, 42).join(".") !== "10.0.2.13") continue;
    asked = true;
    // The guest answers for its address, as any live IPv4 host does.
    const p = new Uint8Array(28);
    writeArp(
      p,
      0,
      ARP_REPLY,
      new Uint8Array([2, 0, 0, 0, 0, 0x15]),
      0x0a00020d,
      f.subarray(6, 12),
      0x0a000202,
    );
    t.stack.input(buildFrame({ src: GUEST_MAC, dst: GW_MAC, type: 0x0806, payload: p }));
  }
  assert.ok(asked, "the stack asked who has 10.0.2.13");
  for (let tries = 0; got === null && tries < 5; tries++) {
    t.advance(1000);
    got = dhcpLease(t, newcomer);
  }
  assert.equal(got, 0x0a00020e, "the new guest gets the address that did not answer");
  assert.equal(t.stack.dhcp.leaseOf(GUEST_MAC), 0x0a00020d, "the guest that answered keeps its own");
});

Deno.test("DHCP full: a talking guest keeps its lease after a flood of ARP from 4,096 addresses clears the neighbour cache", () => {
  // A /16 (room for 4,096 sources) whose pool is 10.0.255.253 .. .254: a guest and a fake client fill it.
  const t = testStack({ network: 0x0a000000, prefixLength: 16, dhcpStart: 0x0a00fffd });
  assert.equal(dhcpLease(t, GUEST_MAC), 0x0a00fffd);
  assert.equal(dhcpLease(t, "02:66:00:00:00:01"), 0x0a00fffe);
  const guestArp = (op: number, senderMac: Uint8Array, senderIp: number, targetIp: number) => {
    const p = new Uint8Array(28);
    writeArp(p, 0, op, senderMac, senderIp, new Uint8Array(6), targetIp);
    return buildFrame({ src: formatMac(senderMac, 0), dst: GW_MAC, type: 0x0806, payload: p });
  };
  const mac = new Uint8Array([2, 0, 0, 0, 0, 0x15]);
  // The guest talks to a host, which answers: its frames take the neighbour cache's fast path.
  const talk = () => {
    t.stack.input(udp4Frame([10, 0, 255, 253], 5000, GW, 7, new Uint8Array([1]), { mac: GUEST_MAC }));
    t.net.sockets.at(-1)!.receive(new Uint8Array([2]), [127, 0, 0, 1], 7);
    t.take();
    t.advance(1000);
  };
  for (let s = 0; s < 40; s++) talk();
  // A hostile guest asks for the gateway from 4,097 made-up addresses: the cache fills and is cleared.
  for (let a = 0; a <= 4096; a++) {
    t.stack.input(
      guestArp(ARP_REQUEST, new Uint8Array([2, 0x77, 0, 0, a >> 8, a & 0xff]), 0x0a000400 + a, 0x0a000202),
    );
  }
  for (let s = 0; s < 5; s++) talk();
  // A new client finds the pool full; the guest answers the ARP request for its address.
  const newcomer = "02:00:00:00:00:99";
  let got = dhcpLease(t, newcomer);
  for (const f of t.take()) {
    if (etherType(f) === 0x0806 && f[21] === ARP_REQUEST && f.subarray(38, 42).join(".") === "10.0.255.253") {
      t.stack.input(guestArp(ARP_REPLY, mac, 0x0a00fffd, 0x0a000202));
    }
  }
  for (let tries = 0; got === null && tries < 5; tries++) {
    talk();
    got = dhcpLease(t, newcomer);
  }
  assert.equal(got, 0x0a00fffe, "the new guest gets the fake client's address");
  assert.equal(t.stack.dhcp.leaseOf(GUEST_MAC), 0x0a00fffd, "the talking guest keeps its own");
});

function echo4(dst: number[], id = 0x77): Uint8Array {
  const ip = new Uint8Array(20 + 16);
  const n = ((dst[0]! << 24) | (dst[1]! << 16) | (dst[2]! << 8) | dst[3]!) >>> 0;
  writeIpv4Header(ip, 0, { totalLength: 36, protocol: 1, src: 0x0a00020f, dst: n });
  ip.set([9, 9, 9, 9, 9, 9, 9, 9], 28);
  writeIcmpv4(ip, 20, 16, ICMP.ECHO_REQUEST, 0, (id << 16) | 1);
  return buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: ip });
}

Deno.test("ICMP echo: the gateway answers; the outside only through an allowed ping socket", () => {
  const t = testStack();
  t.stack.input(echo4(GW));
  const [reply] = t.take();
  checkFrame(reply!, { ipv4: { src: "10.0.2.2" }, icmp: { type: ICMP.ECHO_REPLY } });
  t.stack.input(echo4([192, 0, 2, 1]));
  assert.equal(t.take().length, 0);
  assert.equal(t.stack.stats.icmpDropped, 1);

  const p = testStack({}, true);
  p.stack.input(echo4([192, 0, 2, 1], 0x55));
  const sock = p.net.sockets.find((s) => s.kind === "ping")!;
  assert.equal(sock.sent.length, 1);
  assert.deepEqual([...sock.sent[0]!.addr], [192, 0, 2, 1]);
  // The kernel's reply carries its own id; the guest gets its own back.
  const answer = new Uint8Array(16);
  writeIcmpv4(answer, 0, 16, ICMP.ECHO_REPLY, 0, (0x999 << 16) | 1);
  sock.receive(answer, [192, 0, 2, 1], 0);
  const [back] = p.take();
  checkFrame(back!, { ipv4: { src: "192.0.2.1" }, icmp: { type: ICMP.ECHO_REPLY, id: 0x55 } });
});

Deno.test("ICMP echo: without ping sockets the reason is logged once, at the first ping outside, not at start", () => {
  const t = testStack();
  assert.deepEqual(t.logs, []);
  t.stack.input(echo4(GW));
  assert.deepEqual(t.logs, [], "the gateway answers: nothing to explain");
  t.stack.input(echo4([192, 0, 2, 1]));
  t.stack.input(echo4([192, 0, 2, 2]));
  assert.equal(t.logs.length, 1);
  assert.match(t.logs[0]!, /net\.ipv4\.ping_group_range/);
  const allowed = testStack({}, true);
  allowed.stack.input(echo4([192, 0, 2, 1]));
  assert.deepEqual(allowed.logs, []);
});

Deno.test("UDP NAT: the gateway is the host's loopback, replies come back from it, idle flows close", () => {
  const t = testStack();
  t.stack.input(udp4Frame(GUEST, 5000, GW, 7777, new Uint8Array([1, 2, 3])));
  const sock = t.net.sockets.at(-1)!;
  assert.deepEqual([...sock.sent[0]!.addr], [127, 0, 0, 1]);
  assert.equal(sock.sent[0]!.port, 7777);
  sock.receive(new Uint8Array([4, 5]), [127, 0, 0, 1], 7777);
  checkFrame(t.take()[0]!, {
    dst: GUEST_MAC,
    ipv4: { src: "10.0.2.2", dst: "10.0.2.15" },
    udp: { srcPort: 7777, dstPort: 5000, payload: new Uint8Array([4, 5]) },
  });
  // An outside address keeps its own address both ways.
  t.stack.input(udp4Frame(GUEST, 5000, [192, 0, 2, 9], 53, new Uint8Array([1])));
  assert.deepEqual([...sock.sent[1]!.addr], [192, 0, 2, 9]);
  t.advance(300_000);
  assert.equal(sock.closed, true);
  assert.equal(t.stack.udpFlowCount, 0);
});

Deno.test("UDP NAT: flows are bounded; host loopback off and restricted mode refuse", () => {
  const t = testStack();
  for (let p = 1; p <= MAX_UDP_FLOWS + 10; p++) {
    t.stack.input(udp4Frame(GUEST, p, [192, 0, 2, 9], 9, new Uint8Array(1)));
  }
  assert.equal(t.stack.udpFlowCount, MAX_UDP_FLOWS);
  const off = testStack({ hostLoopback: false, restricted: true });
  off.stack.input(udp4Frame(GUEST, 1, GW, 9, new Uint8Array(1)));
  off.stack.input(udp4Frame(GUEST, 1, [192, 0, 2, 9], 9, new Uint8Array(1)));
  assert.equal(off.net.sockets.length, 0);
  assert.equal(off.stack.stats.udpDropped, 2);
});

Deno.test("UDP forward: the guest sees the client's real address and its reply goes back out", async () => {
  const t = testStack();
  await t.stack.addForward(parseForward("udp:5353:10.0.2.15:53", t.stack.config));
  const fwd = t.net.sockets.find((s) => s.localPort === 5353)!;
  fwd.receive(new Uint8Array([7]), [192, 0, 2, 50], 4000);
  // The guest's MAC is not known yet: an ARP request goes out and the frame waits.
  let out = t.take();
  assert.equal(etherType(out[0]!), 0x0806);
  t.stack.input(arpRequest(GW));
  out = t.take();
  const data = out.find((f) => etherType(f) === 0x0800)!;
  const { h, u } = udpOf(data);
  assert.equal(formatIpv4(h.src), "192.0.2.50");
  assert.equal(u.srcPort, 4000);
  assert.equal(u.dstPort, 53);
  t.stack.input(udp4Frame(GUEST, 53, [192, 0, 2, 50], 4000, new Uint8Array([8])));
  assert.deepEqual([...fwd.sent[0]!.addr], [192, 0, 2, 50]);
  assert.equal(fwd.sent[0]!.port, 4000);
  // A loopback client shows as the gateway.
  fwd.receive(new Uint8Array([9]), [127, 0, 0, 1], 4001);
  assert.equal(formatIpv4(udpOf(t.take()[0]!).h.src), "10.0.2.2");
  // Taken port, denied port, duplicate, removal.
  t.net.taken.add(6000);
  await assert.rejects(
    () => t.stack.addForward(parseForward("udp:6000:53", t.stack.config)),
    // The words of a TCP forward's taken port (test/slirp/tcp_engine.test.ts), with UDP.
    new Error(
      "Host port 6000 on 0.0.0.0 is already in use (UDP forward to 10.0.2.15:53): " +
        "forward another host port (0 takes any free one)",
    ),
  );
  t.net.denied.add(53);
  await assert.rejects(
    () => t.stack.addForward(parseForward("udp:53:53", t.stack.config)),
    // The machine's own limit (1024 unless net.ipv4.ip_unprivileged_port_start says otherwise).
    new Error(
      unprivilegedPortStart() > 53
        ? `Host port 53 on 0.0.0.0 is below ${unprivilegedPortStart()}, which only root may listen on ` +
          `(UDP forward to 10.0.2.15:53): forward a host port from ${unprivilegedPortStart()} up, e.g. udp:8080:53`
        : "Not allowed to listen on host port 53 on 0.0.0.0 (UDP forward to 10.0.2.15:53)",
    ),
  );
  await assert.rejects(() => t.stack.addForward(parseForward("udp:5353:53", t.stack.config)), /exists/);
  assert.equal(await t.stack.removeForward(parseForward("udp:5353:1", t.stack.config)), true);
  assert.equal(fwd.closed, true);
});

function fragments(payload: Uint8Array, pieces: [number, number][], id: number): Uint8Array[] {
  // A UDP datagram split by byte ranges of the IP payload (UDP header included).
  const udp = new Uint8Array(8 + payload.length);
  udp.set(payload, 8);
  const pseudo = new Uint8Array(20 + udp.length);
  writeIpv4Header(pseudo, 0, { totalLength: pseudo.length, protocol: 17, src: 0x0a00020f, dst: 0x0a000202 });
  pseudo.set(udp, 20);
  writeUdp(pseudo, 20, 1111, 7777, payload.length, 12, 16, 4);
  const whole = pseudo.subarray(20);
  return pieces.map(([from, to]) => {
    const ip = new Uint8Array(20 + (to - from));
    writeIpv4Header(ip, 0, {
      totalLength: ip.length,
      protocol: 17,
      src: 0x0a00020f,
      dst: 0x0a000202,
      id,
      mf: to < whole.length,
      fragmentOffset: from,
    });
    ip.set(whole.subarray(from, to), 20);
    return buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: ip });
  });
}

Deno.test("UDP forward: clients spraying from many source ports push out their own reply paths, not a quiet client's nor the guest's flows", async () => {
  const t = testStack();
  await t.stack.addForward(parseForward("udp:5353:10.0.2.15:53", t.stack.config));
  const fwd = t.net.sockets.find((s) => s.localPort === 5353)!;
  t.stack.input(arpRequest(GW));
  t.stack.input(udp4Frame(GUEST, 6000, [192, 0, 2, 9], 9, new Uint8Array(1)));
  const guestFlow = t.net.sockets.at(-1)!;
  fwd.receive(new Uint8Array([7]), [192, 0, 2, 50], 4000);
  // Five clients send from 300 source ports each: 1,500 reply paths asked of a table of MAX_UDP_PEERS.
  for (let c = 60; c < 65; c++) {
    for (let p = 0; p < 300; p++) fwd.receive(new Uint8Array([1]), [192, 0, 2, c], 10000 + p);
  }
  t.take();
  const repliesOut = (to: number[], port: number): boolean => {
    const before = fwd.sent.length;
    t.stack.input(udp4Frame(GUEST, 53, to, port, new Uint8Array([8])));
    const last = fwd.sent.at(-1);
    return fwd.sent.length === before + 1 && last!.port === port && last!.addr.join(".") === to.join(".");
  };
  assert.ok(repliesOut([192, 0, 2, 50], 4000), "the quiet client's reply path is kept");
  assert.ok(repliesOut([192, 0, 2, 64], 10299), "a sprayer's newest path is kept");
  assert.ok(!repliesOut([192, 0, 2, 64], 10000), "its oldest gave way to its own newer ones");
  assert.ok(
    !repliesOut([192, 0, 2, 60], 10000 + 300 - MAX_UDP_PEERS_PER_CLIENT),
    "the first sprayer, which held most when the table filled, gave up its oldest",
  );
  assert.equal(guestFlow.closed, false, "the guest's own flow stays open");
  assert.deepEqual(t.logs.filter((l) => l.includes("reply paths")), [
    "UDP forward 0.0.0.0:5353: client 192.0.2.60 holds the most reply paths (source ports) one client may, " +
    "256 of 1024: the oldest give way to new ones (said once)",
  ], "a client reaching its share is said once");
});

Deno.test("UDP forward: a local client spraying from many loopback addresses pushes out its own reply paths, not another client's", async () => {
  const t = testStack();
  await t.stack.addForward(parseForward("udp:5353:10.0.2.15:53", t.stack.config));
  const fwd = t.net.sockets.find((s) => s.localPort === 5353)!;
  t.stack.input(arpRequest(GW));
  fwd.receive(new Uint8Array([7]), [192, 0, 2, 50], 4000);
  // Any local user may send from any address in 127.0.0.0/8: 1,100 of them, a source port each.
  for (let a = 0; a < 1100; a++) {
    fwd.receive(new Uint8Array([1]), [127, 0, 1 + (a >> 8), a & 0xff], 10000 + a);
  }
  t.take();
  const before = fwd.sent.length;
  t.stack.input(udp4Frame(GUEST, 53, [192, 0, 2, 50], 4000, new Uint8Array([8])));
  assert.equal(fwd.sent.length, before + 1, "the other client's reply path is kept");
  assert.deepEqual(t.logs.filter((l) => l.includes("reply paths")), [
    "UDP forward 0.0.0.0:5353: the local clients (127.0.0.0/8) hold the most reply paths (source ports) one " +
    "client may, 256 of 1024: the oldest give way to new ones (said once)",
  ]);
});

Deno.test("UDP forward: an IPv6 client spraying from many addresses of its /64 pushes out its own reply paths, not another client's", async () => {
  const t = testStack();
  await t.stack.addForward(parseForward("udp:[::]:5353:[fd00::15]:53", t.stack.config));
  const fwd = t.net.sockets.find((s) => s.localPort === 5353)!;
  const quiet = ipLiteral("2001:db8:1::50");
  fwd.receive(new Uint8Array([7]), [...quiet], 4000);
  const sprayer = ipLiteral("2001:db8:2::");
  for (let a = 0; a < 1100; a++) {
    sprayer[14] = a >> 8;
    sprayer[15] = a & 0xff;
    fwd.receive(new Uint8Array([1]), [...sprayer], 10000 + a);
  }
  t.take();
  const before = fwd.sent.length;
  t.stack.input(udp6Frame(GUEST6, 53, quiet, 4000, new Uint8Array([8])));
  assert.equal(fwd.sent.length, before + 1, "the other client's reply path is kept");
  assert.equal(fwd.sent.at(-1)!.port, 4000);
  assert.deepEqual(t.logs.filter((l) => l.includes("reply paths")), [
    "UDP forward [::]:5353: client 2001:db8:2::100 (with its /64) holds the most reply paths (source ports) one " +
    "client may, 256 of 1024: the oldest give way to new ones (said once)",
  ]);
});

Deno.test("fragments: reassembled out of order; overlaps dropped; memory bounded", () => {
  const t = testStack();
  const data = new Uint8Array(3000).map((_, i) => i & 0xff);
  for (const f of fragments(data, [[2400, 3008], [0, 1200], [1200, 2400]], 1).reverse()) t.stack.input(f);
  const sock = t.net.sockets.at(-1)!;
  assert.equal(sock.sent.length, 1);
  assert.deepEqual(sock.sent[0]!.data, data);
  // Overlap: dropped, nothing sent.
  for (const f of fragments(data, [[0, 1200], [1192, 2400], [2400, 3008]], 2)) t.stack.input(f);
  assert.equal(sock.sent.length, 1);
  assert.equal(t.stack.reassembly4.stats.overlaps, 1);
  // A flood of first fragments: the reassembler keeps at most its bound.
  for (let id = 100; id < 1100; id++) t.stack.input(fragments(data, [[0, 1200]], id)[0]!);
  assert.ok(t.stack.reassembly4.size <= 64);
  assert.ok(t.stack.reassembly4.bytes <= 4 << 20);
  t.advance(31_000);
  assert.equal(t.stack.reassembly4.size, 0);
});

Deno.test("a large datagram from the host reaches the guest in fragments within the MTU", () => {
  const t = testStack();
  t.stack.input(arpRequest(GW));
  t.take();
  t.stack.input(udp4Frame(GUEST, 5000, GW, 7777, new Uint8Array([1])));
  const sock = t.net.sockets.at(-1)!;
  sock.receive(new Uint8Array(8000).fill(3), [127, 0, 0, 1], 7777);
  const out = t.take();
  assert.equal(out.length, 6);
  for (const f of out) assert.ok(f.length <= 1514);
});

Deno.test("IPv6: RS gets an RA with prefix and RDNSS, NS for the gateway an NA, UDP to fd00::2 the host's ::1", () => {
  const t = testStack();
  t.take();
  const ll = ipLiteral("fe80::15");
  const rs = new Uint8Array(40 + 16);
  writeIpv6Header(rs, 0, 16, 58, 255, ll, ipLiteral("ff02::2"));
  rs[40] = ICMPV6.ROUTER_SOLICIT;
  rs.set([1, 1, 2, 0, 0, 0, 0, 0x15], 48);
  finishIcmpv6(rs, 40, 16, 8, 24);
  t.stack.input(buildFrame({ src: GUEST_MAC, dst: "33:33:00:00:00:02", type: 0x86dd, payload: rs }));
  const [ra] = t.take();
  const h = newIpv6Header();
  assert.equal(parseIpv6(ra!, 14, ra!.length - 14, h), null);
  const n = newNdpMessage();
  assert.equal(parseNdp(ra!, h.dataOffset, h.dataLength, n), null);
  assert.equal(n.type, ICMPV6.ROUTER_ADVERT);
  assert.equal(formatIpv6(ra!, n.prefixes[0]!.offset), "fd00::");
  assert.equal(formatIpv6(ra!, n.dnsOffsets[0]!), "fd00::3");
  assert.equal(formatIpv6(ra!, h.srcOffset), "fe80::5055:aff:fe00:202");

  const ns = new Uint8Array(40 + 32);
  writeIpv6Header(ns, 0, 32, 58, 255, GUEST6, ipLiteral("ff02::1:ff00:2"));
  ns[40] = ICMPV6.NEIGHBOR_SOLICIT;
  ns.set(GW6, 48);
  ns.set([1, 1, 2, 0, 0, 0, 0, 0x15], 64);
  finishIcmpv6(ns, 40, 32, 8, 24);
  t.stack.input(buildFrame({ src: GUEST_MAC, dst: "33:33:ff:00:00:02", type: 0x86dd, payload: ns }));
  const [na] = t.take();
  assert.equal(parseIpv6(na!, 14, na!.length - 14, h), null);
  assert.equal(parseNdp(na!, h.dataOffset, h.dataLength, n), null);
  assert.equal(n.type, ICMPV6.NEIGHBOR_ADVERT);
  assert.equal(formatIpv6(na!, n.targetOffset), "fd00::2");
  assert.equal(formatMac(na!, n.targetMacOffset), GW_MAC);

  t.stack.input(udp6Frame(GUEST6, 6000, GW6, 7777, new Uint8Array([1])));
  const sock = t.net.sockets.at(-1)!;
  assert.equal(formatIpv6(sock.sent[0]!.addr), "::1");
  sock.receive(new Uint8Array([2, 2]), [...ipLiteral("::1")], 7777);
  const [back] = t.take();
  assert.equal(parseIpv6(back!, 14, back!.length - 14, h), null);
  assert.equal(formatIpv6(back!, h.srcOffset), "fd00::2");
  assert.equal(formatIpv6(back!, h.dstOffset), "fd00::15");
});

Deno.test("DNS: queries to 10.0.2.3 go upstream with a fresh id and come back from 10.0.2.3:53", () => {
  const t = testStack();
  t.stack.input(arpRequest(GW));
  t.take();
  const q = buildDnsMessage({ id: 0xbeef, questions: [{ name: "host.test.vde", type: 1 }] });
  t.stack.input(udp4Frame(GUEST, 3333, [10, 0, 2, 3], 53, q));
  const sock = t.net.sockets.at(-1)!;
  const sent = sock.sent[0]!;
  assert.deepEqual([...sent.addr], [127, 0, 0, 1]);
  assert.equal(sent.port, 5353);
  const answer = buildDnsMessage({
    id: (sent.data[0]! << 8) | sent.data[1]!,
    response: true,
    questions: [{ name: "host.test.vde", type: 1 }],
  });
  // From the wrong port: ignored.
  sock.receive(answer, [127, 0, 0, 1], 5354);
  assert.equal(t.take().length, 0);
  sock.receive(answer, [127, 0, 0, 1], 5353);
  const { h, u, payload } = udpOf(t.take()[0]!);
  assert.equal(formatIpv4(h.src), "10.0.2.3");
  assert.equal(u.srcPort, 53);
  assert.equal(u.dstPort, 3333);
  assert.equal((payload[0]! << 8) | payload[1]!, 0xbeef);
});

Deno.test("DNS: a silent upstream is logged once and counted in the stack's description", () => {
  const t = testStack();
  t.stack.input(arpRequest(GW));
  t.take();
  for (const id of [1, 2]) {
    const q = buildDnsMessage({ id, questions: [{ name: "host.test.vde", type: 1 }] });
    t.stack.input(udp4Frame(GUEST, 3333, [10, 0, 2, 3], 53, q));
  }
  t.advance(5000);
  assert.equal(t.logs.filter((l) => l.startsWith("DNS upstream 127.0.0.1:5353 did not answer")).length, 1);
  assert.ok(
    t.stack.describe().includes("DNS upstream: 127.0.0.1:5353; queries 2, answers 0, timed out 2"),
    t.stack.describe().join("\n"),
  );
});

Deno.test("TCP to a refused destination gets a RST (restricted mode)", () => {
  const t = testStack({ restricted: true });
  t.stack.input(arpRequest(GW));
  t.take();
  const ip = new Uint8Array(40);
  writeIpv4Header(ip, 0, { totalLength: 40, protocol: 6, src: 0x0a00020f, dst: 0xc0000209 });
  ip.set([0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff], 20);
  t.stack.input(buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: ip }));
  const [rst] = t.take();
  const h = ipv4Of(rst!);
  assert.equal(formatIpv4(h.src), "192.0.2.9");
  assert.equal(rst![h.payloadOffset + 13]! & 0x04, 0x04);
  assert.equal(t.stack.stats.restricted, 1);
});

Deno.test("a TCP segment with headroom in its buffer leaves as a frame there: headers written in front, no copy", () => {
  const t = testStack();
  t.stack.input(arpRequest(GW));
  t.take();
  const views: Uint8Array[] = [];
  t.stack.attach({ output: (f) => views.push(f), kick() {}, congested: () => false });
  const buffer = new Uint8Array(64 + 24);
  const segment = buffer.subarray(64);
  segment.set([0, 80, 0x30, 0x39, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3, 4]);
  t.stack.sendSegment(new Uint8Array(GW), new Uint8Array(GUEST), segment, buffer);
  // Without the buffer (or without room in it) the segment is copied behind the headers.
  t.stack.sendSegment(new Uint8Array(GW), new Uint8Array(GUEST), segment, buffer.subarray(40));
  t.stack.sendSegment(new Uint8Array(GW), new Uint8Array(GUEST), segment);
  assert.equal(views.length, 3);
  const [inPlace, tooClose, copied] = views;
  assert.equal(inPlace!.buffer, buffer.buffer);
  assert.equal(inPlace!.byteOffset, 64 - 14 - 20);
  assert.notEqual(tooClose!.buffer, buffer.buffer);
  assert.notEqual(copied!.buffer, buffer.buffer);
  for (const f of views) {
    const h = ipv4Of(f);
    assert.equal(formatIpv4(h.src), "10.0.2.2");
    assert.equal(formatIpv4(h.dst), "10.0.2.15");
    assert.deepEqual([...f.subarray(h.payloadOffset)], [...segment]);
  }
});

function echo6(dst: Uint8Array): Uint8Array {
  const ip = new Uint8Array(40 + 16);
  writeIpv6Header(ip, 0, 16, 58, 64, GUEST6, dst);
  ip[40] = ICMPV6.ECHO_REQUEST;
  ip.set([0, 0x55, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9], 44);
  finishIcmpv6(ip, 40, 16, 8, 24);
  return buildFrame({ src: GUEST_MAC, dst: GW_MAC, type: 0x86dd, payload: ip });
}

Deno.test("IPv6 echo: the outside only through an allowed ping socket, never into the guest's own prefix", () => {
  const t = testStack();
  t.stack.input(echo6(ipLiteral("2001:db8::1")));
  assert.equal(t.stack.stats.icmpDropped, 1);
  assert.equal(t.net.sockets.filter((s) => s.kind === "ping").length, 0);

  const p = testStack({}, true);
  p.stack.input(echo6(ipLiteral("fd00::99")));
  assert.equal(p.stack.stats.icmpDropped, 1);
  p.stack.input(echo6(ipLiteral("2001:db8::1")));
  const sock = p.net.sockets.find((s) => s.kind === "ping")!;
  assert.equal(sock.sent.length, 1);
  assert.equal(formatIpv6(sock.sent[0]!.addr), "2001:db8::1");
});

Deno.test("IPv6 TCP to a refused destination gets a RST (restricted mode)", () => {
  const t = testStack({ restricted: true });
  t.take();
  const ip = new Uint8Array(40 + 20);
  writeIpv6Header(ip, 0, 20, 6, 64, GUEST6, ipLiteral("2001:db8::9"));
  ip.set([0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff], 40);
  t.stack.input(buildFrame({ src: GUEST_MAC, dst: GW_MAC, type: 0x86dd, payload: ip }));
  const [rst] = t.take();
  const h = newIpv6Header();
  assert.equal(parseIpv6(rst!, 14, rst!.length - 14, h), null);
  assert.equal(formatIpv6(rst!, h.srcOffset), "2001:db8::9");
  assert.equal(rst![h.dataOffset + 13]! & 0x04, 0x04);
  assert.equal(t.stack.stats.restricted, 1);
});

Deno.test("a bootfile with no TFTP directory and no other TFTP server is said on the start line; with either it is not", () => {
  const said = (config: Partial<SlirpConfig>) => testStack(config).stack.describe()[0]!;
  assert.match(
    said({ bootfile: "boot.ipxe" }),
    /first lease 10\.0\.2\.15; bootfile boot\.ipxe but no TFTP directory serves it \(--tftp DIR, or tftp_path=DIR in slirp:\/\/\)$/,
  );
  const root = Deno.makeTempDirSync({ prefix: "vde-stack-bootfile-" });
  try {
    Deno.writeTextFileSync(`${root}/boot.ipxe`, "#!ipxe\n");
    assert.match(said({ bootfile: "boot.ipxe", tftpRoot: root }), /first lease 10\.0\.2\.15$/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
  assert.match(said({ bootfile: "boot.ipxe", tftpServerName: "pxe" }), /first lease 10\.0\.2\.15$/);
  assert.match(said({}), /first lease 10\.0\.2\.15$/);
});

Deno.test("a bootfile the TFTP directory cannot serve is said on the start line; one named with a leading / is the root's, as libslirp takes it", () => {
  const said = (config: Partial<SlirpConfig>) => testStack(config).stack.describe()[0]!;
  const root = Deno.makeTempDirSync({ prefix: "vde-stack-bootfile-" });
  try {
    Deno.writeTextFileSync(`${root}/boot.ipxe`, "#!ipxe\n");
    assert.equal(
      said({ bootfile: "boot.ipx", tftpRoot: root }),
      `gateway 10.0.2.2/24 dns 10.0.2.3 first lease 10.0.2.15; bootfile boot.ipx cannot be served from ${root} ` +
        "(not found)",
    );
    // QEMU's documentation writes bootfile=/pxelinux.0; iPXE asks for "/boot.ipxe" as given.
    assert.match(said({ bootfile: "/boot.ipxe", tftpRoot: root }), /first lease 10\.0\.2\.15$/);
    assert.match(
      said({ bootfile: "../boot.ipxe", tftpRoot: root }),
      /cannot be served from .* \(a "\.\." component\)$/,
    );
    // iPXE chainloading over HTTP: a URL is no file of the directory's.
    assert.match(
      said({ bootfile: "http://10.0.2.2:8000/boot.ipxe", tftpRoot: root }),
      /first lease 10\.0\.2\.15$/,
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
