import assert from "node:assert/strict";
import {
  formatHashLine,
  formatPort,
  parseMacListing,
  parsePortListing,
} from "../../../src/console/switch/listings.ts";
import { formatAge, renderTable } from "../../../src/console/switch/tables.ts";
import type { PortView } from "../../../src/console/switch/views.ts";

// From the captured Debian session (spec 5.4).
const CAPTURED_PORTS = `Port 0001 untagged_vlan=0000 ACTIVE - Unnamed Allocatable
 Current User: root Access Control: (User: NONE - Group: NONE)
 IN:  pkts          2          bytes                  120
 OUT: pkts          1          bytes                   60
  -- endpoint ID 0003 module unix prog   : vdeplug: user=root pid=13023
Port 0005 untagged_vlan=0000 ACTIVE - Unnamed Allocatable
 Current User: root Access Control: (User: NONE - Group: NONE)
 IN:  pkts          1          bytes                   60
 OUT: pkts          2          bytes                  120
  -- endpoint ID 0007 module unix prog   : second plug user=root pid=13024`.split("\n");

Deno.test("a captured port/print listing parses and formats back to the same bytes", () => {
  const views = parsePortListing(CAPTURED_PORTS);
  assert.equal(views.length, 2);
  const first = views[0]!;
  assert.deepEqual(
    { ...first },
    {
      port: 1,
      vlan: 0,
      active: true,
      allocatable: true,
      user: "root",
      accessUser: "NONE",
      accessGroup: "NONE",
      framesIn: 2,
      bytesIn: 120,
      framesOut: 1,
      bytesOut: 60,
      endpoints: [{ id: 3, module: "unix prog", description: "vdeplug: user=root pid=13023" }],
    } satisfies PortView,
  );
  assert.deepEqual(views.flatMap(formatPort), CAPTURED_PORTS);
});

Deno.test("a captured hash/print listing parses and formats back to the same bytes", () => {
  const lines = [
    "Hash: 0051 Addr: 52:54:00:12:34:02 VLAN 0000 to port: 005  age 4 secs",
    "Hash: 0127 Addr: 52:54:00:12:34:01 VLAN 0000 to port: 001  age 4 secs",
  ];
  const views = parseMacListing(lines);
  assert.deepEqual(views[0], { bucket: 51, mac: "52:54:00:12:34:02", vlan: 0, port: 5, age: 4 });
  assert.deepEqual(views.map(formatHashLine), lines);
});

Deno.test("renderTable right-aligns numbers and does not pad the last column", () => {
  assert.deepEqual(
    renderTable([{ title: "N", align: "right" }, { title: "NAME", align: "left" }], [["7", "x"], [
      "1234",
      "longer",
    ]]),
    ["   N  NAME", "   7  x", "1234  longer"],
  );
});

Deno.test("formatAge reads at a glance", () => {
  assert.deepEqual([0, 59, 60, 125, 3600, 7322].map(formatAge), [
    "0s",
    "59s",
    "1m00s",
    "2m05s",
    "1h00m",
    "2h02m",
  ]);
});
