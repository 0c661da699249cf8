/**
 * The `vde` executable: every subcommand on one program. `deno task vde` and
 * `deno task compile` run this file; the library (mod.ts) does not import
 * it, so a library user loads neither commander nor any subcommand.
 */
import { runCli, type Subcommand } from "./main.ts";
import { cableCommand } from "./cable.ts";
import { captureCommand } from "./capture.ts";
import { dpipeCommand } from "./dpipe.ts";
import { plugCommand } from "./plug.ts";
import { slirpCommand } from "./slirp.ts";
import { switchCommand } from "./switch.ts";
import { tapCommand } from "./tap.ts";
import { termCommand } from "./term.ts";
import { toLongOptions } from "./vde_switch_args.ts";
import { toPlugArgs } from "./vde_plug_args.ts";
import { toSlirpLongOptions } from "./slirpvde_flags.ts";
import { wirefilterCommand } from "./wirefilter.ts";
import { labCommand, plainVdeCommand } from "./lab.ts";
import { graphCommand } from "./graph.ts";
import { exampleCommand } from "./example.ts";

/** The subcommands, in the order `vde --help` lists them. */
export const vdeSubcommands: readonly Subcommand[] = [
  switchCommand,
  plugCommand,
  dpipeCommand,
  tapCommand,
  termCommand,
  cableCommand,
  slirpCommand,
  wirefilterCommand,
  captureCommand,
  labCommand,
  graphCommand,
  exampleCommand,
  // Last: what plain `vde` does, whose settings the subcommands made after it would copy.
  plainVdeCommand,
];

/** Runs `vde ARGS` and exits with its status. */
export async function main(args: string[]): Promise<never> {
  Deno.exit(await runCli([...vdeSubcommands], toSlirpLongOptions(toPlugArgs(toLongOptions(args)))));
}

if (import.meta.main) await main(Deno.args);
