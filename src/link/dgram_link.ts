/**
 * A Link over a connected non-blocking unix datagram socket, driven by the
 * shared poller: one datagram is one frame. The vde:// client and the
 * switch's per-port endpoints are both this, plus their control stream.
 */
import { C } from "../../ffi/libc.ts";
import { poller } from "../io/poller.ts";
import { type RecvCounters, UnixDgramSocket } from "../io/unix_dgram.ts";
import { BaseLink, logOnce } from "./link.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";

/** A datagram link; subclasses add the control connection. */
export class DgramLink extends BaseLink {
  readonly socket: UnixDgramSocket;
  readonly #fd: number;
  readonly #recv: RecvCounters = { oversize: 0 };
  readonly #deliver = (frame: Uint8Array) => this.deliver(frame);

  constructor(socket: UnixDgramSocket, description: string) {
    super(description);
    this.socket = socket;
    this.#fd = socket.fd;
    poller().add(this.#fd, { onReadable: () => this.#drain() });
  }

  /** Datagrams dropped because they were larger than a frame may be. */
  get oversizeDrops(): number {
    return this.#recv.oversize;
  }

  send(frame: Uint8Array): void {
    // A frame no VDE peer accepts is refused here rather than cut by the far side.
    if (this.isClosed || frame.length > VDE_MAX_FRAME) {
      this.stats.dropsOut++;
      return;
    }
    const err = this.socket.send(frame);
    if (err === 0) {
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
      return;
    }
    this.stats.dropsOut++;
    if (err !== C.EAGAIN && err !== C.ENOBUFS) {
      logOnce(`send:${this.description}:${err}`, `send to ${this.description} failed: errno ${err}`);
      if (err === C.ECONNREFUSED || err === C.ENOTCONN || err === C.EPERM) this.close("peer socket is gone");
    }
  }

  #drain(): void {
    if (this.isClosed) return;
    const before = this.#recv.oversize;
    const n = this.socket.recvBatch(this.#deliver, this.#recv);
    this.stats.dropsIn += this.#recv.oversize - before;
    if (n < 0) this.close(`receive failed: errno ${-n}`);
  }

  protected teardown(): void {
    poller().remove(this.#fd);
    this.socket.close();
  }
}
