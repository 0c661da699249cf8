/**
 * `vde switch --http` as a user runs it: Debian's vde_plug as the client,
 * curl-style scrapes checked by Debian's promtool, and the live page in
 * headless Chromium updating without a reload.
 */
import assert from "node:assert/strict";
import { hasCommand, run, skipUnless, waitFor } from "../helpers/processes.ts";
import { loggedUrl, otherLocalAddress } from "../helpers/ports.ts";
import { startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { BROADCAST, ethFrame, mac, StdioClient, waitUntilAccepting, within } from "../helpers/vde_clients.ts";
import { HeadlessPage } from "../helpers/chromium.ts";
import { assertPromtoolClean, skipWithoutPromtool } from "../helpers/promtool.ts";

/** Our switch on a fresh directory with --http, and Debian's vde_plug plugged in. */
async function start(extra: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "vde-web-e2e-" });
  // Port 0: the kernel picks the port as the switch listens, and the switch logs its URL. A port
  // freed by the test before the switch starts may be taken meanwhile by a parallel run.
  const sw: SwitchHandle = await startOurSwitch(`${dir}/sw`, {
    extraArgs: ["--http", "127.0.0.1:0", ...extra],
  });
  await waitUntilAccepting(`${dir}/sw`);
  const base = await loggedUrl(sw.stderr, /web view on (http:\/\/\S+?)\/ /, "the switch's web view");
  const plug = StdioClient.vdePlug(`${dir}/sw`);
  await waitFor(async () => (await (await fetch(`${base}/metrics`)).text()).includes("vdeplug: user="), {
    timeoutMs: 10_000,
    what: "vde_plug's port in /metrics",
  });
  return {
    base,
    plug,
    sock: `${dir}/sw`,
    stderr: () => sw.stderr(),
    async close() {
      await plug.stop();
      await sw.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** vde_plug's port's received frames: its port is the one vde_port_info names "vdeplug: ...". */
function received(text: string): number {
  const info = /^vde_port_info\{[^}]*port="(\d+)",name="vdeplug: [^}]*\} 1$/m.exec(text);
  assert.ok(info, text);
  const m = new RegExp(`^vde_port_receive_packets_total\\{[^}]*port="${info[1]}"\\} (\\d+)$`, "m").exec(text);
  assert.ok(m, text);
  return Number(m[1]);
}

Deno.test("vde switch --http: vde_plug's frames raise /metrics by exactly their count; promtool finds no problem", async (t) => {
  if (await skipWithoutPromtool(t)) return;
  if (skipUnless(t, (await hasCommand("vde_plug")) ? null : "vde_plug missing (Debian vdeplug)")) return;
  const r = await start();
  try {
    const before = received(await (await fetch(`${r.base}/metrics`)).text());
    const N = 25;
    for (let i = 0; i < N; i++) await r.plug.send(ethFrame(BROADCAST, mac(1), i));
    let text = "";
    await waitFor(async () => {
      text = await (await fetch(`${r.base}/metrics`)).text();
      return received(text) >= before + N;
    }, { timeoutMs: 10_000, what: `${N} frames in the counters` });
    assert.equal(received(text), before + N);
    await assertPromtoolClean(text);
    const missing = await fetch(`${r.base}/favicon.ico`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404);
  } finally {
    await r.close();
  }
});

Deno.test("vde switch --http: 2,000 connections held open from one address neither stop a scrape from another nor a plug on the ctl socket; they are closed within the request bound and logged once", async (t) => {
  if (await skipWithoutPromtool(t)) return;
  if (skipUnless(t, (await hasCommand("vde_plug")) ? null : "vde_plug missing (Debian vdeplug)")) return;
  if (skipUnless(t, (await hasCommand("curl")) ? null : "curl missing")) return;
  const other = otherLocalAddress();
  const r = await start();
  const port = Number(new URL(r.base).port);
  const held: Deno.TcpConn[] = [];
  let second: StdioClient | undefined;
  try {
    for (let i = 0; i < 2000; i++) held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    // Slowloris: the admitted ones start a request and never end its head.
    for (const c of held) await c.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\n")).catch(() => 0);
    const scrape = await run([
      "curl",
      "-sS",
      "--max-time",
      "8",
      "--interface",
      other,
      `${r.base}/metrics`,
    ]);
    assert.ok(scrape.success, scrape.stderr);
    await assertPromtoolClean(scrape.stdout);
    second = StdioClient.vdePlug(r.sock);
    await waitFor(async () => {
      const text = (await run(["curl", "-sS", "--interface", other, `${r.base}/metrics`])).stdout;
      return (text.match(/name="vdeplug: /g) ?? []).length === 2;
    }, { timeoutMs: 10_000, what: "a second vde_plug's port in /metrics" });
    // Every held connection is ended by the switch within the request bound (5 s) and a sweep.
    const buf = new Uint8Array(16);
    const start = Date.now();
    for (const c of held) {
      assert.equal(await within("a held connection's end", 9000, c.read(buf).catch(() => null)), null);
    }
    assert.ok(Date.now() - start < 9000);
    assert.equal(r.stderr().match(/refused \d+ connections?: at most 256 open/g)?.length, 1, r.stderr());
  } finally {
    for (const c of held) c.close();
    await second?.stop();
    await r.close();
  }
});

Deno.test("vde switch --http: the page in headless Chromium lists vde_plug, shows its counter rise without a reload and names every switch-wide counter", async (t) => {
  if (skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) return;
  if (skipUnless(t, (await hasCommand("vde_plug")) ? null : "vde_plug missing (Debian vdeplug)")) return;
  const r = await start();
  const page = await HeadlessPage.open(412, 900);
  try {
    await page.goto(`${r.base}/`);
    const rowText = `[...document.querySelectorAll("#ports tr")].map((tr) => tr.innerText).join("\\n")`;
    await page.waitUntil<boolean>(
      `${rowText}.includes("vdeplug: user=")`,
      "the client's description on the page",
    );
    const rx = `Number(document.querySelector("#port-1 .rx-frames")?.textContent ?? -1)`;
    const before = await page.evaluate<number>(rx);
    await page.evaluate<void>(`window.vdeLoads = performance.getEntriesByType("navigation").length`);
    const N = 5;
    for (let i = 0; i < N; i++) await r.plug.send(ethFrame(BROADCAST, mac(1), i));
    await page.waitUntil<boolean>(`${rx} === ${before + N}`, `the rx counter to reach ${before + N}`);
    // Still the same document: the update came over the event feed, not a reload.
    assert.equal(await page.evaluate<number>("window.vdeLoads"), 1);
    await page.waitUntil<boolean>(
      `document.querySelector("#macs").innerText.includes("02:00:00:00:00:01")`,
      "the client's MAC in the table",
    );
    // The switch-wide counters' line, every counter named as the page has always named it.
    assert.match(
      await page.evaluate<string>(`document.querySelector("#counters").textContent`),
      /^flooded [1-9]\d* · unicast \d+ · filtered \d+ · dropped: short 0, oversize 0, bad port 0, VLAN 0, mirror 0, snooping 0, STP 0$/,
    );
    await page.keepScreenshot("switch-page.png", "the live page");
  } finally {
    await page.close();
    await r.close();
  }
});
