/**
 * Writes a capture as a file: pcapng (one interface per switch port, the
 * direction in each packet's flags, statistics at the end) or classic pcap.
 *
 * An interface is named after its switch and port (`demo/sw1 port 3`,
 * `/tmp/net port 3`), as tshark and Wireshark show it: files of several
 * switches merged into one (mergecap) keep each port's switch apart. The
 * name ends in `port N`, the whole name before switches were named, so a
 * reader that matches that end (`frame.interface_name matches "port 3$"`)
 * reads both; the blocks and their order are as they were.
 *
 * Theory of operation. Ports become pcapng interfaces in the order they
 * are announced (the ports a capture names, at its start) or first carry a
 * frame, each by its interface block before that frame (pcapng allows
 * interface blocks anywhere in a section); a port another client takes
 * gets a new one, its description naming that client. The
 * writer only builds bytes and hands them to `out`; where they go and how
 * fast is the caller's business. Counts are kept per port so the closing
 * statistics blocks say what each interface captured and lost.
 */
import { Direction } from "../switch/engine.ts";
import { pcapFileHeader, pcapRecord } from "../wire/pcap.ts";
import {
  PCAPNG_INBOUND,
  PCAPNG_OUTBOUND,
  pcapngInterface,
  pcapngPacket,
  pcapngSectionHeader,
  pcapngStatistics,
} from "../wire/pcapng.ts";

/**
 * Mode of a capture file made now: it holds every chosen port's frames (a class's lab, their passwords), so
 * it is its user's alone, as dumpcap makes its files; at 644 (the umask's) a classmate read a student's
 * capture of their own lab. A file that is there keeps its mode: its owner chose it.
 */
export const CAPTURE_FILE_MODE = 0o600;

/** The default snap length: whole frames, jumbo ones included (tcpdump's default too). */
export const DEFAULT_SNAPLEN = 262144;

/** Which file format; "pcap" for a name ending in .pcap, else pcapng. */
export type CaptureFormat = "pcapng" | "pcap";

/** The format a file name asks for. */
export function formatForPath(path: string): CaptureFormat {
  return path.toLowerCase().endsWith(".pcap") ? "pcap" : "pcapng";
}

interface PortEntry {
  iface: number;
  captured: number;
  /** The description its interface block was written with. */
  description: string;
}

/** Builds a capture file's bytes as frames come. */
export class CaptureFileWriter {
  readonly format: CaptureFormat;
  readonly snaplen: number;
  readonly #out: (bytes: Uint8Array) => void;
  readonly #descriptions = new Map<number, string>();
  readonly #ports = new Map<number, PortEntry>();
  /** Interfaces of ports whose client changed since, kept for their statistics. */
  readonly #retired: PortEntry[] = [];
  #interfaces = 0;
  readonly #dropped = new Map<number, number>();
  readonly #lost = new Map<number, number>();
  readonly #startMicros: number;
  /** The switch, in each interface's name; "" names ports alone. */
  readonly #switchName: string;
  /** The capture's tcpdump filter, in each interface's if_filter; "" for none. */
  readonly #filter: string;
  #captured = 0;

  constructor(
    format: CaptureFormat,
    snaplen: number,
    out: (bytes: Uint8Array) => void,
    nowMicros: number,
    switchName = "",
    filter = "",
  ) {
    this.#switchName = switchName;
    this.#filter = filter;
    this.format = format;
    this.snaplen = snaplen;
    this.#out = out;
    this.#startMicros = nowMicros;
    out(format === "pcap" ? pcapFileHeader(snaplen) : pcapngSectionHeader("vde capture"));
  }

  /** Frames written. */
  get captured(): number {
    return this.#captured;
  }

  /** Frames lost to a slow reader, all ports. */
  get dropped(): number {
    let n = 0;
    for (const d of this.#dropped.values()) n += d;
    for (const d of this.#lost.values()) n += d;
    return n;
  }

  /**
   * Names the client on a port (its interface's description). An interface
   * block cannot change, so a port whose interface names another client (the
   * port's client left and another took it) gets a new interface, same name,
   * for the frames from now on.
   */
  describePort(port: number, description: string): void {
    this.#descriptions.set(port, description);
    const entry = this.#ports.get(port);
    if (entry !== undefined && entry.description !== description) {
      this.#retired.push(entry);
      this.#ports.delete(port);
    }
  }

  /** Counts a frame of `port` the switch sent but the output could not take (a stalled reader, stopping). */
  lost(port: number): void {
    this.#lost.set(port, (this.#lost.get(port) ?? 0) + 1);
  }

  /**
   * Sets how many frames of `port` the switch dropped so far. The count
   * comes off the capture socket: one that is no count (NaN, infinite,
   * negative, fractional) is ignored, as the statistics block could not
   * hold it.
   */
  setDropped(port: number, count: number): void {
    if (!Number.isSafeInteger(count) || count < 0) return;
    this.#dropped.set(port, count);
  }

  /** Writes one frame; `data` is cut to the snap length here if longer. */
  frame(port: number, direction: Direction, micros: number, data: Uint8Array, originalLength: number): void {
    const cut = data.length > this.snaplen ? data.subarray(0, this.snaplen) : data;
    // A record that claims a frame shorter than what it carries (the stream is hostile like any input):
    // the frame was at least that long, and a packet captured past its own length is a malformed file.
    if (originalLength < data.length) originalLength = data.length;
    // So is its time: one that is no time since the epoch pcap can hold (NaN, negative, past 2106) is 0.
    micros = micros >= 0 && micros <= MAX_MICROS ? Math.floor(micros) : 0;
    this.#captured++;
    if (this.format === "pcap") {
      this.#out(pcapRecord(micros, cut, originalLength));
      return;
    }
    const entry = this.announce(port)!;
    entry.captured++;
    const flags = direction === Direction.In ? PCAPNG_INBOUND : PCAPNG_OUTBOUND;
    this.#out(pcapngPacket(entry.iface, micros, cut, originalLength, flags));
  }

  /**
   * Writes `port`'s interface block now if it has none yet (pcapng; pcap has
   * no interfaces), so a reader sees the port before its first frame.
   */
  announce(port: number): PortEntry | undefined {
    if (this.format === "pcap") return undefined;
    let entry = this.#ports.get(port);
    if (entry === undefined) {
      const description = this.#descriptions.get(port) ?? "";
      entry = { iface: this.#interfaces++, captured: 0, description };
      this.#ports.set(port, entry);
      this.#out(
        pcapngInterface(interfaceName(this.#switchName, port), description, this.snaplen, this.#filter),
      );
    }
    return entry;
  }

  /** Writes the statistics blocks (pcapng); call once, last. */
  finish(nowMicros: number): void {
    if (this.format === "pcap") return;
    const statistics = (entry: PortEntry, dropped: number) =>
      this.#out(pcapngStatistics(entry.iface, nowMicros, {
        startMicros: this.#startMicros,
        received: entry.captured,
        dropped,
      }));
    // The switch counts a slow reader's drops per port, not per client: they go on the port's last interface.
    for (const entry of this.#retired) statistics(entry, 0);
    for (const [port, entry] of this.#ports) {
      statistics(entry, (this.#dropped.get(port) ?? 0) + (this.#lost.get(port) ?? 0));
    }
  }
}

/** The latest time a pcap record holds: its seconds are 32 bits. */
const MAX_MICROS = (2 ** 32 - 1) * 1e6 + 999_999;

/** A port's interface name: `SWITCH port N`, or `port N` without a switch's name. */
export function interfaceName(switchName: string, port: number): string {
  return switchName === "" ? `port ${port}` : `${switchName} port ${port}`;
}

/** Microseconds since the epoch, with the monotonic clock's resolution. */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}
