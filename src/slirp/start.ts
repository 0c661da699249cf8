/**
 * Assembling a slirp stack from its configuration: the host's resolvers,
 * whether the host allows ping sockets, the TCP engine with its forward
 * control, the configured TCP forwards opened, and the start-up notes
 * (each forward with the host port it listens on: the kernel picks for 0).
 *
 * Theory of operation. The stack is built whole before anything carries
 * it; the link (link/slirp_link.ts) then only binds where its frames go
 * (`SlirpStack.attach`). The TCP engine gets the stack as its core side,
 * and the stack as the answer to "which guest address does a forward
 * without one go to", so nothing is captured half-built.
 */
import { log } from "../log.ts";
import { ConfigError, describeConfig, type DnsUpstream, resolversFrom, type SlirpConfig } from "./config.ts";
import { FfiHostNet, type HostNet, pingSocketsAllowed } from "./host_net.ts";
import { SlirpStack } from "./stack.ts";
import { startTcpEngine } from "./tcp_glue.ts";
import type { HostNet as TcpHostNet } from "./tcp/host.ts";
import type { Severity } from "../os/syslog.ts";

/** Options of `startSlirpStack` beyond the configuration. */
export interface SlirpStartOptions {
  /** Host sockets; the real ones by default. */
  hostNet?: HostNet;
  /** Log lines; `vde slirp: ...` on the log by default. */
  log?: (message: string, severity?: Severity) => void;
  /** Where the host's resolvers are listed (default /etc/resolv.conf). */
  resolvConf?: string;
  /** Refuse TCP even when the engine exists (tests of the core). */
  noTcp?: boolean;
  /** UDP flow idle timeout. */
  udpIdleMs?: number;
  /** The stack's clock in milliseconds (performance.now() by default; the slirp thread reads it once a round). */
  now?: () => number;
  /** The TCP engine's host sockets; Deno's by default (tcp/host.ts), libc's on the slirp thread. */
  tcpHostNet?: TcpHostNet;
  /** Full-size frames the switch's socket queues for us (io/unix_peer_queue.ts; 0 or absent: unknown). */
  switchQueueFrames?: number;
}

function hostResolvers(path: string): DnsUpstream[] {
  try {
    return resolversFrom(Deno.readTextFileSync(path));
  } catch {
    return [];
  }
}

/**
 * Builds a started stack for `config`.
 *
 * @throws Error with a one-line reason (a forward's host port is taken, ...)
 */
export async function startSlirpStack(
  config: SlirpConfig,
  options: SlirpStartOptions = {},
): Promise<SlirpStack> {
  const say = options.log ?? ((m: string, severity?: Severity) => log("vde slirp", m, severity));
  const resolvers = config.dnsUpstream ?? hostResolvers(options.resolvConf ?? "/etc/resolv.conf");
  const pingAllowed = { 4: pingSocketsAllowed(4), 6: pingSocketsAllowed(6) };
  const stack = new SlirpStack({
    config,
    hostNet: options.hostNet ?? new FfiHostNet(),
    log: say,
    resolvers,
    pingAllowed,
    udpIdleMs: options.udpIdleMs,
    now: options.now,
    tcp: options.noTcp ? undefined : (s) =>
      startTcpEngine(
        s,
        config,
        resolvers,
        (family) => s.guestAddress(family),
        options.tcpHostNet,
        options.switchQueueFrames,
      ),
  });
  try {
    await stack.openTcpForwards();
  } catch (err) {
    stack.close();
    if (options.noTcp) throw new ConfigError("TCP forwards need the TCP engine, which is off");
    throw err;
  }
  // Each forward's host port, which a user (or a test) asking for port 0 learns only here.
  // A port the kernel chose is a notice: `-q` keeps it, as a user needs it to reach the forward.
  for (const f of stack.describeForwards()) say(f.line, f.picked ? "notice" : "info");
  if (config.verbose) { for (const line of describeConfig(config).split("\n")) say(line); }
  if (resolvers.length === 0) {
    say("no DNS upstream (none in /etc/resolv.conf): DNS queries are dropped", "warning");
  }
  return stack;
}
