/**
 * StreamConn, the connection of the ctl and management sockets: Deno.Conn's
 * read and write on a raw fd whose send buffer the server sizes, a writeAll,
 * waiting in the main poller for room or input, and ending cleanly when the
 * peer goes.
 */
import assert from "node:assert/strict";
import { StreamConn } from "../../src/io/stream_conn.ts";
import { socketBufferSize } from "../../src/io/socket_buffers.ts";
import { C, libc } from "../../ffi/libc.ts";
import { sleep } from "../helpers/processes.ts";

/** A connected non-blocking unix stream pair: [ours, theirs]. */
function streamPair(): [number, number] {
  const sv = new Int32Array(2);
  const flags = C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC;
  assert.equal(libc().socketpair(C.AF_UNIX, flags, 0, new Uint8Array(sv.buffer)), 0);
  return [sv[0]!, sv[1]!];
}

Deno.test("writeAll: a megabyte reply reaches a client reading 256 bytes at a time, in order, through a 16 KiB send buffer", async () => {
  const [ours, theirs] = streamPair();
  const conn = new StreamConn(ours, { sendBufferBytes: 16 * 1024 });
  try {
    // The kernel doubles what it is asked for (its bookkeeping overhead).
    assert.equal(socketBufferSize(ours, "send"), 32 * 1024);
    const reply = new Uint8Array(1 << 20);
    for (let i = 0; i < reply.length; i++) reply[i] = (i * 7 + (i >> 11)) & 0xff;
    const writing = conn.writeAll(reply);
    const got = new Uint8Array(reply.length);
    let at = 0;
    const piece = new Uint8Array(256);
    const deadline = Date.now() + 30_000;
    while (at < got.length && Date.now() < deadline) {
      const n = libc().recv(theirs, piece, piece.length, C.MSG_DONTWAIT);
      if (n > 0) {
        got.set(piece.subarray(0, n), at);
        at += n;
      } else await sleep(1);
    }
    await writing;
    assert.equal(at, reply.length);
    assert.deepEqual(got, reply);
  } finally {
    conn.close();
    libc().close(theirs);
  }
});

Deno.test("after the peer closes, a read gets what it sent and then the end, and a write fails", async () => {
  const [ours, theirs] = streamPair();
  const conn = new StreamConn(ours);
  try {
    const buf = new Uint8Array(64);
    const reading = conn.read(buf);
    assert.equal(libc().send(theirs, new TextEncoder().encode("port/print\n"), 11, C.MSG_NOSIGNAL), 11);
    libc().close(theirs);
    assert.equal(await reading, 11);
    assert.equal(new TextDecoder().decode(buf.subarray(0, 11)), "port/print\n");
    assert.equal(await conn.read(buf), null);
    await assert.rejects(conn.write(new Uint8Array(10)));
  } finally {
    conn.close();
  }
});

Deno.test("a write waiting for room fails when the peer goes away without reading", async () => {
  const [ours, theirs] = streamPair();
  const conn = new StreamConn(ours, { sendBufferBytes: 4096 });
  try {
    const writing = conn.writeAll(new Uint8Array(1 << 20));
    await sleep(50); // the socket fills; the write waits for room
    libc().close(theirs);
    await assert.rejects(writing);
  } finally {
    conn.close();
  }
});

Deno.test("closing the connection ends a read that waits for input", async () => {
  const [ours, theirs] = streamPair();
  const conn = new StreamConn(ours);
  try {
    const reading = conn.read(new Uint8Array(16));
    await sleep(10);
    conn.close();
    await assert.rejects(reading, Deno.errors.BadResource);
  } finally {
    libc().close(theirs);
  }
});

Deno.test("a write sends what fits and returns the count, like Deno.Conn.write", async () => {
  const [ours, theirs] = streamPair();
  const conn = new StreamConn(ours, { sendBufferBytes: 4096 });
  try {
    const n = await conn.write(new Uint8Array(1 << 20));
    assert.ok(n > 0 && n < 1 << 20, `wrote ${n} bytes`);
  } finally {
    conn.close();
    libc().close(theirs);
  }
});
