/** sockaddr_in and sockaddr_in6 bytes: both families round-trip; anything else is refused. */
import assert from "node:assert/strict";
import { decodeSockaddr, encodeSockaddr, formatSockaddr, setSockaddrPort } from "../../src/io/sockaddr.ts";
import { ipLiteral } from "../../src/wire/ip_address.ts";
import { reasonOf, valueOf } from "../helpers/parsed.ts";

Deno.test("sockaddrs round-trip for both families", () => {
  const v4 = encodeSockaddr(ipLiteral("10.1.2.3"), 4789);
  assert.equal(v4.length, 16);
  assert.equal(formatSockaddr(v4), "10.1.2.3:4789");
  const v6 = encodeSockaddr(ipLiteral("ff05:56de::1"), 14789);
  assert.equal(v6.length, 28);
  assert.equal(formatSockaddr(v6), "[ff05:56de::1]:14789");
  setSockaddrPort(v6, 1);
  assert.equal(valueOf(decodeSockaddr(v6)).port, 1);
  assert.match(reasonOf(decodeSockaddr(new Uint8Array(16))), /family 0/);
  assert.match(reasonOf(decodeSockaddr(v6, 16)), /not IPv4 or IPv6/);
  assert.equal(formatSockaddr(new Uint8Array(1)), "?");
});
