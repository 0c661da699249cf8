/** The Internet checksum as RFC 1071 writes it, word by word: what the fast paths are checked against. */
import { finishChecksum } from "../../src/wire/checksum.ts";

/** RFC 1071 word by word, folded once. */
export function referenceChecksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  let i = off;
  for (; i + 1 < off + len; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < off + len) sum += b[i]! << 8;
  return finishChecksum(sum);
}
