/** sockaddr_in and sockaddr_in6 bytes: both families round-trip; anything else is refused. */
import assert from "node:assert/strict";
import {
  decodeSockaddr,
  encodeSockaddr,
  encodeSockaddrInto,
  formatSockaddr,
  setSockaddrPort,
  SOCKADDR_MAX,
} from "../../src/io/sockaddr.ts";
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

Deno.test("encodeSockaddrInto reuses one buffer: an address at an offset, the wildcard, a scope id", () => {
  const out = new Uint8Array(SOCKADDR_MAX).fill(0xee);
  const packet = new Uint8Array([9, 9, 10, 0, 2, 15]);
  assert.equal(encodeSockaddrInto(out, 4, packet, 2, 53), 16);
  assert.equal(formatSockaddr(out, 16), "10.0.2.15:53");
  assert.deepEqual([...out.subarray(16)], new Array(12).fill(0), "the rest is cleared");
  assert.equal(encodeSockaddrInto(out, 6, undefined, 0, 8080, 3), 28);
  assert.equal(formatSockaddr(out, 28), "[::]:8080");
  assert.deepEqual(out.subarray(0, 28), encodeSockaddr(new Uint8Array(16), 8080, 3));
});
