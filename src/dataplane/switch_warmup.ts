/**
 * Warms the switch thread's forwarding path before its first real frame.
 *
 * Theory of operation: V8 runs a function in its interpreter or baseline
 * tier until it has run often enough to be worth optimizing, and a
 * synchronous FFI call made from that code takes Deno's slow path
 * (arguments marshalled per call) rather than the fast call optimized code
 * makes. A switch that forwards a ping every 10 ms never gets there:
 * measured on the thread, a wake-up for one frame cost about 120 µs of CPU
 * unoptimized and about 70 µs optimized (C's vde_switch: about 35 µs), paid
 * on every hop of every sparse flow.
 *
 * So the thread, before it takes its first command, forwards tens of thousands of
 * throwaway frames through its own loop and engine (the same objects and
 * closures that will forward real frames, so what V8 learns holds for
 * them): three socketpairs stand in as ports 1-3 (two datagram ports and
 * one read and written as a tap is), carrying unicast and broadcast frames
 * of the sizes traffic has, between addresses on both sides of V8's small
 * integer range. Then the ports are detached. The target forwards them
 * with a twin engine on memory no other thread reads, so nothing of them
 * (addresses, counters) is ever visible, even while warming. It costs the
 * thread about 180 ms of CPU once. On a busy machine it stops after 250 ms
 * of the thread's CPU or a second on the clock, warm or not (warm_budget.ts).
 *
 * It also stops at the next look once a port has frames waiting (`ends`:
 * a client's socket readable, a main-thread link's frames in the ring; at
 * its first round when they came first, as on a machine so loaded that the
 * thread started late): a client that floods right after it attached (QEMU
 * started with the switch) is served at once, its first frames by code
 * less warm. A port attached idle (`--tap`, whose tap is not up yet; a
 * client that sends nothing yet) lets it run, so the switch starts warm.
 * Run to its end, the
 * warm-up kept such a client's frames in its socket for a second or more
 * (about 278 small frames fill a datagram socket; its sender then blocks),
 * and a client that left before the end (a short flood, a probe) had all of
 * them dropped unread with its port. It stops likewise when the thread is
 * told to stop (a switch stopped as it starts).
 */
import { libc } from "../../ffi/libc.ts";
import type { PortFdKind } from "./switch_layout.ts";
import { warmBudget } from "./warm_budget.ts";
import { LIBC_FDS, type WarmFds } from "./warm_fds.ts";

/** What warming needs of the switch thread's loop. */
export interface WarmTarget {
  /** Activates `port` and reads and writes `fd` as its endpoint. */
  attach(port: number, fd: number, kind: PortFdKind): void;
  /** Serves the ready fds (frames were just written to them), whatever commands or main-thread frames are pending. */
  turn(): void;
  /** Releases `fd` of `port`. */
  detach(port: number, fd: number): void;
  /** True once warming must end at the next round: a port has frames waiting for the loop, or it is told to stop. */
  ends(): boolean;
}

/**
 * Wake-ups driven; each carries 1 to 4 frames. V8 compiles a function with its optimizing tier
 * (TurboFan, whose FFI calls are direct) only after thousands of calls in its middle tier
 * (Maglev): after 5,000 rounds `--trace-opt` showed the wait, the receive loop and the engine's
 * input still in Maglev, after 12,000 in TurboFan. 16,000 rounds cost the thread about 180 ms of
 * CPU once; with both plugs warmed alike, ping through the switch took 15% less CPU per ping and a
 * 12% lower median (4 alternating pairs on a loaded machine).
 */
const ROUNDS = 16_000;
/** Warming stops after this much of the thread's CPU time even if unfinished... */
const BUDGET_MS = 250;
/** ...or after this long on the clock, however little CPU the thread had (see warm_budget.ts). */
const WALL_CAP_MS = 1000;
/** The longest warm-up VDE_TEST_WARMUP_MS may ask for: commands wait for its end. */
export const TEST_WARMUP_MAX_MS = 60_000;
/**
 * A test's longer warm-up, in ms of both budgets and with no round limit (VDE_TEST_WARMUP_MS): a
 * client can then attach during it on any machine, as it does on a loaded one.
 */
const TEST_WARMUP_MS = testWarmupMs(testWarmupText());

/**
 * VDE_TEST_WARMUP_MS's ms: a whole number from 1 to TEST_WARMUP_MAX_MS, or 0 (the usual warm-up) for
 * anything else. "1e9" or "Infinity" read by `Number` held every console command until a client came.
 */
export function testWarmupMs(text: string | undefined): number {
  if (text === undefined || !/^[1-9][0-9]{0,4}$/.test(text)) return 0;
  const ms = Number(text);
  return ms <= TEST_WARMUP_MAX_MS ? ms : 0;
}

/** The variable's text; unset when this process may not read the environment. */
function testWarmupText(): string | undefined {
  try {
    return Deno.env.get("VDE_TEST_WARMUP_MS");
  } catch {
    return undefined;
  }
}
/** Frame sizes traffic has: minimum (sent broadcast), a ping, a full frame. */
const SIZES = [60, 98, 1514];
const KINDS: PortFdKind[] = ["dgram", "dgram", "tap"];

/**
 * Forwards throwaway frames through `target` on ports 1-3, then undoes
 * them, closing every fd it opened through `fds` on every path. Never
 * throws: a failure only means a cold start.
 */
export function warmUp(target: WarmTarget, fds: WarmFds = LIBC_FDS): void {
  const c = libc();
  const pairs: [number, number][] = [];
  const attached: number[] = [];
  try {
    for (let port = 1; port <= KINDS.length; port++) {
      const sv = fds.pair();
      if (sv === null) return;
      pairs.push(sv);
      target.attach(port, sv[0]!, KINDS[port - 1]!);
      attached.push(port);
    }
    const frames = SIZES.flatMap((size) => [1, 2, 3].map((from) => frame(size, from)));
    const sink = new Uint8Array(2048);
    const spent = TEST_WARMUP_MS > 0
      ? warmBudget(TEST_WARMUP_MS, TEST_WARMUP_MS)
      : warmBudget(BUDGET_MS, WALL_CAP_MS);
    const rounds = TEST_WARMUP_MS > 0 ? Infinity : ROUNDS;
    for (let round = 0; round < rounds; round++) {
      if ((round & 255) === 0 && spent()) break;
      if (target.ends()) break;
      const count = 1 + (round % 4);
      for (let i = 0; i < count; i++) {
        const f = frames[(round + i) % frames.length]!;
        c.write(pairs[(round + i) % pairs.length]![1]!, f, f.length);
      }
      target.turn();
      // What the loop forwarded is emptied every fourth round (at most 16 frames a port wait): the
      // rounds are what V8 counts, and each system call less makes one cheaper.
      if ((round & 3) === 3) {
        for (const sv of pairs) while (c.read(sv[1]!, sink, sink.length) > 0) { /* drained */ }
      }
    }
  } catch {
    // A cold start is slower, not wrong.
  } finally {
    // A detach that throws must not keep the others, or the closes, from running.
    for (const port of attached) {
      try {
        target.detach(port, pairs[port - 1]![0]!);
      } catch { /* the loop's trouble; the fds are still ours to close */ }
    }
    for (const sv of pairs) {
      fds.close(sv[0]!);
      fds.close(sv[1]!);
    }
  }
}

/**
 * A frame from host `from` (1..3) to the next host, or broadcast at the
 * smallest size. Host 3's address has its high bits set, so the MAC
 * arithmetic sees values beyond a small integer too.
 */
function frame(size: number, from: number): Uint8Array {
  const f = new Uint8Array(size);
  const mac = (host: number) => host === 3 ? [2, 0x57, 0xc1, 0xd2, 0xcd, 3] : [2, 0, 0, 0, 0, host];
  if (size === SIZES[0]) f.fill(0xff, 0, 6);
  else f.set(mac((from % 3) + 1), 0);
  f.set(mac(from), 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  return f;
}
