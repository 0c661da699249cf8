/**
 * A slirp's /metrics text: each drop `slirp/print` counts is a series of
 * vde_slirp_drops_total, by reason, so a guest whose packets the slirp
 * drops is seen there, not only as traffic that stops.
 */
import assert from "node:assert/strict";
import { renderSlirpMetrics } from "../../src/web/slirp_metrics.ts";
import { testStack, udp4Frame } from "../slirp/helpers.ts";
import { assertPromtoolClean, metricValue, skipWithoutPromtool } from "../helpers/promtool.ts";

Deno.test("slirp metrics: a UDP packet to the DNS address's port 99 and a DNS query too short to be one are drops by reason, each once", async (t) => {
  const { stack } = testStack();
  try {
    stack.input(udp4Frame([10, 0, 2, 15], 40000, [10, 0, 2, 3], 99, new Uint8Array(8)));
    stack.input(udp4Frame([10, 0, 2, 15], 40001, [10, 0, 2, 3], 53, new Uint8Array(4)));
    const text = renderSlirpMetrics("/tmp/net", stack);
    const drops = (reason: string) =>
      metricValue(text, `vde_slirp_drops_total{slirp="/tmp/net",reason="${reason}"}`);
    assert.equal(drops("udp"), 1);
    assert.equal(drops("dns"), 1);
    for (const reason of ["icmp", "udp_malformed", "tcp_syn_limit", "tcp_malformed", "neighbour"]) {
      assert.equal(drops(reason), 0, reason);
    }
    assert.equal(text.split("\n").filter((l) => l === "# TYPE vde_slirp_drops_total counter").length, 1);
    if (!await skipWithoutPromtool(t)) await assertPromtoolClean(text);
  } finally {
    stack.close();
  }
});
