/**
 * The hash (MAC table) menu (spec 5.2): `hash/showinfo`, `hash/setsize`,
 * `hash/setgcint`, `hash/setexpire`, `hash/setminper`, `hash/print`,
 * `hash/find`, and `hash/flush`, which vde_switch lacks: the whole table,
 * one port's or one VLAN's entries, as `bridge fdb flush dev br0` and
 * `ovs-appctl fdb/flush` do.
 *
 * Our MAC table is not a bucketed hash, so `hash/setsize` keeps vde_switch's
 * meaning where it shows: it empties the table and sets the bucket count
 * used for the `Hash: NNNN` column (rounded up to a power of two). Two
 * deliberate differences: negative timer values are refused (vde_switch
 * stores them), and `hash/find` prints the entry's real port, where
 * vde_switch prints port+1.
 */
import { parseInteger, words } from "../args.ts";
import type { ConsoleContext } from "./context.ts";
import { formatHashLine } from "./listings.ts";
import { type CommandRegistry, fail, failure, listing, ok } from "../registry.ts";
import { Errno, type Reply } from "../reply_format.ts";
import { hashPrintChunks } from "./mac_listing.ts";
import { NO_VLAN, pastLastPort } from "../../switch/engine.ts";
import { vdeBucket } from "../../switch/vde_bucket.ts";
import { formatMac as formatMacBytes, macHi, macLo, parseMacText } from "../../wire/ethernet.ts";

/** Largest bucket count `hash/setsize` accepts. */
export const MAX_HASH_BUCKETS = 1 << 20;
/** Largest timer value (seconds) the hash setters accept: about 68 years. */
const MAX_SECONDS = 0x7fffffff;

/** The bucket count a requested hash size gives (the next power of two), or undefined outside 1..MAX_HASH_BUCKETS. */
export function hashBucketsFor(n: number | undefined): number | undefined {
  if (n === undefined || n <= 0 || n > MAX_HASH_BUCKETS) return undefined;
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

/** Registers the hash menu. */
export function addHashCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  const engine = ctx.sw.engine;
  const seconds = (set: (n: number) => void) => (args: string): Reply => {
    const n = parseInteger(args);
    if (n === undefined || n < 0 || n > MAX_SECONDS) return fail(Errno.EINVAL);
    set(n);
    return ok();
  };

  registry.menu("hash", "HASH TABLE MENU");
  registry.add({
    path: "hash/showinfo",
    syntax: "",
    help: "show hash info",
    listing: true,
    run: () =>
      listing([
        `Hash size ${ctx.hashBuckets}`,
        `GC interval ${engine.gcIntervalSeconds} secs`,
        `GC expire ${engine.expireSeconds} secs`,
        `Min persistence ${engine.minPersistenceSeconds} secs`,
      ]),
  });
  registry.add({
    path: "hash/setsize",
    syntax: "N",
    help: "change hash size",
    listing: false,
    run: (args) => {
      const size = hashBucketsFor(parseInteger(args));
      if (size === undefined) return fail(Errno.EINVAL);
      ctx.hashBuckets = size;
      engine.macTable.clear();
      return ok();
    },
  });
  registry.add({
    path: "hash/setgcint",
    syntax: "N",
    help: "change garbage collector interval",
    listing: false,
    run: seconds((n) => (engine.gcIntervalSeconds = n)),
  });
  registry.add({
    path: "hash/setexpire",
    syntax: "N",
    help: "change hash entries expire time",
    listing: false,
    run: seconds((n) => (engine.expireSeconds = n)),
  });
  registry.add({
    path: "hash/setminper",
    syntax: "N",
    help: "minimum persistence time",
    listing: false,
    run: seconds((n) => (engine.minPersistenceSeconds = n)),
  });
  registry.add({
    path: "hash/print",
    syntax: "",
    help: "print the hash table",
    listing: true,
    run: () => ({ code: 0, chunks: hashPrintChunks(ctx) }),
  });
  registry.add({
    path: "hash/flush",
    // The syntax fits help's column (15 characters), which vde term reads; both may be given.
    syntax: "[port N|vlan V]",
    help: "forget the learned MACs: all, of port N, of VLAN V, or of both",
    listing: false,
    run: (args) => {
      const filter = flushFilter(words(args));
      if (filter === undefined) return fail(Errno.EINVAL);
      // Well formed but past the last port: the code alone would read as a usage error.
      if (filter.port >= engine.numPorts) return failure(pastLastPort(filter.port), Errno.EINVAL);
      engine.flushMacs(filter.port, filter.vlan);
      return ok();
    },
  });
  registry.add({
    path: "hash/find",
    syntax: "MAC [VLAN]",
    help: "MAC lookup",
    listing: true,
    run: (args) => {
      const [macText, vlanText, extra] = words(args);
      const parsedMac = macText === undefined ? null : parseMacText(macText);
      const mac = parsedMac?.ok ? parsedMac.value : null;
      const vlan = vlanText === undefined ? 0 : parseInteger(vlanText);
      if (mac === null || vlan === undefined || vlan < 0 || vlan > NO_VLAN || extra !== undefined) {
        return listing([], Errno.EINVAL);
      }
      const hi = macHi(mac, 0), lo = macLo(mac, 0);
      const port = engine.macTable.lookup(hi, lo, vlan);
      if (port < 0) return listing([], Errno.ENODEV);
      const lastSeen = engine.macTable.lastSeen(hi, lo, vlan);
      return listing([formatHashLine({
        bucket: vdeBucket(mac, vlan, ctx.hashBuckets),
        mac: formatMacBytes(mac),
        vlan,
        port,
        age: Math.max(0, Math.floor(ctx.nowSeconds()) - Math.floor(lastSeen)),
      })]);
    },
  });
}

/**
 * `hash/flush`'s arguments: `port N` and `vlan V`, each at most once, in
 * either order; -1 where one is not given. Undefined for anything else or
 * a number out of range (a port is checked against the switch's ports by
 * the caller, which says so in words).
 */
export function flushFilter(args: readonly string[]): { port: number; vlan: number } | undefined {
  const filter = { port: -1, vlan: -1 };
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i], n = parseInteger(args[i + 1] ?? "");
    if (n === undefined || n < 0) return undefined;
    if (key === "port" && filter.port < 0) filter.port = n;
    else if (key === "vlan" && filter.vlan < 0 && n <= NO_VLAN) filter.vlan = n;
    else return undefined;
  }
  return filter;
}
