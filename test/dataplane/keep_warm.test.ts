/**
 * The switch and plug threads keep warm while traffic is sparse but recent:
 * after a frame their wait times out every millisecond for a while (each a
 * short wait the thread counts), and once idle past that window they go back
 * to the wait they had before (a whole tick, or none), counting nothing
 * more: an idle thread costs no CPU. The counts are read, never timed.
 */
import assert from "node:assert/strict";
import { datagramPair, libc } from "../../ffi/libc.ts";
import { PlugThread } from "../../src/dataplane/plug_thread.ts";
import { SwitchThread } from "../../src/dataplane/switch_thread.ts";
import { sharedEngineState } from "../../src/switch/engine.ts";
import { BROADCAST, ethFrame, mac, sleep, threadWarmed, until } from "../helpers/vde_clients.ts";
import { QUIET_SINK } from "./_quiet_sink.ts";

/** Longer than the threads' window (150 ms) and than any wait a warm thread takes. */
const QUIET_MS = 400;
/** Longer than the switch thread's idle wait (its tick, a second). */
const IDLE_MS = 1500;

function pair(): [number, number] {
  const fds = datagramPair();
  assert.ok(fds !== null, "a datagram pair");
  return fds;
}

/** Resolves with the count once it stopped moving for QUIET_MS (the thread went back to its idle wait). */
async function quiet(count: () => number): Promise<number> {
  let last = count();
  await until("the thread to stop its short waits", async () => {
    await sleep(QUIET_MS);
    const now = count();
    const still = now === last;
    last = now;
    return still;
  }, 20_000);
  return last;
}

/** Sends a frame into `from` and waits until `to` has it. */
async function crosses(from: number, to: number): Promise<void> {
  const f = ethFrame(BROADCAST, mac(0xa), 1);
  assert.equal(libc().write(from, f, f.length), f.length);
  const buf = new Uint8Array(2048);
  await until("the frame to cross", () => libc().read(to, buf, buf.length) > 0, 20_000);
}

/** What both threads must do, given a thread that forwards from `from` to `to` and its count. */
async function keepsWarmThenIdles(count: () => number, from: number, to: number): Promise<void> {
  const idle = await quiet(count);
  await crosses(from, to);
  await until("short waits after a frame", () => count() > idle, 20_000);
  const after = await quiet(count);
  await sleep(IDLE_MS);
  assert.equal(count(), after, "idle, the thread takes no short wait");
  // And a frame later warms it again.
  await crosses(from, to);
  await until("short waits after the next frame", () => count() > after, 20_000);
}

Deno.test("an idle switch thread returns to its tick-long wait once a frame's keep-warm window is over", async () => {
  const [a, peerA] = pair();
  const [b, peerB] = pair();
  const thread = new SwitchThread({ numPorts: 4, hashSeed: 1 }, sharedEngineState(), QUIET_SINK);
  try {
    thread.addFd(1, a, "dgram");
    thread.addFd(2, b, "dgram");
    for (const port of [1, 2]) thread.command({ op: "call", method: "activatePort", args: [port] });
    assert.notEqual(await threadWarmed(thread), null, "the thread warmed");
    await keepsWarmThenIdles(() => thread.warmWaits, peerA, peerB);
    await thread.removeFd(a);
    await thread.removeFd(b);
  } finally {
    await thread.stop();
    for (const fd of [peerA, peerB]) libc().close(fd);
  }
  // Only once the thread let go of them (a thread that never answered keeps them: see WorkerHandle).
  for (const fd of [a, b]) libc().close(fd);
});

Deno.test("an idle plug thread returns to a wait without a timeout once a frame's keep-warm window is over", async () => {
  const [a, peerA] = pair();
  const [b, peerB] = pair();
  const thread = new PlugThread({ fd: a, kind: "dgram", name: "a" }, { fd: b, kind: "dgram", name: "b" });
  try {
    await keepsWarmThenIdles(() => thread.warmWaits, peerA, peerB);
  } finally {
    await thread.stop();
    await thread.released;
    for (const fd of [a, peerA, b, peerB]) libc().close(fd);
  }
});
