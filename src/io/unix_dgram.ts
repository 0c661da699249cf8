/**
 * Non-blocking AF_UNIX datagram sockets on raw fds, for the data plane.
 *
 * Theory of operation: every socket is created SOCK_NONBLOCK. Receives drain
 * a socket with `recvmmsg` into one process-wide arena of 64 slots: dispatch
 * is synchronous on the main thread, so one arena serves every socket, and a
 * frame handed to a callback is a view into it that is reused by the next
 * batch. A datagram larger than a slot is reported by the kernel with
 * MSG_TRUNC and dropped, never delivered cut short. Sends are synchronous and
 * never block: EAGAIN (the peer's queue is full) is a drop, as in vde_switch.
 */
import {
  addressOf,
  C,
  check,
  cstr,
  direct,
  errno,
  libc,
  quietErrno,
  recvmmsgNow,
  SysError,
} from "../../ffi/libc.ts";
import { IOVEC_SIZE, MMSG_SIZE, MSG_IOV, MSG_IOVLEN, RecvArena } from "./mmsg.ts";
import { buildSockaddrUn, SOCKADDR_UN_LEN } from "../wire/sockaddr_un.ts";
import { setSocketBuffer, socketBufferSize } from "./socket_buffers.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { checksumBuffer } from "../wire/checksum_wasm.ts";
import { bindPrivately, type SocketOwner } from "../os/private_socket.ts";

/** Frames per recvmmsg call. */
export const BATCH = 64;
/** Slot size: one byte more than the largest frame, so oversize shows as MSG_TRUNC. */
const SLOT = VDE_MAX_FRAME + 6;

let arena: RecvArena | null = null;

/** Outcome counters of a receive pass, reported to the caller. */
export interface RecvCounters {
  /** Datagrams larger than VDE_MAX_FRAME, dropped. */
  oversize: number;
}

/** A non-blocking unix datagram socket. */
export class UnixDgramSocket {
  #fd: number;
  #boundPath: string | null = null;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Creates an unbound, unconnected socket. */
  static create(): UnixDgramSocket {
    const fd = check("socket", libc().socket(C.AF_UNIX, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0));
    return new UnixDgramSocket(fd);
  }

  /** Wraps an open non-blocking datagram socket, which this object then owns (closes). */
  static adopt(fd: number): UnixDgramSocket {
    return new UnixDgramSocket(fd);
  }

  /** The file descriptor, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** The path this socket is bound to, if any. */
  get boundPath(): string | null {
    return this.#boundPath;
  }

  /** Binds to `path`; throws SysError (EADDRINUSE when it exists). */
  bind(path: string): void {
    const addr = buildSockaddrUn(path);
    check("bind", libc().bind(this.#fd, addr, SOCKADDR_UN_LEN));
    this.#boundPath = path;
  }

  /**
   * Binds to `path`, mode `mode` from its first moment whatever the umask
   * (os/private_socket.ts): nobody else can connect in before a chmod.
   * `owner` is its owner and group from that moment too. Throws AlreadyExists when `path` is taken.
   */
  bindPrivate(path: string, mode: number, owner?: SocketOwner): void {
    try {
      bindPrivately(path, mode, (staged) => this.bind(staged), owner);
    } finally {
      // The staged name is gone either way (and may be another bind's by a close): only `path` is ours.
      this.#boundPath = null;
    }
    this.#boundPath = path;
  }

  /**
   * Forgets the bound name: `close` then unlinks nothing, the owner removes it (a switch's port, by its
   * held directory, which may be closed by the time a data-plane thread lets go of the socket).
   */
  leaveName(): void {
    this.#boundPath = null;
  }

  /** Connects to the socket at `path`, so only it may send to us. */
  connect(path: string): void {
    const addr = buildSockaddrUn(path);
    check("connect", libc().connect(this.#fd, addr, SOCKADDR_UN_LEN));
  }

  /**
   * Asks for larger kernel buffers; best effort. The send buffer is what
   * bounds a burst to a connected peer (the kernel charges each queued
   * datagram to the sender), so a bigger one means fewer frames wait in our
   * own queue. Above net.core.wmem_max/rmem_max it takes CAP_NET_ADMIN
   * (see setSocketBuffer).
   */
  setBuffers(bytes: number): void {
    setSocketBuffer(this.#fd, "send", bytes);
    setSocketBuffer(this.#fd, "receive", bytes);
  }

  /** The kernel's send buffer size in bytes, as SO_SNDBUF reports it. */
  get sendBufferSize(): number {
    return socketBufferSize(this.#fd, "send");
  }

  /**
   * Sends one datagram without blocking. Returns 0 on success, otherwise the
   * errno (EAGAIN: the peer's queue is full).
   */
  send(frame: Uint8Array): number {
    // Per frame: libc's syscall, not glibc's send, a cancellation point (ffi/libc.ts `direct`).
    const n = direct.send(this.#fd, frame, frame.length, C.MSG_DONTWAIT | C.MSG_NOSIGNAL);
    return n < 0 ? errno() : 0;
  }

  /**
   * Receives up to one batch of datagrams and calls `onFrame` for each, with
   * a borrowed view. Returns the number of datagrams read, 0 when none was
   * waiting, or -errno on a socket error that repeats (a socket's pending
   * error is reported once: see recvmmsgNow).
   */
  recvBatch(onFrame: (frame: Uint8Array) => void, counters: RecvCounters): number {
    // In the checksum module's memory: a TCP segment the slirp takes from a frame here is verified in
    // place, not copied there first (at MTU 65520, 9 KB a frame).
    const a = arena ??= new RecvArena(BATCH, SLOT, 0, checksumBuffer(BATCH * SLOT));
    const n = recvmmsgNow(this.#fd, a.mmsg, BATCH);
    if (n < 0) {
      const e = errno();
      return quietErrno(e) ? 0 : -e;
    }
    for (let i = 0; i < n; i++) {
      const len = a.length(i);
      if (a.truncated(i) || len > VDE_MAX_FRAME) {
        counters.oversize++;
        continue;
      }
      onFrame(a.frame(i, len));
    }
    return n;
  }

  /** Closes the fd and unlinks the bound path if `unlink` is set. */
  close(unlink = true): void {
    if (this.#fd < 0) return;
    libc().close(this.#fd);
    this.#fd = -1;
    if (unlink && this.#boundPath !== null) {
      try {
        Deno.removeSync(this.#boundPath);
      } catch { /* already gone */ }
    }
  }
}

/** True if `err` is a SysError with errno `code`. */
export function isErrno(err: unknown, code: number): boolean {
  return err instanceof SysError && err.code === code;
}

/** access(path, R_OK|W_OK) as the current user: true when allowed. */
export function canReadWrite(path: string): boolean {
  return libc().access(cstr(path), C.R_OK | C.W_OK) === 0;
}

/** Frames staged for batched sends in one dispatch round, across all sockets. */
const SEND_SLOTS = 256;

/**
 * Stages frames sent during a poller round and sends each socket's share
 * with one `sendmmsg` when the round ends. Frames are copied into one
 * process-wide arena (a round's receive views are reused by the next
 * batch); the per-frame system call becomes one per socket per round.
 */
export class SendBatcher {
  readonly #data = new Uint8Array(SLOT * SEND_SLOTS);
  readonly #iov = new Uint8Array(IOVEC_SIZE * SEND_SLOTS);
  readonly #iovView = new DataView(this.#iov.buffer);
  readonly #mmsg = new Uint8Array(MMSG_SIZE * SEND_SLOTS);
  readonly #mmsgView = new DataView(this.#mmsg.buffer);
  /** Address of each slot's iovec as two 32-bit halves, so building a call allocates no BigInt. */
  readonly #iovLo = new Uint32Array(SEND_SLOTS);
  readonly #iovHi = new Uint32Array(SEND_SLOTS);
  /** Where each slot's bytes are, as two 32-bit halves: its own data slot, or a lent frame's memory. */
  readonly #baseLo = new Uint32Array(SEND_SLOTS);
  readonly #baseHi = new Uint32Array(SEND_SLOTS);
  /** The address of `#data`, a Number (user-space addresses stay below 2^53). */
  readonly #dataAddr: number;
  readonly #lengths = new Uint32Array(SEND_SLOTS);
  #used = 0;

  constructor() {
    const dataAddr = addressOf(this.#data);
    this.#dataAddr = Number(dataAddr);
    const iovAddr = addressOf(this.#iov);
    for (let i = 0; i < SEND_SLOTS; i++) {
      const a = iovAddr + BigInt(i * IOVEC_SIZE);
      this.#iovLo[i] = Number(a & 0xffffffffn);
      this.#iovHi[i] = Number(a >> 32n);
      this.#mmsgView.setBigUint64(i * MMSG_SIZE + MSG_IOVLEN, 1n, true);
    }
  }

  /** Free slots left in this round. */
  get free(): number {
    return SEND_SLOTS - this.#used;
  }

  /** Copies `frame` into a slot and returns its index; the caller checks `free` first. */
  stage(frame: Uint8Array): number {
    const slot = this.#used++;
    this.#data.set(frame, slot * SLOT);
    this.#lengths[slot] = frame.length;
    this.#point(slot, this.#dataAddr + slot * SLOT);
    return slot;
  }

  /**
   * Stages `length` bytes at `address` without copying them and returns the
   * slot; the caller checks `free` first, and keeps that memory unchanged
   * and alive until the round is sent or reset (a receive arena's frame,
   * sent before the next receive overwrites it). Not for `view`.
   */
  lend(address: number, length: number): number {
    const slot = this.#used++;
    this.#lengths[slot] = length;
    this.#point(slot, address);
    return slot;
  }

  #point(slot: number, address: number): void {
    // ToUint32 is the address modulo 2^32: the low half without a BigInt.
    const lo = address >>> 0;
    this.#baseLo[slot] = lo;
    this.#baseHi[slot] = (address - lo) / 4294967296;
  }

  /** The length of the frame staged in `slot` (no view made: a round counts every frame it sends). */
  length(slot: number): number {
    return this.#lengths[slot]!;
  }

  /** The staged bytes of a copied `slot` (a view; valid until the round ends). */
  view(slot: number): Uint8Array {
    return this.#data.subarray(slot * SLOT, slot * SLOT + this.#lengths[slot]!);
  }

  /**
   * Sends the staged `slots[0, count)` on `fd` with one sendmmsg. Returns how
   * many left (a prefix), or -errno when none did.
   */
  sendmmsg(fd: number, slots: Int32Array, count: number): number {
    const m = this.#mmsgView;
    const iv = this.#iovView;
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      // iov_base, iov_len and msg_iov as 32-bit halves (little-endian u64s).
      iv.setUint32(slot * IOVEC_SIZE, this.#baseLo[slot]!, true);
      iv.setUint32(slot * IOVEC_SIZE + 4, this.#baseHi[slot]!, true);
      iv.setUint32(slot * IOVEC_SIZE + 8, this.#lengths[slot]!, true);
      iv.setUint32(slot * IOVEC_SIZE + 12, 0, true);
      m.setUint32(i * MMSG_SIZE + MSG_IOV, this.#iovLo[slot]!, true);
      m.setUint32(i * MMSG_SIZE + MSG_IOV + 4, this.#iovHi[slot]!, true);
    }
    const n = direct.sendmmsg(fd, this.#mmsg, count, C.MSG_DONTWAIT | C.MSG_NOSIGNAL);
    return n < 0 ? -errno() : n;
  }

  /** Starts a new round: every slot is free again. */
  reset(): void {
    this.#used = 0;
  }
}
