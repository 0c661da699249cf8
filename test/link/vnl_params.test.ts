/**
 * vdeplug4's slash-form VNL options (spec 3.2): address, abbreviated keys,
 * quoting and escapes, and our unquoted key-file paths.
 */
import assert from "node:assert/strict";
import { parseSize, parseSlashParams } from "../../src/link/vnl_params.ts";

const KEYS = ["port", "vni", "ttl", "v4", "v6", "key", "listen"] as const;

Deno.test("parseSlashParams reads the address and options, keys abbreviated", () => {
  const p = parseSlashParams("239.1.2.3/p=5000/vni=42/v6", KEYS);
  assert.equal(p.address, "239.1.2.3");
  assert.deepEqual([...p.options], [["port", "5000"], ["vni", "42"], ["v6", ""]]);
  assert.equal(parseSlashParams("", KEYS).address, "");
  assert.equal(parseSlashParams("/ttl=3", KEYS).options.get("ttl"), "3");
});

Deno.test("parseSlashParams refuses unknown keys with the list of known ones", () => {
  assert.throws(
    () => parseSlashParams("x/colour=red", KEYS, "vxlan"),
    /unknown vxlan:\/\/ option "colour" \(known: port/,
  );
});

Deno.test("parseSlashParams names the nearest key for a typo, swapped letters included", () => {
  assert.throws(
    () => parseSlashParams("x/kye=/etc/k", KEYS, "tcp"),
    /option "kye" \(did you mean key\? known: port/,
  );
  assert.throws(
    () => parseSlashParams("x/vnii=3", KEYS, "vxlan"),
    /option "vnii" \(did you mean vni\? known:/,
  );
});

Deno.test("parseSlashParams decodes quotes, backslashes and %HH", () => {
  assert.equal(parseSlashParams("a/key='/etc/k'", KEYS).options.get("key"), "/etc/k");
  assert.equal(parseSlashParams('a/key="x/y"', KEYS).options.get("key"), "x/y");
  assert.equal(parseSlashParams("a/key=x\\/y", KEYS).options.get("key"), "x/y");
  assert.equal(parseSlashParams("a/key=%2Fetc%2fk", KEYS).options.get("key"), "/etc/k");
  assert.throws(() => parseSlashParams("a/key='open", KEYS), /unterminated/);
});

Deno.test("parseSlashParams keeps a path key's slashes up to the next full key", () => {
  const p = parseSlashParams("h:1/key=/etc/vde/cable.key/listen", KEYS, "tcp", ["key"]);
  assert.equal(p.options.get("key"), "/etc/vde/cable.key");
  assert.equal(p.options.get("listen"), "");
  // Without pathKeys the same VNL is an error, as in vdeplug4.
  assert.throws(() => parseSlashParams("h:1/key=/etc/k", KEYS, "tcp"), /unknown tcp:\/\/ option "etc"/);
});

Deno.test("parseSize takes k, M and G suffixes", () => {
  assert.equal(parseSize("4096"), 4096);
  assert.equal(parseSize("4k"), 4096);
  assert.equal(parseSize("2M"), 2 * 1024 * 1024);
  assert.equal(parseSize("1G"), 1024 ** 3);
  assert.equal(parseSize("1.5M"), null);
  assert.equal(parseSize("M"), null);
});
