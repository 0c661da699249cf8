/**
 * The top-level commands: `ds/showinfo`, `help`, `logout`, `shutdown`,
 * `showinfo`, `load` (spec 5.2), with vde_switch's names, help texts and
 * output lines.
 */
import { VERSION } from "../version.ts";
import type { ConsoleContext } from "./context.ts";
import { type CommandRegistry, fail, listing, ok, type Session } from "./registry.ts";
import { BANNER_LINES, Errno, type Reply } from "./reply_format.ts";

/** Deepest nesting of `load` inside `load`, so a script that loads itself ends. */
export const MAX_LOAD_DEPTH = 8;
/** Largest script `load` reads, so a mistaken path (a disk image) cannot eat memory. */
export const MAX_SCRIPT_BYTES = 1 << 20;

const HELP_HEADER = [
  helpRow("COMMAND PATH", "SYNTAX", "HELP"),
  helpRow("------------", "--------------", "------------"),
];

function helpRow(path: string, syntax: string, help: string): string {
  return `${path.padEnd(18)} ${syntax.padEnd(15)} ${help}`;
}

function octalMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/** Registers `ds/showinfo` (menu `ds`). */
export function addDataSocketCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  registry.menu("ds", "DATA SOCKET MENU");
  registry.add({
    path: "ds/showinfo",
    syntax: "",
    help: "show ds info",
    listing: true,
    run: () => {
      const ds = ctx.dataSocket;
      if (ds === undefined) return listing([], Errno.ENXIO);
      return listing([`ctl dir ${ds.dir}`, `std mode ${octalMode(ds.mode)}`]);
    },
  });
}

/** Registers `help`, `logout`, `shutdown`, `showinfo` and `load`. */
export function addCoreCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  registry.add({
    path: "help",
    syntax: "[arg]",
    help: "Help (limited to arg when specified)",
    listing: true,
    run: (args, session) => {
      const rows = session.commands.entries()
        .filter((e) => e.path.startsWith(args))
        .map((e) => helpRow(e.path, e.menu ? "============" : e.syntax, e.help));
      return listing([...HELP_HEADER, ...rows]);
    },
  });
  addSessionEndCommands(registry, ctx, {
    logout: "logout from this mgmt terminal",
    shutdown: "shutdown of the switch",
  });
  registry.add({
    path: "showinfo",
    syntax: "",
    help: "show switch version and info",
    listing: true,
    run: () => {
      const lines = [
        ...BANNER_LINES,
        `vde ${VERSION} on Deno ${Deno.version.deno}`,
        "",
        `pid ${Deno.pid} MAC ${ctx.mac} uptime ${ctx.uptimeSeconds()}`,
      ];
      if (ctx.mgmt !== undefined) lines.push(`mgmt ${ctx.mgmt.path} perm ${octalMode(ctx.mgmt.mode)}`);
      return listing(lines);
    },
  });
  registry.add({
    path: "load",
    syntax: "path",
    help: "load a configuration script",
    listing: false,
    run: (args, session) => loadScript(args, session),
  });
}

/** What `shutdown` needs of the program it stops. */
export interface ShutdownTarget {
  /** False where nothing may stop the program (answered EOPNOTSUPP). */
  readonly canShutdown: boolean;
  shutdown(reason: string): void;
}

/**
 * Registers `logout` (ends a management session; a no-op elsewhere, as in
 * vde_switch) and `shutdown` (answers, then stops the program, naming the
 * session it came from), with each program's own help texts.
 */
export function addSessionEndCommands(
  registry: CommandRegistry,
  target: ShutdownTarget,
  help: { logout: string; shutdown: string },
): void {
  registry.add({
    path: "logout",
    syntax: "",
    help: help.logout,
    listing: false,
    // On the program's own console there is nothing to log out of (as in vde_switch).
    run: (_args, session) => session.kind === "mgmt" ? { code: 0, endSession: true } : ok(),
  });
  registry.add({
    path: "shutdown",
    syntax: "",
    help: help.shutdown,
    listing: false,
    run: (_args, session) => {
      if (!target.canShutdown) return fail(Errno.EOPNOTSUPP);
      return {
        code: 0,
        endSession: true,
        afterSend: () => target.shutdown(`shutdown from the ${describeSession(session)}`),
      };
    },
  });
}

function describeSession(session: Session): string {
  switch (session.kind) {
    case "mgmt":
      return "management socket";
    case "script":
      return "startup script";
    default:
      return "console";
  }
}

/**
 * Runs a script file line by line in `session`, echoing each line as
 * `vde[PATH]: LINE` followed by its reply, as vde_switch's `load` does.
 * Unlike vde_switch, an empty line is skipped rather than answered with
 * 1038, and `load` works from the startup script too.
 */
export async function loadScript(path: string, session: Session): Promise<Reply> {
  if (path === "") return fail(Errno.ENOENT);
  if (session.loadDepth >= MAX_LOAD_DEPTH) return fail(Errno.ELOOP);
  const read = await readScript(path);
  if (typeof read === "number") return fail(read);
  let raw = "";
  session.loadDepth++;
  try {
    for (const line of read) {
      raw += `vde[${path}]: ${line}\n`;
      const reply = await session.commands.execute(line, session);
      if (reply === null) continue;
      raw += session.render(reply);
      // A script that logs out or shuts down stops there.
      if (reply.endSession) return { ...reply, raw };
    }
  } finally {
    session.loadDepth--;
  }
  return { code: 0, raw };
}

/** Reads a script's lines, or an errno. */
export async function readScript(path: string): Promise<string[] | number> {
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) return Errno.EISDIR;
    if (info.size > MAX_SCRIPT_BYTES) return Errno.E2BIG;
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return Errno.ENOENT;
    if (err instanceof Deno.errors.PermissionDenied) return Errno.EACCES;
    return Errno.EIO;
  }
  if (bytes.length > MAX_SCRIPT_BYTES) return Errno.E2BIG;
  const lines = new TextDecoder().decode(bytes).split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}
