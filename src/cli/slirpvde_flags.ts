/**
 * Debian's slirpvde flags as `vde slirp` reads them. A slirpvde user's script
 * says `slirpvde -s /tmp/net -D -L 2222:10.0.2.15:22 -U 5353:10.0.2.15:53`;
 * the flags that mean the same here are taken as they are (-D is a no-op:
 * DHCP is always on; -L/-U are a TCP/UDP forward, -t the TFTP root, -d and
 * -p the daemon and its pid file; -H/-n the network, read here by
 * slirpvdeHostOption; -N the DNS address; -P, -g and -m the switch port's
 * number, group and mode; -q the quiet), and each
 * of the others is answered, when typed, with how it is said here, since
 * commander's bare "unknown option '-H'" leaves that user guessing. The
 * flags taken are declared in slirp.ts; this module holds the answers.
 *
 * slirpvde reads its options with getopt_long_only, so its scripts say
 * `-dhcp`, `-daemon`, `-socket /tmp/net` with one dash (its usage's first
 * line). Commander reads those as bundled short flags (`-d` then `-hcp`,
 * `-s` with the value `ocket`, `-h` for `-host`: help), so toSlirpLongOptions
 * gives each of slirpvde's long names two dashes before the parser sees
 * them: the ones taken here then mean what they meant, the others get
 * their answer.
 */
import { getoptLongOnly } from "./vde_switch_args.ts";
import { ConfigError } from "../slirp/config.ts";
import { formatIpv4, prefixMask } from "../wire/ipv4.ts";

/**
 * How slirpvde's flags this command does not take are said here, keyed by
 * the name without dashes (short letter, long name, and the single-dash long
 * names of its first usage line).
 */
const SLIRPVDE_HINTS: Readonly<Record<string, string>> = {
  x: "slirpvde's -x PORT:PATH is --unixfwd 10.0.2.2:PORT:PATH",
  // -X lets the host's X clients reach a guest's X server (a free display of the host to GUEST:6000+D).
  X: "slirpvde's -X GUEST is --forward tcp:127.0.0.1:6001:GUEST:6000, then DISPLAY=localhost:1 on the host",
};

/** slirpvde's long option names (with getopt_long_only: one dash or two) and ours for them. */
const LONG_NAMES: Readonly<Record<string, string>> = {
  socket: "sock",
  sock: "sock",
  vdesock: "sock",
  unix: "sock",
  pidfile: "pidfile",
  dhcp: "dhcp",
  daemon: "daemon",
  tftp: "tftp",
  help: "help",
  // Given two dashes, so the parser reads them whole (not as bundled letters): -host is --host, not -h ost.
  network: "network",
  nameserver: "dns",
  dns: "dns",
  host: "host",
  mod: "mod",
  group: "group",
  port: "port",
  quiet: "quiet",
};

/**
 * `vde slirp` arguments with slirpvde's long options (`-dhcp`, `-socket DIR`,
 * `--vdesock=DIR`) written as ours (`--dhcp`, `--sock DIR`); other commands'
 * arguments unchanged. A value given with `=` is kept (`-dhcp=10.0.2.50`).
 */
export const toSlirpLongOptions: (args: string[]) => string[] = getoptLongOnly("slirp", LONG_NAMES, {
  // Ours that take a value (src/cli/slirp.ts, program.ts): the next argument is that value, as typed.
  short: "sftopLUHnNPgm",
  long: new Set([
    ...["sock", "forward", "mtu", "dns-upstream", "cmdfwd", "unixfwd", "tftp", "bootfile", "http", "options"],
    ...["pidfile", "logfile", "localfwd", "udpfwd", "host", "network", "dns", "port", "group", "mod"],
  ]),
});

/** How slirpvde's flag `name` (without dashes) is said here, or undefined. */
export function slirpvdeHint(name: string): string | undefined {
  return Object.hasOwn(SLIRPVDE_HINTS, name) ? SLIRPVDE_HINTS[name] : undefined;
}

/**
 * slirpvde's `-H ADDR[/LEN]` (and its alias `-n`) as slirp:// options: the
 * gateway's address and prefix (LEN 24 when not given), DNS at host 3 and
 * the first lease at host 15 of the network. An address whose host part is
 * zero names the network alone, whose gateway is host 2 (`-H 10.1.0.0/16`
 * is `addr=10.1.0.2/16/vnameserver=10.1.0.3/dhcp=10.1.0.15`).
 *
 * @throws ConfigError with a one-line reason
 */
export function slirpvdeHostOption(text: string, flag: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text.trim());
  const bytes = m?.slice(1, 5).map(Number) ?? [];
  const len = Number(m?.[5] ?? 24);
  if (m === null || bytes.some((b) => b > 255) || len < 1 || len > 30) {
    throw new ConfigError(
      `${flag} takes the gateway's ADDR[/LEN] (LEN 1-30), e.g. ${flag} 10.1.0.2/24; got "${text}"`,
    );
  }
  const addr = bytes.reduce((a, b) => (a * 256 + b) >>> 0, 0);
  const net = (addr & prefixMask(len)) >>> 0;
  // slirp://'s addr= keeps the DNS and first lease's host parts (0.0.2.3 in a /16: 10.1.2.3); slirpvde's
  // are host numbers 3 and 15 of the network (10.1.0.3).
  const host = (n: number) => formatIpv4((net + n) >>> 0);
  return `addr=${addr === net ? host(2) : formatIpv4(addr)}/${len}/vnameserver=${host(3)}/dhcp=${host(15)}`;
}
