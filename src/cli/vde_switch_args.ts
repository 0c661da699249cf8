/**
 * vde_switch parses options with getopt_long_only, so `-sock DIR`, `-hub`
 * and `-numports 4` work there, and long names may be shortened. Scripts
 * written for it should keep working: this maps those spellings to ours
 * before the parser sees them. It also finds the startup script vde_switch
 * runs by default, which we do not, so the switch can say so.
 */

/** vde_switch's long options (and their aliases) mapped to ours. */
const LONG: Record<string, string> = {
  sock: "sock",
  vdesock: "sock",
  unix: "sock",
  numports: "ports",
  ports: "ports",
  hub: "hub",
  mode: "mode",
  mod: "mode",
  dirmode: "dirmode",
  group: "group",
  pidfile: "pidfile",
  daemon: "daemon",
  logfile: "logfile",
  tap: "tap",
  slirp: "slirp",
  mgmt: "mgmt",
  mgmtmode: "mgmtmode",
  mgmtgroup: "mgmtgroup",
  rcfile: "rc",
  rc: "rc",
  fstp: "fstp",
  priority: "priority",
  macaddr: "macaddr",
  hashsize: "hashsize",
  debugclients: "debugclients",
  version: "version",
};

/** Rewrites `-long` and `--numports`-style switch options to our long forms. */
export function toLongOptions(args: string[]): string[] {
  if (args[0] !== "switch") return args;
  return args.map((arg, i) => {
    if (i === 0 || !arg.startsWith("-") || arg === "-" || arg === "--") return arg;
    const body = arg.replace(/^--?/, "");
    // Only the first "=" ends the name: a value may hold more (`--slirp=tcpfwd=8080:80`).
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    // Single letters are short options already.
    if (name.length < 2 && !arg.startsWith("--")) return arg;
    const target = LONG[name];
    if (target === undefined) return arg;
    return value === undefined ? `--${target}` : `--${target}=${value}`;
  });
}

/**
 * The startup script vde_switch would run without `-f`: `~/.vde2/vde_switch.rc`,
 * else `/etc/vde2/vde_switch.rc`, the first that can be read; undefined when
 * neither can. We run a script only when `--rc` names it, so a vde2 user's
 * default script would be skipped without a word: the switch names it.
 */
export function vdeSwitchDefaultRc(home = Deno.env.get("HOME"), etc = "/etc/vde2"): string | undefined {
  const candidates = [...(home === undefined ? [] : [`${home}/.vde2/vde_switch.rc`]), `${etc}/vde_switch.rc`];
  return candidates.find((path) => {
    try {
      Deno.openSync(path).close();
      return true;
    } catch {
      return false;
    }
  });
}
