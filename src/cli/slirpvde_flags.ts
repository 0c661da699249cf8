/**
 * Debian's slirpvde flags as `vde slirp` reads them. A slirpvde user's script
 * says `slirpvde -s /tmp/net -D -L 2222:10.0.2.15:22 -U 5353:10.0.2.15:53`;
 * the flags that mean the same here are taken as they are (-D is a no-op:
 * DHCP is always on; -L/-U are a TCP/UDP forward, -t the TFTP root, -d and
 * -p the daemon and its pid file), and each
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

/**
 * How slirpvde's flags this command does not take are said here, keyed by
 * the name without dashes (short letter, long name, and the single-dash long
 * names of its first usage line; --dns is QEMU's too, answered as QEMU's).
 */
const SLIRPVDE_HINTS: Readonly<Record<string, string>> = {
  H: "slirpvde's -H ADDR/MASK is -o addr=10.0.2.2/24, the gateway's address and prefix",
  host: "slirpvde's --host ADDR/MASK is -o addr=10.0.2.2/24, the gateway's address and prefix",
  n: "slirpvde's -n NET/MASK is -o addr=NET.2/MASK (the gateway's address), e.g. -o addr=10.1.0.2/24",
  network:
    "slirpvde's --network NET/MASK is -o addr=NET.2/MASK (the gateway's address), e.g. -o addr=10.1.0.2/24",
  N: "slirpvde's -N ADDR is -o vnameserver=10.0.2.3; --dns-upstream is the host's resolver",
  P: "slirpvde's -P N: plug it on port N with vde plug 'vde://DIR[N]' slirp://",
  port: "slirpvde's --port N: plug it on port N with vde plug 'vde://DIR[N]' slirp://",
  x: "slirpvde's -x PORT:PATH is --unixfwd 10.0.2.2:PORT:PATH",
  // -X lets the host's X clients reach a guest's X server (a free display of the host to GUEST:6000+D).
  X: "slirpvde's -X GUEST is --forward tcp:127.0.0.1:6001:GUEST:6000, then DISPLAY=localhost:1 on the host",
  m: "slirpvde's -m: vde slirp makes no socket of its own; the switch's --mode applies",
  mod: "slirpvde's --mod: vde slirp makes no socket of its own; the switch's --mode applies",
  g: "slirpvde's -g: vde slirp makes no socket of its own; the switch's --group applies",
  q: "slirpvde's -q: vde slirp writes only to stderr; 2>/dev/null",
  quiet: "slirpvde's --quiet: vde slirp writes only to stderr; 2>/dev/null",
  nameserver:
    "slirpvde's --nameserver ADDR is -o vnameserver=10.0.2.3; --dns-upstream is the host's resolver",
  group: "slirpvde's --group: vde slirp makes no socket of its own; the switch's --group applies",
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
  // Not taken here: given two dashes, so the parser names them whole and their answer applies.
  network: "network",
  nameserver: "nameserver",
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
  short: "sftopLU",
  long: new Set([
    ...["sock", "forward", "mtu", "dns-upstream", "cmdfwd", "unixfwd", "tftp", "bootfile", "http", "options"],
    ...["pidfile", "logfile", "localfwd", "udpfwd"],
  ]),
});

/** How slirpvde's flag `name` (without dashes) is said here, or undefined. */
export function slirpvdeHint(name: string): string | undefined {
  return Object.hasOwn(SLIRPVDE_HINTS, name) ? SLIRPVDE_HINTS[name] : undefined;
}
