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
 * node's removal), and its slirp or cable with it. The process outside
 * opens only the nodes of the file it started with, so a slirp or cable
 * added to the running lab (the shell's `add`, `vde up --apply`) or a
 * slirp's forwards changed are refused, in one line that says to bring the
 * lab up again with them: run in the lab's process instead, the node would
 * reach nothing but the namespace's own loopback.
 */
import { StreamLink } from "../link/stream_link.ts";
import type { Link } from "../link/link.ts";
import { isSocket } from "../os/paths.ts";
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

/** Why a rootless lab's slirp and cable nodes cannot be added or changed while it runs. */
export const OUTSIDE_AT_START =
  "a rootless lab's slirp and cable nodes run outside its namespaces, on the machine's network, " +
  "opened by vde up --rootless at the start";

/** What the refusal of such a change tells the user to do instead. */
const UP_AGAIN = "put it in the lab's file and bring the lab up again with it: vde up -c --rootless FILE";

/**
 * What of `c` a rootless lab cannot do live: add a slirp or cable node, or
 * change a slirp's forwards (apply.ts refuses the whole file before any step).
 */
export function notLiveOutside(c: LabChanges): NotLive[] {
  const added = c.addedNodes.filter((n) => n.kind === "slirp" || n.kind === "cable")
    .map((n) => ({ line: `${n.kind} ${n.name}: added`, why: OUTSIDE_AT_START }));
  const changed = c.renoded.filter((n) => n.running.kind === "slirp" || n.running.kind === "cable")
    .map((n) => ({
      line: `${n.running.kind} ${n.running.name}: ${n.settings.join(", ")}`,
      why: OUTSIDE_AT_START,
    }));
  return [...added, ...changed];
}

/**
 * In the lab's process: RunnerOptions.outside for a lab whose nodes `names`
 * run outside. Each is taken once: any other slirp or cable node (one added
 * to the running lab, or one of those removed and added again) is refused.
 */
export function pluggedFromOutside(
  labDir: string,
  names: Iterable<string>,
  timeoutMs = PLUG_TIMEOUT_MS,
): (node: SlirpNode | CableNode, signal?: AbortSignal) => Promise<Link | null> {
  const waiting = new Set(names);
  return async (node, signal) => {
    if (!waiting.delete(node.name)) {
      // Said after the command that named the node (the shell's `add`): the one way such a node comes.
      throw new Error(`${OUTSIDE_AT_START}; ${UP_AGAIN}`);
    }
    const path = outsideSocket(labDir, node.name);
    const listener = Deno.listen({ transport: "unix", path });
    const stop = () => {
      try {
        listener.close();
      } catch { /* closed */ }
    };
    const timer = setTimeout(stop, timeoutMs);
    signal?.addEventListener("abort", stop, { once: true });
    try {
      return streamOf(await listener.accept(), `${node.name}, outside the lab's namespaces`);
    } catch {
      signal?.throwIfAborted();
      throw new Error(
        `${node.name}: vde up --rootless did not plug it in from outside the lab's namespaces within ` +
          `${timeoutMs / 1000} s`,
      );
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", stop);
      stop();
      try {
        Deno.removeSync(path);
      } catch { /* gone */ }
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
  #closed = false;

  /**
   * Opens lab `lab`'s slirp and cable nodes (key files relative to `baseDir`); `say` logs a cable's news.
   *
   * @throws Error naming the node that could not open (all opened before it are closed)
   */
  static async open(lab: Lab, baseDir: string, say: (m: string) => void): Promise<OutsideNodes> {
    const out = new OutsideNodes();
    try {
      for (const node of lab.nodes) {
        if (node.kind === "slirp") {
          const link = await openSlirpNode(node);
          out.#add(node.name, () => link.close()).link = link;
        } else if (node.kind === "cable") {
          const part = out.#add(node.name, () => {});
          const cable = await openCableNode(node, {
            keyFile: node.key === undefined || node.key.startsWith("/") ? node.key : `${baseDir}/${node.key}`,
            localName: `${lab.name}/${node.name}`,
            say,
            onSession: (session) => {
              // One cable per node: a new session replaces the one before.
              part.link?.close("replaced by a new cable session");
              out.#use(part, session);
              return 0;
            },
          });
          part.close = () => cable.close();
          if (cable.client !== undefined) out.#use(part, cable.client);
        }
      }
    } catch (err) {
      out.close();
      throw err;
    }
    return out;
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
   */
  async plug(labDir: string, until: Promise<unknown>): Promise<void> {
    let over = false;
    until.then(() => (over = true), () => (over = true));
    await Promise.all(this.#parts.map(async (part) => {
      const path = outsideSocket(labDir, part.name);
      while (!over && !this.#closed) {
        if (isSocket(path)) {
          try {
            const inside = streamOf(await Deno.connect({ transport: "unix", path }), `lab node ${part.name}`);
            part.inside = inside;
            if (part.link !== null) this.#use(part, part.link);
            inside.closed.then(() => {
              part.unjoin();
              part.close();
            });
            return;
          } catch { /* made, not yet listening: the next round */ }
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }));
  }

  /** Closes every node and its connection to the lab. */
  close(): void {
    this.#closed = true;
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
