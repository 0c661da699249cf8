/**
 * scripts/syscall_trace.ts: a slirp's sendmmsg batches, short sends and host read sizes, summarised
 * from `perf script` lines as perf prints them.
 */
import assert from "node:assert/strict";
import { formatSyscalls, summariseSyscalls } from "../../scripts/syscall_trace.ts";

const enter = (tid: number, vlen: number) =>
  `        worker-2  ${tid} [001] 11818.190588: syscalls:sys_enter_sendmmsg: fd: 0x00000024, mmsg: 0x7fe8c08846f0, vlen: 0x${
    vlen.toString(16).padStart(8, "0")
  }, flags: 0x00004040`;
const exit = (tid: number, call: string, ret: string) =>
  `        worker-2  ${tid} [000] 11818.190711:  syscalls:sys_exit_${call}: ${ret}`;

Deno.test("a sendmmsg that sent fewer frames than it asked counts as short, one that failed as failed", () => {
  const s = summariseSyscalls([
    enter(7, 0x45),
    exit(7, "sendmmsg", "0x45"),
    enter(7, 0x26),
    exit(7, "sendmmsg", "0xa"),
    enter(7, 4),
    exit(7, "sendmmsg", "0xfffffffffffffff5"), // -11, EAGAIN
  ].join("\n"));
  assert.equal(s.sendmmsg, 3);
  assert.equal(s.framesAsked, 0x45 + 0x26 + 4);
  assert.equal(s.framesSent, 0x45 + 10);
  assert.equal(s.short, 1);
  assert.equal(s.failed, 1);
  assert.deepEqual([s.batchMedian, s.batchMax], [0x26, 0x45]);
});

Deno.test("each thread's sendmmsg exit pairs with its own enter, and an exit whose enter was not traced is left out", () => {
  const s = summariseSyscalls([
    exit(9, "sendmmsg", "0x3"),
    enter(7, 5),
    enter(8, 2),
    exit(8, "sendmmsg", "0x2"),
    exit(7, "sendmmsg", "0x4"),
  ].join("\n"));
  assert.equal(s.sendmmsg, 2);
  assert.equal(s.short, 1);
  assert.equal(s.framesSent, 6);
});

Deno.test("reads that returned data give their count and median size; failed reads and sendto errors count apart", () => {
  const s = summariseSyscalls([
    exit(7, "read", "0x40000"),
    exit(7, "read", "0x40000"),
    exit(7, "read", "0x8000"),
    exit(7, "read", "0xfffffffffffffff5"),
    exit(7, "sendto", "0x5ea"),
    exit(7, "sendto", "0xfffffffffffffff5"),
    "a truncated line syscalls:sys_exit_read: 0x",
  ].join("\n"));
  assert.equal(s.reads, 3);
  assert.equal(s.readBytes, 2 * 0x40000 + 0x8000);
  assert.equal(s.readMedian, 0x40000);
  assert.deepEqual([s.sendto, s.sendtoFailed], [2, 1]);
  assert.match(formatSyscalls(s, 0.5), /host reads 6\.0\/MB \(median 256 KiB\)/);
});
