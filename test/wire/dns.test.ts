import assert from "node:assert/strict";
import {
  buildDnsMessage,
  DNS_TYPE,
  dnsUdpPayloadSize,
  encodeDnsName,
  parseDnsHeader,
  parseDnsMessage,
  readDnsName,
} from "../../src/wire/dns.ts";
import { reasonOf, valueOf } from "../helpers/parsed.ts";

Deno.test("buildDnsMessage and parseDnsMessage round-trip a response", () => {
  const b = buildDnsMessage({
    id: 0x4242,
    response: true,
    ra: true,
    questions: [{ name: "host.test.vde", type: DNS_TYPE.A }],
    answers: [{ name: "host.test.vde", type: DNS_TYPE.A, ttl: 30, data: new Uint8Array([192, 0, 2, 7]) }],
  });
  const m = valueOf(parseDnsMessage(b));
  assert.equal(m.header.id, 0x4242);
  assert.equal(m.header.qr, true);
  assert.equal(m.questions[0]!.name, "host.test.vde");
  assert.equal(m.answers[0]!.ttl, 30);
  assert.deepEqual(m.answers[0]!.data, new Uint8Array([192, 0, 2, 7]));
});

Deno.test("readDnsName follows backward pointers and refuses loops", () => {
  // 12-byte header, "vde" at 12, then "a" + pointer to 12 at 17.
  const b = new Uint8Array(40);
  b.set([3, 0x76, 0x64, 0x65, 0], 12);
  b.set([1, 0x61, 0xc0, 12], 17);
  const n = valueOf(readDnsName(b, 0, 17, b.length));
  assert.equal(n.name, "a.vde");
  assert.equal(n.next, 21);
  // A pointer to itself.
  b.set([0xc0, 25], 25);
  assert.match(reasonOf(readDnsName(b, 0, 25, b.length)), /backwards/);
  // Two pointers to each other: the second cannot point forward again.
  b.set([0xc0, 31], 29);
  b.set([0xc0, 29], 31);
  assert.match(reasonOf(readDnsName(b, 0, 31, b.length)), /backwards/);
  // A pointer cut short, a reserved label type, a label past the end.
  assert.match(reasonOf(readDnsName(new Uint8Array([0xc0]), 0, 0, 1)), /cut short/);
  assert.match(reasonOf(readDnsName(new Uint8Array([0x40, 0]), 0, 0, 2)), /reserved/);
  assert.match(reasonOf(readDnsName(new Uint8Array([5, 1, 2]), 0, 0, 3)), /past the end/);
});

Deno.test("readDnsName bounds the name length and the pointer count", () => {
  // 5 labels of 63 bytes is over 255.
  const parts: number[] = [];
  for (let i = 0; i < 5; i++) parts.push(63, ...new Array(63).fill(0x61));
  parts.push(0);
  assert.match(reasonOf(readDnsName(new Uint8Array(parts), 0, 0, parts.length)), /longer than 255/);
  // A chain of 40 pointers, each to the one before.
  const b = new Uint8Array(200);
  b[0] = 0;
  for (let i = 1; i <= 40; i++) {
    b[i * 2] = 0xc0;
    b[i * 2 + 1] = (i - 1) * 2;
  }
  assert.match(reasonOf(readDnsName(b, 0, 80, b.length)), /too many/);
});

Deno.test("parseDnsMessage refuses records that lie about their length", () => {
  const b = buildDnsMessage({
    id: 1,
    response: true,
    questions: [{ name: "x", type: 1 }],
    answers: [{ name: "x", type: 1, data: new Uint8Array(4) }],
  });
  const cut = b.slice(0, b.length - 2);
  assert.match(reasonOf(parseDnsMessage(cut)), /past the end/);
  const many = b.slice();
  many[4] = 0xff; // 65280 questions
  assert.match(reasonOf(parseDnsMessage(many)), /too many/);
  assert.match(reasonOf(parseDnsHeader(new Uint8Array(11))), /shorter/);
  assert.match(reasonOf(parseDnsMessage(new Uint8Array(3))), /shorter/);
});

Deno.test("dnsUdpPayloadSize reads the EDNS size, 512 without it", () => {
  const q = buildDnsMessage({ id: 1, questions: [{ name: "a.b", type: 1 }] });
  assert.equal(dnsUdpPayloadSize(q), 512);
  const opt = new Uint8Array([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
  const e = new Uint8Array(q.length + opt.length);
  e.set(q);
  e.set(opt, q.length);
  e[11] = 1; // arcount
  assert.equal(dnsUdpPayloadSize(e), 4096);
  assert.throws(() => encodeDnsName("a".repeat(64)), /63/);
});
