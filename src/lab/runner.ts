/**
 * A running lab: brings a validated `Lab` up on vde's own parts, keeps it
 * running, changes it live (grows, shrinks, re-impairs) and takes it down.
 *
 * Theory of operation. Everything runs in this one process: each switch is
 * a `Switch` serving a vde socket directory (so QEMU and `vde_plug` can join
 * it) and a management socket, forwarding on its data-plane thread as `vde
 * switch` does unless its node says `dataplane: main`; a slirp is a
 * `SlirpLink`; a cable is a cable client or listener (in a rootless lab
 * both are the link to the `vde up` outside its namespaces, which runs
 * them: outside.ts); a host is a network namespace whose interfaces are
 * taps this process holds. Every link is a `LabWire` (an in-memory wire
 * with optional wirefilter impairments) whose ends are attached to switch
 * ports or joined to the node's link, so any link can be impaired or cut
 * live. Order: switches, slirps and cables, hosts (namespaces), links (taps
 * moved into the namespaces, each with its lab's fixed MAC address), then
 * addresses, routes, DHCP and `exec`, which wait for the switches' threads
 * to finish warming (`#forwarding`, also before a host is configured live:
 * a switch added by `add` or `apply` warms too), so a lab said to be up
 * forwards at once. That wait, as every step, ends when bring-up or the
 * change is aborted (`vde down`, a signal).
 * Every step pushes its undo; a failure halfway runs them in reverse, so
 * nothing is left behind. The undos of one node or link are kept as one
 * part, so `removeLink` and `removeNode` take that one out of a running lab
 * (its taps, ports, namespace, sockets) as `down` takes them all. Changes to
 * a running lab (the shell's `add`, `del`, `link`, `apply`, from any number
 * of consoles) run through `change`, one after another: each reads the lab
 * as the one before left it, and `down` waits for the one under way (cut
 * short: its DHCP and `exec` are stopped) before it takes the lab apart. The state
 * file is written before each namespace is made, so `vde down` can clean
 * up after a SIGKILL too. A switch's thread that dies once the lab is up
 * (Switch's onThreadFailure) is said then, in one line naming it and why;
 * `status` shows it failed, a link to it and an apply that keeps it are
 * refused saying so, and every other part of the lab runs and changes on.
 */
import { runUndos, type Undo } from "./undo_steps.ts";
import { interfaceExists } from "../../ffi/tun.ts";
import { dirOf, realPath } from "../os/paths.ts";
import { ConsoleContext } from "../console/switch/context.ts";
import { MgmtServer } from "../console/mgmt_server.ts";
import type { CommandRegistry } from "../console/registry.ts";
import { runStartupScript } from "../console/script.ts";
import { switchCommands } from "../console/switch/switch_commands.ts";
import { setSnooping } from "../console/switch/commands_mcast.ts";
import { knobOption, MCAST_KNOBS } from "../switch/mcast_knobs.ts";
import { discard, dropFrames, type Link } from "../link/link.ts";
import type { SlirpLink } from "../link/slirp_link.ts";
import { openSlirpNode } from "./slirp_node.ts";
import { leasesOnStatics, slirpStatics } from "./same_lan.ts";
import { TapLink } from "../link/tap_link.ts";
import { openCableNode } from "./cable_node.ts";
import { processStartTime } from "../os/processes.ts";
import { CaptureHub } from "../capture/hub.ts";
import { CaptureServer } from "../capture/server.ts";
import { Switch } from "../switch/switch.ts";
import { type Dataplane, envDataplane } from "../switch/dataplane.ts";
import { VdeSwitchServer } from "../vde/switch_server.ts";
import { switchNotLab } from "./switch_paths.ts";
import { resolveOwnGroup } from "../vde/permissions.ts";
import { hostMac, labDir, labsBaseDir, machineId, netnsName, tapName } from "./names.ts";
import {
  type CableNode,
  carriedVlans,
  type HostNode,
  type Impairments,
  isImpaired,
  type Lab,
  type LabLink,
  type LabNode,
  type LinkEnd,
  linkName,
  nodeOf,
  type SlirpNode,
  type SwitchNode,
} from "./spec.ts";
import {
  alreadyThere,
  labHoldingNamespace,
  type LabState,
  markRootlessLab,
  markStopping,
  readState,
  type RecordedProcess,
  removeLabFiles,
  sweepNamesCopies,
  writeState,
  writeWhole,
} from "./state.ts";
import { reservedFile } from "./outside_files.ts";
import { deleteNetns, ip, mustRun, runInNetns } from "./system.ts";
import { runsUnder } from "./process_tree.ts";
import { LabWire } from "./wire.ts";
import { adoptRunningSettings, type RcSettings } from "./rc_settings.ts";
import { restoreRoutes } from "./live_settings.ts";
import { namesEnd } from "./netem_link.ts";

/** The sysctl, in a host's namespace, that keeps an address's secondaries when it is deleted. */
const PROMOTE_SECONDARIES = "/proc/sys/net/ipv4/conf/all/promote_secondaries";
/** How long one `exec` command of a host may run before bring-up gives up on it. */
const EXEC_TIMEOUT_MS = 60_000;
/** A lease a static address took, asked again this often at most, while a rootless lab's slirp catches up. */
const LEASE_AGAIN_TRIES = 10;
const LEASE_AGAIN_RETRY_MS = 300;

/** Whether this vde's switches have spanning tree (lab files may ask for `stp`). */
export const STP_AVAILABLE = true;

/**
 * The lab's name is another `vde up`'s (running, starting or left behind):
 * nothing was made, and that lab was not touched.
 */
export class LabTaken extends Error {}

/** Settings of a running lab. */
export interface RunnerOptions {
  /** The lab file (absolute), "" when built in the shell. */
  file: string;
  /** Where relative paths in the lab file (keys, rc files) start. */
  baseDir: string;
  log?: (message: string) => void;
  /** Aborts bring-up (a signal while it runs): the step under way is cut short and all is undone. */
  signal?: AbortSignal;
  /**
   * Once this process has the lab's name (its directory made, its record written): of two `vde up` of
   * one lab at once, only the winner's runs, so only it starts the lab's log afresh.
   */
  claimed?: () => void;
  /** How long a host's `exec` command may run (60 s unless a test says less). */
  execTimeoutMs?: number;
  /** The name `vde up --name` gave over the file's: the file read again (`diff`, `apply`) keeps it. */
  name?: string;
  /** What the file's variables took from the environment (variables.ts), kept in state.json. */
  variables?: Record<string, string>;
  /**
   * The link to a slirp or cable node that another process runs (`vde up --rootless`'s, outside the lab's
   * namespaces: outside.ts), once that process has plugged it in; null for a node this process runs.
   */
  outside?: (node: SlirpNode | CableNode, signal?: AbortSignal) => Promise<OutsidePlug | null>;
  /** Changes the forwards of slirp `node` that process runs (outside.ts), all or none. */
  outsideForwards?: (node: string, was: string[], now: string[], signal?: AbortSignal) => Promise<void>;
  /** That process (`vde up --rootless`, outside), recorded in the lab's state for `vde down` (state.ts). */
  outsideProcess?: RecordedProcess;
  /** Each switch thread's code (switch_worker.ts unless a test gives a stand-in that fails). */
  switchThreadFile?: URL;
}

/** A slirp or cable node another process runs (RunnerOptions.outside), plugged into the lab. */
export interface OutsidePlug {
  link: Link;
  /** A listening cable's bound ADDR:PORT there: the port the kernel picked for `listen: 0`. */
  listening?: string;
  /**
   * Lets go of the node. `untilClosed` (a removal from the running lab): settles once that process has
   * closed it (its host ports free again), or after a bound, so a node added next on those ports (an
   * apply's rename) binds them; else (the lab's end) at once.
   */
  release(untilClosed: boolean): Promise<void>;
}

/** A switch node as it runs. */
export interface RunningSwitch {
  node: SwitchNode;
  sw: Switch;
  ctx: ConsoleContext;
  commands: CommandRegistry;
  dir: string;
  mgmtPath: string;
  /** Its rc (the path it was read from) and what it set of the lab file's settings (rc_settings.ts). */
  fromRc?: { rc: string; set: RcSettings };
}

/** A host node as it runs. */
export interface RunningHost {
  node: HostNode;
  ns: string;
  taps: Map<string, TapLink>;
  /** Addresses leased by DHCP, per interface. */
  leases: Map<string, string>;
  /** The router each lease named, per interface: the default route a host without `gateway` takes. */
  routers: Map<string, string>;
}

/** A link as it runs. */
export interface RunningLink {
  spec: LabLink;
  name: string;
  wire: LabWire;
}

/** A cable node: its link (a client, or a listener's current session) and the wire end it joins. */
interface CableEntry {
  link: Link | null;
  end?: Link;
  /** A listening node's bound address, ADDR:PORT: the port the kernel picked for `listen: 0`. */
  listening?: string;
}

/** Joins two links both ways without closing either when the other ends. */
export function join(a: Link, b: Link): () => void {
  a.onFrame = (f) => b.send(f);
  b.onFrame = (f) => a.send(f);
  return () => {
    a.onFrame = discard;
    b.onFrame = discard;
  };
}

/** A running lab. */
export class LabRunner {
  readonly lab: Lab;
  readonly dir: string;
  readonly switches = new Map<string, RunningSwitch>();
  readonly hosts = new Map<string, RunningHost>();
  readonly slirps = new Map<string, SlirpLink>();
  /** Links a cable node offers (a connecting client, or the current session of a listener). */
  readonly cables = new Map<string, CableEntry>();
  /** Slirp and cable nodes another process runs (RunnerOptions.outside): the link to each. */
  readonly outside = new Map<string, Link>();
  /** Of those, the nodes whose process ended while the lab runs: why their link ended. */
  readonly outsideLost = new Map<string, string>();
  /** Of those, the listening cables: their bound ADDR:PORT outside (OutsidePlug.listening). */
  readonly outsideListening = new Map<string, string>();
  readonly links: RunningLink[] = [];
  readonly #opts: RunnerOptions;
  readonly #undo: Undo[] = [];
  /** The undo part of each node (by name) and link, still in #undo: what removing it runs. */
  readonly #parts = new Map<string | RunningLink, Undo>();
  readonly #log: (m: string) => void;
  /** Where a switch without `dataplane:` forwards: $VDE_DATAPLANE as `vde switch` reads it, else its thread. */
  readonly #dataplane: Dataplane;
  #state: LabState;
  #down = false;
  /** The last change queued (settled, never rejected): the next one starts after it. */
  #changes: Promise<unknown> = Promise.resolve();
  /** Stops the change under way (its DHCP, `exec`) when the lab goes down. */
  #changeAbort: AbortController | undefined;
  /** Set once `down` is called: a change queued after it is refused. */
  #downing: Promise<void> | undefined;
  /** This machine, in each host interface's MAC address. */
  readonly #machine = machineId();
  /** Set while `up` runs: its slow commands (DHCP, `exec`) stop when it aborts. */
  #signal: AbortSignal | undefined;
  /** Set once `up` has brought the lab up: a switch's death is then the running lab's, said as such. */
  #running = false;
  /** The switches whose thread had ended when the change under way began (`#forwarding` leaves them out). */
  #deadBefore = new Set<Switch>();
  /** The host `exec` commands running now (their session ids), run by the change under way or `up`. */
  readonly #execs = new Set<number>();

  private constructor(lab: Lab, opts: RunnerOptions) {
    this.lab = { name: lab.name, nodes: [], links: [] };
    this.dir = labDir(lab.name);
    // A copy: `follow` changes the file the lab runs, not the caller's options.
    this.#opts = { ...opts };
    this.#log = opts.log ?? (() => {});
    // Read once, before anything is made: a value naming no data plane fails the start in one line.
    this.#dataplane = envDataplane() ?? "thread";
    this.#state = {
      name: lab.name,
      pid: Deno.pid,
      ...ownStart(),
      file: opts.file,
      ...(opts.name === undefined ? {} : { named: true }),
      ...(opts.variables === undefined ? {} : { variables: opts.variables }),
      namespaces: [],
      started: new Date().toISOString(),
      ...markRootlessLab(),
      ...(opts.outsideProcess === undefined ? {} : { outsideProcess: opts.outsideProcess }),
    };
  }

  /**
   * Brings `lab` up. On any failure, what was made is taken down again and
   * the error is rethrown.
   */
  static async up(lab: Lab, opts: RunnerOptions): Promise<LabRunner> {
    const r = new LabRunner(lab, opts);
    const signal = opts.signal;
    signal?.throwIfAborted();
    await r.#claimDir();
    r.#signal = signal;
    try {
      // In here, not in #claimDir: what it does (open the lab's log) may fail, and the claim is then undone.
      opts.claimed?.();
      for (const node of lab.nodes) {
        signal?.throwIfAborted();
        await r.addNode(node);
      }
      for (const link of lab.links) {
        signal?.throwIfAborted();
        await r.addLink(link, false);
      }
      // Up means forwarding, with no host in the lab too (a VM plugged in next).
      await r.#forwarding();
      for (const node of lab.nodes) {
        signal?.throwIfAborted();
        if (node.kind === "host") await r.configureHost(node);
      }
      signal?.throwIfAborted();
      // Again, at once: a thread that died while the hosts were configured (their DHCP, `exec`) came too
      // early for onThreadFailure's line (not yet running) and too late for the check above, and the lab
      // came up with a switch that forwards nothing, said nowhere.
      await r.#forwarding();
      r.#running = true;
    } catch (err) {
      await r.down();
      throw err;
    } finally {
      // A change made later has a signal of its own (`change`), which only `down` aborts.
      r.#signal = undefined;
    }
    return r;
  }

  /** Creates the runtime directory, refusing a lab that runs or was not taken down. */
  async #claimDir(): Promise<void> {
    const old = readState(this.lab.name);
    if (old !== undefined) throw new LabTaken(alreadyThere(this.lab.name, old));
    Deno.mkdirSync(labsBaseDir(), { recursive: true });
    try {
      // Not recursive: of two `vde up` of one lab at once, only one gets the directory.
      Deno.mkdirSync(this.dir, { mode: 0o700 });
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      throw new LabTaken(await whyDirTaken(this.lab.name, this.dir));
    }
    // The name is this process's now: a names file's copy a killed vde up of it left goes (state.ts).
    sweepNamesCopies(this.lab.name);
    writeState(this.#state);
    this.#undo.push(() => removeLabFiles(this.lab.name));
  }

  /** The lab file (absolute), "" for a lab built in the shell. */
  get file(): string {
    return this.#opts.file;
  }

  /** Where relative paths in the lab file start. */
  get baseDir(): string {
    return this.#opts.baseDir;
  }

  /** The name `vde up --name` gave the lab over its file's, if it did. */
  get givenName(): string | undefined {
    return this.#opts.name;
  }

  /**
   * Makes `file` (absolute) the lab's file, once an `apply` of it changes
   * the lab: `save`, `diff`, `apply` without a file and `vde up --apply`
   * then reach that file, as `vde status` says, and its relative rc and key
   * files start in its directory.
   *
   * @returns what makes the file before it the lab's file again
   */
  follow(file: string): () => void {
    const { file: was, baseDir } = this.#opts;
    const set = (f: string, dir: string) => {
      this.#opts.file = f;
      this.#opts.baseDir = dir;
      this.#state.file = f;
      if (!this.#down) writeState(this.#state);
    };
    if (file === was) return () => {};
    set(file, dirOf(file));
    return () => set(was, baseDir);
  }

  /**
   * Runs `fn`, a change to the running lab, once every change queued before
   * it has ended, so two consoles (or `vde up --apply` and the shell) never
   * interleave their steps: the second sees what the first made. Refused
   * once the lab is going down.
   */
  change<T>(fn: () => Promise<T>): Promise<T> {
    const goingDown = () => new Error(`lab ${this.lab.name} is going down: nothing was changed`);
    // At once, not behind the change under way, which down may be waiting for.
    if (this.#downing !== undefined) return Promise.reject(goingDown());
    const run = this.#changes.then(async () => {
      if (this.#downing !== undefined) throw goingDown();
      const abort = new AbortController();
      this.#changeAbort = abort;
      this.#signal = abort.signal;
      this.#deadBefore = new Set(
        [...this.switches.values()].filter((s) => s.sw.threadFailure !== null).map((s) => s.sw),
      );
      try {
        return await fn();
      } finally {
        // Whatever the change did, even undone halfway: a lease a static address took is leased again.
        await this.#leaseTakenAgain();
        this.#changeAbort = undefined;
        this.#signal = undefined;
        this.#deadBefore = new Set();
      }
    });
    this.#changes = run.catch(() => {});
    return run;
  }

  /**
   * Resolves once every change queued so far has ended: a command in a host
   * (`exec`) starts after the change under way, so it sees the lab as that
   * change left it, not half made. It is no change itself: a change queued
   * after it does not wait for it, since a command may run for minutes (a
   * `ping` at the shell runs until a key), and a `del` of its host ends it.
   */
  settled(): Promise<void> {
    return this.#changes.then(() => {});
  }

  /**
   * `settled()` for a console client, process `pid`: at once when that
   * client is itself run by a host's `exec` of the change under way (a lab
   * file's `vde term LAB -c 'exec h2 ...'`), which waits for the client, so
   * waiting for the change would wait for itself (until its exec's time
   * ran out). Such a command sees the lab as its change has made it so far,
   * as a line after it in a script would.
   */
  settledFor(pid: number | undefined): Promise<void> {
    if (pid !== undefined && runsUnder(pid, this.#execs)) return Promise.resolve();
    return this.settled();
  }

  /** Adds a node (at start, or live from the shell). */
  async addNode(node: LabNode): Promise<void> {
    if (this.lab.nodes.some((n) => n.name === node.name)) {
      throw new Error(`there is a node ${node.name} already`);
    }
    this.#parts.set(node.name, await this.#atomically(() => this.#startNode(node)));
    this.lab.nodes.push(node);
    this.reserveStatics();
  }

  /**
   * Tells each slirp run here the static IPv4 addresses of the hosts on its
   * LAN, which its DHCP server then never leases: called whenever the lab's
   * nodes, links or hosts' addresses change. A rootless lab's slirps run in
   * the process outside (which has the file's from its start): it is told
   * by a file it watches, and takes it a moment later.
   */
  reserveStatics(): void {
    if (this.slirps.size === 0 && this.outside.size === 0) return;
    for (const [name, addrs] of slirpStatics(this.lab.nodes, this.lab.links)) {
      this.slirps.get(name)?.stack.dhcp.reserve(addrs);
      if (!this.outside.has(name)) continue;
      try {
        writeWhole(reservedFile(this.dir, name), JSON.stringify(addrs));
      } catch { /* the lab's directory is gone: it is going down */ }
    }
  }

  /**
   * Runs one growth step; if it fails, what it made is undone at once, so a
   * failed `add` in the shell leaves the running lab as it was. What it made
   * becomes one undo, returned: the part `removeLink`/`removeNode` runs.
   */
  async #atomically(step: () => Promise<void>): Promise<Undo> {
    const mark = this.#undo.length;
    try {
      await step();
    } catch (err) {
      await this.#undoAll(this.#undo.splice(mark));
      throw err;
    }
    const made = this.#undo.splice(mark);
    const part = () => this.#undoAll(made);
    this.#undo.push(part);
    return part;
  }

  /** Runs `undos` newest first, each whatever the one before did; the failures are logged. */
  async #undoAll(undos: Undo[]): Promise<void> {
    await runUndos(undos.reverse(), (m) => this.#log(m), this.#later);
  }

  /** Takes a node's or link's part out of the running lab: runs its undo. */
  async #removePart(key: string | RunningLink): Promise<void> {
    const part = this.#parts.get(key);
    if (part === undefined) return;
    this.#parts.delete(key);
    const i = this.#undo.indexOf(part);
    if (i >= 0) this.#undo.splice(i, 1);
    await part();
  }

  /**
   * Removes a link live, as pulling its cable and throwing it away: its
   * switch ports are freed (their VLANs forgotten, as a new port's), a
   * host's interface goes with its tap (and its addresses from the host's
   * settings), a slirp or cable end is let go.
   */
  async removeLink(link: RunningLink): Promise<void> {
    const i = this.links.indexOf(link);
    if (i < 0) return;
    this.links.splice(i, 1);
    const j = this.lab.links.indexOf(link.spec);
    if (j >= 0) this.lab.links.splice(j, 1);
    await this.#removePart(link);
    for (const e of link.spec.ends) this.#dropUnusedVlans(e.node, [link.spec.vlan ?? 0, ...link.spec.trunk]);
    // The interface is gone, and so are its addresses: `save` writes none for it.
    for (const e of link.spec.ends) {
      const host = this.hosts.get(e.node);
      if (host !== undefined && e.iface !== undefined) delete host.node.addresses[e.iface];
    }
    this.reserveStatics();
  }

  /**
   * Removes a node live, its links first: a switch's sockets close, a
   * host's namespace goes with every process in it, a slirp or cable
   * stops. Returns the links it removed.
   */
  async removeNode(name: string): Promise<RunningLink[]> {
    const node = this.lab.nodes.find((n) => n.name === name);
    if (node === undefined) throw new Error(`no node ${name}`);
    const links = this.links.filter((l) => l.spec.ends.some((e) => e.node === name));
    for (const l of links) await this.removeLink(l);
    this.lab.nodes.splice(this.lab.nodes.indexOf(node), 1);
    await this.#removePart(name);
    this.reserveStatics();
    return links;
  }

  async #startNode(node: LabNode): Promise<void> {
    switch (node.kind) {
      case "switch":
        await this.#startSwitch(node);
        break;
      case "slirp":
        if (!await this.#startOutside(node)) await this.#startSlirp(node);
        break;
      case "cable":
        if (!await this.#startOutside(node)) await this.#startCable(node);
        break;
      case "host":
        await this.#startHost(node);
        break;
    }
  }

  async #startSwitch(node: SwitchNode): Promise<void> {
    const sw = new Switch({
      numPorts: node.ports,
      hub: node.hub,
      dataplane: node.dataplane ?? this.#dataplane,
      ...(this.#opts.switchThreadFile === undefined ? {} : { threadFile: this.#opts.switchThreadFile }),
      // Said when it happens, naming the switch, not when a later change trips on it; the rest runs on.
      // During bring-up, which fails for it (#forwarding), its error says it.
      onThreadFailure: () => this.#running && this.#log(this.deadSwitchLine(node.name)),
      // In the lab's log, naming the switch, with the lab's way to turn the tree on (not the CLI's --stp).
      onLoopSuspected: (w) =>
        this.#log(
          w.kind === "loop" && sw.engine.stp === null
            ? `${node.name}: ${w.seen}: loop? give it stp: true in the lab file`
            : `${node.name}: ${w.message}`,
        ),
    });
    this.#undo.push(() => void this.switches.delete(node.name));
    this.#undo.push(() => sw.close());
    for (const v of node.vlans) sw.engine.createVlan(v);
    const ctx = new ConsoleContext(sw);
    // Spanning tree turned on later (fstp/setfstp 1 at its console, the shell) gives the edges it would
    // have had from the start, as does one turned off and on again.
    ctx.onStpStart = (stp) => {
      for (const port of this.#edgePorts(node.name)) stp.setAdminEdge(port, true);
    };
    if (node.priority !== undefined) ctx.stpPriority = node.priority;
    if (node.stp) ctx.setStp(true);
    if (node.mcastSnooping) {
      setSnooping(ctx, true);
      for (const k of MCAST_KNOBS) {
        const v = node.mcastKnobs?.[k.name];
        if (v !== undefined) sw.engine.snooping?.setOption(k.field, knobOption(k, v));
      }
      if (node.mcastQuerier) sw.engine.snooping?.setQuerier(true);
    }
    const commands = switchCommands(ctx);
    let fromRc: RunningSwitch["fromRc"];
    if (node.rc !== undefined) {
      const rc = this.filePath(node.rc);
      await runStartupScript(rc, commands, (m) => this.#log(`${node.name}: ${m}`));
      const { set, said } = adoptRunningSettings(node, sw.engine);
      fromRc = { rc: realPath(rc), set };
      if (said.length > 0) {
        this.#log(
          `${node.name}: its rc set ${said.join(", ")}, which the lab file does not say: recorded as the ` +
            `node's (vde status shows it); an apply of a file that runs this rc keeps it, as vde up would`,
        );
      }
    }
    const dir = `${this.dir}/${node.name}`;
    const gid = node.group === undefined ? undefined : resolveOwnGroup(node.group, `${node.name}: group`);
    this.#openForAccess(node);
    const server = await VdeSwitchServer.start(sw, {
      dir,
      mode: node.mode,
      gid,
      log: (m) => this.#log(`${node.name}: ${m}`),
    });
    this.#undo.push(() => server.close());
    // As `vde switch` does: `vde capture` of a lab's switch directory works the same.
    const captures = CaptureServer.start(sw, new CaptureHub(sw.engine), {
      path: `${dir}/capture`,
      at: server.socketAt("capture"),
    });
    this.#undo.push(() => captures.close());
    ctx.dataSocket = { dir: server.dir, mode: server.permissions.socketMode };
    const mgmtPath = `${this.dir}/${node.name}.mgmt`;
    const mgmt = await MgmtServer.start(commands, ctx, {
      path: mgmtPath,
      mode: node.mgmtMode,
      gid,
      log: (m) => this.#log(`${node.name}: ${m}`),
    });
    this.#undo.push(() => mgmt.close());
    ctx.mgmt = { path: mgmt.path, mode: mgmt.mode };
    this.switches.set(node.name, { node, sw, ctx, commands, dir, mgmtPath, fromRc });
  }

  /**
   * Lets others through the lab's directory (0711: in, not list) once a
   * switch's `mode` or `mgmt_mode` lets its group or others in: its socket
   * directory and console are inside. What else is there stays its owner's
   * (state.json is 0600, the lab's console 0600), and a name must be known
   * to be reached. Not undone: the directory goes with the lab.
   */
  #openForAccess(node: SwitchNode): void {
    if ((((node.mode ?? 0) | (node.mgmtMode ?? 0)) & 0o077) === 0) return;
    Deno.chmodSync(this.dir, 0o711);
  }

  /** Why switch `name`'s data-plane thread ended unasked (it forwards nothing), in one line, or null while it runs. */
  switchFailure(name: string): string | null {
    return this.switches.get(name)?.sw.threadFailure ?? null;
  }

  /**
   * The one line that says switch `name` is dead, why, and what brings it back: the lab again (its
   * fds, ports and clients are the thread's, so there is no restarting it alone). During bring-up, which
   * it fails, only why. `file` is the one to bring up: the lab's, or the one an apply was given.
   */
  deadSwitchLine(name: string, file = this.file): string {
    const why = this.switchFailure(name) ?? "";
    if (!this.#running) return `${name}: its data-plane thread failed: ${why}`;
    const again = file !== ""
      ? `\`vde up -c${this.rootless ? " --rootless" : ""} ${file}\` takes the lab down and brings it up again`
      : `save the lab, then \`vde up -c FILE\` takes it down and brings it up again`;
    return `switch ${name} is dead: its data-plane thread failed (${why}), so it forwards nothing; ${again}`;
  }

  /**
   * Whether host `host` has a link already, the one being added its second or more: it may bridge them
   * (a Linux bridge, a VM's) into a loop that only spanning tree's BPDUs find, within a hello time, while an
   * edge port forwards a storm at once. So none of its ports is an edge port: this takes the edge back from
   * those its links on spanning-tree switches have (still forwarding, as any designated port; the new
   * port waits out the 3 s of silence, and a BPDU crossing the bridge makes it a backup port first).
   */
  #edgesTakenBack(host: string): boolean {
    const earlier = this.lab.links.filter((l) => l.ends.some((e) => e.node === host));
    for (const end of earlier.flatMap((l) => l.ends)) {
      if (end.port !== undefined) this.switches.get(end.node)?.sw.engine.stp?.setAdminEdge(end.port, false);
    }
    return earlier.length > 0;
  }

  /** Switch `name`'s ports an edge port suits: its links to a slirp or to a host of that one link. */
  #edgePorts(name: string): number[] {
    const linksOf = (node: string) =>
      this.lab.links.filter((l) => l.ends.some((e) => e.node === node)).length;
    const ports: number[] = [];
    for (const { ends } of this.lab.links) {
      const end = ends.find((e) => e.node === name && e.port !== undefined);
      const other = ends.find((e) => e !== end)?.node ?? "";
      const kind = nodeOf(this.lab, other)?.kind;
      if (end !== undefined && (kind === "slirp" || kind === "host" && linksOf(other) === 1)) {
        ports.push(end.port!);
      }
    }
    return ports;
  }

  /** Whether this lab's slirp and cable nodes run in another process (a rootless lab's: outside.ts). */
  get rootless(): boolean {
    return this.#opts.outside !== undefined;
  }

  /** Changes the forwards of slirp `node`, which another process runs (RunnerOptions.outsideForwards). */
  async changeOutsideForwards(node: string, was: string[], now: string[]): Promise<void> {
    if (this.#opts.outsideForwards === undefined) {
      throw new Error(`${node}: no slirp of this lab's to change`);
    }
    // Cut short by the lab's end (`vde down` while that process is stopped) rather than hold it up.
    await this.#opts.outsideForwards(node, was, now, this.#signal);
  }

  /** Takes node `node`'s link from the process that runs it (RunnerOptions.outside); false when there is none. */
  async #startOutside(node: SlirpNode | CableNode): Promise<boolean> {
    // A cable's key as this lab finds it (an applied file's directory), for a node the other process opens now.
    const asked = node.kind === "cable" && node.key !== undefined
      ? { ...node, key: this.filePath(node.key) }
      : node;
    const plug = await this.#opts.outside?.(asked, this.#signal) ?? null;
    if (plug === null) return false;
    const link = plug.link;
    let removed = false;
    this.#undo.push(async () => {
      removed = true;
      this.outside.delete(node.name);
      this.outsideLost.delete(node.name);
      this.outsideListening.delete(node.name);
      // The lab's end waits for no close outside: nothing is added next, and that process ends with the lab
      // (its nodes with it); one stopped (Ctrl-Z) would hold `vde down` up a bound per node, past its grace.
      await plug.release(!this.#down);
    });
    if (plug.listening !== undefined) this.outsideListening.set(node.name, plug.listening);
    this.outside.set(node.name, link);
    // Its process ended before the lab (a SIGKILL of that `vde up --rootless`): the lab goes on without
    // the node, and says so once, here and in its status, rather than keep a dead link as if up.
    link.closed.then((reason) => {
      if (removed) return;
      this.outsideLost.set(node.name, reason);
      this.#log(
        `${node.name}: the vde up --rootless that ran it outside the lab's namespaces is gone (${reason}): ` +
          "the node no longer reaches the machine's network; `vde up -c --rootless` brings the lab up again with it",
      );
    });
    return true;
  }

  /** Cable node `name`'s bound ADDR:PORT when it listens (the port the kernel picked for `listen: 0`). */
  cableListening(name: string): string | undefined {
    return this.cables.get(name)?.listening ?? this.outsideListening.get(name);
  }

  async #startSlirp(node: SlirpNode): Promise<void> {
    const link = await openSlirpNode(node);
    this.#undo.push(async () => {
      link.close();
      this.slirps.delete(node.name);
      // A slirp added next on its forwards' ports (the node renamed by an apply) binds them once free.
      await link.released;
    });
    this.slirps.set(node.name, link);
  }

  async #startCable(node: CableNode): Promise<void> {
    this.#undo.push(() => void this.cables.delete(node.name));
    const entry: CableEntry = { link: null };
    this.cables.set(node.name, entry);
    let port = 0;
    const cable = await openCableNode(node, {
      keyFile: node.key === undefined ? undefined : this.filePath(node.key),
      localName: `${this.lab.name}/${node.name}`,
      say: this.#log,
      onSession: (session) => {
        // One cable per node: a new session replaces the one before.
        entry.link?.close("replaced by a new cable session");
        entry.link = session;
        if (entry.end !== undefined) {
          const unjoin = join(session, entry.end);
          session.closed.then(unjoin);
          port = this.links.find((l) => l.wire.a === entry.end || l.wire.b === entry.end)?.spec.ends
            .find((e) => e.port !== undefined)?.port ?? 0;
        }
        return port;
      },
    });
    // Awaited: a cable node added next on its port (removed and added again, an apply's rename) binds it.
    this.#undo.push(() => cable.close());
    if (cable.client !== undefined) entry.link = cable.client;
    entry.listening = cable.listening;
  }

  async #startHost(node: HostNode): Promise<void> {
    const ns = netnsName(this.lab.name, node.name);
    const forget = () => {
      this.#state.namespaces = this.#state.namespaces.filter((n) => n !== ns);
      if (!this.#down) writeState(this.#state);
    };
    // Recorded before it exists, so `vde down` after a crash right after the add still finds it.
    this.#state.namespaces.push(ns);
    writeState(this.#state);
    try {
      await ip("netns", "add", ns);
    } catch (err) {
      // Not ours (left by hand, or another program's): neither the rollback nor `vde down` may delete it.
      forget();
      if (!/File exists/.test((err as Error).message)) throw err;
      const holder = labHoldingNamespace(ns, this.lab.name);
      throw new Error(
        holder !== undefined
          ? `network namespace ${ns} for host ${node.name} is lab ${holder}'s (namespaces are vde-LAB-HOST, ` +
            `and both names may hold "-"): give this lab another name (--name) or rename the host`
          : `network namespace ${ns} for host ${node.name} exists already: \`ip netns del ${ns}\` if nothing uses it`,
      );
    }
    this.#undo.push(async () => {
      await deleteNetns(ns);
      forget();
    });
    this.#undo.push(() => void this.hosts.delete(node.name));
    await ip("-n", ns, "link", "set", "lo", "up");
    // An IPv4 address deleted takes none of the others on its subnet along: by default Linux drops an
    // address's secondaries with it, so a DHCP lease that changed (the new address added beside the old)
    // lost both, and a static address removed live took a lease or another static one with it, the host
    // left with nothing the lab's state said it had. As systemd's sysctl defaults do, one is promoted.
    await mustRun(["ip", "netns", "exec", ns, "sh", "-c", `echo 1 >${PROMOTE_SECONDARIES}`]);
    this.hosts.set(node.name, { node, ns, taps: new Map(), leases: new Map(), routers: new Map() });
  }

  /**
   * Adds a link (at start, or live). `configure` applies the host ends'
   * addresses at once (live), or those of the hosts not in the set (the
   * others are configured whole later); at start they wait for every link.
   */
  async addLink(spec: LabLink, configure: boolean | ReadonlySet<string> = true): Promise<RunningLink> {
    // Before any end is made (a host's tap): a dead switch would carry nothing of it.
    const dead = spec.ends.find((e) => this.switchFailure(e.node) !== null);
    if (dead !== undefined) throw new Error(this.deadSwitchLine(dead.node));
    const name = linkName(spec);
    const wire = new LabWire(name, spec.impair);
    const running: RunningLink = { spec, name, wire };
    const part = await this.#atomically(async () => {
      this.#undo.push(() => wire.close());
      await this.#connect(spec.ends[0], wire.a, spec);
      await this.#connect(spec.ends[1], wire.b, spec);
    });
    this.#parts.set(running, part);
    this.links.push(running);
    this.lab.links.push(spec);
    // Before the host ends take their addresses: no lease is offered on one from now on, and a host
    // holding one as its lease has let it go (the change's end would, a moment after the clash).
    this.reserveStatics();
    if (this.#running) await this.#leaseTakenAgain();
    try {
      if (configure !== false) {
        for (const end of spec.ends) {
          const host = this.hosts.get(end.node);
          if (configure !== true && configure.has(end.node)) continue;
          if (host !== undefined) await this.#configureIface(host, end.iface!);
        }
      }
    } catch (err) {
      // An interface without its addresses (no DHCP lease) would pass for added: the link goes again.
      await this.removeLink(running);
      throw err;
    }
    return running;
  }

  async #connect(end: LinkEnd, wireEnd: Link, spec: LabLink): Promise<void> {
    const sw = this.switches.get(end.node);
    if (sw !== undefined) {
      const port = end.port!;
      if (sw.sw.port(port)?.endpoints.length) throw new Error(`port ${end.node}:${port} is in use`);
      // Again, in the lab's words rather than the switch's refusal: it may have died while the other end
      // was made (a host's tap).
      if (sw.sw.threadFailure !== null) throw new Error(this.deadSwitchLine(end.node));
      sw.sw.attach(wireEnd, { port });
      // Removed, the port is freed once the wire end has left it: a pulled cable's port is switched
      // on again, and a link put there later starts with a new port's VLANs.
      this.#undo.push(async () => {
        wireEnd.close("lab link removed");
        await wireEnd.closed;
        sw.sw.removePort(port);
      });
      const engine = sw.sw.engine;
      // A host or a slirp has no bridge behind it: its port is an edge port (a Linux bridge's portfast)
      // that forwards at once, where spanning tree waited 3 s of silence (a BPDU heard takes it back).
      // Not a host of two links, which may bridge them: that loop storms until a BPDU crosses it.
      const otherEnd = spec.ends.find((e) => e !== end)?.node ?? "";
      const other = nodeOf(this.lab, otherEnd)?.kind;
      if (other === "slirp" || other === "host" && !this.#edgesTakenBack(otherEnd)) {
        engine.stp?.setAdminEdge(port, true);
        // Also where spanning tree was turned on after the link was made (onStpStart set the edge).
        this.#undo.push(() => engine.stp?.setAdminEdge(port, false));
      }
      if (spec.vlan !== undefined) {
        engine.createVlan(spec.vlan);
        engine.setPortVlan(port, spec.vlan);
      }
      for (const v of spec.trunk) {
        engine.createVlan(v);
        engine.addVlanPort(v, port);
      }
      return;
    }
    const slirp = this.slirps.get(end.node);
    if (slirp !== undefined) {
      this.#undo.push(join(slirp, wireEnd));
      return;
    }
    const outside = this.outside.get(end.node);
    if (outside !== undefined) {
      const unjoin = join(outside, wireEnd);
      // Linked to nothing again, it reads on (what comes dropped): held, its process's end would go unseen.
      this.#undo.push(() => {
        unjoin();
        outside.onFrame = dropFrames;
      });
      return;
    }
    const cable = this.cables.get(end.node);
    if (cable !== undefined) {
      cable.end = wireEnd;
      this.#undo.push(() => {
        if (cable.end !== wireEnd) return;
        cable.end = undefined;
        if (cable.link !== null) cable.link.onFrame = discard;
      });
      if (cable.link !== null) this.#undo.push(join(cable.link, wireEnd));
      return;
    }
    const host = this.hosts.get(end.node);
    if (host === undefined) throw new Error(`unknown node ${end.node}`);
    const iface = end.iface!;
    const index = Number(iface.slice(3));
    const tap = tapName(this.lab.name, end.node, index);
    // An interface of that name is someone else's: opening it would join their wire.
    if (interfaceExists(tap)) {
      throw new Error(`cannot create tap ${tap} for ${end.node}:${iface}: the name is taken`);
    }
    const link = new TapLink(tap);
    this.#undo.push(() => {
      link.close();
      host.taps.delete(iface);
      host.leases.delete(iface);
      host.routers.delete(iface);
    });
    host.taps.set(iface, link);
    this.#undo.push(join(link, wireEnd));
    await ip("link", "set", tap, "netns", host.ns);
    await ip("-n", host.ns, "link", "set", tap, "name", iface);
    await ip(
      "-n",
      host.ns,
      "link",
      "set",
      iface,
      "address",
      hostMac(this.#machine, this.lab.name, end.node, iface),
    );
    if (host.node.mtu !== undefined) {
      await ip("-n", host.ns, "link", "set", iface, "mtu", String(host.node.mtu));
    }
    await ip("-n", host.ns, "link", "set", iface, "up");
  }

  /** Static addresses of one interface, once the lab's switches forward (DHCP's frames cross them). */
  async #configureIface(host: RunningHost, iface: string): Promise<void> {
    await this.#forwarding();
    for (const a of host.node.addresses[iface] ?? []) {
      if (a === "dhcp") await this.#dhcp(host, iface);
      else await ip("-n", host.ns, "addr", "add", a, "dev", iface);
    }
  }

  /**
   * Resolves once every switch of the lab forwards: a switch thread still warming holds every frame
   * (up to its 1 s wall cap on a loaded machine, switch_warmup.ts), so a host's DHCP or first ping,
   * or a ping sent as `vde up -d` returned, waited for it (0.3-0.7 s). At once for switches warmed
   * already (a live change that adds none). Rejects with the abort's reason when bring-up or the
   * change is aborted (`vde down`, a signal), rather than wait out the warm-up first; and, naming the
   * switch and why, when a switch's thread ended instead (its worker failed to load, its loop could not
   * start): the switch would forward nothing, its failure only in the log, so bring-up fails and undoes
   * what it made, as for any other step.
   */
  #forwarding(): Promise<void> {
    const signal = this.#signal;
    // A switch that died before this change began was said then, and a change elsewhere goes on without it.
    const switches = [...this.switches].filter(([, s]) => !this.#deadBefore.has(s.sw));
    const warmed = Promise.all(switches.map(([, s]) => s.sw.warmed)).then(() => {
      for (const [name, s] of switches) {
        if (s.sw.threadFailure !== null) throw new Error(this.deadSwitchLine(name));
      }
    });
    if (signal === undefined) return warmed;
    signal.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const abort = () => reject(signal.reason);
      signal.addEventListener("abort", abort, { once: true });
      warmed.then(() => resolve(), reject).finally(() => signal.removeEventListener("abort", abort));
    });
  }

  /** Addresses, routes, the gateway, DHCP and `exec`, once every link is up (at start, or a host added live). */
  async configureHost(node: HostNode): Promise<void> {
    const host = this.hosts.get(node.name)!;
    await this.#forwarding();
    for (const iface of host.taps.keys()) await this.#configureIface(host, iface);
    for (const r of node.routes) await ip("-n", host.ns, "route", "add", ...r.trim().split(/\s+/));
    if (node.gateway !== undefined) {
      // `replace`: a DHCP lease may have set a default route already, and the file's gateway wins.
      await ip(
        "-n",
        host.ns,
        ...(node.gateway.includes(":") ? ["-6"] : []),
        "route",
        "replace",
        "default",
        "via",
        node.gateway,
      );
    }
    for (const cmd of node.exec) {
      const limit = this.#opts.execTimeoutMs ?? EXEC_TIMEOUT_MS;
      let sid: number | undefined;
      const { code, output, timedOut } = await runInNetns(host.ns, cmd, limit, this.dir, this.#signal, {
        onStart: (pid) => this.#execs.add(sid = pid),
      }).finally(() => sid !== undefined && this.#execs.delete(sid));
      const lines = output.trimEnd().split("\n").filter((l) => l !== "");
      if (code !== 0) {
        // Killed for its time, its last line (a ping's reply) is no reason.
        const why = timedOut ? `killed after ${limit / 1000} s` : lines.at(-1) ?? `exit status ${code}`;
        throw new Error(`${node.name}: exec "${cmd}" failed: ${why}`);
      }
      // A file's `exec: ["ip -br addr"]` is often there to be read: say what ran and what it printed.
      this.#log(`${node.name}$ ${cmd}`);
      for (const line of lines) this.#log(`${node.name}  ${line}`);
    }
  }

  /**
   * Takes a DHCP lease on a running host's interface (its file's address
   * changed to `dhcp`), or lets it go (`false`: its address and the default
   * route it brought are deleted); between the two, the interface has no
   * address from DHCP.
   */
  async setDhcp(host: RunningHost, iface: string, on: boolean): Promise<void> {
    if (on) {
      await this.#forwarding();
      return await this.#dhcp(host, iface);
    }
    const lease = host.leases.get(iface);
    host.leases.delete(iface);
    host.routers.delete(iface);
    if (lease !== undefined) await this.#deleteLease(host, iface, lease);
  }

  /**
   * Deletes lease `lease` from `iface`, unless the host's file gives the
   * interface that address too: a static address given live on the host's
   * own lease ends the lease (the slirp reserves it), and the client asks
   * again, but the address is the file's, as a fresh `vde up` would have set.
   */
  async #deleteLease(host: RunningHost, iface: string, lease: string): Promise<void> {
    if ((host.node.addresses[iface] ?? []).includes(lease)) return;
    await ip("-n", host.ns, "addr", "del", lease, "dev", iface);
  }

  /**
   * Leases again, now, each host interface whose DHCP lease a static
   * address on its slirp's LAN took in a live change (reserveStatics ended
   * the lease in the slirp, but DHCP cannot recall an address: the client
   * would keep it beside the static host until it renews, 12 h on). The lab
   * runs the hosts' DHCP clients, so it runs this one again, and the host
   * gets the address a lab started with the static host would have given it.
   * A rootless lab's slirp takes the reservation a moment later, so a lease
   * of the same address again is asked again a little later. Never throws:
   * the change is made, and a client that got nothing is said in one line.
   */
  async #leaseTakenAgain(): Promise<void> {
    const taken = () =>
      leasesOnStatics(
        this.lab.nodes,
        this.lab.links,
        [...this.hosts.values()].flatMap((h) =>
          [...h.leases].map(([iface, lease]) => ({ host: h.node.name, iface, lease }))
        ),
      );
    for (const t of taken()) {
      const host = this.hosts.get(t.host)!;
      try {
        for (let tries = 0;; tries++) {
          // The ended lease goes first: the static host is alone on it while the client asks again.
          await this.setDhcp(host, t.iface, false);
          await this.#dhcp(host, t.iface).finally(() => restoreRoutes(host));
          const still = taken().some((o) => o.host === t.host && o.iface === t.iface);
          if (!still) break;
          if (tries === LEASE_AGAIN_TRIES) {
            throw new Error(`the slirp leased it ${t.lease.split("/")[0]} again`);
          }
          await new Promise((ok) => setTimeout(ok, LEASE_AGAIN_RETRY_MS));
        }
        const now = host.leases.get(t.iface) ?? "none";
        this.#log(
          `${t.host}: ${t.iface}'s DHCP lease ${t.lease.split("/")[0]} is a static host's address now: ` +
            `leased ${now.split("/")[0]} in its place`,
        );
      } catch (err) {
        this.#log(
          `${t.host}: ${t.iface}'s DHCP lease ${t.lease.split("/")[0]} is a static host's address now, ` +
            `so it was let go, and no other was leased: ${(err as Error).message}`,
        );
      }
    }
  }

  /** One DHCP lease with busybox udhcpc, applied by a small script. */
  async #dhcp(host: RunningHost, iface: string): Promise<void> {
    const script = `${this.dir}/udhcpc.sh`;
    Deno.writeTextFileSync(script, UDHCPC_SCRIPT, { mode: 0o755 });
    const said = await mustRun(
      [
        "ip",
        "netns",
        "exec",
        host.ns,
        "busybox",
        "udhcpc",
        "-i",
        iface,
        "-f",
        "-q",
        "-n",
        "-t",
        "5",
        "-T",
        "2",
        "-s",
        script,
      ],
      30_000,
      this.#signal,
    ).catch((err) => {
      // The usual cause, where the lab has nothing that serves leases: say it before udhcpc's words.
      const none = this.lab.nodes.some((n) => n.kind === "slirp" || n.kind === "cable")
        ? ""
        : " (the lab has no slirp to lease one: add a node of kind slirp on its LAN)";
      throw new Error(`${host.node.name}: no DHCP lease on ${iface}${none}: ${(err as Error).message}`);
    });
    // The script says the address it added: the interface may have others (static, IPv6) beside it.
    const [, lease, router] = /^lease (\S+) ?(\S*)$/m.exec(said) ?? [];
    if (lease === undefined) return;
    if (router) host.routers.set(iface, router);
    else host.routers.delete(iface);
    const old = host.leases.get(iface);
    host.leases.set(iface, lease);
    // The new one, on the same subnet its secondary, is promoted as the old goes (#startHost).
    if (old !== undefined && old !== lease) {
      await this.#deleteLease(host, iface, old).catch(() => {});
    }
  }

  /** The link called `name` (`sw1-sw2`, or with ports and interfaces as `links` shows, or one end, `h1:eth0`). */
  findLink(name: string): RunningLink | undefined {
    const exact = this.links.find((l) => l.name === name);
    if (exact !== undefined) return exact;
    // One end (`h1:eth0`): the line said for containerlab's netem on root's lab, whose far end is unseen.
    const byEnd = this.links.find((l) => namesEnd(l.spec.ends, name));
    if (byEnd !== undefined) return byEnd;
    const [x, y] = name.split("-");
    const bare = (e: LinkEnd) => e.node;
    return this.links.find((l) =>
      (bare(l.spec.ends[0]) === x && bare(l.spec.ends[1]) === y) ||
      (bare(l.spec.ends[0]) === y && bare(l.spec.ends[1]) === x)
    );
  }

  /**
   * Cuts (`up` false) or restores a link as a pulled cable would: the wire
   * drops frames, and each end that is a switch port goes down with it, as a
   * bridge port on a veth whose peer went down does. The engine then flushes
   * the port's MACs and spanning tree recomputes at once instead of waiting
   * for BPDUs to stop. The engine's calls reach the data-plane thread as a
   * console command's do. A host's tap or a slirp end only loses its frames.
   */
  setLinkUp(link: RunningLink, up: boolean): void {
    if (link.wire.up === up) return;
    link.wire.up = up;
    for (const end of link.spec.ends) {
      const sw = this.switches.get(end.node);
      if (sw === undefined || end.port === undefined) continue;
      // While the cable is out, the port stays down even if its client reconnects.
      sw.sw.setPortEnabled(end.port, up);
    }
  }

  /** Replaces a link's impairments live (an empty set takes the filter out of its path). */
  setImpairments(link: RunningLink, impair: Impairments): void {
    link.wire.impair = impair;
    link.spec.impair = link.wire.impair;
  }

  /**
   * Sets a link's VLANs live on its switch ends, as the console's `vlan/`
   * commands would: tagged VLANs it leaves first, then the untagged one
   * (`undefined`: VLAN 0, a new port's), then the tagged ones it joins.
   */
  setLinkVlans(link: RunningLink, vlan: number | undefined, trunk: readonly number[]): void {
    for (const end of link.spec.ends) {
      const engine = this.switches.get(end.node)?.sw.engine;
      if (engine === undefined || end.port === undefined) continue;
      for (const v of link.spec.trunk) if (!trunk.includes(v)) engine.delVlanPort(v, end.port);
      if (vlan !== link.spec.vlan) {
        if (vlan !== undefined) engine.createVlan(vlan);
        engine.setPortVlan(end.port, vlan ?? 0);
      }
      for (const v of trunk) {
        if (link.spec.trunk.includes(v)) continue;
        engine.createVlan(v);
        engine.addVlanPort(v, end.port);
      }
    }
    const left = [link.spec.vlan ?? 0, ...link.spec.trunk];
    link.spec.vlan = vlan;
    link.spec.trunk = [...trunk];
    for (const end of link.spec.ends) this.#dropUnusedVlans(end.node, left);
    this.reserveStatics();
  }

  /**
   * Removes those of `vlans` that switch `name` has no more use for: no link
   * of it carries them and its node does not list them, as the lab brought
   * up from its file would not have them. One a port joined at the console
   * still has stays (the engine refuses), as does VLAN 0, every port's own.
   */
  #dropUnusedVlans(name: string, vlans: number[]): void {
    const sw = this.switches.get(name);
    if (sw === undefined) return;
    const used = new Set([0, ...sw.node.vlans, ...carriedVlans(this.lab.links, name)]);
    for (const v of vlans) if (!used.has(v) && sw.sw.engine.vlanExists(v)) sw.sw.engine.removeVlan(v);
  }

  /** Whether impairments are on any link (for the links table). */
  get impaired(): boolean {
    return this.links.some((l) => isImpaired(l.wire.impair));
  }

  /** Where the lab finds file `p` of its lab file (an rc, a key): relative to that file's directory. */
  filePath(p: string): string {
    return p.startsWith("/") ? p : `${this.#opts.baseDir}/${p}`;
  }

  /**
   * Takes everything down, newest first, once the change under way (cut
   * short) has ended; safe to call twice.
   */
  down(): Promise<void> {
    this.#downing ??= this.#takeDown();
    return this.#downing;
  }

  async #takeDown(): Promise<void> {
    // Its directory is this runner's (down follows a won claim): it says the lab is going down.
    markStopping(this.dir);
    this.#changeAbort?.abort();
    await this.#changes;
    this.#down = true;
    // A part's step out of descriptors waits for the whole lab's later steps (the slirp's stop frees them).
    const later: Undo[] = [];
    this.#later = later;
    await runUndos(this.#undo.splice(0).reverse(), (m) => this.#log(m), later);
    this.#later = undefined;
    await runUndos(later, (m) => this.#log(m));
  }

  /** While the lab is taken down: where its parts' steps out of descriptors wait to run again. */
  #later: Undo[] | undefined;
}

/**
 * Applies a busybox udhcpc lease: address, router, nothing else, and says
 * the address. No flush: the interface's other addresses (static ones of
 * the file, IPv6, its link-local) are not the lease's to take.
 */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    ip addr replace "$ip/$mask" dev "$interface"
    echo "lease $ip/$mask \${router%% *}"
    if [ -n "$router" ]; then ip route replace default via "\${router%% *}" dev "$interface"; fi
    ;;
esac
exit 0
`;

/**
 * Why lab `lab`'s runtime directory `dir` is there already: another `vde up`
 * of it is starting or stopping, or it is a switch's socket directory, which
 * is not to be removed (switch_paths.ts). The loser of two `vde up` at once
 * looked for a record before the winner wrote it: the record there now says
 * how that run stands, as it would have been told a moment later.
 */
export async function whyDirTaken(lab: string, dir: string): Promise<string> {
  const now = readState(lab);
  if (now !== undefined) return alreadyThere(lab, now);
  const notLab = await switchNotLab(lab, dir);
  if (notLab !== undefined) return `${notLab}; give the lab another name`;
  return `lab ${lab} is starting or stopping (${dir} exists); if not, remove it`;
}

/** `{ pidStart }` of this process, for the lab's state (state.ts), or nothing where /proc does not say. */
function ownStart(): { pidStart?: number } {
  const start = processStartTime(Deno.pid);
  return start === null ? {} : { pidStart: start };
}
