/**
 * The Host header rule against DNS rebinding: names that cannot be rebound
 * are answered, any other name is refused, whatever the port.
 */
import assert from "node:assert/strict";
import { hostAllowed, hostName, isLoopback } from "../../src/web/host_check.ts";

Deno.test("host check: a loopback server answers IP literals and localhost names on any port, and refuses a rebound name", () => {
  const cases: [string | null, boolean][] = [
    ["127.0.0.1:9100", true],
    ["127.0.0.1", true],
    ["[::1]:9100", true],
    ["[::1]", true],
    ["localhost:9100", true],
    ["LOCALHOST:8080", true], // a tunnel's port, any case
    ["localhost.", true],
    ["app.localhost:9100", true],
    ["192.0.2.7:9100", true], // an address: nothing to rebind
    [null, true], // no browser sends no Host
    ["evil.example:9100", false],
    ["evil.example", false],
    ["localhost.evil.example", false],
    ["127.0.0.1.nip.io:9100", false],
    ["labhost:9100", false], // the machine's name: only when bound beyond the loopback
    ["", false],
    ["evil.example:9100:1", false],
    ["::1", false], // IPv6 without brackets is no Host
    ["[::1]x", false],
    ["ex ample", false],
    ["999.0.0.1", false],
  ];
  for (const [host, allowed] of cases) {
    assert.equal(hostAllowed(host, "127.0.0.1", "labhost"), allowed, `Host ${host}`);
    assert.equal(hostAllowed(host, "::1", "labhost"), allowed, `Host ${host} on [::1]`);
  }
});

Deno.test("host check: a server on 0.0.0.0 or :: also answers the machine's name and names under it, still not others", () => {
  for (const bound of ["0.0.0.0", "::", "192.0.2.7"]) {
    assert.ok(hostAllowed("labhost:9100", bound, "labhost"), bound);
    assert.ok(hostAllowed("LabHost.cs.example.edu:9100", bound, "labhost"), bound);
    assert.ok(hostAllowed("labhost.cs.example.edu", bound, "labhost.cs.example.edu."), bound);
    assert.ok(hostAllowed("10.1.2.3:9100", bound, "labhost"), bound);
    assert.ok(hostAllowed("[fe80::1]:9100", bound, "labhost"), bound);
    assert.ok(!hostAllowed("evil.example:9100", bound, "labhost"), bound);
    assert.ok(!hostAllowed("labhostx.example", bound, "labhost"), bound);
    assert.ok(!hostAllowed("evil.example", bound, ""), `${bound} with no machine name`);
  }
});

Deno.test("host check: a Host's name is lower case without port or dot; IPv6 keeps its brackets", () => {
  assert.equal(hostName("Example.COM.:80"), "example.com");
  assert.equal(hostName("[FE80::1]:9100"), "[fe80::1]");
  assert.equal(hostName("a b"), undefined);
  assert.ok(
    isLoopback("127.0.0.1") && isLoopback("127.1.2.3") && isLoopback("::1") && isLoopback("localhost"),
  );
  assert.ok(!isLoopback("0.0.0.0") && !isLoopback("::") && !isLoopback("10.0.0.1"));
});
