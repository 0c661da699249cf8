/** What a program out of descriptors says: the limit, what a client costs, and the ulimit that fixes it. */
import assert from "node:assert/strict";
import { SysError } from "../../ffi/libc.ts";
import {
  descriptorAdvice,
  openFileLimit,
  outOfDescriptors,
  shortDescriptorAdvice,
} from "../../src/os/fd_limit.ts";

Deno.test("a spent open-file limit is said with its number and a ulimit -n four times it, at least 4096", () => {
  const advice = descriptorAdvice(new SysError("socket", 24), "the switch", "2 a port", 64);
  assert.equal(
    advice,
    "the switch's open-file limit (64, 2 a port) is spent: start it under a higher one (ulimit -n 4096)",
  );
  assert.match(
    descriptorAdvice(new SysError("accept4", 24), "the switch", "2 a port", 4096)!,
    /ulimit -n 16384\)$/,
  );
});

Deno.test("Deno's own 'os error 24' is a spent limit too; the system's full file table names fs.file-max", () => {
  const deno = new Error("Too many open files (os error 24): open '/tmp/x'");
  assert.ok(outOfDescriptors(deno));
  assert.match(descriptorAdvice(deno, "the switch", "2 a port", 256)!, /\(256, 2 a port\)/);
  assert.match(descriptorAdvice(new SysError("socket", 23), "the switch", "2 a port")!, /fs\.file-max/);
});

Deno.test("any other error has no descriptor advice", () => {
  assert.equal(descriptorAdvice(new SysError("bind", 13), "the switch", "2 a port", 64), undefined);
  assert.equal(
    descriptorAdvice(new Error("Permission denied (os error 13)"), "the switch", "2 a port"),
    undefined,
  );
  assert.ok(!outOfDescriptors("Too many open files"));
});

Deno.test("the open-file limit asked of the kernel is the one /proc/self/limits shows", () => {
  const shown = /^Max open files\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/self/limits"))?.[1];
  assert.equal(openFileLimit(), Number(shown));
});

Deno.test("a refusal's short advice raises the ulimit for the process's own table, fs.file-max for the system's, which no ulimit raises", () => {
  assert.equal(
    shortDescriptorAdvice(new SysError("socket", 24), "the switch", 64),
    "the switch is out of descriptors: start it under ulimit -n 4096",
  );
  assert.equal(
    shortDescriptorAdvice(new SysError("socket", 23), "the switch", 64),
    "the system's file table is full: raise sysctl fs.file-max",
  );
  assert.equal(shortDescriptorAdvice(new SysError("bind", 13), "the switch", 64), undefined);
});
