/**
 * User and group names from the operating system, for port access control
 * (`port/setuser`, `port/setgroup`, the control socket's group), for
 * printing who owns a port, and for vxvde's `grp=`. Reads /etc/passwd and
 * /etc/group directly: Deno has no getpwnam, and these files are all a
 * switch needs (no NSS lookups over the network from the control plane),
 * except a group's members for the trusted-path check (nss.ts), where a
 * member the files do not know would be a writer missed.
 */
import { modeText } from "./mode_text.ts";
import { nssGroupMembers } from "./nss.ts";

/** One parsed /etc/passwd or /etc/group row. */
interface Row {
  name: string;
  id: number;
  /** Primary group (passwd) or members (group). */
  extra: string;
}

function readRows(path: string): Row[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return [];
  }
  const rows: Row[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
    // passwd: name:x:uid:gid:...; group: name:x:gid:members
    rows.push({ name: f[0]!, id: Number(f[2]), extra: f[3]! });
  }
  return rows;
}

/**
 * A name, else a decimal id, as chown(1) reads them: a user or group named
 * like a number (`1234`) is that entry, not id 1234. Undefined when neither.
 */
function lookup(path: string, nameOrId: string): number | undefined {
  return readRows(path).find((r) => r.name === nameOrId)?.id ??
    (/^\d+$/.test(nameOrId) ? Number(nameOrId) : undefined);
}

/** Resolves a user name or a decimal uid; undefined when unknown. */
export function lookupUser(nameOrId: string, passwd = "/etc/passwd"): number | undefined {
  return lookup(passwd, nameOrId);
}

/** Resolves a group name or a decimal gid; undefined when unknown. */
export function lookupGroup(nameOrId: string, group = "/etc/group"): number | undefined {
  return lookup(group, nameOrId);
}

/** The name of `uid`, or the number as text when it has none. */
export function userName(uid: number): string {
  return readRows("/etc/passwd").find((r) => r.id === uid)?.name ?? String(uid);
}

/**
 * `owner USER, mode NNN` of `path` (special bits too: the shared /tmp
 * directory's sticky 1777 matters), for a "permission denied" that says
 * whose the file is; "" when it cannot be read, so the refusal is still said.
 */
export function ownerAndMode(path: string): string {
  try {
    const st = Deno.statSync(path);
    return `owner ${userName(st.uid ?? -1)}, mode ${modeText(st.mode ?? 0)}`;
  } catch {
    return "";
  }
}

/** The name of `gid`, or the number as text when it has none. */
export function groupName(gid: number): string {
  return readRows("/etc/group").find((r) => r.id === gid)?.name ?? String(gid);
}

/** Whether `uid` belongs to `gid`, as its primary group or as a listed member. */
export function isGroupMember(uid: number, gid: number): boolean {
  const user = readRows("/etc/passwd").find((r) => r.id === uid);
  if (user === undefined) return false;
  if (Number(user.extra) === gid) return true;
  const group = readRows("/etc/group").find((r) => r.id === gid);
  return group !== undefined && group.extra.split(",").includes(user.name);
}

/**
 * Every user of group `gid`: those whose primary group it is and its listed members (unknown names left
 * out), as NSS and the files say together: on an LDAP or SSSD machine the files know none of a shared
 * group's members, and a member either source knows may write what the group may.
 */
export function groupMembers(gid: number): number[] {
  return [...new Set([...(nssGroupMembers(gid) ?? []), ...groupMembersInFiles(gid)])];
}

/** groupMembers as /etc/passwd and /etc/group alone say (where NSS cannot be asked, and for its test). */
export function groupMembersInFiles(gid: number): number[] {
  const users = readRows("/etc/passwd");
  const listed = readRows("/etc/group").find((r) => r.id === gid)?.extra.split(",") ?? [];
  const members = users.filter((u) => Number(u.extra) === gid || listed.includes(u.name)).map((u) => u.id);
  return [...new Set(members)];
}

/**
 * The groups this process holds (its gid and the supplementary ones, from
 * /proc/self/status): a user added to a group holds it only from the next
 * login, which /etc/group alone does not tell.
 */
export function sessionGroups(): Set<number> {
  const groups = new Set<number>([Deno.gid() ?? -1]);
  try {
    const line = /^Groups:(.*)$/m.exec(Deno.readTextFileSync("/proc/self/status"))?.[1] ?? "";
    for (const g of line.trim().split(/\s+/)) if (g !== "") groups.add(Number(g));
  } catch { /* no /proc: the gid alone */ }
  return groups;
}

/**
 * A switch shared with a group (`--mode 660 --group G`) refuses whoever is
 * not in G: that user is told to be added, not to restart a switch that is
 * not theirs; one added to G since logging in is told to log in again.
 * `groupBit` is the group permission that shares `dir`: search for a
 * directory, write for a socket (a console's `--mgmtmode 660 --mgmtgroup G`).
 */
export function groupHint(
  dir: string,
  uid: number = Deno.uid() ?? -1,
  held: Set<number> = sessionGroups(),
  groupBit = 0o010,
): string | undefined {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(dir);
  } catch {
    return undefined;
  }
  if (st.gid === null || st.uid === uid || ((st.mode ?? 0) & groupBit) === 0) return undefined;
  // Holding the group already, the refusal is the switch's own modes': the general advice fits.
  if (held.has(st.gid)) return undefined;
  const g = groupName(st.gid);
  const whose = `it is group ${g}'s (${ownerAndMode(dir)})`;
  if (isGroupMember(uid, st.gid)) {
    return `${whose}, and you were added to ${g} after this session started: log in again (or run newgrp ${g})`;
  }
  return `${whose}, and ${userName(uid)} is not in ${g}: ask its admin to add you (usermod -aG ${g} ${
    userName(uid)
  }), then log in again`;
}
