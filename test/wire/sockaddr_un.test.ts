import assert from "node:assert/strict";
import {
  buildSockaddrUn,
  parseSockaddrUn,
  SOCKADDR_UN_LEN,
  SUN_PATH_LEN,
} from "../../src/wire/sockaddr_un.ts";

Deno.test("buildSockaddrUn lays out family 1 little-endian and a NUL-padded path in 110 bytes", () => {
  const b = buildSockaddrUn("/tmp/sw/001.6");
  assert.equal(b.length, SOCKADDR_UN_LEN);
  assert.equal(SOCKADDR_UN_LEN, 110);
  assert.deepEqual([...b.subarray(0, 2)], [1, 0]);
  assert.equal(new TextDecoder().decode(b.subarray(2, 15)), "/tmp/sw/001.6");
  // Everything after the path is zero, so the C side sees a terminated string.
  assert.ok(b.subarray(15).every((x) => x === 0));
});

Deno.test("sockaddr_un round-trips a path through build and parse", () => {
  for (const path of ["/tmp/sw/ctl", "/var/run/vde.ctl/.01234-00000", "/tmp/é-ü/001.7", "x"]) {
    assert.deepEqual(parseSockaddrUn(buildSockaddrUn(path)), { ok: true, value: path });
  }
});

Deno.test("buildSockaddrUn accepts a 107-byte path and refuses a 108-byte one", () => {
  const p107 = "/" + "a".repeat(106);
  assert.equal(p107.length, SUN_PATH_LEN - 1);
  const b = buildSockaddrUn(p107);
  // The last byte stays the terminating NUL.
  assert.equal(b[SOCKADDR_UN_LEN - 1], 0);
  assert.deepEqual(parseSockaddrUn(b), { ok: true, value: p107 });
  const p108 = "/" + "a".repeat(107);
  assert.throws(() => buildSockaddrUn(p108), /108 bytes, the limit is 107/);
});

Deno.test("buildSockaddrUn counts bytes, not characters, against the limit", () => {
  // 54 two-byte characters = 108 bytes: too long although only 54 characters.
  assert.throws(() => buildSockaddrUn("é".repeat(54)), /108 bytes/);
  assert.equal(buildSockaddrUn("é".repeat(53)).length, SOCKADDR_UN_LEN);
});

Deno.test("parseSockaddrUn reads a 108-byte path with no NUL to the end of sun_path", () => {
  // Linux allows a sun_path that fills all 108 bytes without a terminator.
  const b = new Uint8Array(SOCKADDR_UN_LEN);
  b[0] = 1;
  b.fill(0x61, 2);
  const r = parseSockaddrUn(b);
  assert.deepEqual(r, { ok: true, value: "a".repeat(108) });
});

Deno.test("parseSockaddrUn stops the path at the first NUL and ignores what follows", () => {
  const b = buildSockaddrUn("/tmp/a");
  b.set(new TextEncoder().encode("garbage"), 10);
  assert.deepEqual(parseSockaddrUn(b), { ok: true, value: "/tmp/a" });
});

Deno.test("parseSockaddrUn reads at an offset inside a larger buffer", () => {
  const buf = new Uint8Array(12 + SOCKADDR_UN_LEN + 5);
  buf.set(buildSockaddrUn("/tmp/sw/.00042-00000"), 12);
  assert.deepEqual(parseSockaddrUn(buf, 12), { ok: true, value: "/tmp/sw/.00042-00000" });
});

Deno.test("parseSockaddrUn gives an empty path for an unnamed address", () => {
  const b = new Uint8Array(SOCKADDR_UN_LEN);
  b[0] = 1;
  assert.deepEqual(parseSockaddrUn(b), { ok: true, value: "" });
});

Deno.test("parseSockaddrUn refuses a truncated address", () => {
  const full = buildSockaddrUn("/tmp/sw/001.6");
  for (const n of [0, 1, 2, 60, SOCKADDR_UN_LEN - 1]) {
    const r = parseSockaddrUn(full.subarray(0, n));
    assert.equal(r.ok, false, `length ${n}`);
    if (!r.ok) assert.match(r.reason, /truncated/);
  }
  // At an offset, the bytes before it do not count.
  const r = parseSockaddrUn(new Uint8Array(SOCKADDR_UN_LEN + 3), 4);
  assert.equal(r.ok, false);
});

Deno.test("parseSockaddrUn refuses a family other than AF_UNIX", () => {
  const cases: [number, number, number][] = [[0, 0, 0], [2, 0, 2], [10, 0, 10], [0, 1, 256], [1, 1, 257]];
  for (const [lo, hi, family] of cases) {
    const b = buildSockaddrUn("/tmp/x");
    b[0] = lo;
    b[1] = hi;
    const r = parseSockaddrUn(b);
    assert.equal(r.ok, false, `family ${family}`);
    if (!r.ok) assert.match(r.reason, new RegExp(`family is ${family}, not AF_UNIX`));
  }
});
