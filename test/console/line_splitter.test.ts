import assert from "node:assert/strict";
import { LineSplitter } from "../../src/console/line_splitter.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("line splitter joins lines across chunks and splits many in one chunk", () => {
  const s = new LineSplitter(64);
  assert.deepEqual(s.push(bytes("port/pr")), []);
  assert.deepEqual(s.push(bytes("int\nhelp\n\nfoo")), [{ line: "port/print" }, { line: "help" }, {
    line: "",
  }]);
  assert.deepEqual(s.push(bytes("\n")), [{ line: "foo" }]);
});

Deno.test("line splitter drops an overlong line up to its newline and reports it once", () => {
  const s = new LineSplitter(16);
  const junk = new Uint8Array(1 << 20).fill(0x41);
  for (let i = 0; i < 4; i++) assert.deepEqual(s.push(junk), []);
  assert.equal(s.discarding, true);
  assert.deepEqual(s.push(bytes("AAAA\nhelp\n")), [{ overlong: true }, { line: "help" }]);
  assert.equal(s.discarding, false);
});

Deno.test("line splitter accepts a line of exactly the limit", () => {
  const s = new LineSplitter(4);
  assert.deepEqual(s.push(bytes("abcd\nabcde\n")), [{ line: "abcd" }, { overlong: true }]);
});

Deno.test("line splitter decodes binary garbage without throwing", () => {
  const s = new LineSplitter(64);
  const out = s.push(new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0x0a]));
  assert.equal(out.length, 1);
  assert.ok("line" in out[0]!);
});
