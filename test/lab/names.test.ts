import assert from "node:assert/strict";
import { hostMac } from "../../src/lab/names.ts";

Deno.test("a lab host interface's MAC is locally administered unicast, the same for the same lab, node and interface on one machine", () => {
  const mac = hostMac("m1", "wan", "h1", "eth0");
  assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  // 02: locally administered (bit 1), unicast (bit 0 clear).
  assert.equal(parseInt(mac.slice(0, 2), 16) & 0x03, 0x02);
  assert.equal(hostMac("m1", "wan", "h1", "eth0"), mac);
  const others = [
    hostMac("m2", "wan", "h1", "eth0"),
    hostMac("m1", "wan2", "h1", "eth0"),
    hostMac("m1", "wan", "h2", "eth0"),
    hostMac("m1", "wan", "h1", "eth1"),
    // The parts are kept apart: "a"+"bc" is not "ab"+"c".
    hostMac("m1", "wanh", "1", "eth0"),
  ];
  assert.equal(new Set([mac, ...others]).size, others.length + 1);
});
