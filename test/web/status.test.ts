import assert from "node:assert/strict";
import { portUpText } from "../../src/web/status.ts";
import { PAGE_HTML } from "../../src/web/page.ts";
import { labPageHtml } from "../../src/web/lab_page.ts";

Deno.test("a port's up cell names its spanning tree role, and its state unless it forwards, as the console's stp does", () => {
  assert.equal(portUpText({ up: true }), "yes");
  assert.equal(portUpText({ up: false }), "no");
  assert.equal(portUpText({ up: true, stp: { role: "root", state: 3 } }), "yes (root)");
  assert.equal(portUpText({ up: true, stp: { role: "alternate", state: 4 } }), "yes (alternate, discarding)");
  assert.equal(portUpText({ up: true, stp: { role: "designated", state: 2 } }), "yes (designated, learning)");
  assert.equal(portUpText({ up: false, stp: { role: "disabled", state: 0 } }), "no (disabled)");
  assert.equal(
    portUpText({ up: true, stp: { role: "alternate", state: 4, stateName: "blocking" } }),
    "yes (alternate, blocking)",
  );
  assert.equal(portUpText({ up: true, stp: { role: "root", state: 1 } }), "yes (root, listening)");
});

Deno.test("the switch's page and the lab's page both draw the up cell with it", () => {
  const lab = labPageHtml({ name: "x", nodes: [], links: [] });
  for (const html of [PAGE_HTML, lab]) {
    assert.match(html, /const portUpText = function portUpText\(p\)/);
    assert.match(html, /cell\(tr, portUpText\(p\)\)/);
  }
});
