/**
 * README.md's links within itself: every `](#anchor)` names a heading, with
 * the anchor GitHub makes for it (lower case, punctuation other than `-` and
 * `_` dropped, spaces to `-`, a repeated heading suffixed `-1`, `-2`...).
 * Headings inside fenced code blocks are not headings. A section renamed or
 * removed without its links fails here.
 */
import assert from "node:assert/strict";

const README = new URL("../README.md", import.meta.url);

/** The anchors GitHub gives README's headings. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) {
      fenced = !fenced;
      continue;
    }
    const heading = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (heading === null) continue;
    const base = (heading[1] ?? "").toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

Deno.test("headingAnchors spells anchors as GitHub does, repeats suffixed, code blocks skipped", () => {
  const anchors = headingAnchors([
    "## Slirp: `slirp://`, `vde slirp`, `vde switch --slirp`",
    "### `vde switch` — a vde_switch-compatible switch",
    "```sh",
    "# not a heading",
    "```",
    "## Tests",
    "## Tests",
  ].join("\n"));
  assert.deepEqual([...anchors], [
    "slirp-slirp-vde-slirp-vde-switch---slirp",
    "vde-switch--a-vde_switch-compatible-switch",
    "tests",
    "tests-1",
  ]);
});

Deno.test("every link to a section of README names one of its headings", async () => {
  const readme = await Deno.readTextFile(README);
  const anchors = headingAnchors(readme);
  const links = [...readme.matchAll(/\]\(#([^)\s]*)\)/g)].map((m) => m[1] ?? "");
  assert.ok(links.length > 0, "README links to its own sections");
  assert.deepEqual(links.filter((a) => !anchors.has(a)), []);
});
