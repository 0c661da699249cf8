/**
 * Why a switch refused a handshake, in words the client can print.
 *
 * vde_switch answers a request it refuses by closing the ctl stream, and a
 * client can only guess why ("port busy, out of range, or none free"). Our
 * switch first writes the reason: printable ASCII, shorter than the
 * sockaddr_un an accepted request gets, so a client tells the two apart by
 * length alone. A C client (vdeplug4, QEMU) that reads it as an address
 * gets a family that is no AF_UNIX (its first byte is a printable
 * character) and fails as it did on the bare close. A client reads the
 * switch's bytes as hostile: anything outside printable ASCII is replaced.
 */
import { SOCKADDR_UN_LEN } from "./sockaddr_un.ts";

/** Longest reason on the wire: one byte short of an accepted reply. */
export const MAX_REFUSAL_LEN = SOCKADDR_UN_LEN - 1;

/** Printable ASCII only: control bytes and anything past `~` become `?`. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?");
}

/** The bytes a switch writes before closing a refused handshake. */
export function buildRefusal(reason: string): Uint8Array<ArrayBuffer> {
  const line = printable(reason.trim()).slice(0, MAX_REFUSAL_LEN);
  return new TextEncoder().encode(line.replace(/^ +/, ""));
}

/**
 * The reason in a reply shorter than an address, or null when there is
 * none (vde_switch closes without a word; a timeout reads nothing).
 */
export function parseRefusal(reply: Uint8Array): string | null {
  if (reply.length === 0 || reply.length >= SOCKADDR_UN_LEN) return null;
  const text = printable(new TextDecoder().decode(reply)).trim();
  return text === "" ? null : text;
}

/**
 * The reasons our switch gives a connection it turns away past its handshake caps (switch_server.ts
 * `#busy`), built here beside `isBusyRefusal`, which a client matches them with: rewording one here
 * rewords what the other reads.
 */
export const busyReason = {
  /** Every handshake slot is taken. */
  full: (pending: number): string => `the switch has ${pending} handshakes under way: try again`,
  /** One user other than the switch's and root has as many as one user may. */
  user: (name: string, pending: number): string =>
    `${name} has ${pending} handshakes under way here, the most one user may`,
  /**
   * Root's (or the switch's user's) subordinate uids, one other user together, have as many as one user may:
   * said so, not as that user (a container's process told "root has 16" looked for root's, not its own).
   */
  subordinate: (name: string, pending: number): string =>
    `${name}'s subordinate uids have ${pending} handshakes under way, the most one user may`,
  /** Other users together hold every slot but the ones kept for the switch's user and root. */
  others: (pending: number): string =>
    `the switch has ${pending} handshakes of other users under way: try again`,
};

/**
 * Whether a refusal's reason says the switch was busy with other handshakes (ours refuses a connection
 * past its caps: switch_server.ts `#busy`), which a client may meet again later with another answer.
 */
export function isBusyRefusal(reason: string): boolean {
  return / handshakes (of other users )?under way/.test(reason);
}
