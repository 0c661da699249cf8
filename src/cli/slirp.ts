/**
 * `vde slirp --sock DIR`: a slirp stack plugged into a switch, the friendly
 * form of `vde plug vde://DIR slirp://...` (and of the legacy slirpvde).
 */
import { defaultSwitch, OthersDefaultSwitch, type UnaskedDefault } from "../link/default_switch.ts";
import { type Program, runProgram, withDaemonOptions } from "./program.ts";
import { openStartingTerminal } from "./daemon.ts";
import { PROBE_DELAY_MS, PROBE_GAP_MS, PROBES } from "../slirp/gateway_guard.ts";
import { type Command, Option } from "commander";
import { openVdeLink, parseVdeVnl, type VdeClientLink } from "../link/vde_link.ts";
import { hurryStops } from "../dataplane/worker_handle.ts";
import { openUnlessStopped } from "./unless_stopped.ts";
import { openLink, splitVnl } from "../link/registry.ts";
import { NODE_KINDS } from "../switch/netnode.ts";
import { BUILTIN_SCHEMES } from "../link/schemes.ts";
import { shellQuoted } from "../shell_quote.ts";
import { refuseStdioAtTerminal } from "./stdio_terminal.ts";
import { plug } from "../link/plug.ts";
import { runSlirpOnThread, slirpThreadRefusal, switchLinkSummary } from "../dataplane/slirp_thread.ts";
import { log, logsToFile, quietStderrLog, setLateWarnings } from "../log.ts";
import {
  checkBootName,
  ConfigError,
  parseDnsUpstream,
  parseForward,
  parseGuestForward,
  parseMtu,
  parseSlirpOptions,
  type SlirpConfig,
  slirpOptionHint,
} from "../slirp/config.ts";
import { examples } from "./help.ts";
import { joinOptions } from "./join_options.ts";
import { ipv4ToU32, parseIpv4Text } from "../wire/ip_address.ts";
import { prefixMask } from "../wire/ipv4.ts";
import { exists } from "../os/paths.ts";
import { slirpvdeHint, slirpvdeHostOption } from "./slirpvde_flags.ts";
import { withSwitchOptions } from "./vde_plug_args.ts";
import { metricsPart, startMetricsServer } from "../web/metrics_server.ts";
import { renderSlirpMetrics } from "../web/slirp_metrics.ts";
import { type Subcommand, unknownOptionHint, UsageError, vdeErrors } from "./main.ts";
import { printable } from "../console/reply_format.ts";

/** Parsed flags of `vde slirp`. */
export interface SlirpCliOptions {
  sock: string;
  /** No option sets it: `sock` is root's system default, taken unasked (default_switch.ts), judged at the connect. */
  unasked?: UnaskedDefault;
  forward?: string[];
  hostLoopback?: boolean;
  mtu?: string;
  dnsUpstream?: string[];
  options?: string;
  tftp?: string;
  bootfile?: string;
  cmdfwd?: string[];
  unixfwd?: string[];
  http?: string;
  /** false: run the slirp on the main thread (`--no-thread`). */
  thread?: boolean;
  /** slirpvde's -D [START]: DHCP is always on; START is its first lease. */
  dhcp?: string | boolean;
  /** slirpvde's -L / -U PORT:GUESTIP:GUESTPORT. */
  localfwd?: string[];
  udpfwd?: string[];
  /** slirpvde's -H and -n ADDR[/LEN]: the gateway's address, or the network's (host part 0). */
  host?: string;
  network?: string;
  /** slirpvde's -N ADDR: the DNS address the guests are given. */
  dns?: string;
  /** slirpvde's -P, -g and -m: the switch port's number, its socket's group and mode. */
  port?: string;
  group?: string;
  mod?: string;
  /**
   * slirpvde's -q: no info lines on stderr, nor a daemon's line where it runs, as slirpvde -q -d prints
   * nothing (a --logfile still gets them; a warning, a failure to start or after are still said).
   */
  quiet?: boolean;
  /** Run in the background, returning once plugged in and serving (slirpvde's -d). */
  daemon?: boolean;
  pidfile?: string;
  logfile?: string;
}

/**
 * The configuration the flags describe: vdeplug-style `--options` first,
 * then the friendly flags on top.
 *
 * @throws UsageError with a one-line reason
 */
export function slirpConfigFromFlags(o: Omit<SlirpCliOptions, "sock">): SlirpConfig {
  try {
    // A whole slirp:// VNL pasted as the options reads as that VNL does.
    const options = o.options === undefined
      ? ""
      : o.options.startsWith("slirp://")
      ? o.options.slice("slirp://".length)
      : `/${o.options.replace(/^\/+/, "")}`;
    // slirpvde's network first, so -o addr= may move it and its -D and -N are read inside it.
    const slirpvde = ([[o.host, "-H"], [o.network, "-n"]] as const)
      .map(([v, flag]) => v === undefined ? "" : `/${slirpvdeHostOption(v, flag)}`).join("");
    const given = `${slirpvde}${options}${typeof o.dhcp === "string" ? `/dhcp=${o.dhcp}` : ""}`;
    // With -N, the DNS this network puts at the gateway's address (-H 10.0.9.3/24: host 3) is moved next.
    let c = parseSlirpOptions(given, { dnsApart: o.dns === undefined });
    if (o.dns !== undefined) {
      // slirpvde's -N: inside the network, the DNS proxy's address; outside, a server the guests are sent
      // to, which here the proxy forwards to (its guests are given the proxy).
      const n = parseIpv4Text(o.dns);
      const inside = n.ok && ((ipv4ToU32(n.value) & prefixMask(c.prefixLength)) >>> 0) === c.network;
      c = parseSlirpOptions(`${given}/${inside ? "vnameserver" : "dns_upstream"}=${o.dns}`);
    }
    if (o.hostLoopback === false) c.hostLoopback = false;
    if (o.mtu !== undefined) c.mtu = parseMtu(o.mtu);
    if (o.dnsUpstream !== undefined && o.dnsUpstream.length > 0) {
      c.dnsUpstream = o.dnsUpstream.map(parseDnsUpstream);
    }
    for (const f of o.forward ?? []) c.forwards.push(parseForward(f, c));
    for (const f of o.localfwd ?? []) c.forwards.push(parseForward(`tcp:${f}`, c));
    for (const f of o.udpfwd ?? []) c.forwards.push(parseForward(`udp:${f}`, c));
    for (const f of o.cmdfwd ?? []) c.guestForwards.push(parseGuestForward("cmd", f, c));
    for (const f of o.unixfwd ?? []) c.guestForwards.push(parseGuestForward("unix", f, c));
    if (o.tftp !== undefined) c.tftpRoot = o.tftp;
    if (o.bootfile !== undefined) c.bootfile = checkBootName(o.bootfile, "--bootfile", 127);
    return c;
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * The line a slirp prints once it runs: where it is plugged, its gateway,
 * DNS and first lease. `vde slirp` and `vde plug ... slirp://` both print it
 * from here, so a user who moves from one to the other sees the same line.
 */
export function logSlirpStarted(component: string, where: string, described: string): void {
  log(component, slirpStarted(where, described));
}

/** What `logSlirpStarted` says, for a program's ready line. */
export function slirpStarted(where: string, described: string, metrics?: string): string {
  return `on ${where}: ${described}${metricsPart(metrics)}`;
}

/** The life `runProgram` gives `vde slirp`: `--daemon`, `--pidfile`, `--logfile` as the switch has them. */
function slirpProgram(o: SlirpCliOptions) {
  return {
    component: "vde slirp",
    noun: "slirp",
    daemon: o.daemon,
    pidfile: o.pidfile,
    logfile: o.logfile,
    quiet: o.quiet,
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Runs a slirp on the switch at `o.sock` until a signal or the switch goes away. */
export async function runSlirp(o: SlirpCliOptions): Promise<void> {
  const config = slirpConfigFromFlags(o);
  const stdio = o.sock === "-";
  // `--http` does not keep it on the main thread: it asks the thread (see SlirpThread.metrics). The thread
  // takes a switch's socket; stdin/stdout (slirpvde's `-s -`) stay here.
  if (!stdio && slirpThreadRefusal(config, o.thread) === null) return await runSlirpThread(o, config);
  await runProgram(slirpProgram(o), async (p) => {
    // On this thread only here (`--no-thread`): the threaded slirp's stack is its worker's alone, and a
    // module the main thread loaded stays in its memory.
    const { openSlirpLink } = await import("../link/slirp_link.ts");
    const slirp = await openSlirpLink(config).catch((err) => {
      throw new UsageError((err as Error).message);
    });
    p.defer(() => slirp.close());
    const sw = stdio
      ? await openLink("-").catch((err) => {
        throw new UsageError((err as Error).message);
      })
      : await joinSwitch(o, p);
    if (sw === undefined) return;
    p.defer(() => sw.close());
    let metrics: string | undefined;
    if (o.http !== undefined) {
      const web = startMetricsServer("vde slirp", o.http, () => renderSlirpMetrics(o.sock, slirp.stack));
      p.defer(() => web.close());
      metrics = web.url;
    }
    // Plugged before ready: the stack probes for its gateway once plugged (untilProbed).
    const probed = new Promise<void>((answered) => slirp.stack.onProbed = answered);
    const plugged = plug(sw, slirp);
    await untilProbed(p.inBackground, probed, p.stopped);
    lateWarningsToTerminal(p);
    p.ready(slirpStarted(stdio ? "stdin/stdout" : o.sock, slirp.stack.describe()[0]!, metrics));
    const reason = await Promise.race([plugged, p.stopped]);
    log("vde slirp", `${reason}, exiting`);
    log("vde slirp", switchLinkSummary(sw.stats));
  });
}

/**
 * The slirp on a thread of its own (dataplane/slirp_thread.ts): the switch's
 * socket is lent to it; the main thread keeps the link's control stream.
 */
async function runSlirpThread(o: SlirpCliOptions, config: SlirpConfig): Promise<void> {
  await runProgram(slirpProgram(o), async (p) => {
    // A stopped slirp is on its way out, as a stopped plug is (cli/plug.ts): its stop waits for no thread
    // Deno is still loading, which took seconds on a busy machine, so a Ctrl-C as it started ran on so long.
    p.stopped.then(hurryStops);
    const sw = await joinSwitch(o, p);
    if (sw === undefined) return;
    p.defer(() => sw.close());
    const { reason, end } = await runSlirpOnThread(sw, config, p.stopped, async (described, thread) => {
      let metrics: string | undefined;
      if (o.http !== undefined) {
        const web = startMetricsServer("vde slirp", o.http, () => thread.metrics());
        p.defer(() => web.close());
        metrics = web.url;
      }
      await untilProbed(p.inBackground, thread.probed, p.stopped);
      lateWarningsToTerminal(p);
      p.ready(slirpStarted(o.sock, described, metrics));
    }, { metricsName: o.sock }).catch((err) => {
      throw new UsageError((err as Error).message);
    });
    log("vde slirp", `${reason}, exiting`);
    log("vde slirp", switchLinkSummary(end.link));
  });
}

/**
 * The switch at `o.sock` joined, or undefined when a stop came first: the handshake is told the stop and
 * undone (no socket left in the switch's directory, no port on it), and the slirp ends as stopped then.
 */
async function joinSwitch(o: SlirpCliOptions, p: Program): Promise<VdeClientLink | undefined> {
  const joining = openUnlessStopped(
    p.stopped,
    (signal) => openVdeLink(o.sock, { description: "slirpvde:", unasked: o.unasked, signal }),
  );
  return await joining.catch((err) => {
    throw new UsageError((err as Error).message);
  });
}

/**
 * How long after a `--daemon` start returned its warnings still reach the terminal it was started on: past
 * the last gateway probe (2.1 s after plugging in) and an answer to it over a slow cable (2 s).
 */
export const LATE_WARNING_MS = PROBE_DELAY_MS + (PROBES - 1) * PROBE_GAP_MS + 2000;

/**
 * A `--daemon` start returns 0.2 s after its first gateway probe left unanswered (`untilProbed`), as fast as
 * it can when no slirp is there; one behind a slow cable answers later, and its gateway-taken line reached
 * syslog only. For LATE_WARNING_MS after the start returned, a daemon without a log file says its warnings on
 * the terminal that started it too (a script's stderr, no terminal, is not held open: a script finds them
 * where every line of the daemon's goes, its --logfile or syslog, log.ts).
 * Called just before `p.ready`: the terminal is opened by name while the waiting parent still holds it as its
 * stderr, so the name cannot have been freed and handed to another login's terminal meanwhile.
 */
export function lateWarningsToTerminal(p: Program): void {
  // With a log file the warnings go there (log.ts): the terminal is not opened, so not held either.
  if (!p.inBackground || logsToFile()) return;
  const terminal = openStartingTerminal();
  if (terminal === null) return;
  const end = () => {
    clearTimeout(timer);
    setLateWarnings(null);
    terminal.close();
  };
  setLateWarnings(terminal.write);
  const timer = setTimeout(end, LATE_WARNING_MS);
  Deno.unrefTimer(timer);
  p.defer(end);
}

/** Longest a `--daemon` start waits for `probed` (a probe that never left, a thread that hangs). */
export const PROBED_WAIT_MS = 5000;

/**
 * A `--daemon` start waits until the first gateway probe is answered or went unanswered (`probed`,
 * gateway_guard.ts's `onProbed`), or a stop, so the conflict line reaches the terminal that started
 * it, as a foreground start shows it: a script that started a second slirp on a switch was told
 * nothing. Not a fixed sleep: the probe itself leaves late on a loaded machine. A foreground start
 * goes on at once.
 */
export async function untilProbed(
  inBackground: boolean,
  probed: Promise<unknown>,
  stopped: Promise<unknown>,
  capMs = PROBED_WAIT_MS,
): Promise<void> {
  if (!inBackground) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([probed, stopped, new Promise((ok) => timer = setTimeout(ok, capMs))]);
  clearTimeout(timer);
}

/** Commander's "unknown option" line with how slirp://, QEMU or slirpvde spell that option, when they do. */
export const withOptionHint = unknownOptionHint((name) =>
  name === "hostfwd"
    ? "QEMU's hostfwd is --forward here, in either form: --forward tcp::2222-:22"
    : slirpvdeHint(name) ?? slirpOptionHint(name)
);

/** Whether `value` is an IPv4 address as -D's first lease is written. */
function isAddress(value: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(value);
}

/**
 * slirpvde's switch directory, given as `--sock DIR` or, as its synopsis has it, last (`slirpvde -D
 * /tmp/net`). Its -D takes a first address only as --dhcp=ADDR, but commander gives -D the next word:
 * one that is no address is that directory, and -D is DHCP on (it always is here).
 */
function switchGiven(opts: SlirpCliOptions, words: readonly string[]): string | undefined {
  const trailing = [...words];
  if (typeof opts.dhcp === "string" && !isAddress(opts.dhcp)) {
    trailing.unshift(opts.dhcp);
    opts.dhcp = true;
  }
  if (
    trailing.length > 1 || (trailing.length === 1 && opts.sock !== undefined && opts.sock !== trailing[0])
  ) {
    throw new UsageError(
      `vde slirp plugs into one switch: ${
        [opts.sock, ...trailing].filter((w) => w !== undefined).join(", ")
      } ` +
        `given; name it once, e.g. \`vde slirp --sock ${opts.sock ?? trailing[0]}\``,
    );
  }
  return opts.sock ?? trailing[0];
}

/** The default switch (default_switch.ts), or why there is none with what to give. */
function defaultSwitchOrRefusal(): { dir: string; unasked?: UnaskedDefault } {
  try {
    return defaultSwitch(undefined, undefined, (dir) => `vde slirp --sock ${dir}`);
  } catch (err) {
    // Root refused another user's switch: the refusal already says what to give.
    if (err instanceof OthersDefaultSwitch) throw new UsageError(err.message);
    throw new UsageError(
      `${(err as Error).message}: give --sock DIR, the socket directory of a switch`,
    );
  }
}

/**
 * The switch directory a --sock written as a VNL names: `vde://DIR` is DIR, as slirpvde's -s takes it. Any
 * other VNL is no switch to join (hub:// would serve a node here, of which the slirp can only be the host's
 * end): refused in one line that says what runs a slirp on it.
 *
 * @throws UsageError for a VNL of another scheme
 */
export function switchOfVnl(sock: string): string {
  const { scheme, rest } = splitVnl(sock);
  if (scheme === "vde") return rest;
  if (scheme === "stdio") return sock;
  const node = (NODE_KINDS as readonly string[]).includes(scheme)
    ? `, which serves a ${scheme} in the process that opens it`
    : "";
  // A scheme there is not (a typo) gets no advice to run it: `vde plug` would refuse it in turn.
  const instead = Object.hasOwn(BUILTIN_SCHEMES, scheme)
    ? `: \`vde plug ${shellQuoted(sock)} slirp://\` puts a slirp on it`
    : "";
  throw new UsageError(
    `vde slirp --sock takes a switch's directory (DIR or vde://DIR), not ${sock}${node}${instead}`,
  );
}

/** Registers `vde slirp`. */
export const slirpCommand: Subcommand = (program: Command) => {
  withDaemonOptions(
    program.command("slirp")
      .description("plug a user-mode TCP/IP stack (NAT to the host, DHCP, DNS, forwards) into a switch")
      // `--restricted` or QEMU's `--hostfwd` are a libslirp user's first guesses: say how they are written here.
      .configureOutput(vdeErrors(withOptionHint))
      .option(
        "-s, --sock <dir>",
        "socket directory of the switch (or given last, as slirpvde; - is stdin/stdout; default: the default switch, as vde plug's)",
      )
      .option(
        "-f, --forward <spec>",
        "inbound forward tcp|udp:[HOSTIP:]HOSTPORT:[GUESTIP:]GUESTPORT, e.g. tcp:8080:80, or QEMU's hostfwd " +
          "form tcp::8080-:80 (repeatable)",
        collect,
        [],
      )
      .option("--no-host-loopback", "do not take traffic for the gateway address to the host's loopback")
      .option("--mtu <n>", "MTU announced to the guest and used by the stack (default: 1500)")
      .option(
        "--dns-upstream <addr>",
        "DNS server to forward to, ADDR[:PORT] (repeatable) (default: those of /etc/resolv.conf)",
        collect,
        [],
      )
      .option(
        "--cmdfwd <spec>",
        "guest forward [SLIRPIP:]PORT:COMMAND: guest connections to SLIRPIP:PORT (SLIRPIP default: 10.0.2.4) talk to COMMAND's stdio (repeatable)",
        collect,
        [],
      )
      .option(
        "--unixfwd <spec>",
        "guest forward [SLIRPIP:]PORT:PATH: guest connections to SLIRPIP:PORT go to unix socket PATH (repeatable)",
        collect,
        [],
      )
      .option("-t, --tftp <dir>", "serve DIR read-only by TFTP on the gateway address (for PXE boot)")
      .option("--bootfile <name>", "boot file name DHCP announces (PXE), served from --tftp DIR")
      .option("--http <[addr:]port>", "serve Prometheus /metrics of the slirp (127.0.0.1 unless ADDR)")
      .option("--no-thread", "run the slirp on the main thread (default: a thread of its own when it can)")
      .option(
        "-o, --options <opts>",
        "slirp:// options in vdeplug's form, e.g. addr=10.1.0.2/24/vdnssearch=lan (repeatable)",
        joinOptions,
      ),
    "run in the background, returning once the slirp is plugged in and serves",
  )
    // slirpvde's own spellings, for its users' scripts (slirpvde_flags.ts); the rest get a hint.
    .addOption(new Option("-D, --dhcp [start]").hideHelp())
    .addOption(new Option("-L, --localfwd <spec>").argParser(collect).default([]).hideHelp())
    .addOption(new Option("-U, --udpfwd <spec>").argParser(collect).default([]).hideHelp())
    .addOption(new Option("-H, --host <addr>").hideHelp())
    .addOption(new Option("-n, --network <addr>").hideHelp())
    .addOption(new Option("-N, --dns <addr>").hideHelp())
    .addOption(new Option("-P, --port <n>").hideHelp())
    .addOption(new Option("-g, --group <group>").hideHelp())
    .addOption(new Option("-m, --mod <mode>").hideHelp())
    .addOption(new Option("-q, --quiet").hideHelp())
    .addHelpText(
      "after",
      examples(
        "vde slirp -s /tmp/net                       # a guest on /tmp/net gets DHCP, DNS and NAT",
        "vde slirp -s /tmp/net -f tcp:8080:80          # host port 8080 to the guest's port 80",
        "vde slirp -s /tmp/net -t /srv/tftp --bootfile boot.ipxe   # PXE: QEMU's -boot n boots boot.ipxe",
        "vde slirp -s /tmp/net -o addr=10.1.0.2/24/vdnssearch=lan",
        "vde slirp -s /tmp/net -d --pidfile /tmp/slirp.pid   # in a script: returns once it serves",
        "vde slirp -s demo/sw1 -d                    # switch sw1 of running lab demo (sw1 alone: of one lab)",
      ),
    )
    .allowExcessArguments(true)
    .action(async (opts: SlirpCliOptions, cmd: Command) => {
      if (opts.quiet) quietStderrLog();
      // None given: the default switch, as slirpvde's libvdeplug and `vde plug ''` find it (`vde switch -d`
      // then `vde slirp -d` was refused, where slirpvde joins that switch).
      const given = switchGiven(opts, cmd.args);
      const found = given === undefined ? defaultSwitchOrRefusal() : { dir: given };
      const sock = switchOfVnl(found.dir);
      opts.unasked = found.unasked;
      // slirpvde's -P, -g and -m are the switch end's [port=N/group=G/mode=M], as vde_plug's are.
      try {
        opts.sock = withSwitchOptions(
          sock,
          { port: opts.port, group: opts.group, mode: opts.mod },
          "-P, -g and -m",
        );
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (opts.sock === "-") {
        // slirpvde's `-s -`: the slirp on stdin/stdout in VDE's stream framing, as `vde plug - slirp://`.
        if (opts.daemon) {
          throw new UsageError(
            "--daemon with --sock - (stdin/stdout) is refused: in the background they are /dev/null",
          );
        }
        refuseStdioAtTerminal(
          true,
          "refusing to run a slirp on this terminal (--sock - carries frames on stdin/stdout in VDE's stream " +
            "framing): run it in a pipe, e.g. `dpipe vde plug /tmp/net = ssh HOST vde slirp -s -`",
        );
        return runSlirp(opts);
      }
      // A mistake in the options is said first, whatever the switch's name finds (runSlirp reads them again).
      slirpConfigFromFlags(opts);
      // A running lab's switch by name (sw1, demo/sw1), as vde term and vde capture take it.
      // A port asked of the switch (`/tmp/net[5]`, a VLAN's access port) is no part of its directory's name.
      if (exists(switchDirOf(opts.sock))) return runSlirp(opts);
      // Loaded only for a name that is no path: a slirp of a switch's directory keeps no lab code in memory.
      const { namedSwitch } = await import("../lab/switch_paths.ts");
      const named = namedSwitch(opts.sock);
      if ("dir" in named) return runSlirp({ ...opts, sock: named.dir });
      // Said as vde capture says it: two labs' sw1, a near name, root's lab; else the link's own words.
      if ("refused" in named) throw new UsageError(named.refused);
      if (named.clause !== "") {
        throw new UsageError(
          printable(`no switch at ${opts.sock}: the directory does not exist${named.clause}`),
        );
      }
      return runSlirp(opts);
    });
};

/** The switch directory of a --sock that may ask for a port (`DIR[5]`); a malformed one as it is, for the link to refuse. */
function switchDirOf(sock: string): string {
  try {
    return parseVdeVnl(sock).path;
  } catch {
    return sock;
  }
}
