/**
 * The switch-wide counters as the web view shows them: every engine
 * counter once, in the engine's order, and the page's line the same as
 * it has always been (the page runs the very function tested here).
 */
import assert from "node:assert/strict";
import { ENGINE_COUNTER_NAMES, SwitchEngine } from "../../src/switch/engine.ts";
import { countersLine, ENGINE_COUNTER_VIEWS } from "../../src/web/engine_counters.ts";
import { PAGE_HTML } from "../../src/web/page.ts";

Deno.test("the web view names every engine counter once, in the engine's order", () => {
  assert.deepEqual(ENGINE_COUNTER_VIEWS.map((v) => v.key), [...ENGINE_COUNTER_NAMES]);
});

Deno.test("the page's counters line: frames moved, then every drop by reason", () => {
  const c = new SwitchEngine({}, () => {}).counters;
  ENGINE_COUNTER_NAMES.forEach((n, i) => c[n] = i + 1);
  assert.equal(
    countersLine(c, ENGINE_COUNTER_VIEWS),
    "flooded 4 · unicast 5 · filtered 6 · dropped: short 1, oversize 2, bad port 3, VLAN 7, mirror 8, snooping 9, STP 10",
  );
});

Deno.test("the page carries the counters line's code and the views, and runs them to the same text", () => {
  const views = /const COUNTER_VIEWS = (.*);\n/.exec(PAGE_HTML)?.[1];
  const code = /const countersLine = ([^]*?);\n(?:const|function|let) /.exec(PAGE_HTML)?.[1];
  assert.ok(views !== undefined && code !== undefined, "both in the page's script");
  const line = new Function(`return ${code};`)() as typeof countersLine;
  const c = new SwitchEngine({}, () => {}).counters;
  c.flooded = 2;
  c.unicast = 3;
  c.short = 1;
  assert.equal(line(c, JSON.parse(views)), countersLine(c, ENGINE_COUNTER_VIEWS));
});
