/**
 * A spanning-tree port's state in the words a Linux bridge uses (`bridge
 * link show`, sysfs brport/state), so what `vde status`, the console and
 * the web view say reads like the peer an admin knows.
 *
 * Theory of operation. The machine (rstp.ts) keeps three facts per port:
 * enabled, learning, forwarding. A port that neither learns nor forwards is
 * "discarding" in RSTP's words (802.1D-2004 17.4), which is what a port
 * speaking RSTP is. A port that fell back to 802.1D (towards a Linux
 * bridge) is said as 802.1D-1998 says it: "blocking" when its role keeps it
 * out of the tree (alternate or backup), "listening" when it is a root or
 * designated port on its way to learning. The numbers are sysfs's.
 */
import { Role } from "./rstp.ts";

/** A port's spanning-tree state word. */
export type StpStateName = "disabled" | "listening" | "learning" | "forwarding" | "blocking" | "discarding";

/** What the name is made of: the fields of `StpPortView` it reads. */
export interface StpStateFacts {
  enabled: boolean;
  learning: boolean;
  forwarding: boolean;
  role: Role;
  /** Speaks RSTP on the port (false: fell back to 802.1D). */
  rstp: boolean;
}

/** The port's state as a Linux bridge (or, speaking RSTP, 802.1D-2004) words it. */
export function stpStateName(p: StpStateFacts): StpStateName {
  if (!p.enabled || p.role === Role.Disabled) return "disabled";
  if (p.forwarding) return "forwarding";
  if (p.learning) return "learning";
  if (p.rstp) return "discarding";
  return p.role === Role.Alternate || p.role === Role.Backup ? "blocking" : "listening";
}

/** sysfs brport/state's number for a state word (RSTP's discarding is 4, as blocking). */
export const STP_STATE_NUMBER: Readonly<Record<StpStateName, 0 | 1 | 2 | 3 | 4>> = {
  disabled: 0,
  listening: 1,
  learning: 2,
  forwarding: 3,
  blocking: 4,
  discarding: 4,
};

/** How far a state is from carrying frames: the lowest of a link's ends is the link's. */
export const STP_STATE_RANK: Readonly<Record<StpStateName, number>> = {
  disabled: 0,
  blocking: 1,
  discarding: 1,
  listening: 2,
  learning: 3,
  forwarding: 4,
};
