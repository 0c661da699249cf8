/**
 * `vde term PATH`: a console for any management socket (ours or a C
 * vde_switch's). Interactive at a terminal, with completion learnt from the
 * remote `help`, history and tables; with `-c CMD` (repeatable), or with
 * commands on a non-terminal stdin, it runs them once for scripts and exits
 * 1 at the first command that fails.
 */
import type { Command } from "commander";
import { describeFailure, MgmtClient, type RemoteReply } from "../console/client.ts";
import { complete } from "../console/completer.ts";
import { failureHint, formatExplained, type KnownCommands, saysWhy } from "../console/explain.ts";
import { historyPath } from "../console/history.ts";
import { type RemoteCommand, RemoteConsole } from "../console/switch/remote_console.ts";
import { Errno, formatForPeople } from "../console/reply_format.ts";
import { delayOfShowinfo } from "../wirefilter/commands.ts";
import { Repl } from "../console/repl.ts";
import { singleQuoted } from "../shell_quote.ts";
import { parseLine } from "../console/registry.ts";
import { parsePortListing } from "../console/switch/listings.ts";
import { portsTableWithRates } from "../console/switch/tables.ts";
import { tablesByName, watchInterval, watchLoop } from "../console/watch.ts";
import { unknownOptionHint, UsageError, vdeErrors } from "./main.ts";
import { defaultSock } from "./switch.ts";
import { groupHint, ownerAndMode, sessionGroups } from "../os/users.ts";
import { examples } from "./help.ts";
import { DEFAULT_MGMT_NAME } from "../console/mgmt_server.ts";
import { onSignals } from "./signals.ts";
import { labDir, NAME_PATTERN } from "../lab/names.ts";
import {
  findLabSwitch,
  isLabSwitchConsole,
  labOfConsole,
  nearLabClause,
  rootsHostAnswer,
  rootsLabAnswer,
  usersLabHint,
  usersNamedHostAnswer,
} from "../lab/switch_paths.ts";
import { beingTakenDown, deadLab, LAB_STATE_FILE, notUpYet, readState, runState } from "../lab/state.ts";
import { parseVdeVnl } from "../link/vde_link.ts";
import {
  defaultSwitch,
  judgeUnasked,
  OthersDefaultSwitch,
  refuseOthersDefault,
  type UnaskedDefault,
} from "../link/default_switch.ts";
import { commandLine, mayBeVde, processAlive, untilExit } from "../os/processes.ts";
import { listenerPid, socketHolderPid } from "../os/socket_owner.ts";
import { NODE_SCHEMES } from "../link/node_path.ts";
import { TermOutput } from "./term_output.ts";
import { nearSwitchClause } from "../vde/near_switch.ts";
import { closedAncestor, dirOf } from "../os/paths.ts";
import { readSmallFile } from "../os/owned_file.ts";
import { MAX_LAB_FILE_BYTES } from "../lab/lab_text.ts";
import { askLabOf, isSeveral, labTermHint, severalTermLine } from "./capture_lab_hint.ts";

/** Parsed options of `vde term`. */
export interface TermOptions {
  command: string[];
  timeout: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** stdout, in order: a switch's event lines and the replies never interleave (term_output.ts). */
const stdout = new TermOutput(Deno.stdout, (line) => console.error(`vde term: ${line}`));

function writeOut(text: string): Promise<void> {
  return stdout.write(text);
}

/**
 * What a script's failed line is told beside the code, as the interactive
 * console words it: the nearest commands for a typo, what is missing for
 * 1006, what is already there for 1017, what is off for 1022 (snooping,
 * for `mcast/router`), what stops a switch that `shutdown` cannot, what
 * 1110 means for a `load` (a named pipe nobody writes), why a `load` got
 * 1001 (the step or mode that makes the script untrusted). A lab switch's line
 * (`sw1 prot/print`) is judged by that switch's commands.
 */
async function hintFor(remote: RemoteConsole, line: string, code: number): Promise<string> {
  const original = line;
  const hinted = code === Errno.ENOSYS || code === Errno.ENXIO || code === Errno.EEXIST ||
    code === Errno.EINVAL || code === Errno.EADDRINUSE || code === Errno.ENODEV || code === Errno.ENOENT ||
    code === Errno.E2BIG || code === Errno.EOPNOTSUPP || code === Errno.ETIMEDOUT || code === Errno.EPERM;
  if (!hinted) return "";
  await remote.learnCommands();
  let { name, args } = parseLine(line);
  let commands = remote.commands();
  const ofSwitch = remote.lab ? await remote.switchCommands(name) : undefined;
  if (ofSwitch !== undefined) [commands, line, name] = [ofSwitch, args, parseLine(args).name];
  if (code === Errno.ENOSYS && name === "watch") {
    const instead = ofSwitch !== undefined
      ? `${parseLine(original).name} ports`
      : remote.lab
      ? "links"
      : "ports";
    return ` (watch redraws at a terminal: run vde term without -c and type it; a script reads ${instead})`;
  }
  // A lab's switches and hosts are commands too (`sit1 ports` is a typo of switch site1, `h9 ip a` of a
  // host), though its help lists none.
  const nodes = code === Errno.ENOSYS && remote.lab && ofSwitch === undefined
    ? await remote.labCommandNodes()
    : [];
  const delay = ofSwitch === undefined ? await delayForJitter(remote, line, code) : undefined;
  const hint = failureHint(line, code, knownOf(commands, undefined, nodes, delay));
  return hint === undefined ? "" : ` (${hint})`;
}

/** What `runBatch` races the next line against: the console's connection closed. */
const CLOSED: unique symbol = Symbol("closed");

/**
 * Runs `lines` in order, printing listings to stdout. The switch's event
 * lines (`debug/add port/ep/+`: `3031 port/ep/+ Port 03 FD  7`) go there too,
 * one per line as they come, so a script that keeps stdin open follows them
 * (a monitor piping them to logger), as a console at a terminal shows them.
 *
 * @throws UsageError at the first command that fails ("CMD: 1022 Invalid
 *   argument"), so the CLI prints it and exits 1
 */
async function runBatch(
  remote: RemoteConsole,
  lines: Iterable<string> | AsyncIterable<string>,
  path: string,
  timeoutMs: number,
): Promise<void> {
  remote.client.onEvent = (line) => stdout.event(line);
  const closed: Promise<typeof CLOSED> = remote.client.closed.then(() => CLOSED, () => CLOSED);
  const iterator =
    (Symbol.asyncIterator in lines ? lines[Symbol.asyncIterator]() : lines[Symbol.iterator]()) as
      | AsyncIterator<string>
      | Iterator<string>;
  let shutDown = false;
  for (;;) {
    // A monitor holding stdin open waits here for its next line: a switch that stops meanwhile is said
    // and fails, as at a terminal, where it kept waiting in silence, connected to nothing.
    const next = await Promise.race([iterator.next(), closed]);
    if (next === CLOSED) {
      if (shutDown) break;
      await stdout.flush();
      throw new UsageError(`${path} closed the connection (the switch or lab stopped)`);
    }
    if (next.done) break;
    const line = next.value;
    const stopping = parseLine(line).name === "shutdown" ? localPid(remote, path) : undefined;
    const reply = await executeLine(remote, line);
    if (reply === null) continue;
    if (saysWhy(reply)) {
      // Its words (the lab shell's, on as many lines as it has reasons) go to stderr in place of the code.
      await writeOut(formatForPeople({ ...reply, raw: undefined, code: 0 }));
      throw new UsageError(`${line.trim()}: ${reply.raw!.trim()}`);
    }
    await writeOut(formatForPeople({ ...reply, code: 0 }));
    if (reply.code !== 0) {
      throw new UsageError(
        `${line.trim()}: ${describeFailure(reply)}${await hintFor(remote, line, reply.code)}`,
      );
    }
    if (stopping !== undefined) await waitForExit(stopping, timeoutMs);
    shutDown ||= parseLine(line).name === "shutdown";
    if (reply.endSession) break;
  }
  await stdout.flush(); // the event lines that came after the last reply
}

/**
 * Runs `line` on the remote console. Debian's wirefilter answers `shutdown`
 * by exiting, with no reply: the hang-up that follows it is its success.
 */
async function executeLine(remote: RemoteConsole, line: string): Promise<RemoteReply | null> {
  try {
    return await remote.execute(line);
  } catch (err) {
    if (remote.lab || parseLine(line).name !== "shutdown" || !remote.client.isClosed) throw err;
    return { code: 0, result: "", endSession: true };
  }
}

/**
 * Runs a lab host's command (`exec h1 ping ...`) with the keyboard held, as
 * the lab's own shell does: a key (Ctrl-C) interrupts it in the lab, and
 * its output so far comes back with `(stopped)`; the console goes on.
 */
async function interruptible(repl: Repl, remote: RemoteConsole, line: string): Promise<RemoteReply | null> {
  let reply: RemoteReply | null = null;
  await repl.grabKeyboard(async (keyPressed) => {
    const running = executeLine(remote, line);
    let done = false;
    void keyPressed.then(async () => {
      if (!done) await remote.interrupt();
    });
    try {
      reply = await running;
    } finally {
      done = true;
    }
  });
  return reply;
}

/**
 * The pid of the switch or wirefilter serving the console at `path` when
 * it runs here: the kernel's answer (socket_owner.ts), which holds for
 * Debian's wirefilter too, whose `showinfo` names no pid. None for a lab,
 * whose `shutdown` is a lab's word, not its runner's exit.
 */
function localPid(remote: RemoteConsole, path: string): number | undefined {
  if (remote.lab) return undefined;
  const pid = listenerPid(path);
  return pid !== undefined && processAlive(pid) && mayStopOnShutdown(pid) ? pid : undefined;
}

/**
 * Whether listener `pid` may be what a `shutdown` stops: a vde program, or
 * vde2's wirefilter (whose name says no vde). A relay in between (`ssh -L`
 * of a remote switch's socket, socat) listens for what it relays and stays
 * when that stops: waiting for it would fail a shutdown that worked.
 */
function mayStopOnShutdown(pid: number): boolean {
  return mayBeVde(pid) || /(^|\/)wirefilter$/.test(commandLine(pid)?.[0] ?? "");
}

/**
 * `shutdown` is answered before the switch (or wirefilter) stops: its
 * sockets go at once, but its pid file, its taps and its log's last line
 * only when it exits, about a second later. A script's next step (the same
 * tap, the same pid file, the log as an artifact) needs it gone, so
 * `shutdown` returns then, or fails after the reply timeout saying it still
 * runs.
 */
async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  if (!(await untilExit(pid, timeoutMs))) {
    throw new UsageError(`shutdown: pid ${pid} still runs ${timeoutMs / 1000} s after it`);
  }
}

async function* stdinLines(): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of Deno.stdin.readable) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
  }
  if (pending !== "") yield pending;
}

/** `watch`'s table for the switch reached with `prefix`: "" for the remote itself, "sw1 " for a lab's sw1. */
function remotePortsTable(client: MgmtClient, prefix: string): () => Promise<string[]> {
  return portsTableWithRates(async () => {
    const r = await client.command(`${prefix}port/print`);
    if (r.code !== 0) throw new Error(describeFailure(r));
    return parsePortListing(r.lines ?? []);
  });
}

/** What a console knows of `commands` (and of a lab's switches and hosts, `nodes`), for usage lines and suggestions. */
function knownOf(
  commands: readonly RemoteCommand[],
  helpLine?: string,
  nodes: string[] = [],
  delay?: string,
): KnownCommands {
  return {
    syntax: (p) => commands.find((c) => c.path === p)?.syntax,
    paths: () => [...commands.map((c) => c.path), ...nodes],
    helpLine,
    delay: () => delay,
  };
}

/**
 * A wirefilter's delay now, for the hint on netem's `jitter N` that it failed (1038): read from its
 * `showinfo`, one more round trip, so only then. Undefined elsewhere, or when the console cannot say.
 */
async function delayForJitter(
  remote: RemoteConsole,
  line: string,
  code: number,
): Promise<string | undefined> {
  if (code !== Errno.ENOSYS || parseLine(line).name !== "jitter") return undefined;
  if (!remote.commands().some((c) => c.path === "showinfo")) return undefined;
  try {
    const r = await remote.client.command("showinfo");
    return r.code === 0 ? delayOfShowinfo(r.lines ?? []) : undefined;
  } catch {
    return undefined;
  }
}

/** The interactive console; resolves when the user leaves or the switch hangs up. */
async function runInteractive(remote: RemoteConsole, path: string, timeoutMs: number): Promise<void> {
  const { promise: done, resolve: settle } = Promise.withResolvers<void>();
  // Whether the user (exit, logout, shutdown, a signal) ended the session, not the far side.
  let leaving = false;
  // What a `shutdown` stopped: the shell's next command may need it gone, as a script's does.
  let stopped: number | undefined;
  const resolve = () => {
    leaving = true;
    settle();
  };
  const client = remote.client;
  // `watch [secs]`: of the switch; on a lab, of all its switches, or of one (`sw1 watch`).
  const watch = async (args: string, sw?: string): Promise<string> => {
    const ms = watchInterval(args);
    if (ms === undefined) return "1022 Invalid argument\n";
    const [title, render] = sw !== undefined
      ? [`Port counters of ${sw}`, remotePortsTable(client, `${sw} `)]
      : remote.lab
      ? [
        `Port counters of the lab's switches`,
        tablesByName(() => remote.labSwitches(), (name) => remotePortsTable(client, `${name} `)),
      ]
      : [`Port counters of ${path}`, remotePortsTable(client, "")];
    await watchLoop(repl, title, render, ms);
    return "";
  };
  // On a lab, after `use sw1`, a line that is no lab command nor switch goes to sw1, as in the lab shell.
  let using: string | undefined;
  const prompt = () => `vde[${path}${using === undefined ? "" : `:${using}`}]$ `;
  const direct = async (word: string) =>
    word === "" || remote.commands().some((c) => c.path === word) ||
    (await remote.labSwitches()).includes(word);
  const useSwitch = async (args: string): Promise<string> => {
    const target = parseLine(args).name || undefined;
    if (target !== undefined && !(await remote.labSwitches()).includes(target)) {
      return `no switch ${target} (switches: ${(await remote.labSwitches()).join(", ") || "none"})\n`;
    }
    using = target;
    repl.setPrompt(prompt());
    return "";
  };
  const source = remote.completionSource();
  const repl: Repl = new Repl({
    prompt: prompt(),
    run: async (typed) => {
      const first = parseLine(typed).name;
      if (remote.lab && first === "use") return await useSwitch(parseLine(typed).args);
      const line = using === undefined || await direct(first) ? typed : `${using} ${typed}`;
      const { name, args } = parseLine(line);
      if (name === "watch") return await watch(args);
      const inner = parseLine(args);
      const ofSwitch = remote.lab ? await remote.switchCommands(name) : undefined;
      if (inner.name === "watch" && ofSwitch !== undefined) return await watch(inner.args, name);
      // These end the session from our side: the connection's close that follows is no news. Set
      // before the command runs, as the switch may hang up before its reply is read.
      // `exit` and `quit` are `logout` (RemoteConsole.execute): leaving, not a switch that went away.
      const ending = ["logout", "exit", "quit", "shutdown"].includes(name) || (remote.lab && name === "down");
      if (ending) leaving = true;
      const stopping = name === "shutdown" ? localPid(remote, path) : undefined;
      let reply: RemoteReply | null;
      try {
        reply = await (await remote.mayRunHostCommand(name)
          ? interruptible(repl, remote, line)
          : executeLine(remote, line));
      } catch (err) {
        return `vde term: ${(err as Error).message}\n`;
      }
      if (reply === null) return "";
      // Refused: the session goes on, and a later hang-up is news again.
      if (ending && reply.code !== 0) leaving = false;
      if (stopping !== undefined && reply.code === 0) stopped = stopping;
      if (reply.endSession) resolve();
      // A lab switch's failure is explained with that switch's commands, as the lab shell does.
      if (ofSwitch !== undefined) return formatExplained(args, reply, knownOf(ofSwitch, `${name} help`));
      // The lab's switch and host names only help guess a mistyped command (explainFailure's ENOSYS case).
      const nodes = remote.lab && reply.code === Errno.ENOSYS ? await remote.labCommandNodes() : [];
      const delay = await delayForJitter(remote, line, reply.code);
      return formatExplained(line, reply, knownOf(remote.commands(), undefined, nodes, delay));
    },
    complete: async (line) => {
      if (using === undefined) return await complete(line, source);
      // The used switch's commands, and at the start of the line the lab's too.
      const words = line.trimStart().split(/\s+/);
      if (words.length > 1 && await direct(words[0]!)) return await complete(line, source);
      const [ofSwitch, partial] = await complete(`${using} ${line.trimStart()}`, source);
      if (words.length > 1) return [ofSwitch, partial];
      const [ofLab] = await complete(line, source);
      return [[...new Set([...ofLab, ...ofSwitch])], partial];
    },
    historyFile: historyPath(),
    onQuit: () => resolve(),
    interruptHint: "Ctrl-C again or Ctrl-D leaves vde term",
  });
  client.onEvent = (line) => repl.print(`${line}\n`);
  // A switch (or lab) that stops under the console: say so rather than leave without a word.
  client.closed.then(() => {
    if (!leaving) repl.print(`vde term: ${path} closed the connection (the switch or lab stopped)\n`);
    settle();
  });
  // A hang-up (the terminal went away) or a termination leaves like `exit`: the
  // terminal restored, the session logged out, exit status 0. (Ctrl-C is input here.)
  const removeSignals = onSignals(() => resolve(), ["SIGTERM", "SIGHUP"]);
  await writeOut(`${client.banner.join("\n")}\n\n`);
  repl.start();
  await done;
  removeSignals();
  repl.close();
  if (stopped !== undefined) await waitForExit(stopped, timeoutMs);
}

function kindOf(path: string): "dir" | "socket" | "other" | "missing" | "denied" {
  try {
    const st = Deno.statSync(path);
    return st.isDirectory ? "dir" : st.isSocket ? "socket" : "other";
  } catch (err) {
    return err instanceof Deno.errors.PermissionDenied ? "denied" : "missing";
  }
}

/** A lab's runtime directory: its state file, and its ctl the lab's console. */
function isLabDir(dir: string): boolean {
  return kindOf(`${dir}/${LAB_STATE_FILE}`) === "other" && kindOf(`${dir}/ctl`) === "socket";
}

/**
 * The lab a lab file names in its top-level `name:` line, read as a line
 * (no YAML parser for a console): undefined for any other file, and for a
 * name made of variables (`${LAB:=demo}`), which `vde term` does not expand.
 */
function labNameIn(file: string): string | undefined {
  // As vde up reads one (lab_text.ts): a FIFO here hung vde term, /dev/zero grew it without end.
  const read = readSmallFile(file, MAX_LAB_FILE_BYTES);
  if (typeof read === "string") return undefined;
  const text = read.text;
  if (!/^topology:/m.test(text)) return undefined;
  const name = /^name:[ \t]*(["']?)([^"'\s#]+)\1[ \t]*(#.*)?$/m.exec(text)?.[2];
  return name !== undefined && NAME_PATTERN.test(name) ? name : undefined;
}

/** The control socket of the running lab named `name`, or undefined when there is none. */
function runningLabCtl(name: string): string | undefined {
  if (!NAME_PATTERN.test(name)) return undefined;
  const ctl = `${labDir(name)}/ctl`;
  return kindOf(ctl) === "socket" ? ctl : undefined;
}

/**
 * Where the console of a switch directory without `mgmt` is: elsewhere when
 * the switch was started with --mgmt (ours always has one), else nowhere.
 */
const HOW_TO_GET_ONE =
  "if the switch was started with --mgmt PATH (vde_switch: -M PATH), run `vde term PATH`; else restart it with one";

/** How a refusal of another user's default switch (default_switch.ts) says to open its console on purpose. */
const joinHint = (dir: string): string => `vde term ${dir}`;

/**
 * The switch directory a plug's VNL names, in every form `vde plug` takes
 * (`vde:///tmp/net`, `vde:///tmp/net[3]`, `[port=3]`, `[port=3/mode=660]`,
 * `vde://` for the default switch, and a bare `/tmp/net[3]` that is no file
 * itself); undefined for anything else. The port is the plug's business:
 * the console is the switch's.
 *
 * @throws UsageError for a vde:// VNL that `vde plug` would refuse, with its reason
 */
export function plugSwitchDir(path: string): string | undefined {
  return plugSwitch(path)?.dir;
}

/** As plugSwitchDir, with `unasked` when it is root's system default taken unasked (default_switch.ts). */
function plugSwitch(path: string): { dir: string; unasked?: UnaskedDefault } | undefined {
  const vnl = path.startsWith("vde://");
  if (!vnl && !(/\[[^\]]*\]$/.test(path) && kindOf(path) === "missing")) return undefined;
  try {
    const dir = parseVdeVnl(vnl ? path.slice("vde://".length) : path).path;
    return dir === "" ? defaultSwitch(undefined, undefined, joinHint) : { dir };
  } catch (error) {
    throw new UsageError(`${path}: ${error instanceof Error ? error.message : error}`);
  }
}

/**
 * The management socket `path` means: a switch's socket directory stands
 * for its `mgmt` socket, and so does its `ctl` (the data socket, which
 * speaks no console protocol); without one inside, `DIR.mgmt` beside it,
 * where a lab (and the habit of `-s /tmp/sw -M /tmp/sw.mgmt`) puts it.
 * A running lab's name, or its runtime directory, stands for the lab's
 * control socket: the lab shell's commands, for a lab in the background
 * too. Anything else is taken as given.
 *
 * @throws UsageError when `path` is a switch directory (or its ctl) without
 *   a management socket, saying how to start one
 */
export function resolveConsolePath(path: string): string {
  path = plugSwitchDir(path) ?? path;
  const trimmed = path.replace(/\/+$/, "") || "/";
  const kind = kindOf(trimmed);
  const labCtl = runningLabCtl(trimmed);
  if (kind === "missing" && labCtl !== undefined) return labCtl;
  if (kind === "missing") {
    // A running lab's switch by name (site1, wan/site1): its console beside its socket directory.
    const lab = findLabSwitch(trimmed);
    if (lab.found !== undefined) return `${lab.found.dir}.mgmt`;
    // vde2's habit (`-s /tmp/sw -M /tmp/sw.mgmt`, `unixterm /tmp/sw.mgmt`) for a switch that serves its
    // console inside its directory: DIR.mgmt stands for DIR/mgmt, as DIR stands for DIR.mgmt.
    const inside = trimmed.endsWith(".mgmt")
      ? `${trimmed.slice(0, -".mgmt".length)}/${DEFAULT_MGMT_NAME}`
      : "";
    if (inside !== "" && kindOf(inside) === "socket") return inside;
  }
  if (kind === "other") {
    // A lab file stands for its lab, as in vde status and vde down: `vde term lab.yaml`.
    const named = labNameIn(trimmed);
    const ctl = named === undefined ? undefined : runningLabCtl(named);
    if (ctl !== undefined) return ctl;
    const lab = named === undefined ? "" : `; its lab ${named} is not up (vde up ${path})`;
    throw new UsageError(
      `${path} is a file, not a management socket (vde switch serves DIR/mgmt, vde_switch -M PATH)${lab}`,
    );
  }
  let dir: string | undefined;
  if (kind === "dir") dir = trimmed;
  else if (kind === "socket" && /(^|\/)ctl$/.test(trimmed)) dir = trimmed.replace(/\/?ctl$/, "") || ".";
  if (dir === undefined) return path;
  // A lab's runtime directory: its ctl is the lab's console, not a switch's data socket.
  if (isLabDir(dir)) return `${dir}/ctl`;
  const mgmt = `${dir}/${DEFAULT_MGMT_NAME}`;
  const found = kindOf(mgmt);
  if (found === "socket") return mgmt;
  if (kindOf(`${dir}.mgmt`) === "socket") return `${dir}.mgmt`;
  if (found === "denied") {
    // One shared with a group (--mode 660 --group G) the user is not in: to be added, as vde plug says.
    const member = groupHint(dir);
    if (member !== undefined) throw new UsageError(`cannot look into ${dir}: permission denied: ${member}`);
    // A switch directory is 2700 by default: another user cannot even see whether mgmt is there.
    throw new UsageError(
      `cannot look into ${dir}: permission denied; run vde term as the switch's user (or root)`,
    );
  }
  if (kindOf(`${dir}/ctl`) === "socket") {
    const node = nodeServing(`${dir}/ctl`);
    if (node !== undefined) throw new UsageError(`${path} ${node}`);
    throw new UsageError(
      kind === "dir"
        ? `${dir} is a switch's socket directory without a management socket: ${HOW_TO_GET_ONE}`
        : `${path} is the switch's data socket (for vde_plug and QEMU), not its console: ${HOW_TO_GET_ONE}`,
    );
  }
  // A directory that is no switch's, named as a running lab (the folder holding its lab file): the lab.
  if (labCtl !== undefined) return labCtl;
  throw new UsageError(`${path} is a directory, not a management socket: ${HOW_TO_GET_ONE}`);
}

/**
 * What serves `ctl` when it is a vdeplug4-style node (`vde plug null:// hub:///tmp/h`, Debian's vde_plug
 * alike), in words that end the sentence "PATH ...": such a node has no console, so "restart it with
 * --mgmt" (a switch's advice) was no way forward. Undefined for anything else, or a holder not visible.
 */
export function nodeServing(ctl: string): string | undefined {
  const pid = socketHolderPid(ctl);
  const args = pid === undefined ? null : commandLine(pid);
  const vnl = args?.find((a) => NODE_SCHEMES.some((s) => a.startsWith(`${s}://`)));
  if (pid === undefined || args === null || vnl === undefined) return undefined;
  const program = args.some((a) => /(^|\/)vde_plug$/.test(a)) ? "vde_plug" : "vde plug";
  return `is served by a ${vnl.slice(0, vnl.indexOf(":"))}:// node (${program}, pid ${pid}), which has no ` +
    `console, as vdeplug4's nodes have none: \`vde term\` the switch it joins, or serve a switch there ` +
    `instead (vde switch --sock DIR)`;
}

/** Whether a user of neither its owner nor its group may pass through `dir` (its others' x bit). */
function othersMayEnter(dir: string): boolean {
  try {
    return ((Deno.statSync(dir).mode ?? 0) & 0o001) !== 0;
  } catch {
    return false;
  }
}

/**
 * Why another user may not open a console, and what lets them: the
 * management socket is its owner's alone (mode 600) unless the switch was
 * started with a wider `--mgmtmode`, whatever `--mode` gave its data sockets
 * (a lab's switch: `mgmt_mode`). A lab's own console no option shares.
 * One shared with a group the user is not in says to be added to it.
 */
function deniedConsole(path: string): string {
  const whose = ownerAndMode(path);
  const denied = `permission denied${whose && ` (${whose})`}`;
  const lab = labOfConsole(path);
  if (lab !== undefined) {
    return `${denied}: it is lab ${lab}'s own console, which runs commands as root in its hosts, so its ` +
      `owner's alone: run vde term as that user (or root); a switch its file shares is \`vde term ${lab}/SWITCH\``;
  }
  // Shared with a group (--mgmtmode 660 --mgmtgroup G) the user is not in: to be added, not to restart it.
  // Or the socket is in a directory shared so (a switch's --mode 660 --group G: DIR/mgmt), refused the same.
  // Only where the directory is what refuses: one others may enter (a switch's --mode 666 makes it 3777)
  // lets the user reach the socket, and the socket's own mode refused them.
  const uid = Deno.uid() ?? -1;
  const member = groupHint(path, uid, sessionGroups(), 0o020) ??
    (othersMayEnter(dirOf(path)) ? undefined : groupHint(dirOf(path), uid, sessionGroups()));
  if (member !== undefined) return `permission denied: ${member}`;
  // A directory above the socket's closed to us (another student's runtime directory, 700): the socket is
  // nothing we may see, and no mode of its own would let us in; what `ls -ld` shows of that directory is said.
  const closed = closedAncestor(dirOf(path));
  if (closed !== undefined) {
    return `permission denied: ${closed} (${ownerAndMode(closed)}) does not let you through to it; run vde ` +
      "term as its owner (or root)";
  }
  // A socket not named DIR/mgmt may be a wirefilter's (`-M PATH`), which takes no --mgmtgroup: the teacher
  // who restarted one with it was refused the option.
  return `${denied}: run vde term as that user (or root), or ` +
    (isLabSwitchConsole(path)
      ? "give the switch's node `mgmt_mode: 660` and `group: GROUP` in its lab file"
      : /(^|\/)mgmt$/.test(path)
      ? "start the switch with --mgmtmode 666 (or --mgmtgroup GROUP --mgmtmode 660; vde_switch takes the same options)"
      : "start the switch or wirefilter with --mgmtmode 666 (a switch also takes --mgmtgroup GROUP " +
        "--mgmtmode 660, as vde_switch does)");
}

/**
 * Runs `vde term`.
 *
 * @throws UsageError when the socket cannot be opened or a batch command fails
 */
export async function runTerm(path: string, o: TermOptions, defaulted = false): Promise<void> {
  const timeoutSecs = Number(o.timeout);
  if (!(timeoutSecs > 0)) {
    throw new UsageError(`--timeout must be a positive number of seconds, got "${o.timeout}"`);
  }
  const given = path;
  path = resolveConsolePath(path);
  // No path given: root's commands would go to another user's switch there (default_switch.ts).
  if (defaulted) refuseOthersDefault(given, path, joinHint);
  // Root's default (none given, or vde://'s) is judged again on the socket connected to: the name may lead
  // elsewhere by then, and DIR.mgmt beside root's DIR (looked at when DIR serves none) is anyone's to make.
  const unasked: UnaskedDefault | undefined = (defaulted ? Deno.uid() === 0 : plugSwitch(given)?.unasked)
    ? { name: path, join: joinHint }
    : undefined;
  const judge = unasked === undefined
    ? undefined
    : (uid: number, at: string) => judgeUnasked(unasked, uid, () => ownerAndMode(at));
  let client: MgmtClient;
  try {
    client = await MgmtClient.connect(path, { timeoutMs: timeoutSecs * 1000, judge });
  } catch (err) {
    if (err instanceof OthersDefaultSwitch) throw new UsageError(err.message);
    const roots = err instanceof Deno.errors.NotFound ? rootsLabAnswer(given) : undefined;
    if (roots !== undefined) throw new UsageError(roots);
    // LAB/h1, LAB/nat, LAB/sw1-sw2 (or h1 of one running lab): a node or link that is no switch, which
    // the lab says how to reach.
    const lab = err instanceof Deno.errors.NotFound ? await askLabOf(given) : undefined;
    // h1 of two running labs: which one is the user's to say, not ours to guess.
    const node = lab === undefined ? undefined : isSeveral(lab) ? severalTermLine(lab) : labTermHint(lab);
    if (node !== undefined) throw new UsageError(node);
    // A host of root's lab, named alone by a user who is not root: root's to reach.
    // For root, a host of a user's rootless lab (h1, LAB/h1): whose, and the line as that user.
    const rootsHost = err instanceof Deno.errors.NotFound
      ? rootsHostAnswer(given, (lab) => `vde exec ${lab}/${given}`) ??
        (given.includes("/")
          ? usersNamedHostAnswer(given, (lab, host) => `vde exec ${lab}/${host}`)
          : undefined)
      : undefined;
    if (rootsHost !== undefined) throw new UsageError(rootsHost);
    // A lab's console is there once the lab is up: `vde term LAB` as its `vde up` still brings it up.
    // A lab whose `vde up` is gone left its state (and, if it was up, a socket nothing serves): dead.
    const left = (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.ConnectionRefused) &&
        NAME_PATTERN.test(given)
      ? readState(given)
      : undefined;
    const labState = left === undefined ? undefined : runState(given, left);
    if (left !== undefined && labState === "starting") throw new UsageError(notUpYet(given, left));
    if (left !== undefined && labState === "stopping") throw new UsageError(beingTakenDown(given, left));
    if (left !== undefined && labState === "dead") throw new UsageError(deadLab(given, left));
    const why = err instanceof Deno.errors.NotFound
      ? `no such socket, switch directory or running lab (is the switch running? \`vde switch --sock DIR\` serves DIR/mgmt)${
        nearSwitchClause(given) || nearLabClause(given) || findLabSwitch(given).why
      }${usersLabHint(given)}`
      : err instanceof Deno.errors.ConnectionRefused
      ? "nothing serves it (the switch that made it has stopped)"
      : err instanceof Deno.errors.PermissionDenied
      ? deniedConsole(path)
      : (err as Error).message;
    throw new UsageError(`cannot open the management socket ${path}: ${why}`);
  }
  const remote = new RemoteConsole(client, {
    lab: /\/ctl$/.test(path) && isLabDir(path.slice(0, -"/ctl".length)),
  });
  try {
    if (o.command.length > 0) await runBatch(remote, o.command, path, timeoutSecs * 1000);
    else if (!Deno.stdin.isTerminal()) await runBatch(remote, stdinLines(), path, timeoutSecs * 1000);
    else {
      await remote.learnCommands();
      await runInteractive(remote, path, timeoutSecs * 1000);
    }
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError((err as Error).message);
  } finally {
    // Leave politely: the switch frees the session at once.
    if (!client.isClosed) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        client.command("logout").catch(() => {}),
        new Promise((r) => (timer = setTimeout(r, 500))),
      ]);
      clearTimeout(timer);
    }
    client.close();
  }
}

/** `words` as one shell word, in single quotes (double ones would leave `$` and backquotes to expand). */
function shellQuoted(words: readonly string[]): string {
  return singleQuoted(words.join(" "));
}

/**
 * What to type instead of `vde term PATH -c hub on`: the shell gave `-c`
 * the word `hub` and left `on` over, which commander counts as a second
 * PATH ("too many arguments", with nothing about quoting). `words` is the
 * command line after `term`, `excess` the words after PATH.
 */
export function splitCommandHint(path: string, words: readonly string[], excess: readonly string[]): string {
  for (let i = 0; i + 2 < words.length; i++) {
    if (words[i] !== "-c" && words[i] !== "--command") continue;
    const rest: string[] = [];
    for (let j = i + 2; j < words.length && excess.includes(words[j]!); j++) rest.push(words[j]!);
    if (rest.length > 0) {
      return `-c takes one command: quote it with its arguments, -c ${shellQuoted([words[i + 1]!, ...rest])}`;
    }
  }
  if (words.some((w) => w === "-c" || w.startsWith("--command") || /^-c./.test(w))) {
    return "-c takes one command: quote each with its arguments, -c 'port/print 1'";
  }
  return `console commands go after -c, quoted with their arguments: vde term ${path} -c ${
    shellQuoted(excess)
  }`;
}

/** unixcmd's -s SOCK (vde2's one-shot console client) names the socket that vde term takes as its argument. */
export const withTermHint = unknownOptionHint((name) =>
  name === "s" ? "unixcmd's -s SOCK is the argument here: vde term SOCK -c 'port/print'" : undefined
);

/** Registers `vde term`. */
export const termCommand = (program: Command): void => {
  program.command("term")
    .description("console for a switch's management socket (ours or vde_switch -M), or a running lab's")
    .configureOutput(vdeErrors(withTermHint))
    .argument(
      "[path]",
      "management socket (vde switch --mgmt, vde_switch -M), a switch's socket directory: its DIR/mgmt (or DIR.mgmt), a running lab's name, or a running lab's switch (sw1, LAB/sw1)",
      defaultSock(),
    )
    .option("-c, --command <cmd>", "run CMD and exit (repeatable; exits 1 at the first failure)", collect, [])
    .option("-t, --timeout <secs>", "how long to wait for each reply", "10")
    .addHelpText(
      "after",
      examples(
        "vde term /tmp/net                         # a console on the switch serving /tmp/net",
        "vde term /tmp/net -c port/print -c hub    # run commands and exit",
        "vde term /tmp/vde.mgmt                    # vde_switch -M /tmp/vde.mgmt",
        "vde term demo -c links                    # the lab shell of lab demo (vde up -d)",
      ),
    )
    .allowExcessArguments()
    .action((path: string, opts: TermOptions, command: Command) => {
      const excess = command.args.slice(1);
      if (excess.length > 0) {
        // The line as typed (commander keeps it on the program, untyped): which words followed which -c.
        const words = (command.parent as { rawArgs?: string[] } | null)?.rawArgs ?? [];
        command.error(
          `vde: too many arguments for 'term': ${
            splitCommandHint(path, words.slice(words.indexOf("term") + 1), excess)
          }`,
        );
      }
      return runTerm(path, opts, command.args.length === 0);
    });
};
