/**
 * Replies in words for a person at a terminal. The management protocol
 * answers a failure with a bare `1NNN <strerror>` line, which scripts and
 * unixterm rely on byte for byte; a person is better served by the
 * command's usage for a bad argument, and the nearest command names for a
 * typo. Only the terminal consoles (the program's own and `vde term`) use
 * this; the protocol text is built in reply_format.ts as before.
 */
import { argKind } from "./completer.ts";
import { parseInteger, parseSwitch, words } from "./args.ts";
import { type CommandRegistry, parseLine } from "./registry.ts";
import { MAX_SCRIPT_BYTES, othersScript, PIPE_WITHOUT_WRITER, scriptOwner } from "./session_commands.ts";
import { MAX_PORTS, MAX_VLAN, NO_VLAN, pastLastPort } from "../switch/engine.ts";
import { MAX_HASH_BUCKETS } from "./switch/commands_hash.ts";
import { SNOOPING_OFF } from "./switch/commands_mcast.ts";
import { MAX_NODES } from "../wirefilter/filter.ts";
import {
  BRIDGE_PRIORITY,
  BRIDGE_PRIORITY_STEP,
  FORWARD_DELAY,
  HELLO_TIME,
  inSteps,
  type Limits,
  MAX_AGE,
  PATH_COST,
  POINT_TO_POINT,
  PORT_PRIORITY,
  PORT_PRIORITY_STEP,
  stepsText,
  STP_PORTS,
  within,
} from "../switch/stp_limits.ts";
import { Errno, errorText, formatForPeople, type Reply } from "./reply_format.ts";
import { didYouMeanText, editDistance } from "../did_you_mean.ts";
import { bridgeWordHint } from "./bridge_words.ts";
import { netemForWirefilter } from "../wirefilter/netem_words.ts";

/** The commands a console knows, for usage lines and suggestions. */
export interface KnownCommands {
  /** Argument syntax of `path` ("" for none), undefined when there is no such command. */
  syntax(path: string): string | undefined;
  /** Every command's path. */
  paths(): readonly string[];
  /** The line that lists them, where it is not plain `help` (the lab shell's `sw1 help`). */
  helpLine?: string;
  /** A wirefilter's delay in ms now, where the console knows it: netem's `jitter N` is said around it. */
  delay?(): string | undefined;
}

/**
 * The commands `name` may have meant, nearest first (at most three): a
 * small edit away from the whole path or from its last word (`print` for
 * `port/print`), or a path that starts with it. Never `name` itself: a
 * command that exists and still failed as unknown (one `vde term` emulates,
 * `ports`, on a remote that cannot back it) is no typo.
 */
export function suggestCommands(name: string, paths: readonly string[]): string[] {
  const scored: [number, string][] = [];
  const limit = name.length <= 3 ? 1 : 2;
  for (const path of paths) {
    if (path === name) continue;
    const last = path.slice(path.lastIndexOf("/") + 1);
    let d = Math.min(editDistance(name, path, limit), editDistance(name, last, limit) + 0.5);
    if (name.length >= 2 && path.startsWith(name)) d = Math.min(d, 1.5);
    if (d <= limit + 0.5) scored.push([d, path]);
  }
  return scored.sort((x, y) => x[0] - y[0] || x[1].localeCompare(y[1])).slice(0, 3).map(([, p]) => p);
}

/**
 * What `1006 No such device or address` means for command `name`, from its
 * syntax: a port that is not there (a port exists once something plugs
 * in), a VLAN not created, or spanning tree off. Undefined when the
 * command takes neither.
 */
export function missingHint(name: string, syntax: string): string | undefined {
  if (name.startsWith("stp/") && name !== "stp/setprio" && name !== "stp/settimers") {
    return "spanning tree is off, fstp/setfstp 1 starts it; or no such port";
  }
  const tokens = syntax.split(/\s+/).filter((t) => t !== "");
  const port = tokens.some((_, i) => argKind(name, syntax, i) === "port");
  const vlan = tokens.some((t) => /^\[?VLAN\]?$/.test(t)) || (name.startsWith("vlan/") && syntax !== "");
  const ports = "a port is there once something plugs in, or after port/create N";
  if (port && vlan) {
    // Which word is which: a bridge's `bridge vlan add dev PORT vid VLAN` gives them the other way round.
    const shape = tokens.map((t, i) =>
      argKind(name, syntax, i) === "port" ? "PORT" : /^\[?(VLAN|N)\]?$/.test(t) ? "VLAN" : t
    );
    return `no such port or VLAN (${name} ${shape.join(" ")}): ${ports}; vlan/create N makes a VLAN`;
  }
  // As vde_switch's, port/print shows a port in use only: one port/create made, with nothing plugged in, is
  // 1006 too, where "after port/create N" sent the user who had just made it round in a circle.
  if (name === "port/print") {
    return "no port in use there: port/print shows a port while a client is plugged in; port/allprint N " +
      "shows one port/create made, and `ports all` lists them";
  }
  if (port) return `no such port: ${ports}; \`ports all\` lists them`;
  if (vlan) return "no such VLAN: vlan/create N makes one; vlan/allprint lists them";
  return undefined;
}

/**
 * What `1017 File exists` means for `name args`: the thing a create command
 * names is already there (`VLAN 10 exists`), and where to see it. Undefined
 * for any other command.
 */
export function existsHint(name: string, args: string): string | undefined {
  const menu = { "vlan/create": "VLAN", "port/create": "port" }[name];
  const n = args.trim().split(/\s+/)[0] ?? "";
  if (menu === undefined || !/^\d+$/.test(n)) return undefined;
  return `${menu} ${n} exists; ${name.slice(0, name.indexOf("/"))}/allprint ${n} shows it`;
}

/** The range of a number the usage line does not give: [lowest, highest, what it is]. */
const RANGES: Record<string, readonly [number, number, string]> = {
  "vlan/create": [1, MAX_VLAN, "a VLAN"],
  "vlan/remove": [1, MAX_VLAN, "a VLAN"],
  "port/setnumports": [1, MAX_PORTS, "the number of ports"],
  "hash/setsize": [1, MAX_HASH_BUCKETS, "the hash size"],
  "markov-numnodes": [1, MAX_NODES, "the number of Markov nodes"],
};

/** Numbers taken in steps: what each is, its range and its step. */
const STEPPED: Record<string, readonly [string, Limits, number]> = {
  "stp/setprio": ["the bridge priority", BRIDGE_PRIORITY, BRIDGE_PRIORITY_STEP],
};

/** The spanning tree port commands' second number: is it in range, and the range in words. */
const STP_PORT_VALUE: Record<string, readonly [(v: number) => boolean, (v: number) => string]> = {
  "stp/setportcost": [(v) => within(v, PATH_COST), (v) => `a path cost is ${PATH_COST.join("-")}, not ${v}`],
  "stp/setportprio": [
    (v) => inSteps(v, PORT_PRIORITY, PORT_PRIORITY_STEP),
    (v) => `a port priority is ${stepsText(v, PORT_PRIORITY, PORT_PRIORITY_STEP)}`,
  ],
  "stp/setedge": [(v) => v === 0 || v === 1, (v) => `edge is 0 or 1, not ${v}`],
  "stp/setguard": [(v) => v === 0 || v === 1, (v) => `BPDU guard is 0 or 1, not ${v}`],
  "stp/setrootblock": [(v) => v === 0 || v === 1, (v) => `root guard is 0 or 1, not ${v}`],
};

/**
 * The spanning tree timers' ranges in seconds; timers that are in range in
 * centiseconds, as `ip link ... type bridge hello_time 200` counts them,
 * are said in seconds too, the command a Linux bridge admin meant.
 */
function timersHint(hello: number, maxAge: number, delay: number): string {
  const ranges = `hello time is ${HELLO_TIME.join("-")}, max age ${MAX_AGE.join("-")}, forward delay ${
    FORWARD_DELAY.join("-")
  } (seconds), not ${hello} ${maxAge} ${delay}`;
  const [h, m, d] = [hello / 100, maxAge / 100, delay / 100];
  if (!within(h, HELLO_TIME) || !within(m, MAX_AGE) || !within(d, FORWARD_DELAY)) return ranges;
  return `${ranges}; ip link counts centiseconds: stp/settimers ${h} ${m} ${d} is the same here`;
}

/** The values `port/setvlan` takes for its VLAN, in words. */
const UNTAGGED =
  `a port's untagged VLAN is 0, one vlan/create made (1-${MAX_VLAN}), or ${NO_VLAN} for none ` +
  "(tagged frames only)";

/**
 * What 1022 means for well-formed numbers given to the VLAN membership and
 * spanning tree commands, where the usage line says only their order: the
 * one out of its range (a spanning tree port is 1-4095), else a port past
 * the last. Undefined for malformed arguments (the usage says it).
 */
function rangeOfPair(name: string, args: string): string | undefined {
  const ws = words(args);
  if (name === "stp/setp2p") return pointToPointHint(ws);
  const ns = ws.map(parseInteger);
  if (ns.some((n) => n === undefined)) return undefined;
  const [a, b, c] = ns as number[];
  if (name === "stp/settimers") return ws.length === 3 ? timersHint(a!, b!, c!) : undefined;
  if (ws.length !== 2) return undefined;
  if (name === "port/setvlan") return b! < 0 || b! > NO_VLAN ? `${UNTAGGED}, not ${b}` : undefined;
  if (name === "vlan/addport" || name === "vlan/delport") {
    if (a! < 0 || a! > MAX_VLAN) return `a VLAN is 0-${MAX_VLAN}, not ${a}`;
    return b! >= 0 ? pastLastPort(b!) : undefined;
  }
  const value = STP_PORT_VALUE[name];
  if (value === undefined || c !== undefined) return undefined;
  if (!value[0](b!)) return value[1](b!);
  if (!within(a!, STP_PORTS)) return `spanning tree runs on ports ${STP_PORTS.join("-")}, not ${a}`;
  return pastLastPort(a!);
}

/** `stp/setp2p PORT yes/no/auto`: the value in words, else the port as the other port commands say it. */
function pointToPointHint([p, v, ...rest]: string[]): string | undefined {
  const port = parseInteger(p ?? "");
  if (port === undefined || v === undefined || rest.length > 0) return undefined;
  if (!POINT_TO_POINT.some((m) => m === v.toLowerCase())) {
    return `point-to-point is yes, no or auto, not ${v}`;
  }
  if (!within(port, STP_PORTS)) return `spanning tree runs on ports ${STP_PORTS.join("-")}, not ${port}`;
  return pastLastPort(port);
}

/**
 * The wirefilter commands that name a Markov node first, by their syntax
 * without brackets (`vde term` learns `showedges n` from the help, the
 * console has `[n]`; a switch's `showinfo` takes nothing, so the name
 * alone cannot say).
 */
const NODE_FIRST: Record<string, string> = {
  "markov-setnode": "n",
  "markov-name": "n,name",
  "showinfo": "n",
  "showedges": "n",
  "setedge": "n1,n2,w",
};

/**
 * What wirefilter's 1022 means for a node command given well-formed node
 * numbers: a node past the last (the filter has one until markov-numnodes
 * says more; a user reading "usage: markov-setnode n" retypes the same
 * line), or an edge from a node to itself.
 */
function markovHint(name: string, args: string, syntax: string): string | undefined {
  if (NODE_FIRST[name] !== syntax.replace(/[[\]]/g, "")) return undefined;
  const parts = args.split(",").map((a) => a.trim());
  const nodes = name === "setedge" ? parts.slice(0, 2) : parts.slice(0, 1);
  if (name === "setedge" && (parts.length !== 3 || !Number.isFinite(Number(parts[2])) || parts[2] === "")) {
    return undefined;
  }
  if (name === "markov-name" && (parts.length < 2 || parts[1] === "")) return undefined;
  const ns = nodes.map((a) => parseInteger(a));
  if (ns.some((n) => n === undefined || n < 0)) return undefined;
  if (name === "setedge" && ns[0] === ns[1]) return "an edge joins two different nodes";
  const highest = Math.max(...ns.map((n) => n!));
  return `no node ${highest}? nodes are 0 to markov-numnodes - 1 (showcurrent names the last); ` +
    "markov-numnodes N makes more";
}

/**
 * What `1022 Invalid argument` means for well-formed `mcast/querier` and
 * `mcast/router` arguments: snooping is off (the code stays the one these
 * answer then, as vde_switch answers a command its state refuses), or for
 * `mcast/router` the port is past the last one; for `debug/add` and
 * `debug/del`, that no category has that name; for a number out of its
 * range, the range (`vlan/create 4095`: 1-4093). Undefined for malformed
 * arguments (the usage says it) and for any other command.
 */
export function invalidHint(name: string, args: string): string | undefined {
  if ((name === "debug/add" || name === "debug/del") && args.trim() !== "") {
    return `no debug category ${args.trim()}: debug/list lists them`;
  }
  const range = RANGES[name], stepped = STEPPED[name];
  const n = parseInteger(words(args)[0]);
  if (range !== undefined && n !== undefined && (n < range[0] || n > range[1])) {
    return `${range[2]} is ${range[0]}-${range[1]}, not ${n}`;
  }
  if (stepped !== undefined && n !== undefined && !inSteps(n, stepped[1], stepped[2])) {
    return `${stepped[0]} is ${stepsText(n, stepped[1], stepped[2])}`;
  }
  const past = portPastLast(name, args) ?? rangeOfPair(name, args);
  if (past !== undefined) return past;
  // Our switch says these in words; a switch of an older vde answers the bare code.
  const off = SNOOPING_OFF;
  if (name === "mcast/querier") return parseSwitch(args) === undefined ? undefined : off;
  if (name !== "mcast/router") return undefined;
  // Read as the command reads them, so a hint never contradicts its usage.
  const [p, v] = words(args);
  const port = parseInteger(p);
  if (port === undefined || port < 0 || parseSwitch(v) === undefined) return undefined;
  return `${off}; or ${pastLastPort(port)}`;
}

/**
 * The port commands whose first argument is a port: the port alone, or the
 * check of the one argument after it (whose bad value is their other 1022).
 * Not port/setuser and port/setgroup: a user or group that does not exist
 * gives 1022 too, and nothing here can tell which.
 */
const PORT_FIRST: Record<string, "port alone" | ((second: string) => boolean)> = {
  "port/setvlan": (vlan) => {
    const v = parseInteger(vlan);
    return v !== undefined && v >= 0 && v <= NO_VLAN;
  },
  "port/allocatable": (flag) => parseSwitch(flag) !== undefined,
  "port/epclose": (id) => parseInteger(id) !== undefined,
  "port/create": "port alone",
  "port/remove": "port alone",
  "port/resetcounter": "port alone",
  "port/print": "port alone",
  "port/allprint": "port alone",
};

/**
 * For a port command given a port number and a valid rest, where 1022 can
 * then only mean a port past the last one: that, in words.
 */
function portPastLast(name: string, args: string): string | undefined {
  const rest = PORT_FIRST[name];
  const [first, second, ...more] = words(args);
  const port = parseInteger(first);
  if (rest === undefined || port === undefined || port < 0 || more.length > 0) return undefined;
  const valid = rest === "port alone" ? second === undefined : second !== undefined && rest(second);
  return valid ? pastLastPort(port) : undefined;
}

/**
 * What `1098 Address already in use` means for `name args`: the thing to
 * remove still holds something (a VLAN its ports, a port its clients, the
 * ports past a new count), or `vlan/delport` named a port's untagged VLAN,
 * which only `port/setvlan` changes. Undefined for any other command, and
 * where the arguments are not the numbers these take.
 */
export function inUseHint(name: string, args: string): string | undefined {
  const [a, b] = words(args).map(parseInteger);
  if (a === undefined) return undefined;
  switch (name) {
    case "vlan/remove":
      return `VLAN ${a} still has ports, which vlan/allprint ${a} lists: vlan/delport ${a} PORT takes a ` +
        `trunk out, port/setvlan PORT 0 an access port`;
    case "vlan/delport":
      return b === undefined
        ? undefined
        : `VLAN ${a} is port ${b}'s untagged VLAN, which vlan/delport leaves ` +
          `alone: port/setvlan ${b} 0 or another VLAN changes it`;
    case "port/remove":
      return `port ${a} has clients, which port/print ${a} lists: port/epclose ${a} ID closes one`;
    case "port/setnumports":
      return `ports at ${a} or above are still there: \`ports all\` lists them, port/remove frees one`;
  }
  return undefined;
}

/**
 * The words after a failure's code that say what is missing (1006),
 * already there (1017), off (1022) or still in use (1098), from the command's syntax and
 * arguments; undefined where the code alone says it. Shared by the
 * terminals and `vde term -c`.
 */
export function codeHint(line: string, code: number, syntax: string): string | undefined {
  const { name, args } = parseLine(line);
  if (code === Errno.ENXIO && name === "mirror/del") {
    return `port ${args.trim()} is no mirror output: mirror/print lists them`;
  }
  if (code === Errno.ENXIO && name === "port/setvlan") {
    // 4094 passes the command's range check (0-4095) but no VLAN can have it.
    const vlan = parseInteger(words(args)[1]);
    if (vlan !== undefined && vlan > MAX_VLAN && vlan < NO_VLAN) return `${UNTAGGED}, not ${vlan}`;
  }
  if (code === Errno.ENXIO) return missingHint(name, syntax);
  if (code === Errno.EEXIST) return existsHint(name, args);
  if (code === Errno.EINVAL) return markovHint(name, args, syntax) ?? invalidHint(name, args);
  if (code === Errno.EADDRINUSE) return inUseHint(name, args);
  // hash/find's "No such device" and an argument-less load's "No such file" say nothing of what to do.
  if (code === Errno.ENODEV && name === "hash/find") {
    return "that MAC is not learnt (in that VLAN): `macs` lists the table";
  }
  // Refused where the console is part of a larger whole, a lab's switch above all.
  if (code === Errno.EOPNOTSUPP && name === "shutdown") {
    return "this one stops with what runs it: a lab's switch with its lab (`vde down LAB`, or `down` in its shell)";
  }
  if (code === Errno.ENOENT && name === "load" && args.trim() === "") return usageOf(name, syntax);
  if (code === Errno.ENOENT && name === "load" && !args.trim().startsWith("/")) {
    return "the switch opens a relative path in the directory it runs in: give the full path";
  }
  if (code === Errno.E2BIG && name === "load") {
    return `a script is at most ${MAX_SCRIPT_BYTES >> 20} MiB: is it the file you meant?`;
  }
  if (code === Errno.ETIMEDOUT && name === "load") return PIPE_WITHOUT_WRITER;
  if (code === Errno.EPERM && name === "load" && scriptOwner(args.trim()) !== undefined) {
    return "that file, or the symlink naming it, is another user's: its lines would run as ours";
  }
  // The step on its way, or the file's mode, and what to change: the refusal alone gave no way forward.
  if (code === Errno.EPERM && name === "load") return othersScript(args.trim());
  return undefined;
}

/** What a registry knows, for usage lines and suggestions. */
export function knownCommandsOf(registry: CommandRegistry): KnownCommands {
  return { syntax: (p) => registry.lookup(p)?.syntax, paths: () => registry.commandPaths() };
}

/**
 * The words a failure gets after its code on one line, where the two-line
 * explanation of a terminal does not fit (`vde term -c`, a startup script's
 * log): the nearest commands for an unknown one; what is missing, there
 * already or still in use; else the usage for a bad argument. Undefined
 * where the code alone says it.
 */
export function failureHint(line: string, code: number, known: KnownCommands): string | undefined {
  const { name } = parseLine(line);
  const syntax = known.syntax(name);
  if (syntax === undefined) {
    if (code !== Errno.ENOSYS) return undefined;
    // A bridge's or Open vSwitch's word, then a near name, then where the names are, as a terminal says it.
    return unknownCommandHint(line, known) ||
      `no such command; \`${known.helpLine ?? "help"}\` lists the commands`;
  }
  return codeHint(line, code, syntax) ?? (code === Errno.EINVAL ? usageOf(name, syntax) : undefined);
}

/**
 * What an unknown command may have meant: ours for a Linux bridge's or Open
 * vSwitch's word (nothing near it by spelling: `fdb` is `macs`), or
 * wirefilter's for tc netem's, else the nearest names; "" when none.
 */
function unknownCommandHint(line: string, known: KnownCommands): string {
  const { name } = parseLine(line);
  return menuHint(name, known) ?? slirpWordHint(name, known) ?? bridgeWordHint(line, known.paths()) ??
    netemHint(line, known) ?? switchWordHint(name, known) ??
    didYouMeanText(suggestCommands(name, known.paths()));
}

/**
 * `slirp/print` or `slirp/forward ...` on a switch with no slirp of its own:
 * README names them for every slirp, and a user of `vde slirp` beside the
 * switch types them at its console, where a bare "no such command" read as
 * a broken slirp. Said with where that slirp's counters and forwards are.
 */
function slirpWordHint(name: string, known: KnownCommands): string | undefined {
  if (name !== "slirp" && !name.startsWith("slirp/")) return undefined;
  const paths = known.paths();
  if (!paths.includes("port/print") || paths.some((p) => p.startsWith("slirp/"))) return undefined;
  return "this switch runs no slirp of its own (`vde switch --slirp` has slirp/print and slirp/forward); " +
    "a `vde slirp` plugged into it has no console: its --http PORT serves its counters at /metrics, " +
    "its --forward options set its forwards";
}

/** A switch's table or mode (`ports`, `macs`, `hub`) asked of a wirefilter, which has neither ports nor MACs. */
const SWITCH_WORDS = new Set(["ports", "macs", "hub"]);

/**
 * `ports` on a wirefilter's console (`vde term` emulates it on a switch's,
 * from port/print): said with what the wirefilter has, where a bare 1038
 * left the user to guess whether the console was broken.
 */
function switchWordHint(name: string, known: KnownCommands): string | undefined {
  if (!SWITCH_WORDS.has(name) || !known.paths().includes("bandwidth")) return undefined;
  return "a wirefilter's console has no ports or MACs: `showinfo` shows its impairments, `counters` what " +
    "each did, loss/delay/dup/bandwidth/... set them (`help` lists them)";
}

/**
 * tc netem's word (`rate 1mbit`, `duplicate 1%`) on a wirefilter's console,
 * the one that has `bandwidth`: said with wirefilter's command and value.
 */
function netemHint(line: string, known: KnownCommands): string | undefined {
  if (!known.paths().includes("bandwidth")) return undefined;
  const { name, args } = parseLine(line);
  return netemForWirefilter(name, words(args)[0], "command", known.delay?.());
}

/**
 * A menu's name typed alone (`mcast`): vde_switch answers 1038 and so do
 * we on the wire, but a person is told the menu's commands, as `help MENU`
 * lists them, rather than names near it by spelling.
 */
function menuHint(name: string, known: KnownCommands): string | undefined {
  const inside = known.paths().filter((p) => p.startsWith(`${name}/`));
  if (inside.length === 0) return undefined;
  return `${name} is a menu: ${inside.join(", ")} (\`help ${name}\` shows their arguments)`;
}

/** What a failed line means, in words: one or two lines, each ending in a newline. */
export function explainFailure(line: string, code: number, known: KnownCommands): string {
  const { name } = parseLine(line);
  const syntax = known.syntax(name);
  if (syntax === undefined && code === Errno.ENOSYS) {
    // A menu typed alone is no missing command: its line lists what is in it, without the "no such" prefix.
    const menu = menuHint(name, known);
    if (menu !== undefined) return `${menu}\n`;
    const hint = unknownCommandHint(line, known) || `\`${known.helpLine ?? "help"}\` lists the commands`;
    return `${name}: no such command; ${hint}\n`;
  }
  const words = `${name}: ${errorText(code)} (${1000 + code})\n`;
  const hint = syntax === undefined ? undefined : codeHint(line, code, syntax);
  if (hint !== undefined) return `${words}${hint}\n`;
  if (syntax === undefined || (code !== Errno.EINVAL && code !== Errno.E2BIG)) return words;
  return `${words}${usageOf(name, syntax)}\n`;
}

/** A command's usage line, as a failure with no more specific words shows it. */
export function usageOf(name: string, syntax: string): string {
  return `usage: ${name}${syntax === "" ? " (takes no arguments)" : ` ${syntax}`}`;
}

/**
 * Whether a failed reply says why in its own words (a lab command's, a
 * remote lab's): text before any listing. Listing rows are no reason.
 */
export function saysWhy(reply: Reply): boolean {
  return reply.code !== 0 && (reply.raw ?? "").trim() !== "";
}

/**
 * `help WORD` that matched nothing is, as in vde_switch, a bare header and
 * success; at a terminal a line says so, with the nearest commands.
 */
function emptyHelpNote(line: string, reply: Reply, known: KnownCommands): string {
  const { name, args } = parseLine(line);
  const word = args.trim();
  if ((name !== "help" && name !== "?") || word === "" || (reply.lines ?? []).length > 2) return "";
  const hint = unknownCommandHint(word, known);
  return `no command starts with ${word}${hint && `; ${hint}`}\n`;
}

/**
 * A reply as a person at a terminal reads it: listings as they are,
 * failures in words. A failure that says why is shown as it is: its own
 * words beat a guess from the code. Any other failure is explained after
 * the rows it printed, so it never passes for a success.
 */
export function formatExplained(line: string, reply: Reply, known: KnownCommands): string {
  if (reply.code === 0 || reply.endSession) return formatForPeople(reply) + emptyHelpNote(line, reply, known);
  if (saysWhy(reply)) return formatForPeople({ ...reply, code: 0 });
  return formatForPeople({ ...reply, raw: undefined, code: 0 }) + explainFailure(line, reply.code, known);
}
