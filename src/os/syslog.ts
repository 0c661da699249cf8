/**
 * Log lines to syslog (journald, rsyslog) as vde_switch's daemon sends
 * them: RFC 3164 datagrams, as `logger` writes them, on the unix datagram
 * socket /dev/log: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE`, facility
 * daemon (user for `vde plug -l`'s session lines, as vde_plug's), severity
 * err for a fatal line and info otherwise.
 *
 * Theory of operation: one non-blocking socket, connected at the first line
 * and again after a send fails (a syslog daemon restarted makes a new
 * socket at the same path). A line is sent with MSG_DONTWAIT: where the
 * socket is missing, refuses, or its queue is full, the line is dropped and
 * the switch goes on; nothing here throws or waits. The path is /dev/log
 * unless VDE_SYSLOG_SOCKET names another (the tests' stand-in).
 */
import { UnixDgramSocket } from "../io/unix_dgram.ts";

/**
 * How a line is sent: info for the running switch's lines, warning for a fault it keeps running through
 * (a slirp's gateway taken), err for the one it dies with.
 */
/** syslog's; "notice" is a normal line a user needs even under -q (a port the kernel chose). */
export type Severity = "err" | "warning" | "notice" | "info";

/** Where a line is filed: a daemon's own lines, or a user session's (vde_plug's `-l` says its START/STOP there). */
export type Facility = "daemon" | "user";

const FACILITY: Record<Facility, number> = { user: 1, daemon: 3 };
const SEVERITY: Record<Severity, number> = { err: 3, warning: 4, notice: 5, info: 6 };
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** Syslog daemons take at least 1024 bytes of a datagram (RFC 3164); longer lines are cut there. */
const MAX_DATAGRAM = 1024;

/** The RFC 3164 datagram of `message` from `tag`[`pid`] at `at` (local time, as logger says it). */
export function syslogLine(
  severity: Severity,
  tag: string,
  pid: number,
  message: string,
  at: Date,
  facility: Facility = "daemon",
): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const stamp = `${MONTHS[at.getMonth()]} ${String(at.getDate()).padStart(2, " ")} ` +
    `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
  // A line is one record: a newline inside would start a forged one in a daemon that splits on it.
  const flat = message.replace(/[\r\n]+/g, " ");
  return `<${FACILITY[facility] * 8 + SEVERITY[severity]}>${stamp} ${tag}[${pid}]: ${flat}`;
}

/** A sender of log lines to the syslog socket; `send` never throws nor blocks. */
export class SyslogSender {
  readonly #path: string;
  readonly #tag: string;
  readonly #facility: Facility;
  #socket: UnixDgramSocket | null = null;
  readonly #encoder = new TextEncoder();

  constructor(
    tag: string,
    path = Deno.env.get("VDE_SYSLOG_SOCKET") || "/dev/log",
    facility: Facility = "daemon",
  ) {
    this.#tag = tag;
    this.#path = path;
    this.#facility = facility;
  }

  /** The socket the lines go to (/dev/log, or $VDE_SYSLOG_SOCKET). */
  get path(): string {
    return this.#path;
  }

  /** Sends `message`; false where it was dropped (no syslog there, or its queue full). */
  send(severity: Severity, message: string): boolean {
    const bytes = this.#encoder.encode(
      syslogLine(severity, this.#tag, Deno.pid, message, new Date(), this.#facility),
    );
    const datagram = bytes.subarray(0, MAX_DATAGRAM);
    const socket = this.#connected();
    if (socket === null) return false;
    if (socket.send(datagram) === 0) return true;
    // A restarted syslog's new socket, or none: the next line connects again.
    this.close();
    return false;
  }

  #connected(): UnixDgramSocket | null {
    if (this.#socket !== null) return this.#socket;
    let socket: UnixDgramSocket | null = null;
    try {
      socket = UnixDgramSocket.create();
      socket.connect(this.#path);
      this.#socket = socket;
    } catch {
      socket?.close(false);
    }
    return this.#socket;
  }

  /** Closes the socket (the next line opens it again). */
  close(): void {
    this.#socket?.close(false);
    this.#socket = null;
  }
}
