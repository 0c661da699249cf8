/**
 * The 8-byte header that vxlan:// and vxvde:// put before every frame
 * (spec 3.7, 3.8; the same as RFC 7348's VXLAN header):
 *
 * ```
 * flags u8 = 0x08 (VNI valid) | reserved[3] = 0 | VNI u24 (big-endian) | reserved u8 = 0
 * ```
 *
 * vdeplug4's vxlan checks only the flags byte and the VNI on receipt; its
 * vxvde requires all 8 bytes to match. A vxvde datagram of the header alone
 * announces that its sender is leaving.
 */

/** Bytes of the header. */
export const VXLAN_HEADER_SIZE = 8;
/** The "VNI present" flag. */
export const VXLAN_FLAG_VNI = 0x08;
/** Largest VNI. */
export const MAX_VNI = 0xffffff;

/** Writes the header for `vni` into `out` at `at`. */
export function writeVxlanHeader(out: Uint8Array, vni: number, at = 0): void {
  out[at] = VXLAN_FLAG_VNI;
  out[at + 1] = 0;
  out[at + 2] = 0;
  out[at + 3] = 0;
  out[at + 4] = (vni >>> 16) & 0xff;
  out[at + 5] = (vni >>> 8) & 0xff;
  out[at + 6] = vni & 0xff;
  out[at + 7] = 0;
}

/** The header for `vni` as a new buffer. */
export function vxlanHeader(vni: number): Uint8Array<ArrayBuffer> {
  const h = new Uint8Array(VXLAN_HEADER_SIZE);
  writeVxlanHeader(h, vni);
  return h;
}

/** The VNI of a datagram whose flags byte is exactly 0x08, as vdeplug4 checks, else -1 (also when too short). */
export function vxlanVni(datagram: Uint8Array): number {
  if (datagram.length < VXLAN_HEADER_SIZE || datagram[0] !== VXLAN_FLAG_VNI) return -1;
  return (datagram[4]! << 16) | (datagram[5]! << 8) | datagram[6]!;
}

/** True when the first 8 bytes of `datagram` are exactly `header` (vxvde's check). */
export function hasExactHeader(datagram: Uint8Array, header: Uint8Array): boolean {
  if (datagram.length < VXLAN_HEADER_SIZE) return false;
  for (let i = 0; i < VXLAN_HEADER_SIZE; i++) if (datagram[i] !== header[i]) return false;
  return true;
}
