/**
 * A switch: the forwarding engine plus the Links plugged into its ports.
 *
 * The engine decides where a frame goes; this class only maps ports to the
 * Links (endpoints) that hold them and keeps port allocation the way
 * vde_switch does (spec 1.5): port 0 is reserved for management clients, an
 * automatic request takes the lowest free allocatable port from 1, a port
 * can hold several endpoints of the same user, and a port whose last
 * endpoint leaves becomes inactive but stays allocated with its settings.
 * A port switched off (`setPortEnabled`: the web toggle, a lab cable
 * pulled) keeps its endpoints but stays inactive, whoever joins, until
 * switched on again or freed.
 *
 * With `dataplane: "thread"` the frames do not pass here: a SwitchThread
 * (dataplane/switch_thread.ts) forwards them on a Worker with its own copy
 * of the engine. `engine` is then the control copy: commands are checked
 * and applied on it as always and each change is sent, in order, to the
 * thread's copy (`mirrorEngine`); its MAC table and counters (per port and switch-wide) are views of
 * the thread's, in shared memory. A link that can lend its fd (a vde
 * client's socket, a tap) is read and written by the thread; the others
 * stay here and cross through the thread's rings, and so do the copies a
 * capture takes, the BPDUs for the spanning tree machine (which runs here,
 * in the control copy) and the IGMP/MLD frames for the copy of the snooping
 * machine that the console lists (the thread's own decides). Those copies
 * are read late, after a port's client may have changed: each change of a
 * port's clients is sent as a mark that the thread puts among the copies
 * where it applied it, and `observedClient` (what a capture names a port's
 * frames after) moves on only when the copies reach that mark.
 */
import {
  Direction,
  type EngineEvent,
  type EngineOptions,
  sharedEngineState,
  SwitchEngine,
  type VlanDropNote,
} from "./engine.ts";
import { vlanDropLine } from "./vlan_drop_notes.ts";
import { type Link, logOfKind, runtLine } from "../link/link.ts";
import type { Dataplane } from "./dataplane.ts";
import { isGroupMember } from "../os/users.ts";
import type { FdLender } from "../dataplane/plug_thread.ts";
import { mirrorEngine, SwitchThread } from "../dataplane/switch_thread.ts";
import { log } from "../log.ts";
import { tapReadEnded } from "../link/tap_ended.ts";
import { oversizeLine } from "../link/oversize_line.ts";

/** The reason every link of a switch that stops is closed with. */
export const SHUTTING_DOWN = "the switch is shutting down";

/** Why a port request was refused; the message is one line for the log. */
export class PortRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PortRefused";
  }
}

/** What a client asks for when it plugs into the switch. */
export interface AttachRequest {
  /** A port number, or undefined for the lowest free one; 0 is the management port. */
  port?: number;
  /** Owner uid of the endpoint (-1 when unknown); a port holds endpoints of one user. */
  uid?: number;
  /** The client's own gid (its process's, from the ctl connection), counted for port/setgroup. */
  gid?: number;
}

/** An endpoint on a port: the link and when it arrived. */
export interface Endpoint {
  id: number;
  link: Link;
  uid: number;
  since: number;
}

/** State of one allocated port. */
export interface PortState {
  endpoints: Endpoint[];
  /** Owner of the current endpoints (-1 for none/unknown). */
  uid: number;
  /** Taken by automatic requests when inactive (false after port/create). */
  allocatable: boolean;
  /** Only this uid (and root) may plug in; -1 for anyone (port/setuser). */
  accessUser: number;
  /** Only members of this gid (and root) may plug in; -1 for anyone (port/setgroup). */
  accessGroup: number;
}

/** An engine event, or an endpoint joining or leaving a port. */
export type SwitchEvent =
  | EngineEvent
  | { type: "endpoint-added"; port: number; endpoint: Endpoint }
  | { type: "endpoint-removed"; port: number; endpoint: Endpoint };

/** A port's clients as a capture names them: the newest one's endpoint id (-1: none) and all their descriptions. */
export interface ObservedClient {
  id: number;
  description: string;
}

/** Receives switch events; see `Switch.addListener`. */
export type SwitchListener = (event: SwitchEvent) => void;

/** Options of a switch: the engine's, and where frames are forwarded. */
export interface SwitchOptions extends EngineOptions {
  /**
   * "thread": a data-plane Worker forwards (see the module comment); default "main", so a library
   * user keeps synchronous forwarding through `engine` and a process that exits without `close()`.
   */
  dataplane?: Dataplane;
  /** The data-plane thread's code (switch_worker.ts unless a test gives a stand-in that fails). */
  threadFile?: URL;
  /**
   * Told, once, when the data-plane thread ends unasked (it failed to load, its loop could not start or
   * threw long after it warmed), with why: the switch forwards nothing from then on. Default: one log line.
   */
  onThreadFailure?: (why: string) => void;
}

/** An endpoint whose fd the switch thread reads and writes. */
interface LentEndpoint {
  /** The fd, once lent; -1 until then. */
  fd: number;
  /** Set when the endpoint left before its fd was lent. */
  left: boolean;
  /** Lets the link close its fd. */
  release: () => void;
  /** Resolves once the fd is posted to the thread (or the endpoint left first). */
  posted: Promise<unknown>;
}

/** A virtual Ethernet switch whose ports hold Links. */
export class Switch {
  readonly engine: SwitchEngine;
  /** When the switch was made, in ms since the epoch: its counters count from then. */
  readonly startedAt: number = Date.now();
  readonly #ports: (PortState | undefined)[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #agingTimer: ReturnType<typeof setTimeout> | undefined;
  #nextEndpointId = 1;
  #closed = false;
  readonly #listeners = new Set<SwitchListener>();
  readonly #ownOnEvent: ((event: EngineEvent) => void) | undefined;
  /** The data-plane thread, with `dataplane: "thread"`. */
  readonly #thread: SwitchThread | null = null;
  /** Endpoints whose fds the thread holds. */
  readonly #lent = new Map<Endpoint, LentEndpoint>();
  /** Numbers the frames the thread's observer saw. */
  #observedSeq = 0;
  /** Per port, endpoints that stay on this thread (their frames cross the rings). */
  readonly #remote = new Map<number, number>();
  /** Per port, its clients as of the frames observed now (`observedClient`). */
  readonly #observedClients: (ObservedClient | undefined)[] = [];
  /** Client changes posted to the thread as marks, by mark number, until the mark comes back. */
  readonly #marks = new Map<number, { port: number; client: ObservedClient }>();
  #nextMark = 1;
  /** Ports switched off by `setPortEnabled`: a client joining or a lent fd arriving leaves them down. */
  readonly #switchedOff = new Set<number>();

  constructor(options: SwitchOptions = {}) {
    this.#ownOnEvent = options.onEvent;
    // A random hash seed, so nobody can aim colliding MACs at a known hash.
    const hashSeed = options.hashSeed ?? crypto.getRandomValues(new Uint32Array(1))[0]!;
    const {
      dataplane,
      threadFile,
      onThreadFailure,
      onEvent: _onEvent,
      onLoopSuspected,
      shared: _shared,
      control: _control,
      ...engineOptions
    } = options;
    if (dataplane === "thread") {
      const state = sharedEngineState(options.maxMacs);
      this.engine = new SwitchEngine({
        ...options,
        hashSeed,
        shared: { state, writer: false },
        control: { sendBpdu: (port, frame) => this.#thread?.send(port, frame) },
      }, () => {});
      const thread = new SwitchThread({ ...engineOptions, hashSeed }, state, {
        frame: (port, frame) => this.#toMainLinks(port, frame),
        failed: (fd, errno) => this.#portFdFailed(fd, errno),
        event: (event) => this.engine.onEvent?.(event as EngineEvent),
        loop: (warning) => this.engine.onLoopSuspected?.(warning),
        oversize: (port, length) => this.engine.onOversize?.(port, length),
        short: (port, length) => this.engine.onShort?.(port, length),
        vlanDropped: (note) => this.engine.onVlanDropped?.(note),
        mark: (mark) => this.#marked(mark),
        observed: (port, out, fresh, frame) => this.#observed(port, out, fresh, frame),
        bpdu: (port, frame) => this.engine.stpReceive(port, frame),
        snooped: (port, vlan, frame) => this.engine.snooping?.observe(port, vlan, frame),
        // Each tick says whether our querier runs there, so a start or stop whose record a full ring
        // dropped is followed a tick late rather than never. After the tick: a start counts from the
        // copy's clock, still the tick before's (up to a second before the thread started it) until then.
        snoopTick: (nowMs, querier) => {
          this.engine.snooping?.tick(nowMs);
          this.#followQuerier(querier);
        },
        snoopQuerier: (on) => this.#followQuerier(on),
      }, threadFile);
      this.#thread = thread;
      thread.ended.then(onThreadFailure ?? ((why) => log("vde switch", `data-plane thread failed: ${why}`)));
      mirrorEngine(this.engine, thread);
      this.engine.onEvent = this.#ownOnEvent;
    } else {
      this.engine = new SwitchEngine({ ...options, hashSeed }, (port, frame) => {
        const state = this.#ports[port];
        if (state === undefined) return;
        const eps = state.endpoints;
        for (let i = 0; i < eps.length; i++) eps[i]!.link.send(frame);
      });
    }
    // The one sign of a loop without spanning tree a user gets besides a CPU at 100%: logged by default.
    this.engine.onLoopSuspected = onLoopSuspected ?? ((warning) => log("vde switch", warning.message));
    this.engine.onOversize = (port, length) => this.#sayOversize(port, length);
    this.engine.onShort = (port, length) => logOfKind("runt", runtLine(this.#portWhere(port), length));
    this.engine.onVlanDropped = (note) => this.#sayVlanDropped(note);
    this.#tick();
    // Aging works in whole seconds, so a 1 s tick is all the clock it needs, but for a pass in progress.
    this.#timer = setInterval(() => this.#tick(), 1000);
    this.#timer.unref();
  }

  // An aging pass in progress goes on a slice per millisecond (the engine's theory), so nothing waits
  // behind a whole one; the control copy of a threaded switch never has one (its thread ages).
  #tick(): void {
    this.engine.tick(performance.now());
    if (!this.engine.aging || this.#agingTimer !== undefined || this.#closed) return;
    this.#agingTimer = setTimeout(() => {
      this.#agingTimer = undefined;
      this.#tick();
    }, 1);
    this.#agingTimer.unref();
  }

  /** True when a data-plane thread forwards this switch's frames. */
  get threaded(): boolean {
    return this.#thread !== null;
  }

  /**
   * Resolves once the data-plane thread has warmed its forwarding path (the ms it took), so counters
   * and addresses read from then on hold real frames only; at once (null) without a thread.
   */
  get warmed(): Promise<number | null> {
    return this.#thread?.warmed ?? Promise.resolve(null);
  }

  /**
   * Why the data-plane thread ended unasked (its worker failed to load or threw, its loop could not
   * start, or threw after it warmed), in one line, with `warmed` resolved null: the switch forwards nothing. Null while
   * it runs, when it was stopped, and without a thread.
   */
  get threadFailure(): string | null {
    return this.#thread?.failure ?? null;
  }

  /** How long the thread's warm-up took (ms); null while it runs or without a thread. */
  get warmedMs(): number | null {
    return this.#thread?.warmedMs ?? null;
  }

  /** Frames from links on the main thread that the thread's full ring dropped (0 without a thread). */
  get ringDrops(): number {
    return this.#thread?.ringDrops ?? 0;
  }

  // A frame the thread sends to a port whose links (some of them) live here.
  #toMainLinks(port: number, frame: Uint8Array): void {
    const state = this.#ports[port];
    if (state === undefined) return;
    const eps = state.endpoints;
    for (let i = 0; i < eps.length; i++) if (!this.#lent.has(eps[i]!)) eps[i]!.link.send(frame);
  }

  // The thread's copies come in the order its engine saw them, the first of each frame marked
  // fresh, so counting those numbers them as the engine does (a capture delivers each frame once by it).
  #observed(port: number, out: boolean, fresh: boolean, frame: Uint8Array): void {
    if (fresh) this.#observedSeq++;
    this.engine.observer?.(port, out ? Direction.Out : Direction.In, frame, this.#observedSeq);
  }

  /**
   * The thread's snooping machine runs our querier (`on`) from here on, among its ticks and frames: the
   * console's copy starts or stops it here. A start the console has undone since (its stop follows) is
   * not taken. Neither is one made on a machine replaced since, unless the new one's querier is set too:
   * the records name no machine, so it then starts where the old one did, earlier by the time between
   * the thread's two starts (commands applied a moment apart).
   */
  #followQuerier(on: boolean): void {
    const snoop = this.engine.snooping;
    if (snoop !== null && (!on || snoop.querier)) snoop.querierStarted(on);
  }

  /**
   * Says a port's first oversize frame, naming its tap's MTU line when a tap of ours sent it. The engine
   * calls this once per port activation, so a tap re-plugged under the same name with its MTU still too
   * high is told again; a client that connects over and over, each time with one, is bounded by the
   * once-said lines' limit per minute (the rest counted), not by a key remembered for the process's life.
   */
  #sayOversize(port: number, length: number): void {
    const link = this.#ports[port]?.endpoints[0]?.link;
    const tap = link?.kind === "tap" ? link.description.replace(/^tap /, "") : null;
    logOfKind("oversize", oversizeLine(this.#portWhere(port), length, tap));
  }

  /** A port as a log line names it: `port 3 (tap t1)`, or `port 3` when no client is on it. */
  #portWhere(port: number): string {
    const link = this.#ports[port]?.endpoints[0]?.link;
    return link === undefined ? `port ${port}` : `port ${port} (${link.description})`;
  }

  /**
   * Says a port's first frame dropped for a VLAN it does not carry, or the count of later ones (the
   * engine's VlanDropNotes bounds them: a first per port activation, then counts at most once a minute),
   * with the command that makes the port carry it. Under the once-said lines' limit per minute too.
   */
  #sayVlanDropped(note: VlanDropNote): void {
    logOfKind("vlan", vlanDropLine(this.#portWhere(note.port), note, this.engine.vlanExists(note.vlan)));
  }

  #portFdFailed(fd: number, errno: number): void {
    for (const [ep, lent] of this.#lent) {
      if (lent.fd !== fd) continue;
      const link = ep.link;
      link.close(
        link.kind === "tap"
          ? tapReadEnded(link.description, errno)
          : errno === 0
          ? "end of file"
          : `receive failed: errno ${errno}`,
      );
    }
  }

  /** Number of ports (0 .. numPorts-1). */
  get numPorts(): number {
    return this.engine.numPorts;
  }

  /**
   * Resolves once the data-plane thread has applied every change made so far (at once without a
   * thread, or with nothing pending): what is read next (counters, ports) shows them.
   */
  settled(): Promise<void> {
    return this.#thread?.settled() ?? Promise.resolve();
  }

  /**
   * A mark of the changes posted to the data-plane thread so far; the function it returns resolves
   * as `settled` does once any change was posted since, at once otherwise (see SwitchThread.settledSince).
   */
  changesFromHere(): () => Promise<void> {
    const thread = this.#thread;
    if (thread === null) return () => Promise.resolve();
    const mark = thread.posted;
    return () => thread.settledSince(mark);
  }

  /**
   * Subscribes to switch events (MAC table changes, ports going up and down,
   * endpoints joining and leaving). The engine produces events only while at
   * least one listener exists, so an unwatched switch allocates nothing for
   * them. Returns the function that unsubscribes.
   */
  addListener(listener: SwitchListener): () => void {
    this.#listeners.add(listener);
    this.#updateEngineListener();
    return () => {
      this.#listeners.delete(listener);
      this.#updateEngineListener();
    };
  }

  #updateEngineListener(): void {
    const own = this.#ownOnEvent;
    if (this.#listeners.size === 0) {
      this.engine.onEvent = own;
    } else {
      this.engine.onEvent = (event) => {
        own?.(event);
        this.#emit(event);
      };
    }
  }

  #emit(event: SwitchEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch { /* a broken listener must not break switching */ }
    }
  }

  /** The state of port `p`, if allocated. */
  port(p: number): PortState | undefined {
    return this.#ports[p];
  }

  /** Numbers of all allocated ports, ascending. */
  allocatedPorts(): number[] {
    const out: number[] = [];
    for (let p = 0; p < this.#ports.length; p++) if (this.#ports[p] !== undefined) out.push(p);
    return out;
  }

  /** Chooses the port for a request without changing anything; throws PortRefused. */
  choosePort(req: AttachRequest): number {
    if (this.#closed) throw new PortRefused("the switch is shutting down");
    // A client let in here would be told it is plugged in, and nothing it sends would go anywhere.
    const dead = this.threadFailure;
    if (dead !== null) {
      throw new PortRefused(`the switch forwards nothing: its data-plane thread failed (${dead})`);
    }
    const uid = req.uid ?? -1;
    const n = this.engine.numPorts;
    if (req.port !== undefined) {
      const p = req.port;
      if (!Number.isInteger(p) || p < 0 || p >= n) {
        throw new PortRefused(`port ${p} is out of range: the switch has ${n} ports, 0 to ${n - 1}`);
      }
      const state = this.#ports[p];
      if (state !== undefined && state.endpoints.length > 0 && state.uid !== uid) {
        // Said with the way out: a student of a class who asks for a classmate's number is to take a free one.
        throw new PortRefused(
          `port ${p} is busy: another user's client is on it; ask for no port number and a free one is given`,
        );
      }
      if (state !== undefined && !mayUse(state, uid, req.gid)) {
        throw new PortRefused(`port ${p} is reserved (port/setuser, port/setgroup) for another user`);
      }
      return p;
    }
    for (let p = 1; p < n; p++) {
      const state = this.#ports[p];
      if (
        state === undefined ||
        (state.endpoints.length === 0 && state.allocatable && mayUse(state, uid, req.gid))
      ) {
        return p;
      }
    }
    throw new PortRefused(`no free port (all ${n - 1} ports are in use)`);
  }

  /**
   * Plugs `link` into a port and returns the endpoint; the link's frames go
   * to the engine and it leaves the port when it closes. Throws PortRefused.
   */
  attach(link: Link, req: AttachRequest = {}): Endpoint {
    const port = this.choosePort(req);
    let state = this.#ports[port];
    if (state === undefined) {
      state = newPortState(true);
      this.#ports[port] = state;
    }
    const ep: Endpoint = { id: this.#nextEndpointId++, link, uid: req.uid ?? -1, since: Date.now() };
    state.uid = ep.uid;
    state.endpoints.unshift(ep);
    const thread = this.#thread;
    const lends = thread !== null && lendsFd(link);
    // A lent fd's frames start once the thread has it: its mark goes with the fd (#lend).
    if (!lends) this.#clientsChanged(port);
    if (thread === null) {
      const engine = this.engine;
      link.onFrame = (frame) => engine.input(port, frame);
    } else if (lends) {
      this.#lend(thread, port, ep, link as Link & FdLender);
    } else {
      link.onFrame = (frame) => thread.input(port, frame);
      // A source that can wait (a slirp's TCP) waits while the ring is backed up, instead of losing frames there.
      link.feeds?.(thread.inlet());
      // Before the activation, as a lent fd is: the thread sends a port's frames (the BPDUs spanning
      // tree sends as it comes up, a flood) to the main thread only once it counts a link there.
      this.#countRemote(port, 1);
    }
    // A lent fd's port goes active once the thread has the fd (see #lend).
    if (!lends && !this.#switchedOff.has(port)) this.engine.activatePort(port);
    link.closed.then(() => this.#leave(port, ep));
    if (this.#listeners.size > 0) this.#emit({ type: "endpoint-added", port, endpoint: ep });
    return ep;
  }

  #lend(thread: SwitchThread, port: number, ep: Endpoint, link: Link & FdLender): void {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const lent: LentEndpoint = { fd: -1, left: false, release, posted: Promise.resolve() };
    this.#lent.set(ep, lent);
    lent.posted = link.lendFd(released).then((end) => {
      if (lent.left) return release();
      lent.fd = end.fd;
      // Before the fd: the thread handles its frames after the mark.
      this.#clientsChanged(port);
      // The fd first, then the port: the thread never floods to an active port it cannot write.
      thread.addFd(port, end.fd, end.kind);
      if (!this.#switchedOff.has(port)) this.engine.activatePort(port);
    }, (err) => {
      release();
      link.close(`cannot hand the port to the switch thread: ${err}`);
    });
  }

  /**
   * Switches port `port` off or back on, as an administrator (the web view's
   * toggle) or a pulled cable (a lab link down) does. Off, it keeps its
   * clients but stops switching, and stays off when a client joins or a
   * lent fd reaches the thread; a freed port forgets it. On, it switches
   * again once it has a client that forwards: one whose fd is on its way to
   * the thread only when the thread has it.
   *
   * @returns whether the port is now active
   * @throws RangeError if the port is out of range
   */
  setPortEnabled(port: number, on: boolean): boolean {
    if (!on) {
      this.engine.deactivatePort(port);
      this.#switchedOff.add(port);
      return false;
    }
    this.#switchedOff.delete(port);
    if (this.#ports[port]?.endpoints.some((ep) => (this.#lent.get(ep)?.fd ?? 0) >= 0)) {
      this.engine.activatePort(port);
    }
    return this.engine.isActive(port);
  }

  /**
   * Resolves once endpoint `ep` forwards: at once on the main thread; with a
   * data-plane thread, once its fd has been handed over. The switch server
   * waits for it before the port's socket file appears, so a client that
   * sees the file finds the port forwarding.
   */
  forwarding(ep: Endpoint): Promise<void> {
    return (this.#lent.get(ep)?.posted ?? Promise.resolve()).then(() => {});
  }

  /**
   * The clients of `port` as of the frames observed now (a capture's copies): with a data-plane
   * thread, the copies come late, and a port's client may have changed since the engine handled
   * the frame being read; the change's mark among the copies says when. Undefined for a port that
   * never had a client.
   */
  observedClient(port: number): ObservedClient | undefined {
    return this.#observedClients[port];
  }

  // A client joined or left `port`: said to the observers at once, or in frame order through the thread.
  #clientsChanged(port: number): void {
    const eps = this.#ports[port]?.endpoints ?? [];
    const client: ObservedClient = {
      id: eps[0]?.id ?? -1,
      description: eps.map((e) => e.link.description).join(", "),
    };
    const thread = this.#thread;
    if (thread === null) {
      this.#observedClients[port] = client;
      return;
    }
    const mark = this.#nextMark++;
    this.#marks.set(mark, { port, client });
    thread.command({ op: "mark", mark });
  }

  // Marks come back in the order posted; one the full ring held back comes before the next record, or
  // the thread sends a later mark for it, which applies every change up to it.
  #marked(mark: number): void {
    for (const [n, m] of this.#marks) {
      if (n > mark) break;
      this.#marks.delete(n);
      this.#observedClients[m.port] = m.client;
    }
  }

  #countRemote(port: number, delta: number): void {
    const count = (this.#remote.get(port) ?? 0) + delta;
    if (count === 0) this.#remote.delete(port);
    else this.#remote.set(port, count);
    this.#thread?.command({ op: "remote", port, count });
  }

  /** The port an endpoint id is on, or -1. */
  portOfEndpoint(id: number): number {
    for (let p = 0; p < this.#ports.length; p++) {
      if (this.#ports[p]?.endpoints.some((e) => e.id === id)) return p;
    }
    return -1;
  }

  #leave(port: number, ep: Endpoint): void {
    const state = this.#ports[port];
    if (state === undefined) return;
    const i = state.endpoints.indexOf(ep);
    if (i < 0) return;
    state.endpoints.splice(i, 1);
    if (this.#thread !== null) {
      const lent = this.#lent.get(ep);
      this.#lent.delete(ep);
      if (lent === undefined) {
        ep.link.feeds?.(null);
        this.#countRemote(port, -1);
      } else if (lent.fd < 0) lent.left = true;
      else this.#thread.removeFd(lent.fd).then(lent.release);
    }
    // After the fd's removal: the frames the thread read from it come before the mark.
    this.#clientsChanged(port);
    if (this.#listeners.size > 0) this.#emit({ type: "endpoint-removed", port, endpoint: ep });
    if (state.endpoints.length === 0) {
      state.uid = -1;
      this.engine.deactivatePort(port);
      this.#dropMcastPort(port);
    }
  }

  /**
   * A permanent multicast router port belongs to what was plugged in, not
   * to the port number: once that client is gone (or the port freed) the
   * next one must not inherit it, as a Linux bridge drops a deleted port's
   * `mcast_router`, and so is its fast leave (`multicast_fast_leave`). A
   * port only switched off (the web view's toggle) keeps both, as a bridge
   * port that goes down does.
   * On a threaded switch the call reaches the thread's copy too.
   */
  #dropMcastPort(port: number): void {
    this.engine.snooping?.setRouter(port, false);
    this.engine.snooping?.setFastLeave(port, false);
  }

  /** Frees an inactive port completely; false if it is active or not allocated. */
  removePort(port: number): boolean {
    const state = this.#ports[port];
    if (state === undefined || state.endpoints.length > 0) return false;
    this.#ports[port] = undefined;
    this.#switchedOff.delete(port);
    // A freed port forgets its VLANs, as vde_switch's does: the next user starts in VLAN 0.
    this.engine.resetPortVlans(port);
    this.#dropMcastPort(port);
    return true;
  }

  /**
   * Allocates port `p` with no endpoint and not allocatable, so automatic
   * requests leave it alone (vde_switch's port/create).
   *
   * @returns "created", "exists" if it is allocated already, or
   *   "out-of-range"
   */
  createPort(p: number): "created" | "exists" | "out-of-range" {
    if (!Number.isInteger(p) || p < 0 || p >= this.engine.numPorts) return "out-of-range";
    if (this.#ports[p] !== undefined) return "exists";
    this.#ports[p] = newPortState(false);
    return "created";
  }

  /**
   * Allocates the lowest unallocated port from 1 as `createPort` does.
   *
   * @returns the port, or -1 when every port is allocated
   */
  createAutoPort(): number {
    for (let p = 1; p < this.engine.numPorts; p++) {
      if (this.#ports[p] === undefined) {
        this.#ports[p] = newPortState(false);
        return p;
      }
    }
    return -1;
  }

  /** Sets whether automatic requests may take port `p`; false if it is not allocated. */
  setAllocatable(p: number, allocatable: boolean): boolean {
    const state = this.#ports[p];
    if (state === undefined) return false;
    state.allocatable = allocatable;
    return true;
  }

  /**
   * Restricts who may plug into port `p`: a uid or gid, or -1 for anyone.
   * Root may always plug in. Endpoints already there stay.
   *
   * @returns false if the port is not allocated
   */
  setAccess(p: number, which: "user" | "group", id: number): boolean {
    const state = this.#ports[p];
    if (state === undefined) return false;
    if (which === "user") state.accessUser = id;
    else state.accessGroup = id;
    return true;
  }

  /**
   * Closes endpoint `id` of port `p` (its link ends, and the port goes
   * inactive if it was the last one).
   *
   * @returns false if the port has no such endpoint
   */
  closeEndpoint(p: number, id: number): boolean {
    const ep = this.#ports[p]?.endpoints.find((e) => e.id === id);
    if (ep === undefined) return false;
    ep.link.close("closed from the management console");
    return true;
  }

  /**
   * Changes the number of ports (vde_switch's port/setnumports).
   *
   * @returns false, changing nothing, if an allocated port would be cut off
   * @throws RangeError if `n` is not a valid number of ports
   */
  setNumPorts(n: number): boolean {
    for (let p = n; p < this.#ports.length; p++) {
      if (this.#ports[p] !== undefined) return false;
    }
    this.engine.setNumPorts(n);
    this.#ports.length = Math.min(this.#ports.length, n);
    for (const p of this.#switchedOff) if (p >= n) this.#switchedOff.delete(p);
    return true;
  }

  /**
   * Closes every link, stops the clock and the data-plane thread. The
   * promise resolves once the thread has stopped (at once without one);
   * links whose fds it held close them only then.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#thread?.stop() ?? Promise.resolve();
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#agingTimer);
    for (const state of this.#ports) {
      if (state === undefined) continue;
      for (const ep of [...state.endpoints]) {
        ep.link.close(SHUTTING_DOWN);
      }
    }
    return this.#thread?.stop() ?? Promise.resolve();
  }
}

function lendsFd(link: Link): link is Link & FdLender {
  return (link.kind === "vde" || link.kind === "tap") && "lendFd" in link;
}

function newPortState(allocatable: boolean): PortState {
  return { endpoints: [], uid: -1, allocatable, accessUser: -1, accessGroup: -1 };
}

// Root and in-process links (uid -1: taps, cables) pass; others must match
// the port's user and group restrictions when set.
function mayUse(state: PortState, uid: number, gid = -1): boolean {
  if (uid <= 0) return true;
  if (state.accessUser >= 0 && state.accessUser !== uid) return false;
  if (state.accessGroup >= 0 && gid !== state.accessGroup && !isGroupMember(uid, state.accessGroup)) {
    return false;
  }
  return true;
}
