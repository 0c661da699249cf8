/**
 * The `wire` scheme: wirefilter as middleware. A WireLink wraps another
 * link and is itself a link, so an impaired wire fits wherever a VNL does:
 *
 *     wire://{INNER_VNL}[OPTION/OPTION/...]
 *     vde plug 'wire://{vde:///tmp/a}[delay=50+10/loss=5]' vde:///tmp/b
 *     vde switch --sock /tmp/s ... (any VNL argument)
 *
 * The inner VNL sits in braces, vdeplug4's notation for a nested VNL, so it
 * may carry its own brackets and schemes (`{vde:///tmp/a[3]}`, another
 * `{wire://...}`). The options follow in vdeplug4's bracket form: split on
 * `/`, keys may be abbreviated (`d=50` is `delay=50`), quotes ('...' or
 * "..."), `\x` and `%HH` protect a `/` in a value. Keys: `loss`,
 * `lostburst`, `delay`, `dup`, `bandwidth` (`band`), `speed`, `capacity`
 * (`chanbufsize`), `noise`, `mtu` with wirefilter's value syntax (a key
 * given twice applies both, so `delay=LR50/delay=RL10` sets each way);
 * `nofifo` (or `fifo=0`); `seed=N`; `mgmt=PATH` and `mgmtmode=OCTAL` for a
 * management socket that changes the wire while it runs.
 *
 * Directions: L->R is what the user of the link sends (towards the inner
 * link), R->L is what the inner link receives (towards the user). So
 * `vde wirefilter A B` is A plugged into `wire://{B}`, with L->R from A to B.
 */
import { discard, type Link } from "./link.ts";
import { BaseLink } from "./link.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { splitVnlOptions, unknownOption } from "./vnl_params.ts";
import { openLink, type OpenOptions, registerScheme } from "./registry.ts";
import { type DirectionCounters, type ParamName, WireFilter } from "../wirefilter/filter.ts";
import { type Dir, isValueError, LR, RL, type WireSetting } from "../wirefilter/value.ts";
import { parseSetting } from "../wirefilter/limits.ts";
import {
  WIREFILTER_GREETING,
  WIREFILTER_PROMPT,
  wirefilterCommands,
  WirefilterContext,
} from "../wirefilter/commands.ts";
import { MgmtServer } from "../console/mgmt_server.ts";
import { log } from "../log.ts";

/** Frames a direction of the filter dropped, all reasons together. */
export function dropsOf(c: DirectionCounters): number {
  return c.mtuDrops + c.lossDrops + c.burstDrops + c.capacityDrops + c.overflowDrops + c.inputDrops +
    c.rateDrops + c.closeDrops;
}

/** Settings of a WireLink beyond its filter. */
export interface WireLinkOptions {
  /** Runs once when the link closes (after the filter and inner link). */
  onClose?: () => void;
  /**
   * When the inner link ends, keep delivering the frames already on their
   * way to the user for up to this many ms before closing (default 0).
   */
  lingerMs?: number;
}

/**
 * WireLink is a Link that passes frames through a WireFilter on their way
 * to and from an inner link. Its stats count what crossed the filter:
 * `framesOut` reached the inner link, `framesIn` came back from it, and
 * the drops are the filter's, per direction.
 */
export class WireLink extends BaseLink {
  readonly kind = "wire" as const;
  /** The wrapped link (the right-hand side). */
  readonly inner: Link;
  /** The impairments; change its settings at any time. */
  readonly filter: WireFilter;
  readonly #onClose: (() => void) | undefined;
  /** Sends refused before the filter: after close, or over the largest frame. */
  #refused = 0;

  constructor(inner: Link, filter: WireFilter, options: WireLinkOptions = {}) {
    super(`wirefilter ${inner.description}`);
    this.inner = inner;
    this.filter = filter;
    this.#onClose = options.onClose;
    filter.outputs[LR] = (frame) => {
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
      inner.send(frame);
    };
    filter.outputs[RL] = (frame) => this.deliver(frame);
    inner.onFrame = (frame) => filter.input(RL, frame);
    Object.defineProperty(this.stats, "dropsOut", {
      get: () => dropsOf(filter.counters[LR]) + this.#refused,
      enumerable: true,
    });
    Object.defineProperty(this.stats, "dropsIn", {
      get: () => dropsOf(filter.counters[RL]),
      enumerable: true,
    });
    const linger = options.lingerMs ?? 0;
    inner.closed.then(async (reason) => {
      if (linger > 0) await this.drain(RL, linger);
      this.close(reason);
    });
  }

  /**
   * Implements Link.send: the frame enters the filter's L->R direction. One
   * no link could carry is refused here, so it shows in this link's drops.
   */
  send(frame: Uint8Array): void {
    if (this.isClosed || frame.length > VDE_MAX_FRAME) {
      this.#refused++;
      return;
    }
    this.filter.input(LR, frame);
  }

  /**
   * Waits until no frame of direction `dir` is queued in the filter (all
   * delivered), at most `timeoutMs`. Used before closing a wire whose
   * other end has finished, so delayed frames still arrive.
   *
   * @returns true when the direction is empty
   */
  async drain(dir: Dir, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.filter.queuedFrames(dir) > 0 || this.filter.blockedFrames(dir) > 0) {
      if (this.isClosed || Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  protected teardown(): void {
    this.filter.close();
    this.inner.onFrame = discard;
    this.inner.close("wirefilter closed");
    this.#onClose?.();
  }
}

/** A parsed `wire://` VNL. */
export interface WireVnl {
  /** The inner VNL, from inside the braces. */
  inner: string;
  /** Value settings in the order given. */
  settings: [ParamName, WireSetting][];
  /** FIFO mode (default true). */
  fifo: boolean;
  seed?: number;
  mgmt?: string;
  mgmtMode?: number;
}

/** Option keys in the order abbreviations are tried (vdeplug4 takes the first key a prefix matches). */
const KEYS = [
  "loss",
  "lostburst",
  "delay",
  "dup",
  "bandwidth",
  "band",
  "speed",
  "capacity",
  "chanbufsize",
  "noise",
  "mtu",
  "fifo",
  "nofifo",
  "seed",
  "mgmt",
  "mgmtmode",
] as const;

const PARAM_OF: Partial<Record<(typeof KEYS)[number], ParamName>> = {
  loss: "loss",
  lostburst: "lostburst",
  delay: "delay",
  dup: "dup",
  bandwidth: "band",
  band: "band",
  speed: "speed",
  capacity: "capacity",
  chanbufsize: "capacity",
  noise: "noise",
  mtu: "mtu",
};

/** Index of the `}` closing the `{` at 0, counting nested braces; -1 if none. */
function matchingBrace(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

/** Splits vdeplug4 bracket options on `/` (vnl_params.ts's syntax), dropping empty ones. */
export function splitOptions(text: string): string[] {
  return splitVnlOptions(text, "wire").filter((o) => o !== "");
}

/**
 * Parses the part of a `wire://` VNL after the scheme.
 *
 * @param rest e.g. `{vde:///tmp/a}[delay=50+10/loss=5]`
 * @throws Error with a one-line reason
 *
 * @example
 * ```ts
 * import { parseWireVnl } from "./wire_link.ts";
 * const v = parseWireVnl("{vde:///tmp/a[2]}[d=50+10N/nofifo]");
 * // v.inner is "vde:///tmp/a[2]", v.fifo is false, v.settings[0][0] is "delay"
 * ```
 */
export function parseWireVnl(rest: string): WireVnl {
  const usage = "expected wire://{VNL}[options], e.g. wire://{vde:///tmp/sw}[delay=50+10/loss=5]";
  if (!rest.startsWith("{")) throw new Error(`${usage}, found "wire://${rest}"`);
  const close = matchingBrace(rest);
  if (close < 0) throw new Error(`missing "}" after the inner VNL: ${usage}`);
  const inner = rest.slice(1, close);
  if (inner.trim() === "") throw new Error(`empty inner VNL: ${usage}`);
  const tail = rest.slice(close + 1);
  const out: WireVnl = { inner, settings: [], fifo: true };
  if (tail === "") return out;
  if (!tail.startsWith("[") || !tail.endsWith("]")) {
    throw new Error(`expected [options] after the inner VNL, found "${tail}"`);
  }
  const opts = splitOptions(tail.slice(1, -1));
  for (const [i, opt] of opts.entries()) {
    const eq = opt.indexOf("=");
    const name = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? undefined : opt.slice(eq + 1);
    const key = KEYS.find((k) => k.startsWith(name));
    if (key === undefined || name === "") {
      throw unknownOption("wire", name, KEYS);
    }
    const param = PARAM_OF[key];
    if (param !== undefined) {
      if (value === undefined) throw new Error(`wire:// option ${key} needs a value, e.g. ${key}=10`);
      const v = parseSetting(param, value);
      if (isValueError(v)) throw new Error(`wire:// option ${key}: ${v.error}`);
      if (v.node !== 0) throw new Error(`wire:// option ${key}: Markov nodes are set on the console`);
      out.settings.push([param, v]);
    } else if (key === "fifo") {
      out.fifo = value === undefined || !/^0+$/.test(value);
    } else if (key === "nofifo") {
      out.fifo = false;
    } else if (key === "seed") {
      if (value === undefined || !/^\d{1,10}$/.test(value)) {
        throw new Error(`wire:// seed must be a whole number, got "${value ?? ""}"`);
      }
      out.seed = Number(value);
    } else if (key === "mgmt") {
      // `mgmt=/tmp/wf` unquoted splits into `mgmt=`, `tmp` and `wf`: say how to keep the slashes.
      const pieces: string[] = [];
      for (const o of opts.slice(i + 1)) {
        if (o.includes("=")) break;
        pieces.push(o);
      }
      if (value === "" && pieces.length > 0) {
        throw new Error(
          `wire:// mgmt's path has slashes, which separate options: quote it, mgmt='/${pieces.join("/")}'`,
        );
      }
      if (value === undefined || value === "") throw new Error("wire:// mgmt needs a socket path");
      out.mgmt = value;
    } else {
      if (value === undefined || !/^[0-7]{1,4}$/.test(value)) {
        throw new Error(`wire:// mgmtmode must be octal, got "${value ?? ""}"`);
      }
      out.mgmtMode = parseInt(value, 8);
    }
  }
  return out;
}

/**
 * Opens a `wire://` VNL: the inner link, the filter with its settings and,
 * with `mgmt=`, its management socket (its `shutdown` closes the link).
 */
export async function openWireLink(rest: string, options: OpenOptions = {}): Promise<WireLink> {
  const vnl = parseWireVnl(rest);
  const filter = new WireFilter({ seed: vnl.seed });
  for (const [param, setting] of vnl.settings) filter.set(param, setting);
  filter.fifo = vnl.fifo;
  const inner = await openLink(vnl.inner, options);
  let mgmt: MgmtServer | undefined;
  const link = new WireLink(inner, filter, { onClose: () => mgmt?.close() });
  if (vnl.mgmt !== undefined) {
    const ctx = new WirefilterContext(filter, {
      bidirectional: true,
      shutdown: (reason) => link.close(reason),
    });
    try {
      mgmt = await MgmtServer.start(wirefilterCommands(ctx), ctx, {
        path: vnl.mgmt,
        mode: vnl.mgmtMode ?? 0o600,
        greeting: WIREFILTER_GREETING,
        prompt: WIREFILTER_PROMPT,
        log: (m) => log("vde wirefilter", m),
      });
    } catch (err) {
      link.close("management socket failed");
      throw new Error(`cannot serve the management socket ${vnl.mgmt}: ${(err as Error).message}`);
    }
  }
  return link;
}

registerScheme("wire", (rest, options) => openWireLink(rest, options));
