/**
 * `vde cable listen|connect|keygen`: ad-hoc cables between hosts. One
 * command on each host and their switches are one LAN:
 *
 * ```
 * hostA$ vde cable keygen lab.key            # copy lab.key to hostB
 * hostA$ vde cable listen 5000 --sock /tmp/net --key lab.key
 * hostB$ vde cable connect hostA:5000 --sock /tmp/net --key lab.key
 * ```
 *
 * Every cable is authenticated and encrypted with the key (src/cable/);
 * `--insecure` makes a plain one instead. A listener takes many cables, each
 * on its own port of the local switch; a connecting cable reconnects with
 * back-off and gets its old port back.
 */
import { listenFailure } from "../os/listen_failure.ts";
import { hostPort } from "../cable/client.ts";
import { metricsPart, startMetricsServer } from "../web/metrics_server.ts";
import { renderCableMetrics } from "../web/cable_metrics.ts";
import type { Command } from "commander";
import { generateKeyFile, KeyError } from "../cable/key.ts";
import type { Link } from "../link/link.ts";
import { plug } from "../link/plug.ts";
import { portOfLink } from "../link/switch_port.ts";
import { openLink, splitVnl } from "../link/registry.ts";
import { checkSwitchServes, parseVdeVnl } from "../link/vde_link.ts";
import {
  openCableClient,
  parseTcpVnl,
  sessionIdFor,
  startCableListener,
  type TcpVnl,
} from "../link/tcp_link.ts";
import type { SessionLock } from "../cable/session_lock.ts";
import { cableSessionName } from "../cable/listener.ts";
import { CableHeld, localSwitch, lockCable } from "../link/cable_lock.ts";
import { log } from "../log.ts";
import type { Switch } from "../switch/switch.ts";
import { examples } from "./help.ts";
import { type Program, programOf, type ProgramOptions, runProgram, withDaemonOptions } from "./program.ts";
import { type Subcommand, UsageError } from "./main.ts";
import { openFailure } from "./open_failure.ts";
import { openUnlessStopped, stoppedOpening } from "./unless_stopped.ts";

interface CableFlags {
  sock: string;
  daemon?: boolean;
  pidfile?: string;
  logfile?: string;
  key?: string;
  insecure?: boolean;
  session?: string;
  retry?: string;
  once?: boolean;
  grace?: string;
  http?: string;
}

function secondsFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) {
    throw new UsageError(`${name} must be a number of seconds, got "${value}"`);
  }
  return Math.round(Number(value) * 1000);
}

/** Builds the tcp:// VNL the flags describe and checks it. */
function cableVnl(address: string, flags: CableFlags, listen: boolean): TcpVnl {
  if (flags.key === undefined && !flags.insecure) {
    throw new UsageError("give --key FILE (make one with: vde cable keygen FILE) or --insecure");
  }
  if (flags.key !== undefined && flags.insecure) {
    throw new UsageError("--key and --insecure exclude each other");
  }
  // A bare port listens everywhere; "ADDR:PORT" and "[v6]:PORT" as written.
  const addr = listen && /^\d+$/.test(address) ? `:${address}` : address;
  let v: TcpVnl;
  try {
    v = parseTcpVnl(listen ? `${addr}/listen` : addr);
  } catch (err) {
    const why = (err as Error).message;
    // In the command line's own words: a bare port listens, where tcp:// needs the colon.
    if (/^tcp:\/\/ (listen )?needs /.test(why)) {
      throw new UsageError(
        listen
          ? `the address to listen on is [ADDR:]PORT, e.g. 5000 or 10.0.0.1:5000; got "${address}"`
          : `the listener's address is HOST:PORT, e.g. hostA:5000 or [fd00::1]:5000; got "${address}"`,
      );
    }
    throw new UsageError(why.replace(/^tcp:\/\/ /, ""));
  }
  v.keyFile = flags.key;
  v.insecure = flags.insecure ?? false;
  v.session = flags.session;
  v.retryMaxMs = secondsFlag(flags.retry, "--retry");
  v.graceMs = secondsFlag(flags.grace, "--grace");
  v.once = flags.once ?? false;
  return v;
}

async function listen(address: string, flags: CableFlags): Promise<void> {
  const v = cableVnl(address, flags, true);
  // Each cable opens its own link to the switch later; a switch that is not there (a typo, a
  // killed switch's directory) is said now, as connect and vde plug say it, not at each cable.
  const { scheme, rest } = splitVnl(flags.sock);
  if (scheme === "vde") {
    try {
      await checkSwitchServes(parseVdeVnl(rest).path);
    } catch (err) {
      throw new UsageError(openFailure(flags.sock, err));
    }
  }
  await runProgram(cableProgram(flags), async (p) => {
    // A cable's join of the switch under way at a stop is told it and undone before the exit, which would
    // otherwise cut it short (its socket left in the switch's directory); the cable is refused then.
    const joining = new Set<Promise<unknown>>();
    const listener = await startCableListener(v, async (session, remote) => {
      // Sent once, as the switch's port joins: the address of the connection that opened the session.
      const description = `${cableSessionName(session.idHex)}, opened from ${remote}`;
      const opening = openUnlessStopped(p.stopped, (signal) => openLink(flags.sock, { description, signal }));
      joining.add(opening);
      const local = await opening.finally(() => joining.delete(opening));
      if (local === undefined) throw new Error(`the listener was stopped (${await p.stopped})`);
      plug(session, local);
      return portOfLink(local);
    }).catch((err) => {
      // A key that cannot be read is the key's problem, not the address's.
      if (err instanceof KeyError) throw new UsageError(err.message);
      throw new UsageError(`cannot listen on ${address}${listenFailure(err, "vde cable listen", "5000")}`);
    });
    p.defer(() => listener.close());
    let metrics: string | undefined;
    if (flags.http !== undefined) {
      const web = startMetricsServer("vde cable", flags.http, () => renderCableMetrics(address, listener));
      p.defer(() => web.close());
      metrics = web.url;
    }
    // In the background it returns once it listens (a script's next line may connect), naming the port port 0 took.
    const where = hostPort(listener.addr.hostname, listener.addr.port);
    p.ready(
      p.inBackground ? `listening on ${where} for cables to ${flags.sock}${metricsPart(metrics)}` : undefined,
    );
    log("vde cable", `${await p.stopped}: closing ${listener.sessions.length} cable(s)`);
    // No cable comes in now; those joining the switch go as told.
    listener.close();
    await Promise.allSettled(joining);
  });
}

/**
 * This host's one `vde cable connect` of the cable `v` from the switch
 * `local` (link/cable_lock.ts).
 *
 * @throws UsageError naming the process that runs it
 */
async function lockCableConnect(
  v: TcpVnl,
  local: { name: string; dir?: string },
  sock: string,
  address: string,
): Promise<SessionLock> {
  try {
    return await lockCable(await sessionIdFor(v, local.name), local);
  } catch (err) {
    if (!(err instanceof CableHeld)) throw err;
    throw new UsageError(
      `vde cable connect ${address} --sock ${sock} ${err.message}; ` +
        `stop that one first, or give this one --session NAME for a second cable`,
    );
  }
}

async function connect(address: string, flags: CableFlags): Promise<void> {
  // Before a --daemon start: a mistake on the command line is said in the foreground.
  const v = cableVnl(address, flags, false);
  await runProgram(cableProgram(flags), async (p) => {
    const local = localSwitch(flags.sock);
    const lock = await lockCableConnect(v, local, flags.sock, address);
    p.defer(() => lock.release());
    await connectHeld(p, address, flags, v, local.name);
  });
}

/** The life `runProgram` gives `vde cable connect`: `--daemon`, `--pidfile`, `--logfile` as the switch has them. */
function cableProgram(flags: CableFlags): ProgramOptions {
  // Its links stop what they started, as a plug's do.
  return programOf("vde cable", "cable", flags, false);
}

/**
 * How long a `--daemon` start waits for its cable's first connection: a
 * listener that is starting too (a script's previous line) has time; one
 * that is not there is said while the script can still act on it.
 */
const DAEMON_CONNECT_WAIT_MS = 30_000;

async function connectHeld(
  p: Program,
  address: string,
  flags: CableFlags,
  v: TcpVnl,
  localName: string,
): Promise<void> {
  let joined: Link | undefined;
  try {
    joined = await openUnlessStopped(
      p.stopped,
      (signal) => openLink(flags.sock, { description: `cable to ${address}`, signal }),
    );
  } catch (err) {
    throw new UsageError(openFailure(flags.sock, err));
  }
  if (joined === undefined) {
    log("vde cable", stoppedOpening(await p.stopped, flags.sock));
    return;
  }
  const local = joined;
  p.defer(() => local.close());
  const client = await openCableClient(v, { localName, localPort: () => portOfLink(local) });
  p.defer(() => client.close());
  const carried = plug(local, client);
  // One line per event: a failed --once cable, or one refused for good (a wrong key), is reported as the
  // command's error only.
  const failed = () => (flags.once && client.failures > 0) || client.refusal !== null;
  if (p.inBackground) {
    // In the background it returns once the cable is connected, or says why it is not.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      client.firstConnection.then(() => undefined),
      carried,
      p.stopped,
      new Promise<string>((r) => {
        timer = setTimeout(
          () => r(`no connection within ${DAEMON_CONNECT_WAIT_MS / 1000} s (the attempts are said above)`),
          DAEMON_CONNECT_WAIT_MS,
        );
      }),
    ]);
    clearTimeout(timer);
    if (first !== undefined) {
      throw new UsageError(failed() ? first : `cable to ${address} not connected: ${first}`);
    }
    p.ready(`cable to ${address} connected, on port ${portOfLink(local)} of ${flags.sock}`);
  } else p.ready();
  const reason = await Promise.race([carried, p.stopped]);
  local.close();
  client.close();
  if (failed()) throw new UsageError(reason);
  log("vde cable", `cable to ${address} ended: ${reason}`);
}

/** Registers `vde cable`. */
export const cableCommand: Subcommand = (program: Command) => {
  const cable = program.command("cable")
    .description("authenticated, encrypted TCP cables between switches on different hosts");
  const common = (c: Command) =>
    c.requiredOption("-s, --sock <vnl>", "the local switch: its directory (or any VNL)")
      .option("-k, --key <file>", "pre-shared key file (vde cable keygen)")
      .option("--insecure", "a plain cable: no authentication, no encryption (trusted networks only)")
      .addHelpText(
        "after",
        "\nRequired: --sock, and either --key FILE or --insecure (the same on both ends).",
      );
  /** `--daemon`, `--pidfile`, `--logfile`, as the switch has them; a daemon returns once it is `ready`. */
  const daemon = (c: Command, ready: string) =>
    withDaemonOptions(c, `run in the background, returning once ${ready} (or saying why not)`);
  daemon(
    common(
      cable.command("listen")
        .description("accept cables on [ADDR:]PORT; each one becomes its own port of the local switch")
        .argument(
          "<[addr:]port>",
          "port to listen on, optionally with an address (default: every IPv4 address)",
        ),
    ),
    "it listens",
  )
    .option("--grace <secs>", "how long a lost cable keeps its port waiting for its reconnection", "60")
    .option("--http <[addr:]port>", "serve Prometheus /metrics of the cables (127.0.0.1 unless ADDR)")
    .addHelpText(
      "after",
      examples(
        "vde cable keygen lab.key",
        "vde cable listen 5000 -s /tmp/net --key lab.key",
        "vde cable listen 5000 -s /tmp/net --key lab.key -d --pidfile /tmp/listen.pid",
      ),
    )
    .action((address: string, flags: CableFlags) => listen(address, flags));
  daemon(
    common(
      cable.command("connect")
        .description("connect the local switch to a listener; reconnects with back-off and keeps its port")
        .argument("<host:port>", "the listener"),
    ),
    "the cable is connected",
  )
    .option(
      "--session <name>",
      "name this cable: several cables from one host to one listener need different names; " +
        "a named cable keeps its port when it reaches the listener at another address",
    )
    .option("--retry <secs>", "longest wait between reconnection attempts", "5")
    .option("--once", "exit when the connection fails or ends instead of reconnecting")
    .addHelpText(
      "after",
      examples(
        "vde cable connect hostA:5000 -s /tmp/net --key lab.key",
        "vde cable connect hostA:5000 -s /tmp/net --key lab.key -d --pidfile /tmp/cable.pid",
        "vde cable connect 10.0.0.1:5000 -s /tmp/net --insecure --once",
      ),
    )
    .action((address: string, flags: CableFlags) => connect(address, flags));
  cable.command("keygen")
    .description("write a new random key (mode 0600) for both ends of a cable")
    .argument("<file>", "where to write it")
    .option("-f, --force", "replace an existing file")
    .addHelpText("after", examples("vde cable keygen lab.key   # then copy lab.key to the other host"))
    .action(async (file: string, o: { force?: boolean }) => {
      // `-` is no stdout here: a secret on a terminal or in a pipe's scrollback is one copy too many.
      if (file === "-") {
        throw new UsageError("keygen writes a file (mode 0600), not stdout: give its name, e.g. lab.key");
      }
      try {
        const key = await generateKeyFile(file, o.force ?? false);
        console.log(`key ${key.idHex} written to ${file}; copy it to the other host (keep it secret)`);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    });
};

/**
 * Puts the cables `vnls` on ports of `sw` for `vde switch --cable`: a
 * listening `tcp://` VNL serves many cables, each on its own port; any other
 * VNL (a connecting `tcp://`, `udp://`, `vxlan://`, `cmd://`, ...) is one
 * port. Hands what must be undone at exit to `defer`. Resolves false when
 * the switch is stopped (`stopped`) while a VNL opens: the open is told,
 * and undone.
 *
 * @throws UsageError when a VNL cannot be opened
 */
export async function attachCables(
  sw: Switch,
  vnls: string[],
  o: { dir: string; keyFile?: string },
  defer: (cleanup: () => unknown) => void,
  stopped: Promise<string>,
): Promise<boolean> {
  // A cable that ends while the switch serves (its command failed, a once cable gave up) is said in the
  // log: its port is gone, and nothing else would tell. The switch's own stop closes them with STOPPED.
  const STOPPED = "the switch stopped";
  const sayEnd = (link: Link, vnl: string, port: number | undefined) => {
    link.closed.then((reason) => {
      if (reason !== STOPPED) log("vde switch", `cable ${vnl} on port ${port ?? "?"} ended: ${reason}`);
    });
  };
  for (const vnl of vnls) {
    try {
      if (vnl.startsWith("tcp://")) {
        const v = parseTcpVnl(vnl.slice("tcp://".length));
        if (v.listen) {
          const listener = await startCableListener(
            v,
            (session) => sw.portOfEndpoint(sw.attach(session).id),
            { keyFile: o.keyFile, keyOption: "--key FILE" },
          );
          defer(() => listener.close());
          continue;
        }
        const local: { port?: number } = {};
        // The cable's one carrier on this host, as vde cable connect --sock DIR of it would be.
        const here = localSwitch(o.dir);
        const lock = await lockCable(await sessionIdFor(v, here.name), here);
        defer(() => lock.release());
        const client = await openCableClient(v, {
          keyFile: o.keyFile,
          keyOption: "--key FILE",
          localName: here.name,
          localPort: () => local.port,
        });
        defer(() => client.close(STOPPED));
        local.port = sw.portOfEndpoint(sw.attach(client).id);
        log("vde switch", `cable ${vnl} on port ${local.port}`);
        sayEnd(client, vnl, local.port);
        continue;
      }
      const link = await openUnlessStopped(
        stopped,
        (signal) => openLink(vnl, { description: `vde switch ${o.dir}`, signal }),
      );
      if (link === undefined) {
        log("vde switch", stoppedOpening(await stopped, `--cable ${vnl}`));
        return false;
      }
      defer(() => link.close(STOPPED));
      const port = sw.portOfEndpoint(sw.attach(link).id);
      log("vde switch", `cable ${vnl} on port ${port}`);
      sayEnd(link, vnl, port);
    } catch (err) {
      throw new UsageError(`--cable ${vnl}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return true;
}
