/**
 * The TCP engine against the Linux kernel's TCP: a network namespace whose
 * default route is a TUN device (raw IPv4 packets, no Ethernet) that this
 * test serves with a minimal IPv4 wrapper around the engine. curl and iperf3
 * in the namespace are the guest; servers on the host's loopback are the far
 * side, reached through the gateway 10.0.2.2; a forward carries a host
 * client in. Root only (skipped elsewhere, required in CI). This is not the
 * slirp stack (the core owns that); it checks the engine's TCP against a
 * real, independent implementation, and measures it.
 */
import assert from "node:assert/strict";
import { C, cstr, errno, libc } from "../../ffi/libc.ts";
import { poller } from "../../src/io/poller.ts";
import { createTcpEngine, type SlirpTcpEngine } from "../../src/slirp/tcp/engine.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { type Lab, labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { ROOT_IF_PREFIX, run, skipUnless, waitFor } from "../helpers/processes.ts";

const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
let tunCounter = 0;

/** A TUN device carrying the engine: IPv4/TCP in, IPv4/TCP out. */
class TunGuestLink {
  readonly name: string;
  readonly fd: number;
  readonly engine: SlirpTcpEngine;
  readonly #buf = new Uint8Array(65536);
  readonly #out = new Uint8Array(65536 + 40);
  #id = 0;
  #timer: ReturnType<typeof setInterval>;
  dropped = 0;
  /** Probability of dropping a data segment, each way (a lossy link, seeded). */
  loss = 0;
  /** Data segments dropped on purpose. */
  lost = 0;
  #rand = 0x9e3779b9;

  /** True when this data segment is to be lost (xorshift32, deterministic). */
  #lose(payload: number): boolean {
    if (this.loss === 0 || payload === 0) return false;
    let x = this.#rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#rand = x >>> 0;
    if (this.#rand / 2 ** 32 >= this.loss) return false;
    this.lost++;
    return true;
  }

  constructor(mtu: number, ackEvery = 2) {
    this.name = `${ROOT_IF_PREFIX}t${tunCounter++}`;
    const fd = libc().open(cstr("/dev/net/tun"), C.O_RDWR | C.O_NONBLOCK | C.O_CLOEXEC, 0);
    if (fd < 0) throw new Error(`open /dev/net/tun: errno ${errno()}`);
    const req = new Uint8Array(40);
    req.set(new TextEncoder().encode(this.name));
    req[16] = (IFF_TUN | IFF_NO_PI) & 0xff;
    req[17] = ((IFF_TUN | IFF_NO_PI) >> 8) & 0xff;
    if (libc().ioctl(fd, BigInt(TUNSETIFF), req) < 0) {
      const e = errno();
      libc().close(fd);
      throw new Error(`TUNSETIFF: errno ${e}`);
    }
    this.fd = fd;
    this.engine = createTcpEngine({
      sendSegment: (src, dst, seg) => this.#send(src, dst, seg),
      now: () => performance.now(),
      mss: (v) => mtu - (v === 4 ? 40 : 60),
    }, { hostLoopback: true, log: () => {}, tcp: { ackEvery } });
    poller().add(fd, { onReadable: () => this.#drain() });
    this.#timer = setInterval(() => {
      if (this.engine.nextTimerMs() <= 0) this.engine.poll();
    }, 2);
  }

  #drain(): void {
    const buf = this.#buf;
    for (let i = 0; i < 256; i++) {
      const n = libc().read(this.fd, buf, buf.length);
      if (n <= 0) break;
      if (n >= 20 && buf[0]! >> 4 === 4 && buf[9] === 6) {
        // IPv4 carrying TCP.
        const ihl = (buf[0]! & 15) * 4;
        const total = (buf[2]! << 8) | buf[3]!;
        if (ihl < 20 || total > n || total < ihl) continue;
        if (total - ihl >= 20 && this.#lose(total - ihl - (buf[ihl + 12]! >> 4) * 4)) continue;
        this.engine.input(buf.subarray(12, 16), buf.subarray(16, 20), buf.subarray(ihl, total));
      } else if (n >= 40 && buf[0]! >> 4 === 6 && buf[6] === 6) {
        // IPv6 carrying TCP directly (no extension headers).
        const len = (buf[4]! << 8) | buf[5]!;
        if (40 + len > n) continue;
        this.engine.input(buf.subarray(8, 24), buf.subarray(24, 40), buf.subarray(40, 40 + len));
      }
    }
    this.engine.flush();
  }

  #send(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    const b = this.#out;
    if (src.length === 16) {
      b.fill(0, 0, 8);
      b[0] = 0x60;
      b[4] = seg.length >> 8;
      b[5] = seg.length & 0xff;
      b[6] = 6;
      b[7] = 64;
      b.set(src, 8);
      b.set(dst, 24);
      b.set(seg, 40);
      if (libc().write(this.fd, b, 40 + seg.length) !== 40 + seg.length) this.dropped++;
      return;
    }
    const total = 20 + seg.length;
    if (this.#lose(seg.length - (seg[12]! >> 4) * 4)) return;
    b[0] = 0x45;
    b[1] = 0;
    b[2] = total >> 8;
    b[3] = total & 0xff;
    this.#id = (this.#id + 1) & 0xffff;
    b[4] = this.#id >> 8;
    b[5] = this.#id & 0xff;
    b[6] = 0x40; // DF
    b[7] = 0;
    b[8] = 64;
    b[9] = 6;
    b[10] = 0;
    b[11] = 0;
    b.set(src, 12);
    b.set(dst, 16);
    const c = internetChecksum(b, 0, 20);
    b[10] = c >> 8;
    b[11] = c & 0xff;
    b.set(seg, 20);
    if (libc().write(this.fd, b, total) !== total) this.dropped++;
  }

  close(): void {
    clearInterval(this.#timer);
    this.engine.close();
    poller().remove(this.fd);
    libc().close(this.fd);
  }
}

/** A namespace routed through a TUN to the engine, as 10.0.2.15 with gateway 10.0.2.2. */
async function guestNamespace(
  lab: Lab,
  mtu: number,
  ackEvery = 2,
): Promise<{ ns: Netns; link: TunGuestLink }> {
  const ns = await lab.namespace("guest");
  const link = new TunGuestLink(mtu, ackEvery);
  lab.defer(() => link.close());
  await run(["ip", "link", "set", link.name, "netns", ns.name]);
  await ns.run(["ip", "link", "set", link.name, "mtu", String(mtu), "up"]);
  await ns.run(["ip", "addr", "add", "10.0.2.15/24", "dev", link.name]);
  await ns.run(["ip", "route", "add", "default", "dev", link.name]);
  await ns.run(["ip", "-6", "addr", "add", "fd00::15/64", "dev", link.name, "nodad"]);
  await ns.run(["ip", "-6", "route", "add", "default", "dev", link.name]);
  return { ns, link };
}

function missing(): Promise<string | null> {
  return labMissing(["curl", "iperf3", "sha256sum", "ss"]);
}

async function sha256Hex(b: Uint8Array<ArrayBuffer>): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) =>
    x.toString(16).padStart(2, "0")
  ).join("");
}

Deno.test("Linux TCP in a namespace through the engine: curl downloads and uploads 20 MiB, SHA-256 checked", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const { ns, link } = await guestNamespace(lab, 1500);
    const body = new Uint8Array(20 * 1024 * 1024);
    for (let o = 0; o < body.length; o += 65536) crypto.getRandomValues(body.subarray(o, o + 65536));
    const want = await sha256Hex(body);
    let uploaded = "";
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
      if (req.method === "PUT") {
        uploaded = await sha256Hex(new Uint8Array(await req.arrayBuffer()));
        return new Response(uploaded);
      }
      return new Response(body);
    });
    lab.defer(() => server.shutdown());
    const port = server.addr.port;
    const dir = await lab.tempDir();
    await Deno.writeFile(`${dir}/up.bin`, body);
    const down = await ns.run(["sh", "-c", `curl -sS --max-time 60 http://10.0.2.2:${port}/ | sha256sum`], {
      timeoutMs: 90_000,
    });
    assert.equal(down.stdout.split(" ")[0], want, "download SHA-256");
    const up = await ns.run([
      "curl",
      "-sS",
      "--max-time",
      "60",
      "-T",
      `${dir}/up.bin`,
      `http://10.0.2.2:${port}/up`,
    ], {
      timeoutMs: 90_000,
    });
    assert.equal(up.stdout.trim(), want, "upload SHA-256 (as the server computed it)");
    assert.equal(uploaded, want);
    // IPv6: the gateway fd00::2 reaches the host's ::1.
    const server6 = Deno.serve({ hostname: "::1", port: 0, onListen: () => {} }, () => new Response(body));
    lab.defer(() => server6.shutdown());
    const down6 = await ns.run(
      ["sh", "-c", `curl -sS -g --max-time 60 'http://[fd00::2]:${server6.addr.port}/' | sha256sum`],
      { timeoutMs: 90_000 },
    );
    assert.equal(down6.stdout.split(" ")[0], want, "IPv6 download SHA-256");
    assert.equal(link.engine.stats.badChecksum, 0);
    assert.equal(link.engine.stats.badSegments, 0);
  });
});

for (const mtu of [1500, 65520]) {
  Deno.test(`Linux TCP through the engine at MTU ${mtu}: iperf3 both ways, and into the guest through a forward`, async (t) => {
    if (skipUnless(t, await missing())) return;
    await withNetns(async (lab) => {
      const { ns, link } = await guestNamespace(lab, mtu);
      const results: string[] = [];
      const mbps = (json: string, key: "sum_received" | "sum_sent") => {
        const j = JSON.parse(json);
        return Math.round(j.end[key].bits_per_second / 1e6);
      };
      // Out: iperf3 server on the host's loopback, client in the guest.
      for (const reverse of [false, true]) {
        const port = 15201 + (reverse ? 1 : 0) + (mtu > 1500 ? 2 : 0) + (Deno.pid % 1000) * 4;
        const server = lab.spawn(null, ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", String(port)], {
          name: "iperf3 -s",
        });
        await waitFor(
          async () =>
            (await run(["ss", "-ltn", `sport = :${port}`], { check: false })).stdout.includes("LISTEN"),
          {
            timeoutMs: 5000,
            what: "iperf3 server",
          },
        );
        const args = [
          "iperf3",
          "-c",
          "10.0.2.2",
          "-p",
          String(port),
          "-t",
          "3",
          "-J",
          ...(reverse ? ["-R"] : []),
        ];
        const r = await ns.run(args, { timeoutMs: 30_000 });
        results.push(`guest ${reverse ? "<-" : "->"} host ${mbps(r.stdout, "sum_received")} Mbit/s`);
        await server.status;
      }
      // In: iperf3 server in the guest, reached from the host through a forward.
      const info = await link.engine.addForward({
        hostAddr: "127.0.0.1",
        hostPort: 0,
        guestAddr: "10.0.2.15",
        guestPort: 5201,
      });
      const gserver = ns.spawn(["iperf3", "-s", "-1", "-p", "5201"], { name: "iperf3 -s (guest)" });
      await waitFor(
        async () =>
          (await ns.run(["ss", "-ltn", "sport = :5201"], { check: false })).stdout.includes("LISTEN"),
        {
          timeoutMs: 5000,
          what: "guest iperf3 server",
        },
      );
      const r = await run(["iperf3", "-c", "127.0.0.1", "-p", String(info.hostPort), "-t", "3", "-J"], {
        timeoutMs: 30_000,
      });
      results.push(`host -> guest via forward ${mbps(r.stdout, "sum_received")} Mbit/s`);
      await gserver.status;
      console.log(`  MTU ${mtu}: ${results.join("; ")}`);
      assert.equal(link.engine.stats.badChecksum, 0);
    });
  });
}

Deno.test("Linux TCP: a forward reusing one client port never waits for a SYN retransmission", async (t) => {
  if (skipUnless(t, await labMissing(["python3", "ss"]))) return;
  await withNetns(async (lab) => {
    const { ns, link } = await guestNamespace(lab, 1500);
    const dir = await lab.tempDir();
    // The guest's server writes one byte and closes first, so the guest holds every tuple in TIME-WAIT.
    await Deno.writeTextFile(
      `${dir}/acceptor.py`,
      `import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5213)); s.listen(64)
while True:
    c, _ = s.accept(); c.sendall(b"x"); c.close()
`,
    );
    ns.spawn(["python3", `${dir}/acceptor.py`], { name: "guest acceptor" });
    await waitFor(
      async () => (await ns.run(["ss", "-ltn", "sport = :5213"], { check: false })).stdout.includes("LISTEN"),
      { timeoutMs: 5000, what: "guest acceptor" },
    );
    const info = await link.engine.addForward({
      hostAddr: "127.0.0.1",
      hostPort: 0,
      guestAddr: "10.0.2.15",
      guestPort: 5213,
    });
    // The host client binds the same port every time: the guest sees the same 4-tuple again and again.
    await Deno.writeTextFile(
      `${dir}/client.py`,
      `import socket, sys, time
port, lport, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
times = []
for i in range(n):
    t = time.monotonic()
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", lport)); s.settimeout(5)
    s.connect(("127.0.0.1", port))
    got = b""
    while True:
        b = s.recv(16)
        if not b: break
        got += b
    s.close()
    assert got == b"x", got
    times.append(time.monotonic() - t)
print(len(times), max(times), sum(times) / len(times))
`,
    );
    const lport = 20000 + (Deno.pid % 20000);
    const r = await run(["python3", `${dir}/client.py`, String(info.hostPort), String(lport), "40"], {
      timeoutMs: 60_000,
    });
    const [n, worst, mean] = r.stdout.trim().split(" ").map(Number);
    console.log(
      `  40 connections on one tuple: worst ${(worst! * 1000).toFixed(1)} ms, mean ${
        (mean! * 1000).toFixed(1)
      } ms`,
    );
    assert.equal(n, 40);
    // A SYN the guest's TIME-WAIT refuses waits for the 1 s retransmission timeout.
    assert.ok(worst! < 0.5, `a connection took ${(worst! * 1000).toFixed(0)} ms`);
  });
});

Deno.test("Linux TCP negotiates SACK and timestamps with the engine both ways, and recovers from 2% loss", async (t) => {
  if (skipUnless(t, await labMissing(["python3", "ss"]))) return;
  await withNetns(async (lab) => {
    const { ns, link } = await guestNamespace(lab, 1500);
    const dir = await lab.tempDir();
    // tcpi_options is the sixth byte of struct tcp_info: TCPI_OPT_TIMESTAMPS = 1, TCPI_OPT_SACK = 2.
    await Deno.writeTextFile(
      `${dir}/guest.py`,
      `import hashlib, socket, sys
def opts(s): return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[5]
def drain(s):
    h, n = hashlib.sha256(), 0
    while True:
        b = s.recv(65536)
        if not b: return h.hexdigest(), n
        h.update(b); n += len(b)
mode = sys.argv[1]
if mode == "out":
    s = socket.create_connection(("10.0.2.2", int(sys.argv[2])), timeout=60)
    o = opts(s)
    digest, n = drain(s)
    print(o, n, digest, opts(s))
else:
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", int(sys.argv[2]))); l.listen(1)
    print("listening", flush=True)
    c, _ = l.accept(); c.settimeout(60)
    o = opts(c)
    digest, n = drain(c)
    print(o, n, digest, opts(c))
`,
    );
    const size = 4 * 1024 * 1024;
    const body = new Uint8Array(size);
    for (let o = 0; o < size; o += 65536) crypto.getRandomValues(body.subarray(o, o + 65536));
    const want = await sha256Hex(body);
    link.loss = 0.02;

    // Out: the guest connects (the engine answers its SYN); the host sends 4 MiB through 2% loss.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    lab.defer(() => listener.close());
    const served = (async () => {
      const c = await listener.accept();
      await c.write(body).then(async (n) => {
        let off = n;
        while (off < size) off += await c.write(body.subarray(off));
      });
      c.close();
    })();
    const out = await ns.run(["python3", `${dir}/guest.py`, "out", String(listener.addr.port)], {
      timeoutMs: 120_000,
    });
    await served;
    const [oOut, nOut, dOut] = out.stdout.trim().split(" ");
    assert.equal(Number(oOut) & 3, 3, `guest socket tcpi_options ${oOut}: SACK and timestamps`);
    assert.equal(Number(nOut), size);
    assert.equal(dOut, want, "4 MiB to the guest through 2% loss, SHA-256");
    const rto = link.engine.stats.rtoTimeouts;
    assert.ok(
      link.engine.stats.sackRetransmits + link.engine.stats.fastRetransmits > 0,
      "losses repaired by SACK",
    );

    // In: a forward; the engine opens towards the guest's listener and the host sends 4 MiB.
    const info = await link.engine.addForward({
      hostAddr: "127.0.0.1",
      hostPort: 0,
      guestAddr: "10.0.2.15",
      guestPort: 5214,
    });
    const guest = ns.spawn(["python3", `${dir}/guest.py`, "in", "5214"], { name: "guest receiver" });
    await waitFor(
      async () => (await ns.run(["ss", "-ltn", "sport = :5214"], { check: false })).stdout.includes("LISTEN"),
      { timeoutMs: 5000, what: "guest receiver" },
    );
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: info.hostPort });
    let off = 0;
    while (off < size) off += await conn.write(body.subarray(off));
    conn.closeWrite();
    const st = await guest.status;
    assert.ok(st.success, `guest receiver exited cleanly: ${guest.stderr}`);
    conn.close();
    await waitFor(() => guest.stdout.trim().split("\n").length >= 2, {
      timeoutMs: 5000,
      what: "guest output",
    });
    const [oIn, nIn, dIn] = guest.stdout.trim().split("\n").at(-1)!.split(" ");
    assert.equal(Number(oIn) & 3, 3, `accepted socket tcpi_options ${oIn}: SACK and timestamps`);
    assert.equal(Number(nIn), size);
    assert.equal(dIn, want, "4 MiB into the guest through a forward and 2% loss, SHA-256");
    console.log(
      `  2% loss: ${link.lost} segments lost, ${link.engine.stats.sackRetransmits} SACK retransmits, ` +
        `${link.engine.stats.rtoTimeouts} timeouts (${rto} on the way out)`,
    );
  });
});
