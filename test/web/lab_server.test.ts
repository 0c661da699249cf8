/**
 * The lab's web server in process: two switches with memory clients,
 * scraped over real HTTP. One /metrics holds both switches under each
 * family's single HELP and TYPE (promtool agrees), the page draws every
 * node, and a switch taken out of the lab leaves the metrics.
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import type { Lab } from "../../src/lab/spec.ts";
import { LabWebServer } from "../../src/web/lab_server.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { assertPromtoolClean, skipWithoutPromtool } from "../helpers/promtool.ts";

const LAB: Lab = {
  name: "demo",
  nodes: [
    { kind: "switch", name: "sw1", ports: 4, hub: false, stp: false, vlans: [] },
    { kind: "switch", name: "sw2", ports: 4, hub: true, stp: false, vlans: [] },
  ],
  links: [{ ends: [{ node: "sw1", port: 1 }, { node: "sw2", port: 1 }], impair: { loss: 10 }, trunk: [] }],
};

Deno.test("lab web server: one /metrics with every switch, each family once; a removed switch leaves it", async (t) => {
  const switches = new Map<string, { sw: Switch }>();
  for (const name of ["sw1", "sw2"]) {
    const sw = new Switch({ numPorts: 4 });
    sw.attach(new MemoryLink(`client of ${name}`), { port: 2 });
    switches.set(name, { sw });
  }
  const web = LabWebServer.start({ lab: LAB, switches }, { hostname: "127.0.0.1", port: 0 });
  try {
    const base = web.url.replace(/\/$/, "");
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.equal(text.split("\n").filter((l) => l === "# TYPE vde_port_up gauge").length, 1);
    assert.match(text, /^vde_port_up\{switch="sw1",port="2",name="client of sw1"\} 1$/m);
    assert.match(text, /^vde_switch_hub_mode\{switch="sw2"\} 0$/m);
    if (!await skipWithoutPromtool(t)) await assertPromtoolClean(text);

    const page = await (await fetch(`${base}/`)).text();
    assert.ok(page.includes('id="node-sw1"') && page.includes('id="node-sw2"'));
    assert.match(page, /10% loss/);
    const dot = await (await fetch(`${base}/topology.dot`)).text();
    assert.match(dot, /"sw1" -- "sw2"/);

    switches.get("sw2")!.sw.close();
    switches.delete("sw2");
    const after = await (await fetch(`${base}/metrics`)).text();
    assert.doesNotMatch(after, /switch="sw2"/);
    const missing = await fetch(`${base}/nope`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404);
  } finally {
    await web.close();
    for (const { sw } of switches.values()) sw.close();
  }
});
