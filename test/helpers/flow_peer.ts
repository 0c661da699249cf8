/**
 * A stand-in for the link a source feeds, with flow control only: it reads
 * as congested while `full` is set, and `drain()` empties it and calls the
 * `onDrain` the source hooked on (link.ts's FlowPeer), as a switch's socket
 * does once its queue is written.
 */
import type { FlowPeer } from "../../src/link/link.ts";

/** A FlowPeer the test fills and drains by hand. */
export interface FullablePeer extends FlowPeer {
  full: boolean;
  drain(): void;
}

/** A peer that says it is full while `full` is set; `drain()` empties it and calls its onDrain. */
export function fullablePeer(): FullablePeer {
  const peer = {
    full: false,
    onDrain: null as (() => void) | null,
    get congested(): boolean {
      return peer.full;
    },
    drain(): void {
      peer.full = false;
      peer.onDrain?.();
    },
  };
  return peer;
}

/**
 * Feeds `link` into a fresh fullable peer that fills after the `at`-th frame of every hundred (10: the 10th,
 * 110th, ...); returns the peer and the ids (`idOf`) of the frames delivered, in order.
 */
export function feedsFillingPeer(
  link: { onFrame: (frame: Uint8Array) => void; feeds(peer: FlowPeer | null): void },
  idOf: (frame: Uint8Array) => number,
  at = 10,
): { peer: FullablePeer; got: number[] } {
  const peer = fullablePeer();
  const got: number[] = [];
  link.onFrame = (f) => {
    got.push(idOf(f));
    if (got.length % 100 === at) peer.full = true;
  };
  link.feeds(peer);
  return { peer, got };
}
