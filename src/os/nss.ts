/**
 * Users and groups as the system's name service (NSS) knows them: on a
 * machine whose users and groups come from LDAP or SSSD (or systemd's
 * userdb), /etc/passwd and /etc/group do not list them, and a switch that
 * reads only the files refuses a member of its `--group`, prints a number
 * for a name, and takes a shared group as having no one in it.
 *
 * Theory of operation. Each question is one getent(1) run under
 * timeout(1): the system's own client, in a process of its own, so that
 *  - a lookup is bounded: a module whose server is down (LDAP, SSSD) can
 *    block a getpw*() call for minutes, and in this process it would block
 *    the main thread (console, ctl socket, a root switch's start) with it.
 *    A run that has not answered in `timeoutMs` is killed and counts as
 *    failed, and for BACKOFF_MS after it NSS is not asked again (each
 *    question then fails at once), so a dead server costs one wait a
 *    minute, not one per ctl connection;
 *  - no libc state of ours is touched: getpwent's enumeration cursor is
 *    global to a process (another thread's setpwent restarts ours), the
 *    reentrant calls want a scratch buffer regrown on ERANGE, and a libc
 *    without one of the symbols (musl has no getpwent_r) failed the whole
 *    ffi/libc.ts open, data plane included.
 * Control plane only: a run costs a few milliseconds, so an entry found is
 * kept CACHE_MS (a client's port request asks the same user's groups for
 * each free port of a group's; a local user reconnecting at will would have
 * us run getent for each port each time), and a name not found is asked
 * again (a user just added resolves at once). A change to /etc/passwd or
 * /etc/group (useradd, usermod -aG: what an admin does and then tells the
 * user to retry) forgets every answer kept: the files' stamps are looked at
 * each question, a stat each, far cheaper than a run.
 *
 * Answers: rows (empty when NSS knows no such entry: getent's exit 2, or 3
 * for a database that does not enumerate), "unavailable" when getent or
 * timeout(1) cannot be run here (not installed, no permission to run: the
 * caller falls back on the files), or "failed" (timed out, or an error:
 * the caller must not take that as "no one").
 */
import { parseRows, type Row } from "./passwd_rows.ts";

export type NssAnswer = Row[] | "unavailable" | "failed";

/** How long a run may take before it is killed and taken as failed. */
let timeoutMs = 5_000;
/** After a failed run, how long NSS is not asked. */
const BACKOFF_MS = 60_000;
let failedAt = -Infinity;
/** How long an answer with entries is taken as still true, and how many are kept (all forgotten when full). */
const CACHE_MS = 5_000;
const CACHE_MAX = 512;
const cache = new Map<string, { at: number; rows: Row[] }>();
/** The files' stamps (inode, size, mtime) when the answers kept were got. */
let filesStamp = "";

/** /etc/passwd's and /etc/group's inode, size and mtime: an edit in place or a new file changes it. */
function stampOfFiles(): string {
  let stamp = "";
  for (const path of ["/etc/passwd", "/etc/group"]) {
    try {
      const st = Deno.statSync(path);
      stamp += `${st.ino}:${st.size}:${st.mtime?.getTime()};`;
    } catch {
      stamp += "-;";
    }
  }
  return stamp;
}

const GETENT = ["/usr/bin/getent", "/bin/getent", "/usr/sbin/getent"];
const TIMEOUT = ["/usr/bin/timeout", "/bin/timeout"];
/** The two programs' paths, found once (absolute: a root switch runs nothing found through its PATH). */
let programs: { getent: string; timeout: string } | null | undefined;

function firstPresent(paths: string[]): string | undefined {
  for (const p of paths) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return undefined;
}

function findPrograms(): { getent: string; timeout: string } | null {
  if (programs === undefined) {
    const getent = firstPresent(GETENT);
    const timeout = firstPresent(TIMEOUT);
    programs = getent !== undefined && timeout !== undefined ? { getent, timeout } : null;
  }
  return programs;
}

/**
 * The entries of `database` for `key` (a name, or an id as digits), or every entry the database
 * enumerates when `key` is undefined.
 */
export function nssQuery(database: "passwd" | "group" | "initgroups", key?: string): NssAnswer {
  // No such name can be in either database; a NUL could not even be passed.
  if (key !== undefined && (key === "" || /[\0:\n,]/.test(key))) return [];
  const cacheKey = `${database} ${key ?? ""}`;
  const stamp = stampOfFiles();
  if (stamp !== filesStamp) {
    cache.clear();
    filesStamp = stamp;
  }
  const kept = cache.get(cacheKey);
  if (kept !== undefined && performance.now() - kept.at < CACHE_MS) return kept.rows;
  const found = findPrograms();
  if (found === null) return "unavailable";
  if (performance.now() - failedAt < BACKOFF_MS) return "failed";
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command(found.timeout, {
      // "--": a key cannot be read as an option.
      args: [
        "-s",
        "KILL",
        String(timeoutMs / 1000),
        found.getent,
        database,
        ...(key === undefined ? [] : ["--", key]),
      ],
      stdin: "null",
      stderr: "null",
      clearEnv: true,
    }).outputSync();
  } catch {
    return "unavailable"; // no permission to run programs (a library embedded without --allow-run)
  }
  if (out.code === 2 || (out.code === 3 && key === undefined)) return [];
  // A getent that knows no such database (musl's has no initgroups): nothing to ask, no server down.
  if (out.code === 1) return "unavailable";
  if (out.code !== 0) {
    failedAt = performance.now();
    return "failed";
  }
  const rows = parseAnswer(database, new TextDecoder().decode(out.stdout));
  if (rows.length > 0) {
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(cacheKey, { at: performance.now(), rows });
  }
  return rows;
}

/**
 * NSS sources whose passwd enumeration lists every user they know: local records (the files, NIS through
 * compat, systemd's userdb, altfiles, extrausers, db). A directory service may list none or some (SSSD
 * does not by default, nor need LDAP or winbind), and then a user whose primary group is G is nowhere in
 * G's row nor in the list: a group's members cannot be told from NSS's answers.
 */
const LISTS_EVERY_USER = new Set(["files", "compat", "nis", "systemd", "altfiles", "extrausers", "db"]);

/** Whether `getent passwd` lists every user, as nsswitch.conf (`path`) names the passwd database's sources. */
export function nssListsEveryUser(path = "/etc/nsswitch.conf"): boolean {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return true; // none: glibc's built-in default, the files (and compat's NIS)
  }
  const line = /^[ \t]*passwd[ \t]*:([^\n#]*)/m.exec(text)?.[1];
  if (line === undefined) return true;
  // "[NOTFOUND=return]" is what to do on an answer, not a source.
  const sources = line.replace(/\[[^\]]*\]/g, " ").trim().split(/\s+/).filter((w) => w !== "");
  return sources.every((w) => LISTS_EVERY_USER.has(w.toLowerCase()));
}

/** getent's lines as rows; initgroups' "name gid gid ..." (the groups NSS gives the user beside its primary one) as one row listing them. */
function parseAnswer(database: "passwd" | "group" | "initgroups", text: string): Row[] {
  if (database !== "initgroups") return parseRows(text);
  const [name = "", ...gids] = text.trim().split(/\s+/);
  return name === "" ? [] : [{ name, id: 0, extra: gids.join(",") }];
}

/** For tests: how long a run may take; forgets a failure's back-off and the answers kept. */
export function setNssTimeout(ms: number): void {
  timeoutMs = ms;
  failedAt = -Infinity;
  cache.clear();
}
