/**
 * Debian's vde_plug spellings for `vde plug`, so its users' commands and
 * scripts keep working. vde_plug sets a switch end's port, group and mode
 * with options (`--port 3`, `-g GROUP`, `-m MODE`; `--port2`, `-G`, `-M`
 * for the second end), where a VNL of ours says them in brackets
 * (`/tmp/net[port=3/group=vde/mode=660]`); and it joins a VNL to a command
 * written after `=` (`vde_plug /tmp/net = ssh hostB vde_plug /tmp/net`),
 * which is our `cmd://`. Both are rewritten here: `=` and what follows into
 * one `cmd://` word before the parser sees the arguments (after the empty
 * VNL, the default switch, when none comes before `=`), the options into
 * bracket parameters once the parser has them. vde_plug's daemon and pid
 * file options are every daemon's (program.ts); its syslog options, `-l`
 * and `-L`, say what vde_plug says (plug_log.ts).
 */
import { shellQuoted } from "../shell_quote.ts";
import { NODE_KINDS, type NodeKind } from "../switch/netnode.ts";

/** vde_plug's single-dash long names (`-group vde`), as the parser knows them. */
const SINGLE_DASH: Record<string, string> = {
  "-group": "--group",
  "-group2": "--group2",
  "-mod": "--mod",
  "-mod2": "--mod2",
};

/**
 * `vde plug ... = COMMAND ARGS` as `vde plug ... cmd://COMMAND ARGS` (each
 * word quoted that needs it), and vde_plug's single-dash long options as
 * ours; other commands' arguments unchanged.
 */
export function toPlugArgs(args: string[]): string[] {
  if (args[0] !== "plug") return args;
  const eq = args.indexOf("=");
  const head = eq < 0 ? args : args.slice(0, eq);
  const out = head.map((a) => SINGLE_DASH[a] ?? a);
  if (eq < 0) return out;
  const command = `cmd://${args.slice(eq + 1).map(shellQuoted).join(" ")}`;
  // `vde_plug = COMMAND` (no VNL before it) joins the default switch to the command, as its man page's
  // `dpipe vde_plug = vde_plug /tmp/sw2` does: the empty VNL '' is that switch. Without it the command
  // would be the first end and stdin/stdout the second, joining nothing to the command.
  return hasVnl(out.slice(1)) ? [...out, command] : [...out, "", command];
}

/** `vde plug`'s options that take a value, long and short (program.ts's -p, --pidfile and --logfile too). */
const VALUE_LONG = new Set([
  "--port",
  "--port2",
  "--group",
  "--group2",
  "--mod",
  "--mod2",
  "--descr",
  "--pidfile",
  "--logfile",
]);
const VALUE_SHORT = "gGmMDp";

/** Whether `vde plug`'s arguments `head` (before `=`) name a VNL, not options and their values alone. */
function hasVnl(head: readonly string[]): boolean {
  for (let i = 0; i < head.length; i++) {
    const a = head[i]!;
    if (a === "--") return i + 1 < head.length;
    if (a.startsWith("--")) {
      if (VALUE_LONG.has(a)) i++;
    } else if (a.startsWith("-") && a !== "-") {
      // A cluster of short flags (`-dp FILE`, `-gvde`): a letter taking a value takes the rest, or the next word.
      const letters = a.slice(1);
      const at = [...letters].findIndex((c) => VALUE_SHORT.includes(c));
      if (at === letters.length - 1) i++;
    } else return true;
  }
  return false;
}

/** vde_plug's port, group and mode options for one end. */
export interface SwitchEndOptions {
  port?: string;
  group?: string;
  mode?: string;
}

/**
 * `vnl` with vde_plug's options for it as bracket parameters
 * (`/tmp/net` with port 3: `/tmp/net[port=3]`; `/tmp/net[mode=660]` with
 * group vde: `/tmp/net[mode=660/group=vde]`). `which` names the options in
 * the error for an end that is no switch.
 *
 * A node's end (`hub://PATH`) takes the group and mode as `grp=` and `mode=`,
 * vdeplug4's defaults for its directory that the VNL's own brackets override.
 *
 * @throws Error when options are given for an end that is not a vde:// switch or a node
 */
export function withSwitchOptions(vnl: string, o: SwitchEndOptions, which: string): string {
  const node = /^([a-z]+):\/\//.exec(vnl)?.[1];
  if (NODE_KINDS.includes(node as NodeKind)) return withNodeOptions(vnl, o, which);
  const params = ([["port", o.port], ["group", o.group], ["mode", o.mode]] as const)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  if (params.length === 0) return vnl;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(vnl)?.[1];
  if ((scheme !== undefined && scheme !== "vde") || vnl === "-") {
    throw new Error(`${which} set a switch port's options, and ${vnl} is not a switch (vde://DIR or DIR)`);
  }
  const open = vnl.endsWith("]") ? vnl.lastIndexOf("[") : -1;
  if (open < 0) return `${vnl}[${params.join("/")}]`;
  const inside = vnl.slice(open + 1, -1);
  // vdeplug's `[3]` is the port alone: written out, so more parameters can follow it.
  const first = /^\d+$/.test(inside) ? `port=${inside}` : inside;
  return `${vnl.slice(0, open)}[${[first, ...params].filter((p) => p !== "").join("/")}]`;
}

/** `vnl`, a node's, with vde_plug's group and mode for it ahead of its own bracket parameters. */
function withNodeOptions(vnl: string, o: SwitchEndOptions, which: string): string {
  if (o.port !== undefined) {
    throw new Error(
      `${which} set a switch port's options, and ${vnl} serves a node of its own: its clients get ports, ` +
        "it takes a group and a mode only",
    );
  }
  const params = ([["grp", o.group], ["mode", o.mode]] as const)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  if (params.length === 0) return vnl;
  const open = vnl.endsWith("]") ? vnl.indexOf("[") : -1;
  if (open < 0) return `${vnl}[${params.join("/")}]`;
  const inside = vnl.slice(open + 1, -1);
  return `${vnl.slice(0, open)}[${[...params, inside].filter((p) => p !== "").join("/")}]`;
}
