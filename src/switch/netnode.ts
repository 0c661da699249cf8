/**
 * The forwarding rule of vdeplug4's network nodes (hub://, switch://,
 * multi://, bonding://): pure, no I/O, on the caller's clock.
 *
 * Theory of operation. A node has one host port (port 0: the process that
 * opened the VNL, whose other end it is) and any number of joiners (ports
 * 1.., the clients of its socket directory). vdeplug4's netnode
 * (libvdeplug_netnode.c) forwards as follows, and so does this:
 *
 * - hub: a frame goes to every port but the one it came from, host included.
 * - switch: a learning switch over all ports, host included; the key is the
 *   source MAC and the 802.1Q VLAN id (0 untagged), and tagged frames are
 *   forwarded as they are (a trunk: no port belongs to a VLAN). A known
 *   destination gets the frame alone (none when it is the sender's own
 *   port); an unknown, multicast or broadcast one is flooded. Entries not
 *   refreshed for `expireSeconds` are forgotten.
 * - multi: the host's frames go to every joiner; a joiner's to the host
 *   only (joiners are paths of one logical link, so a frame seen on two of
 *   them arrives twice: vdeplug4 leaves that to the upper protocols).
 * - bonding: the host's frames go to one joiner each, round-robin in the
 *   order they joined; a joiner's to the host only.
 *
 * Unlike vdeplug4, a multicast source MAC is never learned (no Ethernet
 * host sends from one; a hostile joiner could make a group's frames its
 * own), and a frame shorter than an Ethernet header is counted and dropped
 * on every path.
 */
import { MacTable } from "./mac_table.ts";
import { isMulticast, macHi, macLo, MIN_FRAME, SRC_OFFSET, vlanId } from "../wire/ethernet.ts";

/** What kind of node: vdeplug4's module names. */
export type NodeKind = "hub" | "switch" | "multi" | "bonding";

/** The node kinds, as VNL schemes. */
export const NODE_KINDS: readonly NodeKind[] = ["hub", "switch", "multi", "bonding"];

/** The host's port: the process that opened the node. */
export const HOST_PORT = 0;

/** Sends one borrowed frame out of a port. */
export type NodeOutput = (port: number, frame: Uint8Array) => void;

/** Settings of a switch:// node's table (vdeplug4's hashsize=, expiretime=, hashseed=). */
export interface NetNodeOptions {
  /** Most MAC table entries; default 65536. */
  maxEntries?: number;
  /** Seconds an entry lives without being refreshed; default 120 (vdeplug4's). */
  expireSeconds?: number;
  /** Mixed into the table's hash. */
  hashSeed?: number;
}

/** vdeplug4's default expiry of a switch node's entries. */
export const DEFAULT_NODE_EXPIRE_SECONDS = 120;

/** One node's forwarding state: its joiners and (switch://) its MAC table. */
export class NetNode {
  readonly kind: NodeKind;
  /** Joiner ports in the order they joined: the flood list and the round-robin's. */
  readonly #joiners: number[] = [];
  readonly #table: MacTable | null;
  readonly #expireSeconds: number;
  readonly #out: NodeOutput;
  #nextBond = 0;
  #lastExpiry = -Infinity;
  /** Frames dropped: shorter than an Ethernet header, or from a port that is not the node's. */
  dropped = 0;

  constructor(kind: NodeKind, out: NodeOutput, options: NetNodeOptions = {}) {
    this.kind = kind;
    this.#out = out;
    this.#expireSeconds = options.expireSeconds ?? DEFAULT_NODE_EXPIRE_SECONDS;
    // A node's entry moves at once, as vdeplug4's does: no persistence time.
    this.#table = kind === "switch"
      ? new MacTable({ maxEntries: options.maxEntries, seed: options.hashSeed, minPersistenceSeconds: 0 })
      : null;
  }

  /** The joiner ports, in the order they joined. */
  get joiners(): readonly number[] {
    return this.#joiners;
  }

  /** Adds a joiner port (no-op if it is one already, or the host's). */
  join(port: number): void {
    if (port === HOST_PORT || this.#joiners.includes(port)) return;
    this.#joiners.push(port);
  }

  /** Removes a joiner port and forgets what was learned on it. */
  leave(port: number): void {
    const i = this.#joiners.indexOf(port);
    if (i < 0) return;
    this.#joiners.splice(i, 1);
    this.#table?.deletePort(port);
  }

  /** Where `macTable` learned a MAC (VLAN 0 unless given), or -1: for tests and a console. */
  portOf(mac: Uint8Array, vlan = 0): number {
    return this.#table?.lookup(macHi(mac, 0), macLo(mac, 0) | 0, vlan) ?? -1;
  }

  /**
   * Forwards one frame that arrived on `port` (HOST_PORT: from the host),
   * `now` in seconds. Never throws; the view is not kept.
   */
  input(port: number, frame: Uint8Array, now: number): void {
    if (frame.length < MIN_FRAME || (port !== HOST_PORT && !this.#joiners.includes(port))) {
      this.dropped++;
      return;
    }
    switch (this.kind) {
      case "hub":
        this.#flood(port, frame);
        return;
      case "switch":
        this.#switch(port, frame, now);
        return;
      case "multi":
        if (port !== HOST_PORT) this.#out(HOST_PORT, frame);
        else this.#flood(HOST_PORT, frame);
        return;
      case "bonding":
        if (port !== HOST_PORT) this.#out(HOST_PORT, frame);
        else this.#bond(frame);
        return;
    }
  }

  /** To every port but `from`, the host included when it is not the sender. */
  #flood(from: number, frame: Uint8Array): void {
    const joiners = this.#joiners;
    for (let i = 0; i < joiners.length; i++) {
      const p = joiners[i]!;
      if (p !== from) this.#out(p, frame);
    }
    if (from !== HOST_PORT) this.#out(HOST_PORT, frame);
  }

  /** To the next joiner in turn. */
  #bond(frame: Uint8Array): void {
    const n = this.#joiners.length;
    if (n === 0) return;
    this.#nextBond = (this.#nextBond + 1) % n;
    this.#out(this.#joiners[this.#nextBond]!, frame);
  }

  #switch(from: number, frame: Uint8Array, now: number): void {
    const table = this.#table!;
    if (now - this.#lastExpiry >= 1) {
      this.#lastExpiry = now;
      table.expire(now, this.#expireSeconds);
    }
    const vid = vlanId(frame);
    const vlan = vid < 0 ? 0 : vid;
    if (!isMulticast(frame, SRC_OFFSET)) {
      table.learn(macHi(frame, SRC_OFFSET), macLo(frame, SRC_OFFSET) | 0, vlan, from, now);
    }
    const to = isMulticast(frame) ? -1 : table.lookup(macHi(frame, 0), macLo(frame, 0) | 0, vlan);
    if (to < 0) this.#flood(from, frame);
    else if (to !== from) this.#out(to, frame);
  }
}
