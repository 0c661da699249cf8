/**
 * A pinned directory closed out of order, its descriptor's number then taken by another directory's open:
 * what a path kept from the closed pin (/proc/self/fd/N/NAME) would now reach. Tests of a held entry's
 * users (mgmt, capture) pin that such a use is refused, and the other directory's file is left.
 */
import assert from "node:assert/strict";
import { PinnedDirectory } from "../../src/os/held_dir.ts";

/**
 * Closes `pin` and pins `tmp`/other, where a file `name` holding "theirs" stands, on the number `pin` had.
 *
 * @returns the other directory's pin (close it)
 */
export function closeAndReuse(pin: PinnedDirectory, tmp: string, name: string): PinnedDirectory {
  const at = pin.at;
  pin.close();
  Deno.mkdirSync(`${tmp}/other`);
  Deno.writeTextFileSync(`${tmp}/other/${name}`, "theirs");
  const other = PinnedDirectory.pin(`${tmp}/other`, undefined);
  assert.equal(other.at, at, "the number is reused");
  return other;
}
