/**
 * A switch: the forwarding engine plus the Links plugged into its ports.
 *
 * The engine decides where a frame goes; this class only maps ports to the
 * Links (endpoints) that hold them and keeps port allocation the way
 * vde_switch does (spec 1.5): port 0 is reserved for management clients, an
 * automatic request takes the lowest free allocatable port from 1, a port
 * can hold several endpoints of the same user, and a port whose last
 * endpoint leaves becomes inactive but stays allocated with its settings.
 */
import { type EngineOptions, SwitchEngine } from "./engine.ts";
import type { Link } from "../link/link.ts";

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
}

/** Options of a switch: the engine's, nothing more yet. */
export type SwitchOptions = EngineOptions;

/** A virtual Ethernet switch whose ports hold Links. */
export class Switch {
  readonly engine: SwitchEngine;
  readonly #ports: (PortState | undefined)[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #nextEndpointId = 1;
  #closed = false;

  constructor(options: SwitchOptions = {}) {
    // A random hash seed, so nobody can aim colliding MACs at a known hash.
    const hashSeed = options.hashSeed ?? crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.engine = new SwitchEngine({ ...options, hashSeed }, (port, frame) => {
      const state = this.#ports[port];
      if (state === undefined) return;
      const eps = state.endpoints;
      for (let i = 0; i < eps.length; i++) eps[i]!.link.send(frame);
    });
    this.engine.tick(performance.now());
    // Aging works in whole seconds, so a 1 s tick is all the clock it needs.
    this.#timer = setInterval(() => this.engine.tick(performance.now()), 1000);
    this.#timer.unref();
  }

  /** Number of ports (0 .. numPorts-1). */
  get numPorts(): number {
    return this.engine.numPorts;
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
    const uid = req.uid ?? -1;
    const n = this.engine.numPorts;
    if (req.port !== undefined) {
      const p = req.port;
      if (!Number.isInteger(p) || p < 0 || p >= n) {
        throw new PortRefused(`port ${p} is out of range (0-${n - 1})`);
      }
      const state = this.#ports[p];
      if (state !== undefined && state.endpoints.length > 0 && state.uid !== uid) {
        throw new PortRefused(`port ${p} is busy: it belongs to another user`);
      }
      return p;
    }
    for (let p = 1; p < n; p++) {
      const state = this.#ports[p];
      if (state === undefined || (state.endpoints.length === 0 && state.allocatable)) return p;
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
      state = { endpoints: [], uid: -1, allocatable: true };
      this.#ports[port] = state;
    }
    const ep: Endpoint = { id: this.#nextEndpointId++, link, uid: req.uid ?? -1, since: Date.now() };
    state.uid = ep.uid;
    state.endpoints.unshift(ep);
    if (state.endpoints.length === 1) this.engine.activatePort(port);
    const engine = this.engine;
    link.onFrame = (frame) => engine.input(port, frame);
    link.closed.then(() => this.#leave(port, ep));
    return ep;
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
    if (state.endpoints.length === 0) {
      state.uid = -1;
      this.engine.deactivatePort(port);
    }
  }

  /** Frees an inactive port completely; false if it is active or not allocated. */
  removePort(port: number): boolean {
    const state = this.#ports[port];
    if (state === undefined || state.endpoints.length > 0) return false;
    this.#ports[port] = undefined;
    return true;
  }

  /** Closes every link and stops the clock. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const state of this.#ports) {
      if (state === undefined) continue;
      for (const ep of [...state.endpoints]) ep.link.close("the switch is shutting down");
    }
  }
}
