/**
 * `vde down LAB` once the lab's record is gone still finds the namespaces
 * its hosts left, by name, and removes those that are unambiguously its own.
 */
import assert from "node:assert/strict";
import { leftoverNamespaces, leftoversLine, rootsLeftoversLine } from "../../src/lab/leftover_namespaces.ts";
import { run, skipUnlessRoot } from "../helpers/processes.ts";
import { vde } from "./_helpers.ts";

Deno.test("a lab's leftover namespaces are those named vde-LAB-HOST that no record holds; a dash in either name may make it another lab's", () => {
  const listed = [
    "vde-a-h2",
    "vde-a-h1",
    "vde-a-b-h1",
    "vde-ab-h1",
    "vde-a-",
    "vde-a-held",
    "other",
    "vde-b-h1",
  ];
  const found = leftoverNamespaces("a", listed, (ns) => ns === "vde-a-held");
  assert.deepEqual(found, { ours: ["vde-a-h1", "vde-a-h2"], unsure: ["vde-a-b-h1"] });
  // vde-a-b-h1 is lab a-b's h1 and lab a's b-h1 alike: `vde down a-b` must not take lab a's.
  assert.deepEqual(leftoverNamespaces("a-b", listed, () => false), { ours: [], unsure: ["vde-a-b-h1"] });
  assert.equal(leftoversLine("a", [], []), undefined);
  assert.equal(
    leftoversLine("a", ["vde-a-h1"], []),
    "removed 1 namespace lab a left (its record was gone): vde-a-h1",
  );
});

Deno.test("another user's vde down names root's namespaces of the lab's name, with the command that removes them", () => {
  const listed = ["vde-a-h1", "vde-a-b-h1", "vde-b-h1"];
  assert.equal(
    rootsLeftoversLine("a", listed),
    "left vde-a-b-h1, vde-a-h1: root's namespaces (a root lab a left them?); `sudo vde down a` removes what is that lab's",
  );
  assert.equal(rootsLeftoversLine("c", listed), undefined);
});

async function namespaces(prefix: string): Promise<string[]> {
  const r = await run(["ip", "netns", "list"], { check: false });
  return r.stdout.split("\n").map((l) => l.split(" ")[0]!).filter((n) => n.startsWith(prefix)).sort();
}

Deno.test("vde down of a lab whose record is gone removes the namespaces its hosts left, in one line, and leaves one that may be another lab's", async (t) => {
  if (skipUnlessRoot(t)) return;
  const lab = `small9lo${Deno.pid}`;
  const made = [`vde-${lab}-h1`, `vde-${lab}-h2`, `vde-${lab}-b-h1`];
  try {
    for (const ns of made) await run(["ip", "netns", "add", ns]);
    const down = await vde(["down", lab]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(
      down.stdout,
      `removed 2 namespaces lab ${lab} left (its record was gone): vde-${lab}-h1, vde-${lab}-h2; ` +
        `left vde-${lab}-b-h1: may be another lab's (names are vde-LAB-HOST, both may hold "-"); ` +
        "`ip netns del NAME` if nothing uses it\n",
      "one line says what was removed, and what was left",
    );
    assert.deepEqual(await namespaces(`vde-${lab}-`), [`vde-${lab}-b-h1`]);
    const again = await vde(["down", lab]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`^no lab ${lab} is up[^\\n]*: nothing to take down\\n`));
    assert.match(
      again.stdout,
      new RegExp(`\\nleft vde-${lab}-b-h1: may be another lab's[^\\n]*ip netns del`),
    );
    await run(["ip", "netns", "del", `vde-${lab}-b-h1`]);
    const none = await vde(["down", lab]);
    assert.match(none.stdout, new RegExp(`^no lab ${lab} is up[^\\n]*: nothing to take down\\n$`));
  } finally {
    for (const ns of made) await run(["ip", "netns", "del", ns], { check: false });
  }
});
