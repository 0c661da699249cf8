/**
 * A cable session: the Link a switch port (or a plug) holds for a cable,
 * which outlives the TCP connections that carry it.
 *
 * A session has at most one live connection. When it drops, the session
 * stays on its port (so MAC tables and the port number stay put) and frames
 * sent meanwhile are dropped and counted (a source that can wait waits
 * instead, see below); a new connection with the same session id takes over
 * where the old one was. A new connection also
 * replaces a live one: that is the hand-off when a host moves to another
 * address or interface. Who reconnects and how long a session may wait is
 * the client's and the listener's business (client.ts, listener.ts).
 * Where the session's frames go (`feeds`) is told to each connection in
 * turn, which stops reading while that is full (connection.ts); a source
 * feeding the session waits while the live connection is congested or there
 * is none (before the first, while a client reconnects), and is woken when it
 * drains, is replaced, a connection comes or the session ends.
 */
import { BaseLink, type FlowPeer } from "../link/link.ts";
import { hex } from "../wire/cable_handshake.ts";
import type { CableConnection } from "./connection.ts";

/** A cable's session as one end of a wire. */
export class CableSession extends BaseLink {
  readonly kind = "cable" as const;
  /** The session id both ends agree on. */
  readonly id: Uint8Array;
  /** The id in hex, as logs show it. */
  readonly idHex: string;
  #conn: CableConnection | null = null;
  /** Where this session's frames go, for flow control; each connection is told. */
  #peer: FlowPeer | null = null;
  /** Connections this session has had. */
  connections = 0;
  /** Called when the current connection ends, with the reason (not when replaced or closed). */
  onConnectionLost: (conn: CableConnection, reason: string) => void = () => {};

  constructor(description: string, id: Uint8Array) {
    super(description);
    this.id = id.slice();
    this.idHex = hex(id);
  }

  /** The live connection's latest round-trip time, when it measures one. */
  get rttSeconds(): number | undefined {
    return this.#conn?.rttSeconds;
  }

  /** The live connection, if any. */
  get connection(): CableConnection | null {
    return this.#conn;
  }

  /**
   * Makes `conn` the session's connection, closing the previous one. Frames
   * arriving on it go to this session's `onFrame`.
   */
  use(conn: CableConnection): void {
    if (this.isClosed) {
      conn.close("the session has ended");
      return;
    }
    const old = this.#conn;
    this.#conn = conn;
    this.connections++;
    if (old !== null) old.close("replaced by a new connection of the same session");
    conn.onFrame = (frame) => this.deliver(frame);
    conn.feeds(this.#peer);
    conn.onDrain = this.#drained;
    // A source waiting for the old connection to drain, or for a connection at all, waits for nothing now.
    this.#drained();
    conn.closed.then((reason) => {
      if (this.#conn !== conn) return;
      this.#conn = null;
      this.#drained();
      if (!this.isClosed) this.onConnectionLost(conn, reason);
    });
  }

  /**
   * True while the live connection is backed up (see CableConnection.congested), or there is none yet or
   * for now: a source that can wait (`vde plug`'s stdin before the cable connects, or while it reconnects)
   * does until `use` gives the session one, instead of its frames being dropped here.
   */
  get congested(): boolean {
    const c = this.#conn;
    return c === null ? !this.isClosed : c.congested;
  }

  onDrain: (() => void) | null = null;
  readonly #drained = () => this.onDrain?.();

  /** Holds the live connection's reading (and each later one's) while `peer` is congested. */
  feeds(peer: FlowPeer | null): void {
    this.#peer = peer;
    this.#conn?.feeds(peer);
  }

  /** Sends on the live connection; without one the frame is dropped and counted. Implements Link.send. */
  send(frame: Uint8Array): void {
    const c = this.#conn;
    if (c === null || this.isClosed) {
      this.stats.dropsOut++;
      return;
    }
    if (c.send(frame)) {
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
    } else {
      this.stats.dropsOut++;
    }
  }

  protected teardown(): void {
    const c = this.#conn;
    this.#conn = null;
    c?.close("the session has ended");
    // Nothing more to wait for: a waiting source finds the session closed.
    this.#drained();
  }
}
