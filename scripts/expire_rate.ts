/**
 * Prints what the MAC table's aging costs the thread that runs it, in that thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID, so a loaded machine's preemptions do not count): µs per full sweep
 * (`expire`) of a table of `macs` entries in the switch thread's layout (shared storage, 2 slots per
 * possible entry), none expiring, warm; then µs per `expireSome` call of `slots` slots, median and
 * worst. Run: deno run -A scripts/expire_rate.ts [macs] [slots] [rounds]
 */
import { libc } from "../ffi/libc.ts";
import { MacTable } from "../src/switch/mac_table.ts";

const macs = Number(Deno.args[0] ?? 65536);
const slots = Number(Deno.args[1] ?? 16384);
const rounds = Number(Deno.args[2] ?? 200);

const CLOCK_THREAD_CPUTIME_ID = 3;
const c = libc();
const ts = new BigInt64Array(2);
const tsBytes = new Uint8Array(ts.buffer);
function cpuUs(): number {
  c.clock_gettime(CLOCK_THREAD_CPUTIME_ID, tsBytes);
  return Number(ts[0]!) * 1e6 + Number(ts[1]!) / 1e3;
}

const table = new MacTable({
  maxEntries: macs,
  seed: 0x5eed,
  shared: { buffer: MacTable.sharedBuffer(macs), writer: true },
});
for (let i = 0; table.size < macs; i++) table.learn(0x0200, i, 0, 1 + (i % 15), 1000);

function median(xs: number[]): number {
  return xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
}

const full: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = cpuUs();
  table.expire(1001, 100);
  full.push(cpuUs() - t0);
}
const warm = full.slice(rounds >> 1);
console.log(
  `expire: ${table.slots} slots, ${table.size} entries: median ${median(warm).toFixed(1)} µs, ` +
    `min ${Math.min(...warm).toFixed(1)} µs CPU per sweep (warm half of ${rounds})`,
);

const calls: number[] = [];
let passes = 0;
for (let r = 0; r < rounds; r++) {
  do {
    const t0 = cpuUs();
    table.expireSome(1001, 100, slots);
    calls.push(cpuUs() - t0);
  } while (table.sweeping);
  passes++;
}
const w = calls.slice(calls.length >> 1).sort((a, b) => a - b);
console.log(
  `expireSome(${slots}): ${calls.length / passes} calls a pass; median ${median(w).toFixed(1)} µs, ` +
    `p99 ${w[Math.floor(w.length * 0.99)]!.toFixed(1)} µs, max ${
      w[w.length - 1]!.toFixed(1)
    } µs CPU per call ` +
    `(warm half)`,
);

// The dearest pass: every entry due at once (a flood of source MACs aging out together).
const dear: number[] = [];
for (let r = 0; r < 10; r++) {
  for (let i = 0; table.size < macs; i++) table.learn(0x0200, i, 0, 1 + (i % 15), 1000 + r);
  do {
    const t0 = cpuUs();
    table.expireSome(2000, 100, slots);
    dear.push(cpuUs() - t0);
  } while (table.sweeping);
}
const d = dear.slice(dear.length >> 1).sort((a, b) => a - b);
console.log(
  `expireSome(${slots}), every entry due: ${dear.length / 10} calls a pass; median ${
    median(d).toFixed(1)
  } µs, ` +
    `max ${d[d.length - 1]!.toFixed(1)} µs CPU per call (warm half)`,
);

// A sparse table: the pass skips the blocks without entries.
for (const entries of [100, 1000, 8000]) {
  const sparse = new MacTable({
    maxEntries: macs,
    seed: 0x5eed,
    shared: { buffer: MacTable.sharedBuffer(macs), writer: true },
  });
  for (let i = 0; sparse.size < entries; i++) sparse.learn(0x0200, i, 0, 1, 1000);
  const us: number[] = [];
  let calls = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = cpuUs();
    do {
      sparse.expireSome(1001, 100, slots);
      calls++;
    } while (sparse.sweeping);
    us.push(cpuUs() - t0);
  }
  console.log(
    `expireSome(${slots}), ${entries} entries: ${calls / rounds} calls a pass, ` +
      `median ${median(us.slice(rounds >> 1)).toFixed(1)} µs CPU per pass`,
  );
}
