/**
 * `vde switch`: a vde_switch-compatible switch serving a socket directory.
 * Options keep vde_switch's names and short forms (spec section 4).
 */
import { checkKeepWarmSetting } from "./keep_warm_setting.ts";
import { type Command, Option } from "commander";
import { Switch } from "../switch/switch.ts";
import { type Dataplane, envDataplane, parseDataplane } from "../switch/dataplane.ts";
import { parseOctalMode, resolveOwnGroup } from "../vde/permissions.ts";
import { refuseServedDir, VdeSwitchServer } from "../vde/switch_server.ts";
import { unknownOptionHint, UsageError, vdeErrors } from "./main.ts";
import { vdeSwitchDefaultRc } from "./vde_switch_args.ts";
import { refuseStdinScriptInBackground, runProgram } from "./program.ts";
import { log } from "../log.ts";
import { openTapLink } from "../link/tap_link.ts";
import { shellQuoted } from "../shell_quote.ts";
import { SHUTTING_DOWN } from "../switch/switch.ts";
import { ConsoleContext } from "../console/switch/context.ts";
import { DEFAULT_MGMT_NAME, MgmtServer } from "../console/mgmt_server.ts";
import { runStartupScript } from "../console/script.ts";
import { type RunningConsole, startSwitchConsole } from "../console/switch/switch_console.ts";
import { switchCommands } from "../console/switch/switch_commands.ts";
import type { SlirpLink } from "../link/slirp_link.ts";
import type { AttachedSlirp } from "../slirp/console.ts";
import { joinOptions } from "./join_options.ts";
import { examples, vnlHelp, withExamples } from "./help.ts";
import { CaptureHub } from "../capture/hub.ts";
import { CaptureServer } from "../capture/server.ts";
import { setSnooping } from "../console/switch/commands_mcast.ts";
import { knobCommand, knobUnit, MCAST_KNOBS } from "../switch/mcast_knobs.ts";
import { counted } from "../counted.ts";
import { wholePath } from "../os/paths.ts";
import { VERSION } from "../version.ts";
import { BRIDGE_PRIORITY, BRIDGE_PRIORITY_STEP, inSteps, stepsText } from "../switch/stp_limits.ts";
import { formatMac, parseMacText } from "../wire/ethernet.ts";
import { hashBucketsFor, MAX_HASH_BUCKETS } from "../console/switch/commands_hash.ts";
import { printable } from "../console/reply_format.ts";

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
  /** The switch's MAC, the spanning tree bridge address (vde_switch --macaddr). */
  macaddr?: string;
  /** Bucket count of the MAC table as the console shows it (vde_switch --hashsize, hash/setsize). */
  hashsize?: string;
  /** vde_switch's debug client count: taken and unused (any console may `debug/add`). */
  debugclients?: string;
  /** Capture every frame into this file from start-up (pcapng, or pcap by extension). */
  pcap?: string;
  /** IGMP/MLD snooping from start-up. */
  mcastSnooping?: boolean;
  /** Serve /metrics and the live page on [ADDR:]PORT. */
  http?: string;
  /** File holding the token the page's actions need. */
  httpToken?: string;
  /** Where frames are forwarded: "thread" (a data-plane thread) or "main". */
  dataplane?: string;
  /** No option sets it: a test's stand-in for the data-plane thread's code (one that dies). */
  threadFile?: URL;
}

const COMPONENT = "vde switch";

/** Where `vde switch` serves without --sock (vde_switch's default too), and so where `vde term` looks without PATH. */
export function defaultSock(): string {
  return Deno.uid() === 0 ? "/var/run/vde.ctl" : "/tmp/vde.ctl";
}

function parsePorts(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--ports must be a whole number, got "${printable(text)}"`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new UsageError(`--ports must be between 1 and 65535, got ${n}`);
  return n;
}

function parseMacaddr(text: string): string {
  const mac = parseMacText(text);
  if (!mac.ok) throw new UsageError(`--macaddr: ${mac.reason}`);
  return formatMac(mac.value);
}

function parseHashsize(text: string): number {
  const n = /^\d+$/.test(text) ? hashBucketsFor(Number(text)) : undefined;
  if (n === undefined) {
    throw new UsageError(`--hashsize must be from 1 to ${MAX_HASH_BUCKETS}, got "${printable(text)}"`);
  }
  return n;
}

function parsePriority(text: string): number {
  if (!/^\d+$/.test(text)) {
    throw new UsageError(
      `--priority must be a number from ${BRIDGE_PRIORITY.join(" to ")}, got "${printable(text)}"`,
    );
  }
  const n = Number(text);
  if (!inSteps(n, BRIDGE_PRIORITY, BRIDGE_PRIORITY_STEP)) {
    throw new UsageError(`--priority must be ${stepsText(n, BRIDGE_PRIORITY, BRIDGE_PRIORITY_STEP)}`);
  }
  return n;
}

/**
 * Where the switch forwards: --dataplane, else $VDE_DATAPLANE, else a
 * data-plane thread, unless the switch carries its own cables (`--cable`).
 * Those live on the main thread, so on the thread every cable frame would
 * cross two rings and two wake-ups: measured, a switch with a udp:// or
 * vxlan:// cable moved 1500 B frames at half the rate, a tcp:// cable 64 B
 * frames at two thirds. A cable made with `vde cable` is an ordinary client
 * (an fd port) and is not counted here.
 */
export function chooseDataplane(o: Pick<SwitchCliOptions, "dataplane" | "cable">): Dataplane {
  try {
    if (o.dataplane !== undefined) return parseDataplane(o.dataplane, "--dataplane");
    return envDataplane() ?? ((o.cable ?? []).length > 0 ? "main" : "thread");
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Runs a switch until a signal, `shutdown` or the console stops it. */
export async function runSwitch(o: SwitchCliOptions): Promise<void> {
  const numPorts = parsePorts(o.ports);
  const mode = o.mode === undefined ? undefined : parseOctalMode(o.mode, "--mode");
  const dirMode = o.dirmode === undefined ? undefined : parseOctalMode(o.dirmode, "--dirmode");
  const gid = o.group === undefined ? undefined : resolveOwnGroup(o.group, "--group");
  const mgmtMode = o.mgmtmode === undefined ? undefined : parseOctalMode(o.mgmtmode, "--mgmtmode");
  const mgmtGid = o.mgmtgroup === undefined ? undefined : resolveOwnGroup(o.mgmtgroup, "--mgmtgroup");
  const dataplane = chooseDataplane(o);
  checkKeepWarmSetting();
  const macaddr = o.macaddr === undefined ? undefined : parseMacaddr(o.macaddr);
  const hashsize = o.hashsize === undefined ? undefined : parseHashsize(o.hashsize);
  if (o.debugclients !== undefined && !/^\d+$/.test(o.debugclients)) {
    throw new UsageError(`--debugclients must be a whole number, got "${printable(o.debugclients)}"`);
  }
  refuseStdinScriptInBackground("--rc", o.rc, o.daemon);
  const program = {
    component: COMPONENT,
    noun: "switch",
    daemon: o.daemon,
    pidfile: o.pidfile,
    logfile: o.logfile,
  };
  await runProgram(program, async (p) => {
    // A switch whose data-plane thread died forwards nothing, yet its clients stay plugged in to it: it
    // exits non-zero (its stop's cleanup runs), so a supervisor restarts it, as it would a vde_switch that
    // crashed, rather than serve a dead network that only a log line tells of (a lab's switch is one part
    // of a lab that runs on, and says so in status instead).
    let died: string | null = null;
    const sw = new Switch({
      numPorts,
      hub: o.hub ?? false,
      dataplane,
      ...(o.threadFile === undefined ? {} : { threadFile: o.threadFile }),
      onThreadFailure: (why) => {
        died = threadDeath(why);
        p.stop("its data-plane thread failed");
      },
    });
    p.defer(() => sw.close());
    // One command set for the startup script, the management socket and the console.
    const ctx = new ConsoleContext(sw, { shutdown: p.stop, mac: macaddr });
    if (o.priority !== undefined) ctx.stpPriority = parsePriority(o.priority);
    if (hashsize !== undefined) ctx.hashBuckets = hashsize;
    if (o.stp || o.fstp) {
      if (o.hub) {
        throw new UsageError(
          "--hub and --stp exclude each other: a hub has no spanning tree (vde_switch: Can't use fstp in hub mode)",
        );
      }
      ctx.setStp(true);
    }
    const commands = switchCommands(ctx);
    if (o.mcastSnooping) setSnooping(ctx, true);
    const slirps: AttachedSlirp[] = [];
    // What --slirp, --pcap, --cable and --http need is loaded only when they are given: a module once
    // loaded stays in memory (the slirp stack alone is about 4 MiB of an idle switch's RSS).
    if (o.slirp !== undefined && o.slirp !== false) {
      (await import("../slirp/console.ts")).addSlirpCommands(commands, () => slirps);
    }
    if (o.rc !== undefined) {
      // Before the ctl socket exists, so clients only ever see the configured switch; after the check
      // that no switch serves the directory, whose refusal would come after the script's lines.
      await refuseServedDir(o.sock);
      try {
        await runStartupScript(o.rc, commands, (m) => log(COMPONENT, m, "warning"));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    } else {
      const skipped = vdeSwitchDefaultRc();
      if (skipped !== undefined) {
        log(
          COMPONENT,
          `${skipped}, vde_switch's default startup script, is not run: give it with --rc ${skipped}`,
        );
      }
    }
    const hub = new CaptureHub(sw.engine);
    if (o.pcap !== undefined) {
      const { startFileCapture } = await import("../capture/file_capture.ts");
      let capture: ReturnType<typeof startFileCapture>;
      try {
        // Named as `vde capture` of the running switch names it: its directory, whole (it may not exist yet).
        capture = startFileCapture(sw, hub, o.pcap, wholePath(o.sock), (m) => log(COMPONENT, m));
      } catch (err) {
        throw new UsageError(`--pcap: cannot write ${printable(o.pcap)}: ${(err as Error).message}`);
      }
      // The file's last writes finish before the program exits.
      p.defer(async () => {
        const { captured, dropped } = capture.counts();
        log(COMPONENT, `--pcap ${o.pcap}: ${counted(captured, "frame")} captured, ${dropped} dropped`);
        await capture.close();
      });
    }
    const server = await VdeSwitchServer.start(sw, { dir: o.sock, mode, dirMode, gid });
    p.defer(() => server.close());
    const captureServer = CaptureServer.start(sw, hub, {
      path: `${server.dir}/capture`,
      at: server.socketAt("capture"),
    });
    p.defer(() => captureServer.close());
    ctx.dataSocket = { dir: server.dir, mode: server.permissions.socketMode };
    // Every switch has a console socket; vde_switch clients only ever use ctl.
    const mgmtPath = o.mgmt ?? `${server.dir}/${DEFAULT_MGMT_NAME}`;
    let mgmt: MgmtServer;
    try {
      // One in DIR (the default, or one named there) is made and removed through the directory held, as ctl
      // is (closed before it: deferred later).
      const at = o.mgmt === undefined ? server.socketAt(DEFAULT_MGMT_NAME) : server.socketIn(o.mgmt);
      mgmt = await MgmtServer.start(commands, ctx, { path: mgmtPath, at, mode: mgmtMode, gid: mgmtGid });
    } catch (err) {
      throw new UsageError(
        `cannot serve the management socket ${printable(mgmtPath)}: ${(err as Error).message}`,
      );
    }
    p.defer(() => mgmt.close());
    ctx.mgmt = { path: mgmt.path, mode: mgmt.mode };
    if (o.slirp !== undefined && o.slirp !== false) {
      const { openSlirpLink } = await import("../link/slirp_link.ts");
      const { slirpConfigFromFlags } = await import("./slirp.ts");
      let link: SlirpLink;
      try {
        // Its options' mistakes are named as the option's, as the link's are (`--slirp: unknown slirp option`).
        link = await openSlirpLink(
          slirpConfigFromFlags({ options: typeof o.slirp === "string" ? o.slirp : undefined }),
        );
      } catch (err) {
        throw new UsageError(`--slirp: ${(err as Error).message}`);
      }
      p.defer(() => link.close());
      const ep = sw.attach(link);
      const port = sw.portOfEndpoint(ep.id);
      slirps.push({ port, link });
      log(COMPONENT, `slirp on port ${port}: ${link.stack.describe()[0]}`);
    }
    for (const name of o.tap ?? []) {
      const link = openTapLink(name);
      const ep = sw.attach(link);
      const port = sw.portOfEndpoint(ep.id);
      log(COMPONENT, `tap ${name} on port ${port}`);
      link.closed.then((why) => {
        if (why !== SHUTTING_DOWN) log(COMPONENT, tapPortEnded(name, port, server.dir, why));
      });
    }
    if ((o.cable ?? []).length > 0) {
      const { attachCables } = await import("./cable.ts");
      // Stopped while a cable joins a switch, the switch ends before it serves (said where it stopped).
      if (!await attachCables(sw, o.cable ?? [], { dir: server.dir, keyFile: o.key }, p.defer, p.stopped)) {
        return;
      }
    }
    let webView = "";
    if (o.http !== undefined) {
      const { startSwitchWeb } = await import("./web.ts");
      // The --slirp's counters on the switch's /metrics, as `vde slirp --http` serves them (label slirp = the
      // switch's directory): its one web server, where they were missing.
      const renderSlirp = slirps.length === 0
        ? undefined
        : (await import("../web/slirp_metrics.ts")).renderSlirpMetrics;
      const web = startSwitchWeb(
        sw,
        server.dir,
        o.http,
        o.httpToken,
        renderSlirp && (() => slirps.map((s) => renderSlirp(server.dir, s.link.stack)).join("")),
      );
      p.defer(() => web.close());
      // Said again where it serves: a daemon's log file is not where its user looks for the port.
      webView = `; web view: ${web.url}`;
    } else if (o.httpToken !== undefined) {
      throw new UsageError("--http-token needs --http");
    }
    const kind = o.hub
      ? " in hub mode"
      : sw.engine.stp !== null
      ? `, spanning tree ${sw.engine.stp.bridgeId}`
      : stpOffClause(o.priority);
    const where = sw.threaded ? ", forwarding on a data-plane thread" : "";
    // Dead already (its worker failed to load): a start that fails, not a switch that served.
    if (died !== null) throw new Error(died);
    p.ready(
      `serving ${server.dir} with ${
        portsText(sw.numPorts)
      }${kind}${where}; console: vde term ${mgmt.path}${webView}`,
    );
    // A daemon has no console; otherwise stdin is one (a REPL at a terminal).
    const stdinConsole: RunningConsole | null = p.inBackground
      ? null
      : startSwitchConsole(ctx, commands, o.sock);
    const why = await p.stopped;
    // The console goes first: its prompt would otherwise be drawn again under the last line.
    stdinConsole?.close();
    // The one line, as the command's error (exit status 1; a daemon's log file keeps it as `ended: ...`).
    if (died !== null) throw new Error(died);
    log(COMPONENT, `${why}, cleaning up and exiting`);
  });
}

/** What `vde switch` ends with when its data-plane thread died for `why` (one line: SwitchThread's failure). */
export function threadDeath(why: string): string {
  return `the switch's data-plane thread failed (${why}), so it forwards nothing: it exits`;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * A Linux bridge's or Open vSwitch's settings an admin looks for as options
 * (`--vlan`, `--ageing-time`, `--forward-delay`): here they are console
 * commands, which an --rc file runs at start, and the hint says which.
 */
const RC_SETTINGS: ReadonlyMap<string, string> = new Map([
  ...["vlan", "vlans", "trunk", "access", "pvid"].map((
    w,
  ) => [w, "vlan/create 10, port/setvlan 2 10, vlan/addport 10 1"]),
  ...["ageing", "ageing-time", "aging-time", "mac-aging-time"].map((w) => [w, "hash/setexpire SECONDS"]),
  ...["hello-time", "max-age", "forward-delay"].map((
    w,
  ) => [w, "stp/settimers HELLO MAXAGE FWDDELAY (seconds)"]),
  ...["mcast-querier", "querier"].map((w) => [w, "mcast/querier 1 (with --mcast-snooping)"]),
  // A bridge port's fast leave under ip link's words (fastleave, mcast_fast_leave) and sysfs's, either spelling.
  ...[
    "fastleave",
    "fast-leave",
    "multicast-fast-leave",
    "multicast_fast_leave",
    "mcast-fast-leave",
    "mcast_fast_leave",
  ]
    .map((w) => [w, "mcast/fastleave PORT 1 (with --mcast-snooping)"]),
  // ip link's snooping knobs, spelt as options: --mcast-query-interval, --mcast_query_interval.
  ...MCAST_KNOBS.flatMap((k) =>
    [k.name, k.name.replaceAll("_", "-")].map((
      w,
    ) => [w, `${knobCommand(k)} ${knobUnit(k)} (with --mcast-snooping)`])
  ),
] as [string, string][]);

/** Their names for options this switch has under another (`--stp-priority`, `--rstp`, `--igmp-snooping`). */
const OPTION_NAMES: ReadonlyMap<string, string> = new Map([
  ...["stp-priority", "rstp-priority", "bridge-priority", "bridgeprio", "setbridgeprio"].map((w) => [
    w,
    "--priority N (0-61440 in steps of 4096, with --stp)",
  ]),
  ...["rstp", "stp-state", "stp_state", "stp-enable", "rstp-enable"].map((w) => [w, "--stp"]),
  ...["snooping", "igmp-snooping", "mld-snooping", "multicast-snooping"].map((w) => [w, "--mcast-snooping"]),
] as [string, string][]);

/**
 * Commander's "unknown option" line with this switch's name for a bridge's
 * option, or the console command an --rc file gives for a bridge's setting.
 */
export const withSwitchHint = unknownOptionHint((name) => {
  const ours = OPTION_NAMES.get(name.toLowerCase());
  if (ours !== undefined) return `it is ${ours} here`;
  const command = RC_SETTINGS.get(name.toLowerCase());
  return command === undefined
    ? undefined
    : `a console command here, in an --rc FILE to run at start: ${command}`;
});

/**
 * What the start line says of a `--priority` given without `--stp` (as
 * vde_switch takes it, for an rc file's `fstp/setfstp 1` later): that the
 * spanning tree is off, where a bridge admin may take the priority for it
 * being on (a lab file refuses a priority without `stp: true`).
 */
export function stpOffClause(priority: string | undefined): string {
  return priority === undefined
    ? ""
    : `, spanning tree off (--priority ${priority} is used once --stp or fstp/setfstp 1 starts it)`;
}

/**
 * The switch's ports as its start line says them: `--ports 1` (vde_switch's
 * `-n 1` too) is port 0 alone, the management clients', so nothing can plug
 * in, which the line says with what to give instead.
 */
export function portsText(numPorts: number): string {
  return numPorts === 1
    ? "1 port (port 0, for management clients only: nothing can plug in; --ports 2 gives one)"
    : counted(numPorts, "port");
}

/** Registers `vde switch`. */
export const switchCommand = (program: Command): void => {
  const sw = program.command("switch")
    .description("run a virtual Ethernet switch that VDE clients (vde_plug, QEMU) plug into")
    .configureOutput(vdeErrors(withSwitchHint))
    .version(`vde ${VERSION}`, "-v, --version", "print the version (vde_switch -v)")
    .option("-s, --sock <dir>", "socket directory (vde_switch -s)", defaultSock())
    .option("-n, --ports <n>", "number of ports, 0 .. n-1 (port 0 is for management clients)", "32")
    .option("-x, --hub", "hub mode: repeat every frame to every port")
    .option("--stp", "spanning tree (RSTP; 802.1D towards bridges that speak only that, like Linux's)")
    .option("-F, --fstp", "the same as --stp (vde_switch's name)")
    .option(
      "--priority <n>",
      // No commander default: given or not is what the start line's stpOffClause tells apart.
      "spanning tree bridge priority, 0-61440 in steps of 4096 (default: 32768); the lowest becomes root",
    )
    .option(
      "--macaddr <mac>",
      "the switch's MAC, its spanning tree bridge address (default: random 00:ff:...)",
    )
    .option("--hashsize <n>", "MAC table size as the console shows it (hash/setsize; default: 128)")
    .option(
      "-D, --debugclients <n>",
      "vde_switch's debug client count: taken for its scripts; any console may debug/add",
    )
    .option("-m, --mode <octal>", "mode of the ctl and port sockets (default: 600)")
    .option("--dirmode <octal>", "mode of the socket directory (default: 2700, or derived from --mode)")
    .option("-g, --group <name>", "group owning the directory and sockets")
    .option("-p, --pidfile <file>", "write the pid here (a stale file is replaced, a live one refused)")
    .option("-d, --daemon", "run in the background; exits once the switch serves, or with its error")
    .option(
      "-t, --tap <name>",
      "attach tap interface NAME to a port (repeatable; needs root or a tap made by `vde tap create`)",
      collect,
      [],
    )
    .option(
      "--cable <vnl>",
      "put a cable on a port (repeatable), any VNL below; tcp://:PORT/listen gives each cable its own port",
      collect,
      [],
    )
    .option("--key <file>", "key file of tcp:// cables that name none (vde cable keygen)")
    .addOption(
      new Option(
        "--slirp [options]",
        "attach a slirp (NAT to the host, DHCP, DNS) to a port; options as slirp:// takes them, e.g. tcpfwd=8080:10.0.2.15:80",
      )
        // `--slirp=A --slirp=B` is one slirp with both, as vde slirp's -o A -o B, not B alone; a bare
        // `--slirp` is "" (commander's true skips the parser and replaced the A before it).
        .preset("")
        .argParser((value: string, previous: boolean | string | undefined) =>
          typeof previous === "string" ? joinOptions(value, previous) : value
        ),
    )
    .option(
      "-M, --mgmt <path>",
      "management socket for unixterm, vdeterm and `vde term` (vde_switch -M) (default: DIR/mgmt)",
    )
    .option("--mgmtmode <octal>", "mode of the management socket (default: 600)")
    .option("--mgmtgroup <name>", "group of the management socket")
    .option("-f, --rc <file>", "run the console commands in FILE at startup (vde_switch -f)")
    .option("--mcast-snooping", "IGMP/MLD snooping: multicast only to members and routers (console mcast/*)")
    .option(
      "--pcap <file>",
      "capture every frame the switch forwards into FILE (pcapng; classic pcap for *.pcap)",
    )
    .option(
      "--dataplane <where>",
      "forward frames on a thread of their own (thread) or on the main thread (main); default $VDE_DATAPLANE, else main with --cable, else thread",
    )
    .option("--http <[addr:]port>", "serve Prometheus /metrics and a live web page (127.0.0.1 unless ADDR)")
    .option("--http-token <file>", "let the web page toggle hub mode and ports, with the token in FILE")
    .option(
      "--logfile <file>",
      "append log lines to this file instead of stderr (with --daemon, they go to syslog otherwise)",
    )
    .allowExcessArguments(true)
    .action((opts: SwitchCliOptions, cmd: Command) => {
      // `vde switch /tmp/net` is a likely first try: vde_switch takes the directory as -s too.
      const [stray] = cmd.args;
      if (stray === "help") {
        throw new UsageError("vde switch takes no arguments: `vde switch --help` shows its options");
      }
      if (stray !== undefined) {
        throw new UsageError(
          `vde switch takes no arguments; the socket directory is --sock: \`vde switch --sock ${stray}\``,
        );
      }
      return runSwitch(opts);
    });
  withExamples(
    sw,
    examples(
      "vde switch --sock /tmp/net                      # console on stdin; vde_plug /tmp/net plugs in",
      "vde switch -s /tmp/net -d --logfile /tmp/net.log  # in the background; vde term /tmp/net",
      "vde switch -s /tmp/net --slirp --tap tap0       # NAT to the host and a tap on two ports",
      "vde switch -s /tmp/net --cable tcp://:5000/listen --key lab.key",
    ),
    vnlHelp(),
  );
};

/**
 * The line a `--tap` port's end is said with, but at the switch's own stop: a tap deleted under the
 * switch (`ip link del`, its bridge's tooling) ended its port in silence, leaving a bridge user to find
 * the LAN cut. The port keeps its VLANs and spanning tree settings, so a tap plugged back on that port
 * number, and put back in its bridge, carries on where it was.
 */
export function tapPortEnded(name: string, port: number, dir: string, why: string): string {
  const plug = `vde plug -d ${shellQuoted(`${dir}[${port}]`)} tap://${shellQuoted(name)}`;
  return `tap ${name} on port ${port} ended (${why}): the LAN is cut there; ${plug} puts a tap back on ` +
    `port ${port}, which kept its settings (then into its bridge again: ip link set ${
      shellQuoted(name)
    } master BRIDGE up)`;
}
