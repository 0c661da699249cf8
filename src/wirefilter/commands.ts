/**
 * wirefilter's console commands (spec 7.4), served by the console on
 * stdin, the `--mgmt` socket and startup scripts through the shared
 * CommandRegistry: `help`, `showinfo [n]`, `load`, the value commands
 * (`loss`, `lostburst`, `delay`, `dup`, `bandwidth`/`band`, `speed`,
 * `chanbufsize`/`capacity`, `noise`, `mtu`), `fifo`, the Markov commands,
 * `logout`, `shutdown`, and our `counters`.
 *
 * Listings keep wirefilter's layout, so `showinfo` reads as it does there.
 * Where we differ: a value with no number in it, out of its range (`loss
 * 150`, limits.ts), or a bad integer, is answered `1022 Invalid argument`
 * (with the range in words) instead of a silent success; `logout`
 * answers `9999 END OF SESSION` as vde_switch does (wirefilter prints
 * `1-01 Unknown error -1`); commands match by whole word.
 */
import { addSessionEndCommands, othersLoad, readScript } from "../console/session_commands.ts";
import { CommandRegistry, fail, failure, listing, ok, type Session } from "../console/registry.ts";
import { Errno, type Reply, resultLine } from "../console/reply_format.ts";
import type { DirectionCounters, ParamName, WireFilter } from "./filter.ts";
import { formatG, formatWireValue, isValueError, LR, readNumber, RL } from "./value.ts";
import { parseSetting } from "./limits.ts";
import { netemDelayForWirefilter } from "./netem_words.ts";

/** First line of the banner a management client sees. */
export const WIREFILTER_BANNER = "VDE wirefilter V.2.3.2";
/** The prompt of wirefilter's management socket. */
export const WIREFILTER_PROMPT = "VDEwf$ ";
/** What a management client reads on connect (wirefilter's banner names its authors; ours names itself). */
export const WIREFILTER_GREETING =
  `\n${WIREFILTER_BANNER}\nvde for Deno - speaks wirefilter 2.3.2's console protocol\n\n${WIREFILTER_PROMPT}`;

/** Deepest `load` inside `load`. */
const MAX_LOAD_DEPTH = 8;

/** Shared state behind the commands of one filter. */
export class WirefilterContext {
  readonly filter: WireFilter;
  /** False for a one-way stream filter (only L->R is shown). */
  readonly bidirectional: boolean;
  /** Sessions that asked for Markov transitions (`markov-debug N`, N > 0). */
  readonly #watchers = new Set<Session>();
  readonly #shutdown: ((reason: string) => void) | undefined;
  #stopping = false;
  /** Lets a management server forget a session that ended (implements SessionHost). */
  readonly debug = { detach: (session: Session) => void this.#watchers.delete(session) };

  constructor(filter: WireFilter, options: { bidirectional: boolean; shutdown?: (reason: string) => void }) {
    this.filter = filter;
    this.bidirectional = options.bidirectional;
    this.#shutdown = options.shutdown;
    filter.onMarkov = (from, to) => {
      if (this.#watchers.size === 0) return;
      const line = `${3800 + to} Node ${from} "${filter.nodeName(from)}" -> ${to} "${filter.nodeName(to)}"\n`;
      for (const s of this.#watchers) s.notify(line);
    };
  }

  /** Turns Markov transition lines on (level > 0) or off for `session`. */
  watchMarkov(session: Session, level: number): void {
    if (level > 0) this.#watchers.add(session);
    else this.#watchers.delete(session);
  }

  /**
   * The delay in ms both ways now, for the hint on netem's `jitter N`
   * (`delay 100+N`); undefined when there is none or the two ways differ,
   * where one number would be wrong for one of them.
   */
  currentDelay(): string | undefined {
    const lr = this.filter.get("delay", LR).value;
    if (lr <= 0 || (this.bidirectional && this.filter.get("delay", RL).value !== lr)) return undefined;
    return formatG(lr);
  }

  /** Whether `shutdown` can stop anything. */
  get canShutdown(): boolean {
    return this.#shutdown !== undefined;
  }

  /** Stops the program (once). */
  shutdown(reason: string): void {
    if (this.#stopping || this.#shutdown === undefined) return;
    this.#stopping = true;
    this.#shutdown(reason);
  }
}

/** wirefilter's `help` rows, in its order: [name, help, with syntax column]. */
const HELP_ROWS: readonly (readonly [string, string, boolean])[] = [
  ["help", "print a summary of mgmt commands", false],
  ["load", "load a configuration file", false],
  ["showinfo", "show status and parameter values", false],
  ["loss", "set loss percentage", false],
  ["lostburst", "mean length of lost packet bursts", false],
  ["delay", "set delay ms", false],
  ["dup", "set dup packet percentage", false],
  ["bandwidth", "set channel bandwidth bytes/sec", false],
  ["speed", "set interface speed bytes/sec", false],
  ["noise", "set noise factor bits/Mbyte", false],
  ["mtu", "set channel MTU (bytes)", false],
  ["chanbufsize", "set channel buffer size (bytes)", false],
  ["fifo", "set channel fifoness", false],
  ["shutdown", "shut the channel down", false],
  ["logout", "log out from this mgmt session", false],
  ["markov-numnodes n", "markov mode: set number of states", true],
  ["markov-setnode n", "markov mode: set current state", true],
  ["markov-name n,name", "markov mode: set state's name", true],
  ["markov-time ms", "markov mode: transition period", true],
  ["setedge n1,n2,w", "markov mode: set edge weight", true],
  ["showinfo n", "markov mode: show parameter values", true],
  ["showedges n", "markov mode: show edge weights", true],
  ["showcurrent", "markov mode: show current state", true],
  ["markov-debug n", "markov mode: set debug level", true],
];

/** Commands that `help` does not list separately (wirefilter's rows, and the aliases `band`, `capacity`). */
const LISTED = new Set([...HELP_ROWS.map(([n]) => n.split(" ")[0]!), "band", "capacity"]);

/** The value commands and the parameter each sets. */
const VALUE_COMMANDS: readonly (readonly [string, ParamName, string])[] = [
  ["loss", "loss", "set loss percentage"],
  ["lostburst", "lostburst", "mean length of lost packet bursts"],
  ["delay", "delay", "set delay ms"],
  ["dup", "dup", "set dup packet percentage"],
  ["bandwidth", "band", "set channel bandwidth bytes/sec"],
  ["band", "band", "set channel bandwidth bytes/sec"],
  ["speed", "speed", "set interface speed bytes/sec"],
  ["noise", "noise", "set noise factor bits/Mbyte"],
  ["mtu", "mtu", "set channel MTU (bytes)"],
  ["chanbufsize", "capacity", "set channel buffer size (bytes)"],
  ["capacity", "capacity", "set channel buffer size (bytes)"],
];

/** The syntax of a value, for completion and `vde term`. */
const VALUE_SYNTAX = "[LR|RL]VALUE[+DELTA][K|M|G][U|N][[n]]";

/** netem's `delay 100ms 20ms` (its jitter as a second word) said as `delay 100+20`, else undefined. */
function netemDelay(param: ParamName, args: string): string | undefined {
  const ws = args.trim().split(/\s+/);
  return param === "delay" && ws.length === 2
    ? netemDelayForWirefilter(ws[0]!, ws[1]!, "command")
    : undefined;
}

/** A Markov node name must fit in a listing line: no control characters or quotes, 64 at most. */
function printableName(name: string): boolean {
  if (name.length > 64) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x22) return false;
  }
  return true;
}

/** Reads a whole integer argument; null when it is not one. */
export function parseInteger(text: string): number | null {
  const t = text.trim();
  if (!/^[+-]?\d{1,9}$/.test(t)) return null;
  return Number(t);
}

/** The `showinfo` listing for `node` (wirefilter's layout). */
export function showInfo(ctx: WirefilterContext, node: number): string[] {
  const f = ctx.filter;
  const lines = [`WireFilter: ${ctx.bidirectional ? "bidirectional" : "monodirectional"}`];
  if (f.nodes > 1) {
    lines.push(
      `Node ${node} "${f.nodeName(node)}" (0,..,${f.nodes - 1}) Markov-time ${formatG(f.markovTime)}`,
    );
  }
  const row = (label: string, param: ParamName) => {
    const lr = formatWireValue(f.get(param, LR, node));
    if (!ctx.bidirectional) return `${label} ${lr}`;
    return `${label} L->R ${lr}   R->L ${formatWireValue(f.get(param, RL, node))}`;
  };
  lines.push(
    row("Loss  ", "loss"),
    row("Lburst", "lostburst"),
    row("Delay ", "delay"),
    row("Dup   ", "dup"),
    row("Bandw ", "band"),
    row("Speed ", "speed"),
    row("Noise ", "noise"),
  );
  const mtuLR = formatG(f.mtu(LR, node));
  lines.push(
    ctx.bidirectional ? `MTU    L->R ${mtuLR}     R->L ${formatG(f.mtu(RL, node))}   ` : `MTU    ${mtuLR}`,
  );
  lines.push(row("Cap.  ", "capacity"));
  const qLR = f.queuedBytes(LR);
  lines.push(
    ctx.bidirectional
      ? `Current Delay Queue size:   L->R ${qLR}      R->L ${f.queuedBytes(RL)}   `
      : `Current Delay Queue size:   ${qLR}`,
  );
  lines.push(`Fifoness ${f.fifo ? "TRUE" : "FALSE"}`);
  lines.push(`Waiting packets in delay queues ${f.queuedFrames(LR) + f.queuedFrames(RL)}`);
  return lines;
}

/** One `formatWireValue` word: formatG's number (`0.5`, `1e+06`), `+` its spread, and U or N. */
const WIRE_VALUE = /^(\d+(?:\.\d+)?(?:e[-+]\d+)?)\+\d+(?:\.\d+)?(?:e[-+]\d+)?[UN]$/;

/**
 * The delay in ms both ways in a `showinfo` listing (`Delay  L->R 100+0U   R->L 100+0U`), as
 * `currentDelay` says it: for `vde term`, which knows a filter only by its console. Undefined when there is
 * none, the ways differ, or no such row.
 */
export function delayOfShowinfo(lines: readonly string[]): string | undefined {
  const row = lines.find((l) => l.startsWith("Delay "));
  // Word by word, each a whole `formatWireValue` (`100+0U`, `1e+06+5N`): the console at the far end is any
  // socket the user named, and a pattern free to split a long run of `+` anywhere costs the cube of its length.
  const values = (row ?? "").split(/\s+/).map((w) => WIRE_VALUE.exec(w)?.[1]).filter((v) => v !== undefined);
  if (values.length === 0 || values.some((v) => v !== values[0]) || !(Number(values[0]) > 0)) {
    return undefined;
  }
  return values[0];
}

const COUNTER_ROWS: readonly (readonly [string, keyof DirectionCounters])[] = [
  ["Frames in", "framesIn"],
  ["Bytes in", "bytesIn"],
  ["Frames out", "framesOut"],
  ["Bytes out", "bytesOut"],
  ["MTU drops", "mtuDrops"],
  ["Loss drops", "lossDrops"],
  ["Burst drops", "burstDrops"],
  ["Dup copies", "dupCopies"],
  ["Capacity drops", "capacityDrops"],
  ["Overflow drops", "overflowDrops"],
  ["Input drops", "inputDrops"],
  ["Rate drops", "rateDrops"],
  ["Delayed", "delayed"],
  ["Reordered", "reordered"],
  ["Noisy frames", "noiseFrames"],
  ["Noise bits", "noiseBits"],
];

/** The `counters` listing: what each impairment did, per direction, and the seed. */
export function showCounters(ctx: WirefilterContext): string[] {
  const [lr, rl] = ctx.filter.counters;
  const lines = COUNTER_ROWS.map(([label, key]) =>
    ctx.bidirectional
      ? `${label.padEnd(15)} L->R ${String(lr[key]).padEnd(12)} R->L ${rl[key]}`
      : `${label.padEnd(15)} ${lr[key]}`
  );
  lines.push(`Seed ${ctx.filter.seed}`);
  return lines;
}

/**
 * Builds the registry of wirefilter's commands for `ctx`.
 *
 * @example
 * ```ts ignore
 * const ctx = new WirefilterContext(new WireFilter(), { bidirectional: true });
 * const commands = wirefilterCommands(ctx);
 * ```
 */
export function wirefilterCommands(ctx: WirefilterContext): CommandRegistry {
  const f = ctx.filter;
  const registry = new CommandRegistry();
  registry.add({
    path: "help",
    syntax: "",
    help: "print a summary of mgmt commands",
    listing: true,
    run: (_args, session) => {
      const lines = ["COMMAND      HELP", "------------ ------------"];
      for (const [name, help, wide] of HELP_ROWS) lines.push(`${name.padEnd(wide ? 18 : 12)} ${help}`);
      for (const e of session.commands.entries()) {
        if (e.menu || LISTED.has(e.path)) continue;
        const name = e.syntax === "" ? e.path : `${e.path} ${e.syntax}`;
        lines.push(`${name.padEnd(name.length > 12 ? 18 : 12)} ${e.help}`);
      }
      return listing(lines);
    },
  });
  registry.add({
    path: "load",
    syntax: "path",
    help: "load a configuration file",
    listing: true,
    run: (args, session) => loadScript(args, session),
  });
  registry.add({
    path: "showinfo",
    syntax: "[n]",
    help: "show status and parameter values",
    listing: true,
    run: (args) => {
      let node = f.currentNode;
      const n = args === "" ? null : readNumber(args);
      if (n !== null) {
        if (!Number.isInteger(n.value) || n.value < 0 || n.value >= f.nodes) return listing([], Errno.EINVAL);
        node = n.value;
      }
      return listing(showInfo(ctx, node));
    },
  });
  for (const [path, param, help] of VALUE_COMMANDS) {
    registry.add({
      path,
      syntax: VALUE_SYNTAX,
      help,
      listing: false,
      run: (args) => {
        const v = parseSetting(param, args);
        if (isValueError(v)) return failure(netemDelay(param, args) ?? v.error, Errno.EINVAL);
        return f.set(param, v) === "ok" ? ok() : fail(Errno.EINVAL);
      },
    });
  }
  registry.add({
    path: "fifo",
    syntax: "0/1",
    help: "set channel fifoness",
    listing: false,
    run: (args) => {
      const n = parseInteger(args);
      if (n === null) return fail(Errno.EINVAL);
      f.fifo = n !== 0;
      return ok();
    },
  });
  addSessionEndCommands(registry, ctx, {
    logout: "log out from this mgmt session",
    shutdown: "shut the channel down",
  });
  registry.add({
    path: "markov-numnodes",
    syntax: "n",
    help: "markov mode: set number of states",
    listing: false,
    run: (args) => {
      const n = parseInteger(args);
      return n !== null && f.setNodes(n) ? ok() : fail(Errno.EINVAL);
    },
  });
  registry.add({
    path: "markov-setnode",
    syntax: "n",
    help: "markov mode: set current state",
    listing: false,
    run: (args) => {
      const n = parseInteger(args);
      return n !== null && f.setCurrentNode(n) ? ok() : fail(Errno.EINVAL);
    },
  });
  registry.add({
    path: "markov-name",
    syntax: "n,name",
    help: "markov mode: set state's name",
    listing: false,
    run: (args) => {
      const comma = args.indexOf(",");
      if (comma < 0) return fail(Errno.EINVAL);
      const n = parseInteger(args.slice(0, comma));
      const name = args.slice(comma + 1).trim();
      if (n === null || !printableName(name)) return fail(Errno.EINVAL);
      return f.setNodeName(n, name) ? ok() : fail(Errno.EINVAL);
    },
  });
  registry.add({
    path: "markov-time",
    syntax: "ms",
    help: "markov mode: transition period",
    listing: false,
    run: (args) => {
      const n = readNumber(args.trim());
      return n !== null && f.setMarkovTime(n.value) ? ok() : fail(Errno.EINVAL);
    },
  });
  registry.add({
    path: "setedge",
    syntax: "n1,n2,w",
    help: "markov mode: set edge weight",
    listing: false,
    run: (args) => {
      const parts = args.split(",");
      if (parts.length !== 3) return fail(Errno.EINVAL);
      const from = parseInteger(parts[0]!);
      const to = parseInteger(parts[1]!);
      const w = readNumber(parts[2]!.trim());
      if (from === null || to === null || w === null || w.length !== parts[2]!.trim().length) {
        return fail(Errno.EINVAL);
      }
      return f.setEdge(from, to, w.value) ? ok() : fail(Errno.EINVAL);
    },
  });
  registry.add({
    path: "showedges",
    syntax: "[n]",
    help: "markov mode: show edge weights",
    listing: true,
    run: (args) => {
      let node = f.currentNode;
      if (args !== "") {
        const n = parseInteger(args);
        if (n === null || n < 0 || n >= f.nodes) return listing([], Errno.EINVAL);
        node = n;
      }
      const lines: string[] = [];
      for (let to = 0; to < f.nodes; to++) {
        const w = f.edgeWeight(node, to);
        if (w === 0) continue;
        lines.push(`Edge ${node} ->${to}  "${f.nodeName(node)}"->"${f.nodeName(to)}" weigth ${formatG(w)}`);
      }
      return listing(lines);
    },
  });
  registry.add({
    path: "showcurrent",
    syntax: "",
    help: "markov mode: show current state",
    listing: true,
    run: () => {
      const n = f.currentNode;
      return listing([`Current Markov Node ${n} "${f.nodeName(n)}" (0,..,${f.nodes - 1})`]);
    },
  });
  registry.add({
    path: "markov-debug",
    syntax: "n",
    help: "markov mode: set debug level",
    listing: false,
    run: (args, session) => {
      const n = parseInteger(args);
      if (n === null) return fail(Errno.EINVAL);
      ctx.watchMarkov(session, n);
      return ok();
    },
  });
  registry.add({
    path: "counters",
    syntax: "",
    help: "show what each impairment did, per direction",
    listing: true,
    run: () => listing(showCounters(ctx)),
  });
  return registry;
}

/**
 * `load PATH`: runs the file's lines as commands in `session`. The
 * listing echoes each line as `(PATH) LINE` followed by its reply.
 */
async function loadScript(path: string, session: Session): Promise<Reply> {
  const refused = othersLoad(session);
  if (refused !== undefined) return refused;
  if (path === "") return listing([], Errno.ENOENT);
  if (session.loadDepth >= MAX_LOAD_DEPTH) return listing([], Errno.ELOOP);
  const read = await readScript(path);
  if (typeof read === "number") return listing([], read);
  const lines: string[] = [];
  session.loadDepth++;
  try {
    for (const line of read) {
      const reply = await session.commands.execute(line, session);
      if (reply === null) continue;
      lines.push(`(${path}) ${line}`);
      // A nested listing's own frame would end ours early: only its lines and result go in.
      if (reply.endSession) return { ...reply, lines };
      lines.push(...(reply.lines ?? []), resultLine(reply.code));
    }
  } finally {
    session.loadDepth--;
  }
  return listing(lines);
}
