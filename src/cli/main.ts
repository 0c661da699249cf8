/**
 * The `vde` command line: one file per subcommand, each exporting a function
 * that registers it on the program. Parsing only; objects are built by the
 * library and started here.
 */
import { Command, CommanderError } from "commander";
import { helpStyle } from "./help.ts";
import { suggestCommands } from "../console/explain.ts";
import { didYouMeanClause } from "../did_you_mean.ts";
import { VERSION } from "../version.ts";
import { vde2ToolHint } from "./vde2_tools.ts";

/** A subcommand module registers itself on the program. */
export type Subcommand = (program: Command) => void;

export { UsageError } from "./usage_error.ts";

/**
 * Ends the command with `code`, printing `message` when there is one (a
 * daemon's parent has already printed the background copy's own lines).
 */
export class ExitStatus extends Error {
  constructor(readonly code: number, message?: string) {
    super(message ?? "");
  }
}

/**
 * Commander's own errors (unknown option, missing argument) as ours are
 * written: `vde: ...`, where commander says `error: ...`, and its guess on
 * the same line, as every "did you mean" of ours is
 * (`vde: unknown option '--sokc' (did you mean --sock?)`), where commander
 * puts `(Did you mean --sock?)` on a line of its own. A subcommand that adds
 * a hint to them passes it as `hint`, which sees the line as commander wrote it.
 */
export function vdeErrors(hint: (text: string) => string = (text) => text): {
  outputError: (text: string, write: (text: string) => void) => void;
} {
  return {
    outputError: (text, write) =>
      write(
        hint(text.replace(/^error: /, "vde: "))
          .replace(/^([^\n]*)\n\(Did you mean ([^\n]*)\)\n/, "$1 (did you mean $2)\n"),
      ),
  };
}

/**
 * A vdeErrors hint that appends, to commander's "unknown option" line, how
 * `lookup` says that option here (its name without dashes, and its value
 * when one was given), when it says anything:
 * `vde: unknown option '-f' (tshark's -f is --filter here)`. Commander's line
 * names the option alone; its value is read from the line (`--interface=3`),
 * from the option's own word (`-i3`) or from the word after it in `argv`
 * (`-i 3`), so the hint can repeat it.
 */
export function unknownOptionHint(
  lookup: (name: string, value: string | undefined) => string | undefined,
  argv: readonly string[] = Deno.args,
): (text: string) => string {
  return (text) => {
    const m = /^(vde: unknown option '(--?)([\w-]+)(.*)')\n/.exec(text);
    if (m === null) return text;
    const [, line, dashes, name, tail] = m as unknown as [string, string, string, string, string];
    // `--file=x.yaml` gives its value after `=`; `-fx.yaml` is -f with its value joined, as getopt reads it.
    const given = tail.startsWith("=") ? tail.slice(1) : undefined;
    if (tail !== "" && given === undefined && dashes !== "-") return text;
    const next = argv[argv.indexOf(`${dashes}${name}`) + 1];
    const after = argv.includes(`${dashes}${name}`) && next !== undefined && !next.startsWith("-")
      ? next
      : undefined;
    const joined = given === undefined && tail !== "";
    const hint = (joined ? undefined : lookup(name, given ?? after)) ??
      (dashes === "-" && name.length + tail.length > 1
        ? lookup(name[0]!, `${name.slice(1)}${tail}`)
        : undefined);
    return hint === undefined ? text : `${line} (${hint})\n${text.slice(m[0].length)}`;
  };
}

/**
 * The line `args` (a vde command line whose first word is an option) as it
 * is written, the command first: `--sock /tmp/net switch` is
 * `vde switch --sock /tmp/net`, since a command's options follow its name.
 * Undefined when no word of `args` is one of `commands`.
 */
export function commandFirst(args: readonly string[], commands: readonly string[]): string | undefined {
  const at = args.findIndex((a) => commands.includes(a));
  if (at < 0) return undefined;
  return `vde ${[args[at]!, ...args.slice(0, at), ...args.slice(at + 1)].join(" ")}`;
}

/** Builds the program with every subcommand registered. */
export function buildProgram(subcommands: Subcommand[]): Command {
  const program = new Command("vde")
    .description("Virtual Distributed Ethernet: switches, plugs and cables in one binary")
    .version(`vde ${VERSION}`, "-v, --version")
    .configureOutput(vdeErrors())
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp(helpStyle)
    .exitOverride()
    // The program's own options come before a command only: `vde wirefilter -v A:B` is wirefilter's -v, not
    // the version, and `vde dpipe cmd -x = ...` passes `-x` on. Set here, not by one command, so it holds
    // whichever commands a line loads (vde.ts).
    .enablePositionalOptions();
  for (const add of subcommands) add(program);
  program.hook("preAction", (_program, action) => refuseEmptyPaths(action));
  return program;
}

/** Option values that name a place (given empty, a path with nothing in it), and what each is called. */
const PATH_VALUE = /<(dir|path|file|vnl)>/;
const PATH_NOUN: Record<string, string> = { dir: "directory", path: "path", file: "file name", vnl: "VNL" };

/**
 * `--sock ''` (an unset shell variable: `--sock "$DIR"`) is refused as
 * commander refuses a missing value, in the same words for every command,
 * rather than failing later as a path with nothing in it.
 */
function refuseEmptyPaths(command: Command): void {
  for (const option of command.options) {
    const kind = PATH_VALUE.exec(option.flags)?.[1];
    if (kind === undefined) continue;
    const value: unknown = command.getOptionValue(option.attributeName());
    if (value === "" || (Array.isArray(value) && value.includes(""))) {
      command.error(
        `vde: option '${option.flags}' is empty: give a ${PATH_NOUN[kind]} (an unset shell variable?)`,
      );
    }
  }
}

/**
 * `message` as one line for people: Deno's file errors end with the call
 * and the path (`No such file or directory (os error 2): open '/x/y'`),
 * which our messages have named already, so that tail goes.
 */
export function forPeople(message: string): string {
  return message.replace(/(\(os error \d+\)): [a-z_]+ '[^']*'( -> '[^']*')?$/, "$1");
}

/**
 * `vde help tap create` as `vde tap create --help`. Commander's own help
 * command looks at its first word only (`vde help tap create` showed tap's
 * help) and answers an unknown one with the whole program's help and status
 * 1, never naming the mistake; here a word that is no command is an error
 * with the nearest names, as `vde swich` is.
 */
function helpAsFlag(program: Command, args: string[]): string[] {
  const [first] = args;
  if (first !== undefined && !first.startsWith("-") && first !== "help" && !isCommand(program, first)) {
    // `vde swtich --help`, `vde vde_switch -h`: commander would show the program's help and exit 0; the
    // unknown command is named instead, with its nearest names or what to type (plainVdeCommand). A vde2
    // program's line keeps the help asked for: `vde vde_switch --help` is answered `vde switch --help`.
    const vde2 = vde2ToolHint(first, args.slice(1));
    if (vde2 !== undefined) program.error(`vde: unknown command '${first}' (${vde2})`);
    return args.filter((a) => a !== "--help" && a !== "-h");
  }
  if (args[0] !== "help" || args.length < 2) return args;
  let command = program;
  const path: string[] = [];
  for (const word of args.slice(1)) {
    if (word.startsWith("-") || word === "help" || command.commands.length === 0) break;
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub === undefined) {
      const near = suggestCommands(word, command.commands.map((c) => c.name()));
      const where = path.length === 0 ? "" : ` of vde ${path.join(" ")}`;
      return command.error(
        `vde: unknown command '${word}'${where}${didYouMeanClause(near)}`,
      );
    }
    command = sub;
    path.push(word);
  }
  return [...path, "--help"];
}

/** Whether `word` names one of `command`'s subcommands (or an alias of one). */
function isCommand(command: Command, word: string): boolean {
  return command.commands.some((c) => c.name() === word || c.aliases().includes(word));
}

/** Runs the CLI with `args`; returns the exit status. */
export async function runCli(subcommands: Subcommand[], args: string[]): Promise<number> {
  const program = buildProgram(subcommands);
  try {
    await program.parseAsync(helpAsFlag(program, args), { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ExitStatus) {
      if (err.message !== "") console.error(`vde: ${forPeople(err.message)}`);
      return err.code;
    }
    const msg = err instanceof Error ? err.message : String(err);
    console.error(`vde: ${forPeople(msg)}`);
    return 1;
  }
}
