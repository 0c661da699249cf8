/** Every `vde` subcommand, in the order `vde --help` lists them. */
import { cableCommand } from "./cable.ts";
import { dpipeCommand } from "./dpipe.ts";
import type { Subcommand } from "./main.ts";
import { plugCommand } from "./plug.ts";
import { slirpCommand } from "./slirp.ts";
import { switchCommand } from "./switch.ts";
import { tapCommand } from "./tap.ts";
import { termCommand } from "./term.ts";
import { wirefilterCommand } from "./wirefilter.ts";

export const SUBCOMMANDS: readonly Subcommand[] = [
  switchCommand,
  plugCommand,
  dpipeCommand,
  tapCommand,
  termCommand,
  cableCommand,
  slirpCommand,
  wirefilterCommand,
];
