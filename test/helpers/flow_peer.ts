/**
 * A stand-in for the link a source feeds, for flow-control tests: it says
 * it is congested until told otherwise and discards what it is sent.
 */
import { discard, type Link, newLinkStats } from "../../src/link/link.ts";

/** A link whose `congested` the test sets; `drain()` does what a datagram link does when its queue empties. */
export class FlowPeer implements Link {
  readonly kind = "memory" as const;
  readonly description = "flow peer";
  readonly stats = newLinkStats();
  readonly closed = new Promise<string>(() => {});
  onFrame = discard;
  onDrain: (() => void) | null = null;

  constructor(public congested = false) {}

  send(): void {}
  close(): void {}

  /** The queue empties: not congested any more, and the source is told. */
  drain(): void {
    this.congested = false;
    this.onDrain?.();
  }
}
