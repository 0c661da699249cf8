/**
 * Prints what the data-plane threads' synchronous FFI calls cost from code
 * of each of V8's optimizing tiers, warm and after 10 ms asleep (a ping's
 * wake-up). Run: deno run -A scripts/ffi_tier_cost.ts [rounds]
 *
 * Theory of operation: V8's fast API path for an FFI call (the symbol
 * called straight from compiled code) is taken only from TurboFan code;
 * from Maglev (the middle tier, which inlines the small `direct` wrappers
 * of ffi/libc.ts into their callers) and the interpreter each call goes
 * through Deno's slow callback, whose code a thread that slept finds cold.
 * The script runs itself twice, once with TurboFan off (the calls end up
 * in Maglev code) and once with Maglev off (in TurboFan code), and each
 * child times four system calls on a bad fd (read, recvmmsg, sendmmsg,
 * write: the kernel answers EBADF at once, so what is timed is the call
 * path) one group at a time, warm and after sleeping. A data-plane wake-up
 * for one frame makes about five such calls; `perf` with
 * `--perf-basic-prof` tells which of its functions run in Maglev (`+` in a
 * JIT symbol's name) or TurboFan (`*`).
 */

const FLAGS = { maglev: "--no-turbofan", turbofan: "--no-maglev" } as const;
const SLEEP_MS = 10;

function child(rounds: number): void {
  const lib = Deno.dlopen("libc.so.6", {
    sys_rw: { name: "syscall", parameters: ["i32", "i32", "buffer", "u32"], result: "i32" },
    sys_mmsg: {
      name: "syscall",
      parameters: ["i32", "i32", "buffer", "u32", "i32", "pointer"],
      result: "i32",
    },
  }).symbols;
  const nr = Deno.build.arch === "x86_64"
    ? { read: 0, write: 1, recvmmsg: 299, sendmmsg: 307 }
    : { read: 63, write: 64, recvmmsg: 243, sendmmsg: 269 };
  const buf = new Uint8Array(64);
  const calls = () =>
    lib.sys_rw(nr.read, -1, buf, 8) + lib.sys_mmsg(nr.recvmmsg, -1, buf, 1, 0, null) +
    lib.sys_mmsg(nr.sendmmsg, -1, buf, 1, 0, null) + lib.sys_rw(nr.write, -1, buf, 8);
  const timed = () => {
    const t0 = performance.now();
    calls();
    return performance.now() - t0;
  };
  // Enough calls for the tier the flags leave to compile them.
  for (let i = 0; i < 20_000; i++) timed();
  const word = new Int32Array(new SharedArrayBuffer(4));
  const warm: number[] = [];
  const cold: number[] = [];
  for (let i = 0; i < rounds; i++) warm.push(timed());
  for (let i = 0; i < rounds; i++) {
    Atomics.wait(word, 0, 0, SLEEP_MS);
    cold.push(timed());
  }
  console.log(JSON.stringify({ warm: median(warm) * 1000, cold: median(cold) * 1000 }));
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

async function main(rounds: number): Promise<void> {
  console.log(`4 FFI system calls on a bad fd, median of ${rounds} (µs)`);
  for (const [tier, flag] of Object.entries(FLAGS)) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--v8-flags=${flag}`, import.meta.filename!, "--child", String(rounds)],
      stderr: "inherit",
    }).output();
    if (!out.success) {
      console.log(`${tier}: the child failed`);
      continue;
    }
    const { warm, cold } = JSON.parse(new TextDecoder().decode(out.stdout));
    console.log(`${tier.padEnd(8)} warm ${warm.toFixed(2)}  after ${SLEEP_MS} ms asleep ${cold.toFixed(2)}`);
  }
}

if (import.meta.main) {
  const child_ = Deno.args[0] === "--child";
  const rounds = Number(Deno.args[child_ ? 1 : 0] ?? 300);
  if (!(Number.isInteger(rounds) && rounds > 0)) {
    console.error("ffi_tier_cost: rounds must be a positive whole number");
    Deno.exit(2);
  }
  if (child_) child(rounds);
  else await main(rounds);
}
