/**
 * `vde switch --http` attacked from the browser's side, as a user who
 * browses the web beside a lab meets it: hostile vde clients (ctl request
 * descriptions with markup, quotes, backslashes, newlines, a NUL and 4 KB)
 * must come out escaped in the page (headless Chromium, its script running
 * under the page's hash-only policy), in /metrics (promtool), in
 * /topology.dot (Graphviz) and in the event feed; and a page whose name
 * rebinds to 127.0.0.1 (Chromium's resolver told so) reads nothing.
 */
import assert from "node:assert/strict";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";
import { loggedUrl } from "../helpers/ports.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { RawClient, waitUntilAccepting } from "../helpers/vde_clients.ts";
import { HeadlessPage } from "../helpers/chromium.ts";
import { assertPromtoolClean, skipWithoutPromtool } from "../helpers/promtool.ts";
import { buildVdeRequest, REQ_NEW_CONTROL } from "../../src/wire/vde_request.ts";

/** Descriptions a local user's client may send, each under vdeplug4's 127 bytes. */
const HOSTILE = [
  `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`,
  `a"b\\c\nd\re\tf</script><!--g --> \\" \\n`,
];

/** A client whose request carries 4 KB of description: markup, multi-byte text, a NUL, more after it. */
async function bigClient(dir: string): Promise<RawClient> {
  const c = await RawClient.connect(dir);
  const head = buildVdeRequest({ kind: REQ_NEW_CONTROL, port: 0, socketPath: c.dataPath, description: "" });
  const tail = new TextEncoder().encode(
    `<svg onload="window.pwned=3">` + "é😀".repeat(600) + "\0" + "<b>after the NUL</b>".repeat(50),
  );
  const bytes = new Uint8Array(head.length + tail.length);
  bytes.set(head);
  bytes.set(tail, head.length);
  await c.sendRaw(bytes);
  const r = await c.awaitReply(5000);
  assert.equal(r.type, "reply", "the switch takes the 4 KB request (cutting its description)");
  if (r.type === "reply") c.data.connect(r.path);
  return c;
}

Deno.test("vde switch --http: hostile client descriptions come out escaped in the page (no script of theirs runs), /metrics, /topology.dot and the feed", async (t) => {
  if (skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) return;
  if (await skipWithoutPromtool(t)) return;
  if (skipUnless(t, (await hasCommand("dot")) ? null : "dot missing (Debian graphviz)")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-web-hostile-" });
  const sw = await startOurSwitch(`${dir}/sw`, { extraArgs: ["--http", "127.0.0.1:0"] });
  const clients: RawClient[] = [];
  let page: HeadlessPage | undefined;
  try {
    await waitUntilAccepting(`${dir}/sw`);
    const base = await loggedUrl(sw.stderr, /web view on (http:\/\/\S+?)\/ /, "the switch's web view");
    for (const d of HOSTILE) {
      const c = await RawClient.connect(`${dir}/sw`);
      clients.push(c);
      await c.handshake(undefined, d);
    }
    clients.push(await bigClient(`${dir}/sw`));

    const status = await (await fetch(`${base}/status.json`)).json() as { ports: { name: string }[] };
    const names = status.ports.map((p) => p.name);
    for (const d of HOSTILE) assert.ok(names.includes(d), `${JSON.stringify(d)} in ${JSON.stringify(names)}`);
    const big = names.find((n) => n.startsWith("<svg"));
    assert.ok(big !== undefined && big.length <= 127 && !big.includes("after the NUL"), big);

    // Prometheus: each name a label value promtool accepts, the escapes reading back to the name.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    await assertPromtoolClean(metrics);
    assert.ok(metrics.includes(`name="a\\"b\\\\c\\nd\re\tf</script><!--g --> \\\\\\" \\\\n"`), metrics);

    // Graphviz reads the DOT and draws each name as written.
    const dotText = await (await fetch(`${base}/topology.dot`)).text();
    const drawn = await run(["dot", "-Tjson"], { input: dotText, check: false });
    assert.equal(drawn.code, 0, drawn.stderr);
    const labels = (JSON.parse(drawn.stdout).objects as { label?: string }[]).map((o) => o.label);
    assert.ok(labels.includes(HOSTILE[0]), JSON.stringify(labels));

    // The feed: one event per line pair, its JSON the same names.
    const feed = await fetch(`${base}/events`);
    const reader = feed.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    assert.match(first, /^data: [^\n]*\n\n$/);
    assert.deepEqual(JSON.parse(first.slice(6)).ports.map((p: { name: string }) => p.name), names);

    page = await HeadlessPage.open();
    await page.goto(`${base}/`);
    // The page's own script ran under its policy (it drew the state line), and drew each name as text.
    await page.waitUntil<boolean>(
      `document.querySelector("#state").textContent.includes("updated")`,
      "the page's script drawing under its policy",
    );
    const cells = await page.evaluate<string[]>(
      `[...document.querySelectorAll("#ports tr")].map((tr) => tr.children[1].textContent)`,
    );
    for (const d of HOSTILE) assert.ok(cells.includes(d), `${JSON.stringify(d)} in ${JSON.stringify(cells)}`);
    assert.equal(await page.evaluate<string>(`String(window.pwned)`), "undefined");
    assert.equal(await page.evaluate<number>(`document.querySelectorAll("img, svg, b, iframe").length`), 0);
    // An inline script that got in anyway would not run: the policy names only the page's own by hash.
    assert.equal(
      await page.evaluate<string>(
        `(() => { const s = document.createElement("script"); s.textContent = "window.pwned = 4";
          document.body.appendChild(s); return String(window.pwned); })()`,
      ),
      "undefined",
    );
  } finally {
    await page?.close();
    for (const c of clients) await c.close();
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("vde switch --http: a page whose name rebinds to 127.0.0.1 reads none of the switch (421) in Chromium; localhost still shows it", async (t) => {
  if (skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-web-rebind-" });
  const sw = await startOurSwitch(`${dir}/sw`, { extraArgs: ["--http", "127.0.0.1:0"] });
  let page: HeadlessPage | undefined;
  try {
    await waitUntilAccepting(`${dir}/sw`);
    const base = await loggedUrl(sw.stderr, /web view on (http:\/\/\S+?)\/ /, "the switch's web view");
    const port = new URL(base).port;
    // The attacker's DNS answering 127.0.0.1 for its own name, as rebinding does after the first load.
    page = await HeadlessPage.open(1280, 900, ["--host-resolver-rules=MAP evil.example 127.0.0.1"]);
    // Each path the rebound page would read: the refusal instead (its own fetches are the same requests).
    for (const path of ["/", "/metrics", "/status.json", "/topology.dot", "/events"]) {
      await page.goto(`http://evil.example:${port}${path}`);
      const refused = await page.waitUntil<string>(
        `location.pathname === ${
          JSON.stringify(path)
        } && document.body?.innerText.includes("DNS rebinding") &&
          document.body.innerText`,
        `the refusal of ${path} in the rebound page`,
      );
      assert.match(refused, new RegExp(`browse http://localhost:${port}/`), path);
      assert.doesNotMatch(refused, /vde_port|ports|graph vde/, path);
    }
    await page.goto(`http://localhost:${port}/`);
    await page.waitUntil<boolean>(
      `document.querySelector("#state")?.textContent.includes("updated")`,
      "the page at localhost",
    );
  } finally {
    await page?.close();
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("vde switch --http-token: the page's own hub button still works under the Origin check and its policy; a cross-site form post and no-cors fetch from another origin change nothing", async (t) => {
  if (skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-web-csrf-" });
  const token = "csrf-test-token-0123";
  await Deno.writeTextFile(`${dir}/token`, `${token}\n`, { mode: 0o600 });
  const sw = await startOurSwitch(`${dir}/sw`, {
    extraArgs: ["--http", "127.0.0.1:0", "--http-token", `${dir}/token`],
  });
  // The hostile site: another origin that posts to the switch as soon as it loads.
  let target = "";
  const evil = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () =>
    new Response(
      `<!doctype html><form id="f" method="POST" action="${target}/api/hub?on=1" enctype="text/plain">` +
        `<input name="x-vde-token" value="${token}"></form><script>
        fetch("${target}/api/hub?on=1&x-vde-token=${token}", { method: "POST", mode: "no-cors", body: "x" })
          .finally(() => { document.title = "sent"; document.getElementById("f").submit(); });
        </script>`,
      { headers: { "content-type": "text/html" } },
    ));
  let page: HeadlessPage | undefined;
  const hub = async () => (await (await fetch(`${target}/status.json`)).json() as { hub: boolean }).hub;
  try {
    await waitUntilAccepting(`${dir}/sw`);
    target = await loggedUrl(sw.stderr, /web view on (http:\/\/\S+?)\/ /, "the switch's web view");
    page = await HeadlessPage.open();
    await page.goto(`http://127.0.0.1:${evil.addr.port}/`);
    // The form's navigation lands on the switch's refusal.
    await page.waitUntil<boolean>(
      `location.port === ${JSON.stringify(new URL(target).port)} && document.body?.innerText.length > 0`,
      "the cross-site form's post answered",
    );
    assert.match(await page.evaluate<string>("document.body.innerText"), /another site's page/);
    assert.equal(await hub(), false, "hub mode unchanged by the other site");

    await page.goto(`${target}/`);
    await page.waitUntil<boolean>(`!document.querySelector("#admin").hidden`, "the token field");
    await page.evaluate<void>(`document.querySelector("#token").value = ${JSON.stringify(token)}`);
    await page.evaluate<void>(`document.querySelector("#hub").click()`);
    await page.waitUntil<boolean>(
      `document.querySelector("#msg").textContent === "hub on"`,
      "the action's answer",
    );
    assert.equal(await hub(), true);
  } finally {
    await page?.close();
    await evil.shutdown();
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("vde switch --http: another site's page cannot hold the live feeds or the connections (its EventSources to *.localhost get 403 and are closed), so the user's page still follows", async (t) => {
  if (skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-web-feeds-" });
  const sw = await startOurSwitch(`${dir}/sw`, { extraArgs: ["--http", "127.0.0.1:0"] });
  let port = 0;
  // The hostile site: 40 feeds, six per name (Chromium's per-host limit), each name under localhost.
  const evil = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () =>
    new Response(
      `<!doctype html><script>
        for (let i = 0; i < 40; i++) new EventSource("http://e" + (i % 8) + ".localhost:${port}/events");
        setTimeout(() => { document.title = "held"; }, 1500);
        </script>`,
      { headers: { "content-type": "text/html" } },
    ));
  let page: HeadlessPage | undefined;
  try {
    await waitUntilAccepting(`${dir}/sw`);
    const target = await loggedUrl(sw.stderr, /web view on (http:\/\/\S+?)\/ /, "the switch's web view");
    port = Number(new URL(target).port);
    page = await HeadlessPage.open();
    await page.goto(`http://127.0.0.1:${evil.addr.port}/`);
    await page.waitUntil<boolean>(`document.title === "held"`, "the hostile page's feeds opened");
    const feed = await fetch(`${target}/events`);
    assert.equal(feed.status, 200, "the user's feed is not refused as one too many");
    await feed.body?.cancel();
    // Refused, they are closed too: idle keep-alives from one name after another would hold the loopback's 64.
    const held = await run(["ss", "-Htn", "state", "established", `( sport = :${port} )`]);
    const open = held.stdout.split("\n").filter((l) => l.trim() !== "").length;
    assert.ok(open <= 2, `${open} of the hostile page's 40 connections left open`);
  } finally {
    await page?.close();
    await evil.shutdown();
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
