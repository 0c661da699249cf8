/**
 * vdeplug4's schemes that vde lacks are answered with what to use instead
 * and with Debian's vde_plug, not with "unknown scheme" alone.
 */
import assert from "node:assert/strict";
import { openLink, schemes } from "../../src/link/registry.ts";
import { foreignSchemeHint } from "../../src/link/foreign_schemes.ts";

/** libvdeplug4's modules and plugins (Debian's vdeplug, vdeplug_slirp, vdeplug4's plugins). */
const VDEPLUG4 = [
  "vde",
  "ptp",
  "vxlan",
  "vxvde",
  "udp",
  "tap",
  "slirp",
  "cmd",
  "null",
  "seqpacket",
  "macvtap",
  "bonding",
  "switch",
  "hub",
  "multi",
  "vlan",
  "agno",
  "pcap",
];

Deno.test("every vdeplug4 scheme is either opened by vde or answered with what to use instead", () => {
  const ours = new Set(schemes());
  for (const scheme of VDEPLUG4) {
    if (ours.has(scheme)) assert.equal(foreignSchemeHint(scheme), undefined, scheme);
    else assert.match(foreignSchemeHint(scheme) ?? "", /Debian's vde_plug/, scheme);
  }
});

Deno.test("kvde:// is refused with a pointer to vde:// and Debian's vde_plug, on one line", async () => {
  await assert.rejects(openLink("kvde:///tmp/sock"), (err: Error) => {
    assert.match(
      err.message,
      /^unknown VNL scheme "kvde:\/\/" \(known: [^)]*\): kvde:\/\/ is libvdeplug4's/,
    );
    assert.match(err.message, /vde:\/\//);
    assert.match(err.message, /Debian's vde_plug \(package vdeplug\) has it$/);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });
});

Deno.test("the schemes vde has come to open (hub, switch, multi, bonding, seqpacket) have no hint left", () => {
  for (const scheme of ["hub", "switch", "multi", "bonding", "seqpacket"]) {
    assert.ok(schemes().includes(scheme), scheme);
    assert.equal(foreignSchemeHint(scheme), undefined, scheme);
  }
});

Deno.test("a scheme nobody has stays a plain unknown scheme", async () => {
  await assert.rejects(openLink("nope://x"), (err: Error) => {
    assert.match(err.message, /^unknown VNL scheme "nope:\/\/" \(known: [^)]*\)$/);
    return true;
  });
});

Deno.test("a mistyped scheme names the nearest one", async () => {
  await assert.rejects(
    openLink("nul://"),
    /^Error: unknown VNL scheme "nul:\/\/" \(did you mean null:\/\/\? known: /,
  );
  await assert.rejects(openLink("tpc://h:1"), /\(did you mean tcp:\/\/\? known: /);
});
