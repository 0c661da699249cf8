/**
 * The `null` scheme: a link that swallows every frame and never delivers
 * one, like vdeplug4's `null://`. Handy to run one side of a plug alone.
 */
import { BaseLink, type Link } from "./link.ts";
import { registerScheme } from "./registry.ts";

/** NullLink counts what it is sent and discards it. */
export class NullLink extends BaseLink {
  readonly kind = "null" as const;
  constructor() {
    super("null");
  }

  /** Discards the frame, counting it as sent. Implements Link.send. */
  send(frame: Uint8Array): void {
    this.countOut(frame);
  }

  protected teardown(): void {}
}

registerScheme("null", (): Promise<Link> => Promise.resolve(new NullLink()));
