/**
 * The TCP engine's counters: one plain object per engine, shared by its
 * connections and bumped in place (no allocation), read by the console and
 * tests as `engine.stats`.
 */

/** Counters of one TCP engine. Gauges (current values) are marked. */
export type TcpStats = {
  /** Gauge: connections in the table, any state. */
  connections: number;
  /** Gauge: connections not yet established (host connect pending, SYN sent or received). */
  halfOpen: number;
  /** Gauge: connections in TIME-WAIT. */
  timeWait: number;
  /** Gauge: bytes held in connection buffers (send and receive rings, capacity). */
  bufferBytes: number;
  /** Outbound connections the guest opened (host connect started). */
  connectsOut: number;
  /** Outbound host connects that failed (refused, unreachable, timed out). */
  connectsFailed: number;
  /** Inbound connections accepted on a forward. */
  acceptsIn: number;
  /** Inbound connections the guest refused or never answered. */
  acceptsFailed: number;
  /** Guest SYNs dropped because a cap was reached. */
  synDropped: number;
  /** Half-open connections evicted to make room for new ones. */
  synEvicted: number;
  /** Connections fully established. */
  established: number;
  /** Connections closed in an orderly way. */
  closedOrderly: number;
  /** Connections reset or aborted. */
  closedAbort: number;
  /** Segments received from the guest. */
  segmentsIn: number;
  /** Segments sent to the guest. */
  segmentsOut: number;
  /** Payload bytes received from the guest (in order, first copy). */
  bytesIn: number;
  /** Payload bytes sent to the guest (including retransmissions). */
  bytesOut: number;
  /** Segments retransmitted (any cause). */
  retransmits: number;
  /** Fast retransmits (third duplicate ACK or NewReno partial ACK). */
  fastRetransmits: number;
  /** Retransmission timeouts. */
  rtoTimeouts: number;
  /** Holes retransmitted during SACK recovery (RFC 6675). */
  sackRetransmits: number;
  /** SACK retransmissions found lost (data sent after them arrived first) and sent again. */
  lostRetransmits: number;
  /** Tail loss probes sent (the last segment resent before the retransmission timeout). */
  tailLossProbes: number;
  /** Retransmission timeouts found spurious by their timestamps (the ACKs were late) and undone. */
  spuriousTimeouts: number;
  /** Fast recoveries found unneeded by their timestamps (the segment was late, not lost) and undone. */
  spuriousRecoveries: number;
  /** SACK blocks ignored (below the ACK, empty, or covering data never sent). */
  sackBlocksIgnored: number;
  /** Segments dropped as old duplicates by their timestamp (PAWS, RFC 7323). */
  pawsDropped: number;
  /** Duplicate ACKs received. */
  dupAcks: number;
  /** Out-of-order segments kept. */
  outOfOrder: number;
  /** Out-of-order segments dropped (range list full). */
  outOfOrderDropped: number;
  /**
   * Holes opened in the guest's data on a short path (a switch on this host):
   * once one is seen, receive windows on short paths are capped (see
   * `receiveWindowSegments` in tcb.ts).
   */
  shortPathLosses: number;
  /** Segments outside the receive window (answered with an ACK). */
  outOfWindow: number;
  /** Malformed segments dropped. */
  badSegments: number;
  /** Segments with a wrong checksum dropped. */
  badChecksum: number;
  /** RSTs received. */
  rstIn: number;
  /** RSTs sent. */
  rstOut: number;
  /** Zero-window probes sent. */
  windowProbes: number;
  /** Keep-alive probes sent. */
  keepAliveProbes: number;
  /** Connections dropped after unanswered keep-alives or retransmissions. */
  timeouts: number;
  /** Pure ACKs sent. */
  acksOut: number;
  /** Window updates sent when the host drained the receive buffer. */
  windowUpdates: number;
  /** Reads from host sockets. */
  hostReads: number;
  /** Writes to host sockets. */
  hostWrites: number;
};

/** A zeroed counter object. */
export function newTcpStats(): TcpStats {
  return {
    connections: 0,
    halfOpen: 0,
    timeWait: 0,
    bufferBytes: 0,
    connectsOut: 0,
    connectsFailed: 0,
    acceptsIn: 0,
    acceptsFailed: 0,
    synDropped: 0,
    synEvicted: 0,
    established: 0,
    closedOrderly: 0,
    closedAbort: 0,
    segmentsIn: 0,
    segmentsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    retransmits: 0,
    fastRetransmits: 0,
    rtoTimeouts: 0,
    sackRetransmits: 0,
    lostRetransmits: 0,
    tailLossProbes: 0,
    spuriousTimeouts: 0,
    spuriousRecoveries: 0,
    sackBlocksIgnored: 0,
    pawsDropped: 0,
    dupAcks: 0,
    outOfOrder: 0,
    outOfOrderDropped: 0,
    shortPathLosses: 0,
    outOfWindow: 0,
    badSegments: 0,
    badChecksum: 0,
    rstIn: 0,
    rstOut: 0,
    windowProbes: 0,
    keepAliveProbes: 0,
    timeouts: 0,
    acksOut: 0,
    windowUpdates: 0,
    hostReads: 0,
    hostWrites: 0,
  };
}
