/**
 * Fuzz: 100,000 random and mutated frames into a real stack (real host
 * sockets, the real TCP engine), then a clean exchange still works. The
 * stack runs restricted, so nothing it sends can leave this machine: the
 * guest reaches only the gateway (the host's loopback) and the DNS
 * address, whose upstream is a server this test starts on 127.0.0.1.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import { openSlirpLink, type SlirpLink } from "../../src/link/slirp_link.ts";
import { parseSlirpOptions } from "../../src/slirp/config.ts";
import { poller } from "../../src/io/poller.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { ARP_REQUEST, writeArp } from "../../src/wire/arp.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { writeIpv4Header } from "../../src/wire/ipv4.ts";
import { writeIpv6Header } from "../../src/wire/ipv6.ts";
import { ipLiteral } from "../../src/wire/ip_address.ts";

import { ICMP, writeIcmpv4 } from "../../src/wire/icmpv4.ts";
import { finishIcmpv6, ICMPV6 } from "../../src/wire/icmpv6.ts";
import { buildDhcp, DHCP_MSG, DHCP_OPT } from "../../src/wire/dhcp.ts";
import { buildDnsMessage } from "../../src/wire/dns.ts";
import { newIpv4Header, parseIpv4 } from "../../src/wire/ipv4.ts";
import { newUdpHeader, parseUdp } from "../../src/wire/udp.ts";
import { GUEST_MAC, GW_MAC, udp4Frame, udp6Frame } from "./helpers.ts";
import { startDnsFixture } from "./dns_fixture.ts";
import { prng } from "../helpers/random.ts";
import { SlirpStack } from "../../src/slirp/stack.ts";
import { defaultConfig } from "../../src/slirp/config.ts";
import type { HostNet } from "../../src/slirp/host_net.ts";
import { MAX_FRAGMENTS } from "../../src/slirp/reassembly.ts";
import { QUERY_TIMEOUT_MS } from "../../src/slirp/dns_forwarder.ts";
import { MAX_DHCP_OPTIONS } from "../../src/wire/dhcp.ts";
import { MAX_EXTENSION_HEADERS } from "../../src/wire/ipv6.ts";
import { writeUdp } from "../../src/wire/udp.ts";
import { assertCostRatio } from "../helpers/cost_ratio.ts";
import { dhcpFamily, dnsFamily } from "../helpers/adversarial.ts";

const FRAMES = 100_000;

function templates(udpPort: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const arp = new Uint8Array(28);
  writeArp(
    arp,
    0,
    ARP_REQUEST,
    new Uint8Array([2, 0, 0, 0, 0, 0x15]),
    0x0a00020f,
    new Uint8Array(6),
    0x0a000202,
  );
  out.push(buildFrame({ src: GUEST_MAC, type: 0x0806, payload: arp }));
  const dhcp = buildDhcp({
    op: 1,
    xid: 9,
    chaddr: new Uint8Array([2, 0, 0, 0, 0, 0x15]),
    options: [[DHCP_OPT.MESSAGE_TYPE, new Uint8Array([DHCP_MSG.DISCOVER])]],
  });
  out.push(udp4Frame([0, 0, 0, 0], 68, [255, 255, 255, 255], 67, dhcp, { dstMac: "ff:ff:ff:ff:ff:ff" }));
  out.push(udp4Frame([10, 0, 2, 15], 4000, [10, 0, 2, 2], udpPort, new Uint8Array(64)));
  out.push(
    udp4Frame(
      [10, 0, 2, 15],
      4001,
      [10, 0, 2, 3],
      53,
      buildDnsMessage({ id: 5, questions: [{ name: "host.test.vde", type: 1 }] }),
    ),
  );
  const icmp = new Uint8Array(36);
  writeIpv4Header(icmp, 0, { totalLength: 36, protocol: 1, src: 0x0a00020f, dst: 0x0a000202 });
  writeIcmpv4(icmp, 20, 16, ICMP.ECHO_REQUEST, 0, 0x10001);
  out.push(buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: icmp }));
  const syn = new Uint8Array(40);
  writeIpv4Header(syn, 0, { totalLength: 40, protocol: 6, src: 0x0a00020f, dst: 0x0a000202 });
  syn.set([0x30, 0x39, 0x00, 0x09, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff], 20);
  out.push(buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: syn }));
  const frag = new Uint8Array(20 + 64);
  writeIpv4Header(frag, 0, {
    totalLength: 84,
    protocol: 17,
    src: 0x0a00020f,
    dst: 0x0a000202,
    mf: true,
    id: 3,
  });
  out.push(buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: frag }));
  const g6 = ipLiteral("fd00::15");
  out.push(udp6Frame(g6, 4002, ipLiteral("fd00::2"), udpPort, new Uint8Array(32)));
  const rs = new Uint8Array(56);
  writeIpv6Header(rs, 0, 16, 58, 255, ipLiteral("fe80::15"), ipLiteral("ff02::2"));
  rs[40] = ICMPV6.ROUTER_SOLICIT;
  rs.set([1, 1, 2, 0, 0, 0, 0, 0x15], 48);
  finishIcmpv6(rs, 40, 16, 8, 24);
  out.push(buildFrame({ src: GUEST_MAC, dst: "33:33:00:00:00:02", type: 0x86dd, payload: rs }));
  return out;
}

function mutate(t: Uint8Array, rnd: () => number): Uint8Array {
  let f = t.slice();
  const kind = rnd();
  if (kind < 0.15) f = f.subarray(0, Math.floor(rnd() * f.length));
  else if (kind < 0.25) {
    const g = new Uint8Array(f.length + Math.floor(rnd() * 64));
    g.set(f);
    f = g;
  }
  const flips = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < flips && f.length > 14; i++) {
    // Mostly headers, where the lengths and offsets live; never the MACs, so the frame reaches the stack.
    const at = 14 + Math.floor(rnd() * Math.min(f.length - 14, rnd() < 0.8 ? 48 : f.length));
    f[at] = Math.floor(rnd() * 256);
  }
  // Half the time, fix the IPv4 header checksum so the lie goes deeper.
  if (rnd() < 0.5 && f.length >= 34 && f[12] === 8 && f[13] === 0) {
    const hl = (f[14]! & 0x0f) * 4;
    if (hl >= 20 && 14 + hl <= f.length) {
      f[24] = 0;
      f[25] = 0;
      const c = internetChecksum(f, 14, hl);
      f[24] = c >> 8;
      f[25] = c & 0xff;
    }
  }
  return f;
}

Deno.test("fuzz: 100,000 random and mutated frames, then a clean exchange still works", async () => {
  const fx = await startDnsFixture();
  const echo = dgram.createSocket("udp4");
  await new Promise<void>((r) => echo.bind(0, "127.0.0.1", () => r()));
  const udpPort = echo.address().port;
  echo.on("message", (m, r) => echo.send(Buffer.concat([Buffer.from("echo:"), m]), r.port, r.address));
  const tcpPort = 20000 + Math.floor(Math.random() * 20000);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: tcpPort });
  const accepted: Deno.Conn[] = [];
  void (async () => {
    try {
      for await (const c of listener) accepted.push(c);
    } catch { /* closed */ }
  })();
  let link: SlirpLink | null = null;
  try {
    const config = parseSlirpOptions(`/restricted/dns_upstream=127.0.0.1:${fx.port}`);
    link = await openSlirpLink(config, { log: () => {} });
    const out: Uint8Array[] = [];
    let outCount = 0;
    link.onFrame = (f) => {
      outCount++;
      if (out.length < 1000) out.push(f.slice());
    };
    const rnd = prng(0x5eed);
    const tpl = templates(udpPort);
    const started = performance.now();
    for (let i = 0; i < FRAMES; i++) {
      let f: Uint8Array;
      const r = rnd();
      if (r < 0.2) {
        f = new Uint8Array(Math.floor(rnd() * 1600));
        for (let k = 0; k < f.length; k++) f[k] = Math.floor(rnd() * 256);
        if (f.length >= 6 && rnd() < 0.5) f.set([0x52, 0x55, 10, 0, 2, 2]);
      } else f = mutate(tpl[Math.floor(rnd() * tpl.length)]!, rnd);
      link.send(f);
      // Let host sockets and timers run now and then.
      if (i % 5000 === 4999) await new Promise((res) => setTimeout(res, 0));
    }
    const seconds = (performance.now() - started) / 1000;
    const s = link.stack;
    assert.ok(s.udpFlowCount <= 1024);
    assert.ok(s.reassembly4.size <= 64 && s.reassembly6.size <= 64);
    console.log(
      `fuzz: ${FRAMES} frames in ${seconds.toFixed(1)} s, ${outCount} frames out, bad IP ${s.stats.badIp}, ` +
        `UDP bad ${s.stats.udpBad}, fragments ${s.stats.fragmentsIn}, UDP flows ${s.udpFlowCount}`,
    );

    // The clean exchange: UDP echo through the gateway, a TCP handshake, a DNS answer.
    out.length = 0;
    await new Promise((res) => setTimeout(res, 50));
    out.length = 0;
    link.send(udp4Frame([10, 0, 2, 15], 4500, [10, 0, 2, 2], udpPort, new TextEncoder().encode("clean")));
    const syn = new Uint8Array(40);
    writeIpv4Header(syn, 0, { totalLength: 40, protocol: 6, src: 0x0a00020f, dst: 0x0a000202 });
    syn.set([0x30, 0x3a, tcpPort >> 8, tcpPort & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff], 20);
    const sum = (() => {
      const pseudo = new Uint8Array(12 + 20);
      pseudo.set(syn.subarray(12, 20), 0);
      pseudo[9] = 6;
      pseudo[11] = 20;
      pseudo.set(syn.subarray(20), 12);
      return internetChecksum(pseudo);
    })();
    syn[36] = sum >> 8;
    syn[37] = sum & 0xff;
    link.send(buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: syn }));
    link.send(
      udp4Frame(
        [10, 0, 2, 15],
        4501,
        [10, 0, 2, 3],
        53,
        buildDnsMessage({ id: 77, questions: [{ name: "host.test.vde", type: 1 }] }),
      ),
    );
    const deadline = Date.now() + 5000;
    let gotEcho = false, gotSynAck = false, gotDns = false;
    while (Date.now() < deadline && !(gotEcho && gotSynAck && gotDns)) {
      await new Promise((res) => setTimeout(res, 20));
      for (const f of out) {
        const h = newIpv4Header();
        if (f.length < 34 || f[12] !== 8 || f[13] !== 0 || parseIpv4(f, 14, f.length - 14, h) !== null) {
          continue;
        }
        if (h.protocol === 17) {
          const u = newUdpHeader();
          if (parseUdp(f, h.payloadOffset, h.payloadLength, u) !== null) continue;
          const text = new TextDecoder().decode(
            f.subarray(u.payloadOffset, u.payloadOffset + u.payloadLength),
          );
          if (u.dstPort === 4500 && text === "echo:clean") gotEcho = true;
          if (u.dstPort === 4501 && u.srcPort === 53 && f[u.payloadOffset + 1] === 77) gotDns = true;
        }
        if (
          h.protocol === 6 && f[h.payloadOffset + 13] === 0x12 &&
          ((f[h.payloadOffset + 2]! << 8) | f[h.payloadOffset + 3]!) === 0x303a
        ) {
          gotSynAck = true;
        }
      }
    }
    assert.ok(gotEcho, "UDP echo through the gateway after the fuzz run");
    assert.ok(gotSynAck, "TCP SYN-ACK from the engine after the fuzz run");
    assert.ok(gotDns, "DNS answer after the fuzz run");
  } finally {
    link?.close();
    listener.close();
    for (const c of accepted) c.close();
    echo.close();
    await fx.close();
    await poller().stop();
  }
});

/** A host network whose sockets send nowhere: the cost test measures the stack, not the kernel. */
const nullNet: HostNet = {
  openUdp: (family) => ({ family, localPort: 40000, sendTo: () => 0, close: () => {} }),
  openPing: () => null,
};

Deno.test("adversarial frames cost the stack at most 20x a typical frame of the same size", () => {
  let clock = 0;
  const stack = new SlirpStack({
    config: {
      ...defaultConfig(),
      dnsUpstream: [{ family: 4, addr: new Uint8Array([127, 0, 0, 1]), port: 53 }],
    },
    output: () => {},
    hostNet: nullNet,
    // Time moves, so DNS queries and fragments expire as they would.
    now: () => (clock += 0.01),
  });
  const dhcpFrame = (p: Uint8Array) =>
    udp4Frame([0, 0, 0, 0], 68, [255, 255, 255, 255], 67, p, { dstMac: "ff:ff:ff:ff:ff:ff" });
  const d = dhcpFamily(8000);
  const [bomb, most, codes, typicalDhcp] = [d.bomb, d.most, d.codes, d.typical].map(dhcpFrame);
  assertCostRatio("slirp DHCP", [
    ["option 12 repeated 2,600 times", () => stack.input(bomb!)],
    [`${MAX_DHCP_OPTIONS} one-byte pieces`, () => stack.input(most!)],
    ["every code once", () => stack.input(codes!)],
  ], () => stack.input(typicalDhcp!));

  const q = dnsFamily(1400);
  const dnsFrame = (p: Uint8Array) => udp4Frame([10, 0, 2, 15], 4000, [10, 0, 2, 3], 53, p);
  const [spread, chain, typicalQuery] = [dnsFrame(q.spread), dnsFrame(q.chain), dnsFrame(q.typical)];
  // Each query is forwarded, its predecessors' wait over: left to the clock's pace, the pending table
  // fills, and whichever side's rounds fall after it did were timing the cheap drop of a full table.
  const query = (f: Uint8Array) => () => {
    clock += QUERY_TIMEOUT_MS;
    stack.input(f);
  };
  assertCostRatio("slirp DNS query", [
    ["pointers to every label of a long name", query(spread)],
    ["questions through a chain of 32 pointers", query(chain)],
  ], query(typicalQuery));

  // IPv6 UDP to the gateway, plain and behind the most extension headers walked.
  const g6 = ipLiteral("fd00::15");
  const gw6 = ipLiteral("fd00::2");
  const v6 = (headers: number) => {
    const ip = new Uint8Array(1280);
    writeIpv6Header(ip, 0, ip.length - 40, headers > 0 ? 60 : 17, 64, g6, gw6);
    for (let i = 0; i < headers; i++) ip[40 + 8 * i] = i < headers - 1 ? 60 : 17;
    const u = 40 + 8 * headers;
    writeUdp(ip, u, 4002, 9, ip.length - u - 8, 8, 24, 16);
    return buildFrame({ src: GUEST_MAC, dst: GW_MAC, type: 0x86dd, payload: ip });
  };
  const [plain6, chain6] = [v6(0), v6(MAX_EXTENSION_HEADERS)];
  assertCostRatio(
    "slirp IPv6",
    [["8 extension headers", () => stack.input(chain6)]],
    () => stack.input(plain6),
  );

  // Fragments: a stream of 8-byte fragments (each datagram takes the most there may be, then one more),
  // and pairs that overlap; against an unfragmented datagram of the same frame size.
  const frag = (id: number, offset: number, more: boolean) => {
    const ip = new Uint8Array(28);
    writeIpv4Header(ip, 0, {
      totalLength: 28,
      protocol: 17,
      src: 0x0a00020f,
      dst: 0x0a000202,
      id,
      mf: more,
      fragmentOffset: offset,
    });
    return buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: ip });
  };
  const tiny: Uint8Array[] = [];
  for (let id = 0; id < 16; id++) for (let k = 0; k <= MAX_FRAGMENTS; k++) tiny.push(frag(id, 8 * k, true));
  const overlapping: Uint8Array[] = [];
  for (let id = 0; id < 64; id++) overlapping.push(frag(1000 + id, 0, true), frag(1000 + id, 0, true));
  let ti = 0, oi = 0;
  const whole = udp4Frame([10, 0, 2, 15], 4003, [10, 0, 2, 2], 9, new Uint8Array(0));
  assertCostRatio("slirp fragments", [
    [`${MAX_FRAGMENTS + 1} tiny fragments per datagram`, () => stack.input(tiny[ti++ % tiny.length]!)],
    ["overlapping pairs", () => stack.input(overlapping[oi++ % overlapping.length]!)],
  ], () => stack.input(whole));

  // TCP: a segment whose header is 40 bytes of options, against a plain one of the same size.
  const tcp = (options: number[]) => {
    const ip = new Uint8Array(20 + 60 + 100);
    writeIpv4Header(ip, 0, { totalLength: ip.length, protocol: 6, src: 0x0a00020f, dst: 0x0a000202 });
    ip.set([
      0x30,
      0x39,
      0x00,
      0x09,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      ((20 + options.length) / 4) << 4,
      0x10,
      0xff,
      0xff,
    ], 20);
    ip.set(options, 40);
    return buildFrame({ src: GUEST_MAC, dst: GW_MAC, payload: ip });
  };
  const plainTcp = tcp([]);
  const noisy: number[] = [];
  while (noisy.length < 40) noisy.push(254, 2);
  const [nops, unknown] = [tcp(new Array(40).fill(1)), tcp(noisy)];
  assertCostRatio("slirp TCP", [
    ["40 NOPs", () => stack.input(nops)],
    ["20 unknown options", () => stack.input(unknown)],
  ], () => stack.input(plainTcp));
  stack.close();
});
