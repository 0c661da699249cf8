/**
 * A data-plane worker that never answers its stop may still be inside a
 * system call on the fds it was lent: the plug, switch, receive and slirp threads
 * are terminated after their bound, but never hand those fds back to be
 * closed (their number could serve another file under the worker). A
 * worker that answers hands them back.
 */
import assert from "node:assert/strict";
import { PlugThread } from "../../src/dataplane/plug_thread.ts";
import { RxThread } from "../../src/dataplane/rx_thread.ts";
import { SlirpThread } from "../../src/dataplane/slirp_thread.ts";
import { parseSlirpOptions } from "../../src/slirp/config.ts";
import { SwitchThread } from "../../src/dataplane/switch_thread.ts";
import { QUIET_SINK } from "./_quiet_sink.ts";
import { sharedEngineState } from "../../src/switch/engine.ts";
import { datagramPair, libc } from "../../ffi/libc.ts";
import { settledAfter } from "../helpers/settled.ts";

const ignore = () => {};
const DEAF = new URL("./_deaf_worker.ts", import.meta.url);
const F_GETFD = 1;

const settles = (p: Promise<unknown>) => settledAfter(p, 50);

function pair(): [number, number] {
  const fds = datagramPair();
  assert.ok(fds !== null, "a datagram pair");
  return fds;
}

function closeAll(fds: number[]): void {
  for (const fd of fds) libc().close(fd);
}

Deno.test("a plug thread that never answers its stop never releases the fds lent to it", async () => {
  const [a, peerA] = pair();
  const [b, peerB] = pair();
  try {
    const thread = new PlugThread(
      { fd: a, kind: "dgram", name: "a" },
      { fd: b, kind: "dgram", name: "b" },
      DEAF,
    );
    await thread.stop();
    assert.equal(await settles(thread.released), false, "the fds stay lent");
  } finally {
    // The stand-in makes no system call: the test may close what it made.
    closeAll([a, peerA, b, peerB]);
  }
});

Deno.test("a plug thread that answers its stop releases the fds lent to it", async () => {
  const [a, peerA] = pair();
  const [b, peerB] = pair();
  try {
    const thread = new PlugThread({ fd: a, kind: "dgram", name: "a" }, { fd: b, kind: "dgram", name: "b" });
    await thread.stop();
    assert.equal(await settles(thread.released), true);
  } finally {
    closeAll([a, peerA, b, peerB]);
  }
});

Deno.test("a switch thread that never answers its stop releases neither a port fd being removed nor one it still had", async () => {
  const [kept, peerKept] = pair();
  const [removed, peerRemoved] = pair();
  try {
    const thread = new SwitchThread({ numPorts: 4, hashSeed: 1 }, sharedEngineState(), QUIET_SINK, DEAF);
    thread.addFd(1, kept, "dgram");
    thread.addFd(2, removed, "dgram");
    const removing = thread.removeFd(removed);
    await thread.stop();
    assert.equal(await settles(removing), false, "the fd being removed stays lent");
    assert.equal(await settles(thread.removeFd(kept)), false, "an fd removed after the stop stays lent");
  } finally {
    closeAll([kept, peerKept, removed, peerRemoved]);
  }
});

Deno.test("a receive thread that never answers its stop never releases its socket", async () => {
  const [fd, peer] = pair();
  try {
    const thread = new RxThread(fd, { frame: ignore, oversize: ignore, failed: ignore }, false, DEAF);
    await thread.stop();
    assert.equal(await settles(thread.released), false, "the socket stays lent");
    assert.ok(libc().fcntl(fd, F_GETFD, 0) >= 0, "and open");
  } finally {
    closeAll([fd, peer]);
  }
});

Deno.test("a slirp thread that never answers its stop never releases the switch's socket", async () => {
  const [fd, peer] = pair();
  try {
    const thread = new SlirpThread(parseSlirpOptions(""), fd, { file: DEAF });
    thread.ready.catch(ignore);
    await thread.stop();
    assert.equal(await settles(thread.released), false, "the socket stays lent");
    assert.ok(libc().fcntl(fd, F_GETFD, 0) >= 0, "and open");
  } finally {
    closeAll([fd, peer]);
  }
});

Deno.test("a slirp thread that answers its stop releases the switch's socket", async () => {
  const [fd, peer] = pair();
  try {
    const thread = new SlirpThread(parseSlirpOptions(""), fd, { resolvConf: "/nonexistent" });
    await thread.ready;
    await thread.stop();
    assert.equal(await settles(thread.released), true);
  } finally {
    closeAll([fd, peer]);
  }
});
