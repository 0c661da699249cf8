/**
 * The libc host sockets (src/slirp/tcp/libc_host.ts) on the loopback, in
 * the main thread's poller: the edge-triggered bookkeeping that saves
 * system calls must never lose an edge. Every wait is bounded.
 */
import assert from "node:assert/strict";
import { C, libc } from "../../ffi/libc.ts";
import { encodeSockaddrInto, SOCKADDR_MAX } from "../../src/io/sockaddr.ts";
import { libcHostNet } from "../../src/slirp/tcp/libc_host.ts";
import type { HostConn } from "../../src/slirp/tcp/host.ts";

/** Rejects after `ms`, so no test can hang. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const t = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)
  );
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** A forward-side socket accepted from a Deno client on the loopback. */
async function acceptedPair(): Promise<{ conn: HostConn; client: Deno.TcpConn; close(): void }> {
  const listener = libcHostNet.listen("127.0.0.1", 0);
  const accepting = listener.accept();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
  const { conn } = await within(5000, accepting, "accept");
  return {
    conn,
    client,
    close() {
      conn.close();
      try {
        client.close();
      } catch { /* closed by the test */ }
      listener.close();
    },
  };
}

Deno.test("libc host socket: a short write marks it full; the rest goes once the reader makes room, nothing lost", async () => {
  const { conn, client, close } = await acceptedPair();
  try {
    const data = new Uint8Array(32 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >>> 13)) & 0xff;
    // Nobody reads yet: the first synchronous write fills the socket's buffers and comes back short.
    const first = conn.tryWrite!(data);
    assert.ok(first > 0 && first < data.length, `a short write (${first} of ${data.length})`);
    assert.equal(conn.tryWrite!(data.subarray(first)), -1, "a full socket declines the next write");
    const reading = (async () => {
      const got = new Uint8Array(data.length);
      let n = 0;
      while (n < got.length) {
        const r = await client.read(got.subarray(n));
        if (r === null) break;
        n += r;
      }
      return got.subarray(0, n);
    })();
    // The promise-based write waits for the edge the reader's room brings.
    let sent = first;
    while (sent < data.length) sent += await within(10_000, conn.write(data.subarray(sent)), "write");
    const got = await within(10_000, reading, "reader");
    assert.equal(got.length, data.length);
    assert.ok(got.every((b, i) => b === data[i]), "the bytes arrive in order, unchanged");
  } finally {
    close();
  }
});

Deno.test("libc host socket: a watched listener hands each client over with its address; readThen hears data, then end of stream", async () => {
  const listener = libcHostNet.listen("127.0.0.1", 0);
  const clients: { conn: HostConn; addr: number[]; port: number }[] = [];
  let arrived = Promise.withResolvers<void>();
  listener.watch!((conn, addr, port) => {
    // The address is lent for the call: copied here.
    clients.push({ conn, addr: [...addr], port });
    arrived.resolve();
  }, (e) => arrived.reject(e));
  const opened: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      arrived = Promise.withResolvers<void>();
      const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
      opened.push(client);
      await within(5000, arrived.promise, "client handed over");
      assert.deepEqual(clients[i]!.addr, [127, 0, 0, 1]);
      assert.equal(clients[i]!.port, (client.localAddr as Deno.NetAddr).port);
    }
    const { conn } = clients[1]!;
    const client = opened[1]!;
    const buf = new Uint8Array(64);
    const read = () => {
      const r = Promise.withResolvers<number | null>();
      conn.readThen!(buf, r.resolve, r.reject);
      return within(5000, r.promise, "readThen");
    };
    const first = read();
    await client.write(new TextEncoder().encode("hello"));
    assert.equal(await first, 5);
    assert.equal(new TextDecoder().decode(buf.subarray(0, 5)), "hello");
    const last = read();
    client.close();
    opened.splice(1, 1);
    assert.equal(await last, null, "end of stream");
  } finally {
    for (const c of opened) c.close();
    for (const c of clients) c.conn.close();
    listener.close();
  }
});

const IPPROTO_TCP = 6;
const TCP_INFO = 11;
/** struct tcp_info: tcpi_segs_in (u32) follows tcpi_segs_out at 136. */
const TCPI_SEGS_IN = 140;

/** Segments the kernel has received on `fd` so far (TCP_INFO). */
function segmentsIn(fd: number): number {
  const info = new Uint8Array(256);
  const len = new Uint32Array([info.length]);
  assert.equal(libc().getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, new Uint8Array(len.buffer)), 0, "TCP_INFO");
  return new DataView(info.buffer).getUint32(TCPI_SEGS_IN, true);
}

/**
 * A forward's accepted socket with a plain blocking libc client, whose
 * TCP_INFO says how many segments reached it; `drain` reads to end of
 * stream (bounded).
 */
async function pairWithRawClient(): Promise<
  { conn: HostConn; fd: number; drain(): Promise<string>; close(): void }
> {
  const listener = libcHostNet.listen("127.0.0.1", 0);
  const accepting = listener.accept();
  const fd = libc().socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0);
  const addr = new Uint8Array(SOCKADDR_MAX);
  const len = encodeSockaddrInto(addr, 4, new Uint8Array([127, 0, 0, 1]), 0, listener.port);
  assert.equal(libc().connect(fd, addr, len), 0, "connect on the loopback");
  const { conn } = await within(5000, accepting, "accept");
  return {
    conn,
    fd,
    async drain() {
      const buf = new Uint8Array(64);
      let text = "";
      for (const until = Date.now() + 5000; Date.now() < until;) {
        const n = libc().recv(fd, buf, buf.length, C.MSG_DONTWAIT);
        if (n === 0) return text;
        if (n > 0) text += new TextDecoder().decode(buf.subarray(0, n));
        else await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error("no end of stream within 5 s");
    },
    close() {
      conn.close();
      libc().close(fd);
      listener.close();
    },
  };
}

Deno.test("libc host socket: the last write before a half-close leaves with the FIN in one segment", async () => {
  for (const last of [false, true]) {
    const { conn, fd, drain, close } = await pairWithRawClient();
    try {
      const before = segmentsIn(fd);
      assert.equal(conn.tryWrite!(new TextEncoder().encode("x"), last), 1);
      assert.equal(conn.tryCloseWrite!(), true);
      assert.equal(await drain(), "x", "the data, then end of stream");
      // Without the hint the byte and the FIN are two segments: the client wakes for each.
      assert.equal(segmentsIn(fd) - before, last ? 1 : 2, `segments with last=${last}`);
    } finally {
      close();
    }
  }
});
