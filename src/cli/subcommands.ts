/**
 * Every subcommand of `vde`, in the order `vde --help` lists them. Loading
 * this file loads every command's code (commander, the lab's YAML, the
 * slirp stack, the web server...): vde.ts loads it only when the command
 * line names no one command (`vde`, `vde --help`, `vde help switch`, a
 * mistyped name); a named command loads its own module alone.
 */
import type { Subcommand } from "./main.ts";
import { cableCommand } from "./cable.ts";
import { captureCommand } from "./capture.ts";
import { dpipeCommand } from "./dpipe.ts";
import { plugCommand } from "./plug.ts";
import { slirpCommand } from "./slirp.ts";
import { switchCommand } from "./switch.ts";
import { tapCommand } from "./tap.ts";
import { termCommand } from "./term.ts";
import { wirefilterCommand } from "./wirefilter.ts";
import { labCommand, plainVdeCommand } from "./lab.ts";
import { graphCommand } from "./graph.ts";
import { exampleCommand } from "./example.ts";
import { execCommand } from "./exec.ts";

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
  execCommand,
  graphCommand,
  exampleCommand,
  // Last: what plain `vde` does, whose settings the subcommands made after it would copy.
  plainVdeCommand,
];
