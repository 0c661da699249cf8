/**
 * The VNL registry: one place that maps a URL scheme to a Link factory.
 *
 * VNLs follow vdeplug4's notation (`scheme://rest`); a string without `://`
 * is a vde switch path, and `-` is stdio. The CLI, the console and the
 * library all open links through `openLink`.
 */
import type { Link } from "./link.ts";

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
}

const factories = new Map<string, LinkFactory>();

/** Registers the factory for `scheme` (without `://`). */
export function registerScheme(scheme: string, factory: LinkFactory): void {
  factories.set(scheme, factory);
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
    throw new Error(`unknown VNL scheme "${scheme}://" (known: ${schemes().join(", ")})`);
  }
  return await factory(rest, options);
}
