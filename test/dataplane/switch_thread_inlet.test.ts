/**
 * Flow control from the switch thread's ring to a main-thread link: a link
 * that can hold its output back (it implements `feeds`, as a slirp does) is
 * handed the way into ringIn when it joins a threaded switch, reads it as
 * congested while the ring is backed up, is told once when there is room,
 * and is unhooked when it leaves or the switch closes. A source that
 * cannot wait, refilling what the thread takes, does not keep it waiting.
 */
import assert from "node:assert/strict";
import { CongestionWatch, type FlowPeer } from "../../src/link/link.ts";
import { Switch } from "../../src/switch/switch.ts";
import { SWITCH_RING_BYTES, SwitchThread } from "../../src/dataplane/switch_thread.ts";
import { QUIET_SINK } from "./_quiet_sink.ts";
import { recordSize } from "../../src/dataplane/frame_ring.ts";
import { sharedEngineState } from "../../src/switch/engine.ts";
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

/** The puppet worker's channel: the test says when and how much of ringIn the "thread" takes. */
class Puppet {
  readonly #channel = new BroadcastChannel("switch-ring-puppet");
  readonly #replies: ((took: number) => void)[] = [];
  /** True once the puppet has the ring. */
  ready = false;

  constructor() {
    this.#channel.onmessage = (e: MessageEvent<{ took?: number; ready?: boolean }>) => {
      if (e.data.ready) this.ready = true;
      else this.#replies.shift()?.(e.data.took ?? -1);
    };
  }

  /** Frees `frames` frames of ringIn (once ready); resolves with how many there were. */
  take(frames: number): Promise<number> {
    return new Promise((resolve) => {
      this.#replies.push(resolve);
      this.#channel.postMessage({ take: frames });
    });
  }

  /** Stops `thread`, the puppet answering as a worker does. */
  async stop(thread: SwitchThread): Promise<void> {
    const stopping = thread.stop();
    this.#channel.postMessage({ stop: true });
    await stopping;
    this.#channel.close();
  }
}

Deno.test("a waiting source resumes once the thread has taken a quarter of the ring, though a source that cannot wait keeps it from half free", async () => {
  const puppet = new Puppet();
  const thread = new SwitchThread(
    { numPorts: 4, hashSeed: 1 },
    sharedEngineState(),
    QUIET_SINK,
    new URL("./_ring_puppet_worker.ts", import.meta.url),
  );
  try {
    await until("the puppet has the ring", () => puppet.ready, 30_000);
    const waiting = new WaitingSource("slirp-like");
    waiting.feeds(thread.inlet());
    const frame = ethFrame(BROADCAST, mac(0xa), 1, 1514);
    let sent = 0;
    while (!waiting.watch.congested && sent < 20_000) {
      thread.input(2, frame);
      sent++;
    }
    assert.ok(waiting.watch.congested, `not congested after ${sent} frames`);
    // An eighth of the ring, in frames: the thread takes a round's worth and the cable puts one back.
    const round = Math.floor(SWITCH_RING_BYTES / 8 / recordSize(frame.length));
    assert.equal(await puppet.take(Math.floor(round * 1.5)), Math.floor(round * 1.5));
    await sleep(30);
    assert.equal(waiting.drains, 0, "three sixteenths taken: not yet half free, and no quarter taken");
    for (let i = 0; i < round; i++) thread.input(3, frame);
    assert.equal(await puppet.take(round), round);
    // Still under half free (the cable refilled what was taken), but a quarter of the ring has moved.
    await until("the waiting source told to resume", () => waiting.drains > 0, 10_000);
    assert.equal(waiting.watch.congested, false);
    assert.equal(thread.ringDrops, 0);
    await sleep(30);
    assert.equal(waiting.drains, 1, "told once");
  } finally {
    await puppet.stop(thread);
  }
});
