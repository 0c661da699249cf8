/** Why `vde cable connect` could not connect, in words a user acts on. */
import assert from "node:assert/strict";
import { connectFailure } from "../../src/cable/client.ts";

Deno.test("a cable that cannot connect says the name does not resolve, or that nothing listens there", () => {
  assert.equal(
    connectFailure(new Error("failed to lookup address information: Name or service not known")),
    "no such host (its name does not resolve)",
  );
  assert.equal(
    connectFailure(new Deno.errors.ConnectionRefused("Connection refused (os error 111)")),
    "connection refused (is `vde cable listen` running there, on that port?)",
  );
  assert.equal(
    connectFailure(new Error("Network is unreachable (os error 101)")),
    "Network is unreachable (os error 101)",
  );
});
