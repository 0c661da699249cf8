/**
 * A rootless lab's parts that reach the machine's network (its slirp and
 * cable nodes, its `--http` page), run by the process outside its
 * namespaces: the `vde up --rootless` the user started.
 *
 * Theory of operation. The lab itself runs in a network namespace of its
 * own (rootless.ts), where a slirp's NAT and forwards, a cable's TCP and a
 * web page would see only that namespace's loopback. What both processes
 * do share is the filesystem: the lab's runtime directory is the user's.
 * So the lab's process makes each slirp and cable node a unix socket there,
 * `NODE.outside`, 0600 whatever the umask (private_socket.ts), and waits for the one connection of the process outside,
 * which opened the node's slirp or cable on the machine's network before
 * it started the lab (a forward's port taken fails the start before
 * anything is made). Frames cross in VDE's stream framing; to the lab the
 * node is that connection, a link like any other, joined to the node's
 * links, their impairments and switch ports as a slirp or cable of its own
 * would be. The lab goes on only once the node is plugged in: its hosts'
 * DHCP, which comes after every node and link, finds its slirp there, as in
 * a root lab. The page is the lab's own too, served on a unix socket,
 * `http`, to which the process outside passes each connection it accepts on
 * the machine's address. A node's connection ends with the lab (or the
 * node's removal), and its slirp or cable with it. The slirps' counters,
 * for the page's /metrics, are answered on one more socket there
 * (outside_slirp_counters.ts).
 *
 * A node added to the running lab (the shell's `add`, `vde up --apply`)
 * runs outside too: the lab listens on its socket, `NODE.G.outside`, then
 * writes the node's settings beside it, `NODE.outside.json`, which the
 * process outside watches for; it checks them as the lab file's
 * (outside_request.ts), opens the node and plugs it in as it did at the
 * start, or writes why it cannot (a forward's port taken),
 * `NODE.G.outside.error`, which the lab's add says. A listening cable's
 * address there (the port `listen: 0` got) comes in `NODE[.G].listening`,
 * written before its plug, for the lab's status. A slirp's forwards
 * changed live go by files too (outside_forwards.ts), and so do the static
 * addresses on its LAN its DHCP must not lease (`NODE.reserved.json`, a
 * word with no answer: the lab's reserveStatics). The files are the
 * user's, in the user's own directory (outside_files.ts).
 * Where the process outside is gone (a SIGKILL), the lab refuses a node at
 * once rather than wait for it, and as soon as it goes while the lab waits
 * for one, of its start or added. Each request carries its generation G
 * (the lab's count of them), which names the socket and the files of its
 * answer: an answer to one the lab gave up on, come late (a refusal, a
 * plug), finds no place of the next request for that node, never taken as
 * its answer.
 *
 * A node's removal is over once the process outside has closed it, its
 * host ports free again, so that a node added next on them (an apply's
 * rename) binds them: the lab half-closes the node's connection, the
 * process outside reads its end, closes the node and then its own end of
 * the connection, which the lab waits for (a bound: it takes milliseconds).
 */
import { StreamLink } from "../link/stream_link.ts";
import { dropFrames, type Link } from "../link/link.ts";
import { isDirectory, isSocket } from "../os/paths.ts";
import { listenPrivate } from "../os/private_socket.ts";
import type { HttpAddress } from "../web/address.ts";
import { httpUrl } from "../web/lab_server.ts";
import { type ConnLimits, DEFAULT_LIMITS } from "../web/conn_guard.ts";
import { closeQuietly, relayGuarded } from "../web/guarded_server.ts";
import { openCableNode } from "./cable_node.ts";
import { join } from "./runner.ts";
import { openSlirpNode } from "./slirp_node.ts";
import { slirpStatics } from "./same_lan.ts";
import type { SlirpLink } from "../link/slirp_link.ts";
import type { CableNode, Lab, SlirpNode } from "./spec.ts";
import type { OutsidePlug } from "./runner.ts";
import { writeWhole } from "./state.ts";
import { checkedRequest } from "./outside_request.ts";
import {
  FORWARDS,
  isGeneration,
  listeningFile,
  outsideGone,
  outsideSocket,
  POLL_MS,
  readIfThere,
  readRequestFile,
  refusalFile,
  removeIfThere,
  REQUEST,
  requestFile,
  RESERVED,
  takeReserved,
} from "./outside_files.ts";
import { answerForwards } from "./outside_forwards.ts";
import { serveSlirpCounters } from "./outside_slirp_counters.ts";
import { type NamedSlirp, slirpCounters } from "../web/slirp_metrics.ts";
import { socketTooLong } from "./names.ts";
import { SUN_PATH_LEN } from "../wire/sockaddr_un.ts";

/** How long the lab waits for a node's plug from outside (the process outside polls every POLL_MS). */
const PLUG_TIMEOUT_MS = 30_000;

/** The socket in lab directory `labDir` where the lab's page serves the connections relayed from outside. */
export function pageSocket(labDir: string): string {
  return `${labDir}/http`;
}

/** How long a node's removal waits for the process outside to close it (it takes milliseconds). */
const RELEASE_TIMEOUT_MS = 5_000;

/**
 * The lab's end of node `node`'s connection `conn`, with what the process outside said it listens on (in
 * file `listeningAt`). Its release for a removal half-closes the connection and waits for the process
 * outside to close its end, which it does once it has closed the node (its host ports free again): the
 * node's removal is over only then. At the lab's end it closes the connection at once.
 */
function plugOf(conn: Deno.UnixConn, listeningAt: string, node: string): OutsidePlug {
  const link = new StreamLink(`${node}, outside the lab's namespaces`, conn, conn, {
    release: () => closeQuietly(conn),
  });
  // Read from the start, what comes dropped until the lab joins the node to a link (which sets its own
  // handler): a link without one holds the first bytes read (a slirp's gateway probe) and then no longer
  // sees the connection end, so a node linked to nothing would stay `up` after its process outside died.
  link.onFrame = dropFrames;
  // The user's own directory, but read as any input: one short ADDR:PORT, or nothing (a client's).
  const said = readIfThere(listeningAt);
  const listening = said !== undefined && /^\S{1,100}:\d{1,5}$/.test(said) ? said : undefined;
  return {
    link,
    ...(listening === undefined ? {} : { listening }),
    release: async (untilClosed) => {
      if (untilClosed) {
        // Read on (frames the node still sends are dropped): a link without a handler holds what comes and
        // would not see the end.
        link.onFrame = dropFrames;
        try {
          await conn.closeWrite();
        } catch { /* closed */ }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([link.closed, new Promise((r) => (timer = setTimeout(r, RELEASE_TIMEOUT_MS)))]);
        clearTimeout(timer);
      }
      link.close("lab node removed");
    },
  };
}

/**
 * In the lab's process: RunnerOptions.outside for a lab whose nodes `names`
 * run outside, opened at the start. Any other slirp or cable node (one added
 * to the running lab, or one of those removed and added again) is asked for
 * by its settings (a cable's key file resolved), which the process outside
 * reads. Either way it is refused as soon as that process no longer runs
 * (`outsideRuns`), at once for one asked for.
 */
export function pluggedFromOutside(
  labDir: string,
  names: Iterable<string>,
  timeoutMs = PLUG_TIMEOUT_MS,
  outsideRuns: () => boolean = () => true,
): (node: SlirpNode | CableNode, signal?: AbortSignal) => Promise<OutsidePlug | null> {
  const waiting = new Set(names);
  let generation = 0;
  return async (node, signal) => {
    const asked = !waiting.delete(node.name);
    if (asked && !outsideRuns()) throw outsideGone(node.name);
    const g = asked ? ++generation : undefined;
    const path = outsideSocket(labDir, node.name, g);
    // As vde up checks its own nodes' (names.ts), before the process outside is asked: past the bound its
    // connect would fail with the OS's error, and the add only after the wait.
    const bytes = socketTooLong(path);
    if (bytes !== undefined) {
      throw new Error(
        `${node.name}: its socket path would be ${bytes} bytes (${path}), the limit is ${
          SUN_PATH_LEN - 1
        }: ` +
          "give it a shorter name",
      );
    }
    const listening = listeningFile(labDir, node.name, g);
    const refusal = g === undefined ? undefined : refusalFile(labDir, node.name, g);
    const listener = listenPrivate(path);
    let refused: string | undefined;
    const stop = () => {
      try {
        listener.close();
      } catch { /* closed */ }
    };
    const timer = setTimeout(stop, timeoutMs);
    signal?.addEventListener("abort", stop, { once: true });
    // Asked once the socket listens, so the process outside finds it; its refusal is looked for meanwhile,
    // and its end (a SIGKILL, before or while it opens the node), after which no plug comes.
    const watch = setInterval(() => {
      const said = refusal === undefined ? undefined : readIfThere(refusal);
      if (said === undefined && outsideRuns()) return;
      refused = said ?? outsideGone(node.name).message;
      stop();
    }, POLL_MS);
    try {
      if (g !== undefined) {
        writeWhole(requestFile(labDir, node.name), JSON.stringify({ generation: g, node }));
      }
      return plugOf(await listener.accept(), listening, node.name);
    } catch {
      signal?.throwIfAborted();
      if (refused !== undefined) throw new Error(refused);
      throw new Error(
        `${node.name}: vde up --rootless did not plug it in from outside the lab's namespaces within ` +
          `${timeoutMs / 1000} s`,
      );
    } finally {
      clearTimeout(timer);
      clearInterval(watch);
      signal?.removeEventListener("abort", stop);
      stop();
      for (
        const p of [path, listening, ...(g === undefined ? [] : [requestFile(labDir, node.name), refusal!])]
      ) {
        removeIfThere(p);
      }
    }
  };
}

/** One node run outside: its slirp, cable client or listener's session, and its connection to the lab. */
interface Part {
  name: string;
  /** A slirp node's own link, whose forwards change live. */
  slirp?: SlirpLink;
  link: Link | null;
  inside: Link | null;
  unjoin: () => void;
  /** Closes the node; a slirp's promise settles once its forwards' host ports are free again. */
  close: () => void | Promise<void>;
  /** A listening cable's bound ADDR:PORT, which the lab shows. */
  listening?: string;
  /** Closes the connection to the lab, whose end tells it the node is closed (plugOf's release). */
  letGo: () => void;
}

/** In the process outside: the lab's slirp and cable nodes, open on the machine's network. */
export class OutsideNodes {
  readonly #parts: Part[] = [];
  readonly #lab: string;
  readonly #baseDir: string;
  readonly #say: (m: string) => void;
  #closed = false;
  #over = false;
  /** The nodes dropped whose host ports are not yet free (see #openAsked). */
  #releasing: Promise<unknown> = Promise.resolve();
  #unwatch = () => {};
  /** Where the lab's /metrics reads the slirps' counters, once its directory is there (#serve). */
  #counters: { close(): void } | undefined;

  private constructor(lab: string, baseDir: string, say: (m: string) => void) {
    this.#lab = lab;
    this.#baseDir = baseDir;
    this.#say = say;
  }

  /**
   * Opens lab `lab`'s slirp and cable nodes (key files relative to `baseDir`); `say` logs a cable's news.
   *
   * @throws Error naming the node that could not open (all opened before it are closed)
   */
  static async open(lab: Lab, baseDir: string, say: (m: string) => void): Promise<OutsideNodes> {
    const out = new OutsideNodes(lab.name, baseDir, say);
    try {
      const statics = slirpStatics(lab.nodes, lab.links);
      for (const node of lab.nodes) {
        if (node.kind === "slirp" || node.kind === "cable") await out.#open(node, statics.get(node.name));
      }
    } catch (err) {
      out.close();
      throw err;
    }
    return out;
  }

  /** Opens node `node` on the machine's network, to be plugged in (#plugIn). */
  async #open(node: SlirpNode | CableNode, reserved: readonly number[] = []): Promise<Part> {
    if (node.kind === "slirp") {
      const link = await openSlirpNode(node, reserved);
      const part = this.#add(node.name, () => {
        link.close();
        return link.released;
      });
      part.link = link;
      part.slirp = link;
      return part;
    }
    const part = this.#add(node.name, () => {});
    try {
      const cable = await openCableNode(node, {
        keyFile: node.key === undefined || node.key.startsWith("/")
          ? node.key
          : `${this.#baseDir}/${node.key}`,
        localName: `${this.#lab}/${node.name}`,
        say: this.#say,
        onSession: (session) => {
          // One cable per node: a new session replaces the one before.
          part.link?.close("replaced by a new cable session");
          this.#use(part, session);
          return 0;
        },
      });
      part.close = () => cable.close();
      part.listening = cable.listening;
      if (cable.client !== undefined) this.#use(part, cable.client);
    } catch (err) {
      this.#parts.splice(this.#parts.indexOf(part), 1);
      throw err;
    }
    return part;
  }

  /** The slirps' counters now, for the lab's /metrics (outside_slirp_counters.ts). */
  #slirpCounters(): NamedSlirp[] {
    return this.#parts.flatMap((p) =>
      p.slirp === undefined ? [] : [{ name: p.name, counters: slirpCounters(p.slirp.stack) }]
    );
  }

  /** The nodes' names: the lab waits for each (pluggedFromOutside). */
  get names(): string[] {
    return this.#parts.map((p) => p.name);
  }

  #add(name: string, close: () => void | Promise<void>): Part {
    const part: Part = { name, link: null, inside: null, unjoin: () => {}, close, letGo: () => {} };
    this.#parts.push(part);
    return part;
  }

  /** Makes `link` the node's outside end, joined to the lab once it is plugged in. */
  #use(part: Part, link: Link): void {
    part.unjoin();
    part.link = link;
    if (part.inside !== null) part.unjoin = join(link, part.inside);
  }

  /**
   * Plugs each node into the lab in directory `labDir` as soon as the lab
   * waits for it; resolves once every node is plugged in, or `until`
   * resolves (the lab ended first). A node whose connection ends is closed.
   * Then, until `until` or close(), opens and plugs in each node the lab
   * asks for (pluggedFromOutside).
   */
  async plug(labDir: string, until: Promise<unknown>): Promise<void> {
    until.then(() => (this.#over = true), () => (this.#over = true));
    await Promise.all(this.#parts.map((part) => this.#plugIn(labDir, part)));
    if (!this.#over && !this.#closed) this.#serve(labDir).catch(() => {});
  }

  /**
   * Connects node `part` to the lab's socket for it, polling until the lab listens there; a node the lab
   * asked for in request `generation` is tried once, its socket made before the request: the lab gave up
   * on one that is not there (its add timed out), and the node is closed.
   */
  async #plugIn(labDir: string, part: Part, generation?: number): Promise<void> {
    const path = outsideSocket(labDir, part.name, generation);
    const drop = () => this.#drop(part);
    while (!this.#over && !this.#closed) {
      if (isSocket(path)) {
        try {
          if (part.listening !== undefined) {
            writeWhole(listeningFile(labDir, part.name, generation), part.listening);
          }
          const conn = await Deno.connect({ transport: "unix", path });
          // Its end waits for the node's close: the lab's removal of it is over once the node is closed.
          const closed = Promise.withResolvers<void>();
          part.letGo = closed.resolve;
          const inside = new StreamLink(`lab node ${part.name}`, conn, conn, {
            release: () => void closed.promise.then(() => closeQuietly(conn)),
          });
          part.inside = inside;
          // A listening cable with no session yet drops what the lab sends, as the lab's own would, and reads
          // on: a link with no handler holds what comes and would never see the lab let go of the node.
          inside.onFrame = dropFrames;
          if (part.link !== null) this.#use(part, part.link);
          inside.closed.then(drop);
          return;
        } catch { /* made, not yet listening: the next round */ }
      }
      if (generation !== undefined) return drop();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /**
   * Closes node `part`, once the lab let go of it (or never took it), and forgets it; the end of its
   * connection to the lab, once the node is closed (its host ports free), tells the lab so.
   */
  #drop(part: Part): void {
    const at = this.#parts.indexOf(part);
    if (at < 0) return;
    this.#parts.splice(at, 1);
    part.unjoin();
    part.inside?.close("lab node removed");
    const closed = Promise.resolve(part.close()).catch(() => {}).finally(part.letGo);
    this.#releasing = Promise.all([this.#releasing, closed]);
  }

  /** Watches lab directory `labDir` for nodes asked for, and opens each. */
  async #serve(labDir: string): Promise<void> {
    // A lab with no slirp or cable of its start gets here before its process has made the directory.
    while (!isDirectory(labDir)) {
      if (this.#over || this.#closed) return;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    // Closed during the last wait: close() has run, and a watcher made now would outlive it.
    if (this.#over || this.#closed) return;
    try {
      this.#counters = serveSlirpCounters(labDir, () => this.#slirpCounters(), (m) => this.#say(m));
    } catch (err) {
      this.#say(`/metrics will have no slirp series: ${(err as Error).message}`);
    }
    const watcher = Deno.watchFs(labDir, { recursive: false });
    this.#unwatch = () => {
      try {
        watcher.close();
      } catch { /* closed */ }
    };
    let queue = this.#takeRequests(labDir);
    for await (const event of watcher) {
      if (this.#over || this.#closed) break;
      if (event.paths.some((p) => p.endsWith(REQUEST) || p.endsWith(FORWARDS) || p.endsWith(RESERVED))) {
        queue = queue.then(() => this.#takeRequests(labDir));
      }
    }
    this.#unwatch();
  }

  /**
   * Takes each request in `labDir`: opens and plugs in a node asked for (or says in its refusal file why
   * not), changes a slirp's forwards (and says in its answer file whether it did).
   */
  async #takeRequests(labDir: string): Promise<void> {
    let files: string[];
    try {
      files = [...Deno.readDirSync(labDir)].filter((e) => e.isFile).map((e) => e.name);
    } catch {
      return; // the lab is gone
    }
    for (const file of files) {
      const suffix = [REQUEST, FORWARDS, RESERVED].find((s) => file.endsWith(s));
      if (suffix === undefined) continue;
      const name = file.slice(0, -suffix.length);
      // Taken in one step, renamed aside, then read: one the lab took back (gave up on) is not there to
      // take, and one it wrote since in its place waits for the next round, never removed unread.
      const taken = `${labDir}/${file}.taken`;
      try {
        Deno.renameSync(`${labDir}/${file}`, taken);
      } catch {
        continue; // taken back by the lab meanwhile
      }
      if (suffix === RESERVED) {
        // The lab's word, but checked as any file (bounded, then a list of IPv4 numbers, else said).
        const slirp = this.#parts.find((p) => p.name === name)?.slirp;
        if (slirp !== undefined) {
          takeReserved(taken, name, (addrs) => slirp.stack.dhcp.reserve(addrs), this.#say);
        }
        removeIfThere(taken);
        continue;
      }
      const read = readRequestFile(taken);
      removeIfThere(taken);
      if ("error" in read) continue; // not the lab's (it writes JSON, and little): nothing to answer
      const asked = read.json;
      if (suffix === FORWARDS) {
        await answerForwards(labDir, name, asked, this.#parts.find((p) => p.name === name)?.slirp, this.#say);
        continue;
      }
      const { generation, node } = (asked ?? {}) as { generation?: unknown; node?: unknown };
      // No generation, no place to answer: not the lab's request, and nothing is opened for it.
      if (!isGeneration(generation)) continue;
      try {
        await this.#openAsked(labDir, name, generation, node);
      } catch (err) {
        try {
          writeWhole(refusalFile(labDir, name, generation), `${(err as Error).message}\n`);
        } catch { /* the lab is gone */ }
      }
    }
  }

  /**
   * Opens node `name` the lab asked for in request `generation`, by its settings `asked` (checked as the lab
   * file's), and plugs it in.
   */
  async #openAsked(labDir: string, name: string, generation: number, asked: unknown): Promise<void> {
    const node = checkedRequest(this.#lab, name, asked, this.#baseDir);
    // The lab asks only for a node it does not have: one of that name here is one it removed without
    // waiting for its close here (that wait's bound passed). It goes first; the new one binds its ports once free.
    for (const part of this.#parts.filter((p) => p.name === name)) this.#drop(part);
    await this.#releasing;
    const part = await this.#open(node);
    await this.#plugIn(labDir, part, generation);
  }

  /** Closes every node and its connection to the lab. */
  close(): void {
    this.#closed = true;
    this.#unwatch();
    this.#counters?.close();
    for (const part of this.#parts) {
      part.unjoin();
      part.inside?.close("vde up --rootless ends");
      part.letGo();
      part.close();
    }
  }
}

/**
 * The page relay's bounds: a browser opens a few connections, a poll of the
 * page one; more than 64 in all, or 32 from one address, are closed as they
 * come, so nobody on the network can make this process hold an fd pair per
 * connection without end; the request and idle bounds are every --http
 * server's (conn_guard.ts).
 */
export const RELAY_LIMITS: Readonly<ConnLimits> = { ...DEFAULT_LIMITS, maxConnections: 64, maxPerPeer: 32 };

/** The page relay: the page's address here, the connections it passes on now. */
export interface PageRelay {
  readonly url: string;
  readonly connections: number;
  close(): void;
}

/**
 * In the process outside: listens on `address` of the machine and passes
 * each connection to the lab's page on unix socket `path`, both ways,
 * within `limits` (guarded_server.ts). Once the page has closed a connection, the
 * relay lets go of it even while the browser keeps its side open.
 *
 * @throws Deno's error when it cannot listen (the caller says it in one line)
 */
export function relayPage(address: HttpAddress, path: string, limits: ConnLimits = RELAY_LIMITS): PageRelay {
  const relay = relayGuarded("vde up", address, path, limits);
  return {
    url: httpUrl(relay.addr),
    get connections() {
      return relay.open;
    },
    close: () => relay.close(),
  };
}
