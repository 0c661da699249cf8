/**
 * Adversarial input families shared by the parser cost tests (test/wire)
 * and the slirp stack's (test/slirp/fuzz.test.ts): each builder returns a
 * typical input and the hostile ones of exactly the same size.
 */
import { BOOTP_FIXED, buildDhcp, DHCP_MSG, DHCP_OPT, MAX_DHCP_OPTIONS } from "../../src/wire/dhcp.ts";
import { buildDnsMessage, DNS_HLEN } from "../../src/wire/dns.ts";

const MAC = new Uint8Array([2, 0, 0, 0, 0, 9]);

/** A DHCP request of exactly `size` bytes: the fixed part, then `options` raw bytes, END, then pads. */
function dhcpOf(size: number, options: number[]): Uint8Array {
  const b = buildDhcp({ op: 1, xid: 1, chaddr: MAC, options: [] }).slice(0, BOOTP_FIXED + 4);
  const out = new Uint8Array(size);
  out.set(b);
  out.set(options.slice(0, size - b.length - 1), b.length);
  out[Math.min(b.length + options.length, size - 1)] = DHCP_OPT.END;
  return out;
}

/** DHCPDISCOVERs of `size` bytes: a typical one and the option bombs. */
export function dhcpFamily(size: number): {
  typical: Uint8Array;
  bomb: Uint8Array;
  most: Uint8Array;
  codes: Uint8Array;
} {
  const room = size - BOOTP_FIXED - 4 - 1;
  const common = [DHCP_OPT.MESSAGE_TYPE, 1, DHCP_MSG.DISCOVER, DHCP_OPT.PARAM_REQUEST, 4, 1, 3, 6, 15];
  // Typical: the usual options, then a long vendor value split in 255-byte pieces (RFC 3396).
  const typical: number[] = [...common];
  while (typical.length + 257 <= room) typical.push(43, 255, ...new Array(255).fill(7));
  // The bomb of the issue: option 12 repeated until the message is full.
  const bomb: number[] = [...common];
  while (bomb.length + 3 <= room) bomb.push(DHCP_OPT.HOSTNAME, 1, 0x41);
  // The most options accepted, each a one-byte piece of the same code, the rest pads.
  const most: number[] = [...common];
  while ((most.length - common.length) / 3 < MAX_DHCP_OPTIONS - 2) most.push(DHCP_OPT.HOSTNAME, 1, 0x41);
  // Every code once, with empty values.
  const codes: number[] = [...common];
  for (let c = 1; c < 255; c++) if (c !== 53 && c !== 55) codes.push(c, 0);
  return {
    typical: dhcpOf(size, typical),
    bomb: dhcpOf(size, bomb),
    most: dhcpOf(size, most),
    codes: dhcpOf(size, codes),
  };
}

/** A DNS message of `size` bytes from a header, `body` and trailing zero bytes (the count fields say how much is read). */
function dnsOf(size: number, qdcount: number, body: number[]): Uint8Array {
  const b = new Uint8Array(size);
  b[5] = qdcount & 0xff;
  b[4] = qdcount >> 8;
  b.set(body.slice(0, size - DNS_HLEN), DNS_HLEN);
  return b;
}

/**
 * DNS queries of `size` bytes: a typical one (`typicalLength` bytes of
 * questions, zeros after) and two whose names are compression pointers.
 */
export function dnsFamily(size: number): {
  typical: Uint8Array;
  typicalLength: number;
  spread: Uint8Array;
  chain: Uint8Array;
} {
  // Typical: questions for ordinary names, uncompressed.
  const names = ["www.example.org", "mail.example.com", "a-longer-host-name.department.example.net"];
  const questions: { name: string; type: number }[] = [];
  let used = DNS_HLEN;
  for (let i = 0; used + 60 < size; i++) {
    const name = `${i}.${names[i % names.length]!}`;
    questions.push({ name, type: 1 });
    used += name.length + 2 + 4;
  }
  const typical = new Uint8Array(size);
  const built = buildDnsMessage({ id: 1, questions });
  typical.set(built);
  // Spread: one name of 127 one-byte labels, then questions that point to every label of it in turn.
  const longName: number[] = [];
  for (let i = 0; i < 127; i++) longName.push(1, 0x61);
  longName.push(0);
  const body1: number[] = [...longName, 0, 1, 0, 1];
  let q1 = 1;
  for (let i = 0; body1.length + 6 <= size - DNS_HLEN; i++, q1++) {
    const target = DNS_HLEN + 2 * (i % 127);
    body1.push(0xc0 | (target >> 8), target & 0xff, 0, 1, 0, 1);
  }
  // Chain: 32 pointers, each to the one before, ending in the long name; questions point to the chain's end.
  const body2: number[] = [...longName, 0, 1, 0, 1];
  let prev = DNS_HLEN;
  for (let i = 0; i < 31; i++) {
    const here = DNS_HLEN + body2.length;
    body2.push(0xc0 | (prev >> 8), prev & 0xff, 0, 1, 0, 1);
    prev = here;
  }
  let q2 = 32;
  while (body2.length + 6 <= size - DNS_HLEN && q2 < 256) {
    body2.push(0xc0 | (prev >> 8), prev & 0xff, 0, 1, 0, 1);
    q2++;
  }
  return {
    typical,
    typicalLength: built.length,
    spread: dnsOf(size, Math.min(q1, 256), body1),
    chain: dnsOf(size, q2, body2),
  };
}
