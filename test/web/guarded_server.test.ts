/**
 * The guarded HTTP server over real sockets, with small limits: connections over the cap are closed
 * as they come and said once in the log, a slow request head and an idle keep-alive are closed, and
 * a streaming answer stays open (and counted) past the idle bound.
 */
import assert from "node:assert/strict";
import { setLogWriter } from "../../src/log.ts";
import type { ConnLimits } from "../../src/web/conn_guard.ts";
import { acceptLoop, type GuardedServer, serveGuarded } from "../../src/web/guarded_server.ts";
import { sleep, within } from "../helpers/vde_clients.ts";
import { BASE_CSP } from "../../src/web/browser_guard.ts";
import { waitFor } from "../helpers/processes.ts";

const LIMITS: ConnLimits = { maxConnections: 4, maxPerPeer: 4, headerMs: 300, idleMs: 800 };
const enc = new TextEncoder();
/** What every answer of a vde web server carries (browser_guard.ts). */
const BROWSER_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "content-security-policy": BASE_CSP,
};
/** The length of /slow's answer, which is sent 300 ms after it is asked. */
const SLOW_BYTES = 200_000;

async function hello(req: Request): Promise<Response> {
  if (req.method === "POST") return new Response(`got ${(await req.text()).length}\n`);
  if (new URL(req.url).pathname === "/slow") {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return new Response("x".repeat(SLOW_BYTES));
  }
  if (new URL(req.url).pathname !== "/stream") return new Response("hello\n");
  let timer: ReturnType<typeof setInterval> | undefined;
  return new Response(
    new ReadableStream<Uint8Array>({
      start(c) {
        timer = setInterval(() => c.enqueue(enc.encode("data: x\n\n")), 100);
      },
      cancel() {
        clearInterval(timer);
      },
    }),
    { headers: { "content-type": "text/event-stream" } },
  );
}

/** Runs `body` with a connection to a guarded `hello` server of `limits`; closes both after it. */
async function withConnection(
  limits: ConnLimits,
  body: (conn: Deno.TcpConn, s: GuardedServer) => Promise<void>,
): Promise<void> {
  const s = serveGuarded("test", { hostname: "127.0.0.1", port: 0 }, hello, limits);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.addr.port });
  try {
    await body(conn, s);
  } finally {
    conn.close();
    await s.shutdown();
  }
}

/** Resolves with the ms until the server ends `conn` (reading and dropping what it sends). */
async function untilClosed(conn: Deno.Conn, boundMs: number): Promise<number> {
  const start = Date.now();
  const buf = new Uint8Array(4096);
  await within(
    "the server closing the connection",
    boundMs,
    (async () => {
      while ((await conn.read(buf).catch(() => null)) !== null) { /* drain */ }
    })(),
  );
  return Date.now() - start;
}

Deno.test("guarded server: connections over the cap are closed at once and logged once; when they go, a request answers", async () => {
  const lines: string[] = [];
  setLogWriter((l) => lines.push(l));
  const s = serveGuarded("test", { hostname: "127.0.0.1", port: 0 }, hello, {
    ...LIMITS,
    headerMs: 60_000,
    idleMs: 60_000,
  });
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 10; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port: s.addr.port }));
    for (const c of conns.slice(4)) assert.ok(await untilClosed(c, 2000) >= 0);
    assert.deepEqual([s.open, s.refused], [4, 6]);
    assert.deepEqual(lines, [
      "test: refused 1 connection: at most 4 open, 4 from one address or local user (1 refused in all)\n",
    ]);
    for (const c of conns) c.close();
    conns.length = 0;
    await sleep(100);
    const res = await within("an answer", 5000, fetch(`http://127.0.0.1:${s.addr.port}/`));
    assert.equal(await res.text(), "hello\n");
  } finally {
    setLogWriter(null);
    for (const c of conns) c.close();
    await s.shutdown();
  }
});

Deno.test("guarded server: a request head sent too slowly (slowloris) is closed after headerMs", async () => {
  await withConnection(LIMITS, async (conn, s) => {
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n"));
    const ms = await untilClosed(conn, 3000);
    assert.ok(ms >= 250, `closed after ${ms} ms`);
    assert.equal(s.open, 0);
  });
});

Deno.test("guarded server: an idle keep-alive is closed after idleMs; a streaming answer stays open past it, counted", async () => {
  const s = serveGuarded("test", { hostname: "127.0.0.1", port: 0 }, hello, LIMITS);
  const idle = await Deno.connect({ hostname: "127.0.0.1", port: s.addr.port });
  const feed = await fetch(`http://127.0.0.1:${s.addr.port}/stream`);
  const reader = feed.body!.getReader();
  try {
    await idle.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    const ms = await untilClosed(idle, 3000);
    assert.ok(ms >= 700, `closed after ${ms} ms`);
    // The stream has run past both bounds and still sends.
    const more = await within("more of the stream", 1000, reader.read());
    assert.equal(more.done, false);
    assert.equal(s.open, 1);
  } finally {
    idle.close();
    await reader.cancel();
    await s.shutdown();
  }
});

Deno.test("guarded server: an accept that fails (descriptors run out) is said once and retried; the loop ends when the listener closes", async () => {
  const outcomes: (Error | number)[] = [
    new Error("Too many open files (os error 24)"),
    new Error("Too many open files (os error 24)"),
    1,
    2,
    new Deno.errors.BadResource("Listener has been closed"),
  ];
  const taken: number[] = [];
  const said: string[] = [];
  const listener = {
    accept: () => {
      const next = outcomes.shift();
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next as number);
    },
  };
  await within(
    "the accept loop to end",
    2_000,
    acceptLoop(listener, (c) => taken.push(c), (e) => said.push(e.message), 1),
  );
  assert.deepEqual(taken, [1, 2]);
  assert.deepEqual(said, ["Too many open files (os error 24)"]);
});

/** Reads from `conn` until `want` is in what arrived (or the connection ends); returns all of it. */
async function readUntil(conn: Deno.Conn, want: string): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.includes(want)) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("guarded server: a chunked request body reaches the server and the pipelined request after it is answered; the keep-alive then goes idle, not slow", async () => {
  await withConnection(LIMITS, async (conn) => {
    await conn.write(enc.encode(
      "POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
        // The body holds what looks like a head with a Content-Length: it is data, not a request.
        "5;ext=1\r\nhello\r\n6\r\n world\r\n27\r\nGET / HTTP/1.1\r\nContent-Length: 100\r\n\r\n\r\n" +
        "0\r\nX-Trailer: y\r\n\r\n" +
        "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ));
    const text = await within("both answers", 3000, readUntil(conn, "hello\n"));
    assert.match(text, /got 50\n[^]*hello\n/);
    // Past headerMs nothing is awaited: only idleMs ends it.
    const ms = await untilClosed(conn, 3000);
    assert.ok(ms >= 750, `closed after ${ms} ms`);
  });
});

Deno.test("guarded server: a malformed chunk line is answered 400 with the reason and the connection ends", async () => {
  await withConnection({ ...LIMITS, headerMs: 60_000 }, async (conn) => {
    await conn.write(
      enc.encode("POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"),
    );
    await conn.write(enc.encode("fffffffffffffffff\r\n"));
    const text = await within("the answer and the end", 3000, readUntil(conn, "\u0000"));
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\nbad request: a chunk size too large\n$/);
  });
});

Deno.test("guarded server: the guard's own 400 carries every answer's headers: nosniff, no framing, no referrer, same-origin, the base policy", async () => {
  await withConnection({ ...LIMITS, headerMs: 60_000 }, async (conn) => {
    await conn.write(
      enc.encode("POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    );
    const text = await within("the 400 and the end", 3000, readUntil(conn, "\u0000"));
    const head = text.slice(0, text.indexOf("\r\n\r\n")).toLowerCase();
    assert.match(head, /^http\/1\.1 400 bad request\r\n/);
    for (const [k, v] of Object.entries(BROWSER_HEADERS)) {
      assert.ok(head.includes(`\r\n${k}: ${v.toLowerCase()}`), k);
    }
  });
});

Deno.test("guarded server: a malformed request pipelined behind one still being answered gets its 400 after that whole answer, never before or among its bytes", async () => {
  await withConnection({ ...LIMITS, headerMs: 60_000 }, async (conn) => {
    await conn.write(enc.encode("GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    await sleep(50);
    await conn.write(
      enc.encode(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      ),
    );
    const text = await within("the answers and the end", 3000, readUntil(conn, "\u0000"));
    const bad = "bad request: both Transfer-Encoding and Content-Length\n";
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    const body = text.indexOf("\r\n\r\n") + 4;
    assert.equal(text.slice(body, body + SLOW_BYTES), "x".repeat(SLOW_BYTES), "the first answer whole");
    assert.match(
      text.slice(body + SLOW_BYTES),
      new RegExp(`^HTTP/1\\.1 400 Bad Request\\r\\n[^]*\\r\\n\\r\\n${bad}$`),
    );
  });
});

Deno.test("guarded server: a malformed request after an answered keep-alive request gets its 400 at once", async () => {
  await withConnection({ ...LIMITS, headerMs: 60_000 }, async (conn) => {
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    assert.match(await within("the first answer", 3000, readUntil(conn, "hello\n")), /^HTTP\/1\.1 200 OK/);
    await conn.write(
      enc.encode("POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    );
    const text = await within("the 400 and the end", 3000, readUntil(conn, "\u0000"));
    assert.match(
      text,
      /^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\nbad request: a chunk line that does not begin with a hex size\n$/,
    );
  });
});

/** The connections Deno.serve holds on this process's server socket now (ss lists the accepted side by the path). */
async function unixConnectionsTo(dirPrefix: string): Promise<number> {
  const out = await new Deno.Command("ss", { args: ["-xHn", "state", "established"] }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.includes(dirPrefix)).length;
}

Deno.test("guarded server: an idle keep-alive after its answer is closed at idleMs on both sides: the client's, and the unix connection Deno.serve holds", async () => {
  const s = serveGuarded("test", { hostname: "127.0.0.1", port: 0 }, hello, LIMITS);
  const prefix = `/vde-http-${Deno.pid}-`;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.addr.port });
  try {
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    await within("the answer", 3000, readUntil(conn, "hello\n"));
    assert.equal(await unixConnectionsTo(prefix), 1, "Deno.serve keeps the connection for the next request");
    const ms = await untilClosed(conn, 3000);
    assert.ok(ms >= 700, `closed after ${ms} ms`);
    await waitFor(async () => (await unixConnectionsTo(prefix)) === 0, {
      timeoutMs: 1000,
      what: "Deno.serve letting go of the unix connection",
    });
    assert.equal(s.open, 0);
  } finally {
    conn.close();
    await s.shutdown();
  }
});

Deno.test("guarded server: requests sent in one write with a malformed one after them are answered, then the 400", async () => {
  await withConnection({ ...LIMITS, headerMs: 60_000 }, async (conn) => {
    await conn.write(enc.encode(
      "GET / HTTP/1.1\r\nHost: localhost\r\n\r\nPOST /up HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi" +
        "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n",
    ));
    const text = await within("the answers and the end", 3000, readUntil(conn, "\u0000"));
    assert.match(
      text,
      /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nhello\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\ngot 2\nHTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\nbad request: a Transfer-Encoding that does not end in chunked\n$/,
    );
  });
});
