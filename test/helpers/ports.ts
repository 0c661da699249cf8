/**
 * Ports for servers under test. A test never picks a port itself and frees it
 * for the server: between the two, another process of a parallel run can take
 * it (a listener, or a connection's local port). The server listens on port 0
 * instead, the kernel picks, and the server's log line says which.
 */
import { waitFor } from "./processes.ts";

/**
 * The first capture of `re` in a process's log, once it appears there (20 s
 * bound: start-up under load is slow, not hung).
 */
export function loggedUrl(log: () => string, re: RegExp, what: string): Promise<string> {
  return waitFor(() => re.exec(log())?.[1], { timeoutMs: 20_000, what: `${what} in the log` });
}

/** The base URL (no trailing slash) of the "web view on URL" line in `out`; throws when there is none. */
export function webViewBase(out: string): string {
  const m = /web view on (http:\/\/\S+?)\/? /.exec(out);
  if (m === null) throw new Error(`no "web view on URL" line in:\n${out}`);
  return m[1]!;
}

/**
 * A loopback TCP port free at this moment, for the few cases where the port
 * must be written before the server starts (a lab file's forward, a README
 * block run as written) or must have nothing listening (a refusal). The rule
 * above still stands wherever the server can take port 0: between this
 * return and the server's bind another process may take the port.
 */
export function freedPort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  return port;
}

/**
 * One of this host's IPv4 addresses that is not loopback's, to connect from as
 * "another address": every 127.0.0.0/8 address is one peer to the web servers'
 * per-address cap (a local user may send from any of them).
 */
export function otherLocalAddress(): string {
  const other = Deno.networkInterfaces().find((i) => i.family === "IPv4" && !i.address.startsWith("127."))
    ?.address;
  if (other === undefined) {
    throw new Error("this host has no IPv4 address besides loopback's to connect from");
  }
  return other;
}
