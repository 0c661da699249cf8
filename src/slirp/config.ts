/**
 * Slirp configuration: libslirp's defaults, the vdeplug `slirp://` option
 * names (spec section 8.1) and the forward syntax, checked into one
 * validated {@link SlirpConfig}. Every mistake is a one-line `ConfigError`.
 *
 * Defaults: network 10.0.2.0/24, gateway 10.0.2.2, DNS 10.0.2.3, first
 * DHCP lease 10.0.2.15; IPv6 prefix fd00::/64, gateway fd00::2, DNS
 * fd00::3. Changing `addr=` moves the network and keeps the host parts of
 * DHCP start and DNS, as vdeplug does; likewise `addr6=` for DNS6.
 */
import { formatIpv4, prefixMask } from "../wire/ipv4.ts";
import { formatIpv6, ipv6PrefixMatch } from "../wire/ipv6.ts";
import { formatIp, ipLiteral, ipv4ToU32, parseIpv4Text, parseIpv6Text } from "../wire/ip_address.ts";
import { encodeDnsName } from "../wire/dns.ts";
import type { GuestForwardSpec } from "./guest_forward.ts";
import { didYouMean, knownClause } from "../did_you_mean.ts";

export type { GuestForwardSpec };

/** A configuration mistake, said in one line. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** An inbound port forward: host address and port to a guest address and port. */
export interface ForwardSpec {
  proto: "tcp" | "udp";
  /** 4 or 6: the family of both sides. */
  family: 4 | 6;
  /** Host address to listen on (4 or 16 bytes); undefined for the wildcard. */
  hostAddr: Uint8Array | undefined;
  hostPort: number;
  /** Guest address (4 or 16 bytes); undefined for "the guest" (first lease, or the SLAAC address seen). */
  guestAddr: Uint8Array | undefined;
  guestPort: number;
}

/** The address a forward listens on as text: the family's wildcard ("0.0.0.0", "::") when none is named. */
export function forwardHostText(f: ForwardSpec): string {
  return f.hostAddr === undefined ? (f.family === 4 ? "0.0.0.0" : "::") : formatIp(f.hostAddr);
}

/**
 * Why a forward could not listen on its host port, in one sentence for TCP
 * and UDP alike ("Host port 8080 on 0.0.0.0 is already in use (TCP forward
 * to 10.0.2.15:80)"); undefined for an error that is neither taken nor denied.
 */
export function forwardListenFailure(
  proto: ForwardSpec["proto"],
  hostText: string,
  hostPort: number,
  guestText: string,
  err: unknown,
): string | undefined {
  if (err instanceof Deno.errors.AddrInUse) {
    return `Host port ${hostPort} on ${hostText} is already in use (${proto.toUpperCase()} forward to ${guestText}): ` +
      "forward another host port (0 takes any free one)";
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    const forward = `${proto.toUpperCase()} forward to ${guestText}`;
    const first = unprivilegedPortStart();
    if (hostPort < first) {
      // What a user who is not root runs into (forwarding the guest's 80 or 53 as the same port).
      return `Host port ${hostPort} on ${hostText} is below ${first}, which only root may listen on ` +
        `(${forward}): forward a host port from ${first} up, e.g. ${proto}:8080:${
          guestText.replace(/.*:/, "")
        }`;
    }
    return `Not allowed to listen on host port ${hostPort} on ${hostText} (${forward})`;
  }
  return undefined;
}

/** The lowest port anyone may listen on (net.ipv4.ip_unprivileged_port_start; 1024 where unreadable). */
export function unprivilegedPortStart(): number {
  try {
    const n = Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start").trim());
    return Number.isInteger(n) ? n : 1024;
  } catch {
    return 1024;
  }
}

/** A DNS server the stack forwards queries to. */
export interface DnsUpstream {
  family: 4 | 6;
  addr: Uint8Array;
  port: number;
}

/** The validated configuration of one slirp stack. */
export interface SlirpConfig {
  v4: boolean;
  v6: boolean;
  /** Network address, as a number. */
  network: number;
  prefixLength: number;
  gateway: number;
  dns: number;
  dhcpStart: number;
  dhcp: boolean;
  prefix6: Uint8Array;
  prefix6Length: number;
  gateway6: Uint8Array;
  dns6: Uint8Array;
  hostname: string;
  domain: string | undefined;
  search: string[];
  /** Link MTU the guest is told (DHCP, RA) and the stack sends. */
  mtu: number;
  /** Traffic to the gateway reaches the host's loopback. */
  hostLoopback: boolean;
  /** The guest reaches only the gateway, DNS and forwards. */
  restricted: boolean;
  /** Explicit DNS servers; undefined: the host's, from /etc/resolv.conf. */
  dnsUpstream: DnsUpstream[] | undefined;
  forwards: ForwardSpec[];
  /** Print the configuration at start. */
  verbose: boolean;
  /** Directory the TFTP server on the gateway serves (read-only); undefined: no TFTP server. */
  tftpRoot: string | undefined;
  /** Boot file name DHCP announces (BOOTP file field and option 67). */
  bootfile: string | undefined;
  /** TFTP server name DHCP announces (option 66). */
  tftpServerName: string | undefined;
  /** Guest forwards: a virtual address and port joined to a command or a unix socket. */
  guestForwards: GuestForwardSpec[];
  /** IPv4 addresses the DHCP server never leases: a lab's hosts hold them statically on the slirp's LAN. */
  reserved: number[];
}

/** libslirp's default configuration. */
export function defaultConfig(): SlirpConfig {
  return {
    v4: true,
    v6: true,
    network: 0x0a000200,
    prefixLength: 24,
    gateway: 0x0a000202,
    dns: 0x0a000203,
    dhcpStart: 0x0a00020f,
    dhcp: true,
    prefix6: ipLiteral("fd00::"),
    prefix6Length: 64,
    gateway6: ipLiteral("fd00::2"),
    dns6: ipLiteral("fd00::3"),
    hostname: "slirp",
    domain: undefined,
    search: [],
    mtu: 1500,
    hostLoopback: true,
    restricted: false,
    dnsUpstream: undefined,
    forwards: [],
    verbose: false,
    tftpRoot: undefined,
    bootfile: undefined,
    tftpServerName: undefined,
    guestForwards: [],
    reserved: [],
  };
}

/** Smallest and largest MTU accepted (IPv6 needs 1280; 65521 keeps IP lengths in range). */
export const MIN_MTU = 1280;
export const MAX_MTU = 65520;

/** Checks an MTU given as text. */
export function parseMtu(text: string): number {
  if (!/^\d+$/.test(text)) throw new ConfigError(`mtu must be a whole number, got "${text}"`);
  const n = Number(text);
  if (n === 0) return 1500;
  if (n < MIN_MTU || n > MAX_MTU) {
    throw new ConfigError(`mtu must be between ${MIN_MTU} and ${MAX_MTU}, got ${n}`);
  }
  return n;
}

/** Whether `addr` lies in the configured IPv4 network. */
export function inNetwork(c: SlirpConfig, addr: number): boolean {
  const mask = prefixMask(c.prefixLength);
  return ((addr & mask) >>> 0) === c.network;
}

/** The last address DHCP leases: the network's last host (the one below its broadcast address). */
export function lastLease(c: SlirpConfig): number {
  return ((c.network | ~prefixMask(c.prefixLength)) >>> 0) - 1;
}

/**
 * The address DHCP hands out first: the first lease address, or the next above it when that one is the
 * gateway's, the DNS's or reserved (slirpvde's `-H 10.0.9.15/24` makes the gateway host 15, where the first
 * lease also is); null when none is left below the broadcast address (`-H 10.0.9.1/28`: host 15 is it).
 */
export function firstLease(c: SlirpConfig): number | null {
  const last = lastLease(c);
  for (let a = c.dhcpStart; a <= last; a++) {
    if (a !== c.gateway && a !== c.dns && !c.reserved.includes(a)) return a;
  }
  return null;
}

function v4(text: string, what: string): number {
  const a = parseIpv4Text(text);
  if (!a.ok) throw new ConfigError(`${what} must be an IPv4 address, got "${text}"`);
  return ipv4ToU32(a.value);
}

function v6(text: string, what: string): Uint8Array {
  const a = parseIpv6Text(text);
  if (!a.ok) throw new ConfigError(`${what} must be an IPv6 address, got "${text}"`);
  return a.value;
}

function checkName(name: string, what: string): string {
  try {
    encodeDnsName(name);
  } catch (err) {
    throw new ConfigError(`${what}: ${(err as Error).message}`);
  }
  return name;
}

/** Checks a name DHCP carries in a fixed BOOTP field (file: 128 bytes, sname: 64, NUL included). */
export function checkBootName(value: string, what: string, max: number): string {
  const n = new TextEncoder().encode(value).length;
  if (n === 0 || n > max) throw new ConfigError(`${what} must be 1-${max} bytes, got ${n}`);
  return value;
}

/** The option keys of `slirp://`, in vdeplug's table order (prefixes match the first). */
const KEYS = [
  "v4",
  "v6",
  "addr",
  "host",
  "addr6",
  "host6",
  "hostname",
  // Ours: a short name for tftp_path (listed first, so "tftp" is not taken for tftp_server_name).
  "tftp",
  "tftp_server_name",
  "tftp_path",
  "bootfile",
  "dhcp",
  "vnameserver",
  "vnameserver6",
  "vdnssearch",
  "vdomainname",
  "mtu",
  "mru",
  "restricted",
  "disable_host_loopback",
  "tcpfwd",
  "udpfwd",
  "unixfwd",
  "cmdfwd",
  "verbose",
  // Ours: DNS servers to forward to instead of /etc/resolv.conf's.
  "dns_upstream",
] as const;

/** The options that are switches; every other key needs a value (vdeplug would take an empty one silently). */
const FLAGS: ReadonlySet<string> = new Set(["v4", "v6", "restricted", "disable_host_loopback", "verbose"]);

/** The options that add a forward, applied after the rest. */
const FORWARD_KEYS: ReadonlySet<string> = new Set(["tcpfwd", "udpfwd", "cmdfwd", "unixfwd"]);

/**
 * The key a suggestion writes for a key given: our short `tftp=` is vdeplug's `tftp_server_name=` (its
 * prefix), so a VNL that Debian's vde_plug or QEMU also reads names the directory `tftp_path=`, as both do.
 */
const SUGGESTED: Readonly<Record<string, string>> = { tftp: "tftp_path" };

/** A value to show in "needs a value" for each key that takes one. */
const EXAMPLES: Readonly<Record<string, string>> = {
  addr: "10.1.0.2/24",
  host: "10.1.0.2/24",
  addr6: "fd01::2/64",
  host6: "fd01::2/64",
  hostname: "gw",
  tftp_server_name: "gw",
  tftp_path: "'/srv/tftp'",
  bootfile: "pxelinux.0",
  dhcp: "10.0.2.100",
  vnameserver: "10.0.2.3",
  vnameserver6: "fd00::3",
  vdnssearch: "lan",
  vdomainname: "lan",
  mtu: "1500",
  mru: "1500",
  tcpfwd: "8080:80",
  udpfwd: "5353:53",
  unixfwd: "'5555:/run/sock'",
  cmdfwd: "5555:cat",
  dns_upstream: "1.1.1.1",
};

/**
 * Splits a vdeplug slash-form option string (spec 3.2): `/key=value/key`,
 * with `'...'`/`"..."` quoting, `\x` escapes and `%HH` bytes in values.
 */
export function splitOptions(text: string): [string, string][] {
  const out: [string, string][] = [];
  let cur = "";
  let quote = "";
  const items: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote !== "") {
      if (ch === quote) quote = "";
      else cur += ch;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "\\" && i + 1 < text.length) cur += text[++i];
    else if (ch === "%" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      cur += String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (ch === "/") {
      items.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (quote !== "") throw new ConfigError(`unterminated quote in slirp options "${text}"`);
  items.push(cur);
  for (const item of items) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    out.push(eq < 0 ? [item, ""] : [item.slice(0, eq), item.slice(eq + 1)]);
  }
  return out;
}

/**
 * The full key a possibly abbreviated key names (vdeplug matches the first
 * key it is a prefix of), or undefined when it names none.
 */
function findKey(key: string): string | undefined {
  if (key === "") return undefined;
  return KEYS.find((k) => k === key) ?? KEYS.find((k) => k.startsWith(key));
}

/**
 * QEMU's `-netdev user` names for what slirp:// spells otherwise. QEMU users
 * write them first; `dns` would otherwise be taken as an abbreviation of
 * dns_upstream (the host's resolver), where QEMU means the guest's DNS address.
 */
const QEMU_NAMES: Readonly<Record<string, string>> = {
  hostfwd: "tcpfwd=HOSTPORT:GUESTPORT (udpfwd= for UDP; vde slirp --forward also takes tcp::2222-:22)",
  guestfwd: "cmdfwd=[SLIRPIP:]PORT:COMMAND or unixfwd=[SLIRPIP:]PORT:PATH",
  net: "addr=10.0.2.2/24 (the gateway's address and prefix)",
  dhcpstart: "dhcp=10.0.2.15",
  dns: "vnameserver=10.0.2.3 (dns_upstream= is the host's resolver)",
  dnssearch: "vdnssearch=a,b",
  domainname: "vdomainname=NAME",
  // QEMU's are on by default and turned off; ours name the one family to run, so each is the other's.
  ipv4: "v6 when it is ipv4=off (v6 runs IPv6 only)",
  ipv6: "v4 when it is ipv6=off (v4 runs IPv4 only)",
  "ipv6-net": "addr6=fd00::2/64",
  "ipv6-prefix": "addr6=fd00::2/64",
  "ipv6-host": "addr6=fd00::2/64",
  "ipv6-dns": "vnameserver6=fd00::3",
  "tftp-server-name": "tftp_server_name=NAME",
};

/**
 * How to say `name` (a command-line flag's name, without dashes) in slirp://
 * options: `-o restricted`, `-o addr=10.1.0.2/24`, or slirp://'s spelling of a
 * QEMU name; undefined when it is neither.
 */
export function slirpOptionHint(name: string): string | undefined {
  if (Object.hasOwn(QEMU_NAMES, name)) return `QEMU's ${name} is -o ${QEMU_NAMES[name]}`;
  // QEMU's restrict=on, which slirp:// takes as an abbreviation of restricted (so it is no QEMU_NAMES entry).
  if (name === "restrict") return "QEMU's restrict=on is -o restricted; off is the default";
  if (!(KEYS as readonly string[]).includes(name)) return undefined;
  return `a slirp:// option: -o ${FLAGS.has(name) ? name : `${name}=${EXAMPLES[name] ?? "VALUE"}`}`;
}

/**
 * `tcp:8080:80` (or `8080:80`, `udp:5353:53`) as the slirp:// option it means, `tcpfwd=8080:80`: how
 * `vde slirp --forward` and the console write a forward. Undefined for anything else.
 */
function forwardOption(text: string): string | undefined {
  const m = /^(?:(tcp|udp):)?(\d+:\d+)$/.exec(text);
  return m === null ? undefined : `${m[1] ?? "tcp"}fwd=${m[2]}`;
}

/**
 * QEMU's `hostfwd=tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT` (`hostfwd=tcp::8080-:80`) as slirp://'s
 * forward (`tcpfwd=8080:80`), or undefined for other text.
 */
function fromQemuHostfwd(option: string): string | undefined {
  const m = /^hostfwd=(tcp|udp)?:([^:-]*):(\d+)-([^:-]*):(\d+)$/i.exec(option);
  if (m === null) return undefined;
  const [, proto, hostAddr, hostPort, guestAddr, guestPort] = m;
  const side = (addr: string | undefined, p: string | undefined) => `${addr ? `${addr}:` : ""}${p}`;
  return `${(proto ?? "tcp").toLowerCase()}fwd=${side(hostAddr, hostPort)}:${side(guestAddr, guestPort)}`;
}

/** What each flag does when named, for the refusal of one written `=off`. */
const FLAG_EFFECTS: Readonly<Record<string, string>> = {
  v4: "run IPv4 only",
  v6: "run IPv6 only",
  restricted: "restrict the guest to the gateway, DNS and forwards",
  disable_host_loopback: "refuse the guest's connections to the host's loopback",
  verbose: "print the configuration at start",
};

/**
 * @throws ConfigError for a flag given a value that means off (`restricted=off`, QEMU's `restrict=off`):
 * a flag is on when named, whatever its value (as vdeplug reads it), so it would do the opposite of what
 * was written. Other values (`restricted=on`) are taken as vdeplug takes them.
 */
function refuseFlagTurnedOff(written: string, key: string, value: string): void {
  if (!FLAGS.has(key) || !/^(off|no|false|0|n)$/i.test(value)) return;
  throw new ConfigError(
    `${written}=${value} would ${FLAG_EFFECTS[key]}: ${key} is a flag, on when named whatever its value ` +
      `(as in vdeplug); leave it out for off`,
  );
}

/** findKey's answer; @throws ConfigError when `key` names no option. */
function resolveKey(key: string): string {
  if (Object.hasOwn(QEMU_NAMES, key)) {
    throw new ConfigError(`"${key}" is QEMU's -netdev user option; slirp:// says ${QEMU_NAMES[key]}`);
  }
  const k = findKey(key);
  if (k === undefined) {
    const forward = forwardOption(key);
    if (forward !== undefined) throw new ConfigError(`"${key}" is a forward: slirp:// says ${forward}`);
    const near = didYouMean(key, KEYS);
    throw new ConfigError(`unknown slirp option "${key}" ${knownClause(near, KEYS)}`);
  }
  return k;
}

/**
 * @throws ConfigError when the part of a `slirp://` VNL after the scheme has an address: vdeplug ignores
 * what stands before the first slash, so `slirp://tcpfwd=8080:80` would start with no forward and no word;
 * slirp has no address, so it is always a misspelling.
 */
function refuseAddress(rest: string): void {
  const address = /^[^/]*/.exec(rest)![0];
  if (address === "") return;
  // A forward there (`slirp://tcp:8080:80`) is said as the option it means.
  const written = (forwardOption(address) ?? address) + rest.slice(address.length);
  throw new ConfigError(
    `slirp://${rest} puts options where an address goes (slirp has none): write slirp:///${written}`,
  );
}

/**
 * Parses the part of a `slirp://` VNL after the scheme: an empty address,
 * then slash-separated options (`/key=value/flag`).
 *
 * @param dnsApart false: a DNS address that is the gateway's is not refused yet (one more option, such as
 *   slirpvde's -N, is still to come: `slirpConfigFromFlags`)
 * @throws ConfigError with a one-line reason
 * @example
 * ```ts
 * import { parseSlirpOptions } from "./config.ts";
 * const c = parseSlirpOptions("/addr=10.1.0.2/24/disable_host_loopback");
 * if (c.dns !== 0x0a010003 || c.hostLoopback) throw new Error("not parsed");
 * ```
 */
export function parseSlirpOptions(
  rest: string,
  { dnsApart = true }: { dnsApart?: boolean } = {},
): SlirpConfig {
  const c = defaultConfig();
  const bracketed = /^\/?\[(.*)\]$/.exec(rest);
  if (bracketed !== null) {
    // vde://'s and hub://'s bracket form (`slirp://[hostfwd=tcp::8080-:80]`), which vdeplug4's slirp refuses
    // too (as an unknown key): said as the slash form, a QEMU hostfwd in it as the forward it means.
    const written = bracketed[1]!.split("/").map((o) => fromQemuHostfwd(o) ?? o).join("/");
    throw new ConfigError(
      `slirp:// takes its options after slashes, not in brackets: write slirp:///${written}`,
    );
  }
  refuseAddress(rest);
  // A VNL pasted as a later -o (`-o mtu=1500 -o slirp://addr=X`), joined after the first's options: its
  // address is the same misspelling, said the same way (it read as an option named "slirp:").
  const pasted = rest.indexOf("/slirp://");
  if (pasted >= 0) refuseAddress(rest.slice(pasted + "/slirp://".length));
  const raw = splitOptions(rest.slice(1));
  // `addr=10.1.0.2/16`: the prefix length lands in an item of its own after the split on "/".
  const opts: [string, string][] = [];
  for (const [k, v] of raw) {
    const prev = opts.at(-1);
    if (
      v === "" && /^\d{1,3}$/.test(k) && prev !== undefined && /^(addr|host)6?$/.test(prev[0]) &&
      !prev[1].includes("/")
    ) {
      prev[1] = `${prev[1]}/${k}`;
    } else opts.push([k, v]);
  }
  let only4 = false;
  let only6 = false;
  const later: [string, string][] = [];
  for (const [i, [rawKey, value]] of opts.entries()) {
    const key = resolveKey(rawKey);
    // `tftp=/srv/tftp` unquoted splits into `tftp=`, `srv` and `tftp`: say how to keep the slashes. A value
    // cut at a slash ends in the middle of a path (`5555:`, `cat `), not in a word (`mtu=1500/restrictd` is a typo).
    const next = opts[i + 1];
    if (
      !FLAGS.has(key) && /(^|[^\w.])$/.test(value) && next !== undefined && next[1] === "" &&
      findKey(next[0]) === undefined
    ) {
      const pieces: string[] = [];
      for (const [k, v] of opts.slice(i + 1)) {
        if (v !== "") break;
        pieces.push(k);
      }
      // The %2F form first: it survives the shell as typed, where single quotes pasted bare are the shell's
      // to remove (`vde plug /tmp/net slirp:///tftp_path='/srv/tftp'` reaches us as tftp_path=/srv/tftp again).
      const whole = [value, ...pieces].join("/");
      const as = SUGGESTED[key] ?? key;
      throw new ConfigError(
        `${key}'s value has slashes, which separate options: write each / as %2F, ${as}=${
          whole.replaceAll("/", "%2F")
        }, or quote it, ${as}='${whole}', inside double quotes for the shell`,
      );
    }
    if (value === "" && !FLAGS.has(key)) {
      const as = SUGGESTED[key] ?? key;
      throw new ConfigError(`${key} needs a value, e.g. ${as}=${EXAMPLES[as] ?? "VALUE"}`);
    }
    refuseFlagTurnedOff(rawKey, key, value);
    switch (key) {
      case "v4":
        only4 = true;
        break;
      case "v6":
        only6 = true;
        break;
      case "addr":
      case "host":
        setAddress(c, value);
        break;
      case "addr6":
      case "host6":
        setAddress6(c, value);
        break;
      case "hostname":
        c.hostname = value;
        break;
      case "mtu":
        c.mtu = parseMtu(value);
        break;
      case "mru":
        parseMtu(value);
        break;
      case "restricted":
        c.restricted = true;
        break;
      case "disable_host_loopback":
        c.hostLoopback = false;
        break;
      case "verbose":
        c.verbose = true;
        break;
      case "tftp":
      case "tftp_path":
        c.tftpRoot = value;
        break;
      case "bootfile":
        c.bootfile = checkBootName(value, "bootfile", 127);
        break;
      case "tftp_server_name":
        c.tftpServerName = checkBootName(value, "tftp_server_name", 63);
        break;
      default:
        // Options that depend on the network (dhcp, DNS, forwards) are applied after addr=.
        later.push([key, value]);
    }
  }
  if (only4 !== only6) {
    c.v4 = only4;
    c.v6 = only6;
  }
  // Forwards last, whatever the order written: their addresses are checked against the DHCP start and the
  // DNS address (`cmdfwd=10.0.2.100:...` with `dhcp=10.0.2.101` after it).
  later.sort(([a], [b]) => Number(FORWARD_KEYS.has(a)) - Number(FORWARD_KEYS.has(b)));
  for (const [key, value] of later) {
    switch (key) {
      case "dhcp":
        c.dhcpStart = inside(c, v4(value, "dhcp"), "dhcp");
        break;
      case "vnameserver":
        c.dns = inside(c, v4(value, "vnameserver"), "vnameserver");
        break;
      case "vnameserver6":
        c.dns6 = inside6(c, v6(value, "vnameserver6"), "vnameserver6");
        break;
      case "vdnssearch":
        c.search = listItems(key, value).map((s) => checkName(s, "vdnssearch"));
        break;
      case "vdomainname":
        c.domain = checkName(value, "vdomainname");
        break;
      case "tcpfwd":
      case "udpfwd":
        for (const item of listItems(key, value)) {
          refuseForwardSpelling(key, item);
          c.forwards.push(parseForwardParts(key === "tcpfwd" ? "tcp" : "udp", item, c));
        }
        break;
      case "dns_upstream":
        c.dnsUpstream = listItems(key, value).map(parseDnsUpstream);
        break;
      case "cmdfwd":
      case "unixfwd":
        c.guestForwards.push(parseGuestForward(key === "cmdfwd" ? "cmd" : "unix", value, c));
        break;
    }
  }
  if (dnsApart) refuseDnsAtGateway(c);
  return c;
}

/**
 * Refuses a DNS address that is the gateway's (`addr=10.0.2.3/24` keeps the DNS at host 3), saying why, as
 * QEMU does ("DNS must be different from host"): the guest's packets to one address cannot go both to the
 * host's DNS server and to the host's own ports. libslirp itself takes it (vdeplug_slirp passes it on
 * unchecked) and then sends all the guest sends to that address, any port, to the host's DNS server: the
 * gateway's ports (the host's loopback) are lost without a word. QEMU checks IPv4 only; the same holds for
 * IPv6, refused here too.
 */
function refuseDnsAtGateway(c: SlirpConfig): void {
  const why =
    "what the guest sends to one address cannot go both to the host's DNS server and to the host's " +
    "own ports";
  if (c.dns === c.gateway) {
    throw new ConfigError(
      `the DNS address ${formatIpv4(c.dns)} is the gateway's, and must be another, as QEMU's must ` +
        `("DNS must be different from host"): ${why}; name another in its network with vnameserver= ` +
        `(slirpvde's -N)`,
    );
  }
  if (c.dns6.every((b, i) => b === c.gateway6[i])) {
    throw new ConfigError(
      `the DNS address ${
        formatIpv6(c.dns6)
      } is the IPv6 gateway's, and must be another: ${why}; name another ` +
        `with vnameserver6=`,
    );
  }
}

/**
 * Parses a guest forward `[SLIRPIP:]PORT:COMMAND` (cmd) or
 * `[SLIRPIP:]PORT:PATH` (unix). SLIRPIP is a free address of the network
 * below the first DHCP lease, not the gateway's or DNS's; 10.0.2.4 (the
 * network's .4, as libslirp) when absent.
 *
 * @throws ConfigError
 */
export function parseGuestForward(kind: "cmd" | "unix", text: string, c: SlirpConfig): GuestForwardSpec {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d+):([^]+)$/.exec(text);
  const what = kind === "cmd" ? "cmdfwd" : "unixfwd";
  if (m === null) {
    throw new ConfigError(`${what} "${text}" must be [SLIRPIP:]PORT:${kind === "cmd" ? "COMMAND" : "PATH"}`);
  }
  const mask = prefixMask(c.prefixLength);
  const addr = m[1] === undefined ? (c.network | (4 & ~mask)) >>> 0 : inside(c, v4(m[1], what), what);
  // DHCP leases run from dhcpStart to the top of the network. QEMU's examples put guestfwd at 10.0.2.100,
  // which libslirp takes; here a lease could take it, so the refusal gives both ways out.
  // Leases above the network's last host are none at all, so dhcp= is offered only below it.
  const broadcast = lastLease(c) + 1;
  if (addr >= c.dhcpStart && addr < lastLease(c)) {
    throw new ConfigError(
      `${what} address ${formatIpv4(addr)} is DHCP's to hand out (its leases start at ${
        formatIpv4(c.dhcpStart)
      }): give one below that, or start the leases above it (slirp option dhcp=${formatIpv4(addr + 1)})`,
    );
  }
  const owner = addr === broadcast
    ? "the network's broadcast"
    : addr >= c.dhcpStart
    ? "DHCP's last lease"
    : addr === c.gateway
    ? "the gateway's"
    : addr === c.dns
    ? "the DNS's"
    : addr === c.network
    ? "the network's own"
    : undefined;
  if (owner !== undefined) {
    throw new ConfigError(
      `${what} address ${formatIpv4(addr)} is ${owner}: give another below the first DHCP lease ${
        formatIpv4(c.dhcpStart)
      }`,
    );
  }
  return { addr, port: port(m[2]!, `${what} port`), kind, target: m[3]! };
}

/** Text of a guest forward as `parseGuestForward` reads it. */
export function formatGuestForward(f: GuestForwardSpec): string {
  return `${f.kind === "cmd" ? "cmdfwd" : "unixfwd"} ${formatIpv4(f.addr)}:${f.port}:${f.target}`;
}

/** Sets `addr=IP[/prefix]`: the gateway, the network, and DHCP start and DNS moved into it. */
export function setAddress(c: SlirpConfig, value: string): void {
  const [ip, bits] = value.split("/", 2) as [string, string | undefined];
  const gw = v4(ip, "addr");
  let len = 24;
  if (bits !== undefined) {
    if (!/^\d+$/.test(bits) || Number(bits) < 1 || Number(bits) > 30) {
      throw new ConfigError(`addr prefix length must be 1-30, got "${bits}"`);
    }
    len = Number(bits);
  }
  const mask = prefixMask(len);
  const net = (gw & mask) >>> 0;
  if (gw === net || gw === (net | ~mask) >>> 0) {
    throw new ConfigError(`addr ${ip}/${len} is the network or broadcast address`);
  }
  const host = (a: number) => (a & ~mask) >>> 0;
  c.network = net;
  c.prefixLength = len;
  c.gateway = gw;
  c.dns = (net | host(c.dns)) >>> 0;
  c.dhcpStart = (net | host(c.dhcpStart)) >>> 0;
}

/** Sets `addr6=IP6[/prefix]`: the IPv6 gateway and prefix, and DNS6 moved into it. */
export function setAddress6(c: SlirpConfig, value: string): void {
  const slash = value.lastIndexOf("/");
  const ip = slash < 0 ? value : value.slice(0, slash);
  const bits = slash < 0 ? undefined : value.slice(slash + 1);
  const gw = v6(ip, "addr6");
  let len = 64;
  if (bits !== undefined) {
    if (!/^\d+$/.test(bits) || Number(bits) < 8 || Number(bits) > 64) {
      throw new ConfigError(`addr6 prefix length must be 8-64 (SLAAC needs at most 64), got "${bits}"`);
    }
    len = Number(bits);
  }
  const prefix = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    prefix[i] = gw[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  const dns = prefix.slice();
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    dns[i] = prefix[i]! | (c.dns6[i]! & ~((0xff << (8 - keep)) & 0xff) & 0xff);
  }
  c.prefix6 = prefix;
  c.prefix6Length = len;
  c.gateway6 = gw;
  c.dns6 = dns;
}

function inside(c: SlirpConfig, a: number, what: string): number {
  if (!inNetwork(c, a)) {
    throw new ConfigError(
      `${what} ${formatIpv4(a)} is outside the network ${formatIpv4(c.network)}/${c.prefixLength}`,
    );
  }
  return a;
}

function inside6(c: SlirpConfig, a: Uint8Array, what: string): Uint8Array {
  if (!ipv6PrefixMatch(a, 0, c.prefix6, 0, c.prefix6Length)) {
    throw new ConfigError(
      `${what} ${formatIpv6(a)} is outside the prefix ${formatIpv6(c.prefix6)}/${c.prefix6Length}`,
    );
  }
  return a;
}

/** Splits on colons outside brackets: `[::1]:80:10.0.2.15:8080` gives four parts. */
function splitColons(text: string): string[] {
  const parts: string[] = [];
  let cur = "";
  let depth = 0;
  for (const ch of text) {
    if (ch === "[") depth++;
    if (ch === "]") depth--;
    if (ch === ":" && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** A port number; `zeroOk` for a host port, where 0 has the kernel pick a free one. */
function port(text: string, what: string, zeroOk = false): number {
  const low = zeroOk ? 0 : 1;
  if (!/^\d+$/.test(text) || Number(text) < low || Number(text) > 65535) {
    throw new ConfigError(`${what} must be a port number ${low}-65535, got "${text}"`);
  }
  return Number(text);
}

function hostAddress(text: string): { family: 4 | 6; addr: Uint8Array | undefined } {
  const t = text.replace(/^\[|\]$/g, "");
  const a4 = parseIpv4Text(t);
  if (a4.ok) return { family: 4, addr: a4.value.every((b) => b === 0) ? undefined : a4.value };
  const a6 = parseIpv6Text(t);
  if (a6.ok) return { family: 6, addr: a6.value.every((b) => b === 0) ? undefined : a6.value };
  throw new ConfigError(`forward host address must be an IPv4 or IPv6 address, got "${text}"`);
}

/**
 * The comma-separated items of a list option's value. An item with "=" in
 * it is another option written after a comma (`tcpfwd=8080:80,udpfwd=...`),
 * where vdeplug separates options with "/": said so, rather than refused as
 * a bad value of this one.
 *
 * @throws ConfigError
 */
function listItems(key: string, value: string): string[] {
  const items = value.split(",").filter((s) => s !== "");
  const other = items.find((s) => s.includes("="));
  if (other !== undefined) {
    throw new ConfigError(`${key}: "${other}" is another option: separate options with "/", not ","`);
  }
  return items;
}

/**
 * Parses a forward without its protocol: `[HOSTIP:]HOSTPORT:[GUESTIP:]GUESTPORT`
 * (IPv6 addresses in brackets). The guest address must be inside the
 * network (or prefix); a missing one means the first DHCP lease (IPv4) or
 * the guest's SLAAC address (IPv6, when the host address is IPv6).
 * `written` is the forward as the user wrote it, for the error.
 *
 * @throws ConfigError
 */
export function parseForwardParts(
  proto: "tcp" | "udp",
  text: string,
  c: SlirpConfig,
  written: { text: string; prefix: string } = { text, prefix: "" },
): ForwardSpec {
  const parts = splitColons(text.trim());
  let hostText: string | undefined;
  let hostPortText: string;
  let guestText: string | undefined;
  let guestPortText: string;
  if (parts.length === 2) [hostPortText, guestPortText] = parts as [string, string];
  else if (parts.length === 3) {
    // HOSTPORT:GUESTIP:GUESTPORT (vdeplug) or HOSTIP:HOSTPORT:GUESTPORT.
    if (/^\d+$/.test(parts[0]!)) [hostPortText, guestText, guestPortText] = parts as [string, string, string];
    else [hostText, hostPortText, guestPortText] = parts as [string, string, string];
  } else if (parts.length === 4) {
    [hostText, hostPortText, guestText, guestPortText] = parts as [string, string, string, string];
  } else {
    throw new ConfigError(
      `forward "${written.text}" must be ${written.prefix}[HOSTIP:]HOSTPORT:[GUESTIP:]GUESTPORT (IPv6 addresses in brackets)`,
    );
  }
  let family: 4 | 6 = 4;
  let hostAddr: Uint8Array | undefined;
  if (hostText !== undefined && hostText !== "") ({ family, addr: hostAddr } = hostAddress(hostText));
  let guestAddr: Uint8Array | undefined;
  if (guestText !== undefined && guestText !== "") {
    const g = hostAddress(guestText);
    if (hostText === undefined) family = g.family;
    if (g.family !== family) {
      throw new ConfigError(`forward "${text}" mixes IPv4 and IPv6: both sides must be of one family`);
    }
    if (g.addr === undefined) {
      throw new ConfigError(`forward "${text}": the guest address cannot be a wildcard`);
    }
    guestAddr = g.addr;
    if (family === 4) {
      inside(
        c,
        ipv4ToU32(g.addr),
        "forward guest address",
      );
    } else inside6(c, g.addr, "forward guest address");
  }
  return {
    proto,
    family,
    hostAddr,
    hostPort: port(hostPortText, "forward host port", true),
    guestAddr,
    guestPort: port(guestPortText, "forward guest port"),
  };
}

/**
 * Parses `--forward PROTO:...` as the CLI and console take it:
 * `tcp:8080:80`, `udp:5353:10.0.2.15:53`, `tcp:127.0.0.1:8080:80`, `udp:[::]:5353:53`.
 */
export function parseForward(text: string, c: SlirpConfig): ForwardSpec {
  const m = /^(tcp|udp):(.+)$/i.exec(text.trim());
  if (m === null) {
    // QEMU's whole option pasted (`hostfwd=tcp::2222-:22`): its value is what --forward takes.
    const qemu = /^hostfwd=((?:tcp|udp):.*)$/i.exec(text.trim());
    if (qemu !== null) {
      throw new ConfigError(
        `forward "${text}": drop QEMU's "hostfwd=" and give its value, ${qemu[1]}`,
      );
    }
    // Docker's `-p 8080:80` (or a forward's ports alone): the line to type for TCP, the usual meaning.
    const tcp = /^[\d[]/.test(text.trim()) ? ` (for TCP: tcp:${text.trim()})` : "";
    throw new ConfigError(`forward "${text}" must start with tcp: or udp:${tcp}`);
  }
  const proto = m[1]!.toLowerCase() as "tcp" | "udp";
  // A mistake is shown as written, protocol included.
  return parseForwardParts(proto, fromHostfwd(m[2]!), c, { text: text.trim(), prefix: `${proto}:` });
}

/**
 * A tcpfwd=/udpfwd= item written as --forward or QEMU's hostfwd= takes it (`tcp::2222-:22`, `2222-:22`,
 * `tcp:2222:22`), refused with the item as vdeplug's option says it, which the parts' own errors
 * ("host address ... got "tcp"") leave the user to work out.
 *
 * @throws ConfigError
 */
function refuseForwardSpelling(key: string, item: string): void {
  const proto = /^(tcp|udp):(.*)$/i.exec(item);
  const rest = proto === null ? item : proto[2]!;
  // No address or port of ours holds a dash: one is QEMU's between the host's side and the guest's.
  const sides = rest.split("-");
  if (proto === null && sides.length !== 2) return;
  const right = proto === null ? key : `${proto[1]!.toLowerCase()}fwd`;
  const ours = sides.map((side) => side.replace(/^:/, "")).filter((side) => side !== "").join(":");
  throw new ConfigError(
    `${key}: "${item}" is --forward's or QEMU's hostfwd spelling; slirp:// takes ` +
      `[HOSTIP:]HOSTPORT:[GUESTIP:]GUESTPORT with the protocol in the option's name: ${right}=${ours}`,
  );
}

/**
 * QEMU's hostfwd form `[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT` (after the
 * protocol: `tcp::2222-:22`) as ours, `HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT`;
 * other text unchanged. No address or port of ours holds a dash.
 */
function fromHostfwd(text: string): string {
  const m = /^((?:\[[^\]]*\]|[^:\[\]-]*)?):(\d*)-((?:\[[^\]]*\]|[^:\[\]-]*)?):(\d*)$/.exec(text.trim());
  return m === null ? text : `${m[1]}:${m[2]}:${m[3]}:${m[4]}`;
}

/** Text of a forward as `parseForward` reads it. */
export function formatForward(f: ForwardSpec, c: SlirpConfig): string {
  const addr = (a: Uint8Array | undefined, fam: 4 | 6, wildcard: string) =>
    a === undefined ? wildcard : fam === 4 ? a.join(".") : `[${formatIpv6(a)}]`;
  const guest = f.guestAddr === undefined && f.family === 4
    ? formatIpv4(firstLease(c) ?? c.dhcpStart)
    : addr(f.guestAddr, f.family, "[guest]");
  return `${f.proto}:${
    addr(f.hostAddr, f.family, f.family === 4 ? "0.0.0.0" : "[::]")
  }:${f.hostPort}:${guest}:${f.guestPort}`;
}

/** Parses `ADDR[:PORT]` or `[ADDR6]:PORT` as a DNS server (port 53 by default). */
export function parseDnsUpstream(text: string): DnsUpstream {
  const t = text.trim();
  let host = t;
  let p = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket !== null) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) p = port(bracket[2], "DNS upstream port");
  } else if (/^[^:]+:\d+$/.test(t)) {
    const i = t.lastIndexOf(":");
    host = t.slice(0, i);
    p = port(t.slice(i + 1), "DNS upstream port");
  }
  const a4 = parseIpv4Text(host);
  if (a4.ok) return { family: 4, addr: a4.value, port: p };
  const a6 = parseIpv6Text(host);
  if (a6.ok) return { family: 6, addr: a6.value, port: p };
  throw new ConfigError(`DNS upstream must be ADDR, ADDR:PORT or [ADDR6]:PORT, got "${text}"`);
}

/** The `nameserver` lines of a resolv.conf text. */
export function resolversFrom(text: string): DnsUpstream[] {
  const out: DnsUpstream[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m === null) continue;
    try {
      out.push(parseDnsUpstream(m[1]!.replace(/%.*$/, "")));
    } catch { /* a line we cannot use */ }
  }
  return out;
}

/** vdeplug's `verbose` dump of a configuration. */
export function describeConfig(c: SlirpConfig): string {
  return [
    "SLIRP configuration",
    `ipv4-enable   ${c.v4 ? 1 : 0}`,
    `ipv4-network  ${formatIpv4(c.network)}`,
    `ipv4-netmask  ${formatIpv4(prefixMask(c.prefixLength))}`,
    `ipv4-host     ${formatIpv4(c.gateway)}`,
    `ipv6-enabled  ${c.v6 ? 1 : 0}`,
    `ipv6-prefix   ${formatIpv6(c.prefix6)}`,
    `ipv6-preflen  ${c.prefix6Length}`,
    `ipv6-host     ${formatIpv6(c.gateway6)}`,
    `hostname      ${c.hostname}`,
    `tftp-servname ${c.tftpServerName ?? "(null)"}`,
    `tftp-path     ${c.tftpRoot ?? "(null)"}`,
    `bootfile      ${c.bootfile ?? "(null)"}`,
    `dhcp-start    ${formatIpv4(c.dhcpStart)}`,
    `ipv4-vDNS     ${formatIpv4(c.dns)}`,
    `ipv6-vDNS     ${formatIpv6(c.dns6)}`,
    `vDNS-search   ${c.search.join(",")}`,
    `vdomainname   ${c.domain ?? "(null)"}`,
    `MTU           ${c.mtu}`,
    `disable-lback ${c.hostLoopback ? 0 : 1}`,
    `restricted    ${c.restricted ? 1 : 0}`,
  ].join("\n");
}
