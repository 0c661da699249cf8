/**
 * The slirp DHCP server's pool under pressure (its search resumes where it
 * stopped and its expiry stops at the first live lease, so a flood of
 * clients costs each request little): a full pool answers no OFFER, a freed
 * address is offered next, expired leases free their addresses.
 */
import assert from "node:assert/strict";
import { DhcpServer, LEASE_SECONDS } from "../../src/slirp/dhcp_server.ts";
import { defaultConfig, formatForward, parseForward } from "../../src/slirp/config.ts";
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
import { formatIpv4 } from "../../src/wire/ipv4.ts";
import { slirpConfigFromFlags } from "../../src/cli/slirp.ts";
import { testStack } from "./helpers.ts";

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

Deno.test("DHCP reserved addresses: never offered, counted out of the pool, a REQUEST for one NAKed", () => {
  // Pool 10.0.2.5 .. .14 less .5 and .7: eight addresses.
  const s = new DhcpServer({
    ...defaultConfig(),
    prefixLength: 28,
    dhcpStart: 0x0a000205,
    reserved: [0x0a000205, 0x0a000207],
  });
  const leased: number[] = [];
  for (let c = 1; c <= 8; c++) leased.push(lease(s, c, 1000)!);
  assert.deepEqual(leased, [6, 8, 9, 10, 11, 12, 13, 14].map((h) => 0x0a000200 + h));
  assert.equal(lease(s, 9, 1000), null, "the pool is full with the reserved two counted out");
  const nak = s.handle(request(10, DHCP_MSG.REQUEST, 0x0a000207), 1000);
  assert.ok(nak !== null);
  assert.equal(valueOf(parseDhcp(buildDhcp(nak.spec))).messageType, DHCP_MSG.NAK);
  const offer = s.handle(request(10, DHCP_MSG.DISCOVER, 0x0a000205), 1000);
  assert.equal(offer, null, "asking for a reserved address gets no offer of it (and the pool is full)");
});

Deno.test("DHCP reserve live: a lease on a newly reserved address ends, said in one line; the client gets another", () => {
  const said: string[] = [];
  const s = new DhcpServer(
    { ...defaultConfig(), prefixLength: 28, dhcpStart: 0x0a000205 },
    () => null,
    (m) => said.push(m),
  );
  assert.equal(lease(s, 1, 1000), 0x0a000205);
  s.reserve([0x0a000205, 0x0a000206]);
  assert.equal(s.leaseOf("02:00:00:00:01:01"), undefined);
  assert.deepEqual(said, [
    "DHCP: 10.0.2.5 is now a static host's, but was leased to 02:00:00:00:01:01, which keeps using it " +
    "until it renews (within 43200 s); renew that client's lease now",
  ]);
  s.reserve([0x0a000205]);
  assert.equal(said.length, 1, "a reservation with no lease on it is not said");
  const renew = s.handle(request(1, DHCP_MSG.REQUEST, 0x0a000205), 2000);
  assert.equal(valueOf(parseDhcp(buildDhcp(renew!.spec))).messageType, DHCP_MSG.NAK);
  assert.equal(lease(s, 1, 2000), 0x0a000206);
  s.reserve([]);
  const offer = s.handle(request(2, DHCP_MSG.DISCOVER, 0x0a000205), 2000);
  assert.equal(offer?.spec.yiaddr, 0x0a000205, "an address no longer reserved is offered again");
});

Deno.test("DHCP skips an address the ARP cache shows held by another MAC, not one held by the client", () => {
  const other = new Uint8Array([2, 0, 0, 0, 9, 9]);
  const own = new Uint8Array([2, 0, 0, 0, 1, 1]);
  const arp = new Map([[0x0a000205, other], [0x0a000206, own]]);
  const s = new DhcpServer(
    { ...defaultConfig(), prefixLength: 28, dhcpStart: 0x0a000205 },
    (ip) => arp.get(ip) ?? null,
  );
  assert.equal(lease(s, 1, 1000), 0x0a000206, "client 1 gets the address its own MAC answers for");
  assert.equal(lease(s, 2, 1000), 0x0a000207);
});

Deno.test("DHCP leases an address another MAC answered ARP for only once no other is free: the cache outlives hosts that left", () => {
  // Pool 10.0.2.13 .. .14, both once answered for by hosts gone since (entries stay until the cache overflows).
  const gone = new Uint8Array([2, 0, 0, 0, 9, 9]);
  const arp = new Map([[0x0a00020d, gone], [0x0a00020e, gone]]);
  const s = new DhcpServer(
    { ...defaultConfig(), prefixLength: 28, dhcpStart: 0x0a00020d },
    (ip) => arp.get(ip) ?? null,
  );
  assert.equal(lease(s, 1, 1000), 0x0a00020d, "the pool is not shrunk by the cache for good");
  arp.delete(0x0a00020e);
  assert.equal(lease(s, 2, 1000), 0x0a00020e);
  assert.equal(lease(s, 3, 1000), null, "full: both leased");
});

Deno.test("DHCP pool emptied by reservations: no offer nor crash, a REQUEST NAKed, said in one line until one is free", () => {
  const said: string[] = [];
  // Pool 10.0.2.13 .. .14, both reserved: nothing to lease.
  const s = new DhcpServer(
    { ...defaultConfig(), prefixLength: 28, dhcpStart: 0x0a00020d, reserved: [0x0a00020d, 0x0a00020e] },
    () => null,
    (m) => said.push(m),
  );
  assert.equal(lease(s, 1, 1000), null);
  assert.equal(lease(s, 2, 1000), null);
  const nak = s.handle(request(3, DHCP_MSG.REQUEST, 0x0a00020d), 1000);
  assert.equal(valueOf(parseDhcp(buildDhcp(nak!.spec))).messageType, DHCP_MSG.NAK);
  assert.deepEqual(said, [
    "DHCP: no free address for 02:00:00:00:01:01 in 10.0.2.13-10.0.2.14 (0 leased, 2 reserved for static " +
    "hosts, 0 declined): it gets no lease",
  ]);
  s.reserve([0x0a00020d]);
  assert.equal(lease(s, 1, 1000), 0x0a00020e, "the address no longer reserved is leased");
  assert.equal(lease(s, 2, 1000), null);
  assert.equal(said.length, 2, "full again after a lease: said again");
});

Deno.test("the start line's first lease (and a forward's default guest) is the address DHCP hands out first: past the gateway's at host 15, none past the last host", () => {
  const said = (host: string) => testStack(slirpConfigFromFlags({ host })).stack.describe()[0]!;
  // slirpvde's -H puts the first lease at host 15, where this gateway is: DHCP skips it.
  const c = slirpConfigFromFlags({ host: "10.0.9.15/24" });
  assert.equal(
    formatIpv4(new DhcpServer(c).handle(request(1, DHCP_MSG.DISCOVER), 0)!.spec.yiaddr!),
    "10.0.9.16",
  );
  assert.match(said("10.0.9.15/24"), / first lease 10\.0\.9\.16$/);
  // A forward without a guest address goes to that first guest, not to the gateway.
  assert.equal(formatForward(parseForward("tcp:8080:80", c), c), "tcp:0.0.0.0:8080:10.0.9.16:80");
  assert.match(said("10.0.9.0/24"), / first lease 10\.0\.9\.15$/);
  // In a /28 host 15 is the broadcast address: DHCP has nothing to hand out.
  assert.equal(
    new DhcpServer(slirpConfigFromFlags({ host: "10.0.9.1/28" })).handle(request(1, DHCP_MSG.DISCOVER), 0),
    null,
  );
  assert.match(
    said("10.0.9.1/28"),
    / no DHCP lease \(the first lease 10\.0\.9\.15 is past the network's last host 10\.0\.9\.14\)$/,
  );
});

Deno.test("the status line's first lease skips a static host reserved after the start, as DHCP does (a lab's reserveStatics)", () => {
  const t = testStack(slirpConfigFromFlags({ host: "10.0.2.2/24" }));
  assert.match(t.stack.describe()[0]!, / first lease 10\.0\.2\.15$/);
  t.stack.dhcp.reserve([0x0a00020f]); // a lab host given 10.0.2.15 statically
  assert.equal(formatIpv4(t.stack.dhcp.handle(request(1, DHCP_MSG.DISCOVER), 0)!.spec.yiaddr!), "10.0.2.16");
  assert.match(t.stack.describe()[0]!, / first lease 10\.0\.2\.16$/);
});
