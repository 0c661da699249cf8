/**
 * vdeplug4's network nodes: `hub://PATH`, `switch://PATH`, `multi://PATH`
 * and `bonding://PATH`, each `[mode=M/dirmode=D/grp=G]` (switch:// also
 * `hashsize=N/expiretime=S/hashseed=N`), PATH by default
 * /tmp/vdenode_$USER.
 *
 * Theory of operation. The process that opens the VNL serves a switch's
 * socket directory at PATH in-process (vde/switch_server.ts: ctl, one data
 * socket per client, the same permissions and private bindings as `vde
 * switch -s PATH`), so any VDE client (vde_plug, QEMU, `vde plug`) joins
 * it with `vde://PATH` or `PATH`. The link returned is the node's host
 * port: what it is sent enters the node from the host, what the node
 * forwards to the host comes out of it. Where frames go is the node's
 * kind's rule (switch/netnode.ts), the same as libvdeplug_netnode.c. The
 * clients' sockets are read on the main thread, as a `vde switch
 * --dataplane main` port's are. Closing the link (the plug's end, a
 * signal) closes every client and removes PATH's sockets and PATH.
 */
import { BaseLink, type Link } from "./link.ts";
import { type OpenOptions, registerScheme } from "./registry.ts";
import { unknownOption } from "./vnl_params.ts";
import { HOST_PORT, NetNode, NODE_KINDS, type NodeKind } from "../switch/netnode.ts";
import { type AttachRequest, type Endpoint, PortRefused } from "../switch/switch.ts";
import { type PortHost, VdeSwitchServer } from "../vde/switch_server.ts";
import { parseOctalMode, resolveOwnGroup } from "../vde/permissions.ts";
import { log } from "../log.ts";
import { defaultNodePath } from "./node_path.ts";

/** vdeplug4's keys, in its order (an abbreviation is the first key it begins). */
const KEYS = ["mode", "dirmode", "grp", "hashsize", "hashseed", "expiretime"] as const;
/** The keys only switch:// uses; vdeplug4's other nodes take them and do nothing with them. */
const TABLE_KEYS: readonly string[] = ["hashsize", "hashseed", "expiretime"];

/** Most clients a node takes at once (vdeplug4 has no bound; each costs two fds). */
export const MAX_NODE_CLIENTS = 1024;

/** A parsed node VNL. */
export interface NodeVnl {
  kind: NodeKind;
  /** The socket directory; the default one when the VNL gives none. */
  path: string;
  /** mode=, execute bits cleared (vdeplug4's). */
  mode?: number;
  dirMode?: number;
  /** grp=, as given. */
  group?: string;
  maxEntries?: number;
  expireSeconds?: number;
  hashSeed?: number;
  /** Keys given that this kind does nothing with (said once at open). */
  ignored: string[];
}

export { defaultNodePath } from "./node_path.ts";

/**
 * Parses the part of a node VNL after `kind://`.
 *
 * @throws Error with one line for an unknown key or a bad value
 */
export function parseNodeVnl(kind: NodeKind, rest: string): NodeVnl {
  const open = rest.indexOf("[");
  const path = open < 0 ? rest : rest.slice(0, open);
  const out: NodeVnl = { kind, path: path === "" ? defaultNodePath() : path, ignored: [] };
  if (open < 0) return out;
  const close = rest.lastIndexOf("]");
  if (close < open) throw new Error(`missing "]" in ${kind}:// VNL: ${rest}`);
  for (const opt of rest.slice(open + 1, close).split("/")) {
    if (opt === "") continue;
    const eq = opt.indexOf("=");
    const name = eq < 0 ? opt : opt.slice(0, eq);
    const key = KEYS.find((k) => k.startsWith(name));
    if (key === undefined) throw unknownOption(kind, name, KEYS);
    const value = eq < 0 ? "" : opt.slice(eq + 1);
    const what = `${kind}:// ${key}=`;
    if (TABLE_KEYS.includes(key) && kind !== "switch") {
      out.ignored.push(key);
      continue;
    }
    switch (key) {
      case "mode":
        out.mode = parseOctalMode(value, what) & ~0o111;
        break;
      case "dirmode":
        out.dirMode = parseOctalMode(value, what);
        break;
      case "grp":
        if (value === "") throw new Error(`${what} needs a group name or number`);
        out.group = value;
        break;
      case "hashsize":
        out.maxEntries = whole(value, what, 1, 1 << 24);
        break;
      case "hashseed":
        out.hashSeed = whole(value, what, 0, 0xffffffff);
        break;
      case "expiretime":
        out.expireSeconds = whole(value, what, 1, 1 << 30);
        break;
    }
  }
  return out;
}

function whole(value: string, what: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    throw new Error(`${what} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/**
 * The node's ports as the switch server sees them: numbered from 1 as
 * clients come, each client its own port (vdeplug4 reads no port request,
 * and has no management port 0).
 */
class NodePorts implements PortHost {
  readonly threaded = false;
  readonly #node: NetNode;
  readonly #links = new Map<number, Link>();
  readonly #clock: () => number;
  #nextId = 1;
  #closed = false;

  constructor(node: NetNode, clock: () => number) {
    this.#node = node;
    this.#clock = clock;
  }

  choosePort(req: AttachRequest): number {
    if (this.#closed) throw new PortRefused(`the ${this.#node.kind}:// node is shutting down`);
    if (req.port === 0) throw new PortRefused(`a ${this.#node.kind}:// node has no management port 0`);
    for (let p = 1; p <= MAX_NODE_CLIENTS; p++) if (!this.#links.has(p)) return p;
    throw new PortRefused(`the ${this.#node.kind}:// node has its ${MAX_NODE_CLIENTS} clients already`);
  }

  attach(link: Link, req: AttachRequest = {}): Endpoint {
    const port = req.port !== undefined && req.port > 0 && !this.#links.has(req.port)
      ? req.port
      : this.choosePort({});
    this.#links.set(port, link);
    this.#node.join(port);
    const node = this.#node;
    const clock = this.#clock;
    link.onFrame = (frame) => node.input(port, frame, clock());
    link.closed.then(() => {
      if (this.#links.get(port) !== link) return;
      this.#links.delete(port);
      node.leave(port);
    });
    return { id: this.#nextId++, link, uid: req.uid ?? -1, since: Date.now() };
  }

  forwarding(_ep: Endpoint): Promise<void> {
    return Promise.resolve();
  }

  /** Sends a frame the node forwards out of `port` (a client's). */
  send(port: number, frame: Uint8Array): void {
    this.#links.get(port)?.send(frame);
  }

  close(): void {
    this.#closed = true;
  }
}

/** The host's end of a node: a Link whose far side is the node's other ports. */
export class NodeLink extends BaseLink {
  readonly kind = "node" as const;
  readonly node: NetNode;
  readonly server: VdeSwitchServer;
  readonly #ports: NodePorts;
  readonly #clock: () => number;

  private constructor(node: NetNode, ports: NodePorts, server: VdeSwitchServer, clock: () => number) {
    super(`${node.kind}://${server.dir}`);
    this.node = node;
    this.#ports = ports;
    this.server = server;
    this.#clock = clock;
  }

  /** Starts the node a VNL describes and serves its socket directory. */
  static async open(vnl: NodeVnl, options: OpenOptions = {}): Promise<NodeLink> {
    const gid = vnl.group === undefined ? undefined : resolveOwnGroup(vnl.group, `${vnl.kind}:// grp=`);
    const clock = () => performance.now() / 1000;
    let self: NodeLink | null = null;
    const node = new NetNode(vnl.kind, (port, frame) => {
      if (port === HOST_PORT) self?.receive(frame);
      else ports.send(port, frame);
    }, { maxEntries: vnl.maxEntries, expireSeconds: vnl.expireSeconds, hashSeed: vnl.hashSeed });
    const ports = new NodePorts(node, clock);
    const scheme = `${vnl.kind}://`;
    const server = await VdeSwitchServer.start(ports, {
      dir: vnl.path,
      mode: vnl.mode,
      dirMode: vnl.dirMode,
      gid,
      log: (m) => log(scheme, m),
      dirOption: `${scheme}DIR`,
      ownDirectoryOnly: true,
    });
    if (vnl.ignored.length > 0) {
      log(scheme, `${vnl.ignored.map((k) => `${k}=`).join(", ")} ignored: only switch:// has a MAC table`);
    }
    self = new NodeLink(node, ports, server, clock);
    if (options.signal?.aborted) self.close("stopped by a signal");
    return self;
  }

  /** A frame the node forwards to the host. */
  receive(frame: Uint8Array): void {
    this.deliver(frame);
  }

  /** Implements Link.send: the frame enters the node from the host. */
  send(frame: Uint8Array): void {
    if (!this.countOut(frame)) return;
    this.node.input(HOST_PORT, frame, this.#clock());
  }

  protected teardown(): void {
    this.#ports.close();
    this.server.close();
  }
}

for (const kind of NODE_KINDS) {
  registerScheme(kind, (rest, options) => NodeLink.open(parseNodeVnl(kind, rest), options));
}
