/**
 * Classic libpcap files (tcpdump's `-w` format, version 2.4, microsecond
 * timestamps, Ethernet link type) in host byte order, for tools that do not
 * read pcapng. The format has no interfaces and no direction: a frame's port
 * and way are lost, which is why pcapng is the default.
 */

const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The 24-byte file header. */
export function pcapFileHeader(snaplen: number): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0xa1b2c3d4, LITTLE);
  view.setUint16(4, 2, LITTLE);
  view.setUint16(6, 4, LITTLE);
  view.setUint32(16, snaplen, LITTLE);
  view.setUint32(20, 1, LITTLE); // LINKTYPE_ETHERNET
  return bytes;
}

/** One record: `data` (already cut to the snap length) seen at `micros` since the epoch. */
export function pcapRecord(micros: number, data: Uint8Array, originalLength: number): Uint8Array {
  const bytes = new Uint8Array(16 + data.length);
  const view = new DataView(bytes.buffer);
  // Exact for whole microseconds below 2^53: a division's rounding could make the remainder 1e6.
  const fraction = micros % 1e6;
  view.setUint32(0, (micros - fraction) / 1e6, LITTLE);
  view.setUint32(4, Math.floor(fraction), LITTLE);
  view.setUint32(8, data.length, LITTLE);
  view.setUint32(12, originalLength, LITTLE);
  bytes.set(data, 16);
  return bytes;
}
