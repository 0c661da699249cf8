/** A switch's refusal reason: shorter than an address, printable, and read back as the client prints it. */
import assert from "node:assert/strict";
import { buildRefusal, MAX_REFUSAL_LEN, parseRefusal } from "../../src/wire/vde_refusal.ts";
import { buildSockaddrUn, SOCKADDR_UN_LEN } from "../../src/wire/sockaddr_un.ts";

Deno.test("a refusal reason goes on the wire shorter than an address and comes back as written", () => {
  const reason = "port 5000 is out of range: the switch has 32 ports, 0 to 31";
  const bytes = buildRefusal(reason);
  assert.ok(bytes.length < SOCKADDR_UN_LEN);
  assert.equal(parseRefusal(bytes), reason);
});

Deno.test("a long reason is cut one byte short of an address, so the client still tells it from one", () => {
  const bytes = buildRefusal("x".repeat(300));
  assert.equal(bytes.length, MAX_REFUSAL_LEN);
  assert.equal(parseRefusal(bytes), "x".repeat(MAX_REFUSAL_LEN));
});

Deno.test("a refusal read from the switch is hostile: control bytes and non-ASCII are replaced, an address or nothing is no reason", () => {
  assert.equal(parseRefusal(new TextEncoder().encode("port\x1b[2J busy\u00e9")), "port?[2J busy?");
  assert.equal(parseRefusal(new Uint8Array(0)), null, "vde_switch closes without a word");
  assert.equal(
    parseRefusal(new Uint8Array([0x62, 0, 0x63])),
    "b?c",
    "a NUL is replaced, not taken as the end",
  );
  assert.equal(parseRefusal(buildSockaddrUn("/tmp/net/001.7")), null, "an accepted reply is no refusal");
  assert.equal(buildRefusal("caf\u00e9\n")[0], 0x63, "a printable first byte is never AF_UNIX (1)");
  assert.equal(new TextDecoder().decode(buildRefusal("caf\u00e9\n")), "caf?");
});
