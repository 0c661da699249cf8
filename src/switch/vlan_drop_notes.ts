/**
 * When a switch says the frames it drops for a VLAN their port does not
 * carry (tagged for a VLAN the port is not in, untagged on a port with no
 * untagged VLAN): a trunk set up on one side only loses every frame of a
 * VLAN with nothing but the `vlanDropped` counter to tell, which names
 * neither the port nor the VLAN.
 *
 * Theory of operation. A port's first such drop since it came up is noted
 * at once, with its VLAN; later ones are counted per port (and the VLAN of
 * the last kept), and each port's count is noted at the first tick at least
 * SUMMARY_SECONDS after the previous round of counts, or after the last
 * first note made while no count waited, then zeroed. So a sender spraying
 * all 4,094 VLAN ids makes one note, then one a minute, per port, its first
 * count a minute after its first note however long the switch was quiet
 * before; a user who fixes the VLAN the first note named
 * hears of the next in the counts. A port that goes down has its count
 * noted then: its drops were its client's, and the line said at the round
 * named the port's client of that moment, often the next one. Pure, no clock of its own: the engine
 * passes its time to `tick`. State is three numbers per port; a drop costs
 * two array writes after the first; nothing runs per frame that is not
 * dropped.
 */

import { MAX_VLAN } from "./vlan_table.ts";

/** The least time between two rounds of counts, seconds. */
export const SUMMARY_SECONDS = 60;

/** What a switch is told of its VLAN drops on one port. */
export interface VlanDropNote {
  port: number;
  /** The VLAN of the (last) frame dropped: its tag's VID (0-4095), or -1 for an untagged frame. */
  vlan: number;
  /** 1 for the port's first drop since it came up (`first`), else the drops since the last note. */
  count: number;
  first: boolean;
}

/** Per-port notes of VLAN drops: the first at once, then counts at most once per SUMMARY_SECONDS. */
export class VlanDropNotes {
  /** 1 once a port's first drop since it came up was noted. */
  #told: Uint8Array;
  /** Drops after the first not yet noted, per port. */
  #since: Float64Array;
  /** The VLAN of the last of them (-1: untagged). */
  #last: Int16Array;
  /** Ports whose `#since` is above 0. */
  #pending = 0;
  /** Time (seconds) at or after which counts may be noted; set by a round, or a first note while none waits. */
  #nextRound = Infinity;
  #now = 0;

  /** `note`: told each note, synchronously; must not throw. */
  constructor(numPorts: number, readonly note: (note: VlanDropNote) => void) {
    this.#told = new Uint8Array(numPorts);
    this.#since = new Float64Array(numPorts);
    this.#last = new Int16Array(numPorts);
  }

  /** `port` (in range) dropped a frame tagged for `vlan` (-1: untagged). */
  dropped(port: number, vlan: number): void {
    if (this.#told[port] === 0) {
      this.#told[port] = 1;
      // No count waits, so the next round's minute starts here: this port's count comes a minute
      // after this line, not at the next tick because the last round was long ago.
      if (this.#pending === 0) this.#nextRound = this.#now + SUMMARY_SECONDS;
      this.note({ port, vlan, count: 1, first: true });
      return;
    }
    if (this.#since[port]!++ === 0) this.#pending++;
    this.#last[port] = vlan;
  }

  /** The time is `nowS` seconds: notes each port's count when a round is due. */
  tick(nowS: number): void {
    this.#now = nowS;
    if (this.#pending === 0 || nowS < this.#nextRound) return;
    this.#nextRound = nowS + SUMMARY_SECONDS;
    this.#pending = 0;
    const since = this.#since;
    for (let port = 0; port < since.length; port++) {
      const count = since[port]!;
      if (count === 0) continue;
      since[port] = 0;
      this.note({ port, vlan: this.#last[port]!, count, first: false });
    }
  }

  /** `port` came up: its next drop is noted at once again. */
  portUp(port: number): void {
    this.#told[port] = 0;
  }

  /** `port` went down: its drops not yet noted are noted now, while they are still its client's. */
  portDown(port: number): void {
    const count = this.#since[port]!;
    if (!(count > 0)) return;
    this.#since[port] = 0;
    this.#pending--;
    this.note({ port, vlan: this.#last[port]!, count, first: false });
  }

  /** The switch now has `n` ports: the ports removed take their counts with them. */
  resize(n: number): void {
    const told = new Uint8Array(n);
    const since = new Float64Array(n);
    const last = new Int16Array(n);
    const keep = Math.min(n, this.#told.length);
    told.set(this.#told.subarray(0, keep));
    since.set(this.#since.subarray(0, keep));
    last.set(this.#last.subarray(0, keep));
    this.#told = told;
    this.#since = since;
    this.#last = last;
    this.#pending = 0;
    for (let port = 0; port < n; port++) if (since[port]! > 0) this.#pending++;
  }
}

/**
 * The line a note is said with: `where` names the port ("port 3 (tap t1)"); `exists`, whether the
 * note's VLAN exists on the switch (the command that makes the port carry it differs).
 */
export function vlanDropLine(where: string, note: VlanDropNote, exists: boolean): string {
  const { port, vlan } = note;
  const frames = vlan < 0 ? "untagged" : `tagged for VLAN ${vlan}`;
  if (!note.first) {
    return `${where}: dropped ${note.count} more frame(s) for VLANs port ${port} does not carry since the last ` +
      `such line, the last ${frames} (counted as vlanDropped)`;
  }
  const counted = "(counted as vlanDropped; said once, later ones as a count at most once a minute)";
  if (vlan < 0) {
    return `${where}: dropped an untagged frame: port ${port} has no untagged VLAN ${counted}: ` +
      `port/setvlan ${port} VLAN gives it one`;
  }
  const fix = vlan > MAX_VLAN
    ? `VLAN ids here are 0-${MAX_VLAN}`
    : exists
    ? `vlan/addport ${vlan} ${port} makes it carry it`
    : `vlan/create ${vlan}, then vlan/addport ${vlan} ${port}, makes it carry it`;
  const which = exists ? `port ${port} does not carry` : "this switch does not have";
  return `${where}: dropped a frame tagged for VLAN ${vlan}, which ${which} ${counted}: ${fix}`;
}
