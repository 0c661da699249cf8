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
 * which the lab's add says. A slirp's forwards changed live go the same
 * way: `NODE.forwards.json` (before and after), answered in
 * `NODE.forwards.done` (empty, or why not), the change made there all or
 * none as the lab's own slirp's would be. The files are the user's, in the
 * user's own directory; the process outside takes a request as the lab's
 * only when it names a slirp or cable, and answers one it cannot take.
 * Where the process outside is gone (a SIGKILL), the lab refuses both at
 * once rather than wait for an answer, and as soon as it goes while the
 * lab waits for one. A refusal left from an add the lab gave up on (the
 * answer came late) is removed before the node is asked for again.
 */
import { StreamLink } from "../link/stream_link.ts";
import type { Link } from "../link/link.ts";
import { isDirectory, isSocket } from "../os/paths.ts";
import type { HttpAddress } from "../web/address.ts";
import { httpUrl } from "../web/lab_server.ts";
import { openCableNode } from "./cable_node.ts";
import { join } from "./runner.ts";
import { openSlirpNode } from "./slirp_node.ts";
import { changeForwards } from "./live_settings.ts";
import type { SlirpLink } from "../link/slirp_link.ts";
import type { CableNode, Lab, SlirpNode } from "./spec.ts";
import { writeWhole } from "./state.ts";

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

/** The file in lab directory `labDir` that asks the process outside to change slirp `node`'s forwards. */
export function forwardsFile(labDir: string, node: string): string {
  return `${labDir}/${node}${FORWARDS}`;
}

/** The file where the process outside answers it: empty once done, else why not. */
export function forwardsDoneFile(labDir: string, node: string): string {
  return `${labDir}/${node}.forwards.done`;
}

const REQUEST = ".outside.json";
const FORWARDS = ".forwards.json";

/** What the lab says to a change of node `node` once the process outside is gone (a SIGKILL). */
function outsideGone(node: string): Error {
  return new Error(
    `${node}: the vde up --rootless that runs this lab's slirps and cables outside its namespaces is gone; ` +
      "`vde up -c --rootless FILE` brings the lab up again with the node",
  );
}

/** How long the lab waits for the process outside to change a slirp's forwards (it takes milliseconds). */
const FORWARDS_TIMEOUT_MS = 10_000;

/**
 * In the lab's process: RunnerOptions.outsideForwards for a lab in
 * directory `labDir`: asks the process outside to change slirp `node`'s
 * forwards from `was` to `now` (all or none, as the lab's own slirp would)
 * and waits for its answer; at once refused where that process no longer
 * runs (`outsideRuns`).
 *
 * @throws Error with the reason from outside (a host port taken), or that no answer came
 */
export function forwardsFromOutside(
  labDir: string,
  timeoutMs = FORWARDS_TIMEOUT_MS,
  outsideRuns: () => boolean = () => true,
): (node: string, was: string[], now: string[]) => Promise<void> {
  return async (node, was, now) => {
    if (!outsideRuns()) throw outsideGone(node);
    const done = forwardsDoneFile(labDir, node);
    removeQuietly(done);
    writeWhole(forwardsFile(labDir, node), JSON.stringify({ was, now }));
    const deadline = Date.now() + timeoutMs;
    try {
      while (Date.now() < deadline) {
        let answer: string | undefined;
        try {
          answer = Deno.readTextFileSync(done).trim();
        } catch { /* not yet */ }
        if (answer === "") return;
        if (answer !== undefined) throw new Error(answer);
        // Gone meanwhile (a SIGKILL): no answer will come.
        if (!outsideRuns()) throw outsideGone(node);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      throw new Error(
        `${node}: vde up --rootless, which runs it outside the lab's namespaces, did not change its forwards ` +
          `within ${timeoutMs / 1000} s`,
      );
    } finally {
      removeQuietly(forwardsFile(labDir, node));
      removeQuietly(done);
    }
  };
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
    if (asked && !outsideRuns()) throw outsideGone(node.name);
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
    // Asked once the socket listens, so the process outside finds it; its refusal is looked for meanwhile,
    // and its end (a SIGKILL while it opens the node), after which no answer comes.
    const refusal = asked
      ? setInterval(() => {
        try {
          refused = Deno.readTextFileSync(refusalFile(labDir, node.name)).trim();
          stop();
        } catch {
          if (!outsideRuns()) {
            refused = outsideGone(node.name).message;
            stop();
          }
        }
      }, POLL_MS)
      : undefined;
    try {
      if (asked) {
        // One left from an add the lab gave up on, answered after it had: not this add's.
        removeQuietly(refusalFile(labDir, node.name));
        writeWhole(requestFile(labDir, node.name), JSON.stringify(node));
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

/**
 * How long an add whose port is in use waits for the lab's removal just before it to reach this process
 * (the end of the removed node's connection), which frees the port: a read away.
 */
const RELEASE_WAIT_MS = 2000;

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
  /** How many nodes #drop took, and what settles at the next. */
  #drops = 0;
  #dropped = Promise.withResolvers<void>();
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

  #add(name: string, close: () => void | Promise<void>): Part {
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
    const drop = () => this.#drop(part);
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

  /** Closes node `part`, once the lab let go of it (or never took it), and forgets it. */
  #drop(part: Part): void {
    const at = this.#parts.indexOf(part);
    if (at < 0) return;
    this.#parts.splice(at, 1);
    part.unjoin();
    part.inside?.close("lab node removed");
    this.#releasing = Promise.all([this.#releasing, part.close()]);
    this.#drops++;
    this.#dropped.resolve();
    this.#dropped = Promise.withResolvers<void>();
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
      if (event.paths.some((p) => p.endsWith(REQUEST) || p.endsWith(FORWARDS))) {
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
      const suffix = [REQUEST, FORWARDS].find((s) => file.endsWith(s));
      if (suffix === undefined) continue;
      const name = file.slice(0, -suffix.length);
      let asked: unknown;
      try {
        asked = JSON.parse(Deno.readTextFileSync(`${labDir}/${file}`));
        Deno.removeSync(`${labDir}/${file}`);
      } catch {
        continue; // taken back by the lab meanwhile
      }
      const answer = suffix === REQUEST ? refusalFile(labDir, name) : forwardsDoneFile(labDir, name);
      let said: string | undefined;
      try {
        if (suffix === REQUEST) await this.#openAsked(labDir, name, asked);
        else await this.#changeForwards(name, asked);
        if (suffix === FORWARDS) said = "";
      } catch (err) {
        said = `${(err as Error).message}\n`;
      }
      try {
        if (said !== undefined) writeWhole(answer, said);
      } catch { /* the lab gave up on it */ }
    }
  }

  /** Opens node `name` the lab asked for, by its settings `asked`, and plugs it in. */
  async #openAsked(labDir: string, name: string, asked: unknown): Promise<void> {
    const node = asked as SlirpNode | CableNode;
    // Only the lab's process writes here (the user's own directory); anything else is no node.
    if (node?.name !== name || (node.kind !== "slirp" && node.kind !== "cable")) {
      throw new Error(`${name}: no slirp or cable node asked for`);
    }
    // The lab asks only for a node it does not have: one of that name here is the one it just removed,
    // whose end this process has not read yet. It goes first, and the new one binds its ports once free.
    for (const part of this.#parts.filter((p) => p.name === name)) this.#drop(part);
    await this.#releasing;
    let part: Part;
    const drops = this.#drops;
    try {
      part = await this.#open(node);
    } catch (err) {
      // A port still held by a node the lab removed just before under another name (an apply's rename),
      // whose end this process had not read yet when the request came: once more, after that one's drop.
      if (!/in use/i.test((err as Error).message) || this.#parts.length + this.#drops - drops === 0) {
        throw err;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waited = this.#drops !== drops || await Promise.race([
        this.#dropped.promise.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), RELEASE_WAIT_MS))),
      ]);
      clearTimeout(timer);
      if (!waited) throw err;
      await this.#releasing;
      part = await this.#open(node);
    }
    await this.#plugIn(labDir, part, true);
  }

  /** Changes slirp `name`'s forwards as `asked` says (`{ was, now }`), all or none. */
  async #changeForwards(name: string, asked: unknown): Promise<void> {
    const { was, now } = (asked ?? {}) as { was?: unknown; now?: unknown };
    const slirp = this.#parts.find((p) => p.name === name)?.slirp;
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((f) => typeof f === "string");
    if (slirp === undefined || !strings(was) || !strings(now)) {
      throw new Error(`${name}: no slirp here to change`);
    }
    await changeForwards(name, slirp, was, now);
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
