/**
 * The slirp DHCP server's pool under pressure (its search resumes where it
 * stopped and its expiry stops at the first live lease, so a flood of
 * clients costs each request little): a full pool answers no OFFER, a freed
 * address is offered next, expired leases free their addresses.
 */
import assert from "node:assert/strict";
import {
  DhcpServer,
  LEASE_SECONDS,
  OFFER_HOLD_MS,
  PROBE_WAIT_MS,
  SILENT_LEASE_MS,
  UNUSED_LEASE_MS,
} from "../../src/slirp/dhcp_server.ts";
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

/**
 * A /28 server whose `seenAt` reads `seen` (address to the clock of its last frame), logging to `said`;
 * the addresses it probes by ARP are pushed to `probed`.
 */
function watchedServer(seen: Map<number, number>, said: string[] = [], probed: number[] = []): DhcpServer {
  return new DhcpServer(
    { ...defaultConfig(), prefixLength: 28, dhcpStart: 0x0a000205 },
    () => null,
    (m) => said.push(m),
    (a) => seen.get(a) ?? -Infinity,
    (a) => probed.push(a),
  );
}

function typeOf(r: ReturnType<DhcpServer["handle"]>): number | undefined {
  return r === null ? undefined : valueOf(parseDhcp(buildDhcp(r.spec))).messageType;
}

Deno.test("DHCP OFFER holds its address for seconds: a second client is offered another, and a fake-MAC DISCOVER flood's hold ends", () => {
  const s = smallServer();
  const first = s.handle(request(1, DHCP_MSG.DISCOVER), 1000)!.spec.yiaddr!;
  const second = s.handle(request(2, DHCP_MSG.DISCOVER), 1000)!.spec.yiaddr!;
  assert.notEqual(second, first, "an address offered to client 1 is not offered to client 2 meanwhile");
  assert.equal(
    s.handle(request(1, DHCP_MSG.DISCOVER), 2000)!.spec.yiaddr,
    first,
    "a repeated DISCOVER: same offer",
  );
  assert.equal(typeOf(s.handle(request(1, DHCP_MSG.REQUEST, first), 2000)), DHCP_MSG.ACK);
  // Client 2 takes another server's offer: its hold ends, and the next client is offered that address.
  const elsewhere = request(2, DHCP_MSG.REQUEST, 0x0a000909);
  elsewhere.options.set(DHCP_OPT.SERVER_ID, u32Option(0x0a000909));
  assert.equal(s.handle(elsewhere, 2000), null);
  assert.equal(s.handle(request(3, DHCP_MSG.DISCOVER), 2000)!.spec.yiaddr, second);
  // A flood of DISCOVERs from 100 fake MACs holds the other nine addresses, for OFFER_HOLD_MS only.
  for (let c = 100; c < 200; c++) s.handle(request(c, DHCP_MSG.DISCOVER), 3000);
  assert.equal(s.leases().length, 1, "offers are not leases");
  const later = 3000 + OFFER_HOLD_MS + 1;
  for (let c = 20; c < 29; c++) {
    assert.notEqual(lease(s, c, later), null, `client ${c} leases after the holds end`);
  }
  assert.equal(lease(s, 29, later), null, "ten leases: full");
});

Deno.test("DHCP full of offers: a new client takes the oldest offer, so a DISCOVER flood never locks a guest out", () => {
  const s = smallServer();
  for (let c = 100; c < 150; c++) s.handle(request(c, DHCP_MSG.DISCOVER), 1000 + c);
  assert.notEqual(lease(s, 1, 1200), null, "a real guest still gets a lease in the flood");
  assert.deepEqual(s.leases().map((l) => l.mac), ["02:00:00:00:01:01"]);
});

Deno.test("DHCP full of offers: a DISCOVER flood that takes a guest's offer before its REQUEST does not get it NAKed", () => {
  const s = smallServer();
  for (let c = 100; c < 110; c++) s.handle(request(c, DHCP_MSG.DISCOVER), 1000);
  const offered = s.handle(request(1, DHCP_MSG.DISCOVER), 1001)!.spec.yiaddr!;
  // Ten more fake DISCOVERs, between the guest's OFFER and its REQUEST, each take the oldest offer: the
  // guest's too.
  for (let c = 110; c < 120; c++) s.handle(request(c, DHCP_MSG.DISCOVER), 1002);
  assert.equal(typeOf(s.handle(request(1, DHCP_MSG.REQUEST, offered), 1003)), DHCP_MSG.ACK);
  assert.equal(s.leaseOf("02:00:00:00:01:01"), offered);
  // The fake client it was offered to since holds it no more: no client is offered it again.
  for (let c = 110; c < 130; c++) {
    assert.notEqual(s.handle(request(c, DHCP_MSG.DISCOVER), 1004)?.spec.yiaddr, offered);
  }
});

Deno.test("DHCP full of fake-MAC leases: a new client takes the least recently granted one no frame came from, once UNUSED_LEASE_MS passed", () => {
  const seen = new Map<number, number>();
  const said: string[] = [];
  const probed: number[] = [];
  const s = watchedServer(seen, said, probed);
  // Two real guests, then a REQUEST flood from fake MACs takes the other eight addresses.
  assert.equal(lease(s, 1, 1000), 0x0a000205);
  assert.equal(lease(s, 2, 1000), 0x0a000206);
  for (let c = 100; c < 108; c++) assert.notEqual(lease(s, c, 2000 + c), null);
  assert.equal(lease(s, 3, 3000), null, "full, and every fake lease is young");
  // Guest 1 sends traffic; guest 2 renews its lease.
  seen.set(0x0a000205, 5000);
  assert.equal(typeOf(s.handle(request(2, DHCP_MSG.REQUEST, 0x0a000206), 20_000)), DHCP_MSG.ACK);
  // The first DISCOVER past UNUSED_LEASE_MS asks by ARP for the fake leases' addresses (not guest 1's,
  // seen; guest 2's is young again); the next, PROBE_WAIT_MS on, takes one that did not answer.
  assert.equal(lease(s, 3, 2107 + UNUSED_LEASE_MS), null, "no offer while the addresses are asked for");
  assert.deepEqual(probed, [7, 8, 9, 10, 11, 12, 13, 14].map((h) => 0x0a000200 + h));
  const t = 2107 + UNUSED_LEASE_MS + PROBE_WAIT_MS;
  assert.equal(lease(s, 3, t), 0x0a000207, "the least recently granted fake lease (client 100's) goes first");
  assert.equal(s.leaseOf("02:00:00:00:01:64"), undefined);
  assert.equal(typeOf(s.handle(request(100, DHCP_MSG.REQUEST, 0x0a000207), t)), DHCP_MSG.NAK);
  for (let c = 4; c < 11; c++) assert.notEqual(lease(s, c, t), null);
  assert.equal(lease(s, 11, t), null, "every fake lease is gone; the real guests' remain");
  assert.equal(s.leaseOf("02:00:00:00:01:01"), 0x0a000205, "guest 1 (its traffic seen) keeps its address");
  assert.equal(s.leaseOf("02:00:00:00:01:02"), 0x0a000206, "guest 2 (renewed) keeps its address");
  assert.deepEqual(said.filter((l) => l.startsWith("DHCP: pool full")), [
    "DHCP: pool full: 10.0.2.7, leased to 02:00:00:00:01:64 (no frame from it in the 31 s since its lease, " +
    "no answer to ARP), " +
    "goes to 02:00:00:00:01:03",
  ], "said once, then at most once a minute");
});

Deno.test("DHCP full: a lease whose address carried frames is given away only after SILENT_LEASE_MS without a frame or renewal, and an ARP request it left unanswered", () => {
  const seen = new Map<number, number>();
  const probed: number[] = [];
  const s = watchedServer(seen, [], probed);
  for (let c = 1; c <= 10; c++) {
    assert.notEqual(lease(s, c, 1000), null);
    seen.set(0x0a000204 + c, 1500);
  }
  assert.equal(lease(s, 11, 1000 + UNUSED_LEASE_MS * 2), null, "every lease carried frames: kept");
  seen.set(0x0a000205, 60_000);
  assert.equal(lease(s, 11, 1500 + SILENT_LEASE_MS - 1), null, "silent not quite long enough");
  assert.deepEqual(probed, []);
  const t = 1500 + SILENT_LEASE_MS;
  assert.equal(lease(s, 11, t), null, "silent long enough: first asked for by ARP");
  assert.equal(probed.length, 8, "at most eight ARP requests for one DISCOVER");
  assert.equal(probed[0], 0x0a000206, "client 2's address, silent longest, is asked for first");
  // Client 2's host answers: it is alive, only quiet. Client 3's does not.
  seen.set(0x0a000206, t);
  assert.equal(lease(s, 11, t + PROBE_WAIT_MS - 1), null, "an ARP request not yet answered for long enough");
  assert.equal(
    lease(s, 11, t + PROBE_WAIT_MS),
    0x0a000207,
    "client 3's, silent and not answering (client 2's answered; client 1's address carried a frame later)",
  );
  assert.equal(s.leaseOf("02:00:00:00:01:02"), 0x0a000206);
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
