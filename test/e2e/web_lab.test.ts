/**
 * `vde up lab.yaml --http` as a user runs it: the lossy-WAN example lab in
 * the background, its /metrics judged by Debian's promtool, its
 * /topology.dot drawn by Graphviz's dot, and its page naming every node.
 */
import assert from "node:assert/strict";
import { freePort } from "../helpers/ports.ts";
import { hasCommand, run, skipUnless, skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { assertPromtoolClean, skipWithoutPromtool } from "../helpers/promtool.ts";
import { vde, withLabFile } from "../lab/_helpers.ts";

async function get(url: string): Promise<string> {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return await r.text();
}

Deno.test("vde up --http: one server shows every switch of the lab in /metrics, the lab as DOT, and a page of its nodes", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (await skipWithoutPromtool(t)) return;
  if (skipUnless(t, (await hasCommand("dot")) ? null : "dot missing (Debian graphviz)")) return;
  await withLabFile({ example: "lossy-wan.yaml" }, async (name, file) => {
    const port = freePort();
    const up = await vde(["up", "-d", file, "--http", `127.0.0.1:${port}`]);
    assert.equal(up.code, 0, up.stderr);
    const base = `http://127.0.0.1:${port}`;
    let metrics = "";
    await waitFor(async () => {
      metrics = await get(`${base}/metrics`);
      return metrics.includes('switch="site2"');
    }, { timeoutMs: 15_000, what: "both switches in /metrics" });
    assert.match(metrics, /^vde_port_receive_packets_total\{switch="site1",port="\d+",name="[^"]*"\} \d+$/m);
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
