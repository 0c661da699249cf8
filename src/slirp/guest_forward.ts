/**
 * Guest forwards (libslirp's guestfwd, vdeplug's `cmdfwd=` and `unixfwd=`):
 * a TCP connection from the guest to a chosen virtual address and port is
 * joined to a host command's stdin/stdout, or to a unix socket.
 *
 * Theory of operation. The virtual address (10.0.2.4 unless given, as
 * libslirp picks) is answered by the stack like its own (ARP, reachable
 * from the guest). The TCP engine asks `mapOutbound` where a guest
 * connection goes; for a guest forward the answer is a target the engine
 * does not interpret, `guestfwd:N`, which the wrapped `HostNet` below opens:
 * one new command (`sh -c COMMAND`, stderr to ours) or one new unix-socket
 * connection per guest connection, as libslirp forks one per connection.
 * The engine then moves bytes as for any host connection: the command's
 * end of output is the guest's FIN, the guest's FIN closes its stdin, and
 * a reset or close kills the command.
 */
import type { HostConn, HostNet } from "./tcp/host.ts";
import { connectJudged } from "../os/root_way.ts";

/** How root's refusal of a unixfwd= socket's way says what it does not do. */
const UNIXFWD_WORDS = { what: "join a guest's connection to a socket", doing: "connecting to it" };

/** One guest forward. */
export interface GuestForwardSpec {
  /** The virtual IPv4 address the guest connects to. */
  addr: number;
  port: number;
  kind: "cmd" | "unix";
  /** The command line (`cmd`) or the socket path (`unix`). */
  target: string;
}

/** The target name the TCP engine carries for guest forward `i`. */
const PREFIX = "guestfwd:";

/** Which guest forward `addr:port` is, or -1. */
export function guestForwardIndex(
  forwards: readonly GuestForwardSpec[],
  addr: Uint8Array,
  port: number,
): number {
  if (addr.length !== 4) return -1;
  const a = ((addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!) >>> 0;
  return forwards.findIndex((f) => f.addr === a && f.port === port);
}

/** The engine's target for guest forward `i`. */
export function guestForwardTarget(i: number, port: number): { hostname: string; port: number } {
  return { hostname: `${PREFIX}${i}`, port };
}

/** A host command's stdio as a stream. */
class CommandConn implements HostConn {
  readonly #child: Deno.ChildProcess;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #rest: Uint8Array | null = null;
  #closed = false;

  constructor(command: string) {
    this.#child = new Deno.Command("sh", {
      args: ["-c", command],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#reader = this.#child.stdout.getReader();
    this.#writer = this.#child.stdin.getWriter();
    // The exit status is not needed; waiting for it keeps the child from lingering as a zombie.
    this.#child.status.catch(() => {});
  }

  async read(p: Uint8Array): Promise<number | null> {
    let chunk = this.#rest;
    this.#rest = null;
    if (chunk === null) {
      const r = await this.#reader.read();
      if (r.done) return null;
      chunk = r.value;
    }
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n), 0);
    if (n < chunk.length) this.#rest = chunk.subarray(n);
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    // The caller's buffer is reused after this resolves; the pipe may still hold the view.
    await this.#writer.write(p.slice());
    return p.length;
  }

  async closeWrite(): Promise<void> {
    await this.#writer.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.cancel().catch(() => {});
    this.#writer.abort().catch(() => {});
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Exited already.
    }
  }
}

/**
 * `net` with guest forwards: a connect to `guestfwd:N` opens forward N,
 * everything else goes to `net`.
 */
export function withGuestForwards(net: HostNet, forwards: readonly GuestForwardSpec[]): HostNet {
  if (forwards.length === 0) return net;
  return {
    async connect(hostname, port, signal) {
      if (!hostname.startsWith(PREFIX)) return await net.connect(hostname, port, signal);
      const f = forwards[Number(hostname.slice(PREFIX.length))];
      if (f === undefined) throw new Deno.errors.ConnectionRefused(`no guest forward ${hostname}`);
      // Root's guest is joined only to a socket reached by a way no other user may steer (root_way.ts).
      if (f.kind === "unix") return await connectJudged(f.target, UNIXFWD_WORDS);
      return new CommandConn(f.target);
    },
    listen: (hostname, port) => net.listen(hostname, port),
  };
}
