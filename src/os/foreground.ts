/**
 * Whether this process is in its terminal's foreground process group, from
 * /proc/self/stat (pgrp and tpgid, the terminal's foreground group; tty_nr 0
 * is no terminal). A wrapper asks it when an interrupt arrives: the keys
 * that send SIGINT and SIGQUIT send them to the whole foreground group, so
 * where this process is in it, its command (same group) had one already.
 */
import { fieldsOfStat } from "./processes.ts";

/** Whether the process whose /proc/PID/stat reads `stat` is in its terminal's foreground group. */
export function inForeground(stat: string): boolean {
  const fields = fieldsOfStat(stat);
  const [pgrp, ttyNr, tpgid] = [fields[2], fields[4], fields[5]].map(Number);
  return ttyNr !== 0 && tpgid !== undefined && tpgid > 0 && tpgid === pgrp;
}

/** Whether this process is in its terminal's foreground group; false where /proc cannot be read. */
export function thisInForeground(): boolean {
  try {
    return inForeground(Deno.readTextFileSync("/proc/self/stat"));
  } catch {
    return false;
  }
}
