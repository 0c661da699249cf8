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
import { formatExplained, type KnownCommands, suggestCommands } from "../console/explain.ts";
import { historyPath } from "../console/history.ts";
import { RemoteConsole } from "../console/switch/remote_console.ts";
import { Errno, formatForPeople } from "../console/reply_format.ts";
import { Repl } from "../console/repl.ts";
import { parseLine } from "../console/registry.ts";
import { parseInteger } from "../console/args.ts";
import { parsePortListing } from "../console/switch/listings.ts";
import { portsTableWithRates } from "../console/switch/tables.ts";
import { watchLoop } from "../console/watch.ts";
import { UsageError } from "./main.ts";
import { examples } from "./help.ts";
import { DEFAULT_MGMT_NAME } from "../console/mgmt_server.ts";
import { onSignals } from "./signals.ts";
import { labDir, NAME_PATTERN } from "../lab/names.ts";
import { LAB_STATE_FILE } from "../lab/state.ts";

/** Parsed options of `vde term`. */
export interface TermOptions {
  command: string[];
  timeout: string;
}

const encoder = new TextEncoder();

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function writeOut(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += await Deno.stdout.write(bytes.subarray(off));
}

/**
 * Runs `lines` in order, printing listings to stdout.
 *
 * @throws UsageError at the first command that fails ("CMD: 1022 Invalid
 *   argument"), so the CLI prints it and exits 1
 */
async function runBatch(
  remote: RemoteConsole,
  lines: Iterable<string> | AsyncIterable<string>,
): Promise<void> {
  for await (const line of lines) {
    const reply = await remote.execute(line);
    if (reply === null) continue;
    const text = formatForPeople({ ...reply, code: 0 });
    // A failure that says why in one line (the lab shell's do) is that line on stderr, in place of the code.
    if (reply.code !== 0 && /^[^\n]+\n$/.test(text)) throw new UsageError(`${line.trim()}: ${text.trim()}`);
    await writeOut(text);
    if (reply.code !== 0) {
      let hint = "";
      if (reply.code === Errno.ENOSYS) {
        // A typo in a script: the nearest commands, as the interactive console names them.
        await remote.learnCommands();
        const name = parseLine(line).name;
        // Not the command itself: an emulated one (ports) that the remote cannot back is no typo.
        const near = suggestCommands(name, remote.commands().map((c) => c.path)).filter((p) => p !== name);
        if (near.length > 0) hint = ` (did you mean ${near.join(", ")}?)`;
      }
      throw new UsageError(`${line.trim()}: ${describeFailure(reply)}${hint}`);
    }
    if (reply.endSession) break;
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

/** The interactive console; resolves when the user leaves or the switch hangs up. */
async function runInteractive(remote: RemoteConsole, path: string): Promise<void> {
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const client = remote.client;
  const watch = async (args: string): Promise<string> => {
    const secs = args === "" ? 1 : parseInteger(args);
    if (secs === undefined || secs < 1 || secs > 3600) return "1022 Invalid argument\n";
    const render = portsTableWithRates(async () => {
      const r = await client.command("port/print");
      if (r.code !== 0) throw new Error(describeFailure(r));
      return parsePortListing(r.lines ?? []);
    });
    await watchLoop(repl, `Port counters of ${path}`, render, secs * 1000);
    return "";
  };
  const known: KnownCommands = {
    syntax: (p) => remote.commands().find((c) => c.path === p)?.syntax,
    paths: () => remote.commands().map((c) => c.path),
  };
  const repl: Repl = new Repl({
    prompt: `vde[${path}]$ `,
    run: async (line) => {
      const { name, args } = parseLine(line);
      if (name === "watch") return await watch(args);
      let reply: RemoteReply | null;
      try {
        reply = await remote.execute(line);
      } catch (err) {
        return `vde term: ${(err as Error).message}\n`;
      }
      if (reply === null) return "";
      if (reply.endSession) resolve();
      return formatExplained(line, reply, known);
    },
    complete: (line) => complete(line, remote.completionSource()),
    historyFile: historyPath(),
    onQuit: () => resolve(),
    interruptHint: "Ctrl-C again or Ctrl-D leaves vde term",
  });
  client.onEvent = (line) => repl.print(`${line}\n`);
  client.closed.then(() => resolve());
  // A hang-up (the terminal went away) or a termination leaves like `exit`: the
  // terminal restored, the session logged out, exit status 0. (Ctrl-C is input here.)
  const removeSignals = onSignals(() => resolve(), ["SIGTERM", "SIGHUP"]);
  await writeOut(`${client.banner.join("\n")}\n\n`);
  repl.start();
  await done;
  removeSignals();
  repl.close();
}

function kindOf(path: string): "dir" | "socket" | "other" | "missing" | "denied" {
  try {
    const st = Deno.statSync(path);
    return st.isDirectory ? "dir" : st.isSocket ? "socket" : "other";
  } catch (err) {
    return err instanceof Deno.errors.PermissionDenied ? "denied" : "missing";
  }
}

/**
 * Where the console of a switch directory without `mgmt` is: elsewhere when
 * the switch was started with --mgmt (ours always has one), else nowhere.
 */
const HOW_TO_GET_ONE =
  "if the switch was started with --mgmt PATH (vde_switch: -M PATH), run `vde term PATH`; else restart it with one";

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
  const trimmed = path.replace(/\/+$/, "") || "/";
  const kind = kindOf(trimmed);
  if (kind === "missing" && NAME_PATTERN.test(trimmed) && kindOf(`${labDir(trimmed)}/ctl`) === "socket") {
    return `${labDir(trimmed)}/ctl`;
  }
  if (kind === "other") {
    throw new UsageError(
      `${path} is a file, not a management socket (vde switch serves DIR/mgmt, vde_switch -M PATH)`,
    );
  }
  let dir: string | undefined;
  if (kind === "dir") dir = trimmed;
  else if (kind === "socket" && /(^|\/)ctl$/.test(trimmed)) dir = trimmed.replace(/\/?ctl$/, "") || ".";
  if (dir === undefined) return path;
  // A lab's runtime directory: its ctl is the lab's console, not a switch's data socket.
  if (kindOf(`${dir}/${LAB_STATE_FILE}`) === "other" && kindOf(`${dir}/ctl`) === "socket") {
    return `${dir}/ctl`;
  }
  const mgmt = `${dir}/${DEFAULT_MGMT_NAME}`;
  const found = kindOf(mgmt);
  if (found === "socket") return mgmt;
  if (kindOf(`${dir}.mgmt`) === "socket") return `${dir}.mgmt`;
  if (found === "denied") {
    // A switch directory is 2700 by default: another user cannot even see whether mgmt is there.
    throw new UsageError(
      `cannot look into ${dir}: permission denied; run vde term as the switch's user (or root)`,
    );
  }
  if (kindOf(`${dir}/ctl`) === "socket") {
    throw new UsageError(
      kind === "dir"
        ? `${dir} is a switch's socket directory without a management socket: ${HOW_TO_GET_ONE}`
        : `${path} is the switch's data socket (for vde_plug and QEMU), not its console: ${HOW_TO_GET_ONE}`,
    );
  }
  throw new UsageError(`${path} is a directory, not a management socket: ${HOW_TO_GET_ONE}`);
}

/**
 * Runs `vde term`.
 *
 * @throws UsageError when the socket cannot be opened or a batch command fails
 */
export async function runTerm(path: string, o: TermOptions): Promise<void> {
  const timeoutSecs = Number(o.timeout);
  if (!(timeoutSecs > 0)) {
    throw new UsageError(`--timeout must be a positive number of seconds, got "${o.timeout}"`);
  }
  path = resolveConsolePath(path);
  let client: MgmtClient;
  try {
    client = await MgmtClient.connect(path, { timeoutMs: timeoutSecs * 1000 });
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "no such socket, switch directory or running lab (is the switch running? `vde switch --sock DIR` serves DIR/mgmt)"
      : err instanceof Deno.errors.ConnectionRefused
      ? "nothing serves it (the switch that made it has stopped)"
      : (err as Error).message;
    throw new UsageError(`cannot open the management socket ${path}: ${why}`);
  }
  const remote = new RemoteConsole(client);
  try {
    if (o.command.length > 0) await runBatch(remote, o.command);
    else if (!Deno.stdin.isTerminal()) await runBatch(remote, stdinLines());
    else {
      await remote.learnCommands();
      await runInteractive(remote, path);
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

/** Registers `vde term`. */
export const termCommand = (program: Command): void => {
  program.command("term")
    .description("console for a switch's management socket (ours or vde_switch -M), or a running lab's")
    .argument(
      "<path>",
      "management socket (vde switch --mgmt, vde_switch -M), a switch's socket directory: its DIR/mgmt (or DIR.mgmt), or a running lab's name",
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
    .action((path: string, opts: TermOptions) => runTerm(path, opts));
};
