/**
 * Whether a console client runs under a host's `exec` of the change under way: by an ancestor, or by
 * the session that exec's setsid made, read from /proc.
 */
import assert from "node:assert/strict";
import { type ProcStat, procStat, runsUnder } from "../../src/lab/process_tree.ts";

/** pid -> parent and session: 100 is an exec's setsid leader; 300 left its parent and has a session of its own. */
const TREE = new Map<number, ProcStat>([
  [100, { ppid: 1, sid: 100 }],
  [110, { ppid: 100, sid: 100 }],
  [120, { ppid: 110, sid: 120 }],
  [130, { ppid: 1, sid: 100 }],
  [300, { ppid: 1, sid: 300 }],
  [310, { ppid: 300, sid: 300 }],
]);
const stat = (pid: number) => TREE.get(pid);

Deno.test("a process runs under an exec when an ancestor is that exec or in its session", () => {
  const roots = new Set([100]);
  assert.equal(runsUnder(100, roots, stat), true, "the exec itself");
  assert.equal(runsUnder(110, roots, stat), true, "its shell's child");
  assert.equal(runsUnder(120, roots, stat), true, "a grandchild that made a session of its own");
  assert.equal(runsUnder(130, roots, stat), true, "one left behind (reparented to init) keeps the session");
  assert.equal(runsUnder(310, roots, stat), false, "another session's");
  assert.equal(runsUnder(999, roots, stat), false, "a process gone");
  assert.equal(runsUnder(110, new Set(), stat), false, "no exec runs");
});

Deno.test("procStat reads this process's parent and session", () => {
  const s = procStat(Deno.pid);
  assert.ok(s !== undefined);
  assert.equal(s.ppid, Deno.ppid);
  // 0 when the session's leader lives outside this pid namespace (a container's CI runner).
  assert.ok(Number.isInteger(s.sid) && s.sid >= 0);
  assert.equal(procStat(0x7fffffff), undefined);
});
