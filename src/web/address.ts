/**
 * `--http [ADDR:]PORT`: where the web server listens. Loopback unless an
 * address is given, so a switch never shows itself to the network by
 * accident; IPv6 addresses go in brackets ("[::1]:9100").
 */
import { listenFailure } from "../os/listen_failure.ts";

/** A parsed listening address. */
export interface HttpAddress {
  hostname: string;
  port: number;
}

/** Parses `[ADDR:]PORT`; throws an Error with a one-line message. */
export function parseHttpAddress(text: string): HttpAddress {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(text.trim());
  if (m === null) throw new Error(`--http wants [ADDR:]PORT, e.g. 9100 or 0.0.0.0:9100, got "${text}"`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`--http: port ${port} is out of range (0-65535)`);
  const host = m[1] ?? "127.0.0.1";
  return { hostname: host.startsWith("[") ? host.slice(1, -1) : host, port };
}

/**
 * Why `--http ADDRESS` could not listen, in one line; a port in use adds
 * that `--http 0` takes a free one (the log line then names it).
 */
export function httpListenFailure(address: string, err: unknown): string {
  return `--http: cannot listen on ${address}${listenFailure(err, "--http", "9100")}`;
}
