import assert from "node:assert/strict";
import { vdeBucket } from "../../src/switch/vde_bucket.ts";
import { vdeHashIndex } from "../../src/switch/mac_table.ts";

Deno.test("vdeBucket agrees with the BigInt vdeHashIndex on the spec's samples and random keys", () => {
  const mac = (s: string) => new Uint8Array(s.split(":").map((h) => parseInt(h, 16)));
  // Observed on Debian (spec 5.4, 5.5, 6.1).
  assert.equal(vdeBucket(mac("02:00:00:00:00:01"), 0, 128), 43);
  assert.equal(vdeBucket(mac("02:00:00:00:00:01"), 10, 128), 9);
  assert.equal(vdeBucket(mac("52:54:00:12:34:02"), 0, 128), 51);
  assert.equal(vdeBucket(mac("52:54:00:12:34:01"), 0, 128), 127);
  const bytes = new Uint8Array(6);
  for (let i = 0; i < 20000; i++) {
    crypto.getRandomValues(bytes);
    const vlan = i % 4096;
    const buckets = 1 << (i % 21);
    assert.equal(
      vdeBucket(bytes, vlan, buckets),
      vdeHashIndex(bytes, vlan, buckets),
      `${bytes} ${vlan} ${buckets}`,
    );
  }
});
