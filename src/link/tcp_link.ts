/**
 * `tcp://`: authenticated, encrypted TCP cables as VNLs (src/cable/ does the
 * work; this file parses the VNL and registers the scheme).
 *
 * ```
 * tcp://HOST:PORT/key=FILE             connect (and reconnect) to a listener
 * tcp://[ADDR]:PORT/listen/key=FILE    listen; ADDR defaults to every IPv4 address
 * ```
 *
 * Options (slash form, keys may be abbreviated; a key file keeps its slashes:
 * `key=/etc/vde/cable.key`): `key=FILE` the pre-shared key; `insecure` a
 * plain cable with neither key nor encryption; `session=NAME` names the
 * cable (several cables from one host to one listener need different names;
 * a named cable may reach the listener at another address and keep its port); `retry=SECS` the longest
 * back-off between attempts (default 5); `once` gives up instead of
 * retrying; `grace=SECS` how long a listener keeps a lost cable's port
 * (default 60); `listen`. IPv6 addresses go in brackets: `tcp://[::1]:5000`.
 *
 * Opened as a single link (`vde plug`), the connecting form returns at once
 * and connects in the background; the listening form resolves with the first
 * cable and then takes only that cable's reconnections. `vde switch --cable`
 * and `vde cable listen` serve many cables on one listener instead, each on
 * its own port (see `startCableListener`).
 */
import { CableClient, defaultSessionId, hostPort } from "../cable/client.ts";
import { type CableKey, loadKey } from "../cable/key.ts";
import { CableListener, type ListenerSession } from "../cable/listener.ts";
import { log } from "../log.ts";
import { parseSlashParams } from "./vnl_params.ts";
import type { Link } from "./link.ts";
import { type OpenOptions, registerScheme } from "./registry.ts";
import { localSwitch, lockCable } from "./cable_lock.ts";

const KEYS = ["key", "insecure", "listen", "session", "retry", "once", "grace"] as const;

/** A parsed `tcp://` VNL. */
export interface TcpVnl {
  hostname: string;
  port: number;
  listen: boolean;
  /** Key file; undefined with `insecure` (or when a default key applies). */
  keyFile?: string;
  insecure: boolean;
  session?: string;
  retryMaxMs?: number;
  once: boolean;
  graceMs?: number;
}

function seconds(value: string, what: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) {
    throw new Error(`tcp:// ${what} must be a number of seconds, got "${value}"`);
  }
  return Math.round(Number(value) * 1000);
}

/** Parses the part of a `tcp://` VNL after the scheme; throws with a one-line reason. */
export function parseTcpVnl(rest: string): TcpVnl {
  const p = parseSlashParams(rest, KEYS, "tcp", ["key"]);
  const listen = p.options.has("listen");
  const m = p.address.match(/^(?:\[([0-9a-fA-F:.%\w]+)\]|([^:[\]]*)):(\d+)$/);
  if (!m) {
    throw new Error(
      listen
        ? `tcp:// listen needs [ADDR]:PORT (or [IPv6]:PORT), got "${p.address}"`
        : `tcp:// needs HOST:PORT (or [IPv6]:PORT), got "${p.address}"`,
    );
  }
  const port = Number(m[3]);
  // A listener on port 0 gets a free port from the kernel and logs which ("listening on ADDR:PORT").
  if (port < (listen ? 0 : 1) || port > 65535) {
    throw new Error(`tcp:// port must be 1-65535${listen ? " (or 0: any free port)" : ""}, got ${port}`);
  }
  const host = m[1] ?? m[2] ?? "";
  if (!listen && host === "") throw new Error("tcp:// needs a host to connect to (add /listen to listen)");
  const o = p.options;
  const vnl: TcpVnl = {
    hostname: host === "" ? "0.0.0.0" : host,
    port,
    listen,
    insecure: o.has("insecure"),
    once: o.has("once"),
  };
  if (o.has("key")) {
    if (o.get("key") === "") throw new Error("tcp:// key= needs a file name");
    vnl.keyFile = o.get("key");
  }
  if (vnl.insecure && vnl.keyFile !== undefined) throw new Error("tcp:// takes key= or insecure, not both");
  if (o.has("session")) vnl.session = o.get("session");
  if (o.has("retry")) vnl.retryMaxMs = seconds(o.get("retry")!, "retry");
  if (o.has("grace")) vnl.graceMs = seconds(o.get("grace")!, "grace");
  return vnl;
}

/** True when `vnl` is a listening `tcp://` VNL. */
export function isListeningVnl(vnl: string): boolean {
  if (!vnl.startsWith("tcp://")) return false;
  try {
    return parseTcpVnl(vnl.slice(6)).listen;
  } catch {
    return false;
  }
}

/** Where the key comes from when the VNL names none. */
export interface CableDefaults {
  /** Key file used when the VNL has neither key= nor insecure. */
  keyFile?: string;
  /** Allow plain cables without saying `insecure` in the VNL. */
  insecure?: boolean;
  /** The caller's own option that gives `keyFile` (`--key FILE`), named when a key is missing. */
  keyOption?: string;
  /**
   * Where the cable's lines go (listening, connections opened and closed): the program's log as
   * `vde cable` unless said; a lab's cable node names itself, as its lab has several.
   */
  log?: (message: string) => void;
}

/** The cable's log lines' way: `defaults.log`, else the program's log as `vde cable`. */
function cableLog(defaults: CableDefaults): (message: string) => void {
  return defaults.log ?? ((m) => log("vde cable", m));
}

const warned = new Set<string>();

/** Loads the key a VNL asks for; null for an insecure cable (warned about loudly, once). */
export async function cableKey(v: TcpVnl, defaults: CableDefaults = {}): Promise<CableKey | null> {
  const file = v.keyFile ?? (v.insecure ? undefined : defaults.keyFile);
  if (file !== undefined) return await loadKey(file);
  if (!v.insecure && !defaults.insecure) {
    const where = defaults.keyOption === undefined ? "key=FILE" : `${defaults.keyOption} or key=FILE`;
    throw new Error(`a tcp:// cable needs ${where} (make one with: vde cable keygen FILE) or insecure`);
  }
  // A listener warns once bound, naming the port the kernel chose for port 0.
  if (!v.listen) warnInsecure(`to ${hostPort(v.hostname, v.port)}`, cableLog(defaults));
  return null;
}

/** Says loudly, once per cable address, that a cable is plain. */
function warnInsecure(cable: string, say: (message: string) => void): void {
  if (warned.has(cable)) return;
  warned.add(cable);
  say(
    `WARNING: the cable ${cable} is INSECURE: not authenticated, not ` +
      "encrypted; anyone who can reach it can join the LAN and read its traffic",
  );
}

/**
 * The session id of a connecting VNL: stable across restarts for the same
 * cable. Named with `session=`, it does not depend on the listener's
 * address, so a cable may move to another address of the listener (another
 * interface, say) and keep its port.
 */
export function sessionIdFor(v: TcpVnl, localName: string, host = Deno.hostname()): Promise<Uint8Array> {
  return v.session === undefined
    ? defaultSessionId(host, localName, hostPort(v.hostname, v.port))
    : defaultSessionId(host, localName, "named", v.session);
}

/** Options for opening the connecting form. */
export interface ConnectOptions extends CableDefaults {
  /** Names this side for the session id (e.g. the local switch's directory). */
  localName?: string;
  /** This side's switch port, for log lines. */
  localPort?: () => number | undefined;
}

/** Starts a connecting cable for a parsed VNL. */
export async function openCableClient(v: TcpVnl, o: ConnectOptions = {}): Promise<CableClient> {
  const key = await cableKey(v, o);
  return new CableClient({
    hostname: v.hostname,
    port: v.port,
    key,
    sessionId: await sessionIdFor(v, o.localName ?? ""),
    retryMaxMs: v.retryMaxMs,
    once: v.once,
    log: cableLog(o),
    localPort: o.localPort,
  });
}

/** Starts a listener for a parsed listening VNL; each new cable goes to `onSession`. */
export async function startCableListener(
  v: TcpVnl,
  onSession: (session: ListenerSession, remote: string) => number | Promise<number>,
  defaults: CableDefaults = {},
): Promise<CableListener> {
  const key = await cableKey(v, defaults);
  const listener = CableListener.start({
    hostname: v.hostname,
    port: v.port,
    key,
    graceMs: v.graceMs,
    log: cableLog(defaults),
    onSession,
  });
  const where = hostPort(listener.addr.hostname, listener.addr.port);
  if (key === null) warnInsecure(`listening on ${where}`, cableLog(defaults));
  cableLog(defaults)(
    `listening on ${where} ${key === null ? "(PLAIN, insecure)" : `(key ${key.idHex})`}`,
  );
  return listener;
}

async function openTcp(rest: string, options: OpenOptions): Promise<Link> {
  const v = parseTcpVnl(rest);
  if (!v.listen) {
    // A plug's cable is its other end's, as vde cable connect --sock names it: one session, one carrier.
    const local = options.peer === undefined ? { name: "" } : localSwitch(options.peer);
    const lock = await lockCable(await sessionIdFor(v, local.name), local);
    try {
      const client = await openCableClient(v, { localName: local.name, localPort: options.peerPort });
      client.closed.then(() => lock.release());
      return client;
    } catch (err) {
      lock.release();
      throw err;
    }
  }
  // One cable for one link: the first session, then only its reconnections.
  const { promise, resolve } = Promise.withResolvers<ListenerSession>();
  let first: ListenerSession | null = null;
  const listener = await startCableListener(v, (s) => {
    if (first !== null) {
      throw new Error("this listener carries one cable (a plug); use vde cable listen for more");
    }
    first = s;
    resolve(s);
    // The far end is told this side's switch port (0: none known), as a switch's listener tells it.
    return options.peerPort?.() ?? 0;
  });
  const session = await promise;
  session.closed.then(() => listener.close());
  return session;
}

registerScheme("tcp", openTcp);
