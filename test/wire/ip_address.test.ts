/**
 * IP address text of both families: parsing (one parser for the whole
 * tree), RFC 5952 formatting, prefixes, classification, HOST:PORT.
 */
import assert from "node:assert/strict";
import {
  formatIp,
  inPrefix,
  ipFamily,
  ipLiteral,
  ipv4FromU32,
  ipv4ToU32,
  isLoopback,
  isMulticastIp,
  parseHostPortText,
  parseIpText,
  parseIpv4Text,
  parseIpv6Text,
  parsePrefixText,
  v4Mapped,
} from "../../src/wire/ip_address.ts";
import { reasonOf, valueOf } from "../helpers/parsed.ts";

Deno.test("parseIpv4Text takes dotted quads only", () => {
  assert.deepEqual([...valueOf(parseIpv4Text("10.0.255.1"))], [10, 0, 255, 1]);
  assert.deepEqual([...valueOf(parseIpv4Text(" 10.0.2.15 "))], [10, 0, 2, 15]);
  for (const bad of ["10.0.0", "10.0.0.256", "1.2.3.4.5", "a.b.c.d", "", "01234.1.1.1"]) {
    assert.match(reasonOf(parseIpv4Text(bad)), /not an IPv4 address/, bad);
  }
});

Deno.test("parseIpv6Text handles ::, full form, brackets and an embedded IPv4", () => {
  const cases: [string, string][] = [
    ["::1", "::1"],
    ["ff05:56de::1", "ff05:56de::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["[2001:db8::1:0:0:1]", "2001:db8::1:0:0:1"],
    ["::", "::"],
    ["::ffff:10.1.2.3", "::ffff:a01:203"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["fd00:0:0:0:0:0:0:2", "fd00::2"],
  ];
  for (const [text, formatted] of cases) {
    assert.equal(formatIp(valueOf(parseIpv6Text(text))), formatted, text);
  }
  for (
    const bad of [
      "1::2::3",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "fe80::1%eth0",
      "12345::",
      "1.2.3.4",
      "1.2.3.4::",
    ]
  ) {
    assert.match(reasonOf(parseIpv6Text(bad)), /not an IPv6 address/, bad);
  }
});

Deno.test("parseIpText picks the family; isMulticastIp knows both", () => {
  assert.equal(ipFamily(valueOf(parseIpText("239.0.0.1"))), 4);
  assert.equal(ipFamily(valueOf(parseIpText("[::1]"))), 6);
  assert.match(reasonOf(parseIpText("host.example")), /not an IP address/);
  assert.ok(isMulticastIp(ipLiteral("239.0.0.1")));
  assert.ok(isMulticastIp(ipLiteral("ff05::1")));
  assert.ok(!isMulticastIp(ipLiteral("10.0.0.1")));
  assert.throws(() => ipLiteral("10.0.0"), /not an IP address/);
});

Deno.test("prefixes, loopback and IPv4-mapped addresses", () => {
  const net = valueOf(parsePrefixText("10.0.2.0/24"));
  assert.ok(inPrefix(ipLiteral("10.0.2.15"), net));
  assert.ok(!inPrefix(ipLiteral("10.0.3.15"), net));
  assert.ok(!inPrefix(ipLiteral("fd00::1"), net));
  assert.equal(valueOf(parsePrefixText("fd00::")).length, 128);
  assert.match(reasonOf(parsePrefixText("10.0.2.0/33")), /prefix length/);
  assert.ok(isLoopback(ipLiteral("127.1.2.3")));
  assert.ok(isLoopback(ipLiteral("::ffff:127.0.0.1")));
  assert.ok(isLoopback(ipLiteral("::1")));
  assert.equal(formatIp(v4Mapped(ipLiteral("::ffff:10.0.2.2"))!), "10.0.2.2");
  assert.equal(v4Mapped(ipLiteral("fd00::2")), null);
  assert.equal(ipv4ToU32(ipLiteral("10.0.2.15")), 0x0a00020f);
  assert.equal(formatIp(ipv4FromU32(0x0a00020f)), "10.0.2.15");
});

Deno.test("parseHostPortText splits at the last colon", () => {
  assert.deepEqual(valueOf(parseHostPortText("10.0.0.1:5000")), { host: "10.0.0.1", port: 5000 });
  assert.deepEqual(valueOf(parseHostPortText("fe80::1:5000")), { host: "fe80::1", port: 5000 });
  assert.deepEqual(valueOf(parseHostPortText("[::1]:7")), { host: "::1", port: 7 });
  assert.match(reasonOf(parseHostPortText("nohost")), /no :PORT/);
  assert.match(reasonOf(parseHostPortText("h:70000")), /port 70000/);
});
