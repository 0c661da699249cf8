/**
 * The Prometheus endpoint of the web server, in process: a switch with
 * in-memory clients, scraped over real HTTP, checked by Debian's promtool
 * (the linter Prometheus users run) and by exact counter arithmetic.
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { ENGINE_COUNTER_NAMES, type EngineCounters, SwitchEngine } from "../../src/switch/engine.ts";
import { SwitchStatus } from "../../src/web/status.ts";
import { WebServer } from "../../src/web/server.ts";
import { escapeLabel, renderMetrics } from "../../src/web/metrics.ts";
import { parseHttpAddress } from "../../src/web/address.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { igmp } from "../helpers/igmp.ts";
import { McastSnooping } from "../../src/switch/mcast_snooping.ts";
import { ethFrame, mac } from "../helpers/vde_clients.ts";
import { assertPromtoolClean, skipWithoutPromtool } from "../helpers/promtool.ts";
import { dyingSwitch, killThread } from "../dataplane/_dying_thread_switch.ts";

/** A switch with two lone memory clients on ports 1 and 2, served on an ephemeral port. */
function rig(token?: string) {
  const sw = new Switch({ numPorts: 8 });
  const a = new MemoryLink('client "a"\\one');
  const b = new MemoryLink("client b");
  sw.attach(a, { port: 1 });
  sw.attach(b, { port: 2 });
  const web = WebServer.start(new SwitchStatus(sw, "/tmp/sw test"), {
    hostname: "127.0.0.1",
    port: 0,
    token,
  });
  const base = `http://127.0.0.1:${web.addr.port}`;
  return {
    sw,
    a,
    b,
    base,
    async close() {
      await web.close();
      sw.close();
    },
  };
}

/** The value of the one sample whose name and labels contain all of `parts`. */
function sample(text: string, name: string, ...parts: string[]): number {
  const lines = text.split("\n").filter((l) => l.startsWith(name + "{") && parts.every((p) => l.includes(p)));
  assert.equal(lines.length, 1, `one ${name} sample with ${parts.join(",")}:\n${text}`);
  return Number(lines[0]!.slice(lines[0]!.lastIndexOf(" ") + 1));
}

Deno.test("metrics: label values escape backslash, quote and newline", () => {
  assert.equal(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

Deno.test("metrics: every family has HELP and TYPE, counters end in _total", () => {
  const text = renderMetrics({
    name: "s",
    hub: false,
    ports: [],
    fdbEntries: new Map([[0, 0]]),
    fdbMoves: 0,
    startTime: 0,
    forwarding: true,
    counters: new SwitchEngine({}, () => {}).counters,
    time: 0,
  });
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)];
  assert.ok(types.length >= 10);
  for (const [, name, type] of types) {
    assert.match(text, new RegExp(`^# HELP ${name} `, "m"));
    if (type === "counter") assert.match(name!, /_total$/);
  }
});

/** Each engine counter with a value of its own: 1 for the first slot, 2 for the second... */
function numberedCounters(): EngineCounters {
  const c = new SwitchEngine({}, () => {}).counters;
  ENGINE_COUNTER_NAMES.forEach((n, i) => c[n] = i + 1);
  return c;
}

Deno.test("metrics: the switch-wide counters are frames by kind and drops by reason, each counter once", () => {
  const text = renderMetrics({
    name: "s",
    hub: false,
    ports: [],
    fdbEntries: new Map(),
    fdbMoves: 0,
    startTime: 0,
    forwarding: true,
    counters: numberedCounters(),
    time: 0,
  });
  const family = (name: string) => text.split("\n").filter((l) => l.startsWith(name + "{")).join("\n");
  assert.equal(
    family("vde_switch_frames_total"),
    [
      'vde_switch_frames_total{switch="s",kind="flooded"} 4',
      'vde_switch_frames_total{switch="s",kind="unicast"} 5',
      'vde_switch_frames_total{switch="s",kind="filtered"} 6',
    ].join("\n"),
  );
  assert.equal(
    family("vde_switch_drops_total"),
    [
      'vde_switch_drops_total{switch="s",reason="short"} 1',
      'vde_switch_drops_total{switch="s",reason="oversize"} 2',
      'vde_switch_drops_total{switch="s",reason="bad_port"} 3',
      'vde_switch_drops_total{switch="s",reason="vlan"} 7',
      'vde_switch_drops_total{switch="s",reason="mirror"} 8',
      'vde_switch_drops_total{switch="s",reason="snooping"} 9',
      'vde_switch_drops_total{switch="s",reason="stp"} 10',
    ].join("\n"),
  );
});

Deno.test("--http address: loopback unless given, IPv6 in brackets, bad input is one clear line", () => {
  assert.deepEqual(parseHttpAddress("9100"), { hostname: "127.0.0.1", port: 9100 });
  assert.deepEqual(parseHttpAddress("0.0.0.0:80"), { hostname: "0.0.0.0", port: 80 });
  assert.deepEqual(parseHttpAddress("[::1]:9100"), { hostname: "::1", port: 9100 });
  assert.throws(() => parseHttpAddress("99999"), /out of range/);
  assert.throws(() => parseHttpAddress("host:"), /\[ADDR:\]PORT/);
});

Deno.test("metrics: counters rise by exactly the frames a client sent, and promtool finds no problem", async (t) => {
  const r = rig();
  try {
    const before = await (await fetch(`${r.base}/metrics`)).text();
    const N = 37;
    for (let i = 0; i < N; i++) r.a.receive(ethFrame(mac(2), mac(1), i, 100));
    r.b.receive(ethFrame(mac(1), mac(2), 999, 64));
    const res = await fetch(`${r.base}/metrics`);
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const after = await res.text();
    const port1 = ['port="1"', 'switch="/tmp/sw test"'];
    const delta = (name: string, ...p: string[]) => sample(after, name, ...p) - sample(before, name, ...p);
    assert.equal(delta("vde_port_receive_packets_total", ...port1), N);
    assert.equal(delta("vde_port_receive_bytes_total", ...port1), N * 100);
    // Unknown destination floods to port 2; b's answer is unicast back to port 1.
    assert.equal(delta("vde_port_transmit_packets_total", 'port="2"'), N);
    assert.equal(delta("vde_port_transmit_packets_total", ...port1), 1);
    assert.equal(sample(after, "vde_port_up", 'port="1"'), 1);
    assert.equal(sample(after, "vde_port_info", 'port="1"', 'name="client \\"a\\"\\\\one"', 'vlan="0"'), 1);
    assert.equal(sample(after, "vde_port_info", 'port="2"', 'vlan="0"', 'name="client b"'), 1);
    assert.equal(sample(after, "vde_port_clients", 'port="2"'), 1);
    assert.equal(sample(after, "vde_fdb_entries", 'vlan="0"'), 2);
    assert.equal(sample(after, "vde_fdb_moves_total"), 0);
    if (await skipWithoutPromtool(t)) return;
    await assertPromtoolClean(after);
  } finally {
    await r.close();
  }
});

Deno.test("metrics: a MAC seen on another port counts one FDB move", async () => {
  const r = rig();
  try {
    r.a.receive(ethFrame(mac(9), mac(5), 1));
    // An entry moves only once older than the minimum persistence: step the clock past it.
    r.sw.engine.minPersistenceSeconds = 0;
    r.sw.engine.tick(performance.now() + 5000);
    r.b.receive(ethFrame(mac(9), mac(5), 2));
    const text = await (await fetch(`${r.base}/metrics`)).text();
    assert.equal(sample(text, "vde_fdb_moves_total"), 1);
  } finally {
    await r.close();
  }
});

Deno.test("metrics: with spanning tree on, each port's state, its role among all roles, guard counters, point-to-point and topology changes; promtool agrees", async (t) => {
  const r = rig();
  try {
    r.sw.engine.enableStp({ mac: mac(0x77) });
    const text = await (await fetch(`${r.base}/metrics`)).text();
    const state = sample(text, "vde_stp_port_state", 'port="1"');
    assert.ok([2, 3, 4].includes(state), `state ${state}`);
    assert.match(text, /^vde_stp_port_state\{switch="\/tmp\/sw test",port="2"\} [234]$/m);
    assert.equal(sample(text, "vde_stp_port_role", 'port="2"', 'role="designated"'), 1);
    // Every role has its series, 0 but the one the port has: a role change moves a 1, no series comes or goes.
    for (const role of ["disabled", "root", "alternate", "backup"]) {
      assert.equal(sample(text, "vde_stp_port_role", 'port="2"', `role="${role}"`), 0, role);
    }
    assert.ok(sample(text, "vde_stp_topology_changes_total") >= 0);
    // The guards' counters, for every port (0 where no guard is on or none has acted).
    assert.equal(sample(text, "vde_stp_port_bpdu_guard_trips_total", 'port="1"'), 0);
    assert.equal(sample(text, "vde_stp_port_root_guard_blocks_total", 'port="2"'), 0);
    // Point-to-point until told otherwise (stp/setp2p PORT no), or until two bridge ports are heard.
    assert.equal(sample(text, "vde_stp_port_point_to_point", 'port="1"'), 1);
    r.sw.engine.stp!.setPointToPoint(2, "no");
    const shared = await (await fetch(`${r.base}/metrics`)).text();
    assert.equal(sample(shared, "vde_stp_port_point_to_point", 'port="2"'), 0);
    // Per-port spanning tree families are named vde_stp_port_*, as the state and role are.
    const perPort = new Set([...text.matchAll(/^(vde_stp_\w+)\{[^}]*\bport="/gm)].map((m) => m[1]));
    assert.deepEqual([...perPort].filter((name) => !name!.startsWith("vde_stp_port_")), []);
    if (await skipWithoutPromtool(t)) return;
    await assertPromtoolClean(text);
  } finally {
    await r.close();
  }
});

Deno.test("metrics: with snooping on, groups per VLAN and each group's member ports; off, no mcast families", async (t) => {
  const r = rig();
  const c = new MemoryLink("client c");
  r.sw.attach(c, { port: 3 });
  try {
    const off = await (await fetch(`${r.base}/metrics`)).text();
    assert.doesNotMatch(off, /vde_mcast_/);
    r.sw.engine.snooping = new McastSnooping(mac(0x55));
    r.a.receive(igmp(0x16, [239, 1, 1, 1], 1));
    r.b.receive(igmp(0x16, [239, 1, 1, 1], 2));
    c.receive(igmp(0x16, [239, 2, 2, 2], 3));
    const text = await (await fetch(`${r.base}/metrics`)).text();
    assert.equal(sample(text, "vde_mcast_groups", 'vlan="0"'), 2);
    assert.equal(sample(text, "vde_mcast_group_ports", 'group="239.1.1.1"'), 2);
    assert.equal(sample(text, "vde_mcast_group_ports", 'group="239.2.2.2"'), 1);
    const page = await (await fetch(`${r.base}/status.json`)).json() as {
      mcast: { group: string; ports: number[] }[];
    };
    assert.deepEqual(page.mcast.map((g) => [g.group, g.ports]), [["239.1.1.1", [1, 2]], ["239.2.2.2", [3]]]);
    if (await skipWithoutPromtool(t)) return;
    await assertPromtoolClean(text);
  } finally {
    await r.close();
  }
});

Deno.test("metrics: a port's series keep their labels across its client's reconnect, and its counters never go back", async (t) => {
  const r = rig();
  try {
    for (let i = 0; i < 5; i++) r.a.receive(ethFrame(mac(2), mac(1), i));
    const first = await (await fetch(`${r.base}/metrics`)).text();
    r.a.close("client left");
    await r.sw.settled();
    const gone = await (await fetch(`${r.base}/metrics`)).text();
    // The same port, a new client with another description (a vde_plug's pid changes at each reconnect).
    const again = new MemoryLink("client a, pid 2");
    r.sw.attach(again, { port: 1 });
    again.receive(ethFrame(mac(2), mac(1), 9));
    const back = await (await fetch(`${r.base}/metrics`)).text();
    /** Each port series' name and labels, without the value: what Prometheus keys a series by. */
    const series = (text: string, family: string) =>
      text.split("\n").filter((l) => l.startsWith(family + "{")).map((l) => l.slice(0, l.lastIndexOf(" ")));
    for (const family of ["vde_port_receive_packets_total", "vde_port_up", "vde_port_clients"]) {
      assert.deepEqual(series(gone, family), series(first, family), family);
      assert.deepEqual(series(back, family), series(first, family), family);
    }
    const rx = (text: string) => sample(text, "vde_port_receive_packets_total", 'port="1"');
    assert.deepEqual([rx(first), rx(gone), rx(back)], [5, 5, 6]);
    assert.deepEqual([first, gone, back].map((m) => sample(m, "vde_port_up", 'port="1"')), [1, 0, 1]);
    assert.deepEqual([first, gone, back].map((m) => sample(m, "vde_port_clients", 'port="1"')), [1, 0, 1]);
    // The description is vde_port_info's label alone: one info series for the port, naming who is there now.
    assert.equal(sample(back, "vde_port_info", 'port="1"', 'name="client a, pid 2"'), 1);
    if (await skipWithoutPromtool(t)) return;
    for (const m of [first, gone, back]) await assertPromtoolClean(m);
  } finally {
    await r.close();
  }
});

Deno.test("metrics: a switch's start time is a gauge in seconds, new for a restarted switch whose counters start again", async (t) => {
  const first = rig();
  let text = "";
  try {
    first.a.receive(ethFrame(mac(2), mac(1), 1));
    text = await (await fetch(`${first.base}/metrics`)).text();
  } finally {
    await first.close();
  }
  // The restart: a new switch on the same directory, so the same labels.
  const second = rig();
  try {
    const again = await (await fetch(`${second.base}/metrics`)).text();
    assert.match(again, /^# TYPE vde_switch_start_time_seconds gauge$/m);
    const started = [text, again].map((m) =>
      sample(m, "vde_switch_start_time_seconds", 'switch="/tmp/sw test"')
    );
    assert.deepEqual(started, [first.sw.startedAt / 1000, second.sw.startedAt / 1000]);
    assert.ok(started[1]! >= started[0]! && Math.abs(started[1]! - Date.now() / 1000) < 600, String(started));
    assert.deepEqual([text, again].map((m) => sample(m, "vde_port_receive_packets_total", 'port="1"')), [
      1,
      0,
    ]);
    if (await skipWithoutPromtool(t)) return;
    await assertPromtoolClean(again);
  } finally {
    await second.close();
  }
});

Deno.test("metrics: vde_switch_forwarding is 1 while the switch's data-plane thread runs, 0 once it died", async () => {
  const sw = await dyingSwitch();
  const status = new SwitchStatus(sw, "sw");
  try {
    assert.equal(sample(renderMetrics(status.snapshot()), "vde_switch_forwarding", 'switch="sw"'), 1);
    await killThread(sw);
    assert.equal(sample(renderMetrics(status.snapshot()), "vde_switch_forwarding", 'switch="sw"'), 0);
  } finally {
    status.close();
    await sw.close();
  }
});
