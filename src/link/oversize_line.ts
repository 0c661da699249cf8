/**
 * The line a dropped oversize frame is said with, once per port or tap: a
 * frame longer than the 9234 bytes a VDE frame may be comes from an
 * interface whose MTU is above 9216 (9216 + 14 bytes of header + a 4-byte
 * VLAN tag), which a Linux bridge or OVS user sets for jumbo frames and
 * then loses those frames with nothing but a counter to tell. The MTU that
 * passes is named, with the `ip link` line when the sender is a tap of ours.
 */
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";

/** The largest MTU whose frames, with a VLAN tag, a VDE frame holds. */
export const VDE_MAX_MTU = VDE_MAX_FRAME - 18;

/**
 * `where` ("port 1 (tap t0)", "tap t0") dropped a frame of `length` bytes (one past VDE_MAX_FRAME + 1:
 * cut short, its length unknown); `tap` names the interface when it is a tap of ours; `counted` says
 * where the drop shows: a switch's engine counts it as `oversize`, a tap link read on the main thread
 * (`--dataplane main`, `vde plug`) drops it before any engine sees it.
 */
export function oversizeLine(
  where: string,
  length: number,
  tap: string | null,
  counted = "counted as oversize",
): string {
  const what = length > VDE_MAX_FRAME + 1 ? `a ${length}-byte frame` : `a frame`;
  const fix = tap === null
    ? `its sender's interface MTU is above ${VDE_MAX_MTU}: give it ${VDE_MAX_MTU} or less`
    : `tap ${tap}'s MTU is above ${VDE_MAX_MTU}: ip link set ${tap} mtu ${VDE_MAX_MTU}`;
  return `${where}: dropped ${what}, longer than the ${VDE_MAX_FRAME} bytes a VDE frame may be (${counted}; ` +
    `said once): ${fix}`;
}
