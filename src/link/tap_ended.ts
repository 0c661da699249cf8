/**
 * Why a tap's reads ended, in words. The tun driver answers a read on a
 * descriptor whose interface was deleted under it (`ip link del`, `ovs-vsctl
 * del-port` of an internal port, its namespace gone) with EBADFD, not with an
 * end of file: that is how a tap in a bridge usually ends, and the bare errno
 * told a user nothing. Shared by the main thread's tap link, the switch's
 * data-plane thread and the plug thread, so all three say it alike.
 */
import { C } from "../../ffi/libc.ts";

/** The reason a link on tap `description` ("tap NAME") ends with, read failing with `errno` (0: end of file). */
export function tapReadEnded(description: string, errno: number): string {
  return errno === 0 || errno === C.EBADFD
    ? `${description} was removed`
    : `${description}: receive failed: errno ${errno}`;
}
