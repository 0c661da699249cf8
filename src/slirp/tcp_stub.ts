/**
 * A stand-in TCP engine that refuses every connection: each segment from
 * the guest (other than a RST) is answered with a RST, as a host with no
 * listener would (RFC 9293 3.10.7.1). The stack uses it when no TCP engine
 * is available, and `tcpReset` also answers segments the stack refuses
 * itself (restricted mode, a destination nobody may reach).
 */
import { transportChecksum } from "../wire/checksum.ts";
import type { TcpCoreSide, TcpEngine } from "./tcp/api.ts";

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

const out = new Uint8Array(20);

/**
 * Sends the RST that answers `segment` (from `src` to `dst`) through `core`.
 * Nothing is sent for a RST or for a segment too short to be TCP.
 */
export function tcpReset(core: TcpCoreSide, src: Uint8Array, dst: Uint8Array, segment: Uint8Array): void {
  if (segment.length < 20) return;
  const flags = segment[13]!;
  if ((flags & RST) !== 0) return;
  const dataOffset = (segment[12]! >> 4) * 4;
  if (dataOffset < 20 || dataOffset > segment.length) return;
  const seq = ((segment[4]! << 24) | (segment[5]! << 16) | (segment[6]! << 8) | segment[7]!) >>> 0;
  out.fill(0);
  out[0] = segment[2]!;
  out[1] = segment[3]!;
  out[2] = segment[0]!;
  out[3] = segment[1]!;
  out[12] = 5 << 4;
  if ((flags & ACK) !== 0) {
    out.set(segment.subarray(8, 12), 4);
    out[13] = RST;
  } else {
    let len = segment.length - dataOffset;
    if ((flags & SYN) !== 0) len++;
    if ((flags & FIN) !== 0) len++;
    const ack = (seq + len) >>> 0;
    out[8] = ack >>> 24;
    out[9] = (ack >>> 16) & 0xff;
    out[10] = (ack >>> 8) & 0xff;
    out[11] = ack & 0xff;
    out[13] = RST | ACK;
  }
  const c = transportChecksum(dst, src, 6, out);
  out[16] = c >>> 8;
  out[17] = c & 0xff;
  core.sendSegment(dst, src, out);
}

/** The refusing engine. */
export function createRefusingTcpEngine(core: TcpCoreSide): TcpEngine {
  const stats = { resets: 0 };
  return {
    input(src, dst, segment) {
      stats.resets++;
      tcpReset(core, src, dst, segment);
    },
    poll() {},
    nextTimerMs: () => Infinity,
    stats,
    close() {},
  };
}
