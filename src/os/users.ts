/**
 * User and group names from the operating system, for port access control
 * (`port/setuser`, `port/setgroup`, the control socket's group), for
 * printing who owns a port, for vxvde's `grp=`, and for the trusted-path
 * check's group members.
 *
 * Theory of operation. One way for every question: NSS first (nss.ts, the
 * system's getent, bounded), so users and groups from LDAP, SSSD or
 * systemd's userdb count as the files' do; /etc/passwd and /etc/group
 * where NSS cannot be asked here, or failed (a name then reads as the files
 * say). A group's members are NSS's and the files' together; when NSS
 * failed, or has a source that does not list its users (SSSD), they are
 * not known (undefined), and the trusted-path check takes the group as
 * anyone's rather than as the few it was told.
 */
import { modeText } from "./mode_text.ts";
import { nssListsEveryUser, nssQuery } from "./nss.ts";
import { listedMembers, parseRows, type Row } from "./passwd_rows.ts";

const PASSWD = "/etc/passwd";
const GROUP = "/etc/group";

function readRows(path: string): Row[] {
  try {
    return parseRows(Deno.readTextFileSync(path));
  } catch {
    return [];
  }
}

/** The entry of `database` named `name` (or with id `id` when a number), NSS's, else the files'. */
function entry(database: "passwd" | "group", key: string | number): Row | undefined {
  const answer = nssQuery(database, String(key));
  const rows = Array.isArray(answer) ? answer : readRows(database === "passwd" ? PASSWD : GROUP);
  return rows.find((r) => typeof key === "number" ? r.id === key : r.name === key);
}

/**
 * A name, else a decimal id, as chown(1) reads them: a user or group named
 * like a number (`1234`) is that entry, not id 1234. Undefined when neither.
 * A name is asked of NSS; `path` other than the system's file (a test's) is read alone.
 */
function lookup(database: "passwd" | "group", path: string, nameOrId: string): number | undefined {
  const system = path === (database === "passwd" ? PASSWD : GROUP);
  const named = /^\d+$/.test(nameOrId) || !system
    ? readRows(path).find((r) => r.name === nameOrId)
    : entry(database, nameOrId);
  return named?.id ?? (/^\d+$/.test(nameOrId) ? Number(nameOrId) : undefined);
}

/** Resolves a user name or a decimal uid; undefined when unknown. */
export function lookupUser(nameOrId: string, passwd = PASSWD): number | undefined {
  return lookup("passwd", passwd, nameOrId);
}

/** Resolves a group name or a decimal gid; undefined when unknown. */
export function lookupGroup(nameOrId: string, group = GROUP): number | undefined {
  return lookup("group", group, nameOrId);
}

/** The name of `uid`, or the number as text when it has none. */
export function userName(uid: number): string {
  return entry("passwd", uid)?.name ?? String(uid);
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
  return entry("group", gid)?.name ?? String(gid);
}

/** Whether `uid` belongs to `gid`: as its primary group, a listed member, or a group NSS gives it. */
export function isGroupMember(uid: number, gid: number): boolean {
  const user = entry("passwd", uid);
  if (user === undefined) return false;
  if (Number(user.extra) === gid) return true;
  if (listedMembers(entry("group", gid)).includes(user.name)) return true;
  // A directory service may list no members with the group and give each user's groups instead (SSSD).
  const groups = nssQuery("initgroups", user.name);
  return Array.isArray(groups) && listedMembers(groups[0]).map(Number).includes(gid);
}

/**
 * Every user of group `gid`: those whose primary group it is and its listed members (unknown names left
 * out), as NSS and the files say together (a member either source knows may write what the group may);
 * undefined when they cannot be told: NSS failed to answer, or a source of its does not list its users
 * (SSSD's default), whose users of `gid` as their primary group no answer shows (then only a user's
 * private group is told: named as the user whose primary group it is, that user and its listed members).
 */
export function groupMembers(gid: number): number[] | undefined {
  const group = nssQuery("group", String(gid));
  const users = group === "unavailable" ? [] : nssQuery("passwd");
  if (group === "failed" || users === "failed") return undefined;
  const nss = group === "unavailable" || users === "unavailable" ? [] : membersOf(gid, group, users);
  const members = [...new Set([...nss, ...groupMembersInFiles(gid)])];
  if (group === "unavailable" || users === "unavailable" || nssListsEveryUser()) return members;
  const row = group.find((r) => r.id === gid) ?? readRows(GROUP).find((r) => r.id === gid);
  const owner = row === undefined ? undefined : entry("passwd", row.name);
  if (owner === undefined || owner.name !== row?.name || Number(owner.extra) !== gid) return undefined;
  return [...new Set([...members, owner.id])];
}

/** groupMembers as /etc/passwd and /etc/group alone say (where NSS cannot be asked, and for its test). */
export function groupMembersInFiles(gid: number): number[] {
  return membersOf(gid, readRows(GROUP), readRows(PASSWD));
}

/** The uids of `users` whose primary group is `gid` or whom `groups`' row of `gid` lists. */
function membersOf(gid: number, groups: Row[], users: Row[]): number[] {
  const listed = listedMembers(groups.find((r) => r.id === gid));
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
