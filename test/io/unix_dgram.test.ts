/**
 * UnixDgramSocket's batch receive: a socket's pending error is reported by
 * one receive and then gone, so recvBatch tries once more before it
 * reports a failure, and every caller (the dgram link, test rigs) gets a
 * socket that keeps working after a peer's hiccup.
 */
import assert from "node:assert/strict";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { C, libc } from "../../ffi/libc.ts";
import { dgramPair } from "../helpers/dgram_pair.ts";

const MSG_PEEK = 2;

Deno.test("recvBatch takes a socket's pending error and still delivers the frame behind it", async () => {
  const dir = await Deno.makeTempDir({ prefix: `vde-unix-dgram-${Deno.pid}-` });
  const { ours, theirs } = dgramPair(dir);
  const elsewhere = UnixDgramSocket.create();
  elsewhere.bind(`${dir}/elsewhere`);
  try {
    // A datagram of ours waits unread at the peer; the peer connecting elsewhere
    // drops it and leaves ECONNRESET pending on our socket.
    assert.equal(ours.send(new Uint8Array(60)), 0);
    assert.ok(libc().recv(theirs.fd, new Uint8Array(1), 1, MSG_PEEK | C.MSG_DONTWAIT) >= 0);
    theirs.connect(`${dir}/elsewhere`);
    theirs.connect(`${dir}/ours`);
    assert.equal(theirs.send(new Uint8Array(70).fill(7)), 0);
    const got: number[] = [];
    const n = ours.recvBatch((f) => got.push(f.length), { oversize: 0 });
    assert.equal(n, 1, "the pending error is not reported as a failure");
    assert.deepEqual(got, [70]);
    assert.equal(ours.recvBatch(() => {}, { oversize: 0 }), 0, "then nothing waits");
  } finally {
    ours.close();
    theirs.close();
    elsewhere.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recvBatch reports a receive that fails every time as -errno", () => {
  const s = UnixDgramSocket.create();
  assert.equal(s.recvBatch(() => {}, { oversize: 0 }), 0, "nothing waiting is not a failure");
  s.close(false);
  // Closed: fd -1, EBADF on both tries.
  assert.equal(s.recvBatch(() => {}, { oversize: 0 }), -C.EBADF);
});
