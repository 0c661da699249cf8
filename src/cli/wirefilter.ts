/**
 * `vde wirefilter [VNL_A VNL_B] [options]`: an impaired wire (loss, delay,
 * duplication, bandwidth, noise, MTU, reordering) between two VNLs, with
 * wirefilter's option names and value syntax (spec 7).
 *
 * Modes, as wirefilter's:
 * - Two VNLs (or `-v A:B`, wirefilter's `--vde-plug`): the filter opens
 *   both; L->R is A to B. Unless one side is `-` (stdin/stdout) or it runs
 *   as a daemon, stdin is a console with wirefilter's commands.
 * - No VNL: a stream filter in a dpipe (`dpipe vde_plug A = vde wirefilter
 *   -d 50 = vde_plug B`): frames in VDE's stream framing, L->R from stdin to
 *   the fd named by ALTERNATE_STDOUT, R->L from ALTERNATE_STDIN to stdout.
 *   Without those variables it is one-way, stdin to stdout, and so when
 *   ALTERNATE_STDIN names a closed fd (`handedOver`), as Debian's does.
 * When either side ends, frames already on the wire towards the other side
 * are still delivered (bounded wait), then the program exits.
 */
import { connectJudgedDatagram } from "../os/root_way.ts";
import type { Command } from "commander";
import "../link/schemes.ts";
import type { Link } from "../link/link.ts";
import { openLink, type OpenOptions } from "../link/registry.ts";
import { listensFirst, peerPortOf } from "../link/switch_port.ts";
import { StreamLink } from "../link/stream_link.ts";
import { dropsOf, WireLink } from "../link/wire_link.ts";
import { MgmtServer } from "../console/mgmt_server.ts";
import { runStartupScript } from "../console/script.ts";
import { UnixDgramSocket } from "../io/unix_dgram.ts";
import { log } from "../log.ts";
import { parseOctalMode } from "../vde/permissions.ts";
import { MAX_FRAME_IN } from "../wire/stream_framing.ts";
import { type DirectionCounters, type ParamName, WireFilter } from "../wirefilter/filter.ts";
import { isValueError, LR, RL, type WireSetting } from "../wirefilter/value.ts";
import { parseSetting } from "../wirefilter/limits.ts";
import {
  WIREFILTER_GREETING,
  WIREFILTER_PROMPT,
  wirefilterCommands,
  WirefilterContext,
} from "../wirefilter/commands.ts";
import { type RunningConsole, startWirefilterConsole } from "../wirefilter/console.ts";
import { metricsPart, startMetricsServer } from "../web/metrics_server.ts";
import { parseHttpAddress } from "../web/address.ts";
import { wirefilterFamilies } from "../web/wirefilter_metrics.ts";
import { refuseStdinScriptInBackground, runProgram } from "./program.ts";
import { reportEndedAsTold } from "./daemon.ts";
import { examples, vnlHelp } from "./help.ts";
import { refuseStdioAtTerminal } from "./stdio_terminal.ts";
import { type Subcommand, unknownOptionHint, UsageError, vdeErrors } from "./main.ts";
import { isNetemWord, netemCommandLineHint, netemForWirefilter } from "../wirefilter/netem_words.ts";
import { exists } from "../os/paths.ts";
import { openFailure } from "./open_failure.ts";
import { toWirefilterLongOptions } from "./wirefilter_args.ts";
import { openUnlessStopped, stoppedOpening } from "./unless_stopped.ts";

const COMPONENT = "vde wirefilter";

/** How long frames still on the wire may take to arrive once one side has ended. */
const DRAIN_MS = 30_000;
/** How long the last bytes may take to leave on a stream once the wire is empty. */
const FLUSH_MS = 5_000;

/** Parsed options of `vde wirefilter`. */
export interface WirefilterOptions {
  /** Value settings in command-line order. */
  settings: [ParamName, WireSetting][];
  nofifo?: boolean;
  rcfile?: string;
  mgmt?: string;
  mgmtmode?: string;
  vdePlug?: string;
  daemon?: boolean;
  pidfile?: string;
  blink?: string;
  blinkid?: string;
  seed?: string;
  /** Serve Prometheus /metrics here ([ADDR:]PORT). */
  http?: string;
}

/** Splits wirefilter's `-v L:R` at the colon that separates two VNLs (not the one of `scheme://`). */
export function splitVdePlug(text: string): [string, string] {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ":" && !text.startsWith("//", i + 1)) {
      const left = text.slice(0, i);
      const right = text.slice(i + 1);
      if (left !== "" && right !== "") return [left, right];
    }
  }
  throw new UsageError(`--vde-plug expects LEFT:RIGHT (two VNLs), got "${text}"`);
}

/** Parses one value option, as a UsageError when it has no number. */
export function parseValueOption(option: string, param: ParamName, text: string): WireSetting {
  // `-d --mgmt /tmp/wf`: -d took the next option as its delay, where the user meant --daemon.
  if (param === "delay" && /^-[A-Za-z-]/.test(text)) {
    throw new UsageError(`--${option} wants a delay such as 50, got "${text}" (${DELAY_NOT_DAEMON})`);
  }
  const v = parseSetting(param, text);
  if (isValueError(v)) throw new UsageError(`--${option}: ${v.error}`);
  return v;
}

/** vde2's wirefilter has `-d` for its delay, where every other vde command's `-d` is --daemon. */
const DELAY_NOT_DAEMON = "wirefilter's -d is its delay, as in vde2; in the background: --daemon --mgmt PATH";

/** Commander's "argument missing" for a bare `-d` (a --daemon meant), with what -d is here. */
export function delayFlagHint(text: string): string {
  return text.replace(
    /^(vde: option '-d, --delay <value>' argument missing)\n/,
    `$1 (${DELAY_NOT_DAEMON})\n`,
  );
}

/** The value of `-d`/`--delay` on the command line `argv`, if any. */
function delayIn(argv: readonly string[]): string | undefined {
  const i = argv.findLastIndex((a) => a === "-d" || a === "--delay");
  if (i >= 0) return argv[i + 1];
  return argv.findLast((a) => a.startsWith("--delay="))?.slice("--delay=".length);
}

/**
 * Commander's "unknown option" line with wirefilter's option for tc netem's
 * (`--rate 1mbit`: `--band 125000`), read from the command line `argv`.
 */
export function netemOptionHint(
  // As the parser saw it: `-delay 50` is the --delay 50 a `--jitter 10` hint builds on.
  argv: readonly string[] = toWirefilterLongOptions(Deno.args),
): (text: string) => string {
  return unknownOptionHint((name, value) => netemForWirefilter(name, value, "option", delayIn(argv)), argv);
}

/** A byte sink on a file that knows whether a write is in flight (to flush before exit). */
class TrackedSink {
  inFlight = 0;
  constructor(readonly file: { write(p: Uint8Array): Promise<number> }) {}
  async write(p: Uint8Array): Promise<number> {
    this.inFlight++;
    try {
      return await this.file.write(p);
    } finally {
      this.inFlight--;
    }
  }
}

/** A stream side of the dpipe mode, with what it takes to flush it. */
interface StreamSide {
  link: StreamLink;
  sink: TrackedSink;
}

function openFd(fd: number, mode: "read" | "write"): Deno.FsFile {
  const opts = mode === "read" ? { read: true } : { write: true };
  for (const path of [`/proc/self/fd/${fd}`, `/dev/fd/${fd}`]) {
    try {
      return Deno.openSync(path, opts);
    } catch { /* try the next spelling */ }
  }
  throw new UsageError(`cannot open fd ${fd} (from ALTERNATE_${mode === "read" ? "STDIN" : "STDOUT"})`);
}

function fdFromEnv(name: string): number | undefined {
  const v = Deno.env.get(name);
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a file descriptor number, got "${v}"`);
  return Number(v);
}

/**
 * Whether fd `fd` was handed to this process. Debian's dpipe names ALTERNATE_STDIN and ALTERNATE_STDOUT to
 * every command it starts, a one-way filter's (`A =} wirefilter }= B`) and the chain's ends too, where those
 * fds are closed; Debian's wirefilter then filters one way, and so does this. A closed low fd is taken by
 * Deno's own event loop before this runs (`anon_inode:[eventpoll]`), so one of those reads as not handed.
 */
function handedOver(fd: number): boolean {
  try {
    return !Deno.readLinkSync(`/proc/self/fd/${fd}`).startsWith("anon_inode:");
  } catch {
    return false;
  }
}

/** Never yields a byte: the source of a side that only writes. */
const silent = { read: () => new Promise<number | null>(() => {}) };

/** The two sides of the stream (dpipe) mode; the right one is write-only when one-way. */
function openStreamSides(): { left: StreamSide; right: StreamSide; bidirectional: boolean } {
  const altIn = fdFromEnv("ALTERNATE_STDIN");
  const altOut = fdFromEnv("ALTERNATE_STDOUT");
  const leftSink = new TrackedSink(Deno.stdout);
  const left = new StreamLink("stdin/stdout", Deno.stdin, leftSink, {
    maxFrameIn: MAX_FRAME_IN,
    release: () => {
      try {
        Deno.stdin.close();
      } catch { /* closed */ }
    },
  });
  if (altIn !== undefined && altOut !== undefined && handedOver(altIn)) {
    const input = openFd(altIn, "read");
    const output = openFd(altOut, "write");
    const sink = new TrackedSink(output);
    const right = new StreamLink(`fds ${altIn}/${altOut}`, input, sink, {
      maxFrameIn: MAX_FRAME_IN,
      release: () => {
        for (const f of [input, output]) {
          try {
            f.close();
          } catch { /* closed */ }
        }
      },
    });
    return { left: { link: left, sink: leftSink }, right: { link: right, sink }, bidirectional: true };
  }
  const sink = new TrackedSink(Deno.stdout);
  const right = new StreamLink("stdout", silent, sink, { maxFrameIn: MAX_FRAME_IN });
  return { left: { link: left, sink: leftSink }, right: { link: right, sink }, bidirectional: false };
}

/** Waits until a stream side has written everything it was given (bounded). */
async function flushed(side: StreamSide | undefined, timeoutMs: number): Promise<void> {
  if (side === undefined) return;
  const deadline = Date.now() + timeoutMs;
  while ((side.link.pendingBytes > 0 || side.sink.inFlight > 0) && !side.link.isClosed) {
    if (Date.now() >= deadline) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

function summary(c: DirectionCounters): string {
  return `${c.framesIn} in, ${c.framesOut} out, ${dropsOf(c)} dropped, ${c.dupCopies} duplicated, ` +
    `${c.delayed} delayed, ${c.reordered} reordered, ${c.noiseFrames} damaged`;
}

/**
 * Runs the filter until a side ends, a signal, or `shutdown`. `argv` is the
 * command line's words, read for tc netem's habits when the VNLs do not
 * add up (`--delay 100ms 20ms`, `loss 5%` leave extra VNLs).
 */
export async function runWirefilter(
  vnls: string[],
  o: WirefilterOptions,
  argv: readonly string[] = Deno.args,
): Promise<void> {
  if (o.vdePlug !== undefined) {
    if (vnls.length > 0) {
      throw new UsageError("give the two VNLs either as arguments or with --vde-plug, not both");
    }
    vnls = splitVdePlug(o.vdePlug);
  }
  // `vde wirefilter loss 5%` has two "VNLs" too: a netem keyword that names nothing here is no VNL.
  if (vnls.length === 1 || vnls.length > 2 || vnls.some((v) => isNetemWord(v) && !exists(v))) {
    const netem = netemCommandLineHint(argv);
    if (netem !== undefined) throw new UsageError(netem);
    throw new UsageError(
      `expected two VNLs (use - for stdin/stdout), or none to filter a dpipe stream; got ${vnls.length}`,
    );
  }
  const streamMode = vnls.length === 0;
  const usesStdio = streamMode || vnls.includes("-");
  refuseStdioAtTerminal(
    usesStdio,
    streamMode
      ? "refusing to filter this terminal: with no VNLs the filter sits in a dpipe " +
        "(`vde dpipe vde_plug /tmp/a = vde wirefilter -d 50 = vde_plug /tmp/b`); " +
        "give two VNLs to filter between two switches (`vde wirefilter /tmp/a /tmp/b -d 50`)"
      : "refusing to join - to this terminal (stdin/stdout carry frames in VDE's stream framing): " +
        "run it in a pipe (dpipe, ssh)",
  );
  let seed: number | undefined;
  if (o.seed !== undefined) {
    if (!/^\d{1,10}$/.test(o.seed) || Number(o.seed) > 0xffffffff) {
      throw new UsageError(`--seed must be a whole number below 2^32, got "${o.seed}"`);
    }
    seed = Number(o.seed);
  }
  if (o.http !== undefined) {
    try {
      parseHttpAddress(o.http);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const mgmtMode = o.mgmtmode === undefined ? 0o700 : parseOctalMode(o.mgmtmode, "--mgmtmode");
  if (o.daemon && streamMode) {
    throw new UsageError("--daemon needs two VNLs: in a dpipe stdin and stdout carry the frames");
  }
  if (o.daemon && o.mgmt === undefined) {
    throw new UsageError("--daemon needs --mgmt: in the background the filter has no other console");
  }
  refuseStdinScriptInBackground("--rcfile", o.rcfile, o.daemon);
  const filter = new WireFilter({ seed });
  for (const [param, setting] of o.settings) {
    if (filter.set(param, setting) !== "ok") {
      throw new UsageError(
        `--${param}: Markov node ${setting.node} does not exist (set nodes on the console)`,
      );
    }
  }
  filter.fifo = !o.nofifo;
  const program = {
    component: COMPONENT,
    noun: "filter",
    daemon: o.daemon,
    pidfile: o.pidfile,
    // A dpipe filter never starts the poller: nothing to stop.
    stopPoller: !streamMode,
  };
  await runProgram(program, async (p) => {
    p.defer(() => filter.close());
    let left: Link;
    let right: Link;
    let sides: { left: StreamSide; right: StreamSide; bidirectional: boolean } | undefined;
    if (streamMode) {
      sides = openStreamSides();
      left = sides.left.link;
      right = sides.right.link;
      p.defer(() => left.close("wirefilter stopped"));
    } else {
      // Each side knows the other, as vde plug's ends do: a tcp:// cable is the other side's switch's
      // session (two sites' wirefilters to one listener are two cables) and names its port; a listening
      // one opens last, told that port when its far end comes. Each side's open is told a stop: a held
      // switch's join is given up, not waited out and called a refusal, and the filter ends as stopped
      // (exit 0) with what it joined undone.
      const [x, y] = (await listensFirst(vnls[0]!, vnls[1]!)) ? [1, 0] : [0, 1];
      // Read by `early`'s peerPort before it is opened (a connecting cable's first handshake): not a const.
      // deno-lint-ignore prefer-const
      let late: Link | undefined;
      const first = await openSide(vnls[x]!, p.stopped, { peer: vnls[y]!, peerPort: () => peerPortOf(late) });
      if (first === undefined) return stoppedOpeningSide(vnls[x]!, p.stopped);
      const early = first;
      p.defer(() => early.close("wirefilter stopped"));
      late = await openSide(vnls[y]!, p.stopped, { peer: vnls[x]!, peerPort: () => peerPortOf(early) });
      if (late === undefined) return stoppedOpeningSide(vnls[y]!, p.stopped);
      [left, right] = x === 0 ? [early, late] : [late, early];
    }
    const bidirectional = sides?.bidirectional ?? true;
    // The rc's `shutdown` is known at once (p.stopped settles a turn later): the filter then ends before it
    // serves, as Debian's wirefilter exits there (0), rather than saying it serves (a daemon's parent: "in
    // the background as pid N") and ending at once.
    let shutDown: string | undefined;
    const shutdown = (why: string) => {
      shutDown ??= why;
      p.stop(why);
    };
    const ctx = new WirefilterContext(filter, { bidirectional, shutdown });
    const commands = wirefilterCommands(ctx);
    // Frames already on the wire towards the side still open are delivered when the other ends.
    const wire = new WireLink(right, filter, { lingerMs: DRAIN_MS });
    p.defer(() => wire.close("wirefilter stopped"));
    if (o.rcfile !== undefined) {
      try {
        await runStartupScript(o.rcfile, commands, (m) => log(COMPONENT, m, "warning"));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (shutDown !== undefined) {
        log(COMPONENT, `${shutDown} (${o.rcfile}): stopped before serving, as wirefilter does`);
        reportEndedAsTold();
        return;
      }
    }
    if (o.blink !== undefined) {
      const sock = UnixDgramSocket.create();
      try {
        // Root tells each frame's size only to a socket reached by a way no other user may steer.
        connectJudgedDatagram(sock, o.blink, {
          what: "send frame sizes to a blink socket",
          doing: "connecting to it",
        });
      } catch (err) {
        sock.close(false);
        throw new UsageError(`cannot send to the blink socket ${o.blink}: ${(err as Error).message}`);
      }
      p.defer(() => sock.close(false));
      const id = o.blinkid ?? String(Deno.pid).padStart(6, "0");
      const names = bidirectional ? ["LR", "RL"] : ["--", "--"];
      const encoder = new TextEncoder();
      filter.onEmit = (dir, length) => void sock.send(encoder.encode(`${id} ${names[dir]} ${length + 2}\n`));
    }
    left.onFrame = (frame) => wire.send(frame);
    wire.onFrame = (frame) => left.send(frame);
    if (o.mgmt !== undefined) {
      let mgmt: MgmtServer;
      try {
        mgmt = await MgmtServer.start(commands, ctx, {
          path: o.mgmt,
          mode: mgmtMode,
          greeting: WIREFILTER_GREETING,
          prompt: WIREFILTER_PROMPT,
          log: (m) => log(COMPONENT, m),
        });
      } catch (err) {
        throw new UsageError(`cannot serve the management socket ${o.mgmt}: ${(err as Error).message}`);
      }
      p.defer(() => mgmt.close());
    }
    let metrics: string | undefined;
    if (o.http !== undefined) {
      const link = streamMode ? "dpipe" : vnls.join(" ");
      const web = startMetricsServer(
        COMPONENT,
        o.http,
        () => wirefilterFamilies([{ link, counters: filter.counters }]).join("\n") + "\n",
      );
      p.defer(() => web.close());
      metrics = web.url;
    }
    const reach = `${o.mgmt === undefined ? "" : `; console: vde term ${o.mgmt}`}${metricsPart(metrics)}`;
    p.ready(
      `${bidirectional ? "bidirectional" : "one-way"} filter L=${left.description} R=${right.description}, ` +
        `seed ${filter.seed}${reach}`,
    );
    if (!usesStdio && !p.inBackground) {
      const console: RunningConsole = startWirefilterConsole(ctx, commands);
      p.defer(() => console.close());
    }
    const ended = await Promise.race([
      p.stopped.then((reason) => ({ reason, side: "none" as const })),
      left.closed.then((reason) => ({ reason: `left side ended: ${reason}`, side: "left" as const })),
      wire.closed.then((reason) => ({ reason: `right side ended: ${reason}`, side: "right" as const })),
    ]);
    // Frames already on the wire towards the side still open are delivered first (the wire
    // lingers by itself when its right side ends).
    if (ended.side === "left") {
      await Promise.race([wire.drain(LR, DRAIN_MS), p.stopped]);
      await flushed(sides?.right, FLUSH_MS);
    } else if (ended.side === "right") {
      await flushed(sides?.left, FLUSH_MS);
    }
    log(
      COMPONENT,
      `${ended.reason}; L->R ${summary(filter.counters[LR])}; R->L ${summary(filter.counters[RL])}`,
    );
  });
}

/** The side `vnl` opened, or undefined when `stopped` came first (and what it opened is undone). */
async function openSide(
  vnl: string,
  stopped: Promise<string>,
  ends: Pick<OpenOptions, "peer" | "peerPort">,
): Promise<Link | undefined> {
  try {
    // wirefilter's description, so its ports read the same in port/print.
    return await openUnlessStopped(
      stopped,
      (signal) => openLink(vnl, { description: "vde_crosscable", signal, ...ends }),
    );
  } catch (err) {
    throw new UsageError(openFailure(vnl, err));
  }
}

/** Says the filter was stopped (`stopped`'s reason) while it opened its side `vnl`, before it served. */
async function stoppedOpeningSide(vnl: string, stopped: Promise<string>): Promise<void> {
  log(COMPONENT, stoppedOpening(await stopped, vnl));
}

/** Registers `vde wirefilter`. */
export const wirefilterCommand: Subcommand = (program: Command) => {
  const settings: [ParamName, WireSetting][] = [];
  const value = (option: string, param: ParamName) => (text: string) => {
    settings.push([param, parseValueOption(option, param, text)]);
    return text;
  };
  const syntax = "[LR|RL]VALUE[+DELTA][K|M|G][U|N]";
  program
    .command("wirefilter")
    .configureOutput(vdeErrors((text) => delayFlagHint(netemOptionHint()(text))))
    .description(
      "an impaired wire between two VNLs (or, with none, a filter inside a dpipe): " +
        "loss, delay, dup, bandwidth, noise, MTU, reordering, as vde2's wirefilter",
    )
    .argument("[vnls...]", "left and right VNL (L->R is left to right); none: stdin/ALTERNATE fds of a dpipe")
    .option("-l, --loss <value>", `loss percentage (${syntax})`, value("loss", "loss"))
    .option(
      "-L, --lostburst <value>",
      "mean length of loss bursts (Gilbert model)",
      value("lostburst", "lostburst"),
    )
    .option("-d, --delay <value>", "extra delay, ms (e.g. 50+10 or 50+10N)", value("delay", "delay"))
    .option("-D, --dup <value>", "duplication percentage", value("dup", "dup"))
    .option(
      "-b, --band <value>",
      "bottleneck bandwidth, bytes/s (K, M, G: 2^10, 2^20, 2^30)",
      value("band", "band"),
    )
    .option("--bandwidth <value>", "same as --band", value("bandwidth", "band"))
    .option("-s, --speed <value>", "interface speed, bytes/s", value("speed", "speed"))
    .option("-c, --capacity <value>", "channel buffer, bytes", value("capacity", "capacity"))
    .option("--chanbufsize <value>", "same as --capacity", value("chanbufsize", "capacity"))
    .option("-n, --noise <value>", "damaged bits per megabyte", value("noise", "noise"))
    .option(
      "-m, --mtu <value>",
      "drop frames longer than this (frame length + 2, as wirefilter)",
      value("mtu", "mtu"),
    )
    .option("-N, --nofifo", "allow reordering")
    .option("-f, --rcfile <file>", "run console commands from FILE at startup")
    .option("-M, --mgmt <path>", "management socket (unixterm, vdeterm, vde term)")
    .option("--mgmtmode <octal>", "mode of the management socket (default: 700)")
    .option("-v, --vde-plug <left:right>", "the two VNLs as one argument, as wirefilter's -v")
    .option("--seed <n>", "seed every random choice, so a run can be repeated")
    .option("--daemon", "run in the background (needs --mgmt, its console there)")
    .option("-p, --pidfile <file>", "write the pid here (a stale file is replaced, a live one refused)")
    .option("--blink <path>", "send a datagram `ID DIR SIZE` to this unix socket for every frame out")
    .option(
      "--http <[addr:]port>",
      "serve Prometheus /metrics: frames and drops by reason (127.0.0.1 unless ADDR)",
    )
    .option("--blinkid <id>", "the ID of --blink datagrams (default: the pid)")
    .addHelpText(
      "after",
      examples(
        "vde wirefilter /tmp/a /tmp/b --delay 50+10 --loss 2        # console on stdin",
        "vde wirefilter /tmp/a /tmp/b -b 1M --daemon --mgmt /tmp/wf  # then: vde term /tmp/wf",
        "vde dpipe vde_plug /tmp/a = vde wirefilter -d 50 = vde_plug /tmp/b",
      ) + vnlHelp(),
    )
    .action((vnls: string[], flags: Omit<WirefilterOptions, "settings">) =>
      runWirefilter(vnls, { ...flags, settings })
    );
};
