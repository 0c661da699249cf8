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
 * `NODE.outside`, and waits for the one connection of the process outside,
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
 * node's removal), and its slirp or cable with it.
 *
 * A node added to the running lab (the shell's `add`, `vde up --apply`)
 * runs outside too: the lab listens on its socket, then writes the node's
 * settings beside it, `NODE.outside.json`, which the process outside
 * watches for; it opens the node and plugs it in as it did at the start, or
 * writes why it cannot (a forward's port taken), `NODE.outside.error`,
 * which the lab's add says. Both files are the user's, in the user's own
 * directory. A slirp's forwards changed live are refused, in one line that
 * says how to bring them up: they are open in the process outside.
 */
import { StreamLink } from "../link/stream_link.ts";
import type { Link } from "../link/link.ts";
import { isDirectory, isSocket } from "../os/paths.ts";
import type { HttpAddress } from "../web/address.ts";
import { httpUrl } from "../web/lab_server.ts";
import { openCableNode } from "./cable_node.ts";
import { join } from "./runner.ts";
import { openSlirpNode } from "./slirp_node.ts";
import type { CableNode, Lab, SlirpNode } from "./spec.ts";
import type { LabChanges, NotLive } from "./changes.ts";

/** How long the lab waits for a node's plug from outside (the process outside polls every POLL_MS). */
const PLUG_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

/** The socket in lab directory `labDir` where the lab waits for node `node` from outside. */
export function outsideSocket(labDir: string, node: string): string {
  return `${labDir}/${node}.outside`;
}

/** The socket in lab directory `labDir` where the lab's page serves the connections relayed from outside. */
export function pageSocket(labDir: string): string {
  return `${labDir}/http`;
}

function streamOf(conn: Deno.UnixConn, description: string): Link {
  return new StreamLink(description, conn, conn, {
    release: () => {
      try {
        conn.close();
      } catch { /* closed */ }
    },
  });
}

/** The file in lab directory `labDir` that asks the process outside to open node `node`, added live. */
export function requestFile(labDir: string, node: string): string {
  return `${labDir}/${node}${REQUEST}`;
}

/** The file in lab directory `labDir` where the process outside says why it could not open node `node`. */
export function refusalFile(labDir: string, node: string): string {
  return `${labDir}/${node}.outside.error`;
}

const REQUEST = ".outside.json";

/** Why a rootless lab's slirp cannot change its forwards while it runs. */
export const FORWARDS_OUTSIDE =
  "a rootless lab's slirp runs outside its namespaces, in the vde up --rootless that " +
  "opened its forwards: remove the node and add it again, or bring the lab up again (vde up -c --rootless)";

/**
 * What of `c` a rootless lab cannot do live: change a slirp's forwards
 * (apply.ts refuses the whole file before any step).
 */
export function notLiveOutside(c: LabChanges): NotLive[] {
  return c.renoded.filter((n) => n.running.kind === "slirp")
    .map((n) => ({ line: `slirp ${n.running.name}: ${n.settings.join(", ")}`, why: FORWARDS_OUTSIDE }));
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* gone */ }
}

/**
 * In the lab's process: RunnerOptions.outside for a lab whose nodes `names`
 * run outside, opened at the start. Any other slirp or cable node (one added
 * to the running lab, or one of those removed and added again) is asked for
 * by its settings (a cable's key file resolved), which the process outside
 * reads; at once refused where that process no longer runs (`outsideRuns`).
 */
export function pluggedFromOutside(
  labDir: string,
  names: Iterable<string>,
  timeoutMs = PLUG_TIMEOUT_MS,
  outsideRuns: () => boolean = () => true,
): (node: SlirpNode | CableNode, signal?: AbortSignal) => Promise<Link | null> {
  const waiting = new Set(names);
  return async (node, signal) => {
    const asked = !waiting.delete(node.name);
    if (asked && !outsideRuns()) {
      throw new Error(
        `${node.name}: the vde up --rootless that runs this lab's slirps and cables outside its namespaces is ` +
          "gone; `vde up -c --rootless FILE` brings the lab up again with the node",
      );
    }
    const path = outsideSocket(labDir, node.name);
    const listener = Deno.listen({ transport: "unix", path });
    let refused: string | undefined;
    const stop = () => {
      try {
        listener.close();
      } catch { /* closed */ }
    };
    const timer = setTimeout(stop, timeoutMs);
    signal?.addEventListener("abort", stop, { once: true });
    // Asked once the socket listens, so the process outside finds it; its refusal is looked for meanwhile.
    const refusal = asked
      ? setInterval(() => {
        try {
          refused = Deno.readTextFileSync(refusalFile(labDir, node.name)).trim();
          stop();
        } catch { /* none (yet) */ }
      }, POLL_MS)
      : undefined;
    try {
      if (asked) {
        Deno.writeTextFileSync(`${requestFile(labDir, node.name)}.tmp`, JSON.stringify(node));
        Deno.renameSync(`${requestFile(labDir, node.name)}.tmp`, requestFile(labDir, node.name));
      }
      return streamOf(await listener.accept(), `${node.name}, outside the lab's namespaces`);
    } catch {
      signal?.throwIfAborted();
      if (refused !== undefined) throw new Error(refused);
      throw new Error(
        `${node.name}: vde up --rootless did not plug it in from outside the lab's namespaces within ` +
          `${timeoutMs / 1000} s`,
      );
    } finally {
      clearTimeout(timer);
      clearInterval(refusal);
      signal?.removeEventListener("abort", stop);
      stop();
      for (const p of [path, requestFile(labDir, node.name), refusalFile(labDir, node.name)]) {
        removeQuietly(p);
      }
    }
  };
}

/** One node run outside: its slirp, cable client or listener's session, and its connection to the lab. */
interface Part {
  name: string;
  link: Link | null;
  inside: Link | null;
  unjoin: () => void;
  close: () => void;
}

/** In the process outside: the lab's slirp and cable nodes, open on the machine's network. */
export class OutsideNodes {
  readonly #parts: Part[] = [];
  readonly #lab: string;
  readonly #baseDir: string;
  readonly #say: (m: string) => void;
  #closed = false;
  #over = false;
  #unwatch = () => {};

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
      for (const node of lab.nodes) {
        if (node.kind === "slirp" || node.kind === "cable") await out.#open(node);
      }
    } catch (err) {
      out.close();
      throw err;
    }
    return out;
  }

  /** Opens node `node` on the machine's network, to be plugged in (#plugIn). */
  async #open(node: SlirpNode | CableNode): Promise<Part> {
    if (node.kind === "slirp") {
      const link = await openSlirpNode(node);
      const part = this.#add(node.name, () => link.close());
      part.link = link;
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
      if (cable.client !== undefined) this.#use(part, cable.client);
    } catch (err) {
      this.#parts.splice(this.#parts.indexOf(part), 1);
      throw err;
    }
    return part;
  }

  /** The nodes' names: the lab waits for each (pluggedFromOutside). */
  get names(): string[] {
    return this.#parts.map((p) => p.name);
  }

  #add(name: string, close: () => void): Part {
    const part: Part = { name, link: null, inside: null, unjoin: () => {}, close };
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
   * asked for (`asked`) is tried once, its socket made before the request: the lab gave up on one that is
   * not there (its add timed out), and the node is closed.
   */
  async #plugIn(labDir: string, part: Part, asked = false): Promise<void> {
    const path = outsideSocket(labDir, part.name);
    const drop = () => {
      part.unjoin();
      part.close();
      const at = this.#parts.indexOf(part);
      if (at >= 0) this.#parts.splice(at, 1);
    };
    while (!this.#over && !this.#closed) {
      if (isSocket(path)) {
        try {
          const inside = streamOf(await Deno.connect({ transport: "unix", path }), `lab node ${part.name}`);
          part.inside = inside;
          if (part.link !== null) this.#use(part, part.link);
          inside.closed.then(drop);
          return;
        } catch { /* made, not yet listening: the next round */ }
      }
      if (asked) return drop();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Watches lab directory `labDir` for nodes asked for, and opens each. */
  async #serve(labDir: string): Promise<void> {
    // A lab with no slirp or cable of its start gets here before its process has made the directory.
    while (!isDirectory(labDir)) {
      if (this.#over || this.#closed) return;
      await new Promise((r) => setTimeout(r, POLL_MS));
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
      if (event.paths.some((p) => p.endsWith(REQUEST))) queue = queue.then(() => this.#takeRequests(labDir));
    }
    this.#unwatch();
  }

  /** Opens and plugs in each node whose request is in `labDir`, or says in its refusal file why not. */
  async #takeRequests(labDir: string): Promise<void> {
    let names: string[];
    try {
      names = [...Deno.readDirSync(labDir)].filter((e) => e.isFile && e.name.endsWith(REQUEST))
        .map((e) => e.name.slice(0, -REQUEST.length));
    } catch {
      return; // the lab is gone
    }
    for (const name of names) {
      let node: SlirpNode | CableNode;
      try {
        node = JSON.parse(Deno.readTextFileSync(requestFile(labDir, name)));
        Deno.removeSync(requestFile(labDir, name));
      } catch {
        continue; // taken back by the lab meanwhile
      }
      // Only the lab's process writes here (the user's directory); a file that is not its request is left.
      if (node?.name !== name || (node.kind !== "slirp" && node.kind !== "cable")) continue;
      try {
        await this.#plugIn(labDir, await this.#open(node), true);
      } catch (err) {
        try {
          Deno.writeTextFileSync(`${refusalFile(labDir, name)}.tmp`, `${(err as Error).message}\n`);
          Deno.renameSync(`${refusalFile(labDir, name)}.tmp`, refusalFile(labDir, name));
        } catch { /* the lab gave up on it */ }
      }
    }
  }

  /** Closes every node and its connection to the lab. */
  close(): void {
    this.#closed = true;
    this.#unwatch();
    for (const part of this.#parts) {
      part.unjoin();
      part.inside?.close("vde up --rootless ends");
      part.close();
    }
  }
}

/**
 * How many connections the page relay passes on at once: a browser opens a
 * few, a poll of the page one; more are closed as they come, so nobody on
 * the network can make this process hold an fd pair per connection without
 * end.
 */
export const RELAY_MAX_CONNECTIONS = 64;

/** The page relay: the page's address here, the connections it passes on now. */
export interface PageRelay {
  readonly url: string;
  readonly connections: number;
  close(): void;
}

/**
 * In the process outside: listens on `address` of the machine and passes
 * each connection to the lab's page on unix socket `path`, both ways, at
 * most `max` at once. Either end's close is both's: once the page has
 * closed a connection, the relay lets go of it even while the browser
 * keeps its side open. (A browser's half-close ends it too, as it does a
 * root lab's page: Deno's server answers no half-closed request.)
 *
 * @throws Deno's error when it cannot listen (the caller says it in one line)
 */
export function relayPage(address: HttpAddress, path: string, max = RELAY_MAX_CONNECTIONS): PageRelay {
  const listener = Deno.listen({ hostname: address.hostname, port: address.port });
  const open = new Set<() => void>();
  const relay = async (conn: Deno.Conn) => {
    if (open.size >= max) return void closeQuietly(conn);
    let page: Deno.UnixConn | undefined;
    const end = () => {
      closeQuietly(conn);
      if (page !== undefined) closeQuietly(page);
    };
    open.add(end);
    try {
      page = await Deno.connect({ transport: "unix", path });
      conn.readable.pipeTo(page.writable).catch(end);
      await page.readable.pipeTo(conn.writable);
    } catch {
      /* the lab is not serving (yet, or any more), or either end went: the browser sees the connection end */
    } finally {
      open.delete(end);
      end();
    }
  };
  (async () => {
    for await (const conn of listener) relay(conn);
  })().catch(() => {});
  return {
    url: httpUrl(listener.addr),
    get connections() {
      return open.size;
    },
    close: () => {
      closeQuietly(listener);
      for (const end of open) end();
    },
  };
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* closed */ }
}
