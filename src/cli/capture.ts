/**
 * `vde capture SWITCH`: streams a running switch's frames into pcapng (or
 * classic pcap for `-w x.pcap`), to a file or to stdout for
 * `| wireshark -k -i -` and `| tcpdump -r -`.
 *
 * SWITCH is the switch's socket directory (its `capture` socket is used) or
 * its management socket (asked for the directory with `ds/showinfo`), or a
 * running lab's switch, link or host by name: a link or host is the one
 * port of a switch it is (lab/capture_hint.ts), captured as `--port N`. A
 * `--filter` expression is compiled by tcpdump (`tcpdump -ddd -y EN10MB`)
 * and the program runs in the switch, so filtered frames cost no bandwidth.
 * Stops on a signal or after `-c COUNT` frames, then prints how many frames
 * were captured and dropped (the switch drops frames for a slow reader).
 * With `--daemon` (a script's capture beside its test) it runs as a
 * background copy that reports ready once the switch has taken the request,
 * so no frame the script sends afterwards is missed; its counts are then in
 * the file's statistics blocks.
 */
import { connectJudged } from "../os/root_way.ts";
import type { Command } from "commander";
import {
  namedSwitch,
  rootsHostAnswer,
  rootsNodeAnswer,
  switchName,
  usersNamedHostAnswer,
} from "../lab/switch_paths.ts";
import { unknownOptionHint, UsageError, vdeErrors } from "./main.ts";
import { untilSignal } from "./signals.ts";
import {
  CAPTURE_FILE_MODE,
  CaptureFileWriter,
  DEFAULT_SNAPLEN,
  formatForPath,
  nowMicros,
} from "../capture/file_writer.ts";
import { waitAtMost } from "../capture/wait_at_most.ts";
import { parseBpf } from "../capture/bpf.ts";
import { MgmtClient } from "../console/client.ts";
import { OutputQueue, type Writer } from "../console/output_queue.ts";
import { cutToWhole } from "../capture/file_capture.ts";
import { printable } from "../console/reply_format.ts";
import { type Direction, MAX_VLAN } from "../switch/engine.ts";
import { examples } from "./help.ts";
import { closedAncestor, exists } from "../os/paths.ts";
import { ownerAndMode } from "../os/users.ts";
import {
  CaptureDecoder,
  type CaptureRequest,
  RECORD_ACCEPTED,
  RECORD_DROPS,
  RECORD_ERROR,
  RECORD_FRAME,
  RECORD_NOTICE,
  RECORD_PORT,
} from "../wire/capture_stream.ts";
import { counted, framesBefore } from "../counted.ts";
import { daemonize, isDaemonChild, reportReady } from "./daemon.ts";
import { openOutputFile } from "../os/output_file.ts";
import { writeFailure } from "../os/write_failure.ts";
import { askLabCapturePoint } from "./capture_lab_hint.ts";
import { type CapturePoint, isRefused } from "../lab/capture_hint.ts";
import { unwritable } from "../os/unwritable.ts";
import { shellQuoted, singleQuoted } from "../shell_quote.ts";

/** Parsed options of `vde capture`. */
export interface CaptureCliOptions {
  port: string[];
  vlan?: string;
  write: string;
  count?: string;
  snaplen?: string;
  filter?: string;
  /** In the background, returning once the switch captures (needs -w FILE). */
  daemon?: boolean;
}

function wholeNumber(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    // A bound no one types (-c's 9007199254740991) is no range to show: "1 or more" says it.
    const range = max === Number.MAX_SAFE_INTEGER ? `, ${min} or more` : ` from ${min} to ${max}`;
    throw new UsageError(`${what} must be a whole number${range}, got "${text}"`);
  }
  return Number(text);
}

/** Compiles a tcpdump filter expression into the listing the switch runs. */
export async function compileFilter(expression: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("tcpdump", {
      // After `--`: an expression such as `-F/etc/shadow` is no option to tcpdump (a filter read from a file).
      args: ["-ddd", "-y", "EN10MB", "--", expression],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError("--filter needs tcpdump to compile the expression, and tcpdump is not installed");
    }
    throw err;
  }
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)?.replace(/^tcpdump: /, "");
    throw new UsageError(`--filter "${expression}": ${why || "tcpdump cannot compile it"}`);
  }
  parseBpf(text); // the switch would refuse it anyway; say so here, with the expression
  return text;
}

/** Whether `path` is a socket, something else (or nothing), or hidden from us. */
function socketAt(path: string): "socket" | "none" | "denied" {
  try {
    return Deno.statSync(path).isSocket === true ? "socket" : "none";
  } catch (err) {
    return err instanceof Deno.errors.PermissionDenied ? "denied" : "none";
  }
}

/**
 * Where `target` is captured: the capture socket of its switch (named by
 * its socket directory, its management socket, which says where that is,
 * or a running lab's name for it), and for a lab's link or host
 * (`LAB/sw1-sw2`, `LAB/h1`) the switch port it is, which a capture of the
 * path alone would not keep to.
 *
 * @throws UsageError when `target` is no switch (a directory without a ctl
 *   socket, a file, a socket that speaks no console protocol), and with the
 *   lab's line where a link or host cannot be captured at a switch port (no
 *   switch end, a host with several interfaces, a name two running labs have)
 */
export async function captureSource(
  target: string,
  o?: CaptureCliOptions,
): Promise<{ path: string; point?: CapturePoint }> {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(target);
  } catch (err) {
    // Under a directory closed to us (another student's lab, in their runtime directory of mode 700): it is
    // there, only not ours to open; what `ls -ld` shows of that directory is said, nothing of what is in it.
    const closed = err instanceof Deno.errors.PermissionDenied
      ? closedAncestor(target.startsWith("/") ? target : `${Deno.cwd()}/${target}`)
      : undefined;
    if (closed !== undefined) {
      throw new UsageError(
        `permission denied on ${target}: ${closed} (${ownerAndMode(closed)}) does not let you through to ` +
          "it; run vde capture as its owner (or root)",
      );
    }
    // No such path: a running lab's switch by name (site1, wan/site1)?
    const named = namedSwitch(target);
    if ("dir" in named) return { path: `${named.dir}/capture` };
    if ("refused" in named) throw new UsageError(named.refused);
    // LAB/sw1-sw2 or LAB/h1: a lab's link or host, captured at its switch's port.
    const point = await askLabCapturePoint(target);
    if (point !== undefined && isRefused(point)) throw new UsageError(point.refused);
    if (point !== undefined) {
      const at = namedSwitch(point.switch);
      if ("dir" in at) return { path: `${at.dir}/capture`, point };
    }
    // A host of root's lab, named alone by a user who is not root: a capture sees every port, so is root's.
    const rootsLine = (lab: string) => captureLine(`${lab}/${target}`, o);
    const rootsHost = rootsHostAnswer(target, rootsLine);
    if (rootsHost !== undefined) throw new UsageError(rootsHost);
    // For root, LAB/HOST of a user's rootless lab: whose, and the line as that user (h1 alone: rootsHostAnswer).
    const usersHost = target.includes("/")
      ? usersNamedHostAnswer(target, (lab, host) => captureLine(`${lab}/${host}`, o))
      : undefined;
    if (usersHost !== undefined) throw new UsageError(usersHost);
    // A switch or link of root's lab, alone: root's where it shows, else where it may be.
    const roots = rootsNodeAnswer(target, rootsLine);
    if (roots !== undefined && "found" in roots) throw new UsageError(roots.found);
    const clause = roots !== undefined && (named.clause === "" || named.noLabUp)
      ? `, nor a switch of this user's labs; ${roots.maybe}`
      : named.clause;
    throw new UsageError(`${target}: no such switch directory or management socket${clause}`);
  }
  if (info.isDirectory) {
    const dir = target.replace(/\/+$/, "") || "/";
    // Unreadable (another user's 2700 switch): the connect says so in its own words.
    if (socketAt(`${dir}/ctl`) === "none") {
      throw new UsageError(`${dir} is not a switch's socket directory (it has no ctl socket)`);
    }
    return { path: `${dir}/capture` };
  }
  if (!info.isSocket) throw new UsageError(`${target} is neither a switch directory nor a socket`);
  return { path: await askedDirectory(target) };
}

/**
 * `vde capture TARGET` with every option the user gave (`o`), each word
 * quoted for the shell: the line another user (root's `sudo ...`, a user's
 * `runuser ...`) is told to type does what was asked, into the same file,
 * from whatever directory it is typed in (a relative `-w FILE` is made
 * whole from this one).
 */
export function captureLine(target: string, o?: CaptureCliOptions): string {
  const words = ["vde", "capture", target];
  if (o !== undefined) {
    for (const p of o.port) words.push("--port", p);
    if (o.vlan !== undefined) words.push("--vlan", o.vlan);
    if (o.write !== "-") words.push("-w", fromHere(o.write));
    if (o.count !== undefined) words.push("-c", o.count);
    if (o.snaplen !== undefined) words.push("-s", o.snaplen);
    if (o.filter !== undefined) words.push("--filter", o.filter);
    if (o.daemon) words.push("-d");
  }
  return words.map(shellQuoted).join(" ");
}

/** `path` from the current directory, whole (`./x.pcapng` is `/cwd/x.pcapng`); as given where it was or there is none. */
function fromHere(path: string): string {
  if (path.startsWith("/")) return path;
  try {
    return `${Deno.cwd()}/${path.replace(/^(\.\/+)+/, "")}`;
  } catch {
    return path; // the current directory was removed: nothing to make it whole from
  }
}

/** The capture socket of the switch whose management socket is `target`, as it says. */
async function askedDirectory(target: string): Promise<string> {
  let client: MgmtClient;
  try {
    client = await MgmtClient.connect(target, { timeoutMs: 5000 });
  } catch (err) {
    throw new UsageError(`${target}: not a management socket (${(err as Error).message})`);
  }
  try {
    const reply = await client.command("ds/showinfo");
    const dir = /^ctl dir (.+)$/m.exec((reply.lines ?? []).join("\n"))?.[1];
    if (dir === undefined) throw new UsageError(`${target}: the switch did not say where its sockets are`);
    return `${dir}/capture`;
  } finally {
    client.close();
  }
}

/** `-c COUNT`: the frames to capture before stopping (Infinity: no -c). */
export function frameCount(text: string | undefined): number {
  return text === undefined ? Infinity : wholeNumber(text, "-c", 1, Number.MAX_SAFE_INTEGER);
}

/** The snap length `-s TEXT` asks for: 0 (or none) is whole frames, as tcpdump's `-s 0`. */
export function snapLength(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SNAPLEN;
  const n = wholeNumber(text, "-s", 0, DEFAULT_SNAPLEN);
  return n === 0 ? DEFAULT_SNAPLEN : n;
}

/** Why reading ended when the switch closed the capture socket (it stopped). */
const SWITCH_CLOSED = "the switch closed the capture";
/** Bytes of output waiting unwritten above which reading from the switch waits (its queue takes the rest). */
const OUTPUT_LAG = 4 << 20;
/** How long a stopped capture's output has to take what the switch still sends. */
const GRACE_MS = 1000;
/** How long a stopped capture then reads on, past a stalled output, for the switch's last counts. */
const DRAIN_MS = 2000;

/**
 * What a capture run by another command than `vde capture` (the lab shell's
 * `capture`) has of its own: the switch found already, its own stop in
 * place of a signal (the shell's terminal is raw: Ctrl-C is a key there),
 * and where `-w -` goes in place of stdout.
 */
export interface CaptureHooks {
  /** Once the switch has taken the request. */
  onAccepted?: (point?: CapturePoint) => void;
  /** The switch's capture socket and the port it is kept to, as captureSource would find them. */
  source?: { path: string; point?: CapturePoint };
  /** Settles when the capture is to end, as a signal ends `vde capture`; no signal is listened for then. */
  stop?: Promise<unknown>;
  /** Where `-w -` writes. */
  stdout?: Writer;
}

/** Runs a capture until a signal, COUNT frames or the switch going away; returns what it counted. */
export async function runCapture(
  target: string,
  o: CaptureCliOptions,
  hooks: CaptureHooks = {},
): Promise<{ captured: number; dropped: number; switchGone: boolean }> {
  const { onAccepted = () => {}, stop } = hooks;
  const ports = o.port.map((p) => wholeNumber(p, "--port", 0, 65535));
  const vlan = o.vlan === undefined ? null : wholeNumber(o.vlan, "--vlan", 0, MAX_VLAN);
  const count = frameCount(o.count);
  const snaplen = snapLength(o.snaplen);
  const toStdout = o.write === "-";
  if (toStdout && hooks.stdout === undefined && Deno.stdout.isTerminal()) {
    throw new UsageError(
      "refusing to write a capture to a terminal: use -w FILE, or pipe it (-w - | tcpdump -r -)",
    );
  }
  const { path, point } = hooks.source ?? await captureSource(target, o);
  if (point !== undefined) {
    // A link or host is one port already: another --port would capture something else under its name.
    if (ports.some((p) => p !== point.port)) {
      throw new UsageError(
        `${point.what} is port ${point.port} of ${point.switch}: --port is for a switch (vde capture ${point.switch} --port ${
          ports.join(" --port ")
        })`,
      );
    }
    ports.splice(0, ports.length, point.port);
  }
  const filter = o.filter === undefined ? null : await compileFilter(o.filter);
  const signals = untilSignal(stop === undefined ? undefined : []);
  void stop?.then(() => signals.stop("asked"));
  let conn: Deno.Conn;
  try {
    // Root reads every port's frames only from a socket reached by a way no other user may steer.
    conn = await connectJudged(path, { what: "read frames from a capture socket", doing: "opening it" });
  } catch (err) {
    signals.remove();
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (err instanceof Deno.errors.NotFound && socketAt(`${dir}/ctl`) === "socket") {
      // A switch is there, just not ours (Debian's vde_switch has no capture socket).
      throw new UsageError(
        `the switch at ${dir} serves no captures (${path} is missing): only vde switch does`,
      );
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(
        `permission denied on the switch at ${dir}: run vde capture as the switch's user (or root); a capture sees every port`,
      );
    }
    if (err instanceof Deno.errors.ConnectionRefused) {
      throw new UsageError(`no switch serves ${dir}: ${path} is left from a switch that stopped`);
    }
    throw new UsageError(`cannot reach the switch's capture socket ${path}: ${(err as Error).message}`);
  }
  // Opened now, so a file that cannot be written is said at once; emptied and started only once the switch
  // takes the request: a refused one (a port out of range) leaves the file as it was, and makes none.
  let file: Deno.FsFile | undefined;
  const existed = !toStdout && exists(o.write);
  try {
    // Neither through a symlink nor into another user's file or pipe (who would read every port's frames).
    file = toStdout ? undefined : openOutputFile(o.write, { pipes: true, mode: CAPTURE_FILE_MODE });
  } catch (err) {
    conn.close();
    signals.remove();
    throw new UsageError(`cannot write ${o.write}${unwritable(o.write, "-w", err)}`);
  }
  // A reader gone (`| head`: a broken pipe) ends the capture as a Ctrl-C would; any other failed write (a
  // full disk, a quota) is the capture failing: the file then holds only what was written before, and the
  // frames counted after it would be a lie.
  let outputFailure: unknown;
  const out = new OutputQueue(file ?? hooks.stdout ?? Deno.stdout, (err) => {
    if (!(err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset)) {
      outputFailure = err;
      if (file !== undefined) cutToWhole(file, out.whole);
    }
    signals.stop("output closed");
  });
  const format = toStdout ? "pcapng" : formatForPath(o.write);
  let started: CaptureFileWriter | undefined;
  const writer = (): CaptureFileWriter => {
    if (started === undefined) {
      // A regular file only: a named pipe (`-w` into `wireshark -k -i PIPE`) or /dev/null has no start
      // to go back to, and ftruncate refuses them (EINVAL).
      if (file?.statSync().isFile) file.truncateSync(0);
      started = new CaptureFileWriter(
        format,
        snaplen,
        (b) => out.pushBytes(b),
        nowMicros(),
        switchName(path),
        o.filter ?? "",
      );
    }
    return started;
  };
  const request: CaptureRequest = { ports, vlan, snaplen, filter };
  await conn.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
  let failure: string | undefined;
  let gaveUp = false;
  const giveUp = Promise.withResolvers<void>();
  const reading = (async () => {
    const decoder = new CaptureDecoder();
    const buf = new Uint8Array(256 * 1024);
    for (;;) {
      // Hold reading while the output lags, so the switch's queue (not ours) takes the backlog. Not once
      // stopped: then the rest is read through to the switch's last drop counts.
      if (!gaveUp) await Promise.race([out.below(OUTPUT_LAG), giveUp.promise]);
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return SWITCH_CLOSED;
      for (const r of decoder.push(buf.subarray(0, n))) {
        if (r.type === RECORD_FRAME) {
          if (gaveUp && out.pending > OUTPUT_LAG) {
            writer().lost(r.port);
            continue;
          }
          writer().frame(r.port, r.direction as Direction, r.value, r.payload, r.originalLength);
          if (writer().captured >= count) return counted(count, "frame");
        } else if (r.type === RECORD_PORT) {
          writer().describePort(r.port, new TextDecoder().decode(r.payload));
          if (ports.includes(r.port)) writer().announce(r.port);
        } else if (r.type === RECORD_DROPS) {
          writer().setDropped(r.port, r.value);
        } else if (r.type === RECORD_ACCEPTED) {
          writer();
          onAccepted(point);
        } else if (r.type === RECORD_NOTICE) {
          console.error(`vde: ${target}: ${printable(new TextDecoder().decode(r.payload))}`);
        } else if (r.type === RECORD_ERROR) {
          failure = printable(new TextDecoder().decode(r.payload));
          return "refused";
        }
      }
    }
  })().catch((err) => {
    failure = (err as Error).message;
    return "failed";
  });
  const ended = await Promise.race([reading, signals.stopped.then(() => "stopped")]);
  if (ended === "stopped" && started !== undefined) {
    // Ctrl-C: the switch, told by our half's close, stops capturing and sends what it queued for us, then the
    // drops it counted since it last said (it says them only once its queue drains: a reader stalled to the
    // end would learn none, and be told 0). The output has a while to take the rest; past it, what it
    // cannot take is read through and counted lost, for those counts.
    try {
      await conn.closeWrite();
      await waitAtMost(reading, GRACE_MS);
      gaveUp = true;
      giveUp.resolve();
      await waitAtMost(reading, DRAIN_MS);
    } catch { /* the switch is gone: nothing more to learn */ }
  }
  // Read before our own close below, whose end of stream is no news.
  const switchGone = ended === SWITCH_CLOSED;
  signals.remove();
  try {
    conn.close();
  } catch { /* closed */ }
  if (failure !== undefined && started === undefined) {
    file?.close();
    if (file !== undefined && !existed) Deno.removeSync(o.write);
    throw new UsageError(failure);
  }
  const w = writer();
  w.finish(nowMicros());
  await out.below(0);
  file?.close();
  if (failure !== undefined) throw new UsageError(failure);
  if (outputFailure !== undefined) {
    throw new UsageError(
      `cannot write ${toStdout ? "stdout" : o.write}${framesBefore(w.captured)}: ${
        writeFailure(outputFailure)
      }; the capture stopped there, ${
        toStdout ? "its reader" : "the file"
      } holding what was written before ` +
        "(ring files keep a capture's disk use bounded: -w - | tshark -q -i - -b filesize:100000 -b files:10 " +
        "-w ring.pcapng)",
    );
  }
  return { captured: w.captured, dropped: w.dropped, switchGone };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * tcpdump's, tshark's and dumpcap's flags that a Wireshark user types first,
 * with how they are said here: commander's bare "unknown option '-i'" would
 * not say that the switch is the argument and a port is --port. `-i 3`
 * gets `--port 3` back; `-i eth0` (no port number) the form of it.
 */
/**
 * tshark's -b for a ring flag as typed: tcpdump's -C N is N million bytes a
 * file (tshark's filesize is in kB), -G N seconds a file, -W N files.
 */
function ringFlag(name: string, value: string | undefined): string {
  const n = value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
  if (name === "b" && value !== undefined) return `-b ${value}`;
  if (name === "C" && n !== undefined) return `-b filesize:${n * 1000}`;
  if (name === "G" && n !== undefined) return `-b duration:${n}`;
  if (name === "W" && n !== undefined) return `-b files:${n}`;
  return "-b filesize:100000 -b files:10";
}

function snifferFlag(name: string, value: string | undefined, target: string): string | undefined {
  switch (name) {
    case "f":
      return `tshark's capture filter -f is --filter here: --filter '${value ?? "icmp"}'`;
    case "i":
    case "interface":
      return value !== undefined && /^\d+$/.test(value)
        ? `the switch is the argument and its port ${value} is --port ${value}: vde capture ${target} --port ${value}`
        : `the switch is the argument and a port of it is --port N: vde capture ${target} --port 3`;
    case "r":
      return "vde capture reads a running switch; a file is read by tcpdump -r or tshark -r";
    case "b":
    case "C":
    case "G":
    case "W":
      // Ring files are the reader's: tshark -i - keeps them from our stream (README, ring files).
      return `ring files are tshark's, from the capture on its stdin: vde capture ${target} -w - | tshark -q -i - ${
        ringFlag(name, value)
      } -w ring.pcapng`;
    case "a":
      return value !== undefined && /^packets:\d+$/.test(value)
        ? `a count is -c here: vde capture ${target} -c ${value.slice(8)}`
        : `-c COUNT stops after COUNT frames; for a time, timeout sends the Ctrl-C: timeout -s INT ${
          value !== undefined && /^duration:\d+$/.test(value) ? value.slice(9) : "60"
        } vde capture ${target} -w FILE`;
    case "U":
    case "packet-buffered":
      return "each frame is written as it comes already; -U is not needed";
    case "p":
    case "no-promiscuous-mode":
      return "a capture sees the frames crossing the switch's ports: there is no promiscuous mode to leave";
    case "n":
    case "e":
    case "v":
    case "x":
    case "X":
    case "t":
    case "l":
    case "q": {
      // Display flags: the reader prints, vde capture only writes. -nn or -vvv repeated as typed.
      const flags = `-${name}${value !== undefined && /^[nevxXtlq]+$/.test(value) ? value : ""}`;
      return `${flags} is the reader's: vde capture ${target} -w - | tcpdump ${flags} -r -`;
    }
    case "Y":
    case "R":
    case "display-filter":
    case "read-filter":
      // tshark's display filter is the reader's; a capture filter (BPF) is ours.
      // Quoted as one shell word: a filter may hold a ' of its own (http.host == 'x').
      return `tshark's display filter is the reader's: vde capture ${target} -w - | tshark -r - -Y ${
        singleQuoted(value ?? "icmp")
      }; --filter takes a capture filter, in tcpdump's words: --filter icmp`;
    case "F":
      return "the format follows the name: -w FILE.pcap is classic pcap, any other name pcapng";
    case "D":
    case "list-interfaces":
      return `the ports are the switch's: vde term ${target} -c port/print`;
  }
  return undefined;
}

/** The options of `vde capture`, and the sniffers' flags answered above, that take the next word as a value. */
const VALUE_FLAGS = new Set([
  ...["--port", "--vlan", "-w", "--write", "-c", "--count", "-s", "--snaplen", "--filter"],
  ...["-i", "--interface", "-f", "-r", "-b", "-C", "-G", "-W", "-a", "-F"],
]);

/**
 * The switch as typed in `argv` (the first word after `capture` that is no
 * option nor an option's value), so the hint is a line the user can run as
 * it stands; `DIR` when none was typed.
 */
function typedSwitch(argv: readonly string[]): string {
  for (let i = argv.indexOf("capture") + 1; i > 0 && i < argv.length; i++) {
    const word = argv[i]!;
    if (VALUE_FLAGS.has(word)) i++;
    else if (!word.startsWith("-")) return word;
  }
  return "DIR";
}

/** The "unknown option" hint for tcpdump's or tshark's flag in `argv` (the command line's words). */
export function captureOptionHint(argv: readonly string[] = Deno.args): (text: string) => string {
  const target = typedSwitch(argv);
  return unknownOptionHint((name, value) => snifferFlag(name, value, target), argv);
}

/** Commander's "unknown option" line with how vde capture says tcpdump's or tshark's flag. */
export const withCaptureHint = captureOptionHint();

/**
 * tcpdump takes its filter after the options (`tcpdump -i br0 icmp`); here
 * it is --filter, and words after the switch are refused with that spelling
 * rather than joined silently: `port 3` there is a TCP/UDP port, which a
 * vde user may mean as the switch's port 3.
 */
export function strayCaptureWords(target: string, words: readonly string[]): UsageError {
  const expr = words.join(" ");
  const port = words[0] === "port" ? `; a port of the switch is --port ${words[1] ?? "N"}` : "";
  return new UsageError(
    `vde capture takes one switch; a tcpdump filter after it is --filter: vde capture ${target} --filter '${expr}'${port}`,
  );
}

/**
 * What a capture started in the background says it does: `vde capture: ports 1 2 of /tmp/net into x.pcapng`,
 * `vde capture: demo/h1 (port 3 of demo/sw1) into x.pcapng` for a lab's link or host (`point`).
 */
export function capturingLine(
  target: string,
  o: Pick<CaptureCliOptions, "port" | "write">,
  point?: CapturePoint,
): string {
  if (point !== undefined) {
    return `vde capture: ${point.what} (port ${point.port} of ${point.switch}) into ${o.write}`;
  }
  const ports = o.port.length === 0
    ? "every port"
    : `port${o.port.length > 1 ? "s" : ""} ${o.port.join(" ")}`;
  return `vde capture: ${ports} of ${target} into ${o.write}`;
}

/** What a capture says once it has ended: how many frames, and how many the switch dropped. */
export function capturedLine(c: { captured: number; dropped: number; switchGone: boolean }): string {
  const why = c.switchGone ? "the switch stopped: " : "";
  return `${why}${counted(c.captured, "frame")} captured, ${c.dropped} dropped by the switch (slow reader)`;
}

/** Registers `vde capture`. */
export const captureCommand = (program: Command): void => {
  program.command("capture")
    .description("capture a running switch's frames as pcapng (one interface per port) or pcap")
    .configureOutput(vdeErrors(withCaptureHint))
    .argument(
      "<switch>",
      "the switch's socket directory or management socket, a running lab's switch (sw1, LAB/sw1), " +
        "or its link or host (LAB/sw1-sw2, LAB/h1, LAB/h1:eth1)",
    )
    .option("--port <n>", "capture this port (repeatable) (default: every port)", collect, [])
    .option("--vlan <vid>", "only frames of this VLAN")
    .option("-w, --write <file>", "write to FILE (classic pcap if it ends in .pcap), - for stdout", "-")
    .option("-c, --count <n>", "stop after N frames")
    .option(
      "-s, --snaplen <bytes>",
      `keep at most this many bytes of each frame (default: ${DEFAULT_SNAPLEN}, whole frames, as 0 is)`,
    )
    .option("--filter <expr>", "tcpdump filter expression, e.g. icmp (needs tcpdump)")
    .option("-d, --daemon", "run in the background (needs -w FILE), returning once the switch captures")
    .addHelpText(
      "after",
      examples(
        "vde capture /tmp/net -w lab.pcapng               # every port, until Ctrl-C",
        "vde capture /tmp/net --port 2 --filter icmp | tcpdump -r -",
        "vde capture wan/site1 -c 10 -w - | tshark -r -     # switch site1 of lab wan",
        "vde capture wan/site1-site2 -w - | wireshark -k -i -  # a link of lab wan, at site1's port",
        "vde capture /tmp/net -d -w ci.pcapng              # in a script: returns once capturing",
      ),
    )
    .allowExcessArguments(true)
    .action(async (target: string, opts: CaptureCliOptions, cmd: Command) => {
      if (cmd.args.length > 1) throw strayCaptureWords(target, cmd.args.slice(1));
      if (opts.daemon && opts.write === "-") {
        throw new UsageError("--daemon needs -w FILE: in the background there is no stdout to write to");
      }
      if (opts.daemon && !isDaemonChild()) return await daemonize("capture");
      const counts = await runCapture(target, opts, {
        onAccepted: (point) => {
          if (opts.daemon) {
            reportReady(
              `${
                capturingLine(target, opts, point)
              }; in the background as pid ${Deno.pid}; stop: kill ${Deno.pid}\n`,
            );
          }
        },
      });
      console.error(capturedLine(counts));
    });
};
