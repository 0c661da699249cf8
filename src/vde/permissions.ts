/**
 * Modes and group of a switch's socket directory, ctl socket and port
 * sockets, derived from `--mode`/`--dirmode`/`--group` as vde_switch does
 * (spec 1.1), with one difference: a directory its group or others may write
 * (clients bind their own sockets in it) also gets the sticky bit. Without
 * it any member of a shared switch's group could rename the switch's `ctl`
 * or `mgmt` away and bind its own in their place, so every client and the
 * admin's console would reach the member's switch instead.
 */
import { lookupGroup, lookupUser, sessionGroups, userName } from "../os/users.ts";
import { printable } from "../console/reply_format.ts";

/** Resolved permissions of a switch's files. */
export interface SwitchPermissions {
  /** Mode of the ctl socket and the per-port data sockets. */
  socketMode: number;
  /** Mode of the socket directory (with the setgid bit). */
  dirMode: number;
  /** Group id for the directory and sockets, if one was asked for. */
  gid?: number;
}

/** Derives the directory and socket modes from the user's options. */
export function resolveModes(mode?: number, dirMode?: number): { socketMode: number; dirMode: number } {
  if (mode === undefined && dirMode === undefined) return { socketMode: 0o600, dirMode: 0o2700 };
  if (mode !== undefined && dirMode !== undefined) return { socketMode: mode, dirMode: sticky(dirMode) };
  if (dirMode !== undefined) return { socketMode: dirMode & 0o666, dirMode: sticky(dirMode) };
  const m = mode!;
  let d = 0o2000 | (m & 0o666);
  // A class that may read or write the sockets needs to enter the directory.
  if (m & 0o600) d |= 0o100;
  if (m & 0o060) d |= 0o010;
  if (m & 0o006) d |= 0o001;
  return { socketMode: m, dirMode: sticky(d) };
}

/** Adds the sticky bit to a directory mode that lets its group or others write. */
function sticky(dirMode: number): number {
  return dirMode & 0o022 ? dirMode | 0o1000 : dirMode;
}

/** Parses an octal mode given on the command line; throws a one-line error. */
export function parseOctalMode(text: string, what: string): number {
  if (!/^0?[0-7]{1,4}$/.test(text)) {
    throw new Error(`${what} must be an octal mode like 660, got "${printable(text)}"`);
  }
  return parseInt(text, 8);
}

/** Resolves a group name or number (NSS, else /etc/group); throws a one-line error if unknown. */
export function resolveGroup(name: string): number {
  const gid = lookupGroup(name);
  if (gid === undefined) throw new Error(`unknown group "${printable(name)}"`);
  return gid;
}

/** Resolves a user name or number (NSS, else /etc/passwd); throws a one-line error if unknown. */
export function resolveUser(name: string): number {
  const uid = lookupUser(name);
  if (uid === undefined) throw new Error(`unknown user "${printable(name)}"`);
  return uid;
}

/**
 * Resolves the group a switch is to give its files (`--group`, `--mgmtgroup`);
 * one its user is not in is refused here, in words, before anything is made
 * (the kernel's chown would say only "Operation not permitted").
 */
export function resolveOwnGroup(
  name: string,
  option: string,
  uid: number = Deno.uid() ?? -1,
  held: Set<number> = sessionGroups(),
): number {
  const gid = resolveGroup(name);
  if (uid !== 0 && !held.has(gid)) {
    throw new Error(
      `${option} ${name}: ${
        userName(uid)
      } is not in group ${name}, and only root may give files to a group ` +
        "it is not in: give one of yours (id -Gn lists them)",
    );
  }
  return gid;
}
