/**
 * The lab page's drawing: where the nodes go on the circle, and the state
 * the server writes into it for the first drawing.
 */
import assert from "node:assert/strict";
import { readLabText } from "../../src/lab/lab_text.ts";
import { circleOrder, LAB_PAGE_CSP, labPageHtml, labSvg } from "../../src/web/lab_page.ts";
import { REPO_ROOT } from "../helpers/switches.ts";
import { assertDrawsFirst, assertPolicyFits, firstJson } from "../helpers/page_first.ts";

function example(file: string) {
  // As vde up reads it: class.yaml's PORT with its default.
  const text = Deno.readTextFileSync(`${REPO_ROOT}/examples/${file}`);
  const { lab, errors } = readLabText(text, { stp: true, lookup: () => undefined });
  assert.ok(lab, JSON.stringify(errors));
  return lab;
}

/** Whether segments p1-p2 and p3-p4 cross at a point inside both (shared ends do not count). */
type Point = readonly [number, number];

function cross(p1: Point, p2: Point, p3: Point, p4: Point): boolean {
  const d = (a: Point, b: Point, c: Point) => (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  return d(p1, p2, p3) * d(p1, p2, p4) < 0 && d(p3, p4, p1) * d(p3, p4, p2) < 0;
}

Deno.test("lab page: a host sits beside its switch on the circle, in depth-first order of the links", () => {
  const names = circleOrder(example("lossy-wan.yaml")).map((n) => n.name);
  assert.deepEqual(names, ["site1", "site2", "h2", "h1"]);
});

Deno.test("lab page: no two links of a tree-shaped example lab cross in the drawing", () => {
  for (const file of [...Deno.readDirSync(`${REPO_ROOT}/examples`)].map((e) => e.name)) {
    if (!file.endsWith(".yaml")) continue;
    const lab = example(file);
    if (lab.links.length >= lab.nodes.length) continue; // a ring or a mesh may have to cross
    const lines = [...labSvg(lab).matchAll(/<line x1="(\d+)" y1="(\d+)" x2="(\d+)" y2="(\d+)"/g)]
      .map((m): [Point, Point] => [[Number(m[1]), Number(m[2])], [Number(m[3]), Number(m[4])]]);
    assert.equal(lines.length, lab.links.length, file);
    for (let i = 0; i < lines.length; i++) {
      for (let j = i + 1; j < lines.length; j++) {
        assert.ok(
          !cross(lines[i]![0], lines[i]![1], lines[j]![0], lines[j]![1]),
          `${file}: links ${i} and ${j} cross`,
        );
      }
    }
  }
});

Deno.test("lab page: the state at the request is drawn at load, a client's name never closing the script", () => {
  const lab = example("lossy-wan.yaml");
  assert.equal(firstJson(labPageHtml(lab)), "null");
  const first = {
    name: lab.name,
    time: 1,
    switches: [{ name: "site1", ports: [{ port: 1, name: "x </script><b>" }] }],
  };
  const html = labPageHtml(lab, first);
  // The name's </script> is escaped inside the data block.
  assertDrawsFirst(html, first, "poll();");
});

Deno.test("lab page: a dead switch is drawn red and labelled FAILED by the server, for a reader without JavaScript", () => {
  const lab = example("lossy-wan.yaml");
  const html = labPageHtml(lab, {
    switches: [{ name: "site1", failure: "its loop threw" }, { name: "site2", failure: null }],
  });
  assert.match(html, /<g class="node switch failed" id="node-site1">/);
  assert.match(html, /<text [^>]*class="flabel" id="flabel-site1">FAILED<\/text>/);
  assert.match(html, /<g class="node switch" id="node-site2">/);
  assert.match(html, /<text [^>]*class="flabel" id="flabel-site2"><\/text>/);
  // Without a first state, nothing is marked.
  assert.doesNotMatch(labSvg(lab), /failed|>FAILED</);
});

Deno.test("lab page: its policy lets only its own script and style run, by hash, and forbids framing", () => {
  assertPolicyFits(labPageHtml(example("lossy-wan.yaml"), { name: "x" }), LAB_PAGE_CSP);
});
