/**
 * The /metrics-only server of `vde slirp`, `vde cable listen` and `vde
 * wirefilter` with `--http`: its bare address points to /metrics, as an
 * exporter's landing page does, and other paths say where the metrics are.
 */
import assert from "node:assert/strict";
import { startMetricsServer } from "../../src/web/metrics_server.ts";

Deno.test("metrics server: / points to /metrics, an unknown path's 404 names it, /metrics serves", async () => {
  const server = startMetricsServer("vde test", "127.0.0.1:0", () => "# TYPE x counter\nx 1\n");
  const base = server.url.replace(/\/metrics$/, "");
  try {
    const root = await fetch(`${base}/`);
    assert.equal(root.status, 200);
    assert.equal(await root.text(), "vde test: metrics at /metrics\n");
    const other = await fetch(`${base}/metric`);
    assert.equal(other.status, 404);
    assert.match(await other.text(), /metrics are at \/metrics/);
    const metrics = await fetch(server.url);
    assert.equal(await metrics.text(), "# TYPE x counter\nx 1\n");
  } finally {
    await server.close();
  }
});
