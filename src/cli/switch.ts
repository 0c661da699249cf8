/**
 * `vde switch`: a vde_switch-compatible switch serving a socket directory.
 * Options keep vde_switch's names and short forms (spec section 4).
 */
import type { Command } from "commander";
import { poller } from "../io/poller.ts";
import { Switch } from "../switch/switch.ts";
import { parseOctalMode, resolveGroup } from "../vde/permissions.ts";
import { VdeSwitchServer } from "../vde/switch_server.ts";
import { UsageError } from "./main.ts";
import { daemonize, isDaemonChild } from "./daemon.ts";
import { log, setLogFile } from "../log.ts";
import { openTapLink } from "../link/tap_link.ts";

/** Parsed options of `vde switch`. */
export interface SwitchCliOptions {
  sock: string;
  ports: string;
  hub?: boolean;
  mode?: string;
  dirmode?: string;
  group?: string;
  pidfile?: string;
  daemon?: boolean;
  logfile?: string;
  tap?: string[];
}

function defaultSock(): string {
  return Deno.uid() === 0 ? "/var/run/vde.ctl" : "/tmp/vde.ctl";
}

function parsePorts(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--ports must be a whole number, got "${text}"`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new UsageError(`--ports must be between 1 and 65535, got ${n}`);
  return n;
}

/** Writes the pid file the way vde_switch does: it must not exist yet. */
function writePidfile(path: string): void {
  try {
    Deno.writeTextFileSync(path, `${Deno.pid}\n`, { createNew: true });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(`pid file ${path} already exists (another switch, or a stale file to remove)`);
    }
    throw new UsageError(`cannot write pid file ${path}: ${(err as Error).message}`);
  }
}

/** Runs a switch until a signal stops it. */
export async function runSwitch(o: SwitchCliOptions): Promise<void> {
  const numPorts = parsePorts(o.ports);
  const mode = o.mode === undefined ? undefined : parseOctalMode(o.mode, "--mode");
  const dirMode = o.dirmode === undefined ? undefined : parseOctalMode(o.dirmode, "--dirmode");
  const gid = o.group === undefined ? undefined : resolveGroup(o.group);
  if (o.daemon && !isDaemonChild()) {
    await daemonize(`${o.sock}/ctl`);
    return;
  }
  if (o.logfile !== undefined) setLogFile(o.logfile);
  const sw = new Switch({ numPorts, hub: o.hub ?? false });
  let server: VdeSwitchServer;
  try {
    server = await VdeSwitchServer.start(sw, { dir: o.sock, mode, dirMode, gid });
  } catch (err) {
    sw.close();
    throw err;
  }
  try {
    for (const name of o.tap ?? []) {
      const ep = sw.attach(openTapLink(name));
      log("vde switch", `tap ${name} on port ${sw.portOfEndpoint(ep.id)}`);
    }
  } catch (err) {
    server.close();
    sw.close();
    throw err;
  }
  if (o.pidfile !== undefined) {
    try {
      writePidfile(o.pidfile);
    } catch (err) {
      server.close();
      sw.close();
      throw err;
    }
  }
  log("vde switch", `serving ${server.dir} with ${numPorts} ports${o.hub ? " in hub mode" : ""}`);
  const { promise: stopped, resolve } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const handlers = signals.map((sig) => {
    const h = () => resolve(sig);
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  const why = await stopped;
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  log("vde switch", `${why}, cleaning up and exiting`);
  server.close();
  sw.close();
  if (o.pidfile !== undefined) {
    try {
      Deno.removeSync(o.pidfile);
    } catch { /* already gone */ }
  }
  await poller().stop();
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Registers `vde switch`. */
export const switchCommand = (program: Command): void => {
  program.command("switch")
    .description("run a virtual Ethernet switch that VDE clients (vde_plug, QEMU) plug into")
    .option("-s, --sock <dir>", "socket directory (vde_switch -s)", defaultSock())
    .option("-n, --ports <n>", "number of ports, 0 .. n-1 (port 0 is for management clients)", "32")
    .option("-x, --hub", "hub mode: repeat every frame to every port")
    .option("-m, --mode <octal>", "mode of the ctl and port sockets (default 600)")
    .option("--dirmode <octal>", "mode of the socket directory (default 2700, or derived from --mode)")
    .option("-g, --group <name>", "group owning the directory and sockets")
    .option("-p, --pidfile <file>", "write the pid here (the file must not exist)")
    .option("-d, --daemon", "run in the background")
    .option("-t, --tap <name>", "attach tap interface NAME to a port (repeatable; needs root or a tap made by `vde tap create`)", collect, [])
    .option("--logfile <file>", "append log lines to this file instead of stderr (with --daemon, the log is discarded otherwise)")
    .action((opts: SwitchCliOptions) => runSwitch(opts));
};
