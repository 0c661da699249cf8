import assert from "node:assert/strict";
import {
  buildTftpError,
  buildTftpOack,
  buildTftpRequest,
  parseTftpClientPacket,
  parseTftpRequest,
  TFTP_ERR,
  TFTP_OP,
} from "../../src/wire/tftp.ts";
import type { Parsed } from "../../src/wire/parse.ts";

function reason(p: Parsed<unknown>): string {
  return p.ok ? "parsed" : p.reason;
}

Deno.test("TFTP read request: file, mode and options parsed, names lower-cased", () => {
  const b = buildTftpRequest(TFTP_OP.RRQ, "pxe/boot.ipxe", "OCTET", [["BLKSIZE", "1428"], ["tsize", "0"]]);
  const p = parseTftpRequest(b, 0, b.length);
  assert.ok(p.ok);
  const r = p.value;
  assert.equal(r.op, TFTP_OP.RRQ);
  assert.equal(r.filename, "pxe/boot.ipxe");
  assert.equal(r.mode, "octet");
  assert.deepEqual([...r.options], [["blksize", "1428"], ["tsize", "0"]]);
});

Deno.test("TFTP hostile requests: no NUL, short, not a request, option without value", () => {
  const enc = new TextEncoder();
  assert.match(reason(parseTftpRequest(enc.encode("\0\x01file"), 0, 6)), /NUL/);
  assert.match(reason(parseTftpRequest(enc.encode("\0\x01f\0octet"), 0, 9)), /mode/);
  assert.match(reason(parseTftpRequest(new Uint8Array(3), 0, 3)), /shorter/);
  assert.match(reason(parseTftpRequest(enc.encode("\0\x03a\0b\0"), 0, 6)), /not a request/);
  const b = enc.encode("\0\x01f\0octet\0blksize\0");
  assert.match(reason(parseTftpRequest(b, 0, b.length)), /no NUL-terminated value/);
  assert.match(reason(parseTftpRequest(b, 0, b.length + 5)), /shorter/);
});

Deno.test("TFTP ACK, ERROR, OACK and ERROR packets", () => {
  assert.deepEqual(parseTftpClientPacket(new Uint8Array([0, 4, 1, 2]), 0, 4), {
    ok: true,
    value: { op: TFTP_OP.ACK, block: 258 },
  });
  const e = buildTftpError(TFTP_ERR.ACCESS, "no");
  assert.deepEqual([...e], [0, 5, 0, 2, 110, 111, 0]);
  assert.deepEqual(parseTftpClientPacket(e, 0, e.length), {
    ok: true,
    value: { op: TFTP_OP.ERROR, code: 2, message: "no" },
  });
  assert.deepEqual([...buildTftpOack([["tsize", "9"]])], [0, 6, 116, 115, 105, 122, 101, 0, 57, 0]);
  assert.match(reason(parseTftpClientPacket(new Uint8Array([0, 3, 0, 1]), 0, 4)), /not an ACK/);
});
