/**
 * The one RST builder of the slirp TCP layer: the segment that answers a
 * segment belonging to no connection (RFC 9293 section 3.10.7.1). The
 * engine uses it for segments it refuses, and the refusing stand-in engine
 * (tcp_stub.ts) for every segment.
 *
 * With ACK set, the RST takes its sequence number from the ACK field;
 * otherwise it has sequence 0 and acknowledges everything the segment
 * occupied (payload, SYN and FIN each count one). A RST is never answered.
 */
import {
  setTcpChecksum,
  TCP_ACK,
  TCP_FIN,
  TCP_HEADER_LEN,
  TCP_RST,
  TCP_SYN,
  type TcpRepr,
  writeTcpBase,
} from "../../wire/tcp.ts";
import { seqAdd } from "./seq.ts";

/**
 * Writes into `b` (at least TCP_HEADER_LEN bytes) the RST from `dst` to
 * `src` that answers `r`, checksum included.
 *
 * @returns the RST's length, or 0 when `r` is itself a RST (never answered)
 */
export function writeResetFor(b: Uint8Array, src: Uint8Array, dst: Uint8Array, r: TcpRepr): number {
  if ((r.flags & TCP_RST) !== 0) return 0;
  if ((r.flags & TCP_ACK) !== 0) {
    writeTcpBase(b, 0, r.dstPort, r.srcPort, r.ack, 0, TCP_HEADER_LEN, TCP_RST, 0);
  } else {
    const len = r.payloadLength + ((r.flags & TCP_SYN) !== 0 ? 1 : 0) + ((r.flags & TCP_FIN) !== 0 ? 1 : 0);
    writeTcpBase(b, 0, r.dstPort, r.srcPort, 0, seqAdd(r.seq, len), TCP_HEADER_LEN, TCP_RST | TCP_ACK, 0);
  }
  setTcpChecksum(dst, src, b.subarray(0, TCP_HEADER_LEN));
  return TCP_HEADER_LEN;
}
