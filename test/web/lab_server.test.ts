/**
 * The lab's web server in process: two switches with memory clients,
 * scraped over real HTTP. One /metrics holds both switches under each
 * family's single HELP and TYPE (promtool agrees), the page draws every
 * node, and a switch taken out of the lab leaves the metrics; a switch
 * whose data-plane thread died is marked, with why, on the page and in
 * its feed.
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { type Lab, type LabLink, linkName } from "../../src/lab/spec.ts";
import { LabWire } from "../../src/lab/wire.ts";
import { Bench, collect, frame, keyA, until } from "../cable/_helpers.ts";
import { LabWebServer } from "../../src/web/lab_server.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { igmp } from "../helpers/igmp.ts";
import { mac } from "../helpers/vde_clients.ts";
import { McastSnooping } from "../../src/switch/mcast_snooping.ts";
import { assertPromtoolClean, metricValue, skipWithoutPromtool } from "../helpers/promtool.ts";
import { HeadlessPage } from "../helpers/chromium.ts";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";
import { firstJson } from "../helpers/page_first.ts";
import { dyingSwitch, killThread } from "../dataplane/_dying_thread_switch.ts";
import { DYING_WORDS } from "../dataplane/_dying_words.ts";
import { testStack } from "../slirp/helpers.ts";
import { slirpCounters } from "../../src/web/slirp_metrics.ts";

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
  const clients: MemoryLink[] = [];
  for (const name of ["sw1", "sw2"]) {
    const sw = new Switch({ numPorts: 4 });
    clients.push(new MemoryLink(`client of ${name}`));
    sw.attach(clients[clients.length - 1]!, { port: 2 });
    switches.set(name, { sw });
  }
  // sw1 snoops: its client joins one group.
  switches.get("sw1")!.sw.engine.snooping = new McastSnooping(mac(0x66));
  clients[0]!.receive(igmp(0x16, [239, 5, 5, 5]));
  const web = LabWebServer.start({ lab: LAB, switches }, { hostname: "127.0.0.1", port: 0 });
  try {
    const base = web.url.replace(/\/$/, "");
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.equal(text.split("\n").filter((l) => l === "# TYPE vde_port_up gauge").length, 1);
    assert.match(text, /^vde_port_up\{switch="sw1",port="2"\} 1$/m);
    assert.match(text, /^vde_port_info\{switch="sw1",port="2",name="client of sw1",vlan="0"\} 1$/m);
    assert.match(text, /^vde_switch_hub_mode\{switch="sw2"\} 0$/m);
    assert.equal(metricValue(text, 'vde_mcast_groups{switch="sw1",vlan="0"}'), 1);
    assert.doesNotMatch(text, /vde_mcast_groups\{switch="sw2"/);
    const status = await (await fetch(`${base}/status.json`)).json() as {
      switches: { name: string; mcast?: { group: string; ports: number[] }[] }[];
    };
    assert.deepEqual(status.switches.map((s) => [s.name, s.mcast]), [
      ["sw1", [{ vlan: 0, group: "239.5.5.5", ports: [2] }]],
      ["sw2", undefined],
    ]);
    if (!await skipWithoutPromtool(t)) await assertPromtoolClean(text);

    const page = await (await fetch(`${base}/`)).text();
    assert.ok(page.includes('id="node-sw1"') && page.includes('id="node-sw2"'));
    assert.match(page, /10% loss/);
    // The state at the request is in the page, drawn before the first poll.
    const first = JSON.parse(firstJson(page)) as typeof status;
    assert.deepEqual(first.switches.map((s) => s.name), ["sw1", "sw2"]);
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

Deno.test("lab web server: links' traffic and drops by reason, and a cable node (not connected before its peer) with its session and RTT, counted exactly; promtool agrees", async (t) => {
  const spec: LabLink = {
    ends: [{ node: "sw1", port: 1 }, { node: "sw2", port: 1 }],
    impair: { mtu: 500 },
    trunk: [],
  };
  const wire = new LabWire(linkName(spec), spec.impair);
  wire.b.onFrame = () => {};
  const key = await keyA;
  const bench = new Bench({ key, deadAfterMs: 800 });
  const web = LabWebServer.start({
    lab: { name: "demo", nodes: LAB.nodes, links: [spec] },
    switches: new Map(),
    links: [{ name: linkName(spec), spec, wire }],
    cables: new Map([["remote", {
      get link() {
        return bench.sessions[0] ?? null;
      },
    }]]),
  }, { hostname: "127.0.0.1", port: 0 });
  try {
    const base = web.url.replace(/\/$/, "");
    // Before any peer: the cable node is there, not connected (an alert needs no absent() for it).
    const waiting = await (await fetch(`${base}/metrics`)).text();
    assert.equal(metricValue(waiting, 'vde_lab_cable_connected{cable="remote"}'), 0);
    assert.doesNotMatch(waiting, /vde_cable_session_connected/);
    // The page lists it too, waiting, rather than leaving the cable out until a peer comes.
    const before = await (await fetch(`${base}/status.json`)).json() as {
      cables: { name: string; connected: boolean; framesIn: number }[];
    };
    assert.deepEqual(before.cables.map((c) => [c.name, c.connected, c.framesIn]), [["remote", false, 0]]);
    if (!skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) {
      const page = await HeadlessPage.open(412, 900);
      try {
        await page.goto(`${base}/`);
        const row = `document.getElementById("cable-remote")?.children[2]?.textContent`;
        assert.equal(await page.waitUntil<string>(row, "the cable's row"), "waiting");
      } finally {
        await page.close();
      }
    }
    if (!await skipWithoutPromtool(t)) await assertPromtoolClean(waiting);
    const client = bench.client({ key, deadAfterMs: 800 });
    const session = await bench.sessionCount(1);
    const fromCable = collect(session);
    // The listener has its session before the client has finished its side: frames sent before that are dropped.
    await until("the client connected", () => client.connection !== null);
    for (let i = 0; i < 7; i++) client.send(frame(1, 2, i, 100));
    await until(
      "7 frames over the cable and an RTT",
      () => fromCable.length === 7 && session.rttSeconds !== undefined,
    );
    // Wirefilter's MTU counts the 2-byte length: 100-byte frames pass, 600-byte ones are dropped.
    for (let i = 0; i < 5; i++) wire.a.send(frame(1, 2, i, 100));
    for (let i = 0; i < 3; i++) wire.a.send(frame(1, 2, i, 600));
    wire.b.send(frame(2, 1, 0, 80));
    const text = await (await fetch(`${base}/metrics`)).text();
    const v = (series: string) => metricValue(text, series);
    const lr = 'link="sw1:1-sw2:1",direction="LR"';
    assert.equal(v(`vde_lab_link_transmit_packets_total{${lr}}`), 8);
    assert.equal(v(`vde_lab_link_transmit_bytes_total{${lr}}`), 5 * 100 + 3 * 600);
    assert.equal(v('vde_lab_link_transmit_packets_total{link="sw1:1-sw2:1",direction="RL"}'), 1);
    assert.equal(v('vde_lab_link_up{link="sw1:1-sw2:1"}'), 1);
    assert.equal(v(`vde_wirefilter_drop_total{${lr},reason="mtu"}`), 3);
    assert.equal(v(`vde_wirefilter_transmit_packets_total{${lr}}`), 5);
    assert.equal(v('vde_cable_receive_packets_total{cable="remote"}'), 7);
    assert.equal(v('vde_cable_session_connected{cable="remote"}'), 1);
    assert.equal(v('vde_lab_cable_connected{cable="remote"}'), 1);
    const rtt = v('vde_cable_rtt_seconds{cable="remote"}');
    assert.ok(rtt > 0 && rtt < 1, `rtt ${rtt}`);
    if (!await skipWithoutPromtool(t)) await assertPromtoolClean(text);

    const status = await (await fetch(`${base}/status.json`)).json() as {
      links: { name: string; ab: { frames: number }; ba: { frames: number }; drops: number }[];
      cables: { name: string; framesIn: number; rttSeconds: number | null }[];
    };
    assert.deepEqual(status.links.map((l) => [l.name, l.ab.frames, l.ba.frames, l.drops]), [
      ["sw1:1-sw2:1", 8, 1, 3],
    ]);
    assert.equal(status.cables[0]!.name, "remote");
    assert.equal(status.cables[0]!.framesIn, 7);
    assert.ok(status.cables[0]!.rttSeconds! > 0);
    const page = await (await fetch(`${base}/`)).text();
    assert.ok(page.includes('id="rate-sw1:1-sw2:1"'), "the edge has a place for its rates");
  } finally {
    await web.close();
    wire.close();
    await bench.close();
  }
});

Deno.test("lab web server: each slirp node's counters under slirp = its name, each family once; promtool agrees", async (t) => {
  const nat = testStack().stack;
  const nat2 = testStack().stack;
  nat.input(new Uint8Array(5)); // a runt: taken and dropped
  const web = LabWebServer.start({
    lab: LAB,
    switches: new Map(),
    slirps: new Map([["nat", { stack: nat }], ["nat2", { stack: nat2 }]]),
  }, { hostname: "127.0.0.1", port: 0 });
  try {
    const text = await (await fetch(`${web.url}metrics`)).text();
    assert.equal(
      text.split("\n").filter((l) => l === "# TYPE vde_slirp_dhcp_replies_total counter").length,
      1,
    );
    assert.equal(metricValue(text, 'vde_slirp_receive_packets_total{slirp="nat"}'), 1);
    assert.equal(metricValue(text, 'vde_slirp_receive_drop_total{slirp="nat"}'), 1);
    assert.equal(metricValue(text, 'vde_slirp_receive_packets_total{slirp="nat2"}'), 0);
    assert.equal(metricValue(text, 'vde_slirp_dhcp_replies_total{slirp="nat2"}'), 0);
    if (!await skipWithoutPromtool(t)) await assertPromtoolClean(text);
  } finally {
    await web.close();
    nat.close();
    nat2.close();
  }
});

Deno.test("lab web server: the slirps another process runs (a rootless lab's) are read at each scrape, in the same families as its own", async (t) => {
  const nat = testStack().stack;
  const far = testStack().stack;
  let scrapes = 0;
  const web = LabWebServer.start(
    { lab: LAB, switches: new Map(), slirps: new Map([["nat", { stack: nat }]]) },
    { hostname: "127.0.0.1", port: 0 },
    () => Promise.resolve([{ name: "far", counters: { ...slirpCounters(far), framesIn: ++scrapes } }]),
  );
  try {
    await (await fetch(`${web.url}metrics`)).text();
    const text = await (await fetch(`${web.url}metrics`)).text();
    assert.equal(
      text.split("\n").filter((l) => l === "# TYPE vde_slirp_receive_packets_total counter").length,
      1,
    );
    assert.equal(metricValue(text, 'vde_slirp_receive_packets_total{slirp="nat"}'), 0);
    assert.equal(metricValue(text, 'vde_slirp_receive_packets_total{slirp="far"}'), 2);
    assert.equal(metricValue(text, 'vde_slirp_tcp_connections_opened_total{slirp="far",direction="in"}'), 0);
    if (!await skipWithoutPromtool(t)) await assertPromtoolClean(text);
  } finally {
    await web.close();
    nat.close();
    far.close();
  }
});

Deno.test("lab web server: a switch whose data-plane thread died is marked on the page and in its feed, with why", async (t) => {
  const dead = await dyingSwitch();
  const alive = new Switch({ numPorts: 4 });
  const switches = new Map<string, { sw: Switch }>([["sw1", { sw: dead }], ["sw2", { sw: alive }]]);
  const web = LabWebServer.start({ lab: LAB, switches }, { hostname: "127.0.0.1", port: 0 });
  try {
    const base = web.url.replace(/\/$/, "");
    type Feed = { switches: { name: string; failure: string | null }[] };
    const feed = async () => (await (await fetch(`${base}/status.json`)).json()) as Feed;
    assert.deepEqual((await feed()).switches.map((s) => [s.name, s.failure]), [["sw1", null], ["sw2", null]]);
    await killThread(dead);
    assert.deepEqual((await feed()).switches.map((s) => [s.name, s.failure]), [["sw1", DYING_WORDS], [
      "sw2",
      null,
    ]]);
    // In the page's first state too, for the drawing before the first poll.
    const html = await (await fetch(`${base}/`)).text();
    const first = JSON.parse(firstJson(html)) as Feed;
    assert.equal(first.switches[0]!.failure, DYING_WORDS);
    // And in the drawing the server sends, for a reader without JavaScript: red, and said in words.
    assert.match(html, /<g class="node switch failed" id="node-sw1">/);
    assert.match(html, /id="flabel-sw1">FAILED<\/text>/);
    assert.match(html, /id="flabel-sw2"><\/text>/);
    if (!skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) {
      const page = await HeadlessPage.open(412, 900);
      try {
        await page.goto(`${base}/`);
        const said = `document.getElementById("failed-sw1")?.textContent`;
        assert.equal(
          await page.waitUntil<string>(said, "the dead switch's line"),
          `FAILED: its data-plane thread ended (${DYING_WORDS}); it forwards nothing`,
        );
        assert.equal(
          await page.evaluate<boolean>(`document.getElementById("node-sw1").classList.contains("failed")`),
          true,
        );
        assert.equal(
          await page.evaluate<boolean>(`document.getElementById("node-sw2").classList.contains("failed")`),
          false,
        );
        assert.equal(await page.evaluate<boolean>(`document.getElementById("failed-sw2") === null`), true);
        assert.equal(
          await page.evaluate<string>(`document.getElementById("flabel-sw1").textContent`),
          "FAILED",
        );
        assert.equal(await page.evaluate<string>(`document.getElementById("flabel-sw2").textContent`), "");
      } finally {
        await page.close();
      }
    }
  } finally {
    await web.close();
    dead.close();
    alive.close();
  }
});

Deno.test("lab web server: a cut link is drawn cut, by the server, by the page as it polls and in /topology.dot, which dot accepts", async (t) => {
  const spec = LAB.links[0]!;
  const wire = new LabWire(linkName(spec), spec.impair);
  const web = LabWebServer.start({
    lab: LAB,
    switches: new Map(),
    links: [{ name: linkName(spec), spec, wire }],
  }, { hostname: "127.0.0.1", port: 0 });
  try {
    const base = web.url.replace(/\/$/, "");
    wire.up = false;
    // The drawing the server sends: struck and said in words, for a reader without JavaScript.
    const html = await (await fetch(`${base}/`)).text();
    assert.match(html, /<line [^>]*id="line-sw1:1-sw2:1" class="impaired cut"\/>/);
    assert.match(html, /<tspan class="ab cutlabel" [^>]*>cut<\/tspan>/);
    const dot = await (await fetch(`${base}/topology.dot`)).text();
    assert.match(dot, /"sw1" -- "sw2" \[label="cut, 10% loss", .*style=dashed, color=red/);
    if (!skipUnless(t, (await hasCommand("dot")) ? null : "dot missing (Debian graphviz)")) {
      const svg = await run(["dot", "-Tsvg"], { input: dot });
      assert.equal(svg.stderr, "");
      assert.match(svg.stdout, /stroke-dasharray/);
    }
    wire.up = true;
    assert.doesNotMatch(await (await fetch(`${base}/topology.dot`)).text(), /cut|style=dashed/);
    assert.doesNotMatch(await (await fetch(`${base}/`)).text(), /class="impaired cut"/);
    if (!skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) {
      const page = await HeadlessPage.open(412, 900);
      try {
        await page.goto(`${base}/`);
        const line = `document.getElementById("line-sw1:1-sw2:1").getAttribute("class")`;
        const said = `document.getElementById("rate-sw1:1-sw2:1").querySelector(".ab").textContent`;
        await page.waitUntil<boolean>(`${said}.startsWith("sw1→sw2")`, "the link's rates");
        assert.equal(await page.evaluate<string>(line), "impaired");
        // Cut while the page is open: the next poll strikes it.
        wire.up = false;
        assert.equal(
          await page.waitUntil<string>(`${line}.includes("cut") && ${line}`, "the link struck"),
          "impaired cut",
        );
        assert.equal(await page.evaluate<string>(said), "cut");
        const labelClass =
          `document.getElementById("rate-sw1:1-sw2:1").querySelector(".ab").getAttribute("class")`;
        assert.equal(await page.evaluate<string>(labelClass), "ab cutlabel");
        wire.up = true;
        await page.waitUntil<boolean>(`!${line}.includes("cut")`, "the link back");
      } finally {
        await page.close();
      }
    }
  } finally {
    await web.close();
    wire.close();
  }
});

/**
 * The lab page of a server whose lab `view.lab` the test replaces as a lab's shell does (add, del: the server
 * reads it at each request), open in Chromium; none without Chromium (a failure under CI).
 */
async function withLabPage(
  t: Deno.TestContext,
  fn: (view: { lab: Lab }, page: HeadlessPage) => Promise<void>,
): Promise<void> {
  if (skipUnless(t, (await hasCommand("chromium")) ? null : "chromium missing (Debian chromium)")) return;
  const view: { lab: Lab; switches: Map<string, { sw: Switch }> } = { lab: LAB, switches: new Map() };
  const web = LabWebServer.start(view, { hostname: "127.0.0.1", port: 0 });
  const page = await HeadlessPage.open(412, 900);
  try {
    await page.goto(web.url);
    await fn(view, page);
  } finally {
    await page.close();
    await web.close();
  }
}

Deno.test("lab web server: a page left open draws the lab again once it grew or shrank (add, del), not only its tables", async (t) => {
  await withLabPage(t, async (view, page) => {
    const drawn =
      `[...document.querySelectorAll("svg [id^='node-'], svg [id^='line-']")].map((e) => e.id).join(" ")`;
    assert.equal(await page.waitUntil<string>(drawn, "the drawing"), "line-sw1:1-sw2:1 node-sw1 node-sw2");
    view.lab = {
      ...LAB,
      nodes: [
        ...LAB.nodes,
        { kind: "host", name: "h9", addresses: {}, routes: [], exec: [] },
      ],
      links: [...LAB.links, {
        ends: [{ node: "h9", iface: "eth0" }, { node: "sw2", port: 2 }],
        impair: {},
        trunk: [],
      }],
    };
    assert.equal(
      await page.waitUntil<string>(`${drawn}.includes("node-h9") && ${drawn}`, "h9 drawn"),
      "line-sw1:1-sw2:1 line-h9:eth0-sw2:2 node-sw1 node-sw2 node-h9",
    );
  });
});

Deno.test("lab web server: a page whose browser refuses it sessionStorage (cookies blocked) goes on updating once the lab grew, not saying disconnected", async (t) => {
  await withLabPage(t, async (view, page) => {
    await page.waitUntil<boolean>(
      `document.getElementById("state").textContent.startsWith("updated")`,
      "updating",
    );
    // As Chromium does for a site whose cookies are blocked: reading sessionStorage throws.
    await page.evaluate(
      `Object.defineProperty(window, "sessionStorage", { get() { throw new DOMException("Access is denied", "SecurityError"); } }); true`,
    );
    view.lab = {
      ...LAB,
      nodes: [...LAB.nodes, { kind: "host", name: "h9", addresses: {}, routes: [], exec: [] }],
    };
    // Several polls (each 0.5 s) past the change: each one must draw, not fall to "disconnected".
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.match(await page.evaluate<string>(`document.getElementById("state").textContent`), /^updated /);
  });
});
