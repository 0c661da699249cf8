/**
 * A model of Debian vde_switch's FSTP (`-F`) for one VLAN, untagged, on a
 * virtual clock, written from what its source does (vde-2's fstp.c) so that
 * our RSTP can be tried against it without processes:
 *
 * - It keeps the best priority vector heard (root, root path cost with the
 *   receiving port's cost added, designated bridge, designated port) and the
 *   port it came on, the root port; a BPDU better than it, or any change
 *   heard on the root port, makes that port the root port, every other port
 *   that has heard BPDUs lately discarding, the root port forwarding.
 * - A worse BPDU for the same root opens a discarding port when its sender
 *   calls its own port a root port (role code 01), and closes a forwarding
 *   one otherwise. A BPDU for a worse root is answered with its own.
 * - Every 4 s it sends its vector on every port (role 01 root port, 10
 *   discarding with the proposal bit, 11 designated; agreement always set;
 *   timers little-endian seconds, forward delay 0), forgets a root it has not
 *   heard for 12 s, and every fourth hello reopens a discarding port that
 *   heard nothing for four to eight hellos.
 * - A BPDU with the TC flag, and each of its own changes, flushes its MAC
 *   table and sends TC BPDUs on its other open ports that hear BPDUs.
 */

const HELLO = 4;
const NOBODY = "ffff.ffffffffffff";
const FSTP_PORT_COST = 20_000_000;

interface Vector {
  root: string;
  cost: number;
  bridge: string;
  port: number;
}

export class FstpModel {
  readonly id: string;
  readonly #mac: Uint8Array;
  readonly #send: (port: number, frame: Uint8Array) => void;
  readonly #ports = new Set<number>();
  readonly #discarding = new Set<number>();
  readonly #heard: [Set<number>, Set<number>] = [new Set(), new Set()];
  #current: 0 | 1 = 0;
  #best: Vector;
  #rootPort = 0;
  #rootHeardAt = 0;
  #hellos = 0;
  #nowS = 0;
  #lastTickMs = -1;
  /** MAC table flushes (topology changes). */
  flushes = 0;

  constructor(mac: Uint8Array, priority: number, send: (port: number, frame: Uint8Array) => void) {
    this.#mac = mac.slice(0, 6);
    this.id = `${priority.toString(16).padStart(4, "0")}.${[...this.#mac].map(hex2).join("")}`;
    this.#send = send;
    this.#best = this.#own();
  }

  get rootId(): string {
    return this.#best.root;
  }

  isForwarding(port: number): boolean {
    return this.#ports.has(port) && !this.#discarding.has(port);
  }

  enablePort(port: number): void {
    this.#ports.add(port);
    this.#discarding.delete(port);
    this.#heard[0].delete(port);
    this.#heard[1].delete(port);
    this.#bpdu(port, false, false);
    this.#topologyChange(port);
  }

  disablePort(port: number): void {
    this.#ports.delete(port);
    this.#discarding.delete(port);
    if (port === this.#rootPort) this.#reset();
    this.#topologyChange(port);
  }

  tick(nowMs: number): void {
    if (this.#lastTickMs < 0) this.#lastTickMs = nowMs;
    while (nowMs - this.#lastTickMs >= 1000) {
      this.#lastTickMs += 1000;
      this.#nowS++;
      if (this.#nowS % HELLO === 0) this.#hello();
    }
  }

  receive(port: number, frame: Uint8Array): void {
    if (!this.#ports.has(port)) return;
    this.#heard[this.#current].add(port);
    // Its checks: long enough, version 2, type 2. Nothing else is read but these fields.
    if (frame.length < 51 || frame[19] !== 2 || frame[20] !== 2) return;
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const flags = frame[21]!;
    const msg: Vector = {
      root: idAt(frame, 22),
      cost: view.getUint32(30) + FSTP_PORT_COST,
      bridge: idAt(frame, 34),
      port: view.getUint16(42),
    };
    if ((flags & 0x01) !== 0) this.#topologyChange(port);
    const order = compare(this.#best, msg);
    if (order === 0) {
      this.#rootHeardAt = this.#nowS;
    } else if (order > 0 || port === this.#rootPort) {
      this.#best = msg;
      this.#rootPort = port;
      this.#rootHeardAt = this.#nowS;
      this.#fast(port);
      this.#topologyChange(port);
    } else if (this.#best.root === msg.root) {
      const senderRootPort = (flags & 0x0c) === 0x04;
      if (senderRootPort && this.#discarding.delete(port)) this.#topologyChange(port);
      if (!senderRootPort && !this.#discarding.has(port)) {
        this.#discarding.add(port);
        this.#topologyChange(port);
      }
    } else {
      this.#bpdu(port, false, false);
    }
  }

  #own(): Vector {
    return { root: this.id, cost: 0, bridge: NOBODY, port: 0 };
  }

  #reset(): void {
    this.#best = this.#own();
    this.#rootPort = 0;
    this.#rootHeardAt = 0;
    this.#discarding.clear();
  }

  #active(port: number): boolean {
    return this.#heard[0].has(port) || this.#heard[1].has(port);
  }

  #hello(): void {
    if (this.#rootPort !== 0 && this.#nowS - this.#rootHeardAt > 3 * HELLO) this.#reset();
    for (const port of this.#ports) this.#bpdu(port, true, false);
    if (++this.#hellos % 4 === 0) {
      this.#current = this.#current === 0 ? 1 : 0;
      for (const port of [...this.#discarding]) if (!this.#active(port)) this.#discarding.delete(port);
      this.#heard[this.#current].clear();
    }
  }

  #fast(rootPort: number): void {
    for (const port of this.#ports) {
      if (port === rootPort || this.#discarding.has(port) || !this.#active(port)) continue;
      this.#discarding.add(port);
      this.#bpdu(port, false, false);
    }
    this.#discarding.delete(rootPort);
    this.#bpdu(rootPort, true, false);
  }

  #topologyChange(from: number): void {
    this.flushes++;
    for (const port of this.#ports) {
      if (port !== from && !this.#discarding.has(port) && this.#active(port)) this.#bpdu(port, false, true);
    }
  }

  #bpdu(port: number, agreement: boolean, tc: boolean): void {
    const frame = new Uint8Array(53);
    const view = new DataView(frame.buffer);
    frame.set([0x01, 0x80, 0xc2, 0, 0, 0]);
    frame.set(this.#mac, 6);
    frame.set([0x00, 0x27, 0x42, 0x42, 0x03, 0, 0, 2, 2], 12);
    const discarding = this.#discarding.has(port);
    frame[21] = (tc ? 0x01 : 0) | (discarding ? 0x02 : 0x04) | (port === this.#rootPort ? 0 : 0x08) |
      (discarding ? 0 : 0x30) | (agreement ? 0x40 : 0);
    setId(frame, 22, this.#best.root);
    view.setUint32(30, this.#rootPort === 0 ? 0 : this.#best.cost);
    setId(frame, 34, this.id);
    frame[42] = 0x80 | (port >> 4);
    frame[43] = port & 0xff;
    view.setUint16(44, this.#rootPort === 0 ? 0 : this.#nowS - this.#rootHeardAt, true);
    view.setUint16(46, 10 * HELLO, true);
    view.setUint16(48, HELLO, true);
    this.#send(port, frame);
  }
}

function compare(a: Vector, b: Vector): number {
  if (a.root !== b.root) return a.root < b.root ? -1 : 1;
  if (a.cost !== b.cost) return a.cost - b.cost;
  if (a.bridge !== b.bridge) return a.bridge < b.bridge ? -1 : 1;
  return a.port - b.port;
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, "0");
}

function idAt(frame: Uint8Array, at: number): string {
  const bytes = [...frame.subarray(at, at + 8)].map(hex2).join("");
  return `${bytes.slice(0, 4)}.${bytes.slice(4)}`;
}

function setId(frame: Uint8Array, at: number, id: string): void {
  const hex = id.replace(".", "");
  for (let i = 0; i < 8; i++) frame[at + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
}
