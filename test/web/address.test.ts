/** `--http [ADDR:]PORT`: what is parsed, and what a port that cannot be listened on is told. */
import assert from "node:assert/strict";
import { httpListenFailure, parseHttpAddress } from "../../src/web/address.ts";

Deno.test("--http is loopback unless an address is given; IPv6 goes in brackets", () => {
  assert.deepEqual(parseHttpAddress("9100"), { hostname: "127.0.0.1", port: 9100 });
  assert.deepEqual(parseHttpAddress("0.0.0.0:9100"), { hostname: "0.0.0.0", port: 9100 });
  assert.deepEqual(parseHttpAddress("[::1]:0"), { hostname: "::1", port: 0 });
  assert.throws(() => parseHttpAddress("abc"), /--http wants \[ADDR:\]PORT/);
});

Deno.test("a --http port in use says that --http 0 takes a free one, a privileged one that it needs root; other failures say only why", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { port } = taken.addr as Deno.NetAddr;
    let inUse: unknown;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch (err) {
      inUse = err;
    }
    assert.match(
      httpListenFailure(String(port), inUse),
      new RegExp(`^--http: cannot listen on ${port}: .*; --http 0 takes a free port$`),
    );
  } finally {
    taken.close();
  }
  assert.equal(
    httpListenFailure("10.255.255.1:80", new Error("Cannot assign requested address (os error 99)")),
    "--http: cannot listen on 10.255.255.1:80: Cannot assign requested address (os error 99)",
  );
  // As a user without root asks for port 80.
  assert.equal(
    httpListenFailure("80", new Deno.errors.PermissionDenied("Permission denied (os error 13)")),
    "--http: cannot listen on 80: Permission denied (os error 13); ports below 1024 need root: --http 9100, say",
  );
});
