/**
 * The slirp link's flow control wiring: while the link its frames feed is
 * congested, the stack's TCP holds new data; the peer's drain resumes it.
 * (The TCP side of this is pinned in test/slirp/tcp_engine.test.ts.)
 */
import assert from "node:assert/strict";
import { openSlirpLink } from "../../src/link/slirp_link.ts";
import { parseForward, parseSlirpOptions } from "../../src/slirp/config.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { poller } from "../../src/io/poller.ts";
import dgram from "node:dgram";
import { until } from "../helpers/vde_clients.ts";

Deno.test("forwards from host port 0 listen on ports the kernel picks, which the log and the forward list name", async () => {
  const lines: string[] = [];
  const options = "/tcpfwd=127.0.0.1:0:80/udpfwd=127.0.0.1:0:53/restricted";
  const link = await openSlirpLink(parseSlirpOptions(options), { log: (m) => lines.push(m) });
  try {
    const logged = (proto: string) => {
      const ports = lines.map((l) =>
        new RegExp(`^forward ${proto}:127\\.0\\.0\\.1:(\\d+):10\\.0\\.2\\.15:`).exec(l)
      )
        .filter((m) => m !== null).map((m) => Number(m[1]));
      assert.equal(ports.length, 1, lines.join("\n"));
      assert.notEqual(ports[0], 0);
      return ports[0]!;
    };
    const tcp = logged("tcp");
    const udp = logged("udp");
    assert.deepEqual(link.stack.forwards().map((f) => `${f.proto} ${f.hostPort}`), [
      `tcp ${tcp}`,
      `udp ${udp}`,
    ]);
    (await Deno.connect({ hostname: "127.0.0.1", port: tcp })).close();
    // A datagram to the UDP forward becomes one to the guest, whose MAC the stack asks for first.
    const out: Uint8Array[] = [];
    link.onFrame = (f) => out.push(f.slice());
    const client = dgram.createSocket("udp4");
    await new Promise((sent) => client.send(new Uint8Array([1]), udp, "127.0.0.1", sent));
    client.close();
    // (For 10.0.2.15, the ARP target's last byte: not a probe for the gateway.)
    await until(
      "an ARP request for the guest",
      () => out.some((f) => f[12] === 0x08 && f[13] === 0x06 && f[41] === 15),
    );
    // At run time (the console's slirp/forward add) too, and it is removed by the port it got.
    const added = await link.stack.addForward(parseForward("tcp:127.0.0.1:0:81", link.stack.config));
    assert.notEqual(added.hostPort, 0);
    (await Deno.connect({ hostname: "127.0.0.1", port: added.hostPort })).close();
    assert.equal(await link.stack.removeForward(added), true);
  } finally {
    link.close();
  }
});

Deno.test("a slirp link follows the congestion of the link it feeds and unhooks on close", async () => {
  const link = await openSlirpLink(parseSlirpOptions("/restricted"), { log: () => {} });
  try {
    const peer = new MemoryLink("flow peer");
    assert.equal(link.stack.congested(), false);
    link.feeds(peer);
    assert.ok(peer.onDrain !== null, "the slirp waits for the peer's drain");
    peer.congested = true;
    assert.equal(link.stack.congested(), true);
    peer.congested = false;
    assert.equal(link.stack.congested(), false);
    peer.onDrain!();
    link.feeds(null);
    assert.equal(peer.onDrain, null);
    peer.congested = true;
    assert.equal(link.stack.congested(), false, "an unplugged slirp is never held back");
    link.feeds(peer);
    link.close();
    assert.equal(peer.onDrain, null, "closing unhooks the slirp from its peer");
  } finally {
    link.close();
    await poller().stop();
  }
});

Deno.test("a slirp link plugged into a peer probes there for its gateway: an ARP probe and a DAD solicitation", async () => {
  const link = await openSlirpLink(parseSlirpOptions("/restricted"), { log: () => {} });
  const peer = new MemoryLink("switch");
  try {
    link.onFrame = (f) => peer.send(f);
    link.feeds(peer);
    const arpProbe = (f: Uint8Array) => f[12] === 0x08 && f[13] === 0x06 && f[28] === 0 && f[41] === 2;
    const dad = (f: Uint8Array) => f[12] === 0x86 && f[13] === 0xdd && f[54] === 135 && f[22] === 0;
    await until("an ARP probe and a DAD solicitation", () => peer.sent.some(arpProbe) && peer.sent.some(dad));
  } finally {
    link.close();
  }
});
