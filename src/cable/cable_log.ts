/**
 * The connection log of cables: one line when a connection opens, one when
 * it closes, each with the time, the remote address and port, the key id,
 * the switch port, and (at close) the frames and bytes carried each way.
 * Refused handshakes are logged too, at most a few lines per interval with
 * a count of the rest (src/rate_limited_log.ts), so a flood of bad
 * connections cannot flood the log.
 */
import type { CableConnection } from "./connection.ts";
import { counted } from "../counted.ts";

/** Where cable log lines go. */
export type CableLogger = (message: string) => void;

/** What identifies a connection in its log lines. */
export interface ConnectionInfo {
  /** "10.0.0.2:41234" (IPv6 in brackets). */
  remote: string;
  /** Key id in hex, or "none (insecure)". */
  keyId: string;
  /** Switch port of the cable on this side's switch (or the far side's, for a client), or "?". */
  port: number | string;
  /** Session id in hex. */
  session: string;
}

function head(event: string, i: ConnectionInfo): string {
  return `${event} ${new Date().toISOString()} remote ${i.remote} key ${i.keyId} port ${i.port} session ${
    i.session.slice(0, 16)
  }`;
}

/** The line for a connection that just opened. */
export function openLine(i: ConnectionInfo, detail: string): string {
  return `${head("cable open", i)} ${detail}`;
}

/** The line for a connection that just closed, with what it carried. */
export function closeLine(
  i: ConnectionInfo,
  conn: CableConnection,
  openedAt: number,
  reason: string,
): string {
  const s = conn.stats;
  const secs = ((Date.now() - openedAt) / 1000).toFixed(1);
  return `${head("cable close", i)} in ${counted(s.framesIn, "frame")} ${counted(s.bytesIn, "byte")} out ${
    counted(s.framesOut, "frame")
  } ${counted(s.bytesOut, "byte")}` +
    ` dropped ${s.dropsOut} after ${secs} s: ${reason}`;
}

/** "host:port", with IPv6 addresses in brackets. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return addr.hostname.includes(":") ? `[${addr.hostname}]:${addr.port}` : `${addr.hostname}:${addr.port}`;
  }
  return addr.transport;
}
