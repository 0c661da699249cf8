/**
 * The web server's HTTP behaviour, in process over real sockets: unknown
 * paths, oversized headers, many idle connections (capped), the event feed, and
 * POST actions guarded by the token.
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { SwitchStatus } from "../../src/web/status.ts";
import { FEED_FAILED, WebServer } from "../../src/web/server.ts";
import { setLogWriter } from "../../src/log.ts";
import { HeadlessPage } from "../helpers/chromium.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { ethFrame, mac, within } from "../helpers/vde_clients.ts";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";
import { otherLocalAddress } from "../helpers/ports.ts";

const TOKEN = "s3cret-token-for-tests";

function rig(token?: string) {
  const sw = new Switch({ numPorts: 8 });
  const a = new MemoryLink("qemu vm1");
  const b = new MemoryLink("vde_plug pid 7");
  sw.attach(a, { port: 1 });
  sw.attach(b, { port: 2 });
  const web = WebServer.start(new SwitchStatus(sw, "sw"), { hostname: "127.0.0.1", port: 0, token });
  return {
    sw,
    a,
    b,
    port: web.addr.port,
    base: `http://127.0.0.1:${web.addr.port}`,
    async close() {
      await web.close();
      sw.close();
    },
  };
}

/** Sends raw bytes and returns the status line of the answer. */
async function rawStatus(port: number, request: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(request).catch(() => {});
    const buf = new Uint8Array(256);
    const n = await within("an answer", 5000, conn.read(buf));
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0]!;
  } finally {
    conn.close();
  }
}

Deno.test("web: unknown paths get 404, other methods 405", async () => {
  const r = rig();
  try {
    const res = await fetch(`${r.base}/nothing/here`);
    await res.body?.cancel();
    assert.equal(res.status, 404);
    const del = await fetch(`${r.base}/metrics`, { method: "DELETE" });
    await del.body?.cancel();
    assert.equal(del.status, 405);
  } finally {
    await r.close();
  }
});

Deno.test("web: a 2 MB header is refused with a 4xx and the server keeps answering", async () => {
  const r = rig();
  try {
    const big = new TextEncoder().encode(
      `GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(2 << 20)}\r\n\r\n`,
    );
    assert.match(await rawStatus(r.port, big), /^HTTP\/1\.1 4\d\d /);
    const res = await fetch(`${r.base}/metrics`);
    await res.body?.cancel();
    assert.equal(res.status, 200);
  } finally {
    await r.close();
  }
});

Deno.test("web: 1,000 idle connections from one address are capped; another address still scrapes and the switch forwards", async () => {
  const r = rig();
  const idle: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 1000; i++) idle.push(await Deno.connect({ hostname: "127.0.0.1", port: r.port }));
    r.a.receive(ethFrame(mac(2), mac(1), 1));
    assert.equal(r.b.sent.length, 1);
    // Past the per-address cap the server closes them as they come: the last one reads its end.
    assert.equal(
      await within("the refused connection's end", 5000, idle.at(-1)!.read(new Uint8Array(1))),
      null,
    );
    const scrape = await within(
      "a scrape from another address",
      10_000,
      run(["curl", "-sS", "--max-time", "8", "--interface", otherLocalAddress(), `${r.base}/metrics`]),
    );
    assert.match(scrape.stdout, /vde_port_receive_packets_total\{switch="sw",port="1"\} 1/);
  } finally {
    for (const c of idle) c.close();
    await r.close();
  }
});

Deno.test("web: the event feed sends the ports with their clients, then the new counters", async () => {
  const r = rig();
  try {
    const res = await fetch(`${r.base}/events`);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    const next = async () => {
      while (!buffered.includes("\n\n")) {
        const { value, done } = await within("an update", 5000, reader.read());
        if (done) throw new Error("feed ended");
        buffered += value;
      }
      const i = buffered.indexOf("\n\n");
      const event = buffered.slice(0, i);
      buffered = buffered.slice(i + 2);
      return JSON.parse(event.replace(/^data: /, ""));
    };
    const first = await next();
    assert.deepEqual(first.ports.map((p: { name: string }) => p.name), ["qemu vm1", "vde_plug pid 7"]);
    assert.equal(first.ports[0].framesIn, 0);
    r.a.receive(ethFrame(mac(2), mac(1), 1));
    const second = await next();
    assert.equal(second.ports[0].framesIn, 1);
    assert.deepEqual(second.macs, [{ mac: "02:00:00:00:00:01", vlan: 0, port: 1 }]);
    await reader.cancel();
  } finally {
    await r.close();
  }
});

Deno.test("web: an event feed whose update fails after its headers ends whole with a 'failed' event, logged once; the switch serves on", async (t) => {
  const sw = new Switch({ numPorts: 4 });
  const status = new SwitchStatus(sw, "sw");
  const web = WebServer.start(status, { hostname: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${web.addr.port}`;
  const lines: string[] = [];
  setLogWriter((l) => lines.push(l));
  const macs = status.macs;
  try {
    const res = await fetch(`${base}/events`);
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let got = "";
    while (!got.includes("\n\n")) got += (await within("the first update", 5000, reader.read())).value ?? "";
    assert.match(got, /^data: \{/);
    got = got.slice(got.indexOf("\n\n") + 2);
    // The next snapshot throws (thrown from the feed's timer, this ended the process).
    status.macs = () => {
      throw new Error("a broken snapshot\nsecond line");
    };
    // A clean end of a chunked body: a half-written one would make the read reject.
    for (;;) {
      const { value, done } = await within("the feed's end", 5000, reader.read());
      if (done) break;
      got += value;
    }
    assert.equal(got, FEED_FAILED);
    const said = lines.filter((l) => l.includes("failed"));
    assert.equal(said.length, 1, said.join(""));
    assert.match(
      said[0]!,
      /^vde switch: GET "\/events" failed after its headers \(its stream ended\): Error: a broken snapshot\n$/,
    );
    // The server serves on, and a new feed (the browser's reconnect) gets updates once snapshots work.
    status.macs = macs;
    const again = await fetch(`${base}/events`);
    const next = again.body!.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await within("an update after the reconnect", 5000, next.read())).value ?? "", /^data: \{/);
    await next.cancel();
    if (!skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) {
      // The page says the server's failure (not "disconnected"), and its EventSource reconnects once it is over.
      const page = await HeadlessPage.open(412, 900);
      try {
        await page.goto(`${base}/`);
        const state = `document.getElementById("state").textContent`;
        await page.waitUntil<boolean>(`${state}.includes("updated")`, "the page's first update");
        status.macs = () => {
          throw new Error("a broken snapshot");
        };
        assert.equal(
          await page.waitUntil<string>(
            `${state}.startsWith("the server failed") && ${state}`,
            "the failure said",
          ),
          "the server failed (internal error (logged by the server)), retrying…",
        );
        status.macs = macs;
        await page.waitUntil<boolean>(`${state}.includes("updated")`, "an update after the reconnect");
      } finally {
        await page.close();
      }
    }
  } finally {
    setLogWriter(null);
    await web.close();
    sw.close();
  }
});

Deno.test("web: an event feed whose first update fails (a reconnect while snapshots still fail) ends whole and leaves no timer running", async () => {
  const sw = new Switch({ numPorts: 4 });
  const status = new SwitchStatus(sw, "sw");
  const web = WebServer.start(status, { hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  setLogWriter((l) => lines.push(l));
  status.macs = () => {
    throw new Error("a broken snapshot");
  };
  // The intervals started from here on and not cleared: one left behind ran for the process's life (it
  // kept a closed switch's process from exiting, one more per reconnect of the page).
  const live = new Set<unknown>();
  const { setInterval: start, clearInterval: stop } = globalThis;
  globalThis.setInterval = ((...args: Parameters<typeof start>) => {
    const id = start(...args);
    live.add(id);
    return id;
  }) as typeof start;
  globalThis.clearInterval = ((id: Parameters<typeof stop>[0]) => {
    live.delete(id);
    stop(id);
  }) as typeof stop;
  try {
    const res = await fetch(`http://127.0.0.1:${web.addr.port}/events`);
    assert.equal(res.status, 200);
    let got = "";
    for (const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();;) {
      const { value, done } = await within("the feed's end", 5000, reader.read());
      if (done) break;
      got += value;
    }
    assert.equal(got, FEED_FAILED);
    assert.equal(live.size, 0, "the ended feed's timer still runs");
    assert.equal(lines.filter((l) => l.includes("failed after its headers")).length, 1, lines.join(""));
  } finally {
    globalThis.setInterval = start;
    globalThis.clearInterval = stop;
    for (const id of live) stop(id as Parameters<typeof stop>[0]);
    setLogWriter(null);
    await web.close();
    sw.close();
  }
});

Deno.test("web: actions without a configured token are refused (403) and change nothing", async () => {
  const r = rig();
  try {
    const res = await fetch(`${r.base}/api/hub?on=1`, { method: "POST", headers: { "x-vde-token": TOKEN } });
    await res.body?.cancel();
    assert.equal(res.status, 403);
    assert.equal(r.sw.engine.hub, false);
  } finally {
    await r.close();
  }
});

Deno.test("web: an action fetched with GET (curl without -X POST) gets 405 naming POST, not 404", async () => {
  const r = rig(TOKEN);
  try {
    const res = await fetch(`${r.base}/api/hub?on=1`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
    assert.match(await res.text(), /POST it/);
    assert.equal(r.sw.engine.hub, false);
  } finally {
    await r.close();
  }
});

Deno.test("web: with --http-token, a wrong token gets 403; the right one toggles hub mode and ports", async () => {
  const r = rig(TOKEN);
  const post = async (path: string, token?: string) => {
    const res = await fetch(`${r.base}${path}`, {
      method: "POST",
      headers: token === undefined ? {} : { "x-vde-token": token },
    });
    await res.body?.cancel();
    return res.status;
  };
  try {
    assert.equal(await post("/api/hub?on=1"), 403);
    assert.equal(await post("/api/hub?on=1", "s3cret-token-for-tesTs"), 403);
    assert.equal(r.sw.engine.hub, false);
    assert.equal(await post("/api/hub?on=1", TOKEN), 200);
    assert.equal(r.sw.engine.hub, true);
    assert.equal(await post("/api/port?port=2&on=0", TOKEN), 200);
    assert.equal(r.sw.engine.isActive(2), false);
    r.a.receive(ethFrame(mac(2), mac(1), 1));
    assert.equal(r.b.sent.length, 0, "a disabled port gets nothing");
    r.sw.attach(new MemoryLink("late client"), { port: 2 });
    assert.equal(r.sw.engine.isActive(2), false, "a client joining a disabled port leaves it disabled");
    assert.equal(await post("/api/port?port=2&on=1", TOKEN), 200);
    r.a.receive(ethFrame(mac(2), mac(1), 2));
    assert.equal(r.b.sent.length, 1);
    assert.equal(await post("/api/port?port=6&on=1", TOKEN), 404);
  } finally {
    await r.close();
  }
});

/** POSTs `path` with the token: its status and body, as `404 no such port...`. */
async function postWithToken(base: string, path: string): Promise<string> {
  const res = await fetch(`${base}${path}`, { method: "POST", headers: { "x-vde-token": TOKEN } });
  return `${res.status} ${await res.text()}`;
}

Deno.test("web: a port action on a port with no client says so, and one out of range names the range", async () => {
  const r = rig(TOKEN);
  const said = (path: string) => postWithToken(r.base, path);
  try {
    assert.equal(
      await said("/api/port?port=6&on=0"),
      "404 port 6 has no client: a port exists while one is plugged in (or after port/create 6)\n",
    );
    const range = `404 no such port: the switch's ports are 0-${r.sw.numPorts - 1}\n`;
    assert.equal(await said(`/api/port?port=${r.sw.numPorts}&on=0`), range);
    const required = `400 port=N is required, N a port number (the switch's are 0-${r.sw.numPorts - 1})\n`;
    assert.equal(await said("/api/port?port=abc&on=0"), required);
  } finally {
    await r.close();
  }
});

Deno.test("web: a port action with no port=, an empty one or one not in digits acts on no port (Number() made them port 0, or 0x2 port 2)", async () => {
  const r = rig(TOKEN);
  const said = (path: string) => postWithToken(r.base, path);
  try {
    r.sw.attach(new MemoryLink("on port 0"), { port: 0 });
    assert.equal(r.sw.engine.isActive(0), true);
    const required = `400 port=N is required, N a port number (the switch's are 0-${r.sw.numPorts - 1})\n`;
    for (
      const path of [
        "/api/port?on=0",
        "/api/port?port=&on=0",
        "/api/port?port=0x2&on=0",
        "/api/port?port=%202&on=0",
      ]
    ) {
      assert.equal(await said(path), required, path);
    }
    assert.equal(r.sw.engine.isActive(0), true, "port 0 untouched");
    assert.equal(r.sw.engine.isActive(2), true, "port 2 untouched");
    assert.equal(await said("/api/port?port=2&on=0"), "200 port 2 down\n");
  } finally {
    await r.close();
  }
});

Deno.test("web: /topology.dot draws the switch and its clients, and Graphviz's dot accepts it", async (t) => {
  const r = rig();
  try {
    const res = await fetch(`${r.base}/topology.dot`);
    const dot = await res.text();
    assert.match(dot, /port1 \[shape=ellipse, label="qemu vm1"\]/);
    assert.match(dot, /switch -- port2 \[label="port 2, VLAN 0"\]/);
    if (skipUnless(t, (await hasCommand("dot")) ? null : "dot missing (Debian graphviz)")) return;
    const svg = await run(["dot", "-Tsvg"], { input: dot });
    assert.equal(svg.stderr, "");
    assert.match(svg.stdout, /<svg[\s\S]*vde_plug pid 7/);
  } finally {
    await r.close();
  }
});
