/** The lab's link values keep the ranges the wire under them takes, in the file and the shell alike. */
import assert from "node:assert/strict";
import { LINK_MTU, parseLinkMtu } from "../../src/lab/values.ts";
import { validateLab } from "../../src/lab/validate.ts";

Deno.test("a jitter too long is named as the jitter, not as a delay", () => {
  const file = `name: j
topology:
  nodes:
    sw1: { kind: switch }
    sw2: { kind: switch }
  links:
    - endpoints: [sw1, sw2]
      delay: 10ms
      jitter: 100000s
`;
  const { errors } = validateLab(file, { stp: true });
  assert.deepEqual(errors?.map((e) => e.message), ['jitter: at most 86400s (a day), got "100000s"']);
});

Deno.test("a link's MTU is a whole number in LINK_MTU, in the shell as in the file", () => {
  assert.deepEqual(parseLinkMtu(String(LINK_MTU[0])), { ok: true, value: 68 });
  assert.deepEqual(parseLinkMtu("65535"), { ok: true, value: 65535 });
  for (const bad of ["67", "65536", "1500x", ""]) {
    assert.deepEqual(parseLinkMtu(bad), {
      ok: false,
      error: `mtu must be a whole number from 68 to 65535, got ${JSON.stringify(bad)}`,
    }, bad);
  }
});
