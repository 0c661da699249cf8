/**
 * `vde plug VNL [VNL]`: a virtual cable between two links. With one VNL the
 * other end is stdin/stdout (as Debian's `vde_plug` does), so it can sit in
 * a dpipe or at the far end of ssh.
 *
 * Between a vde:// switch and slirp:// the plug runs the slirp on a thread
 * of its own, as `vde slirp` does (dataplane/slirp_thread.ts): the thread
 * owns the switch's socket, the stack and every host socket; the main
 * thread keeps the switch's control stream and the signals. Guest forwards
 * (cmdfwd, unixfwd) use Deno's process and socket API, which that thread
 * does not turn, so with them (or `--no-thread`) the slirp stays on the
 * main thread.
 */
import { checkKeepWarmSetting } from "./keep_warm_setting.ts";
import { Argument, type Command } from "commander";
import type { Link } from "../link/link.ts";
import { plug, plugsOnThread } from "../link/plug.ts";
import { listensFirst, peerPortOf } from "../link/switch_port.ts";
import { openLink, type OpenOptions, preloadSchemes, splitVnl } from "../link/registry.ts";
import { runSlirpOnThread, slirpThreadRefusal, switchLinkSummary } from "../dataplane/slirp_thread.ts";
import { log } from "../log.ts";
import { STOP_SIGNALS } from "./signals.ts";
import { hurryStops } from "../dataplane/worker_handle.ts";
import type { DgramLink } from "../link/dgram_link.ts";
import { parseSlirpOptions, type SlirpConfig } from "../slirp/config.ts";
import { ExitStatus, type Subcommand } from "./main.ts";
import { examples, vnlHelp } from "./help.ts";
import { refuseStdioAtTerminal } from "./stdio_terminal.ts";
import { openFailure } from "./open_failure.ts";
import { lateWarningsToTerminal, logSlirpStarted, slirpStarted, untilProbed } from "./slirp.ts";
import { type Program, programOf, type ProgramOptions, runProgram, withDaemonOptions } from "./program.ts";
import { withSwitchOptions } from "./vde_plug_args.ts";
import { shellQuoted } from "../shell_quote.ts";
import { withNodePath } from "../link/node_path.ts";
import { type PlugSessionLog, plugSyslog } from "./plug_log.ts";
import { printable } from "../console/reply_format.ts";
import { abortedOnStop, openUnlessStopped, unlessStopped } from "./unless_stopped.ts";

interface PlugFlags {
  descr?: string;
  thread?: boolean;
  port?: string;
  port2?: string;
  group?: string;
  group2?: string;
  mod?: string;
  mod2?: string;
  daemon?: boolean;
  pidfile?: string;
  logfile?: string;
  log?: boolean;
  iplog?: boolean;
}

/** Registers `vde plug`. */
export const plugCommand: Subcommand = (program: Command) => {
  withDaemonOptions(
    program
      .command("plug")
      .description("join two VNLs with a virtual cable; with one VNL, join it with stdin/stdout")
      // Omitted, as in vde_plug, it is the default switch (link/default_switch.ts).
      // The empty default shown by its meaning: commander printed "(default: )" after the description's own.
      .addArgument(
        new Argument("[vnl]", 'first end, e.g. /tmp/sw, vde:///tmp/sw[3], cmd://"ssh host vde plug", null://')
          .default("", "the default switch"),
      )
      .argument("[vnl2]", "second end; - is stdin/stdout", "-")
      .option("-D, --descr <text>", "description given to a switch")
      .option(
        "--thread",
        "forward between two vde:// or tap:// ends, or run a slirp:// behind a vde:// end, on a thread of its own (the default)",
      )
      .option("--no-thread", "forward, or run the slirp, on the main thread")
      .option("--port <n>", "vde_plug's: the first end's switch port, as VNL[N]")
      .option("--port2 <n>", "vde_plug's: the second end's switch port")
      .option("-g, --group <group>", "vde_plug's: the first end's socket group, as VNL[group=G]")
      .option("-G, --group2 <group>", "vde_plug's: the second end's socket group")
      .option("-m, --mod <mode>", "vde_plug's: the first end's socket mode, as VNL[mode=M]")
      .option("-M, --mod2 <mode>", "vde_plug's: the second end's socket mode"),
    "run in the background, returning once both ends are open (the port attached, the tap made)",
  )
    .option(
      "-l, --log",
      "vde_plug's: say the session's START and STOP to syslog (facility user, tag vde_plug)",
    )
    .option("-L, --iplog", "vde_plug's: -l, and each IP address the stream's side sends from")
    .addHelpText(
      "after",
      examples(
        "vde plug /tmp/net tap://tap0                      # a tap on the switch",
        "vde plug /tmp/net slirp://                        # NAT to the host on the switch",
        'vde plug /tmp/net cmd://"ssh hostB vde plug /tmp/net"  # two switches, one cable over ssh',
        "vde plug /tmp/net = ssh hostB vde plug /tmp/net     # the same, as vde_plug writes it",
        "vde plug --port 3 -m 660 /tmp/net tap://tap0       # vde_plug's options: /tmp/net[port=3/mode=660]",
        "vde plug -d -p /tmp/t0.pid /tmp/net tap://t0       # in a script: returns once the tap exists",
        "vde plug hub:///tmp/hub tap://t0                   # serve a hub at /tmp/hub, the tap on it; join: /tmp/hub",
      ) + vnlHelp(),
    )
    .action(async (firstWritten: string, secondWritten: string, flags: PlugFlags) => {
      const first = withSwitchOptions(
        firstWritten,
        { port: flags.port, group: flags.group, mode: flags.mod },
        "--port, -g and -m",
      );
      const second = withSwitchOptions(
        secondWritten,
        { port: flags.port2, group: flags.group2, mode: flags.mod2 },
        "--port2, -G and -M",
      );
      // The advice names the end the user gave, so the line it suggests is theirs to run.
      const given = first === "-" ? second : first;
      if (flags.daemon && (first === "-" || second === "-")) {
        throw new ExitStatus(
          1,
          `--daemon needs two VNLs: in the background stdin/stdout are /dev/null, e.g. \`vde plug -d ${
            shellQuoted(given)
          } tap://tap0\``,
        );
      }
      // `vde plug` alone at a terminal is someone asking how (vde_plug's default switch joined to the
      // screen is never meant): said as a usage line, not as a refusal to join '' to the terminal.
      refuseStdioAtTerminal(
        firstWritten === "" && secondWritten === "-",
        "vde plug joins two ends: a switch and what plugs into it, e.g. `vde plug /tmp/net tap://tap0` " +
          "(one VNL alone is joined to stdin/stdout, for dpipe or ssh)",
      );
      refuseStdioAtTerminal(
        first === "-" || second === "-",
        `refusing to join ${named(given)} to this terminal (stdin/stdout carry frames ` +
          `in VDE's stream framing): give a second end, e.g. \`vde plug ${
            shellQuoted(given)
          } tap://tap0\`, ` +
          "or run it in a pipe (dpipe, ssh)",
      );
      await runProgram(plugProgram(flags), async (p) => {
        // A stopped plug is on its way out: it waits for no data-plane thread that Deno is still loading,
        // which a loaded machine took seconds to, so that a Ctrl-C as it starts seemed lost. Such a thread
        // never answers, and the fds lent to it stay open until the exit closes them (a tap goes then).
        p.stopped.then(hurryStops);
        // As vde_plug's -l: START before the ends are opened, STOP however the plug ends.
        const session = flags.log || flags.iplog ? plugSyslog() : undefined;
        session?.start();
        try {
          await runPlug(p, first, second, flags, flags.iplog ? session : undefined);
        } finally {
          session?.stop();
        }
      });
    });
};

/** The life `runProgram` gives `vde plug`: vde_plug's `-d` and `-p`, and `--logfile`, as the switch has them. */
function plugProgram(flags: PlugFlags): ProgramOptions {
  // Its links stop what they started; the process ends at the plug's end as it always did.
  return programOf("vde plug", "plug", flags, false);
}

/**
 * Opens both ends, says it is ready (the switch's port is attached and a
 * tap exists by then: a `--daemon` start returns, the pid file is written),
 * and carries frames until either end goes or a signal stops it.
 */
async function runPlug(
  p: Program,
  first: string,
  second: string,
  flags: PlugFlags,
  ipLog?: PlugSessionLog,
): Promise<void> {
  const options: OpenOptions = flags.descr === undefined ? {} : { description: flags.descr };
  checkKeepWarmSetting();
  // -L looks at what the stream's side sends (vde_plug's): the remote user's frames. No stream end, no
  // addresses: said, as the flag would otherwise do nothing without a word.
  const stream = ipLog === undefined ? undefined : [second, first].find(isStream);
  if (ipLog !== undefined && stream === undefined) {
    log(
      "vde plug",
      "-L logs the addresses a stream end (-, cmd://, = COMMAND) sends from; none here: START/STOP only",
    );
  }
  const slirp = slirpBehindSwitch(first, second);
  if (slirp !== null && slirpThreadRefusal(slirp.config, flags.thread) === null) {
    return await plugSlirpThread(p, slirp.vde, slirp.config, options);
  }
  const thread = flags.thread !== false;
  if (plugsOnThread(first, second, { thread })) options.plugThread = true;
  // A signal ends the cable like EOF does: both links close, so each can say
  // goodbye (a vxvde leave notice, a tap it created removed). Listening from the
  // start: a signal while the ends are still opening closes what is open, exit 0.
  const ends: Link[] = [];
  let signalled = false;
  // An end still opening that waits for someone (ptp://'s first end, for its peer) stops waiting.
  const stop = options.signal = abortedOnStop(p.stopped);
  p.stopped.then(() => {
    signalled = true;
    for (const l of ends) l.close("stopped by a signal");
  });
  await preloadSchemes([first, second]);
  // Each end knows the other: a tcp:// cable is its switch's (link/cable_lock.ts) and names its port, as a
  // switch's cable does. A listening cable waits for its far end, so it opens last: told its port then.
  const swap = await listensFirst(first, second);
  const [x, y] = swap ? [second, first] : [first, second];
  let ey: Link | undefined;
  const ex = await unlessStopped(
    open(x, { ...options, peer: y, peerPort: () => peerPortOf(ey) }),
    stop,
  );
  if (ex === undefined) return;
  ends.push(ex);
  if (signalled) {
    ex.close("stopped by a signal");
    return;
  }
  try {
    ey = await unlessStopped(open(y, { ...options, peer: x, peerPort: () => peerPortOf(ex) }), stop);
  } catch (err) {
    ex.close(signalled ? "stopped by a signal" : "the other end could not be opened");
    if (signalled) return;
    throw err;
  }
  if (ey === undefined) return;
  ends.push(ey);
  if (signalled) {
    ex.close("stopped by a signal");
    ey.close("stopped by a signal");
    return;
  }
  const [a, b] = swap ? [ey, ex] : [ex, ey];
  /** A slirp's first gateway probe answered, which a daemon waits for (as plugSlirpThread's). */
  let probed: Promise<void> | undefined;
  for (const [end, vnl, other] of [[a, first, second], [b, second, first]] as const) {
    // Only a slirp:// end has loaded the slirp stack: a plug of other ends never loads it.
    if (splitVnl(vnl).scheme !== "slirp") continue;
    const { SlirpLink } = await import("../link/slirp_link.ts");
    if (!(end instanceof SlirpLink)) continue;
    logSlirpStarted("vde plug", other, end.stack.describe()[0]!);
    if (p.inBackground) probed = new Promise((answered) => end.stack.onProbed = answered);
  }
  // Which end went first, and why: set up before plug() closes the other end too.
  const firstEnd = Promise.race([
    a.closed.then((reason) => [first, reason, a] as const),
    b.closed.then((reason) => [second, reason, b] as const),
  ]);
  const watch = ipLog === undefined || stream === undefined
    ? undefined
    : { from: stream === second ? b : a, see: (frame: Uint8Array) => ipLog.see(frame) };
  const plugged = plug(a, b, { thread, openedForThread: options.plugThread, watch });
  // A slirp probes for its gateway once plugged: a daemon's start says another's answer before it returns.
  if (probed !== undefined) await untilProbed(true, probed, p.stopped);
  if (probed !== undefined) lateWarningsToTerminal(p);
  // In the foreground it stays as quiet as vde_plug; a daemon's line says what it joined.
  p.ready(p.inBackground ? `${named(first)} joined to ${named(second)}` : undefined);
  await plugged;
  const [vnl, reason, end] = await firstEnd;
  if (!signalled && end.failed === true && !await killedByOurStop(end.killedBy ?? null, p.stopped)) {
    throw new ExitStatus(1, printable(`${vnl}: ${reason}`));
  }
  // Quiet in the foreground, as vde_plug; a daemon's log says why its link went (a switch restarted), where
  // its admin looks for it, or its last line would be the join.
  if (!signalled && p.inBackground) log("vde plug", printable(`ended: ${named(vnl)}: ${reason}`));
}

/**
 * How long a command killed by a stop signal waits for that signal to stop the plug too: long enough for
 * Deno to run the plug's own listener, short for a command that dies alone (its line comes that much later).
 */
const GROUP_SIGNAL_MS = 200;

/**
 * Whether the end that went first is its command killed (`killed`, the end's `killedBy`) by the signal that
 * is stopping this plug: `timeout` and a terminal's Ctrl-C signal the whole process group, and the command
 * may die of it before the plug's own listener runs. Not an error worth a line then, as vde_plug says
 * nothing; a command killed alone is.
 */
async function killedByOurStop(killed: Deno.Signal | null, stopped: Promise<string>): Promise<boolean> {
  if (killed === null || !STOP_SIGNALS.includes(killed)) return false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const alone = new Promise<string>((done) => timer = setTimeout(() => done(""), GROUP_SIGNAL_MS));
  try {
    return await Promise.race([stopped, alone]) === killed;
  } finally {
    clearTimeout(timer);
  }
}

/** The switch's VNL and the slirp's configuration when one end is vde:// and the other slirp://, else null. */
function slirpBehindSwitch(first: string, second: string): { vde: string; config: SlirpConfig } | null {
  const a = splitVnl(first).scheme;
  const b = splitVnl(second).scheme;
  const [vde, slirp] = a === "vde" && b === "slirp"
    ? [first, second]
    : a === "slirp" && b === "vde"
    ? [second, first]
    : [];
  if (vde === undefined || slirp === undefined) return null;
  let config: SlirpConfig;
  try {
    config = parseSlirpOptions(splitVnl(slirp).rest);
  } catch (err) {
    throw new Error(`cannot open ${slirp}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { vde, config };
}

/** The slirp on a thread of its own behind the switch `vde`, until a signal or the switch goes away. */
async function plugSlirpThread(
  p: Program,
  vde: string,
  config: SlirpConfig,
  options: OpenOptions,
): Promise<void> {
  // Told the stop, as runPlug's ends are: a signal during the handshake undoes it, and the plug ends.
  // openLink yields a VdeClientLink (a datagram link) for the vde scheme.
  const sw = await openUnlessStopped(p.stopped, (signal) => open(vde, { ...options, signal })) as
    | DgramLink
    | undefined;
  if (sw === undefined) return;
  const where = splitVnl(vde).rest;
  const { end } = await runSlirpOnThread(sw, config, p.stopped, async (described, thread) => {
    // As `vde slirp -d`: a second slirp on the switch is said before the start returns.
    await untilProbed(p.inBackground, thread.probed, p.stopped);
    lateWarningsToTerminal(p);
    p.ready(slirpStarted(where, described));
  }).catch((err) => {
    throw new Error(`cannot open slirp://: ${err instanceof Error ? err.message : String(err)}`);
  });
  log("vde plug", switchLinkSummary(end.link));
}

async function open(vnl: string, options: OpenOptions): Promise<Link> {
  try {
    return await openLink(vnl, options);
  } catch (err) {
    throw new Error(openFailure(vnl, err, named(vnl)));
  }
}

/** Whether `vnl` is a stream end: stdin/stdout, or a command's (`cmd://`, vde_plug's `= COMMAND`). */
function isStream(vnl: string): boolean {
  const scheme = splitVnl(vnl).scheme;
  return scheme === "stdio" || scheme === "cmd";
}

/** A VNL as a message names it: the empty one (the default switch) as the shell wrote it, ''. */
function named(vnl: string): string {
  return vnl === "" ? "'' (the default switch)" : withNodePath(vnl);
}
