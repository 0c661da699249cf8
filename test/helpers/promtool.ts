/** Debian's promtool (package prometheus) as the judge of exposition text, and reading samples out of it. */
import assert from "node:assert/strict";
import { hasCommand, run, skipUnless } from "./processes.ts";

/** Skips (fails in CI) when promtool is missing; returns true when the test should return. */
export async function skipWithoutPromtool(t: Deno.TestContext): Promise<boolean> {
  return skipUnless(t, (await hasCommand("promtool")) ? null : "promtool missing (Debian prometheus)");
}

/** `promtool check metrics` on `text` prints nothing and exits 0. */
export async function assertPromtoolClean(text: string): Promise<void> {
  const check = await run(["promtool", "check", "metrics"], { input: text, check: false });
  assert.equal(check.stdout + check.stderr, "", "promtool prints no problem");
  assert.equal(check.code, 0);
}

/** The value of the sample written exactly `series` (name and labels) in exposition `text`; fails when absent. */
export function metricValue(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  assert.ok(line !== undefined, `${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}
