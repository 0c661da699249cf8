import assert from "node:assert/strict";
import {
  buildTcpSegment,
  formatTcpFlags,
  newTcpRepr,
  parseTcp,
  setTcpChecksum,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_SYN,
  TCP_URG,
  tcpAck,
  tcpDstPort,
  tcpFlags,
  tcpHeaderLength,
  tcpHeaderLengthFor,
  type TcpRepr,
  tcpSeq,
  tcpSrcPort,
  tcpWindow,
  verifyTcpChecksum,
  writeTcpBase,
  writeTcpHeader,
} from "../../src/wire/tcp.ts";
import { prng } from "../helpers/random.ts";

const SRC4 = new Uint8Array([10, 0, 2, 15]);
const DST4 = new Uint8Array([10, 0, 2, 2]);
const SRC6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x15]);
const DST6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);

function parsed(seg: Uint8Array): TcpRepr {
  const r = newTcpRepr();
  const err = parseTcp(seg, r);
  if (err !== null) throw new Error(err);
  return r;
}

/** A 20-byte header plus `options` (padded by the caller) and `payload`, data offset as given. */
function raw(options: number[], payloadLen = 0, dataOffsetWords?: number): Uint8Array {
  const hlen = 20 + options.length;
  const seg = new Uint8Array(hlen + payloadLen);
  writeTcpBase(seg, 0, 1234, 80, 1, 0, hlen, TCP_SYN, 1000);
  seg.set(options, 20);
  if (dataOffsetWords !== undefined) seg[12] = dataOffsetWords << 4;
  return seg;
}

Deno.test("parseTcp round-trips every field and option that buildTcpSegment writes", () => {
  const payload = new TextEncoder().encode("hello, guest");
  const seg = buildTcpSegment(
    {
      srcPort: 40000,
      dstPort: 443,
      seq: 0xfffffff0,
      ack: 0x80000001,
      flags: TCP_SYN | TCP_ACK,
      window: 65535,
      mss: 1460,
      wscale: 7,
      sackPermitted: true,
      tsVal: 123456789,
      tsEcr: 987654321,
    },
    payload,
    SRC4,
    DST4,
  );
  const r = parsed(seg);
  assert.equal(r.srcPort, 40000);
  assert.equal(r.dstPort, 443);
  assert.equal(r.seq, 0xfffffff0);
  assert.equal(r.ack, 0x80000001);
  assert.equal(r.flags, TCP_SYN | TCP_ACK);
  assert.equal(r.window, 65535);
  assert.equal(r.mss, 1460);
  assert.equal(r.wscale, 7);
  assert.equal(r.sackPermitted, true);
  assert.equal(r.hasTimestamp, true);
  assert.equal(r.tsVal, 123456789);
  assert.equal(r.tsEcr, 987654321);
  assert.equal(r.headerLength, tcpHeaderLengthFor(1460, 7, true, true));
  assert.equal(r.headerLength % 4, 0);
  assert.equal(r.payloadLength, payload.length);
  assert.deepEqual(seg.subarray(r.headerLength), payload);
  assert.ok(verifyTcpChecksum(SRC4, DST4, seg));
});

Deno.test("field readers agree with parseTcp", () => {
  const seg = buildTcpSegment({
    srcPort: 1,
    dstPort: 65535,
    seq: 7,
    ack: 9,
    flags: TCP_ACK | TCP_PSH,
    window: 513,
  });
  assert.equal(tcpSrcPort(seg), 1);
  assert.equal(tcpDstPort(seg), 65535);
  assert.equal(tcpSeq(seg), 7);
  assert.equal(tcpAck(seg), 9);
  assert.equal(tcpHeaderLength(seg), 20);
  assert.equal(tcpFlags(seg), TCP_ACK | TCP_PSH);
  assert.equal(tcpWindow(seg), 513);
});

Deno.test("a segment without options has no MSS, no window scale, no timestamps", () => {
  const r = parsed(buildTcpSegment({ srcPort: 1, dstPort: 2, seq: 3, flags: TCP_ACK }));
  assert.equal(r.mss, 0);
  assert.equal(r.wscale, -1);
  assert.equal(r.sackPermitted, false);
  assert.equal(r.hasTimestamp, false);
  assert.equal(r.headerLength, 20);
});

Deno.test("parseTcp reuses the out object and resets options between segments", () => {
  const out = newTcpRepr();
  const a = parseTcp(
    buildTcpSegment({ srcPort: 1, dstPort: 2, seq: 3, flags: TCP_SYN, mss: 1400, wscale: 2 }),
    out,
  );
  assert.equal(a, null);
  assert.equal(out.mss, 1400);
  const b = parseTcp(buildTcpSegment({ srcPort: 1, dstPort: 2, seq: 3, flags: TCP_ACK }), out);
  assert.equal(b, null);
  assert.equal(out.mss, 0);
  assert.equal(out.wscale, -1);
});

Deno.test("options: NOP padding, unknown kinds skipped by length, EOL ends the list", () => {
  // NOP NOP, unknown kind 30 of length 4, MSS 1200, EOL, then garbage that must be ignored.
  const r = parsed(raw([1, 1, 30, 4, 0xaa, 0xbb, 2, 4, 0x04, 0xb0, 0, 0xff]));
  assert.equal(r.mss, 1200);
  assert.equal(r.headerLength, 32);
  // SACK blocks (kind 5) are skipped too.
  const s = parsed(raw([5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1]));
  assert.equal(s.mss, 0);
});

Deno.test("window scale above 14 is clamped to 14", () => {
  const r = parsed(raw([1, 3, 3, 200]));
  assert.equal(r.wscale, 14);
});

const hostile: [string, Uint8Array, RegExp][] = [
  ["empty segment", new Uint8Array(0), /shorter than the 20-byte header/],
  ["19 bytes", new Uint8Array(19), /shorter than the 20-byte header/],
  ["data offset 0", raw([], 0, 0), /below the minimum of 5/],
  ["data offset 4", raw([], 0, 4), /below the minimum of 5/],
  ["data offset 15 in a 20-byte segment", raw([], 0, 15), /says 60 header bytes but the segment holds 20/],
  ["data offset 6 in a 20-byte segment", raw([], 0, 6), /says 24 header bytes but the segment holds 20/],
  ["option without a length byte", raw([1, 1, 1, 2]), /has no length byte/],
  ["option length 0", raw([30, 0, 0, 0]), /has length 0, below 2/],
  ["option length 1", raw([2, 1, 0, 0]), /has length 1, below 2/],
  ["option running past the header", raw([30, 8, 0, 0]), /past the 24-byte header/],
  ["MSS of length 3", raw([2, 3, 5, 1]), /MSS option has length 3/],
  ["MSS of length 6 overrunning", raw([2, 6, 5, 1]), /past the 24-byte header/],
  ["window scale of length 4", raw([3, 4, 1, 1]), /window scale option has length 4/],
  ["SACK-permitted of length 3", raw([4, 3, 0, 1]), /SACK-permitted option has length 3/],
  ["timestamp of length 8", raw([8, 8, 0, 0, 0, 0, 0, 0]), /timestamp option has length 8/],
];

for (const [name, seg, reason] of hostile) {
  Deno.test(`parseTcp rejects ${name} with a reason`, () => {
    const r = parseTcp(seg, newTcpRepr());
    assert.equal(typeof r, "string");
    assert.match(r!, reason);
  });
}

Deno.test("urgent pointer past the data: rejected by default, clamped on request", () => {
  const seg = buildTcpSegment(
    { srcPort: 1, dstPort: 2, seq: 3, flags: TCP_ACK | TCP_URG, urgent: 500 },
    new Uint8Array(10),
  );
  const r = parseTcp(seg, newTcpRepr());
  assert.match(r!, /urgent pointer 500 is past the 10-byte payload/);
  const c = newTcpRepr();
  assert.equal(parseTcp(seg, c, { urgentPastData: "clamp" }), null);
  assert.equal(c.urgent, 10);
  assert.equal(c.urgentClamped, true);
  // Inside the data it is fine either way; without URG the field is ignored.
  assert.equal(
    parseTcp(
      buildTcpSegment(
        { srcPort: 1, dstPort: 2, seq: 3, flags: TCP_ACK | TCP_URG, urgent: 4 },
        new Uint8Array(10),
      ),
      newTcpRepr(),
    ),
    null,
  );
  assert.equal(
    parseTcp(buildTcpSegment({ srcPort: 1, dstPort: 2, seq: 3, flags: TCP_ACK, urgent: 999 }), newTcpRepr()),
    null,
  );
});

Deno.test("checksum over the IPv4 and IPv6 pseudo-headers, odd payload lengths included", () => {
  for (const [src, dst] of [[SRC4, DST4], [SRC6, DST6]]) {
    for (const len of [0, 1, 2, 3, 1459, 1460]) {
      const payload = new Uint8Array(len).map((_, i) => (i * 31 + 7) & 0xff);
      const seg = buildTcpSegment(
        { srcPort: 5, dstPort: 6, seq: 7, flags: TCP_ACK | TCP_FIN },
        payload,
        src!,
        dst!,
      );
      assert.ok(verifyTcpChecksum(src!, dst!, seg), `len ${len}`);
      // Any flipped bit breaks it; so do swapped addresses of another host.
      const bad = seg.slice();
      bad[bad.length - 1]! ^= 0x01;
      assert.equal(verifyTcpChecksum(src!, dst!, bad), false);
      const otherDst = dst!.slice();
      otherDst[otherDst.length - 1]! ^= 0x40;
      assert.equal(verifyTcpChecksum(src!, otherDst, seg), false);
      // setTcpChecksum is idempotent.
      const again = seg.slice();
      setTcpChecksum(src!, dst!, again);
      assert.deepEqual(again, seg);
    }
  }
  assert.equal(verifyTcpChecksum(SRC4, DST4, new Uint8Array(10)), false);
});

Deno.test("writeTcpHeader refuses a buffer without room and writes at an offset", () => {
  assert.equal(
    writeTcpHeader(new Uint8Array(23), 0, { srcPort: 1, dstPort: 2, seq: 3, flags: TCP_SYN, mss: 1460 }),
    -1,
  );
  assert.equal(
    writeTcpHeader(new Uint8Array(40), 30, { srcPort: 1, dstPort: 2, seq: 3, flags: TCP_ACK }),
    -1,
  );
  const b = new Uint8Array(64);
  const n = writeTcpHeader(b, 8, { srcPort: 1, dstPort: 2, seq: 3, flags: TCP_SYN, mss: 1460, wscale: 3 });
  assert.equal(n, 28);
  const r = parsed(b.subarray(8, 8 + n));
  assert.equal(r.mss, 1460);
  assert.equal(r.wscale, 3);
});

Deno.test("formatTcpFlags names the bits", () => {
  assert.equal(formatTcpFlags(TCP_SYN | TCP_ACK), "SYN|ACK");
  assert.equal(formatTcpFlags(0), "none");
  assert.equal(formatTcpFlags(0xff), "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR");
});

Deno.test("parseTcp never throws on random and mutated segments", () => {
  const rnd = prng(99);
  const out = newTcpRepr();
  const base = buildTcpSegment(
    { srcPort: 1, dstPort: 2, seq: 3, flags: TCP_SYN, mss: 1460, wscale: 7, sackPermitted: true, tsVal: 1 },
    new Uint8Array(40),
  );
  let ok = 0;
  for (let i = 0; i < 20000; i++) {
    let seg: Uint8Array;
    if (i % 2 === 0) {
      seg = new Uint8Array(Math.floor(rnd() * 80));
      for (let k = 0; k < seg.length; k++) seg[k] = Math.floor(rnd() * 256);
    } else {
      seg = base.slice(0, Math.floor(rnd() * (base.length + 1)));
      for (let m = 0; m < 3 && seg.length > 0; m++) {
        seg[Math.floor(rnd() * seg.length)] = Math.floor(rnd() * 256);
      }
    }
    if (parseTcp(seg, out) === null) {
      const r = out;
      ok++;
      assert.ok(r.headerLength >= 20 && r.headerLength <= seg.length);
      assert.equal(r.headerLength + r.payloadLength, seg.length);
      assert.ok(r.wscale <= 14);
    }
  }
  assert.ok(ok > 0);
});
