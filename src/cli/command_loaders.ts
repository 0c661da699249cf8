/**
 * Which subcommands a `vde` command line loads, and running that line
 * (vde.ts, the executable, loads this once it listens for SIGINT).
 *
 * A command line that names a command (`vde switch ...`, `vde up ...`)
 * loads that command's module alone: every module loaded stays in the
 * process's memory for its life, and a switch that also held the lab's
 * YAML and schema code, the wirefilter and the capture client paid about
 * 5 MiB of RSS for them (README, Benchmarks). Anything else (`vde`,
 * `vde --help`, `vde help X`, a mistyped name) loads every command
 * (subcommands.ts), which the help and the nearest-name answers need.
 */
import { exitProcess } from "../console/job_control.ts";
import { runCli, type Subcommand } from "./main.ts";
import { toLongOptions } from "./vde_switch_args.ts";
import { toPlugArgs } from "./vde_plug_args.ts";
import { toSlirpLongOptions } from "./slirpvde_flags.ts";
import { toWirefilterLongOptions } from "./wirefilter_args.ts";

const labCommands = async (): Promise<Subcommand[]> => [(await import("./lab.ts")).labCommand];
const allCommands = async (): Promise<Subcommand[]> => [...(await import("./subcommands.ts")).vdeSubcommands];

/**
 * Each command name to the subcommand that registers it; test/cli/vde.test.ts
 * checks that the table names every command of subcommands.ts and that each
 * loader registers the name it is listed under.
 */
export const commandLoaders: Readonly<Record<string, () => Promise<Subcommand[]>>> = {
  switch: async () => [(await import("./switch.ts")).switchCommand],
  plug: async () => [(await import("./plug.ts")).plugCommand],
  dpipe: async () => [(await import("./dpipe.ts")).dpipeCommand],
  tap: async () => [(await import("./tap.ts")).tapCommand],
  term: async () => [(await import("./term.ts")).termCommand],
  cable: async () => [(await import("./cable.ts")).cableCommand],
  slirp: async () => [(await import("./slirp.ts")).slirpCommand],
  wirefilter: async () => [(await import("./wirefilter.ts")).wirefilterCommand],
  capture: async () => [(await import("./capture.ts")).captureCommand],
  up: labCommands,
  down: labCommands,
  status: labCommands,
  exec: async () => [(await import("./exec.ts")).execCommand],
  // Its scripts name every command and option: it reads them off the whole program.
  completions: allCommands,
  graph: async () => [(await import("./graph.ts")).graphCommand],
  example: async () => [(await import("./example.ts")).exampleCommand],
};

/** The subcommands `args` (translated) needs: its command's alone, or all of them. */
export async function subcommandsFor(args: readonly string[]): Promise<Subcommand[]> {
  const first = args[0];
  const load = first === undefined || !Object.hasOwn(commandLoaders, first)
    ? undefined
    : commandLoaders[first];
  return await (load ?? allCommands)();
}

/** Runs `vde ARGS` and exits with its status. */
export async function runVde(args: string[]): Promise<never> {
  const line = toWirefilterLongOptions(toSlirpLongOptions(toPlugArgs(toLongOptions(args))));
  exitProcess(await runCli(await subcommandsFor(line), line));
}
