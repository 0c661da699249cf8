/**
 * UnixDgramSocket's batch receive: a socket's pending error is reported by
 * one receive and then gone, so recvBatch tries once more before it
 * reports a failure, and every caller (the dgram link, test rigs) gets a
 * socket that keeps working after a peer's hiccup.
 */
import assert from "node:assert/strict";
import { SendBatcher, UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { RecvArena } from "../../src/io/mmsg.ts";
import { C, libc } from "../../ffi/libc.ts";
import { dgramPair } from "../helpers/dgram_pair.ts";
import { checksumBuffer, sumWasm } from "../../src/wire/checksum_wasm.ts";

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

Deno.test("received frames lie in the checksum module's memory, where a TCP segment in them is summed without a copy", async () => {
  const dir = await Deno.makeTempDir({ prefix: `vde-unix-dgram-${Deno.pid}-` });
  const { ours, theirs } = dgramPair(dir);
  try {
    assert.equal(theirs.send(new Uint8Array(9000).fill(3)), 0);
    const frames: Uint8Array[] = [];
    assert.equal(ours.recvBatch((f) => frames.push(f), { oversize: 0 }), 1);
    assert.equal(frames[0]!.length, 9000);
    assert.ok(frames[0]!.every((b) => b === 3));
    if (sumWasm !== null) assert.equal(frames[0]!.buffer, checksumBuffer(0).buffer);
  } finally {
    ours.close();
    theirs.close();
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

Deno.test("SendBatcher sends lent frames from their own memory and copied ones from its slots, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: `vde-unix-dgram-${Deno.pid}-` });
  const { ours, theirs } = dgramPair(dir);
  const arena = new RecvArena(4, 1600);
  try {
    const batcher = new SendBatcher();
    const lent = arena.slots[2]!.subarray(10, 10 + 64).fill(0xab);
    const staged = new Int32Array(3);
    staged[0] = batcher.lend(arena.address + lent.byteOffset, lent.length);
    staged[1] = batcher.stage(new Uint8Array(100).fill(0x11));
    staged[2] = batcher.lend(arena.address + arena.slots[0]!.byteOffset, 1500);
    arena.slots[0]!.fill(0x22, 0, 1500);
    assert.equal(batcher.free, 253);
    assert.equal(batcher.sendmmsg(ours.fd, staged, 3), 3);
    const got: Uint8Array[] = [];
    theirs.recvBatch((f) => got.push(f.slice()), { oversize: 0 });
    assert.deepEqual(got.map((f) => f.length), [64, 100, 1500]);
    assert.ok(got[0]!.every((b) => b === 0xab), "a lent frame's bytes as they are at the send");
    assert.ok(got[1]!.every((b) => b === 0x11));
    assert.ok(got[2]!.every((b) => b === 0x22));
    // A slot used for a loan and then for a copy sends the copy.
    batcher.reset();
    staged[0] = batcher.stage(new Uint8Array(70).fill(0x33));
    assert.equal(batcher.sendmmsg(ours.fd, staged, 1), 1);
    got.length = 0;
    theirs.recvBatch((f) => got.push(f.slice()), { oversize: 0 });
    assert.equal(got.length, 1);
    assert.ok(got[0]!.length === 70 && got[0]!.every((b) => b === 0x33));
  } finally {
    ours.close();
    theirs.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recvBatch hands a slot's frames of one size out as one view (no object per frame), each with its own bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: `vde-unix-dgram-${Deno.pid}-` });
  const { ours, theirs } = dgramPair(dir);
  try {
    const views: Uint8Array[] = [];
    const got: number[][] = [];
    const take = (f: Uint8Array) => {
      views.push(f);
      got.push([f.length, f[0]!]);
    };
    for (const [len, fill] of [[66, 1], [66, 2], [70, 3]]) {
      assert.equal(theirs.send(new Uint8Array(len!).fill(fill!)), 0);
      assert.equal(ours.recvBatch(take, { oversize: 0 }), 1);
    }
    assert.deepEqual(got, [[66, 1], [66, 2], [70, 3]]);
    assert.ok(views[0] === views[1], "the same slot and size: the same view");
    assert.ok(views[2] !== views[1], "another size: a view of its own");
  } finally {
    ours.close();
    theirs.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SendBatcher tells a staged frame's length without making a view of it", () => {
  const batcher = new SendBatcher();
  const a = batcher.stage(new Uint8Array(1514));
  const b = batcher.stage(new Uint8Array(66));
  assert.deepEqual([batcher.length(a), batcher.length(b)], [1514, 66]);
});

Deno.test("a private bind onto a taken name owns no name after it: its close removes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-dgram-" });
  try {
    await Deno.writeTextFile(`${dir}/taken`, "mine");
    const sock = UnixDgramSocket.create();
    assert.throws(() => sock.bindPrivate(`${dir}/taken`, 0o700), Deno.errors.AlreadyExists);
    assert.equal(sock.boundPath, null);
    sock.close();
    assert.equal(await Deno.readTextFile(`${dir}/taken`), "mine");
    const ok = UnixDgramSocket.create();
    ok.bindPrivate(`${dir}/mine`, 0o700);
    assert.equal(ok.boundPath, `${dir}/mine`);
    ok.close();
    await assert.rejects(Deno.lstat(`${dir}/mine`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
