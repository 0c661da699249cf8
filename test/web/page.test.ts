/**
 * The switch page's markup: what a user sees before any script runs, and
 * the state the server writes into it for the first drawing.
 */
import assert from "node:assert/strict";
import { PAGE_CSP, PAGE_HTML, pageWith } from "../../src/web/page.ts";
import { assertDrawsFirst, assertPolicyFits } from "../helpers/page_first.ts";
import type { FeedUpdate } from "../../src/web/feed.ts";
import { ENGINE_COUNTER_NAMES, type EngineCounters } from "../../src/switch/engine.ts";

Deno.test("page: the MAC search box is wide enough to show its whole hint", () => {
  const input = /<input id="q"[^>]*>/.exec(PAGE_HTML)?.[0] ?? "";
  const size = Number(/size="(\d+)"/.exec(input)?.[1] ?? "0");
  const hint = (/placeholder="([^"]*)"/.exec(input)?.[1] ?? "").replaceAll("&quot;", '"');
  assert.ok(hint.includes("port N"), input);
  // A browser's default (20 characters) cut it at 'search MAC, VLAN or "'.
  assert.ok(size >= hint.length, `size ${size} for a hint of ${hint.length} characters`);
});

Deno.test("page: the state at the request is drawn at load, a client's name never closing the script", () => {
  const counters = Object.fromEntries(ENGINE_COUNTER_NAMES.map((n) => [n, 0])) as unknown as EngineCounters;
  const port = {
    port: 3,
    name: "evil </script><b>x",
    vlan: 10,
    up: true,
    clients: 1,
    bytesIn: 1,
    framesIn: 1,
    dropsIn: 0,
    bytesOut: 2,
    framesOut: 2,
    dropsOut: 0,
  };
  const first: FeedUpdate = {
    name: "/tmp/net",
    hub: false,
    writable: false,
    time: 1,
    ports: [port],
    counters,
    macs: [],
    macsMatched: 0,
    macsTotal: 0,
  };
  const html = pageWith(first);
  // The name's </script> is escaped inside the data block.
  assertDrawsFirst(html, first, "connect();");
});

Deno.test("page: its policy lets only its own script and style run, by hash, and forbids framing", () => {
  assertPolicyFits(PAGE_HTML, PAGE_CSP);
});
