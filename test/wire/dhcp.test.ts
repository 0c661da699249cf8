import assert from "node:assert/strict";
import {
  BOOTP_FIXED,
  buildDhcp,
  DHCP_MSG,
  DHCP_OPT,
  dhcpU32,
  domainSearchOption,
  parseDhcp,
  u32Option,
} from "../../src/wire/dhcp.ts";
import { readDnsName } from "../../src/wire/dns.ts";

const MAC = new Uint8Array([2, 0, 0, 0, 0, 9]);

function request(options: [number, Uint8Array][]): Uint8Array {
  const b = buildDhcp({ op: 1, xid: 0xabcdef01, chaddr: MAC, options });
  return b;
}

Deno.test("buildDhcp and parseDhcp round-trip options, long ones split and joined", () => {
  const long = new Uint8Array(300).fill(7);
  const b = request([
    [DHCP_OPT.MESSAGE_TYPE, new Uint8Array([DHCP_MSG.DISCOVER])],
    [DHCP_OPT.REQUESTED_IP, u32Option(0x0a00020f)],
    [DHCP_OPT.DOMAIN_SEARCH, long],
  ]);
  const m = parseDhcp(b);
  assert.ok(typeof m !== "string", String(m));
  assert.equal(m.op, 1);
  assert.equal(m.xid, 0xabcdef01);
  assert.equal(m.messageType, DHCP_MSG.DISCOVER);
  assert.equal(dhcpU32(m, DHCP_OPT.REQUESTED_IP), 0x0a00020f);
  assert.deepEqual(m.options.get(DHCP_OPT.DOMAIN_SEARCH), long);
  assert.deepEqual(m.chaddr.subarray(0, 6), MAC);
});

Deno.test("parseDhcp refuses option lengths that lie and other hostile input", () => {
  const b = request([[DHCP_OPT.MESSAGE_TYPE, new Uint8Array([DHCP_MSG.REQUEST])]]);
  // The message type option's length byte says 200: past the end.
  const lying = b.slice(0, BOOTP_FIXED + 4 + 3);
  lying[BOOTP_FIXED + 5] = 200;
  assert.match(parseDhcp(lying) as string, /runs past the end/);
  const cut = b.slice(0, BOOTP_FIXED + 4 + 1);
  assert.match(parseDhcp(cut) as string, /cut short/);
  const noEnd = b.slice(0, BOOTP_FIXED + 4 + 3);
  assert.match(parseDhcp(noEnd) as string, /end marker/);
  const badType = request([[DHCP_OPT.MESSAGE_TYPE, new Uint8Array([1, 2])]]);
  assert.match(parseDhcp(badType) as string, /one byte/);
  const cookie = b.slice();
  cookie[BOOTP_FIXED] = 0;
  assert.match(parseDhcp(cookie) as string, /cookie/);
  const hlen = b.slice();
  hlen[2] = 17;
  assert.match(parseDhcp(hlen) as string, /hardware address length/);
  assert.match(parseDhcp(new Uint8Array(100)) as string, /shorter/);
});

Deno.test("domainSearchOption encodes RFC 3397 names", () => {
  const v = domainSearchOption(["lan", "example.org"]);
  const first = readDnsName(v, 0, 0, v.length);
  assert.ok(typeof first !== "string");
  assert.equal(first.name, "lan");
  const second = readDnsName(v, 0, first.next, v.length);
  assert.ok(typeof second !== "string");
  assert.equal(second.name, "example.org");
});
