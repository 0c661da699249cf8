/**
 * What tests read of a served page: the first state it carries (page.ts's
 * withFirst), and whether its Content-Security-Policy fits its inline
 * script and style.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { READ_FIRST } from "../../src/web/page.ts";

/** The JSON text of a page's first-state block. */
export function firstJson(html: string): string {
  const m = /<script type="application\/json" id="first">(.*?)<\/script>/s.exec(html);
  if (m === null) throw new Error("the page has no first-state block");
  return m[1]!;
}

/**
 * Asserts that Content-Security-Policy `csp` names the SHA-256 of the one
 * executable script and the one style of `html`, allows nothing inline
 * beyond them, and forbids framing.
 */
export function assertPolicyFits(html: string, csp: string): void {
  const hash = (t: string) => `'sha256-${createHash("sha256").update(t).digest("base64")}'`;
  const scripts = [...html.matchAll(/<script>(.*?)<\/script>/gs)].map((m) => m[1]!);
  const styles = [...html.matchAll(/<style>(.*?)<\/style>/gs)].map((m) => m[1]!);
  assert.equal(scripts.length, 1);
  assert.equal(styles.length, 1);
  assert.match(csp, new RegExp(`script-src ${escapeRegExp(hash(scripts[0]!))};`));
  assert.match(csp, new RegExp(`style-src ${escapeRegExp(hash(styles[0]!))};`));
  assert.doesNotMatch(csp, /unsafe/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /default-src 'none'/);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * Asserts that `html` carries `first` in its data block, that no string in
 * it closed an element early (the data block and the script each close once),
 * and that the script reads and draws it before `next` (its first fetch).
 */
export function assertDrawsFirst(html: string, first: unknown, next: string): void {
  assert.equal(html.split("</script>").length, 3);
  assert.deepEqual(JSON.parse(firstJson(html)), first);
  assert.ok(
    html.includes(`\n${READ_FIRST}\nif (FIRST) draw(FIRST);\n${next}\n`),
    `draws FIRST, then ${next}`,
  );
}
