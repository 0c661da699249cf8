/**
 * Which `Host` headers a vde web server answers: the defence against DNS
 * rebinding, as pure logic.
 *
 * A hostile page at evil.example whose name the attacker's DNS then points
 * at 127.0.0.1 is same-origin with the server in the victim's browser: it
 * could read the page, /metrics, /events and the topology (client names,
 * MACs, the lab's layout). Its requests still carry `Host: evil.example`,
 * so the server answers only Host values that cannot be rebound, as
 * Jupyter's local_hostnames and the MCP SDK's localhost check do:
 *
 * - an IP literal (`127.0.0.1`, `[::1]`, `192.0.2.7`): no name is resolved,
 *   so a page using one was loaded from that very address and port;
 * - `localhost` and names under it (RFC 6761: resolvers and browsers keep
 *   them on the loopback);
 * - on a server bound beyond the loopback (`--http 0.0.0.0:PORT`), the
 *   machine's own host name and names under it (`lab1`, `lab1.cs.example`),
 *   which is how other machines browse it.
 *
 * The port is not compared: a tunnel (`ssh -L 8080:localhost:9100`) or a
 * proxy changes it and cannot rebind a name. A request with no Host at all
 * (HTTP/1.0, a hand-made one) comes from no browser and is answered.
 */

/** Whether `hostname` (a listening address) is the loopback only. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::1" || h === "localhost";
}

/** The name of a Host header's value, lower case, without port or IPv6 brackets; undefined when malformed. */
export function hostName(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h);
  if (v6 !== null) return `[${v6[1]}]`;
  const m = /^([a-z0-9._-]+?)\.?(?::\d{1,5})?$/.exec(h);
  return m === null ? undefined : m[1];
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Whether a server listening on `bound` answers a request whose Host header
 * is `header` (null: none was sent). `machine` is this machine's host name.
 */
export function hostAllowed(header: string | null, bound: string, machine: string): boolean {
  if (header === null) return true;
  const name = hostName(header);
  if (name === undefined) return false;
  if (name.startsWith("[") || IPV4.test(name)) return true;
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isLoopback(bound)) return false;
  const own = machine.toLowerCase().replace(/\.$/, "");
  return own !== "" && (name === own || name.startsWith(`${own}.`));
}

/** The answer's one line for a refused Host, naming addresses that work. */
export function hostRefusal(header: string, port: number): string {
  return `Host "${header.slice(0, 100)}" is not this server's name (refused against DNS rebinding): ` +
    `browse http://localhost:${port}/ or the address itself\n`;
}
