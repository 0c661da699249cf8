/**
 * The slirp DHCP server's pool under pressure (its search resumes where it
 * stopped and its expiry stops at the first live lease, so a flood of
 * clients costs each request little): a full pool answers no OFFER, a freed
 * address is offered next, expired leases free their addresses.
 */
import assert from "node:assert/strict";
import { DhcpServer, LEASE_SECONDS } from "../../src/slirp/dhcp_server.ts";
import { defaultConfig } from "../../src/slirp/config.ts";
import {
  buildDhcp,
  DHCP_MSG,
  DHCP_OPT,
  type DhcpMessage,
  dhcpU32,
  parseDhcp,
  u32Option,
} from "../../src/wire/dhcp.ts";
import { valueOf } from "../helpers/parsed.ts";

/** A /28 whose pool is 10.0.2.5 .. 10.0.2.14: ten addresses. */
function smallServer(): DhcpServer {
  return new DhcpServer({ ...defaultConfig(), prefixLength: 28, dhcpStart: 0x0a000205 });
}

function request(client: number, type: number, requested?: number): DhcpMessage {
  const options: [number, Uint8Array][] = [[DHCP_OPT.MESSAGE_TYPE, new Uint8Array([type])]];
  if (requested !== undefined) options.push([DHCP_OPT.REQUESTED_IP, u32Option(requested)]);
  return valueOf(parseDhcp(
    buildDhcp({ op: 1, xid: client, chaddr: new Uint8Array([2, 0, 0, 0, 1, client]), options }),
  ));
}

/** DISCOVER then REQUEST of the offered address; the leased address, or null without an offer. */
function lease(s: DhcpServer, client: number, now: number): number | null {
  const offer = s.handle(request(client, DHCP_MSG.DISCOVER), now);
  if (offer === null) return null;
  const addr = offer.spec.yiaddr!;
  const ack = s.handle(request(client, DHCP_MSG.REQUEST, addr), now);
  assert.ok(ack !== null);
  const parsed = valueOf(parseDhcp(buildDhcp(ack.spec)));
  assert.equal(parsed.messageType, DHCP_MSG.ACK);
  assert.equal(dhcpU32(parsed, DHCP_OPT.SERVER_ID), 0x0a000202);
  return addr;
}

Deno.test("DHCP pool: full means no offer; a released address is offered next; expiry frees in order", () => {
  const s = smallServer();
  const leased: number[] = [];
  for (let c = 1; c <= 10; c++) leased.push(lease(s, c, 1000)!);
  assert.deepEqual(leased, Array.from({ length: 10 }, (_, i) => 0x0a000205 + i));
  assert.equal(lease(s, 11, 1000), null, "an eleventh client gets nothing from a full pool");
  // Client 4 releases 10.0.2.8: the next new client gets exactly that address.
  assert.equal(s.handle({ ...request(4, DHCP_MSG.RELEASE), ciaddr: 0x0a000208 }, 2000), null);
  assert.equal(lease(s, 12, 2000), 0x0a000208);
  assert.equal(lease(s, 13, 2000), null);
  // After a lease time every lease but client 12's has expired: the pool has room again.
  const later = 1000 + LEASE_SECONDS * 1000 + 1;
  assert.equal(s.leases().length, 10);
  assert.notEqual(lease(s, 14, later), null);
  assert.equal(
    s.leases().length,
    2,
    "the expired leases are gone; client 12's (taken later) and the new one remain",
  );
});
