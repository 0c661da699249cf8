import assert from "node:assert/strict";
import { C } from "../../ffi/libc.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { ICMP, ICMP_UNREACH, newIcmpMessage, parseIcmpv4, writeIcmpv4 } from "../../src/wire/icmpv4.ts";
import { ICMPV6, ICMPV6_UNREACH, newIcmpv6Message, parseIcmpv6 } from "../../src/wire/icmpv6.ts";
import { formatIpv4, newIpv4Header, parseIpv4, writeIpv4Header } from "../../src/wire/ipv4.ts";
import { newIpv6Header, parseIpv6 } from "../../src/wire/ipv6.ts";
import { ipLiteral } from "../../src/wire/ip_address.ts";
import { MAX_PER_SECOND } from "../../src/slirp/icmp_errors.ts";
import { GUEST_MAC, GW_MAC, testStack, udp4Frame, udp6Frame } from "./helpers.ts";

const GUEST = [10, 0, 2, 15];
const GW = [10, 0, 2, 2];
const NOWHERE = [192, 0, 2, 9];
const GUEST6 = ipLiteral("fd00::15");

/** The ICMP error in `frame`: its IP header, the message, and the quoted IPv4 header and 8 bytes. */
function icmp4Of(frame: Uint8Array) {
  const h = newIpv4Header();
  assert.equal(parseIpv4(frame, 14, frame.length - 14, h), null);
  assert.equal(h.protocol, 1);
  const m = newIcmpMessage();
  assert.equal(parseIcmpv4(frame, h.payloadOffset, h.payloadLength, m), null);
  const q = newIpv4Header();
  const quoted = frame.subarray(m.dataOffset, m.dataOffset + m.dataLength);
  // The quoted header's total length is the original's, longer than the quote.
  q.src = ((quoted[12]! << 24) | (quoted[13]! << 16) | (quoted[14]! << 8) | quoted[15]!) >>> 0;
  q.dst = ((quoted[16]! << 24) | (quoted[17]! << 16) | (quoted[18]! << 8) | quoted[19]!) >>> 0;
  q.protocol = quoted[9]!;
  return { h, m, q, quoted, ports: [(quoted[20]! << 8) | quoted[21]!, (quoted[22]! << 8) | quoted[23]!] };
}

function icmp6Of(frame: Uint8Array) {
  const h = newIpv6Header();
  assert.equal(parseIpv6(frame, 14, frame.length - 14, h), null);
  assert.equal(h.protocol, 58);
  const m = newIcmpv6Message();
  assert.equal(parseIcmpv6(frame, h.dataOffset, h.dataLength, h.srcOffset, h.dstOffset, m), null);
  return { h, m, quoted: frame.subarray(h.dataOffset + 8, h.dataOffset + h.dataLength) };
}

Deno.test("UDP the host has no route for gets ICMP network unreachable from the gateway, quoting the datagram", () => {
  const t = testStack();
  t.net.failWith = C.ENETUNREACH;
  t.stack.input(udp4Frame(GUEST, 5000, NOWHERE, 9999, new Uint8Array(40).fill(1)));
  const [err] = t.take();
  const { h, m, q, quoted, ports } = icmp4Of(err!);
  assert.equal(formatIpv4(h.src), "10.0.2.2");
  assert.equal(formatIpv4(h.dst), "10.0.2.15");
  assert.equal(m.type, ICMP.DEST_UNREACH);
  assert.equal(m.code, ICMP_UNREACH.NET);
  assert.equal(quoted.length, 28);
  assert.equal(formatIpv4(q.dst), "192.0.2.9");
  assert.deepEqual(ports, [5000, 9999]);
  assert.equal(t.stack.stats.icmpErrorsOut, 1);
});

Deno.test("UDP refused by the host later gets ICMP port unreachable about the address the guest wrote to", () => {
  const t = testStack();
  t.stack.input(udp4Frame(GUEST, 5000, GW, 7777, new Uint8Array([1, 2, 3])));
  const sock = t.net.sockets.at(-1)!;
  assert.equal(t.take().length, 0);
  sock.error(C.ECONNREFUSED, 0, [127, 0, 0, 1], 7777, new Uint8Array([1, 2, 3]));
  const { m, q, ports, quoted } = icmp4Of(t.take()[0]!);
  assert.equal(m.code, ICMP_UNREACH.PORT);
  assert.equal(formatIpv4(q.src), "10.0.2.15");
  assert.equal(formatIpv4(q.dst), "10.0.2.2");
  assert.equal(q.protocol, 17);
  assert.deepEqual(ports, [5000, 7777]);
  assert.equal((quoted[24]! << 8) | quoted[25]!, 8 + 3);
  // An errno the guest has no ICMP for is not told.
  sock.error(C.EINVAL, 0, [127, 0, 0, 1], 7777, new Uint8Array(0));
  assert.equal(t.take().length, 0);
});

Deno.test("a DF packet larger than the MTU gets fragmentation needed carrying the MTU", () => {
  const t = testStack({ mtu: 1500 });
  const ip = new Uint8Array(2000);
  writeIpv4Header(ip, 0, { totalLength: 2000, protocol: 17, src: 0x0a00020f, dst: 0xc0000209, df: true });
  t.stack.input(buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: ip }));
  const { m } = icmp4Of(t.take()[0]!);
  assert.equal(m.code, ICMP_UNREACH.FRAG_NEEDED);
  assert.equal(m.seq, 1500);
  assert.equal(t.net.sockets.length, 0);
});

Deno.test("ping the host has no route to gets host unreachable quoting the echo request", () => {
  const t = testStack({}, true);
  t.net.failWith = C.EHOSTUNREACH;
  const ip = new Uint8Array(20 + 16);
  writeIpv4Header(ip, 0, { totalLength: 36, protocol: 1, src: 0x0a00020f, dst: 0xc0000209 });
  writeIcmpv4(ip, 20, 16, ICMP.ECHO_REQUEST, 0, (0x42 << 16) | 1);
  t.stack.input(buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: ip }));
  const { m, quoted } = icmp4Of(t.take()[0]!);
  assert.equal(m.code, ICMP_UNREACH.HOST);
  assert.equal(quoted[20], ICMP.ECHO_REQUEST);
});

Deno.test("ping the host fails to deliver later (no neighbour answered) gets host unreachable quoting the guest's echo", () => {
  const t = testStack({}, true);
  const ip = new Uint8Array(20 + 16);
  writeIpv4Header(ip, 0, { totalLength: 36, protocol: 1, src: 0x0a00020f, dst: 0xc0000209 });
  writeIcmpv4(ip, 20, 16, ICMP.ECHO_REQUEST, 0, (0x42 << 16) | 7);
  t.stack.input(buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: ip }));
  assert.equal(t.take().length, 0, "sent: nothing back yet");
  const sock = t.net.sockets.find((s) => s.kind === "ping")!;
  // The error queue holds the echo as the kernel sent it: its own identifier (0x999) in it.
  const sent = new Uint8Array(16);
  writeIcmpv4(sent, 0, 16, ICMP.ECHO_REQUEST, 0, (0x999 << 16) | 7);
  sock.error(C.EHOSTUNREACH, 0, [192, 0, 2, 9], 0, sent);
  const { m, q, quoted } = icmp4Of(t.take()[0]!);
  assert.equal(m.code, ICMP_UNREACH.HOST);
  assert.equal(formatIpv4(q.src), "10.0.2.15");
  assert.equal(formatIpv4(q.dst), "192.0.2.9");
  assert.equal(q.protocol, 1);
  assert.equal(quoted[20], ICMP.ECHO_REQUEST);
  assert.equal((quoted[24]! << 8) | quoted[25]!, 0x42, "the guest's identifier");
  assert.equal((quoted[26]! << 8) | quoted[27]!, 7, "its sequence number");
});

Deno.test("a TCP connect with no route gets ICMP host unreachable quoting the SYN's ports and sequence", () => {
  const t = testStack();
  t.stack.input(udp4Frame(GUEST, 1, GW, 1, new Uint8Array(0)));
  t.take();
  t.stack.unreachable(new Uint8Array(GUEST), 40000, new Uint8Array(NOWHERE), 80, 0x11223344, "host");
  const { m, q, ports, quoted } = icmp4Of(t.take()[0]!);
  assert.equal(m.code, ICMP_UNREACH.HOST);
  assert.equal(q.protocol, 6);
  assert.equal(formatIpv4(q.dst), "192.0.2.9");
  assert.deepEqual(ports, [40000, 80]);
  assert.equal(
    ((quoted[24]! << 24) | (quoted[25]! << 16) | (quoted[26]! << 8) | quoted[27]!) >>> 0,
    0x11223344,
  );
});

Deno.test("IPv6: no route gets destination unreachable, refused gets port unreachable, beyond the MTU packet too big", () => {
  const t = testStack({ mtu: 1500 });
  const far = ipLiteral("2001:db8::9");
  t.net.failWith = C.ENETUNREACH;
  t.stack.input(udp6Frame(GUEST6, 5000, far, 53, new Uint8Array(10)));
  const out = t.take().filter((f) => f[12] === 0x86 && f[14 + 6] === 58);
  const e = icmp6Of(out.at(-1)!);
  assert.equal(e.m.type, ICMPV6.DEST_UNREACH);
  assert.equal(e.m.code, ICMPV6_UNREACH.NO_ROUTE);
  assert.equal(e.quoted.length, 40 + 8 + 10);

  const u = testStack({ mtu: 1500 });
  u.stack.input(udp6Frame(GUEST6, 5000, far, 53, new Uint8Array(10)));
  u.take();
  const sock = u.net.sockets.at(-1)!;
  sock.onError!(C.ECONNREFUSED, 0, far, 53, new Uint8Array(10));
  assert.equal(icmp6Of(u.take().at(-1)!).m.code, ICMPV6_UNREACH.PORT);

  u.stack.input(udp6Frame(GUEST6, 5000, far, 53, new Uint8Array(1600)));
  const big = icmp6Of(u.take().at(-1)!);
  assert.equal(big.m.type, ICMPV6.PACKET_TOO_BIG);
  assert.equal(big.m.id * 65536 + big.m.seq, 1500);
  assert.equal(big.quoted.length, 1280 - 48);
});

Deno.test("ICMP errors are never about ICMP errors, and at most MAX_PER_SECOND a second", () => {
  const t = testStack({}, true);
  t.net.failWith = C.ENETUNREACH;
  // An echo reply (not a request) the host cannot send on: no error about it.
  const ip = new Uint8Array(20 + 16);
  writeIpv4Header(ip, 0, { totalLength: 36, protocol: 1, src: 0x0a00020f, dst: 0xc0000209 });
  writeIcmpv4(ip, 20, 16, ICMP.DEST_UNREACH, 1, 0);
  t.stack.input(buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: ip }));
  assert.equal(t.take().length, 0);
  for (let i = 0; i < MAX_PER_SECOND + 50; i++) {
    t.stack.input(udp4Frame(GUEST, 5000, NOWHERE, 9, new Uint8Array(1)));
  }
  assert.equal(t.take().length, MAX_PER_SECOND);
  t.advance(1000);
  t.stack.input(udp4Frame(GUEST, 5000, NOWHERE, 9, new Uint8Array(1)));
  assert.equal(t.take().filter((f) => f[14 + 9] === 1).length, 1);
});
