import assert from "node:assert/strict";
import { buildSockaddrUn } from "../../src/wire/sockaddr_un.ts";
import {
  buildVdeRequest,
  buildVdeRequestV1,
  MAX_DESCRIPTION_LEN,
  MAX_REQUEST_LEN,
  parseVdeRequest,
  REQ_NEW_CONTROL,
  REQ_NEW_PORT0,
  V1_HEADER_LEN,
  V3_HEADER_LEN,
  type VdeRequest,
} from "../../src/wire/vde_request.ts";
import type { Parsed } from "../../src/wire/parse.ts";
import { prng } from "../helpers/random.ts";

const enc = new TextEncoder();

function hex(s: string): number[] {
  return s.trim().split(/\s+/).map((h) => parseInt(h, 16));
}

function expectOk(r: Parsed<VdeRequest>): VdeRequest {
  if (!r.ok) assert.fail(`expected a valid request, got: ${r.reason}`);
  return r.value;
}

function expectRefused(r: Parsed<VdeRequest>, reason: RegExp, incomplete = false): void {
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.match(r.reason, reason);
  assert.equal(r.incomplete === true, incomplete, `incomplete flag for "${r.reason}"`);
}

/** A v3 header with the given magic/version/type words and a client path. */
function header(magic: number, version: number, type: number, path = "/tmp/sw/.00001-00000"): Uint8Array {
  const b = new Uint8Array(V3_HEADER_LEN);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic, true);
  v.setUint32(4, version, true);
  v.setUint32(8, type, true);
  b.set(buildSockaddrUn(path), 12);
  return b;
}

Deno.test("header sizes match the wire: 122 bytes for v3, 124 for v1, reads capped at 256", () => {
  assert.equal(V3_HEADER_LEN, 122);
  assert.equal(V1_HEADER_LEN, 124);
  assert.equal(MAX_REQUEST_LEN, 256);
  assert.equal(MAX_DESCRIPTION_LEN, 127);
});

Deno.test("parseVdeRequest reads the request Debian's vde_plug sends", () => {
  // Spec 1.2: 149 bytes captured from `vde_plug /tmp/sw`.
  const descr = "vdeplug: user=root pid=8236";
  const b = new Uint8Array(V3_HEADER_LEN + descr.length);
  b.set(hex("ce fa ed fe 03 00 00 00 00 00 00 00 01 00"));
  b.set(enc.encode("/tmp/sw/.08236-00000"), 14);
  b.set(enc.encode(descr), V3_HEADER_LEN);
  assert.equal(b.length, 149);
  assert.deepEqual(expectOk(parseVdeRequest(b)), {
    version: 3,
    kind: REQ_NEW_CONTROL,
    port: 0,
    socketPath: "/tmp/sw/.08236-00000",
    description: descr,
  });
});

Deno.test("buildVdeRequest writes magic, version 3, port in bits 8-31 and no trailing NUL", () => {
  const b = buildVdeRequest({ kind: REQ_NEW_CONTROL, port: 5, socketPath: "/tmp/sw/.1", description: "hi" });
  assert.equal(b.length, V3_HEADER_LEN + 2);
  // Captured from `vde_plug "/tmp/sw[5]"`: bytes 8-11 are 00 05 00 00.
  assert.deepEqual([...b.subarray(0, 14)], hex("ce fa ed fe 03 00 00 00 00 05 00 00 01 00"));
  assert.equal(new TextDecoder().decode(b.subarray(V3_HEADER_LEN)), "hi");
  assert.notEqual(b[b.length - 1], 0);
});

Deno.test("port bits survive a round trip, up to 24 bits", () => {
  for (const port of [0, 1, 5, 255, 256, 4095, 9999, 0xffffff]) {
    const b = buildVdeRequest({ kind: REQ_NEW_CONTROL, port, socketPath: "/tmp/p", description: "" });
    const r = expectOk(parseVdeRequest(b));
    assert.equal(r.port, port);
    assert.equal(r.kind, REQ_NEW_CONTROL);
    assert.equal(new DataView(b.buffer).getUint32(8, true), port * 256);
  }
});

Deno.test("REQ_NEW_PORT0 means port 0 whatever the port bits say", () => {
  const built = buildVdeRequest({ kind: REQ_NEW_PORT0, port: 7, socketPath: "/tmp/p", description: "" });
  assert.equal(new DataView(built.buffer).getUint32(8, true), 1);
  // A hand-made request with kind 1 and port bits set: vde_switch ignores the bits.
  const r = expectOk(parseVdeRequest(header(0xfeedface, 3, (7 << 8) | 1)));
  assert.equal(r.kind, REQ_NEW_PORT0);
  assert.equal(r.port, 0);
});

Deno.test("parseVdeRequest refuses a request kind other than 0 and 1", () => {
  for (const kind of [2, 3, 0x7f, 0xff]) {
    expectRefused(
      parseVdeRequest(header(0xfeedface, 3, (4 << 8) | kind)),
      new RegExp(`bad request type ${kind}`),
    );
  }
});

Deno.test("parseVdeRequest refuses a bad magic as a V0 request", () => {
  expectRefused(parseVdeRequest(header(0xdeadbeef, 3, 0)), /bad magic 0xdeadbeef.*V0 request not supported/);
  // Network byte order is a bad magic too: the wire is host (little-endian) order.
  const be = header(0, 3, 0);
  be.set(hex("fe ed fa ce"), 0);
  expectRefused(parseVdeRequest(be), /bad magic 0xcefaedfe/);
  // A magic alone, without the rest, is still judged on the magic.
  expectRefused(parseVdeRequest(new Uint8Array(8)), /bad magic 0x00000000/);
});

Deno.test("parseVdeRequest refuses versions 2 and 9 as unsupported", () => {
  expectRefused(parseVdeRequest(header(0xfeedface, 2, 0)), /version 2 port/);
  expectRefused(parseVdeRequest(header(0xfeedface, 9, 0)), /version 9 port/);
  expectRefused(parseVdeRequest(header(0xfeedface, 0xffffffff, 0)), /version 4294967295 port/);
  // The version alone decides: no need to wait for the rest of the header.
  expectRefused(parseVdeRequest(header(0xfeedface, 2, 0).subarray(0, 8)), /version 2/);
});

Deno.test("a truncated header is incomplete, so a server may wait for the rest", () => {
  const full = buildVdeRequest({ kind: REQ_NEW_CONTROL, port: 3, socketPath: "/tmp/p", description: "d" });
  for (const n of [0, 1, 4, 7]) {
    expectRefused(parseVdeRequest(full.subarray(0, n)), /shorter than its header/, true);
  }
  for (const n of [8, 12, 50, V3_HEADER_LEN - 1]) {
    expectRefused(parseVdeRequest(full.subarray(0, n)), new RegExp(`v3 request is ${n} bytes`), true);
  }
  // The whole header with no description is a complete request.
  const r = expectOk(parseVdeRequest(full.subarray(0, V3_HEADER_LEN)));
  assert.equal(r.description, "");
  assert.equal(r.port, 3);
});

Deno.test("a truncated v1 header is incomplete", () => {
  const v1 = buildVdeRequestV1(0, "/tmp/p", "");
  for (const n of [8, 100, V3_HEADER_LEN, V1_HEADER_LEN - 1]) {
    expectRefused(parseVdeRequest(v1.subarray(0, n)), new RegExp(`v1 request is ${n} bytes`), true);
  }
});

Deno.test("parseVdeRequest reads a v1 request: kind in the version word, MAC skipped, no port", () => {
  const v1 = buildVdeRequestV1(REQ_NEW_CONTROL, "/tmp/sw/.00042-00000", "old client");
  assert.equal(v1.length, V1_HEADER_LEN + 10);
  // The 6-byte MAC between the kind and the address is ignored by the switch.
  v1.set([0x02, 1, 2, 3, 4, 5], 8);
  assert.deepEqual(expectOk(parseVdeRequest(v1)), {
    version: 1,
    kind: REQ_NEW_CONTROL,
    port: 0,
    socketPath: "/tmp/sw/.00042-00000",
    description: "old client",
  });
  const port0 = expectOk(parseVdeRequest(buildVdeRequestV1(REQ_NEW_PORT0, "/tmp/x", "")));
  assert.equal(port0.version, 1);
  assert.equal(port0.kind, REQ_NEW_PORT0);
  assert.equal(port0.port, 0);
});

Deno.test("the description runs to the end of the message when no NUL ends it", () => {
  const b = buildVdeRequest({ kind: 0, port: 0, socketPath: "/tmp/p", description: "no terminator" });
  assert.equal(expectOk(parseVdeRequest(b)).description, "no terminator");
});

Deno.test("the description stops at an embedded NUL", () => {
  const b = new Uint8Array(V3_HEADER_LEN + 9);
  b.set(header(0xfeedface, 3, 0));
  b.set(enc.encode("abc\0defgh"), V3_HEADER_LEN);
  assert.equal(expectOk(parseVdeRequest(b)).description, "abc");
});

Deno.test("buildVdeRequest caps the description at 127 bytes", () => {
  const b = buildVdeRequest({ kind: 0, port: 0, socketPath: "/tmp/p", description: "x".repeat(300) });
  assert.equal(b.length, V3_HEADER_LEN + MAX_DESCRIPTION_LEN);
  assert.equal(expectOk(parseVdeRequest(b)).description, "x".repeat(127));
});

Deno.test("buildVdeRequest refuses a client path that does not fit sun_path", () => {
  assert.throws(
    () => buildVdeRequest({ kind: 0, port: 0, socketPath: "/" + "a".repeat(107), description: "" }),
    /too long/,
  );
  const ok = buildVdeRequest({ kind: 0, port: 0, socketPath: "/" + "a".repeat(106), description: "" });
  assert.equal(expectOk(parseVdeRequest(ok)).socketPath.length, 107);
});

Deno.test("parseVdeRequest refuses a request whose address is not AF_UNIX", () => {
  const b = header(0xfeedface, 3, 0);
  b[12] = 2; // AF_INET
  expectRefused(parseVdeRequest(b), /family is 2/);
  const v1 = buildVdeRequestV1(0, "/tmp/p", "");
  v1[14] = 0;
  expectRefused(parseVdeRequest(v1), /family is 0/);
});

Deno.test("an unnamed client address parses as an empty path", () => {
  const b = header(0xfeedface, 3, 0, "");
  assert.equal(expectOk(parseVdeRequest(b)).socketPath, "");
});

Deno.test("parseVdeRequest never throws on random bytes", () => {
  // A cheap deterministic fuzz: every outcome must be a result, never an exception.
  const random = prng(12345);
  const rand = () => Math.floor(random() * 256);
  for (let i = 0; i < 2000; i++) {
    const len = rand() + (i % 3 === 0 ? 0 : 60);
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = rand();
    // Make about half of them pass the magic check so deeper paths are fuzzed too.
    if (i % 2 === 0 && len >= 8) b.set(hex("ce fa ed fe"), 0);
    if (i % 4 === 0 && len >= 8) b.set([i % 8 === 0 ? 3 : 1, 0, 0, 0], 4);
    const r = parseVdeRequest(b);
    assert.equal(typeof r.ok, "boolean");
  }
});
