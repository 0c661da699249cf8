import assert from "node:assert/strict";
import { type Bpdu, bridgeId, buildBpdu, isBpduDestination, parseBpdu } from "../../src/wire/stp.ts";

function bpduOf(frame: Uint8Array): Bpdu {
  const result = parseBpdu(frame);
  if (!result.ok) throw new Error(result.reason);
  return result.value;
}

const MAC = new Uint8Array([0x02, 0, 0, 0, 0, 0x01]);

/** Sent by Debian's vde_switch -F --priority 4096 as root, hello 4 s, max age 40 s (captured with vde_plug). */
function fstpFrame(): Uint8Array {
  const hex = "0180c200000000ff73d563270027424203000002023c100000ff73d5632700000000100000ff73d56327" +
    "80010000280004000000" + "00";
  return new Uint8Array(hex.match(/../g)!.map((b) => parseInt(b, 16)));
}

const config: Bpdu = {
  kind: "config",
  version: 0,
  flags: 0x81,
  rootId: "1000.020000000001",
  rootPathCost: 2000,
  bridgeId: "8000.020000000002",
  portId: 0x8002,
  messageAge: 256,
  maxAge: 20 * 256,
  helloTime: 2 * 256,
  forwardDelay: 15 * 256,
};

Deno.test("a config BPDU is the frame a Linux bridge sends: 802.3 length 38, LLC 42 42 03, 35 bytes", () => {
  const frame = buildBpdu(config, MAC);
  assert.equal(frame.length, 60);
  assert.ok(isBpduDestination(frame));
  assert.deepEqual([...frame.subarray(6, 17)], [2, 0, 0, 0, 0, 1, 0, 38, 0x42, 0x42, 0x03]);
  // protocol 0, version 0, type 0, flags, root id, cost, bridge id, port, times in 1/256 s.
  assert.deepEqual([...frame.subarray(17, 22)], [0, 0, 0, 0, 0x81]);
  assert.deepEqual([...frame.subarray(22, 30)], [0x10, 0, 2, 0, 0, 0, 0, 1]);
  assert.deepEqual([...frame.subarray(30, 34)], [0, 0, 0x07, 0xd0]);
  assert.deepEqual([...frame.subarray(42, 52)], [0x80, 0x02, 0x01, 0x00, 0x14, 0x00, 0x02, 0x00, 0x0f, 0x00]);
  assert.deepEqual(bpduOf(frame), config);
});

Deno.test("RST and TCN BPDUs round-trip; a config BPDU keeps only its TC and TCA flags", () => {
  const rst: Bpdu = { ...config, kind: "rst", version: 2, flags: 0x7e };
  const frame = buildBpdu(rst, MAC);
  assert.equal(frame[13], 39);
  assert.equal(frame[19], 2);
  assert.equal(frame[20], 2);
  assert.deepEqual(bpduOf(frame), rst);
  const tcn = buildBpdu({ ...config, kind: "tcn" }, MAC);
  assert.equal(tcn[13], 7);
  assert.equal(bpduOf(tcn).kind, "tcn");
  const noisy = buildBpdu({ ...config, flags: 0xff }, MAC);
  assert.equal(bpduOf(noisy).flags, 0x81);
});

Deno.test("hostile BPDUs are refused with a reason, never thrown", () => {
  const good = buildBpdu(config, MAC);
  const cases: [string, (f: Uint8Array) => Uint8Array][] = [
    ["frame too short", (f) => f.subarray(0, 20)],
    ["exceeds the frame", (f) => (f[13] = 200, f)],
    ["not an 802.3 length", (f) => (f[12] = 0x08, f)],
    ["too short for a BPDU", (f) => (f[13] = 5, f)],
    ["LLC", (f) => (f[14] = 0xaa, f)],
    ["protocol identifier", (f) => (f[18] = 1, f)],
    ["config BPDU of 34 bytes", (f) => (f[13] = 37, f)],
    ["unknown BPDU type", (f) => (f[20] = 0x55, f)],
    ["RST BPDU with version 0", (f) => (f[20] = 2, f)],
    ["zero timer", (f) => (f[48] = 0, f[49] = 0, f)],
    ["message age not below max age", (f) => (f[44] = 0x20, f)],
  ];
  for (const [reason, mangle] of cases) {
    const result = parseBpdu(mangle(good.slice()));
    assert.ok(!result.ok, reason);
    assert.ok(result.reason.includes(reason), `${reason}: ${result.reason}`);
  }
  assert.equal(isBpduDestination(new Uint8Array(3)), false);
});

Deno.test("bridge ids print as the kernel's sysfs does and compare as strings", () => {
  assert.equal(bridgeId(32768, MAC), "8000.020000000001");
  assert.ok(bridgeId(4096, MAC) < bridgeId(32768, new Uint8Array(6)));
});

Deno.test("vde_switch's FSTP BPDU (53 bytes, forward delay 0, timers little-endian seconds) reads as its dialect, tagged too", () => {
  const frame = fstpFrame();
  assert.equal(frame.length, 53);
  assert.deepEqual(bpduOf(frame), {
    kind: "rst",
    fstp: true,
    version: 2,
    flags: 0x3c,
    rootId: "1000.00ff73d56327",
    rootPathCost: 0,
    bridgeId: "1000.00ff73d56327",
    portId: 0x8001,
    messageAge: 0,
    maxAge: 40 * 256,
    helloTime: 4 * 256,
    forwardDelay: 0,
  });
  // Its BPDU for VLAN 7 on a tagged port: the same, tagged.
  const tagged = new Uint8Array(57);
  tagged.set(frame.subarray(0, 12));
  tagged.set([0x81, 0x00, 0x00, 0x07], 12);
  tagged.set(frame.subarray(12), 16);
  assert.deepEqual(bpduOf(tagged), { ...bpduOf(frame), vlan: 7 });
  assert.ok(!parseBpdu(tagged.subarray(0, 30)).ok);
  // A standard RST BPDU is not taken for it, and FSTP's zero max age is still refused.
  assert.equal(bpduOf(buildBpdu({ ...config, kind: "rst", version: 2 }, MAC)).fstp, undefined);
  frame[46] = 0;
  assert.ok(!parseBpdu(frame).ok);
});

Deno.test("an FSTP BPDU's timers past what the standard's field holds (256 s or more) are refused, not kept for hours", () => {
  const frame = fstpFrame();
  assert.equal(bpduOf(frame).helloTime, 4 * 256);
  for (const at of [46, 48]) {
    const f = frame.slice();
    f[at + 1] = 0xff; // max age or hello 65320 s and more, little-endian
    const result = parseBpdu(f);
    assert.ok(!result.ok && result.reason.includes("256 s or more"), at.toString());
  }
  const longest = frame.slice();
  longest[46] = longest[48] = 255; // 255 s still reads
  assert.equal(bpduOf(longest).maxAge, 255 * 256);
});
