/**
 * The lab shell's `capture`: records a switch, link or host of the lab as
 * `vde capture LAB/NAME` does, from the shell's own terminal, until a key
 * (Ctrl-C included) or `-c COUNT` frames end it, then the prompt again.
 *
 * The shell's line takes `vde capture`'s options, its words quoted as a
 * shell's are (`-w 'my cap.pcapng'`): `-w FILE` writes pcapng
 * (pcap for `.pcap`); without it the frames are shown as they come by
 * `tcpdump -n -l -r -`, reading the stream on its stdin, since pcap bytes
 * are no text for a terminal. `--filter` takes the rest of the line, as
 * tcpdump's expression comes last on its own. The capture runs in the lab's
 * process (runCapture, with the switch found by the lab itself, the
 * keyboard as its stop and tcpdump's stdin as its stdout).
 */
import { labCaptureTarget } from "../lab/commands.ts";
import type { LabRunner } from "../lab/runner.ts";
import type { ShellCapture } from "../lab/shell.ts";
import { rootInUserNamespace } from "../os/user_namespace.ts";
import { shellWords } from "../shell_split.ts";
import { unrunnable } from "../os/command_lookup.ts";
import { type CaptureCliOptions, capturedLine, capturingLine, runCapture } from "./capture.ts";

/** How the shell's `capture` is typed, said on a line it cannot read. */
export const SHELL_CAPTURE_USAGE =
  "usage: capture [NODE|LINK] [-w FILE] [--port N]... [--vlan VID] [-c COUNT] [-s SNAPLEN] [--filter EXPR...]";

/** The options' words after `capture`: its one name and vde capture's options; a line it cannot read throws. */
export function parseShellCapture(args: string): { name?: string; o: CaptureCliOptions } {
  const o: CaptureCliOptions = { port: [], write: "-" };
  let name: string | undefined;
  // Split as a shell would (`-w 'my cap.pcapng'`): a quote left open is refused, not guessed at.
  let words: string[];
  try {
    words = shellWords(args);
  } catch (err) {
    throw new Error(`${(err as Error).message}; ${SHELL_CAPTURE_USAGE}`);
  }
  // --filter's expression is the rest of the line, as tcpdump's is last (quoted or not).
  const at = words.indexOf("--filter");
  if (at >= 0) {
    const expr = words.slice(at + 1).join(" ").trim();
    if (expr === "") throw new Error(`--filter needs an expression; ${SHELL_CAPTURE_USAGE}`);
    o.filter = expr;
    words = words.slice(0, at);
  }
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const value = () => {
      const v = words[++i];
      if (v === undefined) throw new Error(`${word} needs a value; ${SHELL_CAPTURE_USAGE}`);
      return v;
    };
    if (word === "-w" || word === "--write") o.write = value();
    else if (word === "--port") o.port.push(value());
    else if (word === "--vlan") o.vlan = value();
    else if (word === "-c" || word === "--count") o.count = value();
    else if (word === "-s" || word === "--snaplen") o.snaplen = value();
    else if (word.startsWith("-")) throw new Error(`unknown option ${word}; ${SHELL_CAPTURE_USAGE}`);
    else if (name === undefined) name = word;
    else throw new Error(`capture takes one switch, link or host; ${SHELL_CAPTURE_USAGE}`);
  }
  return { name, o };
}

/** The shell's `capture` for running lab `r`. */
export function shellCapture(r: LabRunner): ShellCapture {
  return async (args, print, stop) => {
    let line: ReturnType<typeof parseShellCapture>;
    try {
      line = parseShellCapture(args);
    } catch (err) {
      return `${(err as Error).message}\n`;
    }
    const found = labCaptureTarget(r, line.name);
    if ("refused" in found) return `${found.refused}\n`;
    const { o } = line;
    const source = { path: `${found.dir}/capture`, point: found.point };
    const live = o.write === "-" ? startTcpdump(print) : undefined;
    if (live === null) {
      return `capture without -w shows the frames through tcpdump, which is not installed: capture ${found.name} -w FILE\n`;
    }
    try {
      const counts = await runCapture(found.target, o, {
        source,
        stop,
        stdout: live?.stdin,
        onAccepted: (point) => {
          const into = live === undefined ? "" : " (shown by tcpdump -n)";
          print(
            `${
              capturingLine(found.target, { ...o, write: o.write === "-" ? "the terminal" : o.write }, point)
            }${into}; any key stops it\n`,
          );
        },
      });
      await live?.end();
      return `${capturedLine(counts)}\n`;
    } catch (err) {
      await live?.end();
      return `${(err as Error).message}\n`;
    }
  };
}

/**
 * A tcpdump reading pcap on its stdin, its lines printed by `print`; null where there is no tcpdump. It
 * starts with the capture's first bytes: a line the capture refuses (a filter tcpdump cannot compile, a
 * -c that is no number) ends before any, and a tcpdump started for it would only complain of an empty
 * input ("truncated dump file") above the capture's own one-line error.
 */
function startTcpdump(
  print: (text: string) => void,
): { stdin: { write(p: Uint8Array): Promise<number> }; end(): Promise<void> } | null {
  // Run as root, tcpdump changes to its own user once it has its input; root of a rootless lab's
  // namespace cannot (that user is not mapped there), and tcpdump then exits. There it runs as a user of
  // a namespace of its own (unshare maps this one to it), which it does not try to leave.
  const argv = [
    ...(rootInUserNamespace() ? ["unshare", "--user", "--map-user=65534", "--map-group=65534"] : []),
    "tcpdump",
    "-n",
    "-l",
    "-r",
    "-",
  ];
  // Looked up first: under unshare, a missing tcpdump would be unshare's failure, not a failed spawn.
  if (unrunnable("tcpdump") !== undefined) return null;
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, quiet?: RegExp) => {
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      // Its "reading from file -, link-type EN10MB" says nothing the capture's own line does not.
      print(quiet === undefined ? text : text.replace(quiet, ""));
    }
  };
  let running: {
    child: Deno.ChildProcess;
    writer: WritableStreamDefaultWriter<Uint8Array>;
    pumping: Promise<unknown>;
  } | undefined;
  let broken = false;
  const spawn = () => {
    try {
      const child = new Deno.Command(argv[0]!, {
        args: argv.slice(1),
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const pumping = Promise.all([pump(child.stdout), pump(child.stderr, /^reading from file .*\n/m)]);
      running = { child, writer: child.stdin.getWriter(), pumping };
    } catch (err) {
      broken = true;
      print(`tcpdump did not start (${(err as Error).message}): the capture goes on, unshown\n`);
    }
  };
  return {
    stdin: {
      write: async (p) => {
        if (running === undefined && !broken) spawn();
        // A tcpdump that ended (killed) takes nothing more: the capture goes on to its end, unshown.
        if (running !== undefined && !broken) await running.writer.write(p).catch(() => broken = true);
        return p.length;
      },
    },
    end: async () => {
      if (running === undefined) return;
      await running.writer.close().catch(() => {});
      await running.child.status;
      await running.pumping.catch(() => {});
    },
  };
}
