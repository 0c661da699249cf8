/**
 * `seqpacket://FD`: a unix SOCK_SEQPACKET socket this process inherited as
 * descriptor FD (a parent made a socketpair and passed one end), one
 * message per frame, as vdeplug4's seqpacket module. FD is read as
 * strtol(FD, 0) does: decimal, 0x hex or 0 octal.
 *
 * Theory of operation. The descriptor is checked (open, a socket, one that
 * keeps message boundaries: SEQPACKET, or DGRAM, which vdeplug4 would take
 * too; a stream socket would run frames together, and is refused), made
 * non-blocking and close-on-exec (a cmd:// child must not hold our end
 * open), and adopted by an ordinary datagram link (dgram_link.ts: its
 * length checks, its queue for a slow peer), read on the main thread (see
 * SeqpacketLink for why never on a plug thread). A
 * SEQPACKET peer that closes makes every read return an empty message:
 * that is the end of the link, not a runt frame, or the poller would wake
 * for it forever.
 */
import { C, libc } from "../../ffi/libc.ts";
import { UnixDgramSocket } from "../io/unix_dgram.ts";
import { DgramLink } from "./dgram_link.ts";
import { BaseLink } from "./link.ts";
import { registerScheme } from "./registry.ts";

const SO_TYPE = 3;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const SOCK_STREAM = 1;

/**
 * The descriptor a `seqpacket://` VNL names.
 *
 * @throws Error with one line for text that is no descriptor number
 */
export function parseSeqpacketFd(rest: string): number {
  const text = rest.trim();
  const n = /^0x[0-9a-f]+$/i.test(text)
    ? parseInt(text.slice(2), 16)
    : /^0[0-7]+$/.test(text)
    ? parseInt(text, 8)
    : /^\d+$/.test(text)
    ? Number(text)
    : NaN;
  if (!(n >= 0 && n <= 0x7fffffff)) {
    throw new Error(
      `seqpacket:// takes the number of an inherited socket descriptor (seqpacket://3), got "${rest}"`,
    );
  }
  return n;
}

/** The socket type of `fd` (SOCK_SEQPACKET...), or a reason it has none. */
function socketType(fd: number): number | string {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  if (libc().getsockopt(fd, C.SOL_SOCKET, SO_TYPE, value, length) === 0) return value[0]!;
  try {
    Deno.readLinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return `descriptor ${fd} is not open (a parent passes it: seqpacket://FD names an inherited socket)`;
  }
  return `descriptor ${fd} is not a socket`;
}

/** The datagram link under a seqpacket:// link: its peer's end of file is an empty message. */
class MessageSocketLink extends DgramLink {
  readonly #endsOnEmpty: boolean;

  constructor(socket: UnixDgramSocket, description: string, endsOnEmpty: boolean) {
    super(socket, description);
    this.#endsOnEmpty = endsOnEmpty;
  }

  protected override deliver(frame: Uint8Array): void {
    if (frame.length === 0 && this.#endsOnEmpty) this.close("peer closed its end");
    else super.deliver(frame);
  }
}

/**
 * A seqpacket:// link. It wraps its datagram link rather than being one, so
 * it lends no fd to a plug thread: that thread would read the peer's end
 * of file as empty frames, and spin on them.
 */
export class SeqpacketLink extends BaseLink {
  readonly kind = "seqpacket" as const;
  readonly #inner: MessageSocketLink;

  /** Adopts `fd`, checked; throws a one-line reason when it is no message socket. */
  static open(fd: number): SeqpacketLink {
    const type = socketType(fd);
    if (typeof type === "string") throw new Error(type);
    if (type === SOCK_STREAM) {
      throw new Error(
        `seqpacket://${fd}: descriptor ${fd} is a stream socket, which keeps no frame boundaries`,
      );
    }
    const flags = libc().fcntl(fd, C.F_GETFL, 0);
    if (flags < 0 || libc().fcntl(fd, C.F_SETFL, flags | C.O_NONBLOCK) < 0) {
      throw new Error(`descriptor ${fd} cannot be made non-blocking`);
    }
    libc().fcntl(fd, F_SETFD, FD_CLOEXEC);
    const description = `seqpacket://${fd}`;
    return new SeqpacketLink(
      new MessageSocketLink(UnixDgramSocket.adopt(fd), description, type === C.SOCK_SEQPACKET),
    );
  }

  private constructor(inner: MessageSocketLink) {
    super(inner.description);
    this.#inner = inner;
    inner.onFrame = (frame) => this.deliver(frame);
    inner.closed.then((reason) => this.close(reason));
  }

  /** Implements Link.send. */
  send(frame: Uint8Array): void {
    if (this.countOut(frame)) this.#inner.send(frame);
  }

  /** The datagram link's flow control: true while frames wait for a slow peer. */
  get congested(): boolean {
    return this.#inner.congested;
  }

  get onDrain(): (() => void) | null {
    return this.#inner.onDrain ?? null;
  }

  set onDrain(fn: (() => void) | null) {
    this.#inner.onDrain = fn;
  }

  protected teardown(): void {
    this.#inner.close();
  }
}

registerScheme("seqpacket", (rest) => Promise.resolve(SeqpacketLink.open(parseSeqpacketFd(rest))));
