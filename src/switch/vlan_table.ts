/**
 * Which ports belong to which 802.1Q VLANs, as vde_switch keeps it: pure
 * state, no I/O, no frames.
 *
 * Each port has one untagged VLAN (0 by default; NO_VLAN for none), and a
 * VLAN has a set of member ports. A port is always a member of its untagged
 * VLAN; `addPort` makes it a member of others too, where it sends and
 * receives tagged frames. VLAN 0 exists from the start with every port in
 * it, so a switch nobody configures is one flat LAN.
 *
 * Ranges and answers follow Debian's vde_switch 2.3.2 as observed:
 * `create` takes 1..4093, the other operations 0..4093; `setUntagged` also
 * takes NO_VLAN. Operations answer a `VlanResult` instead of throwing, so
 * the console can map each to vde_switch's errno.
 */

/** The highest VLAN id that can be created. */
export const MAX_VLAN = 4093;
/** The untagged VLAN of a port that takes only tagged frames. */
export const NO_VLAN = 4095;

/**
 * Outcome of a change: `invalid` an id or port out of range, `exists` the
 * VLAN is there already, `missing` the VLAN is not there, `in-use` the VLAN
 * still has members or is the port's untagged VLAN.
 */
export type VlanResult = "ok" | "invalid" | "exists" | "missing" | "in-use";

/** One member of a VLAN, as listings show it. */
export interface VlanMember {
  port: number;
  /** True when the port carries this VLAN tagged (it is not its untagged VLAN). */
  tagged: boolean;
}

/** The VLAN membership of a switch's ports. */
export class VlanTable {
  #numPorts: number;
  #untagged: Uint16Array;
  /** Membership flags per VLAN id; undefined for a VLAN that does not exist. */
  readonly #members: (Uint8Array | undefined)[] = new Array(MAX_VLAN + 1);
  /** True while every port is untagged in VLAN 0 and no other VLAN has members. */
  #flat = true;

  constructor(numPorts: number) {
    this.#numPorts = numPorts;
    this.#untagged = new Uint16Array(numPorts);
    this.#members[0] = new Uint8Array(numPorts).fill(1);
  }

  /** Whether the switch is one flat LAN: every port untagged in VLAN 0, no tagged members anywhere. */
  get flat(): boolean {
    return this.#flat;
  }

  /** A port's untagged VLAN (NO_VLAN: none). The caller checks the port's range. */
  untagged(port: number): number {
    return this.#untagged[port]!;
  }

  /** The membership flags of `vlan` (1 per member port), or undefined when it does not exist. */
  membersOf(vlan: number): Uint8Array | undefined {
    return this.#members[vlan];
  }

  /** Whether `vlan` exists. */
  exists(vlan: number): boolean {
    return Number.isInteger(vlan) && vlan >= 0 && vlan <= MAX_VLAN && this.#members[vlan] !== undefined;
  }

  /** The existing VLAN ids, ascending. */
  vlans(): number[] {
    const ids: number[] = [];
    for (let v = 0; v <= MAX_VLAN; v++) if (this.#members[v] !== undefined) ids.push(v);
    return ids;
  }

  /** The members of `vlan` in port order (empty when it does not exist). */
  members(vlan: number): VlanMember[] {
    const flags = isVlan(vlan) ? this.#members[vlan] : undefined;
    const out: VlanMember[] = [];
    if (flags === undefined) return out;
    for (let p = 0; p < this.#numPorts; p++) {
      if (flags[p] === 1) out.push({ port: p, tagged: this.#untagged[p] !== vlan });
    }
    return out;
  }

  /** Creates `vlan` (1..MAX_VLAN) with no members. */
  create(vlan: number): VlanResult {
    if (!isVlan(vlan) || vlan === 0) return "invalid";
    if (this.#members[vlan] !== undefined) return "exists";
    this.#members[vlan] = new Uint8Array(this.#numPorts);
    return "ok";
  }

  /** Removes `vlan`, which must have no members. */
  remove(vlan: number): VlanResult {
    if (!isVlan(vlan)) return "invalid";
    const flags = this.#members[vlan];
    if (flags === undefined) return "missing";
    if (flags.includes(1)) return "in-use";
    this.#members[vlan] = undefined;
    return "ok";
  }

  /** Makes `port` a member of `vlan` (tagged, unless it is the port's untagged VLAN). */
  addPort(vlan: number, port: number): VlanResult {
    const flags = this.#target(vlan, port);
    if (typeof flags === "string") return flags;
    flags[port] = 1;
    this.#update();
    return "ok";
  }

  /** Takes `port` out of `vlan`; refused for the port's untagged VLAN. */
  delPort(vlan: number, port: number): VlanResult {
    const flags = this.#target(vlan, port);
    if (typeof flags === "string") return flags;
    if (this.#untagged[port] === vlan) return "in-use";
    flags[port] = 0;
    this.#update();
    return "ok";
  }

  /** Sets `port`'s untagged VLAN (an existing one, or NO_VLAN); it leaves the old one. */
  setUntagged(port: number, vlan: number): VlanResult {
    if (!this.#isPort(port) || !Number.isInteger(vlan) || vlan < 0 || vlan > NO_VLAN) return "invalid";
    if (vlan !== NO_VLAN && (vlan > MAX_VLAN || this.#members[vlan] === undefined)) return "missing";
    const old = this.#untagged[port]!;
    if (old <= MAX_VLAN) {
      const flags = this.#members[old];
      if (flags !== undefined) flags[port] = 0;
    }
    if (vlan !== NO_VLAN) this.#members[vlan]![port] = 1;
    this.#untagged[port] = vlan;
    this.#update();
    return "ok";
  }

  /** Puts `port` back as a new port has it: untagged in VLAN 0, in no other VLAN. */
  resetPort(port: number): void {
    if (!this.#isPort(port)) return;
    for (const flags of this.#members) if (flags !== undefined) flags[port] = 0;
    this.#untagged[port] = 0;
    const zero = this.#members[0];
    if (zero !== undefined) zero[port] = 1;
    this.#update();
  }

  /** Changes the number of ports; new ports are as `resetPort` leaves them. */
  resize(numPorts: number): void {
    const keep = Math.min(numPorts, this.#numPorts);
    const untagged = new Uint16Array(numPorts);
    untagged.set(this.#untagged.subarray(0, keep));
    for (let v = 0; v <= MAX_VLAN; v++) {
      const flags = this.#members[v];
      if (flags === undefined) continue;
      const next = new Uint8Array(numPorts);
      next.set(flags.subarray(0, keep));
      if (v === 0) next.fill(1, keep);
      this.#members[v] = next;
    }
    this.#untagged = untagged;
    this.#numPorts = numPorts;
    this.#update();
  }

  #target(vlan: number, port: number): Uint8Array | VlanResult {
    if (!isVlan(vlan) || !this.#isPort(port)) return "invalid";
    return this.#members[vlan] ?? "missing";
  }

  #isPort(port: number): boolean {
    return Number.isInteger(port) && port >= 0 && port < this.#numPorts;
  }

  // Configuration changes are rare: recount from scratch rather than track each change.
  #update(): void {
    let flat = !this.#untagged.some((v) => v !== 0);
    for (let v = 1; flat && v <= MAX_VLAN; v++) {
      const flags = this.#members[v];
      if (flags !== undefined && flags.includes(1)) flat = false;
    }
    this.#flat = flat;
  }
}

function isVlan(vlan: number): boolean {
  return Number.isInteger(vlan) && vlan >= 0 && vlan <= MAX_VLAN;
}
