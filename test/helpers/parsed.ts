/**
 * Unwrapping src/wire/parse.ts outcomes in tests: the value of a parse that
 * must succeed, the reason of one that must fail, each a failed assertion
 * otherwise.
 */
import assert from "node:assert/strict";
import type { Parsed } from "../../src/wire/parse.ts";

/** The value of `r`; fails the test with the reason when it did not parse. */
export function valueOf<T>(r: Parsed<T>): T {
  if (!r.ok) assert.fail(`expected a value, got: ${r.reason}`);
  return r.value;
}

/** The reason `r` failed; fails the test when it parsed. */
export function reasonOf<T>(r: Parsed<T>): string {
  if (r.ok) assert.fail(`expected a failure, got ${Deno.inspect(r.value)}`);
  return r.reason;
}
