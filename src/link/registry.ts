/**
 * The VNL registry: one place that maps a URL scheme to a Link factory.
 *
 * VNLs follow vdeplug4's notation (`scheme://rest`); a string without `://`
 * is a vde switch path, and `-` is stdio. The CLI, the console and the
 * library all open links through `openLink`. The built-in schemes
 * (schemes.ts) start as loaders: the first `openLink` of a scheme imports its
 * module, which replaces the loader with its factory.
 */
import type { Link } from "./link.ts";
import type { UnaskedDefault } from "./default_switch.ts";
import { BUILTIN_SCHEMES } from "./schemes.ts";
import { foreignSchemeHint } from "./foreign_schemes.ts";
import { didYouMean, didYouMeanClause, knownClause } from "../did_you_mean.ts";
import { isTunTap } from "../../ffi/tun.ts";

/** Opens a link from the part of the VNL after `scheme://`. */
export type LinkFactory = (rest: string, options: OpenOptions) => Promise<Link>;

/** Options every factory may honour. */
export interface OpenOptions {
  /** Description sent to a switch, like vde_plug's `-D`. */
  description?: string;
  /**
   * Drain a datagram link's input on a thread of its own (vde://: default
   * true); false keeps it on the main thread's poller.
   */
  receiveThread?: boolean;
  /**
   * The link is opened to be lent to a plug thread (see `plugsOnThread` in
   * plug.ts), which then owns its fd: a vde:// socket is sized for that
   * thread and starts no receive thread (unless `receiveThread` says so).
   */
  plugThread?: boolean;
  /**
   * The VNL at the plug's other end: a connecting tcp:// cable names its
   * session after it and takes the session's lock beside its switch, as
   * `vde cable connect ADDR --sock PEER` does (link/cable_lock.ts).
   */
  peer?: string;
  /**
   * The switch port of the plug's other end once it is open (undefined before, or not a switch's): a
   * tcp:// cable names it in its log lines and tells its far end, as a switch's cable does.
   */
  peerPort?: () => number | undefined;
  /**
   * Aborted when the opener gives up (a signal): an open that waits for
   * someone else (ptp://'s first end, for its peer) stops waiting.
   */
  signal?: AbortSignal;
  /**
   * The vde:// switch named is root's system default, taken unasked (default_switch.ts): each file of it
   * connected to is judged as it is connected to, another user's refused. An empty vde:// path finds this
   * itself; a caller that resolved the default first (vde slirp) passes it on.
   */
  unasked?: UnaskedDefault;
}

const factories = new Map<string, LinkFactory>();
/** Modules of schemes registered as loaders, until they are loaded. */
const modules = new Map<string, () => Promise<unknown>>();

/** Registers the factory for `scheme` (without `://`). */
export function registerScheme(scheme: string, factory: LinkFactory): void {
  factories.set(scheme, factory);
}

/**
 * Registers `scheme` as implemented by a module that `load` imports on first
 * use; the module must call `registerScheme(scheme, ...)` when evaluated. A
 * factory already registered (its module was imported) is kept.
 */
export function registerSchemeModule(scheme: string, load: () => Promise<unknown>): void {
  if (factories.has(scheme)) return;
  modules.set(scheme, load);
  const loader: LinkFactory = async (rest, options) => {
    await loadScheme(scheme);
    const factory = factories.get(scheme);
    if (factory === undefined || factory === loader) {
      throw new Error(`the module of ${scheme}:// did not register it`);
    }
    return await factory(rest, options);
  };
  factories.set(scheme, loader);
}

async function loadScheme(scheme: string): Promise<void> {
  const load = modules.get(scheme);
  if (load === undefined) return;
  await load();
  modules.delete(scheme);
}

/**
 * Loads the modules of the schemes these VNLs use, without opening
 * anything. A program that joins links (plug) calls it first, so the time
 * between its first link coming up and the second one is not spent loading
 * code while frames arrive.
 */
export async function preloadSchemes(vnls: readonly string[]): Promise<void> {
  await Promise.all(vnls.map((v) => loadScheme(splitVnl(v).scheme)));
}

/** Schemes whose links lend their fd to a plug thread (schemes.ts says which). */
const fdLenders = new Set<string>();

for (const [scheme, { load, lendsFd }] of Object.entries(BUILTIN_SCHEMES)) {
  registerSchemeModule(scheme, load);
  if (lendsFd) fdLenders.add(scheme);
}

/** Whether the links of `scheme` lend their fd to a plug thread. */
export function schemeLendsFd(scheme: string): boolean {
  return fdLenders.has(scheme);
}

/** The schemes that can be opened, sorted. */
export function schemes(): string[] {
  return [...factories.keys()].sort();
}

/** Splits a VNL into scheme and rest: a bare path is `vde`, `-` is `stdio`. */
export function splitVnl(vnl: string): { scheme: string; rest: string } {
  if (vnl === "-") return { scheme: "stdio", rest: "" };
  const i = vnl.indexOf("://");
  if (i < 0) return { scheme: "vde", rest: vnl };
  return { scheme: vnl.slice(0, i), rest: vnl.slice(i + 3) };
}

/** Opens the link a VNL names; rejects with a one-line reason. */
export async function openLink(vnl: string, options: OpenOptions = {}): Promise<Link> {
  const { scheme, rest } = splitVnl(vnl);
  const factory = factories.get(scheme);
  if (factory === undefined) {
    const hint = foreignSchemeHint(scheme);
    const near = hint === undefined ? didYouMean(scheme, schemes()) : undefined;
    throw new Error(
      `unknown VNL scheme "${scheme}://" ${
        knownClause(near === undefined ? undefined : `${near}://`, schemes())
      }${hint === undefined ? "" : `: ${hint}`}`,
    );
  }
  try {
    return await factory(rest, options);
  } catch (err) {
    const hint = rest === vnl ? schemeSpellingHint(vnl) : undefined;
    if (hint === undefined) throw err;
    throw new Error(`${err instanceof Error ? err.message : err}${didYouMeanClause(hint)}`);
  }
}

/**
 * `tap:t0` is a switch path to the registry (no `://`), so its mistake shows
 * as a missing directory; when such a path opens nothing and starts with a
 * known scheme and one colon, or is a scheme's bare name (`slirp`) or a
 * tap's, the VNL the user meant.
 */
function schemeSpellingHint(vnl: string): string | undefined {
  // A scheme's bare name (`vde plug /tmp/net slirp`) is a path too.
  if (factories.has(vnl) && vnl !== "stdio") return `${vnl}://`;
  // So is a tap's bare name (`vde plug /tmp/net eth0` after `vde tap create eth0`): vde_plug's users write tap://.
  if (!vnl.includes("/") && isTunTap(vnl)) return `tap://${vnl}`;
  const m = /^([a-z][a-z0-9+.-]*):(?!\/\/)(.*)$/.exec(vnl);
  if (m === null || !factories.has(m[1]!)) return undefined;
  return `${m[1]}://${m[2]}`;
}
