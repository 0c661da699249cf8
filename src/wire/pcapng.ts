/**
 * pcapng blocks (draft-ietf-opsawg-pcapng): the section header, one
 * interface description per capture interface, enhanced packets and
 * interface statistics, in host byte order (readers detect it from the
 * section header's byte-order magic). Every builder returns a fresh block;
 * lengths are padded to 32 bits as the format requires.
 */

const LINKTYPE_ETHERNET = 1;
const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const ISB = 0x00000005;
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const encoder = new TextEncoder();

/** pcapng direction flag values (epb_flags bits 0-1). */
export const PCAPNG_INBOUND = 1;
export const PCAPNG_OUTBOUND = 2;

const pad4 = (n: number) => (n + 3) & ~3;

interface Option {
  code: number;
  value: Uint8Array;
}

function optionsLength(options: Option[]): number {
  if (options.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const o of options) n += 4 + pad4(o.value.length);
  return n;
}

function writeOptions(view: DataView, bytes: Uint8Array, at: number, options: Option[]): number {
  if (options.length === 0) return at;
  for (const o of options) {
    view.setUint16(at, o.code, LITTLE);
    view.setUint16(at + 2, o.value.length, LITTLE);
    bytes.set(o.value, at + 4);
    at += 4 + pad4(o.value.length);
  }
  return at + 4;
}

function block(
  type: number,
  bodyLength: number,
  fill: (view: DataView, bytes: Uint8Array) => void,
): Uint8Array {
  const total = 12 + bodyLength;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, LITTLE);
  view.setUint32(4, total, LITTLE);
  fill(view, bytes);
  view.setUint32(total - 4, total, LITTLE);
  return bytes;
}

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, LITTLE);
  return b;
};
const u64 = (n: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(Math.max(0, Math.floor(n))), LITTLE);
  return b;
};
const ts = (micros: number) => {
  const hi = Math.floor(micros / 2 ** 32);
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, hi, LITTLE);
  v.setUint32(4, micros - hi * 2 ** 32, LITTLE);
  return b;
};

/** The section header block that starts a pcapng stream; `app` goes in shb_userappl. */
export function pcapngSectionHeader(app: string): Uint8Array {
  const options = [{ code: 4, value: encoder.encode(app) }];
  return block(SHB, 16 + optionsLength(options), (view, bytes) => {
    view.setUint32(8, 0x1a2b3c4d, LITTLE);
    view.setUint16(12, 1, LITTLE);
    view.setUint16(14, 0, LITTLE);
    view.setInt32(16, -1, LITTLE); // section length unknown
    view.setInt32(20, -1, LITTLE);
    writeOptions(view, bytes, 24, options);
  });
}

/**
 * An Ethernet interface with microsecond timestamps (the default if_tsresol).
 * A capture `filter` goes in if_filter as libpcap's text (its first octet 0),
 * as dumpcap records it: capinfos and Wireshark's Capture File Properties
 * show it, so a file says which frames it left out.
 */
export function pcapngInterface(name: string, description: string, snaplen: number, filter = ""): Uint8Array {
  const options = [{ code: 2, value: encoder.encode(name) }];
  if (description !== "") options.push({ code: 3, value: encoder.encode(description) });
  if (filter !== "") options.push({ code: 11, value: new Uint8Array([0, ...encoder.encode(filter)]) });
  return block(IDB, 8 + optionsLength(options), (view, bytes) => {
    view.setUint16(8, LINKTYPE_ETHERNET, LITTLE);
    view.setUint32(12, snaplen, LITTLE);
    writeOptions(view, bytes, 16, options);
  });
}

/**
 * An enhanced packet block: `data` (already cut to the snap length) seen on
 * interface `iface` at `micros` (microseconds since the epoch); `direction`
 * is PCAPNG_INBOUND, PCAPNG_OUTBOUND or 0 (unknown).
 */
export function pcapngPacket(
  iface: number,
  micros: number,
  data: Uint8Array,
  originalLength: number,
  direction: number,
): Uint8Array {
  const options = direction === 0 ? [] : [{ code: 2, value: u32(direction) }];
  return block(EPB, 20 + pad4(data.length) + optionsLength(options), (view, bytes) => {
    view.setUint32(8, iface, LITTLE);
    bytes.set(ts(micros), 12);
    view.setUint32(20, data.length, LITTLE);
    view.setUint32(24, originalLength, LITTLE);
    bytes.set(data, 28);
    writeOptions(view, bytes, 28 + pad4(data.length), options);
  });
}

/** Interface statistics: frames received (captured) and dropped, between two times in microseconds. */
export function pcapngStatistics(
  iface: number,
  micros: number,
  stats: { startMicros: number; received: number; dropped: number },
): Uint8Array {
  const options = [
    { code: 2, value: ts(stats.startMicros) },
    { code: 3, value: ts(micros) },
    { code: 4, value: u64(stats.received) },
    { code: 5, value: u64(stats.dropped) },
  ];
  return block(ISB, 12 + optionsLength(options), (view, bytes) => {
    view.setUint32(8, iface, LITTLE);
    bytes.set(ts(micros), 12);
    writeOptions(view, bytes, 20, options);
  });
}
