/**
 * The latency floor of the bench's one-at-a-time connection row (issue 13):
 * what a slirp that cost no time at all would reach through the same chain.
 *
 * A connection through a forward, one at a time, waits on the chain between
 * the slirp and the guest (switch, the guest's `vde_plug tap://`, the tap,
 * the guest's kernel) at least twice: the slirp's SYN for the guest's
 * SYN-ACK, then the slirp's ACK for the acceptor's byte and FIN. Between
 * those, the guest's kernel and the acceptor work, and the host's client
 * connects and reads, whatever the slirp. So one connection takes at least
 *
 *   guest part (measured without slirp or switch: a host client to the same
 *   acceptor through a plain veth) + CHAIN_ROUND_TRIPS x the chain's RTT
 *   (the guest's ping to the gateway, answered by the slirp itself).
 *
 * Both terms are measured in the same run. The ping's RTT includes the
 * slirp's answer to the echo, and the veth's connection includes a veth
 * round trip or two, so the floor errs low on time (high on rate) only by
 * what those cost. Pure: parsing and arithmetic, no I/O.
 */

/** Chain round trips a one-at-a-time connection must wait for (SYN -> SYN-ACK; ACK -> data and FIN). */
export const CHAIN_ROUND_TRIPS = 2;

/** The per-reply round-trip times (ms) of iputils' or busybox's ping output, in order. */
export function pingTimesMs(output: string): number[] {
  const times: number[] = [];
  for (const m of output.matchAll(/\btime[=<]([\d.]+) ?ms\b/g)) {
    const v = Number(m[1]);
    if (Number.isFinite(v)) times.push(v);
  }
  return times;
}

/** Microseconds one connection takes at `connPerS` connections per second, one at a time. */
export function usPerConnection(connPerS: number): number {
  return connPerS > 0 ? 1e6 / connPerS : Infinity;
}

/** How many of the chain's ping round trips one connection lasts. */
export function roundTripsPerConnection(connPerS: number, rttUs: number): number {
  return rttUs > 0 ? usPerConnection(connPerS) / rttUs : NaN;
}

/**
 * Connections/s of a slirp costing zero time: one connection lasts the
 * guest part (µs) plus `roundTrips` of the chain's RTT (µs).
 */
export function floorConnPerS(guestUs: number, rttUs: number, roundTrips = CHAIN_ROUND_TRIPS): number {
  const us = guestUs + roundTrips * rttUs;
  return us > 0 ? 1e6 / us : NaN;
}
