/**
 * A group's members as the system's name service (NSS) knows them: on a
 * machine whose users and groups come from LDAP or SSSD, /etc/group and
 * /etc/passwd do not list them, and a check that reads only the files sees
 * a shared group as having no one in it.
 *
 * Theory of operation. glibc's reentrant calls through the process's libc
 * (ffi/libc.ts): `getgrgid_r` gives the group's listed member names, each
 * made a uid by `getpwnam_r` (a name NSS does not know is left out, as the
 * files' reading leaves it out); `getpwent_r` enumerates the users whose
 * primary group it is (a directory service may not enumerate: then those
 * are whoever the files name, which the caller adds). The structs are read
 * at glibc's LP64 offsets (x86_64, aarch64). Any failure (no FFI, an NSS
 * error) is null: the caller falls back on the files alone. Control plane
 * only: each call may ask a directory server.
 */
import { libc } from "../../ffi/libc.ts";

const ERANGE = 34;
/** Scratch for the strings a lookup returns; grown on ERANGE up to MAX_BUF (a huge group's member list). */
const FIRST_BUF = 16 * 1024;
const MAX_BUF = 4 * 1024 * 1024;

// struct group: gr_name, gr_passwd, gr_gid (+4 padding), gr_mem.
const GROUP_SIZE = 32;
const GR_MEM = 24;
// struct passwd: pw_name, pw_passwd, pw_uid, pw_gid, pw_gecos, pw_dir, pw_shell.
const PASSWD_SIZE = 48;
const PW_UID = 16;
const PW_GID = 20;

/** Calls `call(buf)` with a growing scratch buffer until it answers other than ERANGE; its answer. */
function withScratch(call: (buf: Uint8Array<ArrayBuffer>) => number): number {
  for (let size = FIRST_BUF;; size *= 2) {
    const rc = call(new Uint8Array(size));
    if (rc !== ERANGE || size >= MAX_BUF) return rc;
  }
}

/** Whether the `result` out-parameter (a pointer) is set: 0 there means "no such entry". */
function found(result: Uint8Array<ArrayBuffer>): boolean {
  return new DataView(result.buffer).getBigUint64(0, true) !== 0n;
}

/** The names listed in group `gid`, or null when NSS does not know it or fails. */
function listedNames(gid: number): string[] | null {
  const grp = new Uint8Array(GROUP_SIZE);
  const result = new Uint8Array(8);
  const names: string[] = [];
  const rc = withScratch((buf) => {
    const rc = libc().getgrgid_r(gid, grp, buf, BigInt(buf.length), result);
    // The strings live in `buf`: read them before it is dropped.
    if (rc === 0 && found(result)) {
      const mem = Deno.UnsafePointer.create(new DataView(grp.buffer).getBigUint64(GR_MEM, true));
      if (mem !== null) {
        const list = new Deno.UnsafePointerView(mem);
        for (let i = 0;; i++) {
          const p = Deno.UnsafePointer.create(list.getBigUint64(i * 8));
          if (p === null) break;
          names.push(Deno.UnsafePointerView.getCString(p));
        }
      }
    }
    return rc;
  });
  return rc === 0 && found(result) ? names : null;
}

/** The uid NSS gives `name`, or undefined when it knows none. */
function uidOf(name: string): number | undefined {
  const pwd = new Uint8Array(PASSWD_SIZE);
  const result = new Uint8Array(8);
  const cname = new TextEncoder().encode(`${name}\0`);
  const rc = withScratch((buf) => libc().getpwnam_r(cname, pwd, buf, BigInt(buf.length), result));
  return rc === 0 && found(result) ? new DataView(pwd.buffer).getUint32(PW_UID, true) : undefined;
}

/** The uids NSS enumerates whose primary group is `gid` (none where the directory does not enumerate). */
function primaryMembers(gid: number): number[] {
  const pwd = new Uint8Array(PASSWD_SIZE);
  const result = new Uint8Array(8);
  const view = new DataView(pwd.buffer);
  const uids: number[] = [];
  const c = libc();
  c.setpwent();
  try {
    let buf = new Uint8Array(FIRST_BUF);
    for (;;) {
      const rc = c.getpwent_r(pwd, buf, BigInt(buf.length), result);
      if (rc === ERANGE && buf.length < MAX_BUF) {
        buf = new Uint8Array(buf.length * 2);
        continue;
      }
      if (rc !== 0 || !found(result)) break; // ENOENT: the end
      if (view.getUint32(PW_GID, true) === gid) uids.push(view.getUint32(PW_UID, true));
    }
  } finally {
    c.endpwent();
  }
  return uids;
}

/**
 * Every user of group `gid` by NSS: those whose primary group it is and its listed members (names NSS does
 * not know left out); null when NSS does not know the group or cannot be asked.
 */
export function nssGroupMembers(gid: number): number[] | null {
  try {
    const listed = listedNames(gid);
    if (listed === null) return null;
    const members = primaryMembers(gid);
    for (const name of listed) {
      const uid = uidOf(name);
      if (uid !== undefined) members.push(uid);
    }
    return [...new Set(members)];
  } catch {
    return null;
  }
}
