/**
 * Whether a process runs under another: what tells the lab that a console
 * client (`vde term LAB -c 'exec h2 ...'`) is a command of the change under
 * way (a host's `exec` in the file being applied), which must not wait for
 * that change to end: the change is waiting for it.
 *
 * Theory of operation. A host's `exec` runs in a session of its own
 * (setsid), so the leader's pid is the session id of everything it starts;
 * a process it started that made a session of its own is still its
 * descendant. So a process is under a root when it, or an ancestor (by
 * parent pid), is the root or is in the root's session. Read from
 * /proc/PID/stat; a process gone meanwhile is under nothing.
 */
import { statFields } from "../os/processes.ts";

/** A process's parent and session, from /proc/PID/stat; undefined once it is gone. */
export interface ProcStat {
  ppid: number;
  sid: number;
}

/** Reads /proc/PID/stat: after the command's `)` come state, ppid, pgrp, session. */
export function procStat(pid: number): ProcStat | undefined {
  const fields = statFields(pid) ?? [];
  const ppid = Number(fields[1]);
  const sid = Number(fields[3]);
  return fields.length > 3 && Number.isInteger(ppid) && Number.isInteger(sid) ? { ppid, sid } : undefined;
}

/** Deeper than any real chain of shells: a bound on a walk through a /proc that changes under it. */
const MAX_DEPTH = 64;

/** Whether `pid`, or an ancestor of it, is one of `roots` or in one of their sessions. */
export function runsUnder(
  pid: number,
  roots: ReadonlySet<number>,
  stat: (pid: number) => ProcStat | undefined = procStat,
): boolean {
  if (roots.size === 0) return false;
  let p = pid;
  for (let depth = 0; depth < MAX_DEPTH && p > 1; depth++) {
    if (roots.has(p)) return true;
    const s = stat(p);
    if (s === undefined) return false;
    if (roots.has(s.sid)) return true;
    p = s.ppid;
  }
  return false;
}
