/** What an edited lab file says that its running lab does not do, matched by names and by the nodes links join. */
import assert from "node:assert/strict";
import { describeChanges, labChanges, namesInListing } from "../../src/lab/changes.ts";
import { validateLab } from "../../src/lab/validate.ts";

function lab(nodes: string, links: string) {
  const { lab, errors } = validateLab(`name: t\ntopology:\n  nodes:\n${nodes}  links:\n${links}`);
  assert.deepEqual(errors, []);
  return lab!;
}

const RUNNING = {
  nodes: ["sw1", "sw-3", "h1"],
  links: ["h1:eth0-sw1:1", "sw1:2-sw-3:1"],
};

Deno.test("a file with the running lab's nodes and links, on other ports or in the other order, is no change", () => {
  const same = lab(
    "    sw1: { kind: switch }\n    sw-3: { kind: switch }\n    h1: { kind: host }\n",
    "    - endpoints: [sw-3, sw1]\n    - endpoints: [h1, sw1]\n",
  );
  assert.equal(describeChanges(labChanges(RUNNING, same)), undefined);
});

Deno.test("nodes and links removed from the file or added to it are named, the running ones by their running names", () => {
  const edited = lab(
    "    sw1: { kind: switch }\n    sw2: { kind: switch }\n",
    "    - endpoints: [sw1, sw2]\n    - endpoints: [sw1, sw2]\n",
  );
  const changes = labChanges(RUNNING, edited);
  assert.deepEqual(changes, {
    removedNodes: ["sw-3", "h1"],
    removedLinks: ["h1:eth0-sw1:1", "sw1:2-sw-3:1"],
    addedNodes: ["sw2"],
    addedLinks: ["sw1:1-sw2:1", "sw1:2-sw2:2"],
  });
  assert.equal(
    describeChanges(changes),
    "removed from the file but still running: nodes sw-3, h1 and links h1:eth0-sw1:1, sw1:2-sw-3:1; " +
      "added to the file but not running: node sw2 and links sw1:1-sw2:1, sw1:2-sw2:2",
  );
});

Deno.test("a second link between the same nodes is a change: links are counted, not only their ends", () => {
  const doubled = lab(
    "    sw1: { kind: switch }\n    sw-3: { kind: switch }\n    h1: { kind: host }\n",
    "    - endpoints: [h1, sw1]\n    - endpoints: [sw1, sw-3]\n    - endpoints: [sw1, sw-3]\n",
  );
  assert.equal(
    describeChanges(labChanges(RUNNING, doubled)),
    "added to the file but not running: link sw1:3-sw-3:2",
  );
});

Deno.test("the names of a nodes or links listing are the first word of each row after the header", () => {
  assert.deepEqual(
    namesInListing(["LINK           STATE  A>B", "h1:eth0-sw1:1  up       1", "sw1:2-sw3:1    up       1"]),
    ["h1:eth0-sw1:1", "sw1:2-sw3:1"],
  );
  assert.deepEqual(namesInListing(["NODE  KIND"]), []);
});
