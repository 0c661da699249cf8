/**
 * The Linux bridge's snooping knobs on the virtual clock: each one set
 * (`setOption`, in milliseconds) is honoured where the kernel's is, and a
 * fast-leave port's leave ends its membership at once; the knob table
 * reads values in the bridge's units and refuses values outside its ranges.
 */
import assert from "node:assert/strict";
import { McastSnooping } from "../../src/switch/mcast_snooping.ts";
import { knobRange, knobValue, MCAST_KNOBS, parseKnob } from "../../src/switch/mcast_knobs.ts";
import { parseGroupMessage } from "../../src/wire/igmp.ts";
import { igmp, igmpQueryFrom } from "../helpers/igmp.ts";

const MAC = new Uint8Array([0, 0xff, 1, 2, 3, 4]);
const G = [239, 1, 1, 1];
const knob = (name: string) => MCAST_KNOBS.find((k) => k.name === name)!;

/** The IGMP queries `tick(nowMs)` sends: "general" or the group's text, in order. */
function igmpQueries(snoop: McastSnooping, nowMs: number): string[] {
  return snoop.tick(nowMs).filter((q) => q.frame[12] === 0x08).map((q) => {
    const m = parseGroupMessage(q.frame);
    if (m.type !== "ok" || m.events[0]?.kind !== "query") throw new Error("not a query");
    return m.events[0].group ?? "general";
  });
}

/** The times in [0, endMs] (every 100 ms) at which our querier sent an IGMP general query. */
function generalQueryTimes(snoop: McastSnooping, endMs: number): number[] {
  const at: number[] = [];
  for (let t = 0; t <= endMs; t += 100) if (igmpQueries(snoop, t).includes("general")) at.push(t);
  return at;
}

Deno.test("knobs read the bridge's units (centiseconds for intervals) and refuse values outside their ranges", () => {
  assert.equal(parseKnob(knob("mcast_query_interval"), "12500"), 125_000);
  assert.equal(parseKnob(knob("mcast_query_interval"), "99"), undefined, "below the kernel's 1 s");
  assert.equal(parseKnob(knob("mcast_query_interval"), "8640001"), undefined, "past the kernel's day");
  assert.equal(parseKnob(knob("mcast_last_member_count"), "0"), undefined, "the bridge's >= 1");
  assert.equal(parseKnob(knob("mcast_last_member_count"), "3"), 3);
  assert.equal(
    parseKnob(knob("mcast_query_response_interval"), "2551"),
    undefined,
    "IGMPv2's byte of tenths",
  );
  for (const bad of ["", "-1", "1.5", "1e3", "12 13", "0x10"]) {
    assert.equal(parseKnob(knob("mcast_hash_max"), bad), undefined, bad);
  }
  assert.equal(
    knobRange(knob("mcast_query_interval")),
    "100-8640000 centiseconds (1/100 s, as ip link's mcast_query_interval)",
  );
  const defaults = new McastSnooping(MAC).settings.options;
  assert.deepEqual(
    MCAST_KNOBS.map((k) => `${k.name} ${knobValue(k, defaults)}`),
    [
      "mcast_hash_max 4096",
      "mcast_last_member_count 2",
      "mcast_startup_query_count 2",
      "mcast_last_member_interval 100",
      "mcast_membership_interval 26000",
      "mcast_querier_interval 25500",
      "mcast_query_interval 12500",
      "mcast_query_response_interval 1000",
      "mcast_startup_query_interval 3125",
    ],
    "the kernel's defaults, as ip -d link show prints them",
  );
});

Deno.test("startup_query_count, startup_query_interval and query_interval set when our querier sends its general queries", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setOption("startupQueryCount", 3);
  snoop.setOption("startupQueryMs", 2000);
  snoop.setOption("queryIntervalMs", 5000);
  snoop.setQuerier(true);
  assert.deepEqual(generalQueryTimes(snoop, 20_000), [0, 2000, 4000, 9000, 14_000, 19_000]);
});

Deno.test("query_response_interval is the max response our queries ask for and how long ours waits before it governs forwarding", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setOption("queryResponseMs", 5000);
  snoop.setQuerier(true);
  const first = snoop.tick(0).find((q) => q.frame[12] === 0x08)!;
  assert.equal(first.frame[14 + 24 + 1], 50, "IGMPv2 max response code in tenths of a second");
  snoop.tick(4900);
  assert.equal(snoop.querierState().ipv4, false);
  snoop.tick(5000);
  assert.equal(snoop.querierState().ipv4, true);
});

Deno.test("membership_interval ends a membership that long after its last report", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setOption("membershipMs", 3000);
  snoop.tick(1000);
  snoop.observe(2, 0, igmp(0x16, G));
  snoop.tick(3900);
  assert.equal(snoop.groups().length, 1);
  snoop.tick(4000);
  assert.equal(snoop.groups().length, 0);
});

Deno.test("querier_interval ends another querier's term and its port's router status that long after its last general query", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setOption("otherQuerierMs", 8000);
  snoop.tick(1000);
  snoop.observe(3, 0, igmpQueryFrom([10, 0, 0, 1]));
  snoop.tick(8900);
  assert.deepEqual(snoop.queriers().map((q) => [q.address, q.port]), [["10.0.0.1", 3]]);
  assert.deepEqual(snoop.routers().map((r) => r.port), [3]);
  snoop.tick(9000);
  assert.deepEqual(snoop.queriers(), []);
  assert.deepEqual(snoop.routers(), []);
  snoop.observe(4, 0, igmpQueryFrom([10, 0, 0, 9]));
  assert.deepEqual(snoop.queriers().map((q) => [q.address, q.port]), [["10.0.0.9", 4]], "the next is taken");
});

Deno.test("last_member_count and last_member_interval: a leave gets that many group-specific queries that far apart, and the member ends after them", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setOption("lastMemberCount", 3);
  snoop.setOption("lastMemberMs", 500);
  snoop.setQuerier(true);
  snoop.tick(0);
  snoop.observe(2, 0, igmp(0x16, G));
  snoop.tick(20_000);
  snoop.observe(2, 0, igmp(0x17, G));
  const sent: [number, string[]][] = [];
  for (let t = 20_000; t <= 21_600; t += 100) {
    const q = igmpQueries(snoop, t);
    if (q.length > 0) sent.push([t, q]);
    if (t === 21_400) assert.equal(snoop.groups().length, 1, "still a member before 3 x 500 ms");
  }
  assert.deepEqual(sent, [[20_000, ["239.1.1.1"]], [20_500, ["239.1.1.1"]], [21_000, ["239.1.1.1"]]]);
  assert.equal(snoop.groups().length, 0);
});

Deno.test("hash_max bounds the memberships held: past it a report is counted as table-full; lowered, the ones held stay", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setOption("maxGroups", 2);
  for (const last of [1, 2, 3]) snoop.observe(2, 0, igmp(0x16, [239, 1, 1, last]));
  assert.equal(snoop.groups().length, 2);
  assert.equal(snoop.counters.tableFull, 1);
  snoop.setOption("maxGroups", 1);
  assert.equal(snoop.groups().length, 2);
  snoop.observe(3, 0, igmp(0x16, G));
  assert.equal(snoop.counters.tableFull, 2);
});

Deno.test("a fast-leave port's leave ends its membership at once with no group-specific query, ours the querier or another; other ports' leaves wait", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setQuerier(true);
  snoop.tick(0);
  snoop.setFastLeave(2, true);
  assert.deepEqual(snoop.fastLeavePorts(), [2]);
  for (const port of [2, 3]) snoop.observe(port, 0, igmp(0x16, G));
  snoop.tick(60_000);
  snoop.observe(2, 0, igmp(0x17, G));
  assert.deepEqual(snoop.groups().map((g) => g.port), [3], "port 2's membership ended at once");
  assert.deepEqual(igmpQueries(snoop, 60_000), [], "no group-specific query");
  snoop.observe(3, 0, igmp(0x17, G));
  assert.deepEqual(snoop.groups().map((g) => g.port), [3], "port 3 waits for the last-member queries");
  // Another querier current, ours off: the kernel still ends a fast-leave port's membership.
  const other = new McastSnooping(MAC);
  other.setFastLeave(2, true);
  other.observe(1, 0, igmpQueryFrom([10, 0, 0, 1]));
  other.observe(2, 0, igmp(0x16, G));
  other.observe(2, 0, igmp(0x17, G));
  assert.deepEqual(other.groups(), []);
  other.setFastLeave(2, false);
  assert.deepEqual(other.fastLeavePorts(), []);
});
