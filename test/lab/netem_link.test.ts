/**
 * containerlab's `tools netem set -n NODE -i IFACE` names an interface; a
 * lab link's impairments are set by the link's name: the interface is one
 * end of one link, which the answer names in the exact `vde term` line.
 */
import assert from "node:assert/strict";
import { linksAtInterface, namesEnd } from "../../src/lab/netem_link.ts";
import { otherToolHint } from "../../src/cli/other_tools.ts";
import type { EndJson, LinkJson } from "../../src/lab/capture_hint.ts";
import { TWO_HOSTS, vde, vdeCommand, withLabUp } from "./_helpers.ts";
import { AS_NOBODY, run, skipUnlessRoot } from "../helpers/processes.ts";

const LINKS: LinkJson[] = [
  { name: "sw1:1-sw2:1", a: { node: "sw1", port: 1 }, b: { node: "sw2", port: 1 } },
  { name: "h1:eth1-sw1:3", a: { node: "h1", iface: "eth1" }, b: { node: "sw1", port: 3 } },
];

Deno.test("netem's NODE and IFACE find the one link they are an end of: a host's interface, a switch's ethN, containerlab's container name", () => {
  const labs = [{ lab: "demo", links: LINKS }];
  const one = (lab: string, link: string) => [{ lab, link }];
  assert.deepEqual(linksAtInterface(labs, "h1", "eth1"), one("demo", "h1:eth1-sw1:3"));
  assert.deepEqual(linksAtInterface(labs, "clab-demo-h1", "eth1"), one("demo", "h1:eth1-sw1:3"));
  assert.deepEqual(linksAtInterface(labs, "vde-demo-h1", "eth1"), one("demo", "h1:eth1-sw1:3"));
  assert.deepEqual(linksAtInterface(labs, "sw1", "eth3"), one("demo", "h1:eth1-sw1:3"));
  assert.deepEqual(linksAtInterface(labs, "sw2", "1"), one("demo", "sw1:1-sw2:1"));
  for (const [node, iface] of [["h1", "eth0"], ["sw1", "eth2"], ["clab-other-h1", "eth1"], ["h9", "eth1"]]) {
    assert.deepEqual(linksAtInterface(labs, node!, iface!), [], `${node} ${iface}`);
  }
  // Two running labs with an h1:eth1: both.
  assert.equal(linksAtInterface([...labs, { lab: "b", links: LINKS }], "h1", "eth1").length, 2);
});

Deno.test("a link is named by one of its ends as vde status writes it, for a line whose far end is unseen", () => {
  const [sw, host] = LINKS.map((l) => [l.a, l.b]) as [EndJson[], EndJson[]];
  assert.ok(namesEnd(host, "h1:eth1"));
  assert.ok(namesEnd(host, "sw1:3"));
  assert.ok(namesEnd(host, "sw1:eth3"), "containerlab's name for a bridge's port");
  assert.ok(namesEnd(sw, "sw2:1"));
  for (const name of ["h1:eth0", "h1", "sw1:1", "h1:eth1-sw1:3", "h1:eth1:x", ""]) {
    assert.ok(!namesEnd(host, name), name);
  }
});

Deno.test("containerlab's tools netem set on a host of root's lab, by a user who is not root, is root's link line by that end", () => {
  const set = ["netem", "set", "-n", "h1", "-i", "eth0", "--delay", "10ms"];
  const rootsHost = (host: string, line: (lab: string) => string) =>
    host === "h1" ? `h1 is a host of root's lab class: \`sudo ${line("class")}\`` : undefined;
  assert.equal(
    otherToolHint("tools", set, [], rootsHost),
    "h1 is a host of root's lab class: `sudo vde term class -c 'link h1:eth0 delay 10ms'`; a lab link's delay " +
      "and loss are each way, netem's on one interface are what it sends",
  );
  // This user's own lab's h1 comes first; a host root's labs lack is no running lab's.
  assert.match(
    otherToolHint("tools", set.with(5, "eth1"), [{ lab: "demo", links: LINKS }], rootsHost) ?? "",
    /^h1's eth1 is link/,
  );
  assert.match(
    otherToolHint("tools", set.with(3, "h9"), [], rootsHost) ?? "",
    /^a running lab's link changes live/,
  );
});

Deno.test("containerlab's tools netem set -n NODE -i IFACE is answered with the link line of that interface's link, in its lab", () => {
  const labs = [{ lab: "demo", links: LINKS }];
  const set = ["netem", "set", "-n", "clab-demo-h1", "-i", "eth1", "--delay", "10ms", "--loss=5"];
  assert.equal(
    otherToolHint("tools", set, labs),
    "clab-demo-h1's eth1 is link h1:eth1-sw1:3 of lab demo, which changes live at its console: " +
      "`vde term demo -c 'link h1:eth1-sw1:3 delay 10ms loss 5%'`; a lab link's delay and loss are each way, " +
      "netem's on one interface are what it sends",
  );
  assert.match(
    otherToolHint(
      "clab",
      ["tools", "netem", "set", "--node", "sw1", "--interface=eth1", "--rate", "1000"],
      labs,
    ) ??
      "",
    /`vde term demo -c 'link sw1:1-sw2:1 rate 1000'`/,
  );
  const two = otherToolHint("tools", set.with(3, "h1"), [...labs, { lab: "b", links: LINKS }]) ?? "";
  assert.match(two, /^h1's eth1 is a link of labs demo, b: `vde term demo -c .*` or `vde term b -c /);
  assert.match(
    otherToolHint("tools", set.with(5, "eth7"), labs) ?? "",
    /^no running lab has clab-demo-h1's eth7 on a link; a running lab's link changes live .*'link A-B delay 10ms/,
  );
});

Deno.test("vde tools netem set -n NODE -i IFACE of a running lab prints the vde term line of its link, which sets it", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    const r = await vde(["tools", "netem", "set", "-n", `clab-${name}-h2`, "-i", "eth0", "--delay", "7ms"]);
    assert.equal(r.code, 1);
    const line = /`vde term (\S+) -c '([^']+)'`/.exec(r.stderr);
    assert.ok(line !== null, r.stderr);
    assert.equal(line[1], name);
    assert.equal(line[2], "link h2:eth0-sw1:2 delay 7ms");
    // The line as printed sets the link.
    const set = await vde(["term", name, "-c", line[2]!]);
    assert.equal(set.code, 0, set.stderr);
    const shown = await vde(["term", name, "-c", "link h2:eth0-sw1:2"]);
    assert.match(shown.stdout, /delay 7/, shown.stdout);
  });
});

Deno.test("vde tools netem set -n HOST of root's lab, by another uid, prints root's line, which sets the link", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    // The CLI imports npm packages, which uid 65534 cannot cache in root's Deno directory.
    const denoDir = await Deno.makeTempDir({ prefix: "vde-lab4-deno-" });
    try {
      await Deno.chmod(denoDir, 0o777);
      const r = await run(
        [...AS_NOBODY, ...vdeCommand(), "tools", "netem", "set", "-n", "h2", "-i", "eth0", "--delay", "7ms"],
        { check: false, timeoutMs: 60_000, env: { DENO_DIR: denoDir } },
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /h2 is a host of root's labs? [^:]*, not this user's: run vde as root for it, /);
      const line = new RegExp(`\`sudo vde term ${name} -c '([^']+)'\``).exec(r.stderr);
      assert.ok(line !== null, r.stderr);
      assert.equal(line[1], "link h2:eth0 delay 7ms");
      // The line as printed, run by root, sets the link.
      const set = await vde(["term", name, "-c", line[1]!]);
      assert.equal(set.code, 0, set.stderr);
      const shown = await vde(["term", name, "-c", "link h2:eth0-sw1:2"]);
      assert.match(shown.stdout, /delay 7/, shown.stdout);
    } finally {
      await Deno.remove(denoDir, { recursive: true });
    }
  });
});
