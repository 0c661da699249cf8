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
 *   machine's own names, exactly: its host name (`lab1`) and its canonical
 *   name in /etc/hosts (`lab1.cs.example`, what `hostname -f` prints), which
 *   is how other machines browse it. Not names under them: whoever owns
 *   `lab1.evil.example` (or `evil.example`, with a search domain that makes
 *   `lab1` its child) can point it at this machine;
 * - names the user lists in VDE_HTTP_HOSTS (a CNAME, the name a reverse
 *   proxy passes on), on any server: whoever owns those names is trusted.
 *
 * A refused Host is told what works from where its user is: localhost on a
 * loopback server; on a server bound beyond it the machine's names and the
 * addresses it listens on (its interfaces', for 0.0.0.0 or ::), as a
 * remote user cannot browse localhost; and VDE_HTTP_HOSTS in either case.
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

/** The names a server answers besides addresses and localhost (hostName's form: lower case, no dot at the end). */
export interface OwnNames {
  /** This machine's names: answered when the server listens beyond the loopback. */
  readonly machine: ReadonlySet<string>;
  /** The user's (VDE_HTTP_HOSTS): answered on any server. */
  readonly extra: ReadonlySet<string>;
  /** This machine's interface addresses, for a refused Host's hint on a server bound to 0.0.0.0 or ::. */
  readonly addresses?: readonly string[];
}

/**
 * Whether a server listening on `bound` answers a request whose Host header
 * is `header` (null: none was sent).
 */
export function hostAllowed(header: string | null, bound: string, names: OwnNames): boolean {
  if (header === null) return true;
  const name = hostName(header);
  if (name === undefined) return false;
  if (name.startsWith("[") || IPV4.test(name)) return true;
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (names.extra.has(name)) return true;
  return !isLoopback(bound) && names.machine.has(name);
}

/**
 * This machine's names from its host name and /etc/hosts' `text`: the host
 * name, and the first name (the canonical one, as `hostname -f` reads it) of
 * each line that lists it.
 */
export function machineNames(hostname: string, hostsText: string): Set<string> {
  const own = hostName(hostname);
  const out = new Set<string>();
  if (own === undefined) return out;
  out.add(own);
  for (const line of hostsText.split("\n")) {
    const [, ...names] = line.replace(/#.*/, "").trim().split(/\s+/).map((n) => hostName(n));
    if (names.includes(own) && names[0] !== undefined) out.add(names[0]);
  }
  return out;
}

/**
 * VDE_HTTP_HOSTS' names (separated by commas or spaces), and the entries
 * that are no host name, for one line saying so.
 */
export function extraNames(value: string | undefined): { names: Set<string>; bad: string[] } {
  const names = new Set<string>();
  const bad: string[] = [];
  for (const entry of (value ?? "").split(/[\s,]+/)) {
    if (entry === "") continue;
    const name = hostName(entry);
    if (name === undefined || name === "" || /^[.-]|\.\./.test(name)) bad.push(entry.slice(0, 100));
    else names.add(name);
  }
  return { names, bad };
}

/** How many of the machine's names and addresses a refusal names at most (a lab host has many interfaces). */
const MAX_WAYS = 4;

/** The answer's one line for a refused Host, naming what works from where its user is (see above). */
export function hostRefusal(
  header: string,
  bound: { hostname: string; port: number },
  names: OwnNames,
): string {
  return `Host "${header.slice(0, 100)}" is not this server's name (refused against DNS rebinding): ` +
    `browse ${waysIn(bound, names)}, or list the name in VDE_HTTP_HOSTS\n`;
}

/** The URLs a server on `bound` answers, for a refusal's hint. */
function waysIn(bound: { hostname: string; port: number }, names: OwnNames): string {
  const url = (host: string) => `http://${host.includes(":") ? `[${host}]` : host}:${bound.port}/`;
  const local = url("localhost");
  if (isLoopback(bound.hostname)) return `${local} or the address itself`;
  const h = bound.hostname.toLowerCase();
  const wild = h === "0.0.0.0" || h === "::";
  // 0.0.0.0 listens on IPv4 only; a link-local IPv6 address needs a zone no URL carries well.
  const addresses = wild
    ? (names.addresses ?? []).filter((a) =>
      !isLoopback(a) && (a.includes(":") ? h === "::" && !/^fe[89ab]/i.test(a) : true)
    )
    : [bound.hostname];
  const ways = [...names.machine, ...addresses].slice(0, MAX_WAYS).map(url);
  if (wild) ways.push(`${local} on this machine`);
  return ways.join(" or ");
}
