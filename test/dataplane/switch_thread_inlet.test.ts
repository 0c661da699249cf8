/**
 * Flow control from the switch thread's ring to a main-thread link: a link
 * that can hold its output back (it implements `feeds`, as a slirp does) is
 * handed the way into ringIn when it joins a threaded switch, reads it as
 * congested while the ring is backed up, is told once when there is room,
 * and is unhooked when it leaves or the switch closes.
 */
import assert from "node:assert/strict";
import { CongestionWatch, type FlowPeer } from "../../src/link/link.ts";
import { Switch } from "../../src/switch/switch.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { BROADCAST, ethFrame, mac, sleep, until } from "../helpers/vde_clients.ts";

/** A main-thread source that can wait: it watches where its frames go and counts the drains. */
class WaitingSource extends MemoryLink {
  readonly peers: (FlowPeer | null)[] = [];
  drains = 0;
  readonly watch = new CongestionWatch(() => this.drains++);

  feeds(peer: FlowPeer | null): void {
    this.peers.push(peer);
    this.watch.set(peer);
  }
}

Deno.test("a main-thread source reads the switch thread's full ring as congested and is told once when it drained", async () => {
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  try {
    const src = new WaitingSource("slirp-like");
    sw.attach(src, { port: 1 });
    assert.equal(src.peers.length, 1, "attach hands the source its way into the ring");
    assert.equal(src.watch.congested, false);
    // The thread is still starting (it reads no ring before its warm-up is over): the ring fills.
    const frame = ethFrame(BROADCAST, mac(0xa), 1, 1514);
    let sent = 0;
    while (!src.watch.congested && sent < 20_000) {
      src.receive(frame);
      sent++;
    }
    assert.ok(src.watch.congested, `still not congested after ${sent} full-size frames`);
    assert.ok(sent > 1000, `congested after only ${sent} frames`);
    assert.equal(sw.ringDrops, 0, "congestion comes well before the ring drops data");
    await until("the drain", () => src.drains > 0, 30_000);
    assert.equal(src.watch.congested, false, "room again once drained");
    await sleep(50);
    assert.equal(src.drains, 1, "told once");
  } finally {
    await sw.close();
  }
});

Deno.test("a main-thread source is unhooked from the switch thread's ring when it leaves and when the switch closes", async () => {
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  const leaving = new WaitingSource("leaving");
  const staying = new WaitingSource("staying");
  try {
    sw.attach(leaving, { port: 1 });
    sw.attach(staying, { port: 2 });
    leaving.close("gone");
    await until("the port let go", () => leaving.peers.length === 2);
    assert.equal(leaving.peers[1], null);
  } finally {
    await sw.close();
  }
  assert.equal(staying.peers.at(-1), null, "the switch's close unhooks it");
});
