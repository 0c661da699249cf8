/**
 * Which local user owns a TCP socket of this machine, from the kernel's
 * tables /proc/net/tcp and /proc/net/tcp6 (the reading process's network
 * namespace): one row per socket, its local and remote address:port and its
 * owner's uid. The connection guard asks it who holds the other end of a loopback
 * connection, so that local users are told apart (conn_guard.ts), and asks
 * only when the loopback connections fill their share: a read is
 * O(sockets on the machine).
 *
 * The kernel prints an address as the hex of its 32-bit words in host order
 * (little-endian here: "0100007F" is 127.0.0.1), a port as 4 hex digits.
 * Rows of sockets that are gone (TIME_WAIT, inode 0) say uid 0 and are
 * skipped. A row is keyed by both its ends, connectionKey's form
 * "127.0.0.1:40000>127.0.0.1:9100" (IPv6 as "0:0:0:0:0:0:0:1:40000>...", an
 * IPv4-mapped address as its IPv4): the kernel gives one local port to
 * connections to different destinations (ephemeral ports are shared once
 * they run short), so the local end alone named two sockets, and the one
 * printed last (root's, say) was taken for the other user's.
 */
import { connectionKey } from "./conn_guard.ts";

/** A connection ("local>remote", connectionKey's form) to its owner's uid, from one table's text. */
export function parseSocketTable(text: string, into: Map<string, number>): Map<string, number> {
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    if (f.length < 10 || !f[0]!.endsWith(":") || f[9] === "0") continue;
    const local = hexEndpoint(f[1]!);
    const remote = hexEndpoint(f[2]!);
    const uid = Number(f[7]);
    if (local === undefined || remote === undefined || !Number.isInteger(uid)) continue;
    into.set(connectionKey(local, remote), uid);
  }
  return into;
}

/** An "ADDR:PORT" the kernel printed in hex, in endpointKey's form; undefined when it is not one. */
function hexEndpoint(text: string): string | undefined {
  const [hex, portHex, extra] = text.split(":");
  const port = parseInt(portHex ?? "", 16);
  const addr = hexAddress(hex ?? "");
  return addr === undefined || extra !== undefined || !(port >= 0 && port <= 65535)
    ? undefined
    : `${addr}:${port}`;
}

/** The address the kernel printed as hex words, in endpointKey's form; undefined when it is not one. */
function hexAddress(hex: string): string | undefined {
  if ((hex.length !== 8 && hex.length !== 32) || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(hex.slice(w + b, w + b + 2), 16));
  }
  const mapped = bytes.length === 16 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 &&
    bytes[11] === 255;
  if (bytes.length === 4 || mapped) return bytes.slice(-4).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(":");
}

/** Reads both tables of this namespace; an unreadable one adds nothing (no /proc: no owner is known). */
export function readSocketOwners(): Map<string, number> {
  const owners = new Map<string, number>();
  for (const path of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      parseSocketTable(Deno.readTextFileSync(path), owners);
    } catch { /* not there */ }
  }
  return owners;
}

/** The share of the time the tables may be read while connections keep asking. */
const READ_SHARE = 0.2;

/**
 * The owners read for whoever asks: one read answers all who asked since
 * the last, and reads take at most READ_SHARE of the time (a read waits
 * four times the last one's length after it). A local user who opens
 * connections as fast as they are refused so costs the server a fifth of a
 * core at most, not one read (milliseconds with thousands of sockets) per
 * connection, and a connection waits a few of those milliseconds to be
 * decided.
 */
export class OwnerReads {
  readonly #read: () => ReadonlyMap<string, number>;
  #asking: ((owners: ReadonlyMap<string, number>) => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextAt = 0;

  constructor(read: () => ReadonlyMap<string, number> = readSocketOwners) {
    this.#read = read;
  }

  /** How many wait for the next read. */
  get asking(): number {
    return this.#asking.length;
  }

  /** Calls `then` with the owners of the next read. */
  ask(then: (owners: ReadonlyMap<string, number>) => void): void {
    this.#asking.push(then);
    this.#timer ??= setTimeout(() => this.#answer(), Math.max(0, this.#nextAt - Date.now()));
  }

  /** No more reads; who waits is not called. */
  close(): void {
    clearTimeout(this.#timer);
    this.#asking = [];
  }

  #answer(): void {
    this.#timer = undefined;
    const start = Date.now();
    const owners = this.#read();
    this.#nextAt = Date.now() + (Date.now() - start) * (1 / READ_SHARE - 1);
    const asking = this.#asking;
    this.#asking = [];
    for (const then of asking) then(owners);
  }
}
