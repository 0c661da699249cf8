/**
 * MemoryLink: the one in-memory Link for tests, as gVisor's channel endpoint
 * is for its stack. `MemoryLink.pair()` gives two ends of a wire: what one
 * sends, the other receives at once, and closing one closes the other. A
 * lone link (no peer) records what it is sent in `sent` and takes frames to
 * deliver through `receive`, so a test stands on the far side of a switch
 * port. Flow control is the test's to drive: set `congested`, then `drain()`
 * does what a datagram link does when its queue empties.
 */
import { BaseLink } from "../../src/link/link.ts";
import { VDE_MAX_FRAME } from "../../src/wire/ethernet.ts";

/** An in-memory end of a virtual wire. */
export class MemoryLink extends BaseLink {
  readonly kind = "memory" as const;
  /** The other end; null for a lone link. */
  peer: MemoryLink | null = null;
  /** Copies of the frames sent to a lone link, oldest first. */
  readonly sent: Uint8Array[] = [];
  /** Implements Link.congested; the test sets it. */
  congested = false;
  /** Implements Link.onDrain. */
  onDrain: (() => void) | null = null;

  /** Two joined ends. */
  static pair(a = "memory a", b = "memory b"): [MemoryLink, MemoryLink] {
    const x = new MemoryLink(a);
    const y = new MemoryLink(b);
    x.peer = y;
    y.peer = x;
    return [x, y];
  }

  /** Implements Link.send: to the peer at once, or into `sent`; a frame over 9234 bytes is dropped. */
  send(frame: Uint8Array): void {
    if (this.isClosed || frame.length > VDE_MAX_FRAME) {
      this.stats.dropsOut++;
      return;
    }
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    if (this.peer === null) this.sent.push(frame.slice());
    else this.peer.deliver(frame);
  }

  /** Delivers `frame` as if it arrived from the far end. */
  receive(frame: Uint8Array): void {
    this.deliver(frame);
  }

  /** The queue empties: not congested any more, and the sender is told. */
  drain(): void {
    this.congested = false;
    this.onDrain?.();
  }

  protected teardown(): void {
    this.peer?.close("peer closed");
  }
}
