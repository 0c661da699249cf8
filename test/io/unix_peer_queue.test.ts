/**
 * What the peer of a unix datagram socket can queue for us: its send
 * buffer, read through the kernel's socket diagnostics, and how many
 * frames that buffer holds, against what the kernel really lets a sender
 * queue before EAGAIN.
 */
import assert from "node:assert/strict";
import { C, libc } from "../../ffi/libc.ts";
import { framesQueued, peerSendBuffer } from "../../src/io/unix_peer_queue.ts";
import { setSocketBuffer, socketBufferSize } from "../../src/io/socket_buffers.ts";

/** A connected pair of non-blocking unix datagram sockets, closed after `fn`. */
function withPair(fn: (ours: number, peer: number) => void): void {
  const sv = new Int32Array(2);
  const flags = C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC;
  assert.equal(libc().socketpair(C.AF_UNIX, flags, 0, new Uint8Array(sv.buffer)), 0);
  try {
    fn(sv[0]!, sv[1]!);
  } finally {
    libc().close(sv[0]!);
    libc().close(sv[1]!);
  }
}

Deno.test("peerSendBuffer reads the send buffer of the socket at the other end", () => {
  withPair((ours, peer) => {
    assert.equal(peerSendBuffer(ours), socketBufferSize(peer, "send"));
    setSocketBuffer(peer, "send", 300_000);
    assert.equal(peerSendBuffer(ours), socketBufferSize(peer, "send"));
    assert.ok(socketBufferSize(peer, "send") > 212_992, "the buffer grew (the kernel doubles what is asked)");
  });
});

Deno.test("peerSendBuffer is null for an fd that is no connected unix socket", () => {
  assert.equal(peerSendBuffer(-1), null);
  const fd = libc().socket(C.AF_UNIX, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0);
  try {
    assert.equal(peerSendBuffer(fd), null, "no peer");
  } finally {
    libc().close(fd);
  }
});

Deno.test("framesQueued says how many frames a sender queues before EAGAIN, full-size, small and jumbo", () => {
  for (const size of [1514, 60, 9234]) {
    withPair((ours, peer) => {
      const frame = new Uint8Array(size);
      let sent = 0;
      while (libc().send(peer, frame, size, C.MSG_DONTWAIT) === size) sent++;
      assert.equal(framesQueued(socketBufferSize(peer, "send"), size), sent, `${size}-byte frames`);
      assert.ok(sent > 1 && peerSendBuffer(ours) !== null);
    });
  }
});
