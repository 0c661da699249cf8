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

/**
 * The options of a command that take their value in the next argument when
 * none is attached: short letters (`-M PATH`, `-NM PATH`) and our long
 * names (`--mgmt PATH`). That argument is a value, whatever it looks like
 * (`-f -rc`: a file named `-rc`), as getopt and our parser take it.
 */
export interface ValuedOptions {
  short: string;
  long: ReadonlySet<string>;
}

/** Whether `arg`, an option as the parser will see it, takes the next argument as its value. */
function takesNext(arg: string, valued: ValuedOptions): boolean {
  if (arg.startsWith("--")) return !arg.includes("=") && valued.long.has(arg.slice(2));
  if (!arg.startsWith("-")) return false;
  // A cluster of short letters: the first that takes a value takes the rest, or the next argument.
  for (let j = 1; j < arg.length; j++) {
    if (valued.short.includes(arg[j]!)) return j === arg.length - 1;
  }
  return false;
}

/**
 * A rewriter of `vde COMMAND` arguments whose long options, given with one
 * dash or two as getopt_long_only takes them, are in `names`: each becomes
 * our `--NAME` (its value kept after the first `=`: `--slirp=tcpfwd=8080:80`).
 * As getopt does, a long name may be shortened to any prefix that leaves
 * one option (`-numport 4`, `-pid FILE`), spellings of one option counting
 * as one (`-so`: sock); an ambiguous prefix (`-mgm`: mgmt, mgmtmode or
 * mgmtgroup) gets two dashes, so the parser refuses it whole, naming its
 * nearest options, rather than as bundled letters. Single letters are
 * short options already; arguments after `--`, other commands' and
 * names not in `names` are left as typed, and so is an option's value
 * given in the next argument when `valued` says which options take one.
 */
export function getoptLongOnly(
  command: string,
  names: Readonly<Record<string, string>>,
  valued?: ValuedOptions,
): (args: string[]) => string[] {
  const known = Object.keys(names);
  /**
   * Ours for `name` typed in full or shortened; an ambiguous one as typed (two dashes, so the parser
   * names it whole, with its nearest options, not as bundled letters); undefined for an unknown one.
   */
  const ours = (name: string): string | undefined => {
    if (Object.hasOwn(names, name)) return names[name];
    const meant = new Set(known.filter((k) => k.startsWith(name)).map((k) => names[k]!));
    return meant.size === 1 ? [...meant][0] : meant.size > 1 ? name : undefined;
  };
  return (args) => {
    if (args[0] !== command) return args;
    const out = [...args];
    for (let i = 1; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === "--") break;
      const m = /^--?([a-z][a-z-]+)(=.*)?$/s.exec(arg);
      const target = m === null ? undefined : ours(m[1]!);
      if (target !== undefined) out[i] = `--${target}${m![2] ?? ""}`;
      if (valued !== undefined && takesNext(out[i]!, valued)) i++;
    }
    return out;
  };
}

/** Our `vde switch` options that take a value (src/cli/switch.ts; `--slirp`'s is optional, never the next). */
const VALUED: ValuedOptions = {
  short: "snDmgptMf",
  long: new Set([
    ...["sock", "ports", "priority", "macaddr", "hashsize", "debugclients", "mode", "dirmode", "group"],
    ...["pidfile", "tap", "cable", "key", "mgmt", "mgmtmode", "mgmtgroup", "rc", "pcap", "dataplane", "http"],
    ...["http-token", "logfile"],
  ]),
};

/** Rewrites `-long` and `--numports`-style switch options to our long forms. */
export const toLongOptions: (args: string[]) => string[] = getoptLongOnly("switch", LONG, VALUED);

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
