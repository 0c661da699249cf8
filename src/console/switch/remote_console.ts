/**
 * `vde term`'s view of a remote switch: runs lines on a management
 * connection, learns the command set (for completion) from the remote
 * `help`, and provides our friendly commands (`ports`, `macs`, `hub`)
 * against switches that lack them, such as a C vde_switch, by parsing its
 * `port/print` and `hash/print` listings.
 */
import { parseSwitch } from "../args.ts";
import type { MgmtClient, RemoteReply } from "../client.ts";
import type { CompletionSource } from "../completer.ts";
import { parseMacListing, parsePortListing } from "./listings.ts";
import { parseLine } from "../registry.ts";
import { Errno, resultLine } from "../reply_format.ts";
import { macsTable, portsTable } from "./tables.ts";
import { CONSOLE_EXEC_TIMEOUT_S } from "../../lab/exec_limit.ts";

/** How long a lab console's `exec` reply is waited for: the command's own limit, and a margin. */
const EXEC_REPLY_MS = (CONSOLE_EXEC_TIMEOUT_S + 10) * 1000;

/** A command as the remote `help` lists it. */
export interface RemoteCommand {
  path: string;
  /** Its arguments; undefined where the listing does not say (wirefilter's value commands). */
  syntax: string | undefined;
  help: string;
}

/** Commands `vde term` adds on its side, with their help rows. */
export const LOCAL_COMMANDS: readonly RemoteCommand[] = [
  { path: "watch", syntax: "[secs]", help: "live port counters, redrawn every secs until a key is pressed" },
  { path: "exit", syntax: "", help: "log out and leave vde term" },
  { path: "quit", syntax: "", help: "log out and leave vde term" },
  { path: "?", syntax: "[arg]", help: "same as help" },
];

/** Friendly commands emulated when the remote switch does not have them. */
const FALLBACKS: readonly RemoteCommand[] = [
  { path: "hub", syntax: "[on|off]", help: "show or set hub mode" },
  { path: "ports", syntax: "[all]", help: "table of ports with counters" },
  { path: "macs", syntax: "", help: "table of learnt MAC addresses" },
];

/**
 * Parses a `help` listing into commands (menu headers dropped). Rows are
 * `%-18s %-15s %s` under a two-line header, but our help widens the path
 * column of a menu with a longer path to its longest (its header row's
 * `============` starts the syntax column, as the header's SYNTAX does
 * when the listing is that menu's alone). vde_switch's `%-18s` shifts the
 * rest of a row whose path is longer, and a syntax longer than its column
 * the help: the syntax is then its words up to the help's first. A
 * listing without the header (a lab's console) is rows from its first line.
 */
export function parseHelpListing(lines: readonly string[]): RemoteCommand[] {
  const out: RemoteCommand[] = [];
  const header = lines[1]?.startsWith("------------") ? 2 : 0;
  // wirefilter's `COMMAND      HELP` has no syntax column: `loss         set loss percentage` takes a
  // value it does not show, so its syntax is unknown (not "none"); its wider rows put it in the first column.
  if (header === 2 && /^COMMAND\s+HELP$/.test(lines[0] ?? "")) return lines.slice(2).flatMap(wirefilterRow);
  // Where the syntax starts: 19 (`%-18s `), or where a widened menu's rows or a widened header put it.
  const headerColumn = header === 2 ? Math.max(19, lines[0]!.indexOf("SYNTAX")) : 19;
  const menuColumns = new Map<string, number>();
  for (const line of lines.slice(header)) {
    const menu = /^(\S+) +============/.exec(line);
    if (menu !== null) menuColumns.set(menu[1]!, line.indexOf("============"));
  }
  for (const line of lines.slice(header)) {
    let path: string, syntax: string, help: string;
    const at = menuColumns.get(line.split("/")[0]!.split(" ")[0]!) ?? headerColumn;
    if (
      line.length > at && line[at - 1] === " " && line[at + 15] === " " && !/\S +\S/.test(line.slice(0, at))
    ) {
      path = line.slice(0, at - 1).trim();
      syntax = line.slice(at, at + 15).trim();
      help = line.slice(at + 16);
    } else if (header === 2 && /^\S+ /.test(line)) {
      // A syntax wider than its column (`HELLO MAXAGE FWDDELAY`) pushes the help right, and a path wider
      // than its own (`mcast/query_response_interval`) the rest of the row, as `%-18s` does or as our help
      // widens that menu's column: the syntax is the words after the path with no lower-case letter, as
      // syntax words are (N, [PORT]..., 0/1), up to the help's first.
      path = /^\S+/.exec(line)![0];
      const words = line.slice(path.length).trim().split(" ");
      const n = words.findIndex((w) => /[a-z]/.test(w));
      syntax = (n < 0 ? words : words.slice(0, n)).join(" ").trim();
      help = n < 0 ? "" : words.slice(n).join(" ");
    } else {
      const m = /^(\S+)\s+(.*)$/.exec(line);
      if (m === null) continue;
      [path, syntax, help] = [m[1]!, "", m[2]!];
    }
    // A placeholder row (a lab's `SWITCH COMMAND...`, `HOST COMMAND...`) names no command.
    if (path === "" || syntax === "============" || /^[A-Z]+(\s|$)/.test(path)) continue;
    out.push({ path, syntax, help });
  }
  return out;
}

/** A row of wirefilter's `help`: `%-12s %s`, or `%-18s %s` where the name carries its syntax. */
function wirefilterRow(line: string): RemoteCommand[] {
  const narrow = line[12] === " " && !line.slice(0, 12).trim().includes(" ");
  const name = (narrow ? line.slice(0, 12) : line.slice(0, 18)).trim();
  const help = line.slice(narrow ? 13 : 19).trim();
  const [path, ...args] = name.split(" ");
  if (path === undefined || path === "") return [];
  return [{ path, syntax: narrow ? undefined : args.join(" "), help }];
}

/**
 * `load FILE` for the switch, which opens FILE in its own working
 * directory: a relative FILE that is there beside the user (`load my.rc`
 * typed in the directory holding it) is sent as its full path, so it means
 * what the user sees. Any other FILE goes as typed.
 */
export function loadFromHere(file: string, cwd = Deno.cwd()): string {
  const name = file.trim();
  if (name === "" || name.startsWith("/")) return `load ${name}`.trim();
  try {
    Deno.statSync(`${cwd}/${name}`);
  } catch {
    return `load ${name}`;
  }
  return `load ${cwd}/${name}`;
}

/**
 * A `load`'s transcript as the switch's own terminal shows it: each
 * `vde[FILE]: COMMAND` line, then its listing and any failure code,
 * without the protocol's framing (`0000 DATA END WITH '.'`, the closing
 * `.`, and `1000 Success` after each command that worked).
 */
export function transcriptForPeople(raw: string): string {
  return raw.split("\n").filter((l) => l !== "0000 DATA END WITH '.'" && l !== "." && l !== "1000 Success")
    .join("\n");
}

function ok(lines: string[]): RemoteReply {
  return { code: 0, lines, result: resultLine(0) };
}

/** The switches of a lab, from its `nodes` table (NODE KIND DETAIL). */
export function parseLabSwitches(lines: readonly string[]): string[] {
  return parseLabNodes(lines, ["switch"]);
}

/** The nodes of the `kinds` given, from a lab's `nodes` table (NODE KIND DETAIL), in its order. */
export function parseLabNodes(lines: readonly string[], kinds: readonly string[]): string[] {
  const rows = lines.slice(1).map((l) => l.split(/\s+/));
  return rows.filter((w) => kinds.includes(w[1] ?? "")).map((w) => w[0]!);
}

/** Runs console lines against a remote switch, or a lab's console (`lab`), whose switches it reaches by name. */
export class RemoteConsole {
  readonly client: MgmtClient;
  /** True for a lab's console: `SW COMMAND` runs a command of its switch SW. */
  readonly lab: boolean;
  #remote: RemoteCommand[] = [];
  /** Whether `help` was asked (a lab or switch without it is not asked again before every line). */
  #learnt = false;
  /** Set while `execute` has a line not yet handed to the client, and whether Ctrl-C came meanwhile. */
  #unsent = false;
  #interruptUnsent = false;
  /** A lab switch's commands, learnt from `SW help` at the first Tab after its name. */
  readonly #switchCommands = new Map<string, RemoteCommand[]>();

  constructor(client: MgmtClient, opts: { lab?: boolean } = {}) {
    this.client = client;
    this.lab = opts.lab ?? false;
  }

  /**
   * Interrupts the line running now (Ctrl-C): a line still on its way (learning the command set first)
   * gets its ETX once it is sent, since the server ignores one that comes ahead of its line.
   */
  async interrupt(): Promise<void> {
    if (this.#unsent) {
      this.#interruptUnsent = true;
      return;
    }
    await this.client.interrupt();
  }

  /**
   * Whether a line starting with `name` may run a lab host's command (`exec h1 CMD`, or `h1 CMD` by the
   * host's name), which may take CONSOLE_EXEC_TIMEOUT_S: its reply is then waited for that long, not
   * --timeout's 10 s (after which the command ran on unseen and vde term said only that no reply came).
   * Any word that is not one of the lab console's own commands may name a host (or a switch, whose
   * answer comes quickly anyway).
   */
  async mayRunHostCommand(name: string): Promise<boolean> {
    if (!this.lab) return false;
    if (name === "exec") return true;
    if (!this.#learnt) await this.learnCommands();
    return !this.#remote.some((c) => c.path === name);
  }

  /** Learns the remote command set from `help`; a switch without `help` just gets no completion. */
  async learnCommands(): Promise<void> {
    this.#learnt = true;
    try {
      const reply = await this.client.command("help");
      if (reply.code === 0 && reply.lines !== undefined) this.#remote = parseHelpListing(reply.lines);
    } catch { /* completion is a convenience */ }
  }

  /**
   * Every command known: the remote's, then local ones and fallbacks it lacks. The fallbacks are a
   * switch's (from port/print): a lab has no ports of its own, nor has a wirefilter, whose `help` lists
   * no port/print; before `help` is asked they are offered.
   */
  commands(): RemoteCommand[] {
    const have = new Set(this.#remote.map((c) => c.path));
    const aSwitch = !this.lab && (this.#remote.length === 0 || have.has("port/print"));
    const ours = aSwitch ? [...LOCAL_COMMANDS, ...FALLBACKS] : LOCAL_COMMANDS;
    return [...this.#remote, ...ours.filter((c) => !have.has(c.path))];
  }

  /** The names of a lab's switches now (a switch added live included); none for a switch. */
  labSwitches(): Promise<string[]> {
    return this.#labNodes(["switch"]);
  }

  /** The names of a lab's switches and hosts now, each a command of its console (`sw1 ports`, `h1 ip a`). */
  labCommandNodes(): Promise<string[]> {
    return this.#labNodes(["switch", "host"]);
  }

  async #labNodes(kinds: readonly string[]): Promise<string[]> {
    if (!this.lab) return [];
    try {
      const r = await this.client.command("nodes");
      return r.code === 0 ? parseLabNodes(r.lines ?? [], kinds) : [];
    } catch {
      return [];
    }
  }

  /**
   * Runs one line remotely, emulating `hub`, `ports` and `macs` when the
   * remote answers 1038 for them. `exit` and `quit` log out. Null for an
   * empty line or a comment.
   */
  async execute(line: string): Promise<RemoteReply | null> {
    const { name, args } = parseLine(line);
    if (name === "") return null;
    if (name === "exit" || name === "quit") return await this.client.command("logout");
    if (name === "?") return await this.client.command(`help ${args}`.trim());
    this.#unsent = true;
    this.#interruptUnsent = false;
    let pending: Promise<RemoteReply>;
    try {
      const atLeastMs = await this.mayRunHostCommand(name) ? EXEC_REPLY_MS : 0;
      pending = this.client.command(name === "load" ? loadFromHere(args) : line.trim(), atLeastMs);
    } finally {
      this.#unsent = false;
    }
    if (this.#interruptUnsent) void this.client.interrupt();
    const reply = await pending;
    if (name === "load" && reply.raw !== undefined) return { ...reply, raw: transcriptForPeople(reply.raw) };
    // A lab's console has no switch commands of its own to emulate from: its answer names its switch's line
    // (`sw1 hub on`), where the emulation would check the words first and say only `hub maybe` is invalid.
    if (this.lab || reply.code !== Errno.ENOSYS || !FALLBACKS.some((c) => c.path === name)) return reply;
    // A console without vde_switch's commands either (a wirefilter's) keeps its own answer to the line typed,
    // asked before the emulation checks the words: `hub maybe` there is no command, not a bad argument.
    if ((await this.client.command("port/showinfo")).code === Errno.ENOSYS) return reply;
    return name === "ports"
      ? await this.ports(args)
      : name === "macs"
      ? await this.macs()
      : await this.hub(args);
  }

  /** The `ports` table from `port/print` (or `port/allprint` with "all"). */
  async ports(args: string): Promise<RemoteReply> {
    if (args !== "" && args !== "all") {
      return { code: Errno.EINVAL, lines: [], result: resultLine(Errno.EINVAL) };
    }
    const r = await this.client.command(args === "all" ? "port/allprint" : "port/print");
    if (r.code !== 0) return r;
    return ok(portsTable(parsePortListing(r.lines ?? [])));
  }

  /** The `macs` table from `hash/print` and `port/allprint`. */
  async macs(): Promise<RemoteReply> {
    const h = await this.client.command("hash/print");
    if (h.code !== 0) return h;
    const p = await this.client.command("port/allprint");
    return ok(macsTable(parseMacListing(h.lines ?? []), parsePortListing(p.lines ?? [])));
  }

  /** `hub [on|off]` through `port/sethub` and `port/showinfo`. */
  async hub(args: string): Promise<RemoteReply> {
    if (args !== "") {
      const on = parseSwitch(args);
      if (on === undefined) return { code: Errno.EINVAL, lines: [], result: resultLine(Errno.EINVAL) };
      const r = await this.client.command(`port/sethub ${on ? 1 : 0}`);
      if (r.code !== 0) return r;
    }
    const info = await this.client.command("port/showinfo");
    if (info.code !== 0) return info;
    const on = (info.lines ?? []).includes("HUB=true");
    return ok([`hub mode is ${on ? "on" : "off"}`]);
  }

  /**
   * Completion candidates, fetched from the remote switch when Tab is
   * pressed. On a lab, after a switch's name they are that switch's: its
   * commands (from `SW help`, asked once), ports and MACs, and `watch`.
   */
  completionSource(): CompletionSource {
    const top = this.#sourceFor("", () => this.commands());
    return {
      ...top,
      // A lab's switch names start a line as its commands do.
      commands: async () => [...await top.commands(), ...await this.labSwitches()],
      nested: async (word) => {
        const commands = await this.switchCommands(word);
        return commands === undefined ? undefined : this.#sourceFor(`${word} `, () => commands);
      },
    };
  }

  /**
   * The commands of a lab's switch `name` (and vde term's `watch`), learnt
   * from `name help` once; undefined when the lab has no such switch (or
   * this is no lab).
   */
  async switchCommands(name: string): Promise<RemoteCommand[] | undefined> {
    if (!(await this.labSwitches()).includes(name)) return undefined;
    let learnt = this.#switchCommands.get(name);
    if (learnt === undefined) {
      const r = await this.#listing(`${name} help`);
      learnt = [...parseHelpListing(r), ...LOCAL_COMMANDS.filter((c) => c.path === "watch")];
      this.#switchCommands.set(name, learnt);
    }
    return learnt;
  }

  async #listing(cmd: string): Promise<string[]> {
    try {
      const r = await this.client.command(cmd);
      return r.lines ?? [];
    } catch {
      return [];
    }
  }

  /** A source whose listings are asked with `prefix` (a lab switch's name and a blank, or nothing). */
  #sourceFor(prefix: string, commands: () => RemoteCommand[]): CompletionSource {
    const listing = (cmd: string) => this.#listing(`${prefix}${cmd}`);
    return {
      commands: () => Promise.resolve(commands().map((c) => c.path)),
      syntax: (path) => Promise.resolve(commands().find((c) => c.path === path)?.syntax),
      ports: async () => parsePortListing(await listing("port/allprint")).map((p) => p.port),
      macs: async () => parseMacListing(await listing("hash/print")).map((m) => m.mac),
      debugCategories: async () =>
        (await listing("debug/list")).slice(2).map((l) => l.split(/\s+/)[0]!).filter((c) => c !== ""),
    };
  }
}
