/**
 * IP address text and sockaddr_in/sockaddr_in6 bytes for the datagram
 * cables: both families, round trips, and refusals of malformed text.
 */
import assert from "node:assert/strict";
import {
  buildSockaddr,
  formatIp,
  formatSockaddr,
  isMulticastIp,
  parseIp,
  parseIPv4,
  parseIPv6,
  parseSockaddr,
  setSockaddrPort,
  splitHostPort,
} from "../../src/wire/cable_inet.ts";

Deno.test("parseIPv4 takes dotted quads only", () => {
  assert.deepEqual([...parseIPv4("10.0.255.1")!], [10, 0, 255, 1]);
  for (const bad of ["10.0.0", "10.0.0.256", "1.2.3.4.5", "a.b.c.d", "", "01234.1.1.1"]) {
    assert.equal(parseIPv4(bad), null, bad);
  }
});

Deno.test("parseIPv6 handles ::, full form and an embedded IPv4", () => {
  const cases: [string, string][] = [
    ["::1", "::1"],
    ["ff05:56de::1", "ff05:56de::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::", "::"],
    ["::ffff:10.1.2.3", "::ffff:a01:203"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
  ];
  for (const [text, formatted] of cases) {
    const b = parseIPv6(text);
    assert.ok(b !== null, text);
    assert.equal(formatIp({ family: 6, bytes: b }), formatted);
  }
  for (const bad of ["1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "12345::", "1.2.3.4"]) {
    assert.equal(parseIPv6(bad), null, bad);
  }
});

Deno.test("parseIp picks the family; isMulticastIp knows both", () => {
  assert.equal(parseIp("239.0.0.1")!.family, 4);
  assert.equal(parseIp("[::1]")!.family, 6);
  assert.equal(parseIp("host.example"), null);
  assert.ok(isMulticastIp(parseIp("239.0.0.1")!));
  assert.ok(isMulticastIp(parseIp("ff05::1")!));
  assert.ok(!isMulticastIp(parseIp("10.0.0.1")!));
});

Deno.test("sockaddrs round-trip for both families", () => {
  const v4 = buildSockaddr(parseIp("10.1.2.3")!, 4789);
  assert.equal(v4.length, 16);
  assert.equal(formatSockaddr(v4), "10.1.2.3:4789");
  const v6 = buildSockaddr(parseIp("ff05:56de::1")!, 14789);
  assert.equal(v6.length, 28);
  assert.equal(formatSockaddr(v6), "[ff05:56de::1]:14789");
  setSockaddrPort(v6, 1);
  assert.equal(parseSockaddr(v6)!.port, 1);
  assert.equal(parseSockaddr(new Uint8Array(16)), null);
  assert.equal(parseSockaddr(v6, 16), null);
});

Deno.test("splitHostPort splits at the last colon", () => {
  assert.deepEqual(splitHostPort("10.0.0.1:5000"), { host: "10.0.0.1", port: 5000 });
  assert.deepEqual(splitHostPort("fe80::1:5000"), { host: "fe80::1", port: 5000 });
  assert.deepEqual(splitHostPort("[::1]:7"), { host: "::1", port: 7 });
  assert.equal(splitHostPort("nohost"), null);
  assert.equal(splitHostPort("h:70000"), null);
});
