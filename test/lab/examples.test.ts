/**
 * Every example lab end to end: `vde up -d`, traffic across it, `vde
 * status`, `vde down`, and then nothing of the lab left on the machine.
 * And the copies the program carries (src/lab/examples.ts) are examples/
 * as it is: none left out, none stale, each printed without the schema
 * line that names a checkout's file.
 */
import assert from "node:assert/strict";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { inHost, leftovers, pingCount, vde, withLabUp } from "./_helpers.ts";
import { EXAMPLE_LABS, exampleNamedBy, exampleSummary, exampleText } from "../../src/lab/examples.ts";
import { readLabText } from "../../src/lab/lab_text.ts";
import { pingArgs, pingTimeoutMs, repliesIn } from "../helpers/ping_replies.ts";

async function withLab(
  t: Deno.TestContext,
  source: string | { text: string },
  body: (name: string) => Promise<void>,
): Promise<void> {
  if (skipUnlessRoot(t)) return;
  await withLabUp(typeof source === "string" ? { example: source } : source, async (name) => {
    await body(name);
    const status = await vde(["status", name]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^NODE +KIND +DETAIL/m);
    assert.match(status.stdout, /^LINK +STATE +A>B +B>A +DROPS/m);
    const listed = await vde(["status"]);
    assert.match(listed.stdout, new RegExp(`^${name} +\\d+ +up`, "m"));
    const down = await vde(["down", name]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await leftovers(name), []);
  });
}

Deno.test("README's lab example comes up as written: NAT, a DHCP lease, and a VLAN across the trunk", async (t) => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const text = /```yaml\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("### Labs:")))?.[1];
  assert.ok(text !== undefined, "a yaml block in README's Labs section");
  await withLab(t, { text }, async (name) => {
    assert.equal(await pingCount(name, "h1", "10.0.2.2", 3), 3, "h1 -> the slirp's gateway");
    const addr = await inHost(name, "h2", ["ip", "-4", "-o", "addr", "show", "eth0"]);
    assert.match(addr.stdout, /inet 10\.0\.2\.15\//, "h2 leased the address the forward points at");
    assert.equal(await pingCount(name, "h2", "10.0.2.10", 3), 3, "h2 -> h1");
    // The trunk loses 2% each way: 5 pings all lost would be a broken VLAN, not bad luck.
    assert.ok(await pingCount(name, "h3", "192.168.10.4", 5) > 0, "h3 -> h4 over VLAN 10 on the trunk");
  });
});

Deno.test("lan-nat example: hosts lease addresses from the lab's slirp and reach each other and the gateway", async (t) => {
  await withLab(t, "lan-nat.yaml", async (name) => {
    const addr = await inHost(name, "h2", ["ip", "-4", "-o", "addr", "show", "eth0"]);
    const lease = /inet (10\.0\.2\.\d+)\//.exec(addr.stdout)?.[1];
    assert.ok(lease !== undefined, `h2 has no DHCP lease: ${addr.stdout}`);
    assert.equal(await pingCount(name, "h1", lease, 3), 3);
    assert.equal(await pingCount(name, "h1", "10.0.2.2", 2), 2);
    const route = await inHost(name, "h1", ["ip", "route", "show", "default"]);
    assert.match(route.stdout, /default via 10\.0\.2\.2/);
  });
});

Deno.test("class example: its hosts reach each other and the slirp's gateway, and its forward takes PORT's default", async (t) => {
  await withLab(t, "class.yaml", async (name) => {
    assert.equal(await pingCount(name, "h1", "10.0.2.16", 3), 3);
    assert.equal(await pingCount(name, "h2", "10.0.2.2", 2), 2);
    (await Deno.connect({ hostname: "127.0.0.1", port: 18080 })).close();
  });
});

Deno.test("vlan-trunk example: a VLAN reaches its members across the trunk and no one else", async (t) => {
  await withLab(t, "vlan-trunk.yaml", async (name) => {
    assert.equal(await pingCount(name, "a1", "10.0.0.11", 3), 3, "a1 -> b1 (VLAN 10 over the trunk)");
    assert.equal(await pingCount(name, "a2", "10.0.0.12", 3), 3, "a2 -> b2 (VLAN 20 over the trunk)");
    assert.equal(await pingCount(name, "a1", "10.0.0.12", 2), 0, "a1 -> b2 crosses VLANs");
    assert.equal(await pingCount(name, "a1", "10.0.0.2", 2), 0, "a1 -> a2 crosses VLANs");
  });
});

Deno.test("lossy-wan example: pings cross the WAN link with its delay and some loss", async (t) => {
  await withLab(t, "lossy-wan.yaml", async (name) => {
    // By ping_replies.ts's rule: a reply late past plain -c's short wait after probe 30 is not a loss.
    const r = await inHost(name, "h1", pingArgs("192.168.50.2", 30, [], 0.1), pingTimeoutMs(30, 0.1));
    const replies = repliesIn(r.stdout, 30);
    const received = replies.size;
    const min = Math.min(...replies.values());
    // 10% each way: 30 pings lose none with probability 0.81^30 < 0.2%.
    assert.ok(received > 0 && received < 30, `received ${received} of 30:\n${r.stdout}`);
    // 20 ms +-5 each way: a round trip is at least 30 ms.
    assert.ok(min >= 30, `round trip ${min} ms is shorter than the link's delay`);
  });
});

Deno.test("stp-loop example: spanning tree breaks the loop of three switches and hosts still reach each other", async (t) => {
  await withLab(t, "stp-loop.yaml", async (name) => {
    // Ports pass frames once spanning tree has agreed; bound that generously.
    let received = 0;
    for (let i = 0; i < 30 && received === 0; i++) received = await pingCount(name, "h1", "10.3.0.2", 1);
    assert.equal(received, 1, "h1 never reached h2");
    assert.equal(await pingCount(name, "h1", "10.3.0.2", 3), 3);
    // Without spanning tree a broadcast would circle the loop forever: counters in the millions.
    const status = (await vde(["status", name])).stdout;
    const loopFrames = [...status.matchAll(/^sw\d:\d+-sw\d:\d+ +up +(\d+) +(\d+)/gm)]
      .reduce((sum, m) => sum + Number(m[1]) + Number(m[2]), 0);
    assert.ok(loopFrames > 0 && loopFrames < 5000, `${loopFrames} frames on the loop links:\n${status}`);
    // sw1's priority 4096 makes it the root, whatever the three MACs are.
    for (const sw of ["sw2", "sw3"]) {
      const stp = await vde(["term", name, "-c", `${sw} stp`]);
      assert.match(stp.stdout, /^designated root +1000\./m, `${sw}:\n${stp.stdout}${stp.stderr}`);
    }
  });
});

const EXAMPLES = new URL("../../examples/", import.meta.url);

Deno.test("every file of examples/ is carried, with the same text", () => {
  const files = [...Deno.readDirSync(EXAMPLES)].map((e) => e.name).filter((n) => n.endsWith(".yaml")).sort();
  assert.deepEqual(Object.keys(EXAMPLE_LABS).sort(), files.map((n) => n.slice(0, -5)));
  for (const file of files) {
    assert.equal(EXAMPLE_LABS[file.slice(0, -5)], Deno.readTextFileSync(new URL(file, EXAMPLES)));
  }
});

Deno.test("a printed example is a valid lab file without the schema line", () => {
  for (const name of Object.keys(EXAMPLE_LABS)) {
    const text = exampleText(name)!;
    assert.doesNotMatch(text, /\$schema=/);
    assert.match(text, /^# /, `${name} starts with its description`);
    // Read as `vde up` reads it, variables with their defaults (class's PORT).
    assert.notEqual(readLabText(text, { stp: true, lookup: () => undefined }).lab, undefined, name);
  }
  assert.equal(exampleText("nope"), undefined);
});

Deno.test("an example's summary is the first sentence of its comment, an 802.1Q left whole", () => {
  assert.equal(
    exampleSummary(EXAMPLE_LABS["lan-nat"]!),
    "Two hosts on one switch, with NAT to the machine's network through a slirp",
  );
  assert.equal(
    exampleSummary(EXAMPLE_LABS["vlan-trunk"]!),
    "Two switches joined by an 802.1Q trunk carrying VLANs 10 and 20",
  );
});

Deno.test("a lab file path names a carried example by its base name", () => {
  assert.equal(exampleNamedBy("examples/lan-nat.yaml"), "lan-nat");
  assert.equal(exampleNamedBy("/srv/labs/stp-loop.yml"), "stp-loop");
  assert.equal(exampleNamedBy("lab.yaml"), undefined);
});

Deno.test("names every object inherits (constructor, toString) are no example", () => {
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    assert.equal(exampleText(name), undefined, name);
    assert.equal(exampleNamedBy(`${name}.yaml`), undefined, name);
  }
});
