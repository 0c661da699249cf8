/**
 * A connected stream socket on a raw fd with the part of Deno.Conn the
 * servers use (`read`, `write`, `close`), plus `writeAll`: the connection
 * of every stream server on raw fds (the switch's ctl socket and the
 * management socket, both accepted by `UnixStreamListener`). Raw fds because
 * Deno hides a Deno.Conn's fd, and the servers need it: the ctl socket asks
 * the kernel who the client is (SO_PEERCRED), the management socket sizes
 * the send buffer.
 *
 * Why the send buffer matters: a console reply can be megabytes (`hash/print`
 * of 65,536 MACs is 4.7 MB), and Debian's `unixcmd` reads it 256 bytes at a
 * time with a `poll` before each read. Behind the system's default send
 * buffer (~208 KiB, refilled as soon as half of it drained) that client never
 * found the socket empty: it ran without a pause for a whole listing and
 * kept a core for up to a timer tick (4 ms) at a time, and every thread a
 * ping crosses that woke on that core (the plugs, the switch thread) waited
 * behind it (measured with kernel scheduler tracepoints). Behind a small
 * buffer the same client drains it in a fraction of a millisecond and
 * sleeps until the server writes again: it runs in short bursts, and the
 * listing took no longer nor more CPU on either side.
 *
 * Theory of operation: the fd is non-blocking and registered with the
 * main thread's poller with no interest at first. `read` receives straight
 * into the caller's buffer; only when the socket is empty does it turn read
 * interest on and wait, and the readiness turns it off again (so nothing is
 * read ahead of the caller: a client whose replies back up is simply not
 * read, and its commands wait in the kernel). `write` sends what fits and
 * returns the count, like Deno.Conn.write; when nothing fits it waits for
 * writability the same way. `writeAll` repeats it until every byte left (a
 * handshake reply must arrive whole, and a full buffer only delays it). A
 * hang-up or error wakes both sides, whose next call sees it from the kernel
 * (0 or the error).
 */
import { C, direct, errno, libc, SysError } from "../../ffi/libc.ts";
import { poller } from "./poller.ts";
import { setSocketBuffer } from "./socket_buffers.ts";

/** Options of a StreamConn. */
export interface StreamConnOptions {
  /** SO_SNDBUF for the socket (the kernel doubles it); the system's default when absent. */
  sendBufferBytes?: number;
}

/** A connected non-blocking stream socket (see the file comment); it owns the fd. */
export class StreamConn {
  #fd: number;
  #readers: (() => void)[] = [];
  #writers: (() => void)[] = [];
  /** The fd left the poller after a hang-up; reads and writes go straight to the kernel. */
  #unwatched = false;

  constructor(fd: number, opts: StreamConnOptions = {}) {
    this.#fd = fd;
    // A refusal leaves the default buffer: slower to share a core, never wrong.
    if (opts.sendBufferBytes !== undefined) setSocketBuffer(fd, "send", opts.sendBufferBytes);
    poller().add(fd, {
      onReadable: (events) => this.#ready(events),
      onWritable: () => {
        poller().setWriteInterest(this.#fd, false);
        this.#wake(false);
      },
    }, 0);
  }

  get fd(): number {
    return this.#fd;
  }

  #ready(events: number): void {
    poller().setReadInterest(this.#fd, false);
    if ((events & (C.EPOLLHUP | C.EPOLLERR)) !== 0) {
      // Reported whatever the interest: unwatch, or the poller would spin on it.
      // The kernel still answers every later call (the data left, then 0 or the error).
      this.#unwatched = true;
      poller().remove(this.#fd);
      this.#wake(false);
    }
    this.#wake(true);
  }

  #wake(readers: boolean): void {
    const list = readers ? this.#readers : this.#writers;
    if (readers) this.#readers = [];
    else this.#writers = [];
    for (const w of list) w();
  }

  #wait(readers: boolean): Promise<void> {
    if (this.#unwatched) return Promise.resolve();
    if (readers) poller().setReadInterest(this.#fd, true);
    else poller().setWriteInterest(this.#fd, true);
    return new Promise<void>((resolve) => (readers ? this.#readers : this.#writers).push(resolve));
  }

  /** Like Deno.Conn.read: bytes into `buf`, or null at end of stream; rejects once closed or on error. */
  async read(buf: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#fd < 0) throw new Deno.errors.BadResource("connection closed");
      // Per read and write: libc's syscall, not glibc's wrappers, cancellation points (ffi/libc.ts `direct`).
      const n = direct.recv(this.#fd, buf, buf.length, C.MSG_DONTWAIT);
      if (n > 0) return n;
      if (n === 0) return null;
      const e = errno();
      if (e !== C.EAGAIN && e !== C.EINTR) throw new SysError("recv", e);
      if (this.#unwatched) return null;
      await this.#wait(true);
    }
  }

  /** Like Deno.Conn.write: sends what fits of `b` (at least one byte) and returns the count. */
  async write(b: Uint8Array): Promise<number> {
    for (;;) {
      if (this.#fd < 0) throw new Deno.errors.BadResource("connection closed");
      const n = direct.send(this.#fd, b, b.length, C.MSG_DONTWAIT | C.MSG_NOSIGNAL);
      if (n >= 0) return n;
      const e = errno();
      if (e !== C.EAGAIN && e !== C.EINTR) throw new SysError("send", e);
      if (this.#unwatched) throw new SysError("send", e);
      await this.#wait(false);
    }
  }

  /** Writes every byte of `b`, waiting for room as often as needed; rejects as `write` does. */
  async writeAll(b: Uint8Array): Promise<void> {
    for (let off = 0; off < b.length;) off += await this.write(off === 0 ? b : b.subarray(off));
  }

  /** Closes the fd; pending reads and writes reject. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    if (!this.#unwatched) poller().remove(this.#fd);
    libc().close(this.#fd);
    this.#fd = -1;
    this.#wake(true);
    this.#wake(false);
  }
}
