/**
 * What every vde web server does for the browser, over a real guarded
 * server and raw requests (fetch cannot set Host): a rebound name gets 421
 * and no data, a cross-site request that may change state gets 403 before
 * the handler runs, and every answer carries the headers a page needs.
 */
import assert from "node:assert/strict";
import { BASE_CSP, crossOrigin, crossSiteFetch } from "../../src/web/browser_guard.ts";
import { serveGuarded } from "../../src/web/guarded_server.ts";
import { within } from "../helpers/vde_clients.ts";
import { Switch } from "../../src/switch/switch.ts";
import { SwitchStatus } from "../../src/web/status.ts";
import { WebServer } from "../../src/web/server.ts";
import { startMetricsServer } from "../../src/web/metrics_server.ts";
import { LabWebServer } from "../../src/web/lab_server.ts";
import { setLogWriter } from "../../src/log.ts";

/** A server whose every GET answers a secret and whose POSTs are counted. */
function secretServer() {
  const state = { posts: 0 };
  const server = serveGuarded("test", { hostname: "127.0.0.1", port: 0 }, (req) => {
    if (req.method === "POST" || req.method === "OPTIONS") state.posts++;
    return new Response("client names and MACs\n");
  });
  return { server, state, port: server.addr.port };
}

/** One raw request to a TCP port or a unix socket's path; the answer's status, headers (lower-case names) and body. */
async function raw(
  to: number | string,
  head: string,
): Promise<{ status: number; headers: Map<string, string>; body: string }> {
  const conn = typeof to === "number"
    ? await Deno.connect({ hostname: "127.0.0.1", port: to })
    : await Deno.connect({ transport: "unix", path: to });
  try {
    await conn.write(new TextEncoder().encode(`${head}Connection: close\r\n\r\n`));
    let text = "";
    const buf = new Uint8Array(8192);
    await within(
      "the answer",
      5000,
      (async () => {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) return;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
      })(),
    );
    const [top, ...rest] = text.split("\r\n\r\n");
    const lines = top!.split("\r\n");
    const headers = new Map(
      lines.slice(1).map((
        l,
      ) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
    );
    return { status: Number(lines[0]!.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

Deno.test("browser guard: a DNS-rebound name (Host: evil.example) gets 421 and none of the data; localhost and the address are answered", async () => {
  const { server, port } = secretServer();
  try {
    for (const host of ["evil.example", `evil.example:${port}`, `127.0.0.1.nip.io:${port}`]) {
      const r = await raw(port, `GET /metrics HTTP/1.1\r\nHost: ${host}\r\n`);
      assert.equal(r.status, 421, host);
      assert.doesNotMatch(r.body, /MACs/);
      assert.match(r.body, new RegExp(`DNS rebinding.*http://localhost:${port}/`));
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, "localhost:8080"]) {
      const r = await raw(port, `GET /metrics HTTP/1.1\r\nHost: ${host}\r\n`);
      assert.equal(r.status, 200, host);
      assert.match(r.body, /MACs/);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("browser guard: an empty Host, two Hosts and a HEAD of a rebound name get none of the data", async () => {
  const { server, port } = secretServer();
  try {
    const heads = [
      "GET /metrics HTTP/1.1\r\nHost: \r\n",
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n",
      "GET /metrics HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1\r\n",
      "HEAD /metrics HTTP/1.1\r\nHost: evil.example\r\n",
    ];
    for (const head of heads) {
      const r = await raw(port, head);
      assert.ok(r.status === 421 || r.status === 400, `${JSON.stringify(head)}: ${r.status}`);
      assert.doesNotMatch(r.body, /MACs/);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("browser guard: beyond the loopback the machine's own name is answered, not a name under it; VDE_HTTP_HOSTS' names on any server", async () => {
  Deno.env.set("VDE_HTTP_HOSTS", "vde-proxy.example");
  const wide = serveGuarded(
    "test",
    { hostname: "0.0.0.0", port: 0 },
    () => new Response("client names and MACs\n"),
  );
  const { server, port } = secretServer();
  Deno.env.delete("VDE_HTTP_HOSTS");
  const own = Deno.hostname().toLowerCase();
  try {
    const status = async (to: number, host: string) =>
      (await raw(to, `GET /metrics HTTP/1.1\r\nHost: ${host}\r\n`)).status;
    assert.equal(await status(wide.addr.port, `${own}:9100`), 200);
    assert.equal(await status(wide.addr.port, `${own}.evil.example:9100`), 421);
    assert.equal(await status(wide.addr.port, "vde-proxy.example"), 200);
    assert.equal(await status(port, "vde-proxy.example:443"), 200);
    assert.equal(await status(port, `${own}:9100`), 421); // the loopback's server: its name is no way in
    assert.equal(await status(port, "x.vde-proxy.example"), 421);
  } finally {
    await wide.shutdown();
    await server.shutdown();
  }
});

Deno.test("browser guard: a cross-site POST, form or preflight gets 403 before the handler runs; same-origin and scripted ones reach it", async () => {
  const { server, state, port } = secretServer();
  const host = `127.0.0.1:${port}`;
  try {
    const hostile = [
      `POST /api/hub?on=1 HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n`,
      `POST /api/hub?on=1 HTTP/1.1\r\nHost: ${host}\r\nOrigin: null\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n`,
      `OPTIONS /api/hub HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: x-vde-token\r\n`,
      `POST /api/hub?on=1 HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://localhost:${port}\r\nContent-Length: 0\r\n`,
    ];
    for (const head of hostile) {
      const r = await raw(port, head);
      assert.equal(r.status, 403, head);
      assert.ok(![...r.headers.keys()].some((k) => k.startsWith("access-control-")), head);
    }
    assert.equal(state.posts, 0);
    const same = await raw(
      port,
      `POST /api/hub?on=1 HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nContent-Length: 0\r\n`,
    );
    const curl = await raw(port, `POST /api/hub?on=1 HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\n`);
    assert.equal(same.status, 200);
    assert.equal(curl.status, 200);
    assert.equal(state.posts, 2);
    // Reading is not changing: a cross-site GET (an <img>, a link) is answered, its body unreadable to the other site.
    assert.equal(
      (await raw(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://evil.example\r\n`)).status,
      200,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("browser guard: another site's page fetching (EventSource, fetch, img) gets 403 before the handler; navigations, the page's own fetches and scripts reach it", async () => {
  const { server, port } = secretServer();
  const host = `127.0.0.1:${port}`;
  try {
    for (const [site, mode, dest] of [["cross-site", "cors", "empty"], ["same-site", "no-cors", "image"]]) {
      const r = await raw(
        port,
        `GET /events HTTP/1.1\r\nHost: ${host}\r\nSec-Fetch-Site: ${site}\r\nSec-Fetch-Mode: ${mode}\r\nSec-Fetch-Dest: ${dest}\r\n`,
      );
      assert.equal(r.status, 403, `${site} ${mode}`);
      assert.doesNotMatch(r.body, /MACs/);
    }
    for (const [site, mode] of [["cross-site", "navigate"], ["same-origin", "cors"], ["none", "navigate"]]) {
      const r = await raw(
        port,
        `GET / HTTP/1.1\r\nHost: ${host}\r\nSec-Fetch-Site: ${site}\r\nSec-Fetch-Mode: ${mode}\r\n`,
      );
      assert.equal(r.status, 200, `${site} ${mode}`);
    }
    assert.equal(
      (await raw(port, `GET /metrics HTTP/1.1\r\nHost: ${host}\r\n`)).status,
      200,
      "a scraper sends none",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("browser guard: every answer, refusals too, says nosniff, denies framing and referrers, and has a policy; no CORS header", async () => {
  const { server, port } = secretServer();
  try {
    for (
      const head of [
        `GET / HTTP/1.1\r\nHost: localhost:${port}\r\n`,
        `GET / HTTP/1.1\r\nHost: evil.example\r\n`,
      ]
    ) {
      const r = await raw(port, head);
      assert.equal(r.headers.get("x-content-type-options"), "nosniff", head);
      assert.equal(r.headers.get("x-frame-options"), "DENY", head);
      assert.equal(r.headers.get("referrer-policy"), "no-referrer", head);
      assert.equal(r.headers.get("content-security-policy"), BASE_CSP, head);
      assert.match(BASE_CSP, /frame-ancestors 'none'/);
      assert.ok(![...r.headers.keys()].some((k) => k.startsWith("access-control-")), head);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("browser guard: a handler that throws is answered 500 with every answer's headers and one line, logged rate-limited; the server keeps serving", async () => {
  const lines: string[] = [];
  setLogWriter((l) => lines.push(l));
  const server = serveGuarded("test", { hostname: "127.0.0.1", port: 0 }, (req) => {
    if (new URL(req.url).pathname === "/boom") throw new Error("the handler's bug\nsecond line");
    return new Response("fine\n");
  });
  const port = server.addr.port;
  try {
    for (let i = 0; i < 15; i++) {
      const r = await raw(port, `GET /boom?token=s3cret HTTP/1.1\r\nHost: localhost:${port}\r\n`);
      assert.equal(r.status, 500);
      assert.equal(r.body, "internal error (logged by the server)\n");
      assert.equal(r.headers.get("x-content-type-options"), "nosniff");
      assert.equal(r.headers.get("x-frame-options"), "DENY");
      assert.equal(r.headers.get("referrer-policy"), "no-referrer");
      assert.equal(r.headers.get("cross-origin-resource-policy"), "same-origin");
      assert.equal(r.headers.get("content-security-policy"), BASE_CSP);
    }
    const ok = await raw(port, `GET / HTTP/1.1\r\nHost: localhost:${port}\r\n`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "fine\n");
    const failed = lines.filter((l) => l.includes("failed"));
    assert.equal(failed.length, 10, failed.join("\n")); // the rest held back, counted in the next interval's line
    assert.match(failed[0]!, /GET "\/boom" failed: Error: the handler's bug\n$/);
    assert.ok(!lines.some((l) => l.includes("s3cret") || l.includes("second line")));
  } finally {
    setLogWriter(null);
    await server.shutdown();
  }
});

Deno.test("browser guard: which requests are another site's", () => {
  assert.ok(!crossOrigin("GET", "http://evil.example", "localhost:1"));
  assert.ok(!crossOrigin("POST", null, "localhost:1"));
  assert.ok(!crossOrigin("POST", "http://[::1]:9100", "[::1]:9100"));
  assert.ok(crossOrigin("POST", "http://[::1]:9101", "[::1]:9100"));
  assert.ok(crossOrigin("DELETE", "null", "localhost:1"));
  assert.ok(crossOrigin("POST", "http://localhost:1", null));
  assert.ok(crossSiteFetch("cross-site", "cors") && crossSiteFetch("same-site", "no-cors"));
  assert.ok(crossSiteFetch("cross-site", null));
  assert.ok(!crossSiteFetch("cross-site", "navigate") && !crossSiteFetch("same-origin", "cors"));
  assert.ok(!crossSiteFetch("none", "navigate") && !crossSiteFetch(null, null));
});

Deno.test("browser guard: every server vde runs (switch, /metrics alone, lab, a rootless lab's relayed page) refuses a rebound Host", async () => {
  const sw = new Switch({ numPorts: 4 });
  const lab = { lab: { name: "demo", nodes: [], links: [] }, switches: new Map([["sw", { sw }]]) };
  const dir = await Deno.makeTempDir({ prefix: "vde-guard-" });
  setLogWriter(() => {});
  const web = WebServer.start(new SwitchStatus(sw, "sw"), { hostname: "127.0.0.1", port: 0 });
  const metrics = startMetricsServer("vde slirp", "127.0.0.1:0", () => "x 1\n");
  const labWeb = LabWebServer.start(lab, { hostname: "127.0.0.1", port: 0 });
  const relayed = LabWebServer.start(lab, { path: `${dir}/page`, url: "http://127.0.0.1:9100/" });
  try {
    const targets: [string, number | string][] = [
      ["switch", web.addr.port],
      ["metrics", Number(new URL(metrics.url).port)],
      ["lab", Number(new URL(labWeb.url).port)],
      ["relayed lab", `${dir}/page`],
    ];
    for (const [what, to] of targets) {
      assert.equal((await raw(to, "GET /metrics HTTP/1.1\r\nHost: evil.example:9100\r\n")).status, 421, what);
      const ok = await raw(to, "GET /metrics HTTP/1.1\r\nHost: localhost:9100\r\n");
      assert.equal(ok.status, 200, what);
      assert.equal(ok.headers.get("x-content-type-options"), "nosniff", what);
    }
  } finally {
    await web.close();
    await metrics.close();
    await labWeb.close();
    await relayed.close();
    setLogWriter(null);
    sw.close();
    await Deno.remove(dir, { recursive: true });
  }
});
