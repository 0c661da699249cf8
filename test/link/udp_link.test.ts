/**
 * udp:// (spec 3.6) on loopback: parsing, the link conformance checks, and
 * vdeplug4's connection rules: datagrams from anyone until the first send,
 * then only from the destination, and a zero-length datagram undoes that.
 */
import assert from "node:assert/strict";
import { openLink } from "../../src/link/registry.ts";
import { openUdpLink, parseUdpVnl } from "../../src/link/udp_link.ts";
import { InetDgramSocket } from "../../src/io/inet_dgram.ts";
import { encodeSockaddr } from "../../src/io/sockaddr.ts";
import { ipLiteral } from "../../src/wire/ip_address.ts";
import { conformance } from "../helpers/link_conformance.ts";
import { collect, frame, sleep, tagOf, until } from "../cable/_helpers.ts";

Deno.test("parseUdpVnl reads vdeplug4's udp:// forms", () => {
  assert.deepEqual(parseUdpVnl("5000->10.0.0.2:5001"), {
    srcHost: "",
    srcPort: 5000,
    dstHost: "10.0.0.2",
    dstPort: 5001,
  });
  assert.deepEqual(parseUdpVnl("10.0.0.1:5000->10.0.0.2:5001"), {
    srcHost: "10.0.0.1",
    srcPort: 5000,
    dstHost: "10.0.0.2",
    dstPort: 5001,
  });
  assert.deepEqual(parseUdpVnl("::1:5000->fe80::2:5001"), {
    srcHost: "::1",
    srcPort: 5000,
    dstHost: "fe80::2",
    dstPort: 5001,
  });
  assert.deepEqual(parseUdpVnl("[::1]:5000->[::2]:5001").dstHost, "::2");
  for (const bad of ["5000", "5000->host", "x->h:1", "5000->:1", "70000->h:1"]) {
    assert.throws(() => parseUdpVnl(bad), /udp:\/\//, bad);
  }
});

Deno.test("a udp:// VNL whose -> the shell took for a redirection says to quote it", () => {
  assert.throws(
    () => parseUdpVnl("5000-"),
    new Error(
      `udp:// needs [SRC:]SRCPORT->DST:DSTPORT, got "5000-" (the shell took ">" for a redirection and wrote a file named after the destination: quote the VNL, 'udp://5000->DST:DSTPORT')`,
    ),
  );
});

let next = 0;
/** Two free-looking loopback ports for one test. */
function ports(): [number, number] {
  const base = 30000 + ((Deno.pid * 11 + next++ * 2) % 20000);
  return [base, base + 1];
}

conformance("udp://", async () => {
  const [p1, p2] = ports();
  const a = await openLink(`udp://127.0.0.1:${p1}->127.0.0.1:${p2}`);
  const b = await openLink(`udp://127.0.0.1:${p2}->127.0.0.1:${p1}`);
  return {
    a,
    b,
    closePropagates: false,
    cleanup: async () => {
      a.close();
      b.close();
      await Promise.all([a.closed, b.closed]);
    },
  };
});

Deno.test("udp:// takes anyone until it sends, then only its destination; an empty datagram resets that", async () => {
  const [p1, p2] = ports();
  const link = await openUdpLink(`127.0.0.1:${p1}->127.0.0.1:${p2}`);
  const lo = ipLiteral("127.0.0.1");
  const to = encodeSockaddr(lo, p1);
  const stranger = InetDgramSocket.create(4);
  const peer = InetDgramSocket.create(4);
  try {
    stranger.bind(lo, 0);
    peer.bind(lo, p2);
    const got = collect(link);
    assert.equal(stranger.sendTo(frame(9, 1, 1), to), 0);
    await until("the stranger's first frame", () => got.length === 1);
    link.send(frame(1, 2, 2)); // connects to the destination
    assert.equal(stranger.sendTo(frame(9, 1, 3), to), 0);
    assert.equal(peer.sendTo(frame(2, 1, 4), to), 0);
    await until("the peer's frame", () => got.length === 2);
    await sleep(100);
    assert.deepEqual(got.map(tagOf), [1, 4], "the stranger is ignored once connected");
    assert.equal(peer.sendTo(new Uint8Array(0), to), 0); // disconnect
    await sleep(100);
    assert.equal(stranger.sendTo(frame(9, 1, 5), to), 0);
    await until("the stranger again", () => got.length === 3);
    assert.equal(tagOf(got[2]!), 5);
  } finally {
    link.close();
    stranger.close();
    peer.close();
  }
});

Deno.test("udp:// refuses a busy source port and a mixed-family VNL", async () => {
  const [p1, p2] = ports();
  const a = await openUdpLink(`127.0.0.1:${p1}->127.0.0.1:${p2}`);
  try {
    await assert.rejects(
      () => openUdpLink(`127.0.0.1:${p1}->127.0.0.1:${p2}`),
      new RegExp(
        `^Error: udp:// cannot bind 127\\.0\\.0\\.1:${p1}: the port is taken on this host \\(another udp:// end\\?\\)`,
      ),
    );
    await assert.rejects(() => openUdpLink(`127.0.0.1:${p2}->[::1]:${p1}`), /different IP families/);
  } finally {
    a.close();
  }
});

Deno.test("udp:// drops a datagram larger than a frame, counts it, and takes the next one from its sender", async () => {
  const [p1, p2] = ports();
  const link = await openUdpLink(`127.0.0.1:${p1}->127.0.0.1:${p2}`);
  const lo = ipLiteral("127.0.0.1");
  const to = encodeSockaddr(lo, p1);
  const peer = InetDgramSocket.create(4);
  try {
    peer.bind(lo, p2);
    const got = collect(link);
    const huge = new Uint8Array(9400);
    huge.set(frame(2, 1, 7));
    assert.equal(peer.sendTo(huge, to), 0);
    assert.equal(peer.sendTo(frame(2, 1, 8), to), 0);
    await until("the frame after the oversize one", () => got.length === 1);
    assert.equal(tagOf(got[0]!), 8);
    assert.equal(link.stats.dropsIn, 1);
  } finally {
    peer.close();
    link.close();
  }
});
