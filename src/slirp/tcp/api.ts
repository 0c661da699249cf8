/**
 * The boundary between the slirp stack's core (Ethernet, ARP/NDP, IP, DHCP,
 * DNS, ICMP, UDP) and its TCP engine. The core parses frames and IP headers
 * and hands TCP segments here; the engine answers with segments that the
 * core wraps in IP and Ethernet. Addresses are byte arrays of 4 (IPv4) or
 * 16 (IPv6) bytes. Nothing here does I/O except through `TcpHostSide`.
 */

export type { SocketAddress } from "../../wire/ip_address.ts";

/** What the core gives the TCP engine. */
export interface TcpCoreSide {
  /**
   * Sends one TCP segment (header and payload, checksum filled in by the
   * engine) from `src` to `dst` towards the guest; the core adds IP and
   * Ethernet. The view is borrowed: the core copies or sends before returning.
   * `frame`, when given, is the buffer `segment` lies in, and the bytes
   * before the segment are free: the core writes its headers there instead
   * of copying the segment behind them.
   */
  sendSegment(src: Uint8Array, dst: Uint8Array, segment: Uint8Array, frame?: Uint8Array): void;
  /** Milliseconds on the stack's clock (fake in tests). */
  now(): number;
  /** Largest TCP payload the guest link carries (MTU minus IP and TCP headers). */
  mss(version: 4 | 6): number;
  /**
   * Optional: true while the link towards the guest is backed up. The
   * engine then holds new data until `TcpEngine.resume`, so its own bursts
   * are not lost in the link's queue.
   */
  congested?(): boolean;
  /**
   * Optional: the host has no route ("net") or no way ("host") to the
   * destination of a connection the guest opened; the core tells the guest
   * with ICMP (libslirp's choice), quoting a header rebuilt from the SYN
   * (`seq` is the SYN's sequence number). The engine still resets the
   * connection afterwards.
   */
  unreachable?(
    guest: Uint8Array,
    guestPort: number,
    far: Uint8Array,
    farPort: number,
    seq: number,
    code: "net" | "host",
  ): void;
}

/** What the core asks of the TCP engine. */
export interface TcpEngine {
  /**
   * A TCP segment from the guest, already checked to be within its IP
   * packet; `segment` is a borrowed view (header and payload).
   */
  input(src: Uint8Array, dst: Uint8Array, segment: Uint8Array): void;
  /** Runs timers (retransmission, keep-alive, TIME-WAIT); call at least every `nextTimerMs()`. */
  poll(): void;
  /** Milliseconds until `poll` needs to run again, or Infinity. */
  nextTimerMs(): number;
  /**
   * Optional (added by the TCP engine): sends the ACKs held back for
   * coalescing. Call it after each batch of `input` calls (one drain of the
   * link); without it, held ACKs still go out after a short delay through
   * `poll`, and every second full segment is ACKed at once regardless.
   */
  flush?(): void;
  /** Optional: the link towards the guest drained; send the data held back while it was congested. */
  resume?(): void;
  /** Counters for the console and tests. */
  readonly stats: Record<string, number>;
  /**
   * Closes every connection (RST to the guest, close host sockets). A
   * promise, where one is returned, settles once the forwards' host ports
   * are free to bind again (host.ts: a turn later).
   */
  close(): void | Promise<void>;
}
