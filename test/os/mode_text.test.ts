import assert from "node:assert/strict";
import { modeText } from "../../src/os/mode_text.ts";

Deno.test("a mode is shown as octal with at least three digits: 060, not 60", () => {
  assert.equal(modeText(0o60), "060");
  assert.equal(modeText(0o6), "006");
  assert.equal(modeText(0o660), "660");
  assert.equal(modeText(0o1777), "1777");
  assert.equal(modeText(0o100660), "660", "the file type bits of a stat's mode are not a mode's");
});
