import assert from "node:assert/strict";
import { hostMac, MAX_IFNAME, tapName } from "../../src/lab/names.ts";

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

Deno.test("a tap name is <lab>-<node>-<n> when it fits 15 characters, else a digest that fits, the same every time", () => {
  assert.equal(tapName("wan", "h1", 0), "wan-h1-0");
  assert.equal(tapName("lab", "router1", 12), "lab-router1-12");
  const long = tapName("datacenter", "router-east-1", 0);
  assert.match(long, /^vt[0-9a-f]{11}-0$/);
  assert.equal(long.length, MAX_IFNAME);
  assert.equal(tapName("datacenter", "router-east-1", 0), long);
  assert.match(tapName("datacenter", "router-east-1", 999), /^vt[0-9a-f]{9}-999$/);
  const others = [
    tapName("datacenter", "router-east-1", 1),
    tapName("datacenter", "router-east-2", 0),
    tapName("datacenter2", "router-east-1", 0),
    // The parts are kept apart: "a"+"bc" is not "ab"+"c".
    tapName("datacenterr", "outer-east-1", 0),
  ];
  assert.equal(new Set([long, ...others]).size, others.length + 1);
  for (const n of others) assert.ok(n.length <= MAX_IFNAME, n);
});
