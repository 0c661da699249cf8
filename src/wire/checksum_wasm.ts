/**
 * The Internet checksum's bulk sum in WebAssembly SIMD, and the memory it
 * reads.
 *
 * Theory of operation. V8's JIT sums a 9 KB segment in 16-bit words at
 * about 2.5 bytes a nanosecond (3.7 µs); one SIMD instruction
 * (`i32x4.extadd_pairwise_i16x8_u`) widens and adds eight words at once, so
 * the same sum takes a few hundred nanoseconds. WebAssembly reads only its
 * own linear memory, so the module works on one `WebAssembly.Memory` that
 * this file owns: a scratch area at its start, where `sumWasm` copies a
 * run that lives elsewhere (a plain copy is memmove, far cheaper than the
 * sum it replaces), and an arena after it, from which the data path's
 * long-lived buffers (the TCP engine's segment scratch) are taken with
 * {@link checksumBuffer}, so their sums need no copy at all. The memory
 * never grows (growing would detach every view into it). A run in a
 * SharedArrayBuffer is copied into the scratch at its own offset modulo 8:
 * V8 copies shared memory word by word only when both sides are aligned
 * alike (byte by byte otherwise, several times slower).
 *
 * The module is emitted from the bytes below (no tools at build time). It
 * exports `sum(ptr, len)`: the one's-complement sum of the little-endian
 * 16-bit words of `mem[ptr, ptr + len - len % 16)`, folded to 16 bits. The
 * caller sums the last `len % 16` bytes and swaps the result's bytes (RFC
 * 1071 2(B): the sum does not depend on byte order). Four accumulators of
 * four i32 lanes take 64 bytes a turn; they are widened into an i64 at the
 * end, which is safe because a run lies within the memory (1 MiB) and a
 * lane would need 2 MiB to overflow. Where WebAssembly SIMD is missing,
 * `sumWasm` is null and the JS loop in checksum.ts does the work.
 */

/** LEB128 of an unsigned integer (section and body sizes). */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body];
}

// Instructions used below.
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
/** acc += pairwise(load(ptr + offset)): eight words widened and added into four i32 lanes. */
const addBlock = (acc: number, offset: number) => [
  ...get(acc),
  ...get(0),
  ...[0xfd, 0x00, 0x00, offset], // v128.load (offset < 128: one LEB byte)
  ...[0xfd, 0x7f], // i32x4.extadd_pairwise_i16x8_u
  ...[0xfd, 0xae, 0x01], // i32x4.add
  ...set(acc),
];
/** ptr += n (64 takes two bytes as a signed LEB128). */
const advance = (n: 16 | 64) => [...get(0), 0x41, ...(n === 64 ? [0xc0, 0x00] : [n]), 0x6a, ...set(0)];
/** Continues the loop while ptr < the end in local `end`. */
const whileBelow = (end: number) => [...get(0), ...get(end), 0x49, 0x0d, 0x00];
/** total (local 8) += lane k of `acc`, widened to i64. */
const widen = (acc: number) =>
  [0, 1, 2, 3].flatMap((k) => [...get(8), ...get(acc), 0xfd, 0x1b, k, 0xad, 0x7c, ...set(8)]);

// Locals after the parameters (0 = ptr, 1 = len): 2 = end of the 64-byte blocks, 3 = end of the 16-byte
// blocks, 4-7 = four accumulators (v128, zero at entry), 8 = total (i64). Four accumulators, 64 bytes a
// turn, so the adds do not wait on each other. No lane can overflow: each gains at most 2 x 65,535 per
// 64 bytes, and a run lies within the memory, far below the 2 MiB that would take.
const BODY = [
  ...[0x03, 0x02, 0x7f, 0x04, 0x7b, 0x01, 0x7e], // locals: 2 x i32, 4 x v128, 1 x i64
  ...[...get(0), ...get(1), 0x41, 0x40, 0x71, 0x6a, ...set(2)], // end64 = ptr + (len & -64)
  ...[...get(0), ...get(1), 0x41, 0x70, 0x71, 0x6a, ...set(3)], // end16 = ptr + (len & -16)
  // if ptr < end64: do 64 bytes while ptr < end64
  ...[...get(0), ...get(2), 0x49, 0x04, 0x40, 0x03, 0x40],
  ...addBlock(4, 0),
  ...addBlock(5, 16),
  ...addBlock(6, 32),
  ...addBlock(7, 48),
  ...advance(64),
  ...whileBelow(2),
  ...[0x0b, 0x0b],
  // if ptr < end16: do 16 bytes while ptr < end16
  ...[...get(0), ...get(3), 0x49, 0x04, 0x40, 0x03, 0x40],
  ...addBlock(4, 0),
  ...advance(16),
  ...whileBelow(3),
  ...[0x0b, 0x0b],
  ...[4, 5, 6, 7].flatMap(widen),
  // while (total >> 16) total = (total & 0xffff) + (total >> 16)
  ...[0x02, 0x40, 0x03, 0x40],
  ...[...get(8), 0x42, 0x10, 0x88, 0x50, 0x0d, 0x01],
  ...[...get(8), 0x42, 0xff, 0xff, 0x03, 0x83, ...get(8), 0x42, 0x10, 0x88, 0x7c, ...set(8), 0x0c, 0x00],
  ...[0x0b, 0x0b],
  ...[...get(8), 0xa7, 0x0b], // return (i32) total
];

const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f]), // type 0: (i32, i32) -> i32
  ...section(2, [0x01, 0x01, 0x6d, 0x01, 0x6d, 0x02, 0x00, 0x01]), // import memory "m"."m", at least 1 page
  ...section(3, [0x01, 0x00]), // function 0 has type 0
  ...section(7, [0x01, 0x03, 0x73, 0x75, 0x6d, 0x00, 0x00]), // export "sum" = function 0
  ...section(10, [0x01, ...leb(BODY.length), ...BODY]),
]);

/** Bytes of the scratch area: the largest segment (64 KiB and headers) and the alignment slack. */
const SCRATCH_BYTES = 128 * 1024;
/**
 * Bytes of the arena for long-lived buffers: the TCP engine's segment
 * scratch (64 KiB) and the receive slots of unix datagram sockets
 * (io/unix_dgram.ts, 64 x 9 KB), with the memory at its 1 MiB limit.
 */
const ARENA_BYTES = 896 * 1024;
const PAGE = 65536;
// The sum's lanes overflow past 2 MiB (see BODY): the memory must stay well below that.
if (SCRATCH_BYTES + ARENA_BYTES > 1 << 20) throw new Error("checksum memory too large for the sum's lanes");

let memory: WebAssembly.Memory | null = null;
let sumExport: ((ptr: number, len: number) => number) | null = null;
try {
  if (WebAssembly.validate(MODULE)) {
    memory = new WebAssembly.Memory({ initial: (SCRATCH_BYTES + ARENA_BYTES) / PAGE });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE), { m: { m: memory } });
    sumExport = instance.exports.sum as (ptr: number, len: number) => number;
  }
} catch {
  memory = null;
  sumExport = null;
}

const heap: Uint8Array<ArrayBuffer> = memory === null
  ? new Uint8Array(0)
  : new Uint8Array(memory.buffer as ArrayBuffer);
let arenaNext = SCRATCH_BYTES;

/**
 * A buffer of `n` bytes in the module's memory, whose sums need no copy:
 * for the few long-lived buffers of the data path. Once the arena is used
 * up (or without WebAssembly), an ordinary buffer, which sums correctly,
 * only through a copy.
 */
export function checksumBuffer(n: number): Uint8Array<ArrayBuffer> {
  if (sumExport === null || arenaNext + n > heap.length) return new Uint8Array(n);
  const b = heap.subarray(arenaNext, arenaNext + n);
  arenaNext = (arenaNext + n + 15) & ~15;
  return b;
}

/**
 * Where `b[off, off+len)` is in the module's memory: itself if it is there
 * already, else a copy in the scratch area (at the source's offset modulo
 * 8, so a shared source is copied by words). -1 when it does not fit.
 */
function place(b: Uint8Array, off: number, len: number): number {
  if (b.buffer === heap.buffer) return b.byteOffset + off;
  if (len > SCRATCH_BYTES - 8) return -1;
  const at = (b.byteOffset + off) & 7;
  heap.set(b.subarray(off, off + len), at);
  return at;
}

/**
 * The sum of the big-endian 16-bit words of `b[off, off + len - len % 16)`,
 * folded to 16 bits, or -1 when the run is too long for the scratch area.
 * Null where WebAssembly SIMD is not available.
 */
export const sumWasm: ((b: Uint8Array, off: number, len: number) => number) | null = sumExport === null
  ? null
  : (b, off, len) => {
    const at = place(b, off, len);
    if (at < 0) return -1;
    const r = sumExport!(at, len);
    return ((r & 0xff) << 8) | (r >>> 8);
  };
