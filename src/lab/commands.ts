/**
 * The lab shell's commands, one registry for the REPL of `vde up` and for
 * the lab's control socket (`vde status` reads `status` through it).
 *
 * A switch's own console commands are reached through the switch's name
 * (`sw1 port/print`); `add` grows the lab by writing the new node or link
 * into the lab's file form and validating the whole, so the shell accepts
 * exactly what a lab file would; `del` takes a node or link out live, as
 * `apply` does for what an edited file removed (apply.ts).
 */
import {
  CommandRegistry,
  failure as failureReply,
  type Handler,
  listing,
  ok,
  type Session,
} from "../console/registry.ts";
import { Errno, printable, type Reply } from "../console/reply_format.ts";
import { renderTable } from "../console/switch/tables.ts";
import { Document } from "yaml";
import type { LabRunner, RunningLink } from "./runner.ts";
import { STP_AVAILABLE } from "./runner.ts";
import type { Impairments, LabLink, LabNode, SlirpNode, SwitchNode } from "./spec.ts";
import { lanClashes, slirpStatics, vlanOnTrunk } from "./same_lan.ts";
import { MAX_VLAN } from "../switch/engine.ts";
import { runInNetns } from "./system.ts";
import { CONSOLE_EXEC_TIMEOUT_S } from "./exec_limit.ts";
import { programHint } from "./program_hint.ts";
import { switchWordHint } from "./switch_word_hint.ts";
import { cableState, labStatusJson, linkStp } from "./status_json.ts";
import { onPath } from "../os/command_lookup.ts";
import { LAB_COMMANDS } from "./shell_words.ts";
import { plainImpairments, plainLab } from "./to_yaml.ts";
import { validateLab } from "./validate.ts";
import { keyFileProblem } from "../cable/key.ts";
import { usersOwnLab } from "./state.ts";
import { applyLab, diffLab, readLabFile } from "./apply.ts";
import { parseDuration, parseLinkLimit, parseLinkMtu, parsePercent, parseRate } from "./values.ts";
import { didYouMean, didYouMeanText } from "../did_you_mean.ts";
import { counted } from "../counted.ts";
import { netemDelayForLabLink, netemForLabLink, netemLossForLabLink } from "../wirefilter/netem_words.ts";
import { modeText } from "../os/mode_text.ts";
import { userName } from "../os/users.ts";
import { logsToFile } from "../log.ts";
import { type CapturePoint, isRefused, labCapturePoint } from "./capture_hint.ts";
import { slirpNodeConfig } from "./slirp_node.ts";
import { addressesLine } from "../slirp/stack.ts";

/** What the shell needs from whoever runs the lab. */
export interface LabShellHooks {
  /** Takes the lab down and ends `vde up`. */
  down(reason: string): void;
  /** Writes the running lab to `file` (default: the lab file); resolves with the path written. */
  save(file: string | undefined): Promise<string>;
  /** The lab's web view (`vde up --http`), if it has one: `status` names it. */
  webUrl?(): string | undefined;
  /** The lab's log: each change made through the shell or console (link, add, del, apply) is said there. */
  log?(message: string): void;
}

/**
 * Who typed a line, for the log: the lab's own shell, or the console client's user and process, so a
 * team sharing a lab finds who cut a link, and when (each log line has its time).
 */
export function sessionWho(session: Session): string {
  if (session.kind === "terminal") return "at the lab shell";
  const user = session.peerUid === undefined ? "" : ` of ${userName(session.peerUid)}`;
  const pid = session.peerPid === undefined ? "" : ` (pid ${session.peerPid})`;
  return `from its console${user}${pid}`;
}

/** A rootless lab's slirp or cable node, which its `vde up` outside the lab's namespaces runs (outside.ts). */
const OUTSIDE = "run outside the lab's namespaces, on the machine's network, by vde up --rootless";

/** What status says of an outside node: where it runs, or that its process is gone. */
function outsideText(r: LabRunner, name: string): string {
  const lost = r.outsideLost.get(name);
  return lost === undefined
    ? OUTSIDE
    : `gone: the vde up --rootless that ran it outside the lab's namespaces ended (${lost})`;
}

/** `gateway ... first lease ..., ` of a slirp node another process runs, from its file's settings. */
function outsideAddresses(r: LabRunner, n: SlirpNode): string {
  try {
    // The static hosts on its LAN are reserved there as here (reserveStatics): its first lease skips them.
    const statics = slirpStatics(r.lab.nodes, r.lab.links).get(n.name) ?? [];
    return `${addressesLine(slirpNodeConfig(n, statics))}, `;
  } catch {
    return ""; // Settings the file's checks passed: the lab runs with them, and the row still says where.
  }
}

/** How long a console `exec` whose client left has after SIGTERM before SIGKILL. */
const EXEC_STOP_GRACE_MS = 2000;

function failure(message: string, code: number = Errno.EINVAL): Reply {
  return failureReply(message, code);
}

/** The nodes table. */
export function nodesTable(r: LabRunner): string[] {
  const rows = r.lab.nodes.map((n) => [n.name, n.kind, nodeDetail(r, n)]);
  return renderTable([
    { title: "NODE", align: "left" },
    { title: "KIND", align: "left" },
    { title: "DETAIL", align: "left" },
  ], rows);
}

/** Who besides root may use a switch, as its node says: ` (mode 660, group students, console 660)`. */
function accessText(n: SwitchNode): string {
  const parts = [
    ...(n.mode !== undefined ? [`mode ${modeText(n.mode)}`] : []),
    ...(n.group !== undefined ? [`group ${n.group}`] : []),
    ...(n.mgmtMode !== undefined ? [`console ${modeText(n.mgmtMode)}`] : []),
  ];
  return parts.length ? ` (${parts.join(", ")})` : "";
}

function nodeDetail(r: LabRunner, n: LabNode): string {
  switch (n.kind) {
    case "switch": {
      const s = r.switches.get(n.name)!;
      const used = s.sw.allocatedPorts().filter((p) => (s.sw.port(p)?.endpoints.length ?? 0) > 0).length;
      const failed = r.switchFailure(n.name);
      // First, where the eye lands: the rest of the row would read as a switch that works.
      const dead = failed === null ? "" : `FAILED: its data-plane thread ended (${failed}); `;
      // Spanning tree is said even at the default priority: a ring's switches differ in nothing else here.
      return `${dead}${counted(n.ports, "port")} (${used} in use)${n.hub ? ", hub" : ""}${
        n.stp ? ", stp" : ""
      }` +
        `${n.priority !== undefined ? `, priority ${n.priority}` : ""}, sock ${s.dir}${accessText(n)}`;
    }
    case "host": {
      const h = r.hosts.get(n.name)!;
      const shown = (i: string) =>
        (n.addresses[i] ?? []).map((a) => a === "dhcp" && h.leases.has(i) ? `${h.leases.get(i)} (dhcp)` : a);
      const addrs = [...h.taps.keys()].map((i) => `${i} ${shown(i).join(" ") || "-"}`);
      // A rootless lab's namespaces are its own, not the machine's: `ip netns exec` of the name finds none.
      const ns = r.rootless ? `netns of the lab's own (vde exec ${r.lab.name} ${n.name})` : `netns ${h.ns}`;
      return `${ns}${addrs.length ? ", " + addrs.join(", ") : ""}`;
    }
    case "slirp":
      // Its addresses, as a slirp this process runs says them (a rootless lab's hosts get its leases too).
      if (r.outside.has(n.name)) return `${outsideAddresses(r, n)}${outsideText(r, n.name)}`;
      return r.slirps.get(n.name)!.stack.describe()[0] ?? "slirp";
    case "cable": {
      const where = n.connect !== undefined
        ? `to ${n.connect}`
        : `listening on ${r.cableListening(n.name) ?? n.listen}`;
      if (r.outside.has(n.name)) return `${where}, ${outsideText(r, n.name)}`;
      return `${where}, ${cableState(r.cables.get(n.name)?.link ?? null, n.connect !== undefined).text}`;
    }
  }
}

function impairText(i: Impairments): string {
  const p = plainImpairments(i);
  return Object.entries(p).map(([k, v]) => `${k} ${v}`).join(", ") || "-";
}

/**
 * A link's STATE cell: down, blocked where the tree cuts it, else up, with the tree's state in a Linux
 * bridge's words while it does not forward yet (`up (learning)`).
 */
function linkStateText(up: boolean, stp: ReturnType<typeof linkStp>): string {
  if (!up) return "down";
  if (stp?.cut) return "blocked";
  return stp === undefined || stp.state === "forwarding" ? "up" : `up (${stp.state})`;
}

/** The links table, with counters. */
export function linksTable(r: LabRunner): string[] {
  const rows = r.links.map((l) => [
    l.name,
    linkStateText(l.wire.up, linkStp(r, l)),
    String(l.wire.b.stats.framesIn),
    String(l.wire.a.stats.framesIn),
    String(l.wire.dropped + l.wire.filterDrops),
    [
      impairText(l.wire.impair),
      ...(l.spec.vlan !== undefined ? [`vlan ${l.spec.vlan}`] : []),
      ...(l.spec.trunk.length ? [`trunk ${l.spec.trunk.join(",")}`] : []),
    ].filter((x) => x !== "-").join(", ") || "-",
  ]);
  return renderTable([
    { title: "LINK", align: "left" },
    { title: "STATE", align: "left" },
    { title: "A>B", align: "right" },
    { title: "B>A", align: "right" },
    { title: "DROPS", align: "right" },
    { title: "SETTINGS", align: "left" },
  ], rows);
}

/** What `exit` at the lab shell is told: the shell's end is the lab's, and how a lab outlives its shell. */
const LEAVE_HINT = (word: string) =>
  `${word}: the lab ends with its shell: \`down\` (or Ctrl-D) takes it down; ` +
  "a lab that runs on without it is `vde up -d FILE`, its shell then `vde term LAB`";

/** What `watch` sent to the lab (by a script: the shells draw it themselves) is told. */
const WATCH_HINT = (lab: string) =>
  `watch redraws at a terminal: type it in \`vde term ${lab}\` without -c, or at the lab shell; ` +
  "a script reads links (a switch's counters: SWITCH ports)";

/** A session that runs a switch's commands (so `help` lists the switch's). */
function switchSession(outer: Session, commands: CommandRegistry): Session {
  return {
    kind: outer.kind,
    debug: outer.debug,
    loadDepth: outer.loadDepth,
    commands,
    notify: (line) => outer.notify(line),
    render: (reply) => outer.render(reply),
    // Who the client is goes along: a switch's `load` is refused to another user (session_commands.ts).
    ...(outer.peerPid === undefined ? {} : { peerPid: outer.peerPid }),
    ...(outer.peerUid === undefined ? {} : { peerUid: outer.peerUid }),
  };
}

/** Whether `word` is one of the lab's own commands (not a node's name). */
export function isLabCommand(word: string): boolean {
  return LAB_COMMANDS.some(([p]) => p === word);
}

/**
 * The host and command a line runs, `exec HOST COMMAND` or `HOST COMMAND`
 * (a host's name is a command unless the shell has one of that name), or
 * undefined for any other line.
 */
export function hostCommandOf(
  line: string,
  hosts: { has(name: string): boolean },
): { host: string; command: string } | undefined {
  const m = /^\s*(?:exec\s+)?(\S+)\s+(\S.*)$/.exec(line);
  if (m === null || !hosts.has(m[1]!)) return undefined;
  const exec = /^\s*exec\s/.test(line);
  if (!exec && isLabCommand(m[1]!)) return undefined;
  return { host: m[1]!, command: m[2]!.trim() };
}

/**
 * Why `exec HOST COMMAND` will not do what a shell user means, or undefined:
 * it runs COMMAND without a terminal (stdin is empty), so an interactive
 * shell (`exec h1 bash`) would exit at once, printing nothing. `vde exec`
 * gives it the terminal it is typed at, a rootless lab's host too.
 */
export function execRefusal(lab: string, host: string, command: string): string | undefined {
  const words = command.trim().split(/\s+/);
  const shell = /^(\S*\/)?(ba|z|da|a|k|c|tc|fi)?sh$/.test(words[0] ?? "");
  if (!shell || !words.slice(1).every((w) => /^-[il]+$/.test(w))) return undefined;
  return `exec runs a command without a terminal, so a shell would end at once; ` +
    `for a shell in ${host}, from another terminal: vde exec ${lab} ${host} ${words[0]}`;
}

const WATCH_ROW: [string, string] = [
  "watch [secs]",
  "every switch's port counters and rates, redrawn every secs (default 1) until a key is pressed; SWITCH watch: one switch's",
];

/** The width `help` is wrapped to where the terminal's is unknown. */
const HELP_WIDTH = 80;
/** The widest the command column grows; a longer command has its help on the next line. */
const HELP_TERM_MAX = 28;

function terminalColumns(): number {
  try {
    return Deno.stdout.isTerminal() ? Deno.consoleSize().columns : HELP_WIDTH;
  } catch {
    return HELP_WIDTH;
  }
}

/** `text` in lines of at most `width` columns, broken at blanks (a longer word stays whole). */
function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  return line === "" ? lines : [...lines, line];
}

/**
 * Rows of `help` as `--help` lays out options: commands in a column, their
 * help beside it wrapped under itself to `width`. A command wider than the
 * column (`link A-B down|up|...`) takes its own lines and its help starts
 * on the next, at the column.
 */
export function helpColumns(rows: readonly (readonly [string, string])[], width: number): string[] {
  const fits = rows.map(([t]) => t.length).filter((n) => n <= HELP_TERM_MAX);
  const column = Math.max(0, ...fits) + 2;
  const helpWidth = Math.max(20, width - column);
  const out: string[] = [];
  for (const [term, help] of rows) {
    const text = wrapWords(help, helpWidth);
    if (term.length + 2 > column) {
      out.push(...wrapWords(term, width).map((l, i) => i === 0 ? l : `  ${l}`));
      out.push(...text.map((l) => `${" ".repeat(column)}${l}`));
    } else {
      out.push(...text.map((l, i) => `${i === 0 ? term.padEnd(column) : " ".repeat(column)}${l}`));
      if (text.length === 0) out.push(term);
    }
  }
  return out;
}

/** Builds the lab shell's registry. */
export function labCommands(
  r: LabRunner,
  hooks: LabShellHooks,
): { commands: CommandRegistry; addNode(name: string): void } {
  const commands = new CommandRegistry();
  // Through `vde term LAB` as at the shell: a program typed without its host gets the host's line.
  commands.unknown = (line) => {
    // A shell's way out, typed at the lab's own terminal (vde term LAB's exit is its logout, never sent).
    const first = line.trim().split(/\s+/)[0];
    if (first === "exit" || first === "quit") return failureReply(LEAVE_HINT(first), Errno.ENOSYS);
    // The shell's own `watch` redraws a terminal, so the shells take it before it is sent: one that
    // reaches the lab came from a script (`vde term LAB -c watch`), not a program to run in a host.
    if (first === "watch") return failureReply(WATCH_HINT(r.lab.name), Errno.ENOSYS);
    // A switch's command (`ports`) or a bridge's line (`brctl show`) is its switch's; a program, its host's.
    const sw = [...r.switches.values()][0];
    const isSwitchCommand = (path: string) => sw?.commands.lookup(path) !== undefined;
    const hint = switchWordHint(line, [...r.switches.keys()], isSwitchCommand, onPath) ??
      programHint(line, r.hosts, onPath);
    return hint === undefined ? undefined : failureReply(hint.trimEnd(), Errno.ENOSYS);
  };
  const run = (
    path: string,
    listingCmd: boolean,
    fn: (args: string, s: Session) => Reply | Promise<Reply>,
  ) => {
    const spec = LAB_COMMANDS.find((c) => c[0] === path)!;
    commands.add({ path, syntax: spec[1], help: spec[2], listing: listingCmd, run: fn });
  };
  // What changes the lab, or reads it whole to compare or write it, runs as one change of the runner's:
  // from two consoles at once, the second waits and then sees what the first made.
  const changing = (fn: (args: string) => Reply | Promise<Reply>) => (args: string) =>
    r.change(async () => await fn(args)).catch((err) => failure((err as Error).message, Errno.EIO));
  // A change that took is said in the lab's log with who made it; one refused changed nothing, and says so
  // to whoever typed it. At the lab's own terminal with no log file, the log is that terminal, which just
  // showed the line typed.
  // An apply that failed after its removals (which cannot be taken back) changed the lab all the same: its
  // failure reply is in here, and is said too, as failed.
  const changedAnyway = new WeakSet<Reply>();
  function logged(
    path: string,
    fn: (args: string) => Reply | Promise<Reply>,
    changes: (args: string) => boolean = () => true,
  ): Handler {
    return async (args, session) => {
      const reply = await fn(args);
      const took = reply.code === 0 || changedAnyway.has(reply);
      if (took && changes(args) && (session.kind !== "terminal" || logsToFile())) {
        const failed = reply.code === 0 ? "" : " (failed part-way: the lab runs changed, as its reply said)";
        // Who first: what was typed follows, so no line typed can read as made by another.
        hooks.log?.(`${sessionWho(session)}: ${printable(`${path} ${args}`.trim())}${failed}`);
      }
      return reply;
    };
  }
  run("help", true, (_args, session) => {
    const switches = [...r.switches.keys()].join(", ") || "none yet";
    const rows: [string, string][] = [
      // logout leaves a management session only (vde term LAB); the lab's own shell refuses it.
      ...LAB_COMMANDS.filter(([p]) => p !== "logout" || session.kind === "mgmt")
        .map(([p, s, h]): [string, string] => [`${p} ${s}`.trim(), h]),
      ["SWITCH COMMAND...", `a switch's console command, \`SWITCH help\` lists them (switches: ${switches})`],
      ["HOST COMMAND...", "a command in a host, as exec HOST COMMAND"],
      // The shell's own, at its terminal (vde term LAB has it too, on its side).
      ...(session.kind === "terminal" ? [WATCH_ROW] : []),
    ];
    // At the lab's own terminal, its width; through the control socket the client's is unknown.
    const width = session.kind === "terminal" ? terminalColumns() : HELP_WIDTH;
    return listing(helpColumns(rows, width));
  });
  run("nodes", true, () => listing(nodesTable(r)));
  run("links", true, () => listing(linksTable(r)));
  run(
    "status",
    true,
    (args) => {
      const url = hooks.webUrl?.();
      // `vde status LAB --json`: the same records as one line of JSON.
      if (args.trim() === "json") return listing([JSON.stringify(labStatusJson(r, url))]);
      if (args.trim() !== "") return failure(`status takes no argument but json, not "${args.trim()}"`);
      const web = url === undefined ? [] : [`web view ${url} (metrics at ${url}metrics)`];
      return listing([
        `lab ${r.lab.name} (pid ${Deno.pid})`,
        ...web,
        "",
        ...nodesTable(r),
        "",
        ...linksTable(r),
      ]);
    },
  );
  const exec = async (name: string, command: string, session: Session): Promise<Reply> => {
    // A client gone (its terminal closed, Ctrl-C on `vde term -c`) or interrupting (Ctrl-C at `vde term
    // LAB`) stops its command, as ssh ends what it ran, rather than leaving it in the lab until its time
    // runs out. Asked first, so a Ctrl-C while the exec waits below is not lost.
    const stop = session.stopSignal?.();
    // Not behind the change under way when the client is that change's own exec's command (settledFor).
    await r.settledFor(session.peerPid);
    const host = r.hosts.get(name);
    if (host === undefined) {
      return failure(`no host ${name} (hosts: ${[...r.hosts.keys()].join(", ") || "none"})`);
    }
    const refused = execRefusal(r.lab.name, name, command);
    if (refused !== undefined) return failure(refused);
    if (stop?.aborted) return { code: 0, lines: ["(stopped)"] };
    const out = await runInNetns(host.ns, command, CONSOLE_EXEC_TIMEOUT_S * 1000, r.dir, stop, {
      stopGraceMs: EXEC_STOP_GRACE_MS,
    });
    const text = out.output.replace(/\n$/, "");
    const lines = text === "" ? [] : text.split("\n");
    const program = command.split(" ")[0];
    // Stopped on request, as the lab shell's own exec says it: not a failure of the command.
    if (stop?.aborted && !out.timedOut) return { code: 0, lines: [...lines, "(stopped)"] };
    if (out.timedOut) lines.push(`(${program} was killed after ${CONSOLE_EXEC_TIMEOUT_S} s)`);
    else if (out.code !== 0) lines.push(`(${program} exited with status ${out.code})`);
    if (out.code === 0) return { code: 0, lines };
    // A failure's output, its status last, is its reason: `vde term -c` says it on stderr in place of
    // a bare "1005 Input/output error"; a terminal shows it as before.
    return { code: Errno.EIO, lines: [], raw: `${lines.join("\n")}\n` };
  };
  run("exec", true, (args, session) => {
    const m = /^(\S+)\s+(.+)$/.exec(args);
    return m === null ? failure("usage: exec HOST COMMAND...") : exec(m[1]!, m[2]!, session);
  });
  // `link A-B` alone shows the link: no change to log.
  run(
    "link",
    false,
    logged("link", changing((args) => linkCommand(r, args)), (args) => /\S\s+\S/.test(args.trim())),
  );
  run("add", false, logged("add", changing((args) => addCommand(r, args, addNode))));
  run("use", false, () => failure("`use` works in the interactive shell"));
  // A capture streams pcap for as long as it runs: it belongs in a terminal (or a pipe) of its own, as the
  // shell's terminal is the console's. A link or a host (`capture sw1-sw2`, `capture h1`) is captured so
  // too, at the switch port it is (lab/capture_hint.ts), or said why not.
  run("capture", true, (args) => {
    const found = labCaptureTarget(r, args.trim().split(/\s+/)[0] || undefined);
    if ("refused" in found) return failure(found.refused);
    const { target, name } = found;
    const file = `${name.replace(/:/g, "-")}.pcapng`;
    return failure(
      `capture runs beside the shell, in another terminal: \`vde capture ${target} -w ${file}\`, ` +
        `or live \`vde capture ${target} -w - | tcpdump -n -r -\` (\`vde capture --help\`: --port, --vlan, ` +
        "--filter); the lab shell at the terminal of vde up captures itself",
    );
  });
  run("del", false, logged("del", changing((args) => delCommand(r, args.trim()))));
  run(
    "diff",
    true,
    changing((args) => {
      const read = readLabFile(r, args.trim() || undefined, "diff");
      if ("ok" in read) return failure(read.lines.join("\n"));
      return listing([...read.notes, ...diffLab(r, read.lab)]);
    }),
  );
  run(
    "apply",
    false,
    logged(
      "apply",
      changing(async (args) => {
        const read = readLabFile(r, args.trim() || undefined, "apply");
        if ("ok" in read) return failure(read.lines.join("\n"));
        const applied = await applyLab(r, read.lab, read.path, addNode);
        const { ok } = applied;
        const lines = [...read.notes, ...applied.lines];
        if (ok) return { code: 0, raw: lines.map((l) => `${l}\n`).join("") };
        const failed = failure(lines.join("\n"), Errno.EIO);
        if (applied.changedAnyway) changedAnyway.add(failed);
        return failed;
      }),
    ),
  );
  run(
    "save",
    false,
    changing(async (args) => {
      try {
        const path = await hooks.save(args.trim() || undefined);
        return { code: 0, raw: `saved ${path}\n` };
      } catch (err) {
        return failure((err as Error).message);
      }
    }),
  );
  run(
    "down",
    false,
    () => ({ code: 0, endSession: true, afterSend: () => hooks.down("`down` in the shell") }),
  );
  // vde term's `exit` (and unixterm's user) log out, as from a switch's management socket.
  run(
    "logout",
    false,
    (_args, session) =>
      session.kind === "mgmt"
        ? { code: 0, endSession: true }
        : failure("nothing to log out of here: `down` (or Ctrl-D) takes the lab down"),
  );
  // A host's name runs a command there, as a switch's runs a console command: `h1 ping 10.0.2.2`.
  // Looked up at each line: the node may have been removed since, or added again as another kind.
  const hostOrSwitch = async (name: string, args: string, session: Session): Promise<Reply> => {
    const sw = r.switches.get(name);
    if (r.hosts.has(name)) {
      return args.trim() === ""
        ? failure(`usage: ${name} COMMAND (as exec ${name} COMMAND)`)
        : exec(name, args, session);
    }
    if (sw === undefined) {
      // Removed, or added again as a slirp or cable, which take no commands.
      const other = r.lab.nodes.find((n) => n.name === name);
      return other !== undefined
        ? failure(`${name} is a ${other.kind}: it takes no commands`)
        : failure(`no node ${name} (it was removed)`, Errno.ENOENT);
    }
    if (args.trim() === "") return failure(`usage: ${name} COMMAND (try \`${name} help\`)`);
    return await sw.commands.execute(args, switchSession(session, sw.commands)) ?? ok();
  };
  // A node's command: a switch's console, or a command in a host (a slirp or cable has none).
  const addNode = (name: string) => {
    if (commands.lookup(name) !== undefined || !(r.hosts.has(name) || r.switches.has(name))) return;
    const host = r.hosts.has(name);
    commands.add({
      path: name,
      syntax: "COMMAND...",
      help: host
        ? `a command in host ${name}'s namespace (exec ${name} COMMAND)`
        : `a console command of switch ${name}`,
      listing: host,
      run: (args, session) => hostOrSwitch(name, args, session),
    });
  };
  for (const name of [...r.switches.keys(), ...r.hosts.keys()]) addNode(name);
  return { commands, addNode };
}

const SETTERS: Record<string, (v: string) => { ok: true; value: number } | { ok: false; error: string }> = {
  loss: parsePercent,
  dup: parsePercent,
  delay: parseDuration,
  jitter: parseDuration,
  rate: parseRate,
  mtu: parseLinkMtu,
  limit: parseLinkLimit,
};

/**
 * `del`: takes a link, or a node with its links, out of the running lab
 * live, by the code `apply` runs for what a file removed. A node's name is
 * looked for first (a node may be called `a-b`), then a link's.
 */
async function delCommand(r: LabRunner, what: string): Promise<Reply> {
  if (what === "") return failure("usage: del NODE|A-B");
  const node = r.lab.nodes.find((n) => n.name === what);
  const link = node === undefined ? r.findLink(what) : undefined;
  if (node === undefined && link === undefined) {
    const names = r.lab.nodes.map((n) => n.name).join(" ") || "none";
    return failure(`no node or link ${what} (nodes: ${names}; \`links\` lists the links)`, Errno.ENOENT);
  }
  try {
    if (link !== undefined) {
      await r.removeLink(link);
      return { code: 0, raw: `removed link ${link.name}\n` };
    }
    const links = await r.removeNode(node!.name);
    const also = links.length === 0
      ? ""
      : ` and ${counted(links.length, "link")} ${links.map((l) => l.name).join(", ")}`;
    return { code: 0, raw: `removed ${node!.kind} ${node!.name}${also}\n` };
  } catch (err) {
    return failure((err as Error).message, Errno.EIO);
  }
}

/** `ip link set dev`'s words, which a Linux user types before the link's name or its `down`. */
const IP_LINK_WORDS = new Set(["set", "dev"]);

/**
 * The `link` line as the shell takes it when `words` has a link's name later in it, or ip's `set` and
 * `dev` (`link set dev sw1-sw2 down`, `link down sw1-sw2`): the link first, ip's words left out, said as
 * `the link's name comes first: \`link sw1-sw2 down\``; undefined when no word names a link.
 */
function reordered(r: LabRunner, words: readonly string[]): string | undefined {
  const at = words.findIndex((w) => !IP_LINK_WORDS.has(w) && r.findLink(w) !== undefined);
  if (at < 0) return undefined;
  const rest = words.filter((w, i) => i !== at && !IP_LINK_WORDS.has(w));
  const how = at === 0 ? "without ip's set and dev" : "the link's name comes first, without ip's set and dev";
  return `${how}: \`link ${[words[at], ...rest].join(" ")}\``;
}

/**
 * A router's words for a link's state (Cisco's `shutdown` and `no shutdown`, `shut`, `disable`, `enable`),
 * by what they mean here; `no` is one only before `shutdown` or `shut`.
 */
const ROUTER_LINK_WORDS: Readonly<Record<string, "down" | "up">> = {
  shutdown: "down",
  shut: "down",
  disable: "down",
  enable: "up",
};

/**
 * The line the shell takes for `link NAME rest...` when `rest[i]` is a router's word (ROUTER_LINK_WORDS,
 * or `no shutdown`): its own `down` or `up` in that place, the rest as typed; undefined for any other word.
 */
export function routerLinkLine(name: string, rest: readonly string[], i: number): string | undefined {
  const w = rest[i]!;
  const negated = w === "no" && ROUTER_LINK_WORDS[rest[i + 1] ?? ""] === "down";
  const state = negated ? "up" : Object.hasOwn(ROUTER_LINK_WORDS, w) ? ROUTER_LINK_WORDS[w] : undefined;
  if (state === undefined) return undefined;
  return `link ${[name, ...rest.slice(0, i), state, ...rest.slice(i + (negated ? 2 : 1))].join(" ")}`;
}

function linkCommand(r: LabRunner, args: string): Reply {
  const words = args.split(/\s+/).filter((w) => w !== "");
  const names = r.links.map((l) => l.name).join(" ") || "none";
  if (words[0] === undefined) return failure(`usage: link A-B down|up|clear|KEY VALUE...; links: ${names}`);
  const link = r.findLink(words[0]);
  if (link === undefined) {
    return failure(`no link ${words[0]} (${reordered(r, words) ?? `links: ${names}`})`);
  }
  // `ip link set`'s words among the settings (`link sw1-sw2 set down`): the line without them.
  if (words.slice(1).some((w) => IP_LINK_WORDS.has(w))) {
    return failure(
      `unknown link setting "${words.find((w, i) => i > 0 && IP_LINK_WORDS.has(w))}" (${
        reordered(r, words)
      })`,
    );
  }
  const rest = words.slice(1);
  if (rest.length === 0) {
    return {
      code: 0,
      raw: `${link.name} ${link.wire.up ? "up" : "down"}, ${impairText(link.wire.impair)}\n`,
    };
  }
  // The whole line is checked before anything changes: a mistake in it leaves the link as it was.
  let up = link.wire.up;
  // A copy: a line refused after its loss was read leaves the link's own settings untouched.
  let impair: Impairments = { ...link.wire.impair };
  let vlan = link.spec.vlan;
  let trunk = link.spec.trunk;
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w === "down" || w === "up") up = w === "up";
    else if (w === "clear") impair = {};
    // Own keys only: `constructor` or `__proto__` is a word like any other, not a setter every object has.
    else if (Object.hasOwn(SETTERS, w)) {
      const v = rest[++i];
      if (v === undefined) return failure(`${w} needs a value`);
      const parsed = SETTERS[w]!(v);
      if (!parsed.ok) return failure(`${w}: ${parsed.error}`);
      impair[w as keyof Impairments] = parsed.value;
    } else if (w === "vlan") {
      const v = rest[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) > MAX_VLAN) {
        return failure(`vlan needs a VLAN, 1-${MAX_VLAN} (0: none, the port's own)`);
      }
      vlan = Number(v) === 0 ? undefined : Number(v);
    } else if (w === "trunk") {
      const list = trunkList(rest[++i]);
      if (list === undefined) {
        return failure(`trunk needs VLANs, 1-${MAX_VLAN}, with commas between (10,20; 0: none)`);
      }
      trunk = list;
    } else {
      // A router's habit (`shutdown`, `no shutdown`): the line with the shell's own word, nothing changed.
      const router = routerLinkLine(words[0], rest, i);
      if (router !== undefined) {
        return failure(`unknown link setting "${w}" (a router's word: \`${router}\`)`);
      }
      const known = ["down", "up", "clear", "vlan", "trunk", ...Object.keys(SETTERS)];
      // tc netem's habits first: its jitter after the delay, its correlation after the loss, its own names.
      const netem = (rest[i - 2] === "delay" ? netemDelayForLabLink(rest[i - 1]!, w) : undefined) ??
        (rest[i - 2] === "loss" ? netemLossForLabLink(rest[i - 1]!, w) : undefined) ??
        netemForLabLink(w, rest[i + 1]);
      const near = didYouMean(w, known);
      return failure(
        `unknown link setting "${w}" (${netem ?? (didYouMeanText(near) || known.join(", "))})`,
      );
    }
  }
  const trunkMoved = trunk.join() !== link.spec.trunk.join();
  if (vlan !== link.spec.vlan || trunkMoved) {
    const refused = vlansRefused(r, link, vlan, trunk, vlan !== link.spec.vlan ? "vlan" : "trunk");
    if (refused !== undefined) return failure(refused);
  }
  r.setLinkUp(link, up);
  r.setImpairments(link, impair);
  if (vlan !== link.spec.vlan || trunkMoved) r.setLinkVlans(link, vlan, trunk);
  return ok();
}

/**
 * A `trunk` value, `10,20` (each VLAN once, in the order given), `0` for
 * none, as the file's `trunk: [10, 20]` and `trunk: []`; undefined for
 * anything else.
 */
export function trunkList(text: string | undefined): number[] | undefined {
  if (text === "0") return [];
  const words = text?.split(",") ?? [];
  const ok = words.length > 0 &&
    words.every((w) => /^\d+$/.test(w) && Number(w) >= 1 && Number(w) <= MAX_VLAN);
  return ok ? [...new Set(words.map(Number))] : undefined;
}

/**
 * Why `link` may not carry untagged VLAN `vlan` and tagged `trunk`: it has
 * no switch end (`what`, the key that changed, says so), the trunk carries
 * the untagged VLAN too, or the move puts a host on an address another host
 * (or a slirp) holds on a LAN it joins, said as the lab file's line says it
 * (same_lan.ts).
 */
function vlansRefused(
  r: LabRunner,
  link: RunningLink,
  vlan: number | undefined,
  trunk: number[],
  what: "vlan" | "trunk",
): string | undefined {
  if (!link.spec.ends.some((e) => r.switches.has(e.node))) {
    return `${what} needs a switch at one end of the link`;
  }
  const onTrunk = vlanOnTrunk(vlan, trunk);
  if (onTrunk !== undefined) return onTrunk;
  const lines = (links: readonly LabLink[]) => lanClashes(r.lab.nodes, links).map((c) => c.message);
  const before = new Set(lines(r.lab.links));
  const moved = r.lab.links.map((l) => l === link.spec ? { ...l, vlan, trunk } : l);
  const made = lines(moved).filter((line) => !before.has(line));
  return made.length === 0 ? undefined : made.join("\n");
}

/** `KEY VALUE` pairs of `add`, values split on commas where the file takes a list. */
function pairs(words: string[], flags: string[]): Record<string, unknown> | string {
  const out: Record<string, unknown> = {};
  const lists = ["vlans", "forwards", "routes", "exec", "trunk", "address"];
  for (let i = 0; i < words.length; i++) {
    const k = words[i]!;
    if (flags.includes(k)) {
      out[k] = true;
      continue;
    }
    const v = words[++i];
    if (v === undefined) return `${k} needs a value`;
    const value = /^\d+$/.test(v) ? Number(v) : v;
    out[k] = lists.includes(k)
      ? String(v).split(",").map((x) => /^\d+$/.test(x) && k !== "address" ? Number(x) : x)
      : value;
  }
  return out;
}

async function addCommand(r: LabRunner, args: string, addNode: (name: string) => void): Promise<Reply> {
  const words = args.split(/\s+/).filter((w) => w !== "");
  const [what, ...rest] = words;
  const plain = plainLab(r.lab) as { topology: { nodes: Record<string, unknown>; links: unknown[] } };
  if (what === "link") {
    if (rest.length < 2) return failure("usage: add link A B [loss 5%] [delay 10ms] [vlan 10] ...");
    const extra = pairs(rest.slice(2), []);
    if (typeof extra === "string") return failure(extra);
    plain.topology.links.push({ endpoints: [rest[0], rest[1]], ...extra });
  } else if (what === "switch" || what === "host" || what === "slirp" || what === "cable") {
    const name = rest[0];
    if (name === undefined) return failure(`usage: add ${what} NAME [KEY VALUE]...`);
    if (r.lab.nodes.some((n) => n.name === name)) return failure(`there is a node ${name} already`);
    const extra = pairs(rest.slice(1), ["hub", "stp", "mcast_snooping", "mcast_querier", "insecure"]);
    if (typeof extra === "string") return failure(extra);
    plain.topology.nodes[name] = { kind: what, ...extra };
  } else {
    const near = what === undefined
      ? undefined
      : didYouMean(what, ["switch", "host", "slirp", "cable", "link"]);
    return failure(
      (near !== undefined ? `unknown "${what}": ${didYouMeanText(`add ${near}`)} ` : "") +
        "usage: add switch|host|slirp|cable NAME [KEY VALUE]... | add link A B [KEY VALUE]...",
    );
  }
  const { lab, errors } = validateLab(new Document(plain).toString(), {
    stp: STP_AVAILABLE,
    live: true,
    usersOwn: usersOwnLab(),
  });
  if (lab === undefined) return failure(errors.map((e) => e.message).join("\n"));
  try {
    if (what === "link") {
      const l = await r.addLink(lab.links.at(-1)!);
      return { code: 0, raw: `added link ${l.name}\n` };
    }
    const node = lab.nodes.find((n) => n.name === rest[0])!;
    // Its key as a lab file's is checked (validate.ts), where the lab finds it, before anything starts.
    if (node.kind === "cable" && node.key !== undefined) {
      const problem = keyFileProblem(r.filePath(node.key));
      if (problem !== undefined) return failure(`${node.name}: key: ${problem}`);
    }
    await r.addNode(node);
    addNode(node.name);
    return { code: 0, raw: `added ${node.kind} ${node.name}\n` };
  } catch (err) {
    return failure((err as Error).message, Errno.EIO);
  }
}

/** What a lab's `capture NAME` records: a switch, or the switch port a link or host is. */
export interface LabCaptureTarget {
  /** As typed (the lab's first switch where none was). */
  name: string;
  /** As `vde capture` takes it: `LAB/NAME`. */
  target: string;
  /** The switch's socket directory. */
  dir: string;
  /** The port of a link or host. */
  point?: CapturePoint;
}

/**
 * The capture `name` (none: the lab's first switch) means in running lab
 * `r`: a switch, or a link or host at the switch port it is
 * (capture_hint.ts); else the one line saying why none.
 */
export function labCaptureTarget(r: LabRunner, name?: string): LabCaptureTarget | { refused: string } {
  name ??= [...r.switches.keys()][0];
  if (name === undefined) return { refused: "this lab has no switch to capture" };
  const target = `${r.lab.name}/${name}`;
  const sw = r.switches.get(name);
  if (sw !== undefined) return { name, target, dir: sw.dir };
  const links = r.links.map((l) => ({ name: l.name, a: l.spec.ends[0], b: l.spec.ends[1] }));
  const point = labCapturePoint(r.lab.name, name, links);
  if (point === undefined) {
    return { refused: `no switch ${name} (switches: ${[...r.switches.keys()].join(", ")})` };
  }
  if (isRefused(point)) return point;
  const at = r.switches.get(point.switch.slice(point.switch.indexOf("/") + 1));
  if (at === undefined) return { refused: `${point.switch} is gone` };
  return { name, target, dir: at.dir, point };
}
