/**
 * A stand-in TCP engine that refuses every connection: each segment from
 * the guest (other than a RST) is answered with a RST, as a host with no
 * listener would. The stack uses it when no TCP engine is available, and
 * `tcpReset` also answers segments the stack refuses itself (restricted
 * mode, a destination nobody may reach). The RST is built by the TCP
 * layer's one builder (tcp/reset.ts).
 */
import { newTcpRepr, parseTcp, TCP_HEADER_LEN } from "../wire/tcp.ts";
import type { TcpCoreSide, TcpEngine } from "./tcp/api.ts";
import { writeResetFor } from "./tcp/reset.ts";

const repr = newTcpRepr();
const out = new Uint8Array(TCP_HEADER_LEN);

/**
 * Sends the RST that answers `segment` (from `src` to `dst`) through `core`.
 * Nothing is sent for a RST or for a segment that is not well-formed TCP.
 */
export function tcpReset(core: TcpCoreSide, src: Uint8Array, dst: Uint8Array, segment: Uint8Array): void {
  if (typeof parseTcp(segment, repr, { urgentPastData: "clamp" }) === "string") return;
  if (writeResetFor(out, src, dst, repr) === 0) return;
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
