/**
 * struct mmsghdr, as batched `recvmmsg`/`sendmmsg` calls use it, known in
 * one place: its layout on 64-bit Linux, and the receive arena: `count`
 * data slots of `slotSize` bytes, optionally a source-address slot each,
 * and the mmsghdr/iovec array that points the kernel at them, built once.
 *
 * Dispatch is synchronous on the main thread, so one arena per kind of
 * socket serves every socket of that kind; a datagram handed out is a view
 * into a slot that the next call overwrites.
 */
import { addressOf, C } from "../../ffi/libc.ts";

/** sizeof(struct mmsghdr) on 64-bit Linux. */
export const MMSG_SIZE = 64;
/** Offsets in struct mmsghdr (struct msghdr, then msg_len). */
export const MSG_NAME = 0;
export const MSG_NAMELEN = 8;
export const MSG_IOV = 16;
export const MSG_IOVLEN = 24;
export const MSG_CONTROL = 32;
export const MSG_CONTROLLEN = 40;
export const MSG_FLAGS = 48;
export const MSG_LEN = 56;
/** sizeof(struct iovec): iov_base, then iov_len. */
export const IOVEC_SIZE = 16;

/** A prepared receive arena for `recvmmsg`. */
export class RecvArena {
  /** The mmsghdr array to pass to recvmmsg. */
  readonly mmsg: Uint8Array;
  /** Every data slot at full size; datagrams are prefixes of these. */
  readonly slots: Uint8Array[] = [];
  /** Every source-address slot at full size (empty when `nameSize` is 0). */
  readonly nameSlots: Uint8Array[] = [];
  /**
   * The memory every slot is a view of. Given memory (`data`) may hold other
   * things too, so only an arena that made its own memory may be asked "is
   * this frame in the arena" by its `buffer`.
   */
  readonly buffer: ArrayBufferLike;
  /** The address of `buffer`'s first byte (so a frame's bytes are at address + byteOffset), a Number (user-space addresses stay below 2^53). */
  readonly address: number;
  readonly #view: DataView;
  readonly #data: Uint8Array;
  readonly #names: Uint8Array;
  readonly #iov: Uint8Array;
  /** The view `frame` last gave out for each slot. */
  readonly #frames: Uint8Array[];

  /** @param data the slots' memory when it must be somewhere in particular (at least count x slotSize bytes) */
  constructor(readonly count: number, readonly slotSize: number, readonly nameSize = 0, data?: Uint8Array) {
    if (data !== undefined && data.length < slotSize * count) {
      throw new RangeError(`receive arena: ${data.length} bytes given, ${slotSize * count} needed`);
    }
    this.#data = data !== undefined ? data.subarray(0, slotSize * count) : new Uint8Array(slotSize * count);
    this.#names = new Uint8Array(nameSize * count);
    this.#iov = new Uint8Array(IOVEC_SIZE * count);
    this.mmsg = new Uint8Array(MMSG_SIZE * count);
    this.#view = new DataView(this.mmsg.buffer);
    const dataAddr = addressOf(this.#data);
    this.buffer = this.#data.buffer;
    this.address = Number(dataAddr) - this.#data.byteOffset;
    const iovAddr = addressOf(this.#iov);
    const nameAddr = nameSize > 0 ? addressOf(this.#names) : 0n;
    const iv = new DataView(this.#iov.buffer);
    for (let i = 0; i < count; i++) {
      iv.setBigUint64(i * IOVEC_SIZE, dataAddr + BigInt(i * slotSize), true);
      iv.setBigUint64(i * IOVEC_SIZE + 8, BigInt(slotSize), true);
      const m = i * MMSG_SIZE;
      if (nameSize > 0) {
        this.#view.setBigUint64(m + MSG_NAME, nameAddr + BigInt(i * nameSize), true);
        this.#view.setUint32(m + MSG_NAMELEN, nameSize, true);
        this.nameSlots.push(this.#names.subarray(i * nameSize, (i + 1) * nameSize));
      }
      this.#view.setBigUint64(m + MSG_IOV, iovAddr + BigInt(i * IOVEC_SIZE), true);
      this.#view.setBigUint64(m + MSG_IOVLEN, 1n, true);
      this.slots.push(this.#data.subarray(i * slotSize, (i + 1) * slotSize));
    }
    this.#frames = this.slots.slice();
  }

  /**
   * Slot `i`'s first `len` bytes, a borrowed view (valid until the next call): the view of the last
   * datagram of that length in that slot, made again only when the length changes, so a stream of
   * frames of one size (a download's acknowledgements, 66 bytes each) makes no object per frame.
   */
  frame(i: number, len: number): Uint8Array {
    let view = this.#frames[i]!;
    if (view.length !== len) this.#frames[i] = view = this.slots[i]!.subarray(0, len);
    return view;
  }

  /** Bytes the kernel put in slot `i` by the last call. */
  length(i: number): number {
    return this.#view.getUint32(i * MMSG_SIZE + MSG_LEN, true);
  }

  /** Whether the datagram in slot `i` was longer than the slot (and cut). */
  truncated(i: number): boolean {
    return (this.#view.getInt32(i * MMSG_SIZE + MSG_FLAGS, true) & C.MSG_TRUNC) !== 0;
  }

  /**
   * The source address length of slot `i`, clamped to the slot; resets the
   * field for the next call (the kernel overwrites it with the real length).
   */
  takeNameLength(i: number): number {
    const at = i * MMSG_SIZE + MSG_NAMELEN;
    const n = Math.min(this.#view.getUint32(at, true), this.nameSize);
    this.#view.setUint32(at, this.nameSize, true);
    return n;
  }
}
