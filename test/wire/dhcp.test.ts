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
import { reasonOf, valueOf } from "../helpers/parsed.ts";

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
  const m = valueOf(parseDhcp(b));
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
  assert.match(reasonOf(parseDhcp(lying)), /runs past the end/);
  const cut = b.slice(0, BOOTP_FIXED + 4 + 1);
  assert.match(reasonOf(parseDhcp(cut)), /cut short/);
  const noEnd = b.slice(0, BOOTP_FIXED + 4 + 3);
  assert.match(reasonOf(parseDhcp(noEnd)), /end marker/);
  const badType = request([[DHCP_OPT.MESSAGE_TYPE, new Uint8Array([1, 2])]]);
  assert.match(reasonOf(parseDhcp(badType)), /one byte/);
  const cookie = b.slice();
  cookie[BOOTP_FIXED] = 0;
  assert.match(reasonOf(parseDhcp(cookie)), /cookie/);
  const hlen = b.slice();
  hlen[2] = 17;
  assert.match(reasonOf(parseDhcp(hlen)), /hardware address length/);
  assert.match(reasonOf(parseDhcp(new Uint8Array(100))), /shorter/);
});

Deno.test("domainSearchOption encodes RFC 3397 names", () => {
  const v = domainSearchOption(["lan", "example.org"]);
  const first = valueOf(readDnsName(v, 0, 0, v.length));
  assert.equal(first.name, "lan");
  const second = valueOf(readDnsName(v, 0, first.next, v.length));
  assert.equal(second.name, "example.org");
});
