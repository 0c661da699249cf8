/**
 * UnixStreamListener: every client it accepts arrives as a StreamConn with
 * the credentials the kernel recorded for the connecting process.
 */
import assert from "node:assert/strict";
import { UnixStreamListener } from "../../src/io/unix_stream.ts";
import type { StreamConn } from "../../src/io/stream_conn.ts";
import type { PeerCred } from "../../src/io/unix_stream.ts";

Deno.test("the listener hands each client over as a StreamConn with its pid, uid and gid, and both ways carry bytes", async () => {
  const dir = Deno.makeTempDirSync({ prefix: `vde-unix-stream-${Deno.pid}-` });
  const path = `${dir}/ctl`;
  const accepted = Promise.withResolvers<[StreamConn, PeerCred]>();
  const errors: Error[] = [];
  const listener = new UnixStreamListener(
    path,
    (conn, peer) => accepted.resolve([conn, peer]),
    (e) => errors.push(e),
  );
  const client = await Deno.connect({ transport: "unix", path });
  try {
    const [conn, peer] = await accepted.promise;
    try {
      // The client is this very process: the kernel says so.
      assert.deepEqual(peer, { pid: Deno.pid, uid: Deno.uid(), gid: Deno.gid() });
      await client.write(new TextEncoder().encode("hello"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "hello");
      await conn.writeAll(new TextEncoder().encode("reply"));
      const got = new Uint8Array(16);
      const m = await client.read(got);
      assert.equal(new TextDecoder().decode(got.subarray(0, m ?? 0)), "reply");
      client.close();
      assert.equal(await conn.read(buf), null);
    } finally {
      conn.close();
    }
    assert.deepEqual(errors, []);
  } finally {
    try {
      client.close();
    } catch { /* closed above */ }
    listener.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
