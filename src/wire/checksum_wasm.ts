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
 * 1071 2(B): the sum does not depend on byte order). Lanes are i32, each
 * gaining at most 2 x 65,535 per 16 bytes, so they are widened into an i64
 * every 256 KiB, long before they could overflow. Where WebAssembly SIMD is
 * missing, `sumWasm` is null and the JS loop in checksum.ts does the work.
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

// Locals after the parameters (0 = ptr, 1 = len): 2 = end, 3 = chunk end, 4 = acc (v128), 5 = total (i64).
const BODY = [
  ...[0x03, 0x02, 0x7f, 0x01, 0x7b, 0x01, 0x7e], // locals: 2 x i32, 1 x v128, 1 x i64
  // end = ptr + (len & -16)
  ...[0x20, 0x00, 0x20, 0x01, 0x41, 0x70, 0x71, 0x6a, 0x21, 0x02],
  ...[0x02, 0x40, 0x03, 0x40], // block, loop (one 256 KiB chunk per turn)
  ...[0x20, 0x00, 0x20, 0x02, 0x4f, 0x0d, 0x01], // if ptr >= end: leave
  // chunk end = min(ptr + 256 KiB, end)
  ...[0x20, 0x00, 0x41, 0x80, 0x80, 0x10, 0x6a, 0x22, 0x03],
  ...[0x20, 0x02, 0x20, 0x03, 0x20, 0x02, 0x49, 0x1b, 0x21, 0x03],
  ...[0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x21, 0x04], // acc = 0
  0x03, // loop: acc += pairwise(load(ptr)); ptr += 16; while ptr < chunk end
  0x40,
  ...[0x20, 0x04, 0x20, 0x00, 0xfd, 0x00, 0x00, 0x00, 0xfd, 0x7f, 0xfd, 0xae, 0x01, 0x21, 0x04],
  ...[0x20, 0x00, 0x41, 0x10, 0x6a, 0x22, 0x00, 0x20, 0x03, 0x49, 0x0d, 0x00],
  0x0b,
  // total += the four lanes, widened
  ...[0x20, 0x05],
  ...[0x20, 0x04, 0xfd, 0x1b, 0x00, 0xad, 0x7c],
  ...[0x20, 0x04, 0xfd, 0x1b, 0x01, 0xad, 0x7c],
  ...[0x20, 0x04, 0xfd, 0x1b, 0x02, 0xad, 0x7c],
  ...[0x20, 0x04, 0xfd, 0x1b, 0x03, 0xad, 0x7c],
  ...[0x21, 0x05, 0x0c, 0x00, 0x0b, 0x0b], // next chunk; end loop, end block
  // while (total >> 16) total = (total & 0xffff) + (total >> 16)
  ...[0x02, 0x40, 0x03, 0x40],
  ...[0x20, 0x05, 0x42, 0x10, 0x88, 0x50, 0x0d, 0x01],
  ...[0x20, 0x05, 0x42, 0xff, 0xff, 0x03, 0x83, 0x20, 0x05, 0x42, 0x10, 0x88, 0x7c, 0x21, 0x05, 0x0c, 0x00],
  ...[0x0b, 0x0b],
  ...[0x20, 0x05, 0xa7, 0x0b], // return (i32) total
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
/** Bytes of the arena for long-lived buffers. */
const ARENA_BYTES = 256 * 1024;
const PAGE = 65536;

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
