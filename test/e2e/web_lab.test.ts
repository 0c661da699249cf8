/**
 * `vde up lab.yaml --http` as a user runs it: the lossy-WAN example lab in
 * the background, its /metrics judged by Debian's promtool, its
 * /topology.dot drawn by Graphviz's dot, and its page naming every node;
 * then the page in headless Chromium, its WAN edge's rate moving while a
 * ping crosses the lab.
 */
import assert from "node:assert/strict";
import { webViewBase } from "../helpers/ports.ts";
import {
  hasCommand,
  type ManagedProcess,
  run,
  skipUnless,
  skipUnlessRoot,
  spawnManaged,
  waitFor,
} from "../helpers/processes.ts";
import { HeadlessPage } from "../helpers/chromium.ts";
import { netnsName } from "../../src/lab/names.ts";
import { assertPromtoolClean, skipWithoutPromtool } from "../helpers/promtool.ts";
import { vde, withLabFile } from "../lab/_helpers.ts";

async function get(url: string): Promise<string> {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return await r.text();
}

/**
 * `vde up -d FILE --http 127.0.0.1:0`; the server's base URL as `vde up -d` prints it (a port
 * freed by the test before the lab listens could be taken meanwhile by a parallel run).
 */
async function upWithHttp(file: string): Promise<string> {
  const up = await vde(["up", "-d", file, "--http", "127.0.0.1:0"]);
  assert.equal(up.code, 0, up.stderr);
  return webViewBase(up.stderr);
}

Deno.test("vde up --http: one server shows every switch of the lab in /metrics, the lab as DOT, and a page of its nodes", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (await skipWithoutPromtool(t)) return;
  if (skipUnless(t, (await hasCommand("dot")) ? null : "dot missing (Debian graphviz)")) return;
  await withLabFile({ example: "lossy-wan.yaml" }, async (name, file) => {
    const base = await upWithHttp(file);
    let metrics = "";
    await waitFor(async () => {
      metrics = await get(`${base}/metrics`);
      return metrics.includes('switch="site2"');
    }, { timeoutMs: 15_000, what: "both switches in /metrics" });
    assert.match(metrics, /^vde_port_receive_packets_total\{switch="site1",port="\d+"\} \d+$/m);
    assert.match(metrics, /^vde_fdb_moves_total\{switch="site2"\} \d+$/m);
    await assertPromtoolClean(metrics);

    const dot = await get(`${base}/topology.dot`);
    const svg = await run(["dot", "-Tsvg"], { input: dot, check: false });
    assert.equal(svg.code, 0, svg.stderr);
    assert.match(svg.stdout, /<svg/);
    assert.match(dot, /10% loss/);

    const page = await get(`${base}/`);
    for (const node of ["site1", "site2", "h1", "h2"]) assert.ok(page.includes(`id="node-${node}"`), node);
    assert.match(page, /10% loss/);
    const status = JSON.parse(await get(`${base}/status.json`)) as { switches: { name: string }[] };
    assert.deepEqual(status.switches.map((s) => s.name), ["site1", "site2"]);

    assert.equal((await vde(["down", name])).code, 0);
  });
});

Deno.test("vde up --http with a bad address is refused in one line and creates nothing", async () => {
  await withLabFile({ example: "lossy-wan.yaml" }, async (_name, file) => {
    const up = await vde(["up", "-d", file, "--http", "nope"]);
    assert.notEqual(up.code, 0);
    assert.match(up.stderr.trim(), /^[^\n]*--http wants \[ADDR:\]PORT[^\n]*$/);
  });
});

Deno.test("vde up --http: the lab page in headless Chromium draws the nodes and links, and a ping moves the WAN edge's rate without a reload", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) return;
  await withLabFile({ example: "lossy-wan.yaml" }, async (name, file) => {
    const base = await upWithHttp(file);
    let links: { name: string; a: string; b: string }[] = [];
    await waitFor(async () => {
      links = (JSON.parse(await get(`${base}/status.json`)) as { links: typeof links }).links;
      return links.length === 3;
    }, { timeoutMs: 15_000, what: "the lab's three links in /status.json" });
    const wan = links.find((l) => l.a === "site1" && l.b === "site2")!;
    assert.ok(wan, JSON.stringify(links));
    const page = await HeadlessPage.open(412, 1100);
    let ping: ManagedProcess | undefined;
    try {
      await page.goto(`${base}/`);
      for (const node of ["site1", "site2", "h1", "h2"]) {
        await page.waitUntil<boolean>(
          `document.getElementById("node-${node}") !== null`,
          `node ${node} drawn`,
        );
      }
      await page.waitUntil<boolean>(
        `document.querySelectorAll("#links tbody tr").length === 3`,
        "three rows in the links table",
      );
      const edge = `(document.getElementById(${JSON.stringify(`rate-${wan.name}`)})?.textContent ?? "")`;
      await page.waitUntil<boolean>(`${edge}.includes("site1→site2")`, "the WAN edge's rate text");
      await page.evaluate<void>(`window.vdeLoads = performance.getEntriesByType("navigation").length`);
      ping = spawnManaged(
        ["ip", "netns", "exec", netnsName(name, "h1"), "ping", "-c", "200", "-i", "0.05", "192.168.50.2"],
        { name: "ping" },
      );
      // Rates are the difference of two polls: non-zero frames/s on the edge while the ping runs.
      const rate = await page.waitUntil<string>(
        `/site1→site2 \\S+B\\/s [1-9]\\d* f\\/s/.test(${edge}) && ${edge}`,
        "a non-zero rate on the WAN edge",
        20_000,
      );
      assert.match(rate, /site2→site1 \S+B\/s \d+ f\/s/);
      assert.equal(await page.evaluate<number>("window.vdeLoads"), 1, "the same document: no reload");
      await page.keepScreenshot("lab-page.png", "the lab page");
    } finally {
      await ping?.stop();
      await page.close();
    }
    assert.equal((await vde(["down", name])).code, 0);
  });
});

Deno.test("vde up --http: the spanning tree example's page draws the blocked link faint and says why, as the switch's stp and /topology.dot do", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) return;
  if (skipUnless(t, (await hasCommand("dot")) ? null : "dot missing (Debian graphviz)")) return;
  await withLabFile({ example: "stp-loop.yaml" }, async (name, file) => {
    const base = await upWithHttp(file);
    const page = await HeadlessPage.open(412, 1100);
    try {
      await page.goto(`${base}/`);
      // Three switches in a triangle: once the tree has settled, exactly one of their links is blocked.
      const blocked = await page.waitUntil<string>(
        `(() => { const b = [...document.querySelectorAll("svg line.blocked")];
          return b.length === 1 && b[0].id; })()`,
        "one link drawn blocked",
        30_000,
      );
      const link = blocked.replace(/^line-/, "");
      const row = `document.getElementById(${JSON.stringify(`link-${link}`)})?.children[2]?.textContent`;
      assert.equal(await page.evaluate<string>(row), "yes (STP blocks)");
      // The console agrees: one of that link's switch ports discards.
      const ends = link.split("-").map((e) => e.split(":")[0]!);
      const stp = await Promise.all(ends.map((sw) => vde(["term", name, "-c", `${sw} stp`])));
      assert.ok(stp.some((r) => /\bdiscarding\b/.test(r.stdout)), stp.map((r) => r.stdout).join("\n"));
      // So does /topology.dot: that link alone dotted and labelled blocked, which dot draws.
      const dot = await (await fetch(`${base}/topology.dot`)).text();
      const marked = dot.split("\n").filter((l) => /label="blocked".*style=dotted/.test(l));
      assert.equal(marked.length, 1, dot);
      const [a, b] = ends.map((e) => `"${e}"`);
      assert.ok(marked[0]!.includes(`${a} -- ${b}`) || marked[0]!.includes(`${b} -- ${a}`), marked[0]);
      const svg = await run(["dot", "-Tsvg"], { input: dot, check: false });
      assert.equal(svg.stderr, "");
      await page.keepScreenshot("lab-page-stp.png", "the spanning tree lab's page");
    } finally {
      await page.close();
    }
    assert.equal((await vde(["down", name])).code, 0);
  });
});
