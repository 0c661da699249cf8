/**
 * QEMU's default MAC: a VM started without `mac=` gets 52:54:00:12:34:56
 * (its next NICs ...:57, ...:58, counting up), so two VMs started alike on
 * one switch share an address. The switch then moves that MAC between
 * their ports at each frame, DHCP gives both one lease, and each VM gets
 * only some of its frames; nothing else tells the user why.
 *
 * Theory of operation. The engine asks `isQemuDefaultMac` only on the MAC
 * table's move branch (a MAC seen on a port other than its learned one,
 * rare in a healthy LAN), with the MAC as the table keeps it: `hi` its
 * first two bytes, `lo` its last four as a signed 32-bit number. A move of
 * such a MAC from a port that is still up is two VMs, not one that moved
 * (a port going down forgets its MACs first), so the engine says
 * `qemuDuplicateMessage`, at most once a minute, once the MAC has moved for
 * two of the detector's windows without storming: such a MAC in a loop
 * storms past the loop detector's STORM_MOVES some ms after its first move,
 * and is said as a loop only.
 */

/** 52:54 (QEMU's OUI is 52:54:00). */
const QEMU_HI = 0x5254;
/** 00:12:34 of 52:54:00:12:34:XX. */
const QEMU_LO_PREFIX = 0x001234;
/** The last byte QEMU gives its first NIC; later NICs count up from it. */
const FIRST_LAST_BYTE = 0x56;

/** Whether the MAC (table form: hi the first two bytes, lo the last four) is one QEMU gives a NIC without `mac=`. */
export function isQemuDefaultMac(hi: number, lo: number): boolean {
  return hi === QEMU_HI && (lo >>> 8) === QEMU_LO_PREFIX && (lo & 0xff) >= FIRST_LAST_BYTE;
}

/** The line said when QEMU's default MAC shows on a second port that is up. */
export function qemuDuplicateMessage(mac: string, vlan: number, from: number, to: number): string {
  return `MAC ${mac} VLAN ${vlan}, QEMU's default, is on ports ${from} and ${to}: two VMs started ` +
    `without mac= share it and each loses frames; give each its own, e.g. ` +
    `-device virtio-net-pci,netdev=n0,mac=52:54:00:00:${hexByte(to >>> 8)}:${hexByte(to)}`;
}

// A port is up to 65535 (MAX_PORTS): the example MAC takes its two bytes, so a high port's is still six.
function hexByte(n: number): string {
  return (n & 0xff).toString(16).padStart(2, "0");
}
