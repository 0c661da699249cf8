/** `watch` rates: frames/s and bits/s per port from two samples of the counters. */
import assert from "node:assert/strict";
import { formatRate, portRates, portsTable } from "../../../src/console/switch/tables.ts";
import type { PortView } from "../../../src/console/switch/views.ts";

function view(
  port: number,
  framesIn: number,
  bytesIn: number,
  framesOut: number,
  bytesOut: number,
): PortView {
  return {
    port,
    vlan: 0,
    active: true,
    allocatable: true,
    user: "root",
    accessUser: "NONE",
    accessGroup: "NONE",
    framesIn,
    bytesIn,
    framesOut,
    bytesOut,
    endpoints: [],
  };
}

Deno.test("watch rates are the counters' growth per second, in frames and bits, each way", () => {
  const before = [view(1, 100, 10_000, 50, 5_000), view(2, 0, 0, 0, 0)];
  const after = [view(1, 300, 210_000, 150, 105_000), view(2, 0, 0, 0, 0), view(3, 9, 900, 0, 0)];
  const rates = portRates(before, after, 2);
  assert.deepEqual(rates.get(1), { framesIn: 100, bitsIn: 800_000, framesOut: 50, bitsOut: 400_000 });
  assert.deepEqual(rates.get(2), { framesIn: 0, bitsIn: 0, framesOut: 0, bitsOut: 0 });
  assert.equal(rates.has(3), false, "a port new since the last sample has no rate yet");
  const table = portsTable(after, rates);
  assert.match(table[0]!, /IN FR\/S +IN BIT\/S +OUT FR\/S +OUT BIT\/S/);
  assert.match(table[1]!, / 100 +800k +50 +400k /);
  assert.match(table[3]!, / - +- +- +- /);
  assert.doesNotMatch(portsTable(after)[0]!, /FR\/S/, "the ports command shows totals only");
});

Deno.test("rates are written short: units k, M, G with three significant digits", () => {
  assert.deepEqual(
    [0, 950, 12_345, 4_560_000, 1_200_000_000, 123_456].map(formatRate),
    ["0", "950", "12.3k", "4.56M", "1.20G", "123k"],
  );
});

Deno.test("the ports table of a switch with no port in use keeps the columns it has with ports", () => {
  const withPort = portsTable([{ ...view(1, 0, 0, 0, 0), drops: 0 }])[0]!;
  assert.match(withPort, / DROPS /);
  const titles = (header: string) => header.trim().split(/ {2,}/);
  assert.deepEqual(titles(portsTable([], undefined, true)[0]!), titles(withPort));
  assert.doesNotMatch(
    portsTable([])[0]!,
    /DROPS/,
    "a listing without drops (Debian's switch) has no such column",
  );
});
