import assert from "node:assert/strict";
import { AddressSet } from "../../src/cli/address_set.ts";

Deno.test("an address set holds each IPv4 and IPv6 address once, read where it lies in a frame, a v4 one never taken for a v6 one with its bytes first", () => {
  const set = new AddressSet(100);
  const frame = new Uint8Array(40);
  frame.set([10, 0, 0, 1], 4);
  assert.equal(set.add(4, frame, 4), true);
  assert.equal(set.add(4, frame, 4), false, "there already");
  assert.equal(set.has(4, new Uint8Array([9, 10, 0, 0, 1]), 1), true, "the same bytes elsewhere");
  assert.equal(set.has(6, frame, 4), false, "10.0.0.1 followed by zeros is not the v6 a00:1::");
  assert.equal(set.add(6, frame, 4), true);
  assert.equal(set.size, 2);
});

Deno.test("an address set finds every address it was given, in any order, and takes none past its capacity", () => {
  const set = new AddressSet(1000);
  const addresses = Array.from(
    { length: 1000 },
    (_, i) => new Uint8Array([i * 7919 % 256, i >> 2, i & 3, 255 - (i % 256)]),
  );
  const v6 = addresses.map((a) => new Uint8Array([0xfd, ...a, ...Array(11).fill(0)]));
  for (const [i, a] of addresses.entries()) {
    assert.equal(set.add(i % 2 === 0 ? 4 : 6, i % 2 === 0 ? a : v6[i]!, 0), true, `address ${i}`);
  }
  for (const [i, a] of addresses.entries()) {
    assert.equal(set.has(i % 2 === 0 ? 4 : 6, i % 2 === 0 ? a : v6[i]!, 0), true, `address ${i} found`);
    assert.equal(set.has(i % 2 === 0 ? 6 : 4, i % 2 === 0 ? v6[i]! : a, 0), false, `not its other family's`);
  }
  assert.equal(set.add(4, new Uint8Array([1, 2, 3, 4]), 0), false, "full");
  assert.equal(set.has(4, new Uint8Array([1, 2, 3, 4]), 0), false);
  assert.equal(set.size, 1000);
});
