/**
 * Prints how many frames per second the pure switch engine forwards, and
 * how much the heap grew meanwhile (it should stay near zero: the data path
 * allocates nothing). Run: deno run scripts/engine_rate.ts [frames] [macs]
 */
import { SwitchEngine } from "../src/switch/engine.ts";
import { buildFrame, writeMacNumbers } from "../src/wire/ethernet.ts";

const frames = Number(Deno.args[0] ?? 5_000_000);
const hosts = Number(Deno.args[1] ?? 1000);
const ports = 16;

let copies = 0;
const engine = new SwitchEngine({ numPorts: ports }, () => copies++);
for (let port = 1; port < ports; port++) engine.activatePort(port);

// One frame per host, each host behind port 1 + host % 15, talking to the next host.
const traffic = Array.from({ length: hosts }, (_, host) => {
  const frame = buildFrame({ payload: 1486 });
  writeMacNumbers(frame, 0, 0x0200, (host + 1) % hosts);
  writeMacNumbers(frame, 6, 0x0200, host);
  return { port: 1 + (host % (ports - 1)), frame };
});
// Announce every host once so the rest is known unicast.
for (const { port, frame } of traffic) {
  const announce = frame.slice();
  announce.fill(0xff, 0, 6);
  engine.input(port, announce);
}

function run(count: number): number {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t = traffic[i % hosts]!;
    engine.input(t.port, t.frame);
  }
  return performance.now() - start;
}

run(200_000); // warm up the JIT
const heapBefore = Deno.memoryUsage().heapUsed;
const ms = run(frames);
const heapAfter = Deno.memoryUsage().heapUsed;
const rate = frames / (ms / 1000);
console.log(
  `${frames} frames, ${hosts} hosts: ${ms.toFixed(0)} ms, ${(rate / 1e6).toFixed(2)} M frames/s, ` +
    `heap +${((heapAfter - heapBefore) / 1024).toFixed(0)} KiB, ${engine.counters.unicast} unicast, ` +
    `${engine.counters.flooded} flooded`,
);
