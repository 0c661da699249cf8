/**
 * The lab shell at a terminal: one REPL for the whole lab, on the switch
 * console's readline prompt (history, Emacs keys, Ctrl-C twice to quit).
 *
 * Lines run in the lab registry (`commands.ts`); after `use sw1`, a line
 * whose first word is no lab command or node goes to sw1's console. Tab
 * completes commands, node names, link names and a switch's commands, by
 * position in the line.
 */
import { formatExplained, type KnownCommands } from "../console/explain.ts";
import { historyPath } from "../console/history.ts";
import type { CommandRegistry } from "../console/registry.ts";
import { Errno, type Reply } from "../console/reply_format.ts";
import { Repl } from "../console/repl.ts";
import { TerminalSession } from "../console/terminal_session.ts";
import { tablesByName, watchInterval, watchLoop } from "../console/watch.ts";
import { portsTableWithRates } from "../console/switch/tables.ts";
import { portViews } from "../console/switch/views.ts";
import type { LabRunner } from "./runner.ts";
import { execRefusal, hostCommandOf, isLabCommand } from "./commands.ts";

const LINK_WORDS = [
  "down",
  "up",
  "clear",
  "loss",
  "delay",
  "jitter",
  "dup",
  "rate",
  "mtu",
  "limit",
  "vlan",
  "trunk",
];
const ADD_WORDS = ["switch", "host", "slirp", "cable", "link"];

/** Candidates for the word being typed at the end of `line`. */
export function completeLabLine(
  line: string,
  r: LabRunner,
  commands: CommandRegistry,
  using?: string,
): [string[], string] {
  const words = line.split(/\s+/);
  const current = words.pop() ?? "";
  while (words.length > 0 && words[0] === "") words.shift();
  const nodes = r.lab.nodes.map((n) => n.name);
  const links = () => r.links.flatMap((l) => [l.name, shortName(l.spec.ends)]);
  const switchCommands = (name: string) => [...r.switches.get(name)?.commands.commandPaths() ?? [], "watch"];
  let pool: string[];
  if (words.length === 0) {
    // A removed node's name stays a command (it says the node is gone) but is offered no more.
    const live = commands.commandPaths().filter((p) =>
      isLabCommand(p) || r.switches.has(p) || r.hosts.has(p)
    );
    pool = [...live, "watch", ...(using ? switchCommands(using) : [])];
  } else {
    const [first] = words;
    const n = words.length;
    if (r.switches.has(first!)) pool = n === 1 ? switchCommands(first!) : [];
    else if (first === "exec") pool = n === 1 ? [...r.hosts.keys()] : [];
    else if (first === "use") pool = n === 1 ? [...r.switches.keys()] : [];
    else if (first === "capture") {
      // What a capture records: a switch, a host (at its switch port) or a link.
      pool = n === 1 ? [...r.switches.keys(), ...r.hosts.keys(), ...links()] : [];
    } else if (first === "del") {
      pool = n === 1 ? [...nodes, ...links()] : [];
    } else if (first === "link") {
      pool = n === 1 ? links() : LINK_WORDS;
    } else if (first === "add") pool = n === 1 ? ADD_WORDS : words[1] === "link" && n <= 3 ? nodes : [];
    else pool = [];
  }
  const hits = [...new Set(pool)].filter((c) => c.startsWith(current)).sort();
  return [hits.map((h) => hits.length === 1 ? `${h} ` : h), current];
}

function shortName(ends: readonly { node: string }[]): string {
  return `${ends[0]!.node}-${ends[1]!.node}`;
}

/** How long output may still arrive after an `exec` command has ended. */
const OUTPUT_GRACE_MS = 300;

/**
 * Runs `command` in namespace `ns` with its output streamed to the
 * terminal; any key (Ctrl-C included) stops it.
 */
async function execLive(repl: Repl, ns: string, command: string): Promise<string> {
  // Its own process group (setsid), so the stop reaches every process the command started.
  const child = new Deno.Command("setsid", {
    args: ["ip", "netns", "exec", ns, "sh", "-c", command],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  // After the grace the output is still read, to EOF, but no longer printed: closing the pipe
  // instead would kill a process the command left running (`ping ... &`) with SIGPIPE at its next write.
  let quiet = false;
  const pump = async (reader: ReadableStreamDefaultReader<Uint8Array>) => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      if (!quiet) repl.print(decoder.decode(value, { stream: true }));
    }
  };
  const pumping = Promise.all([child.stdout.getReader(), child.stderr.getReader()].map(pump));
  // A process the command left running (`iperf3 -s &`) keeps the output open: once the command has
  // ended, what it wrote within the grace is printed and the rest of that process's output is let go.
  const drained = async () => {
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([pumping, new Promise((r) => grace = setTimeout(r, OUTPUT_GRACE_MS))]);
    clearTimeout(grace);
    quiet = true;
  };
  await repl.grabKeyboard(async (keyPressed) => {
    const done = child.status.then(() => "done" as const);
    if (await Promise.race([done, keyPressed.then(() => "key" as const)]) === "key") {
      const signalGroup = (signal: Deno.Signal) => {
        try {
          Deno.kill(-child.pid, signal);
        } catch { /* ended meanwhile */ }
      };
      signalGroup("SIGINT");
      const late = setTimeout(() => signalGroup("SIGKILL"), 2000);
      await done;
      clearTimeout(late);
      await drained();
      repl.print("(stopped)\n");
      return;
    }
    // Everything is printed while the keyboard is held, so the prompt comes after it.
    const status = await child.status;
    await drained();
    if (status.code !== 0) repl.print(`(exit status ${status.code})\n`);
  });
  return "";
}

/** `watch` in the shell: one switch's port counters with their rates, or every switch's. */
async function watchSwitches(
  repl: Repl,
  r: LabRunner,
  sw: string | undefined,
  args: string,
): Promise<string> {
  const ms = watchInterval(args);
  if (ms === undefined) return "usage: watch [secs] or SWITCH watch [secs], secs 1-3600\n";
  const tableOf = (name: string) =>
    portsTableWithRates(() => {
      const s = r.switches.get(name);
      if (s === undefined) throw new Error(`switch ${name} is gone`);
      return Promise.resolve(portViews(s.ctx, false));
    }, true);
  if (sw !== undefined) await watchLoop(repl, `Port counters of ${sw}`, tableOf(sw), ms);
  else {
    const names = () => Promise.resolve([...r.switches.keys()]);
    await watchLoop(repl, "Port counters of the lab's switches", tablesByName(names, tableOf), ms);
  }
  return "";
}

function known(registry: CommandRegistry, helpLine = "help"): KnownCommands {
  return { syntax: (p) => registry.lookup(p)?.syntax, paths: () => registry.commandPaths(), helpLine };
}

/**
 * A reply as the shell prints it. A failure that says why in words (`no
 * host h9`) is just those words, without the protocol's `1022 Invalid
 * argument` under them; a bare failure is explained as a console does
 * (`hub: Invalid argument (1022)` and its usage, or "did you mean"), with
 * the commands of the switch the line went to, or the lab's own.
 */
export function formatShellReply(
  line: string,
  reply: Reply,
  switches: ReadonlyMap<string, { commands: CommandRegistry }>,
  commands: CommandRegistry,
): string {
  const [first = "", ...rest] = line.trim().split(/\s+/);
  const sw = switches.get(first);
  if (sw !== undefined) return formatExplained(rest.join(" "), reply, known(sw.commands, `${first} help`));
  return formatExplained(line, reply, known(commands));
}

/**
 * The shell's `capture ARGS` (cli/shell_capture.ts): runs until `stop`
 * settles (a key) or it ends itself, its output printed by `print`;
 * resolves with its last words.
 */
export type ShellCapture = (
  args: string,
  print: (text: string) => void,
  stop: Promise<void>,
) => Promise<string>;

/** A running shell; `close` gives the terminal back. */
export interface LabShell {
  close(): void;
}

/**
 * Starts the shell on the terminal; `onQuit` is Ctrl-D or a second Ctrl-C.
 * Without `capture`, its `capture` line is the console's, which says the
 * `vde capture` line to run beside it.
 */
export function startLabShell(
  r: LabRunner,
  commands: CommandRegistry,
  onQuit: () => void,
  onSuspend?: () => void,
  capture?: ShellCapture,
): LabShell {
  const session = new TerminalSession(commands);
  let using: string | undefined;
  const prompt = () => `lab[${r.lab.name}${using ? ":" + using : ""}]$ `;
  const repl: Repl = new Repl({
    prompt: prompt(),
    run: async (line) => {
      // Before the line (`vde term` may have removed it meanwhile) and after (the line's own `del`).
      leaveGoneSwitch();
      try {
        return await runLine(line);
      } finally {
        leaveGoneSwitch();
      }
    },
    complete: (line) => Promise.resolve(completeLabLine(line, r, commands, using)),
    historyFile: historyPath(),
    onQuit: () => onQuit(),
    interruptHint: "Ctrl-C again or `down` takes the lab down",
    onSuspend,
  });
  /** The switch in use was removed (`del`, `apply`): lines go to the lab again. */
  const leaveGoneSwitch = () => {
    if (using === undefined || r.switches.has(using)) return;
    using = undefined;
    repl.setPrompt(prompt());
  };
  const runLine = async (line: string): Promise<string> => {
    const words = line.trim().split(/\s+/);
    if (words[0] === "use") {
      const target = words[1];
      if (target !== undefined && !r.switches.has(target)) return `no switch ${target}\n`;
      using = target;
      repl.setPrompt(prompt());
      return "";
    }
    // `watch [secs]`: every switch's port counters (the `use`d one's); `sw1 watch [secs]`: sw1's.
    const watched = words[0] === "watch" ? using : words[0];
    if (words[0] === "watch" || (r.switches.has(words[0]!) && words[1] === "watch")) {
      return await watchSwitches(repl, r, watched, words.slice(words[0] === "watch" ? 1 : 2).join(" "));
    }
    if (words[0] === "capture" && capture !== undefined) {
      await r.settled();
      let last = "";
      await repl.grabKeyboard(async (keyPressed) => {
        last = await capture(line.trim().slice("capture".length), (text) => repl.print(text), keyPressed);
      });
      return last;
    }
    // After the change under way (an apply from another console), as the console's `exec` (runner.settled).
    if (hostCommandOf(line, r.hosts) !== undefined) await r.settled();
    const run = hostCommandOf(line, r.hosts);
    if (run !== undefined) {
      const { ns } = r.hosts.get(run.host)!;
      const refused = execRefusal(r.lab.name, run.host, run.command);
      if (refused !== undefined) return `${refused}\n`;
      return await execLive(repl, ns, run.command);
    }
    const first = words[0] ?? "";
    const direct = first === "" || commands.lookup(first) !== undefined;
    const target = direct || using === undefined ? line : `${using} ${line}`;
    const reply = await commands.execute(target, session);
    if (reply === null) return "";
    reply.afterSend?.();
    // The lab's registry answers a program's line with its host's (program_hint.ts): said alone here.
    const program = reply.code === Errno.ENOSYS && target === line ? reply.raw : undefined;
    return program ?? formatShellReply(target, reply, r.switches, commands);
  };
  session.repl = repl;
  repl.start();
  return { close: () => repl.close() };
}
