/**
 * The rules that keep an HTTP server's connections bounded, as pure logic on
 * a virtual clock (guarded_server.ts applies them to real sockets).
 *
 * Deno.serve accepts every connection and keeps it as long as the client
 * likes, so a local user (or, with `--http 0.0.0.0:PORT`, anyone) could
 * hold thousands open until the process runs out of file descriptors and
 * its control socket can accept no plug. Three rules close that:
 *
 * - Admission: at most `maxConnections` open in all and `maxPerPeer` from
 *   one address; more are closed as they come, counted, and said in the
 *   log once (then at most once a minute, with the count since).
 * - Request deadline: a request's head and body (Content-Length or chunked,
 *   followed by wire/http_framing.ts) must arrive within `headerMs` of its
 *   first byte (of the connection's opening for the first), or the
 *   connection is closed: a slowloris holds nothing long. Bytes that cannot
 *   be framed as requests are not passed on and end the connection with a
 *   400, once the server has answered the requests before them (the
 *   answers followed too): a 400 among an answer's bytes, or taken for an
 *   earlier request's answer, would garble what the client reads. When the
 *   answers cannot be followed, the deadline ends it without a 400.
 * - Idle: a connection on which nothing moved either way for `idleMs` is
 *   closed (a keep-alive nobody uses). A live page's event stream sends
 *   every 250 ms, so it stays, and counts among the open connections.
 */

import { BEGAN, MALFORMED, RequestFraming } from "../wire/http_framing.ts";

/** The bounds of one server. */
export interface ConnLimits {
  maxConnections: number;
  maxPerPeer: number;
  headerMs: number;
  idleMs: number;
}

/** A few browsers' worth for everyone, a browser's worth and more for one address. */
export const DEFAULT_LIMITS: Readonly<ConnLimits> = {
  maxConnections: 256,
  maxPerPeer: 64,
  headerMs: 5_000,
  idleMs: 30_000,
};

/** How often the refusals are said again while they go on. */
export const REFUSAL_LOG_MS = 60_000;

/** Why a connection is ended early. */
export type Expiry = "slow request" | "idle";

/** One connection's request timing: is a request (head or body) overdue, has it gone idle, is it malformed. */
export class RequestClock {
  readonly #framing = new RequestFraming();
  /** The server's answers, followed to know when every request passed on has been answered. */
  readonly #answers = new RequestFraming();
  /** Requests passed on to the server whole: the answers owed before a 400. */
  #owed = 0;
  /** Of the bytes last told, those to pass on. */
  #whole = 0;
  /** Nothing of the first request has come yet. */
  #first = true;
  #requestStart: number;
  #lastActivity: number;

  constructor(now: number) {
    this.#requestStart = now;
    this.#lastActivity = now;
  }

  /**
   * What the client sent: a request's head and then its body (Content-Length
   * bytes or chunked, wire/http_framing.ts) must arrive within one deadline
   * from its first byte (a trickled body is a slowloris too), then a byte
   * begins the next request. (Counting a POST's body as the next head had a
   * keep-alive after it closed at headerMs as a slowloris where it should go
   * idle, and a chunked body's lines read as heads.) Says why, when the bytes
   * cannot be framed: the connection must end with a 400, once the requests
   * before them (wholeBytes of them) are passed on and answered.
   */
  fromClient(bytes: Uint8Array, now: number): string | undefined {
    this.#lastActivity = now;
    const seen = this.#framing.feed(bytes);
    // The first request's deadline runs from the connection's opening.
    if (seen & BEGAN && !this.#first) this.#requestStart = now;
    if (seen & BEGAN) this.#first = false;
    // A malformed request never ends: those ended are the ones before it, all passed on.
    this.#owed = this.#framing.ended;
    this.#whole = seen & MALFORMED ? Math.max(0, this.#framing.beganAt) : bytes.length;
    return seen & MALFORMED ? this.#framing.problem : undefined;
  }

  /**
   * How many of the bytes last told are to be passed on: all, or when they
   * are malformed those before the malformed request (whole requests, or the
   * rest of one). A malformed request's own bytes are not: the server would
   * answer them some way of its own.
   */
  get wholeBytes(): number {
    return this.#whole;
  }

  /** The server answered `bytes`: the connection is in use. */
  fromServer(bytes: Uint8Array, now: number): void {
    this.#lastActivity = now;
    this.#answers.feed(bytes);
  }

  /**
   * The client's bytes are malformed and what the server sent so far is
   * exactly the answers to the requests passed on whole, ending at the last
   * one's end: the 400 can follow now (and nothing more of the server's,
   * which may be answering the malformed request's beginning). False while
   * an answer is due or under way, and for good once the answers cannot be
   * counted (an answer to a HEAD, or one framed by neither header).
   */
  get refusalDue(): boolean {
    const a = this.#answers;
    return this.#framing.problem !== "" && !this.#framing.sawHead && a.unframed === 0 && !a.inRequest &&
      a.ended === this.#owed;
  }

  /** Why the connection should end now, if it should. */
  expired(now: number, limits: ConnLimits): Expiry | undefined {
    const arriving = this.#first || this.#framing.inRequest;
    if (arriving && now - this.#requestStart >= limits.headerMs) return "slow request";
    if (now - this.#lastActivity >= limits.idleMs) return "idle";
    return undefined;
  }
}

/** What `admit` says when it needs the owners of the loopback clients' sockets to decide. */
export const NEED_OWNERS = "need owners";

/** An admitted connection, to release when it ends. */
export interface Admitted {
  /** Its loopback connection's "client>server" (connectionKey), or "" when it is not a loopback one. */
  readonly connection: string;
  /** The peer it counts against: its address's peerKey, or a loopback client's uid once known. */
  bucket: string;
}

/**
 * Which connections are let in, and what to say of those that are not.
 *
 * Loopback is one peer by address (peerKey), which let one local user
 * holding maxPerPeer idle connections make every other local user's scrape
 * (root's, promtool's) wait out the deadlines. So, when the loopback
 * connections reach maxPerPeer (or all connections maxConnections), a
 * loopback connection is decided with the owners of the client sockets
 * (admit says NEED_OWNERS until it is given them: the caller reads the
 * kernel's tables, socket_owners.ts, once for a batch) and each local user
 * is a peer of its own: at most maxPerPeer per uid, and this server's uid
 * and root are let in past maxConnections (up to their own maxPerPeer
 * each), so no other user can starve them. A connection whose client has
 * no row (another network namespace) stays in the shared loopback peer, as
 * before. Below that share nothing is read: a read is O(sockets of the
 * machine). A uid is counted as the user `accountOf` says it is (the owner
 * of its /etc/subuid range, os/subordinate_ids.ts): one user's subordinate
 * uids are that user, not 65536 peers.
 */
export class Admission {
  readonly #limits: ConnLimits;
  /** This server's uid, when local users are told apart; undefined: loopback is one peer. */
  readonly #self: number | undefined;
  readonly #accountOf: (uid: number) => number;
  readonly #perPeer = new Map<string, number>();
  /** The loopback connections let in, so their owners can be read when loopback fills. */
  readonly #loopback = new Set<Admitted>();
  #open = 0;
  #refused = 0;
  #unsaid = 0;
  #saidAt = -Infinity;

  constructor(limits: ConnLimits, self?: number, accountOf: (uid: number) => number = (uid) => uid) {
    this.#limits = limits;
    this.#self = self;
    this.#accountOf = accountOf;
  }

  /** Connections open now. */
  get open(): number {
    return this.#open;
  }

  /** Connections refused since the start. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Lets a connection from `address`:`port` to this server's `server` end
   * (endpointKey's "addr:port") in (release it when it ends) or refuses it
   * (undefined); NEED_OWNERS: ask again with `owners`, the uid of each local
   * socket by its connection (connectionKey's form).
   */
  admit(
    address: string,
    port = 0,
    owners?: ReadonlyMap<string, number>,
    server = "",
  ): Admitted | undefined | typeof NEED_OWNERS {
    const peer = peerKey(address);
    const loopback = peer === LOOPBACK;
    const admitted: Admitted = {
      connection: loopback ? connectionKey(endpointKey(address, port), server) : "",
      bucket: peer,
    };
    let privileged = false;
    const { maxConnections, maxPerPeer } = this.#limits;
    if (
      loopback && this.#self !== undefined &&
      (this.#loopback.size >= maxPerPeer || this.#open >= maxConnections)
    ) {
      if (owners === undefined) return NEED_OWNERS;
      // Each uid asked once a decision: the held connections are mostly a few users'.
      const buckets = new Map<number, string>();
      const bucketOf = (uid: number) => {
        let bucket = buckets.get(uid);
        if (bucket === undefined) buckets.set(uid, bucket = this.#bucketOf(uid));
        return bucket;
      };
      for (const held of this.#loopback) {
        const uid = held.bucket === LOOPBACK ? owners.get(held.connection) : undefined;
        if (uid !== undefined) this.#move(held, bucketOf(uid));
      }
      const uid = owners.get(admitted.connection);
      if (uid !== undefined) {
        admitted.bucket = bucketOf(uid);
        privileged = uid === 0 || uid === this.#self;
      }
    }
    const fromPeer = this.#perPeer.get(admitted.bucket) ?? 0;
    if ((this.#open >= maxConnections && !privileged) || fromPeer >= maxPerPeer) return this.refuse();
    this.#open++;
    this.#perPeer.set(admitted.bucket, fromPeer + 1);
    if (loopback) this.#loopback.add(admitted);
    return admitted;
  }

  /** Refuses a connection undecided (too many wait to be): counts it; returns undefined, as a refusal. */
  refuse(): undefined {
    this.#refused++;
    this.#unsaid++;
    return undefined;
  }

  /** An admitted connection ended. */
  release(admitted: Admitted): void {
    this.#count(admitted.bucket, -1);
    this.#loopback.delete(admitted);
    if (this.#open > 0) this.#open--;
  }

  /**
   * The peer a local uid counts as: its user (a subordinate uid its range's owner). The subordinate uids of
   * root and of this server's user are a peer apart from them, with no pass past a full server: a
   * container's process is not trusted as its owner is, nor may it take its owner's share.
   */
  #bucketOf(uid: number): string {
    if (uid === 0 || uid === this.#self) return `uid ${uid}`;
    const user = this.#accountOf(uid);
    return user === 0 || user === this.#self ? `subordinate uids of ${user}` : `uid ${user}`;
  }

  #move(held: Admitted, bucket: string): void {
    this.#count(held.bucket, -1);
    held.bucket = bucket;
    this.#count(bucket, 1);
  }

  #count(bucket: string, by: number): void {
    const n = (this.#perPeer.get(bucket) ?? 0) + by;
    if (n <= 0) this.#perPeer.delete(bucket);
    else this.#perPeer.set(bucket, n);
  }

  /**
   * The line to log about refusals now, if any is due: the first refusal at
   * once, then what was refused since, at most once per REFUSAL_LOG_MS.
   */
  refusalLine(now: number): string | undefined {
    if (this.#unsaid === 0 || now - this.#saidAt < REFUSAL_LOG_MS) return undefined;
    const n = this.#unsaid;
    this.#unsaid = 0;
    this.#saidAt = now;
    const { maxConnections, maxPerPeer } = this.#limits;
    return `refused ${n} connection${n === 1 ? "" : "s"}: at most ${maxConnections} open, ` +
      `${maxPerPeer} from one address or local user (${this.#refused} refused in all)`;
  }
}

/**
 * Whose connection this is, for the per-address cap: one user may hold many
 * addresses, and all of them are one peer. A local user can send from any
 * of 127.0.0.0/8 (and ::1), so loopback is one peer; an IPv6 host is given
 * a /64 to choose its addresses from, so a /64 is one peer; an IPv4 client
 * of a dual-stack listener (::ffff:a.b.c.d) is that IPv4 address. Counting
 * each address apart let four loopback addresses take all 256 connections
 * and refuse every scrape from the network.
 */
export function peerKey(address: string): string {
  const host = (address.split("%")[0] ?? "").toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  const v4 = mapped !== null ? mapped[1] : host.includes(":") ? undefined : host;
  if (v4 !== undefined) return v4.startsWith("127.") ? LOOPBACK : v4;
  const groups = ipv6Groups(host);
  if (groups === undefined) return host;
  if (groups.every((g, i) => g === (i === 7 ? 1 : 0))) return LOOPBACK;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/** The peer of every loopback address. */
const LOOPBACK = "loopback";

/**
 * `address`:`port` as the kernel's socket tables name a local endpoint
 * (socket_owners.ts): IPv4 (an IPv4-mapped address too) dotted, IPv6 as its
 * eight groups in hex, "0:0:0:0:0:0:0:1:80".
 */
export function endpointKey(address: string, port: number): string {
  const host = (address.split("%")[0] ?? "").toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  if (mapped !== null) return `${mapped[1]}:${port}`;
  const groups = host.includes(":") ? ipv6Groups(host) : undefined;
  return `${groups === undefined ? host : groups.map((g) => g.toString(16)).join(":")}:${port}`;
}

/**
 * A connection as the kernel's socket tables name the client's socket
 * (socket_owners.ts): its local end, then its remote end (this server's), both
 * endpointKey's. Both ends, as one local port is shared by connections to
 * different destinations.
 */
export function connectionKey(client: string, server: string): string {
  return `${client}>${server}`;
}

/** The eight 16-bit groups of an IPv6 address in text, or undefined when it is not one. */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const part = (
    s: string,
  ) => (s === "" ? [] : s.split(":").map((g) => /^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  const head = part(halves[0] ?? "");
  const tail = halves.length === 2 ? part(halves[1] ?? "") : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) {
    return undefined;
  }
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.some(Number.isNaN) ? undefined : groups;
}
