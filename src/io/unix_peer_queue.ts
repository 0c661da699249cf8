/**
 * How much a connected unix datagram socket's peer can queue for us: the
 * peer's send buffer, read from the kernel's socket diagnostics.
 *
 * Theory of operation: a datagram sent on a unix socket stays charged to
 * the sender's send buffer until the receiver reads it, so what a sender
 * can have waiting in our queue is bounded by its SO_SNDBUF. A sender that
 * drops on EAGAIN (Debian's vde_switch) loses everything beyond that while
 * we are late; one that holds frames (ours) loses nothing, but its buffer
 * still says how much it queues in the kernel. We cannot ask the peer's
 * socket option, but NETLINK_SOCK_DIAG (what `ss -xm` reads) answers for
 * any unix socket by inode: first our own socket (its peer's inode), then
 * the peer's (its memory info, whose fourth word is the send buffer).
 * Best effort: any failure (no netlink, an old kernel, a peer not found)
 * is `null`, and the caller keeps its conservative default.
 *
 * `framesQueued` turns bytes of send buffer into frames: each datagram is
 * charged its truesize, the payload plus the shared-info trailer rounded up
 * to the allocator's power-of-two size, plus the skb itself. The kernel
 * checks the buffer before each allocation, so one more frame fits than the
 * division says (212,992 bytes, the usual default, hold 93 full-size
 * Ethernet frames).
 */
import { C, fstatOf, libc } from "../../ffi/libc.ts";

const AF_NETLINK = 16;
const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 1;
const NLMSG_ERROR = 2;
const NLMSG_HDR = 16;
const UNIX_DIAG_REQ = 24;
const UNIX_DIAG_MSG = 16;
const UDIAG_SHOW_PEER = 0x04;
const UDIAG_SHOW_MEMINFO = 0x20;
const UNIX_DIAG_PEER = 2;
const UNIX_DIAG_MEMINFO = 5;
/** Index of the send buffer in the memory info words (SK_MEMINFO_SNDBUF). */
const SK_MEMINFO_SNDBUF = 3;

/** What the kernel charges per queued datagram beyond its bytes: skb_shared_info (before rounding) and sk_buff. */
const SHARED_INFO = 320;
const SKB = 256;

/**
 * Full-size datagrams of `frameLen` bytes a sender with a send buffer of
 * `sndbuf` bytes can have queued at once.
 */
export function framesQueued(sndbuf: number, frameLen: number): number {
  let alloc = 512;
  while (alloc < frameLen + SHARED_INFO) alloc *= 2;
  return Math.ceil(sndbuf / (alloc + SKB));
}

/** The send buffer (bytes, as the kernel counts it) of the peer of the connected unix socket `fd`, or null. */
export function peerSendBuffer(fd: number): number | null {
  const ino = inodeOf(fd);
  if (ino === null) return null;
  const nl = libc().socket(AF_NETLINK, C.SOCK_DGRAM | C.SOCK_CLOEXEC | C.SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
  if (nl < 0) return null;
  try {
    const peer = query(nl, ino, UDIAG_SHOW_PEER, UNIX_DIAG_PEER);
    if (peer === null || peer.byteLength < 4) return null;
    const peerIno = peer.getUint32(0, true);
    if (peerIno === 0) return null;
    const mem = query(nl, peerIno, UDIAG_SHOW_MEMINFO, UNIX_DIAG_MEMINFO);
    if (mem === null || mem.byteLength < 4 * (SK_MEMINFO_SNDBUF + 1)) return null;
    const sndbuf = mem.getUint32(4 * SK_MEMINFO_SNDBUF, true);
    return sndbuf > 0 ? sndbuf : null;
  } finally {
    libc().close(nl);
  }
}

function inodeOf(fd: number): number | null {
  const ino = fstatOf(fd)?.ino;
  if (ino === undefined) return null;
  // sock_diag takes a 32-bit inode; socket inodes fit.
  return ino > 0n && ino <= 0xffffffffn ? Number(ino) : null;
}

/** Asks for the unix socket `ino` with `show`; the payload of its attribute `attr`, or null. */
function query(nl: number, ino: number, show: number, attr: number): DataView | null {
  const req = new Uint8Array(NLMSG_HDR + UNIX_DIAG_REQ);
  const q = new DataView(req.buffer);
  q.setUint32(0, req.length, true);
  q.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
  q.setUint16(6, NLM_F_REQUEST, true);
  q.setUint32(8, 1, true); // sequence number
  req[NLMSG_HDR] = C.AF_UNIX;
  q.setUint32(NLMSG_HDR + 4, 0xffffffff, true); // every state
  q.setUint32(NLMSG_HDR + 8, ino, true);
  q.setUint32(NLMSG_HDR + 12, show, true);
  q.setUint32(NLMSG_HDR + 16, 0xffffffff, true); // no cookie to check
  q.setUint32(NLMSG_HDR + 20, 0xffffffff, true);
  if (libc().send(nl, req, req.length, 0) !== req.length) return null;
  // The kernel answers a diagnostics request before send returns.
  const buf = new Uint8Array(8192);
  const n = libc().recv(nl, buf, buf.length, C.MSG_DONTWAIT);
  if (n < NLMSG_HDR + UNIX_DIAG_MSG) return null;
  const v = new DataView(buf.buffer, 0, n);
  const len = v.getUint32(0, true);
  if (v.getUint16(4, true) === NLMSG_ERROR || len > n || len < NLMSG_HDR + UNIX_DIAG_MSG) return null;
  // Attributes follow the message, each {u16 length, u16 type} and its payload, 4-aligned.
  let off = NLMSG_HDR + UNIX_DIAG_MSG;
  while (off + 4 <= len) {
    const alen = v.getUint16(off, true);
    if (alen < 4 || off + alen > len) return null;
    if ((v.getUint16(off + 2, true) & 0x3fff) === attr) return new DataView(buf.buffer, off + 4, alen - 4);
    off += (alen + 3) & ~3;
  }
  return null;
}
