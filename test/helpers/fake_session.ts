/**
 * A console session for tests: it records notifications and renders
 * replies as a management-socket client sees them.
 */
import type { CommandRegistry, Session, SessionKind } from "../../src/console/registry.ts";
import { formatReply, type Reply } from "../../src/console/reply_format.ts";

/** A session that records notifications and renders like a socket client. */
export class FakeSession implements Session {
  readonly debug = new Set<string>();
  loadDepth = 0;
  readonly notes: string[] = [];
  /** `peerUid`: the client's user, as a management socket's peer credentials give it (undefined: unknown). */
  constructor(
    readonly commands: CommandRegistry,
    readonly kind: SessionKind = "mgmt",
    readonly peerUid?: number,
  ) {}
  notify(line: string): void {
    this.notes.push(line);
  }
  render(reply: Reply): string {
    return formatReply(reply);
  }
}
