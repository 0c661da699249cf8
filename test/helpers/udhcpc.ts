/**
 * busybox udhcpc as the end-to-end tests run it: one lease in the
 * foreground, then exit; five DISCOVERs a second apart, failing if none is
 * answered, so a broken DHCP server fails the test instead of hanging it.
 */

/** The command line that asks for one lease on `iface`, handing it to `script`. */
export function udhcpcOnce(iface: string, script: string): string[] {
  return ["busybox", "udhcpc", "-i", iface, "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", script];
}
