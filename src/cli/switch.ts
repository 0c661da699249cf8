/**
 * `vde switch`: a vde_switch-compatible switch serving a socket directory.
 * Options keep vde_switch's names and short forms (spec section 4).
 */
import { untilSignal } from "./signals.ts";
import type { Command } from "commander";
import { poller } from "../io/poller.ts";
import { Switch } from "../switch/switch.ts";
import { parseOctalMode, resolveGroup } from "../vde/permissions.ts";
import { VdeSwitchServer } from "../vde/switch_server.ts";
import { UsageError } from "./main.ts";
import { daemonize, isDaemonChild } from "./daemon.ts";
import { log, setLogFile } from "../log.ts";
import { openTapLink } from "../link/tap_link.ts";
import { ConsoleContext } from "../console/switch/context.ts";
import { MgmtServer } from "../console/mgmt_server.ts";
import { runStartupScript } from "../console/script.ts";
import { type RunningConsole, startSwitchConsole } from "../console/switch/switch_console.ts";
import { switchCommands } from "../console/switch/switch_commands.ts";
import { openSlirpLink, type SlirpLink } from "../link/slirp_link.ts";
import { addSlirpCommands, type AttachedSlirp } from "../slirp/console.ts";
import { slirpConfigFromFlags } from "./slirp.ts";
import { attachCables } from "./cable.ts";
import { CaptureHub } from "../capture/hub.ts";
import { CaptureServer } from "../capture/server.ts";
import { startFileCapture } from "../capture/file_capture.ts";
import { setSnooping } from "../console/switch/commands_mcast.ts";

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
  /** Attach a slirp stack to a port; `true` or slirp:// options (vdeplug form). */
  slirp?: boolean | string;
  /** Cables (VNLs) to put on ports; a listening tcp:// VNL serves many. */
  cable?: string[];
  /** Default key file of tcp:// cables. */
  key?: string;
  /** Management socket path (vde_switch -M). */
  mgmt?: string;
  /** Management socket mode, octal (default 600). */
  mgmtmode?: string;
  /** Management socket group. */
  mgmtgroup?: string;
  /** Command file run at startup (vde_switch -f). */
  rc?: string;
  /** Spanning tree (RSTP with 802.1D fallback); `fstp` is vde_switch's name. */
  stp?: boolean;
  fstp?: boolean;
  /** Bridge priority (vde_switch --priority). */
  priority?: string;
  /** Capture every frame into this file from start-up (pcapng, or pcap by extension). */
  pcap?: string;
  /** IGMP/MLD snooping from start-up. */
  mcastSnooping?: boolean;
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

function parsePriority(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 65535)) throw new UsageError(`--priority must be from 0 to 65535, got "${text}"`);
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

/** Runs a switch until a signal, `shutdown` or the console stops it. */
export async function runSwitch(o: SwitchCliOptions): Promise<void> {
  const numPorts = parsePorts(o.ports);
  const mode = o.mode === undefined ? undefined : parseOctalMode(o.mode, "--mode");
  const dirMode = o.dirmode === undefined ? undefined : parseOctalMode(o.dirmode, "--dirmode");
  const gid = o.group === undefined ? undefined : resolveGroup(o.group);
  const mgmtMode = o.mgmtmode === undefined ? undefined : parseOctalMode(o.mgmtmode, "--mgmtmode");
  const mgmtGid = o.mgmtgroup === undefined ? undefined : resolveGroup(o.mgmtgroup);
  if (o.daemon && !isDaemonChild()) {
    // The management socket comes up last: once it answers, everything does.
    await daemonize(o.mgmt ?? `${o.sock}/ctl`);
    return;
  }
  if (o.logfile !== undefined) setLogFile(o.logfile);
  // Listen for signals before anything exists on disk, so a signal during
  // start-up still runs the cleanup instead of killing the process mid-way.
  const { stopped, stop, remove } = untilSignal();
  // What was started, undone in reverse order at exit or on a start-up error.
  const undo: (() => void)[] = [remove];
  // Closings that finish asynchronously (a capture file's last writes), awaited before exit.
  const closings: Promise<void>[] = [];
  const cleanup = () => {
    for (const step of undo.reverse()) {
      try {
        step();
      } catch { /* keep cleaning */ }
    }
  };
  try {
    const sw = new Switch({ numPorts, hub: o.hub ?? false });
    undo.push(() => sw.close());
    // One command set for the startup script, the management socket and the console.
    const ctx = new ConsoleContext(sw, { shutdown: stop });
    if (o.priority !== undefined) ctx.stpPriority = parsePriority(o.priority);
    if (o.stp || o.fstp) {
      if (o.hub) throw new UsageError("Can't use fstp in hub mode");
      ctx.setStp(true);
    }
    const commands = switchCommands(ctx);
    if (o.mcastSnooping) setSnooping(ctx, true);
    const slirps: AttachedSlirp[] = [];
    if (o.slirp !== undefined && o.slirp !== false) addSlirpCommands(commands, () => slirps);
    if (o.rc !== undefined) {
      // Before the ctl socket exists, so clients only ever see the configured switch.
      try {
        await runStartupScript(o.rc, commands, (m) => log("vde switch", m));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }
    const hub = new CaptureHub(sw.engine);
    if (o.pcap !== undefined) {
      let capture: ReturnType<typeof startFileCapture>;
      try {
        capture = startFileCapture(sw, hub, o.pcap);
      } catch (err) {
        throw new UsageError(`--pcap: cannot write ${o.pcap}: ${(err as Error).message}`);
      }
      undo.push(() => {
        const { captured, dropped } = capture.counts();
        log("vde switch", `--pcap ${o.pcap}: ${captured} frames captured, ${dropped} dropped`);
        closings.push(capture.close());
      });
    }
    const server = await VdeSwitchServer.start(sw, { dir: o.sock, mode, dirMode, gid });
    undo.push(() => server.close());
    const captureServer = CaptureServer.start(sw, hub, { path: `${server.dir}/capture` });
    undo.push(() => captureServer.close());
    ctx.dataSocket = { dir: server.dir, mode: server.permissions.socketMode };
    if (o.mgmt !== undefined) {
      let mgmt: MgmtServer;
      try {
        mgmt = await MgmtServer.start(commands, ctx, { path: o.mgmt, mode: mgmtMode, gid: mgmtGid });
      } catch (err) {
        throw new UsageError(`cannot serve the management socket ${o.mgmt}: ${(err as Error).message}`);
      }
      undo.push(() => mgmt.close());
      ctx.mgmt = { path: mgmt.path, mode: mgmt.mode };
    }
    if (o.slirp !== undefined && o.slirp !== false) {
      const config = slirpConfigFromFlags({ options: typeof o.slirp === "string" ? o.slirp : undefined });
      let link: SlirpLink;
      try {
        link = await openSlirpLink(config);
      } catch (err) {
        throw new UsageError(`--slirp: ${(err as Error).message}`);
      }
      undo.push(() => link.close());
      const ep = sw.attach(link);
      const port = sw.portOfEndpoint(ep.id);
      slirps.push({ port, link });
      log("vde switch", `slirp on port ${port}: ${link.stack.describe()[0]}`);
    }
    for (const name of o.tap ?? []) {
      const ep = sw.attach(openTapLink(name));
      log("vde switch", `tap ${name} on port ${sw.portOfEndpoint(ep.id)}`);
    }
    await attachCables(sw, o.cable ?? [], { dir: server.dir, keyFile: o.key }, undo);
    if (o.pidfile !== undefined) {
      const pidfile = o.pidfile;
      writePidfile(pidfile);
      undo.push(() => Deno.removeSync(pidfile));
    }
    const kind = o.hub
      ? " in hub mode"
      : sw.engine.stp !== null
      ? `, spanning tree ${sw.engine.stp.bridgeId}`
      : "";
    log("vde switch", `serving ${server.dir} with ${numPorts} ports${kind}`);
    // A daemon has no console; otherwise stdin is one (a REPL at a terminal).
    if (!o.daemon) {
      const stdinConsole: RunningConsole = startSwitchConsole(ctx, commands, o.sock);
      undo.push(() => stdinConsole.close());
    }
    log("vde switch", `${await stopped}, cleaning up and exiting`);
  } finally {
    cleanup();
    await Promise.all(closings);
    await poller().stop();
  }
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
    .option("--stp", "spanning tree (RSTP; 802.1D towards bridges that speak only that, like Linux's)")
    .option("-F, --fstp", "the same as --stp (vde_switch's name)")
    .option("--priority <n>", "spanning tree bridge priority, 0-65535; the lowest becomes root", "32768")
    .option("-m, --mode <octal>", "mode of the ctl and port sockets (default 600)")
    .option("--dirmode <octal>", "mode of the socket directory (default 2700, or derived from --mode)")
    .option("-g, --group <name>", "group owning the directory and sockets")
    .option("-p, --pidfile <file>", "write the pid here (the file must not exist)")
    .option("-d, --daemon", "run in the background")
    .option(
      "-t, --tap <name>",
      "attach tap interface NAME to a port (repeatable; needs root or a tap made by `vde tap create`)",
      collect,
      [],
    )
    .option(
      "--cable <vnl>",
      "put a cable on a port (repeatable): tcp://HOST:PORT, tcp://:PORT/listen (one port per cable), udp://, vxlan://, vxvde://, cmd://",
      collect,
      [],
    )
    .option("--key <file>", "key file of tcp:// cables that name none (vde cable keygen)")
    .option(
      "--slirp [options]",
      "attach a slirp (NAT to the host, DHCP, DNS) to a port; options as slirp:// takes them, e.g. tcpfwd=8080:10.0.2.15:80",
    )
    .option("-M, --mgmt <path>", "management socket for unixterm, vdeterm and `vde term` (vde_switch -M)")
    .option("--mgmtmode <octal>", "mode of the management socket (default 600)")
    .option("--mgmtgroup <name>", "group of the management socket")
    .option("-f, --rc <file>", "run the console commands in FILE at startup (vde_switch -f)")
    .option("--mcast-snooping", "IGMP/MLD snooping: multicast only to members and routers (console mcast/*)")
    .option(
      "--pcap <file>",
      "capture every frame the switch forwards into FILE (pcapng; classic pcap for *.pcap)",
    )
    .option(
      "--logfile <file>",
      "append log lines to this file instead of stderr (with --daemon, the log is discarded otherwise)",
    )
    .action((opts: SwitchCliOptions) => runSwitch(opts));
};
