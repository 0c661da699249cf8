/**
 * A packet checker, after gVisor's `checker`: a test says what a frame must
 * be in one call, and gets the parsed layers back for anything further.
 *
 *   checkFrame(out[0], { dst: GUEST_MAC, ipv4: { src: "10.0.2.2", ttl: 64 }, udp: { srcPort: 53 } })
 *
 * Every layer named is parsed with the parsers in src/wire/ (so a malformed
 * frame fails the test with the parser's reason), its checksum is verified,
 * and each field given is compared by name ("ipv4.ttl"). Addresses and MACs
 * are written as text. Fields left out are not checked.
 */
import assert from "node:assert/strict";
import { newArpPacket, parseArp } from "../../src/wire/arp.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { etherType, formatMac } from "../../src/wire/ethernet.ts";
import { type IcmpMessage, newIcmpMessage, parseIcmpv4 } from "../../src/wire/icmpv4.ts";
import { type Icmpv6Message, newIcmpv6Message, parseIcmpv6 } from "../../src/wire/icmpv6.ts";
import { formatIp, ipv4FromU32 } from "../../src/wire/ip_address.ts";
import { formatIpv4, type Ipv4Header, newIpv4Header, parseIpv4 } from "../../src/wire/ipv4.ts";
import { formatIpv6, type Ipv6Header, newIpv6Header, parseIpv6 } from "../../src/wire/ipv6.ts";
import { newTcpRepr, parseTcp, type TcpRepr, verifyTcpChecksum } from "../../src/wire/tcp.ts";
import { newUdpHeader, parseUdp, udpChecksumOk, type UdpHeader } from "../../src/wire/udp.ts";

/** What a frame must be; every field is optional. */
export interface FrameWant {
  /** Destination and source MACs, "02:00:00:00:00:01". */
  dst?: string;
  src?: string;
  /** The Ethertype (after a VLAN tag, none is expected). */
  type?: number;
  arp?: { op?: number; senderMac?: string; senderIp?: string; targetIp?: string };
  ipv4?: { src?: string; dst?: string; ttl?: number; protocol?: number; df?: boolean };
  ipv6?: { src?: string; dst?: string; hopLimit?: number; protocol?: number };
  udp?: { srcPort?: number; dstPort?: number; payload?: Uint8Array };
  tcp?: {
    srcPort?: number;
    dstPort?: number;
    flags?: number;
    seq?: number;
    ack?: number;
    payload?: Uint8Array;
  };
  icmp?: { type?: number; code?: number; id?: number; seq?: number };
}

/** The layers found, for further assertions. */
export interface CheckedFrame {
  ipv4?: Ipv4Header;
  ipv6?: Ipv6Header;
  udp?: UdpHeader;
  tcp?: TcpRepr;
  /** The transport payload (UDP or TCP), a copy. */
  payload?: Uint8Array;
}

function fields(layer: string, got: Record<string, unknown>, want: object | undefined): void {
  if (want === undefined) return;
  for (const [k, v] of Object.entries(want)) {
    if (v === undefined) continue;
    assert.deepEqual(got[k], v, `${layer}.${k}`);
  }
}

/** Asserts that `frame` is what `want` says; returns the parsed layers. */
export function checkFrame(frame: Uint8Array, want: FrameWant): CheckedFrame {
  assert.ok(frame.length >= 14, `a frame of ${frame.length} bytes has no Ethernet header`);
  fields("eth", { dst: formatMac(frame, 0), src: formatMac(frame, 6), type: etherType(frame) }, {
    dst: want.dst,
    src: want.src,
    type: want.type,
  });
  const out: CheckedFrame = {};
  const len = frame.length - 14;
  if (want.arp !== undefined) {
    const a = newArpPacket();
    assert.equal(parseArp(frame, 14, len, a), null, "arp");
    fields("arp", {
      op: a.op,
      senderMac: formatMac(frame, a.senderMacOffset),
      senderIp: formatIpv4(a.senderIp),
      targetIp: formatIpv4(a.targetIp),
    }, want.arp);
  }
  let transport: { off: number; len: number; srcOff: number; dstOff: number; addrLen: number };
  if (want.ipv4 !== undefined) {
    const h = newIpv4Header();
    assert.equal(parseIpv4(frame, 14, len, h), null, "ipv4");
    assert.equal(internetChecksum(frame, 14, h.headerLength), 0, "ipv4 header checksum");
    fields("ipv4", {
      src: formatIp(ipv4FromU32(h.src)),
      dst: formatIp(ipv4FromU32(h.dst)),
      ttl: h.ttl,
      protocol: h.protocol,
      df: h.df,
    }, want.ipv4);
    out.ipv4 = h;
    transport = { off: h.payloadOffset, len: h.payloadLength, srcOff: 26, dstOff: 30, addrLen: 4 };
  } else if (want.ipv6 !== undefined) {
    const h = newIpv6Header();
    assert.equal(parseIpv6(frame, 14, len, h), null, "ipv6");
    fields("ipv6", {
      src: formatIpv6(frame, h.srcOffset),
      dst: formatIpv6(frame, h.dstOffset),
      hopLimit: h.hopLimit,
      protocol: h.protocol,
    }, want.ipv6);
    out.ipv6 = h;
    transport = {
      off: h.dataOffset,
      len: h.dataLength,
      srcOff: h.srcOffset,
      dstOff: h.dstOffset,
      addrLen: 16,
    };
  } else {
    assert.ok(
      want.udp === undefined && want.tcp === undefined && want.icmp === undefined,
      "name ipv4 or ipv6",
    );
    return out;
  }
  const t = transport;
  if (want.udp !== undefined) {
    const u = newUdpHeader();
    assert.equal(parseUdp(frame, t.off, t.len, u), null, "udp");
    assert.ok(udpChecksumOk(frame, t.srcOff, t.dstOff, t.addrLen, t.off, u.length), "udp checksum");
    out.udp = u;
    out.payload = frame.slice(u.payloadOffset, u.payloadOffset + u.payloadLength);
    fields("udp", { srcPort: u.srcPort, dstPort: u.dstPort, payload: out.payload }, want.udp);
  }
  if (want.tcp !== undefined) {
    const seg = frame.subarray(t.off, t.off + t.len);
    const r = newTcpRepr();
    assert.equal(parseTcp(seg, r), null, "tcp");
    const src = frame.subarray(t.srcOff, t.srcOff + t.addrLen);
    const dst = frame.subarray(t.dstOff, t.dstOff + t.addrLen);
    assert.ok(verifyTcpChecksum(src, dst, seg), "tcp checksum");
    out.tcp = r;
    out.payload = seg.slice(r.headerLength);
    fields("tcp", {
      srcPort: r.srcPort,
      dstPort: r.dstPort,
      flags: r.flags,
      seq: r.seq,
      ack: r.ack,
      payload: out.payload,
    }, want.tcp);
  }
  if (want.icmp !== undefined) {
    const v4 = t.addrLen === 4;
    const m = v4 ? newIcmpMessage() : newIcmpv6Message();
    const err = v4
      ? parseIcmpv4(frame, t.off, t.len, m as IcmpMessage)
      : parseIcmpv6(frame, t.off, t.len, t.srcOff, t.dstOff, m as Icmpv6Message);
    assert.equal(err, null, "icmp");
    fields("icmp", { type: m.type, code: m.code, id: m.id, seq: m.seq }, want.icmp);
  }
  return out;
}
