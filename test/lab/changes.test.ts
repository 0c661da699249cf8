/**
 * What an edited lab file changes in its running lab: nodes matched by
 * name, links by the nodes they join; settings changed under the same name,
 * each in one line, live (a link's impairments, a switch's hub, a host's
 * gateway, a slirp's forwards) or not, and then with why.
 */
import assert from "node:assert/strict";
import { describeChanges, labChanges, noChanges } from "../../src/lab/changes.ts";
import { linkName } from "../../src/lab/spec.ts";
import { validateLab } from "../../src/lab/validate.ts";

function lab(nodes: string, links: string) {
  const { lab, errors } = validateLab(`name: t\ntopology:\n  nodes:\n${nodes}  links:\n${links}`);
  assert.deepEqual(errors, []);
  return lab!;
}

const NODES =
  "    sw1: { kind: switch }\n    sw-3: { kind: switch }\n    h1: { kind: host, address: 10.0.0.1/24 }\n";
const RUNNING = lab(NODES, "    - endpoints: [h1, sw1]\n    - endpoints: [sw1, sw-3]\n      delay: 5ms\n");

Deno.test("a file with the running lab's nodes and links, on other ports or in the other order, is no change", () => {
  const same = lab(NODES, "    - endpoints: [sw-3, 'sw1:7']\n      delay: 5ms\n    - endpoints: [h1, sw1]\n");
  const c = labChanges(RUNNING, same);
  assert.ok(noChanges(c));
  assert.deepEqual(describeChanges(c), []);
});

Deno.test("nodes and links removed from the file or added to it are named one a line, the running ones by their running names", () => {
  const edited = lab(
    "    sw1: { kind: switch }\n    sw2: { kind: switch }\n",
    "    - endpoints: [sw1, sw2]\n    - endpoints: [sw1, sw2]\n",
  );
  assert.deepEqual(describeChanges(labChanges(RUNNING, edited)), [
    "link h1:eth0-sw1:1: removed from the file",
    "link sw1:2-sw-3:1: removed from the file",
    "switch sw-3: removed from the file",
    "host h1: removed from the file",
    "switch sw2: added to the file",
    "link sw1:1-sw2:1: added to the file",
    "link sw1:2-sw2:2: added to the file",
  ]);
});

Deno.test("a second link between the same nodes is a change: links are counted, not only their ends", () => {
  const doubled = lab(
    NODES,
    "    - endpoints: [h1, sw1]\n    - endpoints: [sw1, sw-3]\n      delay: 5ms\n    - endpoints: [sw1, sw-3]\n",
  );
  assert.deepEqual(describeChanges(labChanges(RUNNING, doubled)), ["link sw1:3-sw-3:2: added to the file"]);
});

Deno.test("a link's impairments, VLANs and host addresses, a switch's and a host's settings changed are live, each node and link a line", () => {
  const edited = lab(
    "    sw1: { kind: switch, ports: 8, hub: true, vlans: [7] }\n    sw-3: { kind: switch }\n" +
      "    h1: { kind: host, address: 10.0.0.9/24, gateway: 10.0.0.254, mtu: 1400 }\n",
    "    - endpoints: [h1, sw1]\n    - endpoints: [sw1, sw-3]\n      delay: 20ms\n      loss: 1%\n      vlan: 5\n",
  );
  const c = labChanges(RUNNING, edited);
  assert.deepEqual(c.relinked.map((m) => [linkName(m.running), m.settings]), [
    ["h1:eth0-sw1:1", ["h1 address 10.0.0.1/24 -> 10.0.0.9/24"]],
    ["sw1:2-sw-3:1", ["loss none -> 1%", "delay 5ms -> 20ms", "vlan none -> 5"]],
  ]);
  assert.deepEqual(c.relinked[0]!.addresses, [
    { host: "h1", iface: "eth0", before: ["10.0.0.1/24"], after: ["10.0.0.9/24"] },
  ]);
  assert.deepEqual(describeChanges(c), [
    "link h1:eth0-sw1:1: h1 address 10.0.0.1/24 -> 10.0.0.9/24",
    "link sw1:2-sw-3:1: loss none -> 1%, delay 5ms -> 20ms, vlan none -> 5",
    "switch sw1: ports 32 -> 8, hub off -> on, vlans none -> 7",
    "host h1: gateway none -> 10.0.0.254, mtu none -> 1400",
  ]);
  assert.deepEqual(c.notLive, []);
});

Deno.test("a slirp's forwards are live; its options, a switch's data plane, a host's exec and a cable's ends are not, each with why", () => {
  const nodes = (extra: string) =>
    "    sw1: { kind: switch }\n    nat: { kind: slirp, forwards: [tcp:8080:10.0.2.15:80] }\n" +
    "    h1: { kind: host }\n    c1: { kind: cable, connect: 10.1.1.1:5000, insecure: true }\n" + extra;
  const links = "    - endpoints: [nat, sw1]\n    - endpoints: [h1, sw1]\n    - endpoints: [c1, sw1]\n";
  const running = lab(nodes(""), links);
  const edited = lab(
    nodes("").replace(
      "forwards: [tcp:8080:10.0.2.15:80]",
      "forwards: [tcp:8081:10.0.2.15:80], options: mtu=1400",
    )
      .replace("sw1: { kind: switch }", "sw1: { kind: switch, dataplane: main, mcast_snooping: true }")
      .replace("h1: { kind: host }", "h1: { kind: host, exec: ['true'] }")
      .replace("10.1.1.1:5000", "10.1.1.2:5000"),
    links,
  );
  assert.deepEqual(describeChanges(labChanges(running, edited)), [
    "switch sw1: mcast_snooping off -> on",
    "slirp nat: forwards tcp:8080:10.0.2.15:80 -> tcp:8081:10.0.2.15:80",
    "switch sw1: dataplane none -> main (not live: a switch's data plane, rc file and socket permissions are its start's)",
    "slirp nat: options none -> mtu=1400 (not live: a slirp's options and mtu are its stack's from the start)",
    "host h1: exec none -> true (not live: a host's exec ran when it came up)",
    "cable c1: connect 10.1.1.1:5000 -> 10.1.1.2:5000 (not live: a cable's ends and key are its start's)",
  ]);
});

Deno.test("a switch shrunk below a port a link keeps is not live, with why; a DHCP address changed is", () => {
  const running = lab(
    "    sw1: { kind: switch }\n    sw2: { kind: switch }\n    h1: { kind: host, address: dhcp }\n",
    "    - endpoints: ['sw1:9', sw2]\n    - endpoints: [h1, sw2]\n",
  );
  const edited = lab(
    "    sw1: { kind: switch, ports: 4 }\n    sw2: { kind: switch }\n    h1: { kind: host, address: 10.0.2.9/24 }\n",
    "    - endpoints: [sw1, sw2]\n    - endpoints: [h1, sw2]\n",
  );
  const c = labChanges(running, edited);
  assert.deepEqual(c.renoded, []);
  assert.deepEqual(describeChanges(c), [
    "link h1:eth0-sw2:2: h1 address dhcp -> 10.0.2.9/24",
    "switch sw1: ports 32 -> 4 (not live: link sw1:9-sw2:1 keeps port 9)",
  ]);
});

Deno.test("a node of another kind under the same name is named as such, not live, with what to do", () => {
  const edited = lab(
    "    sw1: { kind: switch }\n    sw-3: { kind: slirp }\n    h1: { kind: host, address: 10.0.0.1/24 }\n",
    "    - endpoints: [h1, sw1]\n    - endpoints: [sw1, sw-3]\n      delay: 5ms\n",
  );
  assert.deepEqual(describeChanges(labChanges(RUNNING, edited)), [
    "node sw-3: kind switch -> slirp (not live: another kind is another program; remove the node, apply, then add it back)",
  ]);
});

Deno.test("an added link moves off a port and an interface that a link that stays holds, its host address with it", () => {
  // The file drops h1's first link: its eth1 and sw2:2 for the new link are the running eth1's and sw2:2's.
  const running = lab(
    "    sw1: { kind: switch }\n    sw2: { kind: switch }\n    h1: { kind: host }\n",
    "    - endpoints: [h1, sw1]\n    - endpoints: [h1, sw2]\n",
  );
  const edited = lab(
    "    sw1: { kind: switch }\n    sw2: { kind: switch }\n" +
      "    h1: { kind: host, interfaces: { eth1: 10.0.1.1/24 } }\n",
    "    - endpoints: [h1, sw2]\n    - endpoints: [h1, sw2]\n",
  );
  assert.deepEqual(labChanges(running, edited).addedLinks.map((a) => [linkName(a.link), a.addresses]), [
    ["h1:eth0-sw2:2", [{ host: "h1", iface: "eth0", addresses: ["10.0.1.1/24"] }]],
  ]);
  // The file drops sw1-sw3 and has a second sw1-sw4 on sw1:2, which the first (kept) one holds: it takes sw1:1.
  const switches = "    sw1: { kind: switch }\n    sw3: { kind: switch }\n    sw4: { kind: switch }\n";
  const ports = lab(switches, "    - endpoints: [sw1, sw3]\n    - endpoints: [sw1, sw4]\n");
  const twice = lab(switches, "    - endpoints: [sw1, sw4]\n    - endpoints: [sw1, sw4]\n");
  assert.deepEqual(labChanges(ports, twice).addedLinks.map((a) => linkName(a.link)), ["sw1:1-sw4:2"]);
});

Deno.test("of two links between the same nodes, the file's is matched to the running one with its settings, so the other is removed", () => {
  const switches = "    sw1: { kind: switch }\n    sw2: { kind: switch }\n";
  const running = lab(
    switches,
    "    - endpoints: [sw1, sw2]\n      delay: 5ms\n    - endpoints: [sw1, sw2]\n      loss: 1%\n",
  );
  const kept = lab(switches, "    - endpoints: [sw1, sw2]\n      loss: 1%\n");
  assert.deepEqual(describeChanges(labChanges(running, kept)), ["link sw1:1-sw2:1: removed from the file"]);
  // A host's two links to a switch, told apart by their addresses: the file drops the first one.
  const host = (ifaces: string) =>
    `    sw1: { kind: switch }\n    h1: { kind: host, interfaces: { ${ifaces} } }\n`;
  const twice = lab(
    host("eth0: 10.0.0.1/24, eth1: 10.0.1.1/24"),
    "    - endpoints: [h1, sw1]\n    - endpoints: [h1, sw1]\n",
  );
  const second = lab(host("eth0: 10.0.1.1/24"), "    - endpoints: [h1, sw1]\n");
  assert.deepEqual(describeChanges(labChanges(twice, second)), ["link h1:eth0-sw1:1: removed from the file"]);
});

Deno.test("a switch's VLANs, a link's trunk, a host's routes and a slirp's forwards reordered are no change; another item is", () => {
  const nodes = (vlans: string, routes: string, forwards: string) =>
    `    sw1: { kind: switch, vlans: [${vlans}] }\n    nat: { kind: slirp, forwards: [${forwards}] }\n` +
    `    h1: { kind: host, address: 10.0.0.1/24, routes: [${routes}] }\n`;
  const links = (trunk: string) =>
    `    - endpoints: [h1, sw1]\n    - endpoints: [nat, sw1]\n      trunk: [${trunk}]\n`;
  const running = lab(
    nodes(
      "30, 40",
      "'10.1.0.0/16 via 10.0.0.9', '10.2.0.0/16 via 10.0.0.9'",
      "tcp:8080:10.0.2.15:80, tcp:8081:10.0.2.15:81",
    ),
    links("5, 6"),
  );
  const reordered = lab(
    nodes(
      "40, 30",
      "'10.2.0.0/16 via 10.0.0.9', '10.1.0.0/16 via 10.0.0.9'",
      "tcp:8081:10.0.2.15:81, tcp:8080:10.0.2.15:80",
    ),
    links("6, 5"),
  );
  assert.ok(noChanges(labChanges(running, reordered)));
  const other = lab(
    nodes(
      "40, 31",
      "'10.1.0.0/16 via 10.0.0.9', '10.2.0.0/16 via 10.0.0.9'",
      "tcp:8080:10.0.2.15:80, tcp:8081:10.0.2.15:81",
    ),
    links("5, 6"),
  );
  assert.deepEqual(describeChanges(labChanges(running, other)), ["switch sw1: vlans 30,40 -> 40,31"]);
});

Deno.test("a link's limit (frames waiting, tc netem's) is checked in the file and changed live", () => {
  const edited = lab(
    NODES,
    "    - endpoints: [h1, sw1]\n    - endpoints: [sw1, sw-3]\n      delay: 5ms\n      limit: 50\n",
  );
  assert.deepEqual(edited.links[1]!.impair, { delay: 5, limit: 50 });
  assert.deepEqual(describeChanges(labChanges(RUNNING, edited)), ["link sw1:2-sw-3:1: limit none -> 50"]);
  const { errors } = validateLab(
    "name: t\ntopology:\n  nodes:\n    a: { kind: switch }\n    b: { kind: switch }\n  links:\n" +
      "    - { endpoints: [a, b], rate: 1mbit, limit: 0 }\n",
  );
  assert.deepEqual(errors.map((e) => e.message), ["limit must be a whole number from 1 to 5592, got 0"]);
});

Deno.test("a switch's spanning tree priority is live; its sockets' mode, group and mgmt_mode are not, with why", () => {
  const sw = (extra: string) =>
    validateLab(`name: t\ntopology:\n  nodes:\n    sw1: { kind: switch, stp: true${extra} }\n`, { stp: true })
      .lab!;
  const running = sw("");
  const priority = labChanges(running, sw(", priority: 4096"));
  assert.deepEqual(describeChanges(priority), ["switch sw1: priority 32768 -> 4096"]);
  assert.equal(priority.notLive.length, 0);
  assert.deepEqual(describeChanges(labChanges(running, sw(", mode: 660, group: root, mgmt_mode: 660"))), [
    "switch sw1: mode none -> 660, group none -> root, mgmt_mode none -> 660 (not live: a switch's data plane, " +
    "rc file and socket permissions are its start's)",
  ]);
});
