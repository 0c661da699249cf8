/**
 * `slirp://[/options]`: a user-mode TCP/IP stack as a Link, so a virtual LAN
 * reaches the host's network without root (spec section 8.1 for the
 * options).
 *
 * Theory of operation: frames sent to the link go into the stack
 * synchronously; frames the stack makes come out of `onFrame`. A frame sent
 * while the stack is still busy with another (a switch that floods the
 * stack's own output back into it) is copied into a small queue and taken
 * right after, so the stack is never re-entered. The stack's timers run on
 * one Deno timer, re-armed only when its deadline moves earlier, after
 * every frame and after every round of the shared poller (where the host
 * sockets' events arrive). ACKs the stack holds for coalescing leave at the
 * end of the poller round that brought the frames. On the slirp thread,
 * whose loop blocks in `epoll_wait` and runs no Deno timers, the timers are
 * driven: the loop asks `runTimers` for the next deadline and uses it as
 * its wait's timeout.
 */
import { BaseLink, CongestionWatch, type FlowPeer } from "./link.ts";
import { registerScheme } from "./registry.ts";
import { poller } from "../io/poller.ts";
import { log } from "../log.ts";
import { parseSlirpOptions, type SlirpConfig } from "../slirp/config.ts";
import type { SlirpStack } from "../slirp/stack.ts";
import { type SlirpStartOptions, startSlirpStack } from "../slirp/start.ts";

/** Frames queued while the stack is busy before new ones are dropped. */
const REENTRY_QUEUE = 256;

/** Options of `openSlirpLink` beyond the configuration. */
export type SlirpLinkOptions = SlirpStartOptions;

/** The slirp stack as one end of a wire. */
export class SlirpLink extends BaseLink {
  readonly kind = "slirp" as const;
  readonly stack: SlirpStack;
  #busy = false;
  readonly #queue: Uint8Array[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deadline = Infinity;
  #kickPending = false;
  readonly #unhook: () => void;
  /** Where this link's frames go: TCP holds new data while it is backed up. */
  readonly #out = new CongestionWatch(() => this.#onDrain());

  /** No Deno timer: the owner calls `runTimers` (the slirp thread's loop). */
  readonly #drivenTimers: boolean;

  /**
   * Wraps a ready stack: its frames come out of this link from now on.
   *
   * @param options `drivenTimers`: arm no Deno timer; the owner calls `runTimers`
   */
  constructor(stack: SlirpStack, options: { drivenTimers?: boolean } = {}) {
    super("slirp");
    this.stack = stack;
    this.#drivenTimers = options.drivenTimers === true;
    stack.attach({
      output: (frame) => this.deliver(frame),
      kick: () => this.#kick(),
      congested: () => this.#out.congested,
    });
    this.#unhook = poller().afterRound(() => {
      if (this.#kickPending) this.#afterBatch();
      else this.#schedule();
    });
    this.#schedule();
  }

  send(frame: Uint8Array): void {
    if (!this.countOut(frame)) return;
    if (this.#busy) {
      if (this.#queue.length >= REENTRY_QUEUE) this.stats.dropsOut++;
      else this.#queue.push(frame.slice());
      return;
    }
    this.#busy = true;
    try {
      this.stack.input(frame);
      while (this.#queue.length > 0) this.stack.input(this.#queue.shift()!);
    } finally {
      this.#busy = false;
    }
    this.#kick();
  }

  /**
   * Once per batch: flush held ACKs, re-arm the timer. Inside a poller round
   * that is the round's end (a microtask would wait for the whole busy
   * stretch of rounds, up to milliseconds); elsewhere a microtask after the
   * current run of frames.
   */
  #kick(): void {
    if (this.#kickPending) return;
    this.#kickPending = true;
    if (!poller().dispatching) queueMicrotask(this.#afterBatch);
  }

  readonly #afterBatch = (): void => {
    if (!this.#kickPending) return;
    this.#kickPending = false;
    if (this.isClosed) return;
    this.#guarded("flush", () => this.stack.flush());
    this.#schedule();
  };

  /** Runs a stack call outside the frame path; a failure is logged, never thrown into the poller. */
  #guarded(what: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      log("vde slirp", `${what} failed: ${err}`);
    }
  }

  #schedule(): void {
    if (this.isClosed) return;
    const ms = this.stack.nextTimerMs();
    if (!Number.isFinite(ms)) return;
    const at = this.stack.now() + ms;
    if (at >= this.#deadline - 0.5) return;
    this.#deadline = at;
    if (this.#drivenTimers) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const timer = setTimeout(() => this.#fire(), Math.max(0, ms));
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /**
   * Driven timers: runs the stack's timers if they are due.
   *
   * @returns milliseconds until they are due next (Infinity: nothing pending)
   */
  runTimers(): number {
    if (this.#deadline === Infinity) return Infinity;
    if (this.stack.now() >= this.#deadline) this.#fire();
    return this.#deadline - this.stack.now();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#deadline = Infinity;
    if (this.isClosed) return;
    this.#busy = true;
    try {
      this.stack.poll();
      while (this.#queue.length > 0) this.stack.input(this.#queue.shift()!);
    } catch (err) {
      log("vde slirp", `timer failed: ${err}`);
    } finally {
      this.#busy = false;
    }
    this.#schedule();
  }

  /**
   * Holds TCP data back while `peer` (where this link's frames go) is
   * congested; a new peer is a switch just plugged in, where the stack
   * probes for its addresses (probes sent before went nowhere).
   */
  feeds(peer: FlowPeer | null): void {
    this.#out.set(peer);
    if (peer === null || this.isClosed) return;
    this.stack.probeAddresses();
    this.#schedule();
  }

  #onDrain(): void {
    if (this.isClosed) return;
    this.#guarded("resume", () => this.stack.resume());
    this.#kick();
  }

  protected teardown(): void {
    this.#out.set(null);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#unhook();
    this.stack.close();
  }

  /** Once closed, settles when its forwards' host ports are free: a slirp added at once in its place may bind them. */
  get released(): Promise<void> {
    return this.stack.released;
  }
}

/**
 * Opens a slirp link with the given configuration.
 *
 * @throws Error with a one-line reason (a forward's host port is taken, ...)
 */
export async function openSlirpLink(config: SlirpConfig, options: SlirpLinkOptions = {}): Promise<SlirpLink> {
  return new SlirpLink(await startSlirpStack(config, options));
}

registerScheme("slirp", async (rest) => {
  const config = parseSlirpOptions(rest);
  return await openSlirpLink(config);
});

export type { SlirpConfig };
