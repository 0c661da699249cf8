/**
 * The TCP engine bridged to real host sockets on the loopback: a simulated
 * guest (in-memory TCP endpoints on the real clock) connects out to servers
 * this test starts on 127.0.0.1 / ::1, and host clients connect in through
 * forwards. Bytes are checked by SHA-256 both ways. Every wait is bounded.
 */
import assert from "node:assert/strict";
import { createTcpEngine, type SlirpTcpEngine, type TcpEngineOptions } from "../../src/slirp/tcp/engine.ts";
import { type GuestSocket, LiveGuest } from "./tcp_rig.ts";
import { skipUnless } from "../helpers/processes.ts";
import type { TcbConfig } from "../../src/slirp/tcp/tcb.ts";
import { denoHostNet, type HostNet } from "../../src/slirp/tcp/host.ts";
import { libcHostNet } from "../../src/slirp/tcp/libc_host.ts";

const GATEWAY = new Uint8Array([10, 0, 2, 2]);
const GATEWAY6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
const MiB = 1024 * 1024;

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(b.subarray(o, Math.min(n, o + 65536)));
  return b;
}

async function sha256(b: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return [...d].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** Collects chunks into one buffer of at most `max` bytes. */
class Collector {
  buf: Uint8Array<ArrayBuffer>;
  n = 0;
  constructor(max: number) {
    this.buf = new Uint8Array(max);
  }
  add = (chunk: Uint8Array): void => {
    if (this.n + chunk.length > this.buf.length) throw new Error("more data than expected");
    this.buf.set(chunk, this.n);
    this.n += chunk.length;
  };
  get data(): Uint8Array<ArrayBuffer> {
    return this.buf.subarray(0, this.n);
  }
}

/** Rejects after `ms`, so no test can hang. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const t = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)
  );
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

interface Lab {
  guest: LiveGuest;
  engine: SlirpTcpEngine;
  close(): void;
}

function makeLab(
  hostNet: HostNet,
  opts: Partial<TcpEngineOptions> = {},
  guestCfg: Partial<TcbConfig> = {},
): Lab {
  const guest = new LiveGuest(guestCfg);
  const engine = createTcpEngine(guest.core, { hostLoopback: true, log: () => {}, hostNet, ...opts });
  guest.attach(engine);
  return {
    guest,
    engine,
    close() {
      engine.close();
      guest.close();
    },
  };
}

/** A server on `hostname`: reads everything (until the client's FIN), then sends `reply` and closes. */
function startServer(hostname: string, reply: Uint8Array, expect: number) {
  const listener = Deno.listen({ hostname, port: 0 });
  const got = new Collector(expect);
  let closed = false;
  const done = (async () => {
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch (e) {
      if (closed) return; // closed by the test without a client
      throw e;
    }
    try {
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        got.add(buf.subarray(0, n));
      }
      let off = 0;
      while (off < reply.length) off += await conn.write(reply.subarray(off));
    } finally {
      conn.close();
    }
  })();
  done.catch(() => {}); // awaited by the tests that expect a client
  return {
    port: (listener.addr as Deno.NetAddr).port,
    got,
    done,
    close: () => {
      closed = true;
      listener.close();
    },
  };
}

async function guestExchange(s: GuestSocket, up: Uint8Array, downMax: number): Promise<Collector> {
  await within(10_000, s.opened(), "guest connect");
  const down = new Collector(downMax);
  const reading = s.readAll(Date.now() + 60_000, down.add);
  await s.writeAll(up);
  s.close();
  await reading;
  return down;
}

function rate(bytes: number, ms: number): string {
  return `${(bytes * 8 / ms / 1000).toFixed(0)} Mbit/s`;
}

/**
 * The contract every host network keeps: the same tests for Deno's sockets
 * and for the libc sockets in the poller (tcp/libc_host.ts).
 */
function contract(kind: string, hostNet: HostNet): void {
  const lab = (opts: Partial<TcpEngineOptions> = {}, guestCfg: Partial<TcbConfig> = {}) =>
    makeLab(hostNet, opts, guestCfg);

  Deno.test(`host sockets (${kind}): guest to a 127.0.0.1 server through the gateway, 8 MiB each way, SHA-256 checked`, async () => {
    const up = randomBytes(8 * MiB);
    const down = randomBytes(8 * MiB);
    const server = startServer("127.0.0.1", down, up.length);
    const l = lab();
    try {
      const t0 = performance.now();
      const s = l.guest.connect(GATEWAY, server.port);
      const got = await within(60_000, guestExchange(s, up, down.length), "exchange");
      const ms = performance.now() - t0;
      await within(10_000, server.done, "server");
      assert.equal(server.got.n, up.length);
      assert.equal(await sha256(server.got.data), await sha256(up), "upload SHA-256");
      assert.equal(got.n, down.length);
      assert.equal(await sha256(got.data), await sha256(down), "download SHA-256");
      console.log(
        `  16 MiB through the engine and a simulated guest in ${ms.toFixed(0)} ms: ${rate(16 * MiB, ms)}`,
      );
      assert.equal(l.engine.stats.connectsOut, 1);
      assert.equal(l.engine.stats.badChecksum, 0);
    } finally {
      l.close();
      server.close();
    }
  });

  Deno.test(`host sockets (${kind}): IPv6 guest to a ::1 server through fd00::2`, async (t) => {
    let server;
    try {
      server = startServer("::1", randomBytes(256 * 1024), MiB);
    } catch (e) {
      // A machine without IPv6 on loopback may skip here; CI may not (skipUnless fails it there).
      if (skipUnless(t, `no IPv6 loopback (${e instanceof Error ? e.message : e})`)) return;
      throw e;
    }
    const up = randomBytes(MiB);
    const l = lab();
    try {
      const s = l.guest.connect(GATEWAY6, server.port);
      const got = await within(30_000, guestExchange(s, up, MiB), "exchange");
      await within(10_000, server.done, "server");
      assert.equal(await sha256(server.got.data), await sha256(up));
      assert.equal(got.n, 256 * 1024);
    } finally {
      l.close();
      server.close();
    }
  });

  Deno.test(`host sockets (${kind}): an inbound forward delivers a host client to the guest, 8 MiB each way, SHA-256 checked`, async () => {
    const up = randomBytes(8 * MiB); // client -> guest
    const down = randomBytes(8 * MiB); // guest -> client
    const l = lab();
    try {
      const info = await l.engine.addForward({
        hostAddr: "127.0.0.1",
        hostPort: 0,
        guestAddr: "10.0.2.15",
        guestPort: 8080,
      });
      const guestGot = new Collector(up.length);
      let guestSide: GuestSocket | null = null;
      const guestDone = new Promise<void>((resolve, reject) => {
        l.guest.listen(8080, (s) => {
          guestSide = s;
          (async () => {
            await s.readAll(Date.now() + 60_000, guestGot.add);
            await s.writeAll(down);
            s.close();
          })().then(resolve, reject);
        });
      });
      const t0 = performance.now();
      const client = await Deno.connect({ hostname: "127.0.0.1", port: info.hostPort });
      const clientGot = new Collector(down.length);
      try {
        const reading = (async () => {
          const buf = new Uint8Array(65536);
          for (;;) {
            const n = await client.read(buf);
            if (n === null) return;
            clientGot.add(buf.subarray(0, n));
          }
        })();
        let off = 0;
        while (off < up.length) off += await client.write(up.subarray(off));
        await client.closeWrite();
        await within(60_000, Promise.all([reading, guestDone]), "inbound exchange");
      } finally {
        client.close();
      }
      const ms = performance.now() - t0;
      assert.equal(await sha256(guestGot.data), await sha256(up), "client to guest SHA-256");
      assert.equal(await sha256(clientGot.data), await sha256(down), "guest to client SHA-256");
      // A loopback client shows as the gateway (the guest could not route to its own loopback), with its real port.
      const seen = guestSide as GuestSocket | null;
      assert.ok(seen !== null);
      assert.deepEqual([...seen.conn.remoteAddr], [10, 0, 2, 2]);
      assert.equal(seen.conn.remotePort, (client.localAddr as Deno.NetAddr).port);
      console.log(`  16 MiB through a forward in ${ms.toFixed(0)} ms: ${rate(16 * MiB, ms)}`);
    } finally {
      l.close();
    }
  });

  Deno.test(`host sockets (${kind}): a refused port resets the guest's connection`, async () => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const l = lab();
    try {
      const s = l.guest.connect(GATEWAY, port);
      await assert.rejects(within(10_000, s.opened(), "connect"), /connection refused/);
      assert.equal(l.engine.stats.connectsFailed, 1);
    } finally {
      l.close();
    }
  });

  Deno.test(`host sockets (${kind}): with host loopback disabled the gateway refuses`, async () => {
    const server = startServer("127.0.0.1", new Uint8Array(0), 0);
    const l = lab({ hostLoopback: false });
    try {
      const s = l.guest.connect(GATEWAY, server.port);
      await assert.rejects(within(10_000, s.opened(), "connect"), /connection refused/);
    } finally {
      l.close();
      server.close();
    }
  });

  Deno.test(`host sockets (${kind}): a forward on a port in use fails with one clear line`, async () => {
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (busy.addr as Deno.NetAddr).port;
    const l = lab();
    try {
      await assert.rejects(
        l.engine.addForward({ hostAddr: "127.0.0.1", hostPort: port, guestAddr: "10.0.2.15", guestPort: 80 }),
        new Error(
          `Host port ${port} on 127.0.0.1 is already in use (TCP forward to 10.0.2.15:80): ` +
            "forward another host port (0 takes any free one)",
        ),
      );
      assert.deepEqual(l.engine.listForwards(), []);
    } finally {
      l.close();
      busy.close();
    }
  });

  Deno.test(`host sockets (${kind}): a forward removed and at once added again on its host port (its guest port changed) listens`, async () => {
    const l = lab();
    try {
      const first = await l.engine.addForward({
        hostAddr: "127.0.0.1",
        hostPort: 0,
        guestAddr: "10.0.2.15",
        guestPort: 80,
      });
      assert.equal(l.engine.removeForward({ hostAddr: "127.0.0.1", hostPort: first.hostPort }), true);
      // No turn of the event loop between the two: as `vde up --apply` and the console do it.
      const again = await l.engine.addForward({
        hostAddr: "127.0.0.1",
        hostPort: first.hostPort,
        guestAddr: "10.0.2.15",
        guestPort: 81,
      });
      assert.equal(again.hostPort, first.hostPort);
      assert.deepEqual(l.engine.listForwards().map((f) => f.guestPort), [81]);
      const client = await Deno.connect({ hostname: "127.0.0.1", port: first.hostPort });
      client.close();
    } finally {
      l.close();
    }
  });

  Deno.test(`host sockets (${kind}): 2% loss each way between guest and engine, 2 MiB each way still arrives intact`, async () => {
    const fast: Partial<TcbConfig> = { minRtoMs: 30, initialRtoMs: 200 };
    const up = randomBytes(2 * MiB);
    const down = randomBytes(2 * MiB);
    const server = startServer("127.0.0.1", down, up.length);
    const l = lab({ tcp: fast }, fast);
    l.guest.lossToEngine = 0.02;
    l.guest.lossToGuest = 0.02;
    try {
      const s = l.guest.connect(GATEWAY, server.port);
      const got = await within(90_000, guestExchange(s, up, down.length), "lossy exchange");
      await within(10_000, server.done, "server");
      assert.equal(await sha256(server.got.data), await sha256(up));
      assert.equal(await sha256(got.data), await sha256(down));
      assert.ok(l.engine.stats.retransmits + l.guest.stats.retransmits > 0);
    } finally {
      l.close();
      server.close();
    }
  });

  Deno.test(`host sockets (${kind}): 40 concurrent outbound connections echo their bytes, then nothing is left`, async () => {
    const N = 40;
    const l = lab();
    try {
      // Outbound: an echo server on the host.
      const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const echoing = (async () => {
        const all: Promise<void>[] = [];
        for (let i = 0; i < N; i++) {
          const c = await echo.accept();
          all.push((async () => {
            const buf = new Uint8Array(65536);
            for (;;) {
              const n = await c.read(buf);
              if (n === null) break;
              let o = 0;
              while (o < n) o += await c.write(buf.subarray(o, n));
            }
            c.close();
          })());
        }
        await Promise.all(all);
      })();
      const port = (echo.addr as Deno.NetAddr).port;
      const results = await within(
        60_000,
        Promise.all(Array.from({ length: N }, async (_, i) => {
          const payload = randomBytes(32 * 1024 + i);
          const s = l.guest.connect(GATEWAY, port);
          const got = await guestExchange(s, payload, payload.length);
          return (await sha256(got.data)) === (await sha256(payload));
        })),
        "concurrent echoes",
      );
      assert.deepEqual(results, new Array(N).fill(true));
      await within(10_000, echoing, "echo server");
      echo.close();
      // Everything winds down: no flows but TIME-WAIT ones, no buffers.
      const deadline = Date.now() + 10_000;
      while (l.engine.stats.connections - l.engine.stats.timeWait > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(l.engine.stats.connections - l.engine.stats.timeWait, 0);
      assert.equal(l.engine.stats.bufferBytes, 0);
    } finally {
      l.close();
    }
  });
}

contract("Deno", denoHostNet);
contract("libc", libcHostNet);
