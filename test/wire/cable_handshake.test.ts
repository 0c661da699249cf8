/**
 * The cable's opening messages: encode/parse round trips, and hostile or
 * foreign bytes answered with a reason instead of a throw.
 */
import assert from "node:assert/strict";
import {
  ACCEPT_SIZE,
  CABLE_VERSION,
  CableFlag,
  CLIENT_HELLO_SIZE,
  encodeAccept,
  encodeClientHello,
  encodeServerHello,
  hex,
  parseAccept,
  parseClientHello,
  parseServerHello,
  SERVER_HELLO_SIZE,
  Status,
  statusText,
} from "../../src/wire/cable_handshake.ts";

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);

Deno.test("client hello round-trips every field", () => {
  const h = {
    version: CABLE_VERSION,
    mode: "sealed" as const,
    flags: 0x0101,
    nonce: bytes(32, 1),
    keyId: bytes(8, 2),
    sessionId: bytes(16, 3),
  };
  const b = encodeClientHello(h);
  assert.equal(b.length, CLIENT_HELLO_SIZE);
  assert.deepEqual([...b.subarray(0, 4)], [0x56, 0x44, 0x45, 0x43]);
  const p = parseClientHello(b);
  assert.ok(p.ok);
  assert.deepEqual(p.value, h);
});

Deno.test("client hello parser refuses short, foreign and unknown-mode input", () => {
  const good = encodeClientHello({
    version: CABLE_VERSION,
    mode: "plain",
    flags: 0,
    nonce: bytes(32, 0),
    keyId: bytes(8, 0),
    sessionId: bytes(16, 0),
  });
  assert.equal(parseClientHello(good.subarray(0, 63)).ok, false);
  const foreign = good.slice();
  foreign[0] = 0; // a VDE stream frame header, say
  const r = parseClientHello(foreign);
  assert.ok(!r.ok && /bad magic/.test(r.reason));
  const mode = good.slice();
  mode[5] = 9;
  assert.equal(parseClientHello(mode).ok, false);
  assert.equal(parseClientHello(crypto.getRandomValues(new Uint8Array(64))).ok, false);
});

Deno.test("client hello of another version is reported, not refused, so the listener can answer", () => {
  const b = encodeClientHello({
    version: 1,
    mode: "sealed",
    flags: 0,
    nonce: bytes(32, 0),
    keyId: bytes(8, 0),
    sessionId: bytes(16, 0),
  });
  b[4] = 7;
  const p = parseClientHello(b);
  assert.ok(p.ok);
  assert.equal(p.value.version, 7);
});

Deno.test("server hello round-trips, with the status", () => {
  const h = {
    version: 1,
    mode: "plain" as const,
    status: Status.wrongKey,
    flags: 1,
    nonce: bytes(32, 4),
    proof: bytes(32, 5),
  };
  const b = encodeServerHello(h);
  assert.equal(b.length, SERVER_HELLO_SIZE);
  const p = parseServerHello(b);
  assert.ok(p.ok);
  assert.deepEqual(p.value, h);
  assert.equal(parseServerHello(b.subarray(1)).ok, false);
});

Deno.test("hellos of a first-version peer (zeros where the flags are) parse as no features offered or taken", () => {
  const ch = encodeClientHello({
    version: CABLE_VERSION,
    mode: "sealed",
    flags: CableFlag.echo,
    nonce: bytes(32, 0),
    keyId: bytes(8, 0),
    sessionId: bytes(16, 0),
  });
  assert.deepEqual([...ch.subarray(6, 8)], [0, 1]);
  ch.fill(0, 6, 8);
  const p = parseClientHello(ch);
  assert.ok(p.ok);
  assert.equal(p.value.flags, 0);
});

Deno.test("accept round-trips port and resumed flag", () => {
  for (
    const a of [{ status: 0, resumed: true, port: 65535 }, { status: Status.busy, resumed: false, port: 0 }]
  ) {
    const b = encodeAccept(a);
    assert.equal(b.length, ACCEPT_SIZE);
    const p = parseAccept(b);
    assert.ok(p.ok);
    assert.deepEqual(p.value, a);
  }
  assert.equal(parseAccept(new Uint8Array(8)).ok, false);
  assert.equal(parseAccept(new Uint8Array(9)).ok, false);
});

Deno.test("statusText names every status and unknown ones", () => {
  for (const s of Object.values(Status)) assert.ok(statusText(s).length > 0);
  assert.match(statusText(99), /unknown status 99/);
  assert.equal(hex(new Uint8Array([0, 15, 255])), "000fff");
});

Deno.test("encoders refuse wrong field sizes (a programming error)", () => {
  assert.throws(() =>
    encodeClientHello({
      version: 1,
      mode: "sealed",
      flags: 0,
      nonce: bytes(31, 0),
      keyId: bytes(8, 0),
      sessionId: bytes(16, 0),
    })
  );
});
