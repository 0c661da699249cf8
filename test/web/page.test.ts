/**
 * The switch page's markup: what a user sees before any script runs.
 */
import assert from "node:assert/strict";
import { PAGE_HTML } from "../../src/web/page.ts";

Deno.test("page: the MAC search box is wide enough to show its whole hint", () => {
  const input = /<input id="q"[^>]*>/.exec(PAGE_HTML)?.[0] ?? "";
  const size = Number(/size="(\d+)"/.exec(input)?.[1] ?? "0");
  const hint = (/placeholder="([^"]*)"/.exec(input)?.[1] ?? "").replaceAll("&quot;", '"');
  assert.ok(hint.includes("port N"), input);
  // A browser's default (20 characters) cut it at 'search MAC, VLAN or "'.
  assert.ok(size >= hint.length, `size ${size} for a hint of ${hint.length} characters`);
});
