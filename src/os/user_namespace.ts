/**
 * Who this process is on the machine, seen from inside a user namespace.
 *
 * `unshare --user --map-root-user` (what `vde up --rootless` runs, and
 * podman's and rootlesskit's way) makes an ordinary user root inside a
 * namespace of their own: uid 0 there is their uid outside, as the
 * namespace's /proc/self/uid_map says (`0 1000 1`). Files made inside are
 * the user's on disk, so a lab's runtime directory made there belongs where
 * that user's own commands, run outside (`vde term`, `vde status`, `vde
 * down`), look for it: under the user's runtime directory, not root's
 * /run/vde. In the machine's own namespace the map is the identity
 * (`0 0 4294967295`) and a uid is itself.
 */
import { processIds } from "./processes.ts";

/**
 * The uid `uid` of this namespace is outside it, by `uidMap` (the text of
 * /proc/self/uid_map: lines of `INSIDE OUTSIDE COUNT`); `uid` itself where
 * no line maps it (no map at all: an old kernel, or /proc not mounted).
 */
export function uidOutside(uid: number, uidMap: string): number {
  return mapped(uid, uidMap, 0, 1) ?? uid;
}

/**
 * The uid of this namespace that is `outside` on the machine, by `uidMap`
 * ({@link uidOutside}'s inverse); `outside` itself where the map has no
 * line (none read); undefined where its lines do not map it: that user is
 * no uid here, its processes showing as the overflow uid (65534) as every
 * unmapped user's do, so taking the id as given named whoever has that uid
 * here (`port/setuser 3 nobody` in a rootless lab let in every other user).
 */
export function uidInside(outside: number, uidMap: string): number | undefined {
  const inside = mapped(outside, uidMap, 1, 0);
  return inside !== undefined ? inside : mapLines(uidMap).length === 0 ? outside : undefined;
}

/** `id` moved from column `from` of a map's `INSIDE OUTSIDE COUNT` lines to column `to`; undefined where none maps it. */
function mapped(id: number, map: string, from: 0 | 1, to: 0 | 1): number | undefined {
  for (const f of mapLines(map)) {
    if (id >= f[from] && id < f[from] + f[2]) return f[to] + (id - f[from]);
  }
  return undefined;
}

/** A map's well-formed `INSIDE OUTSIDE COUNT` lines. */
function mapLines(map: string): [number, number, number][] {
  const lines: [number, number, number][] = [];
  for (const line of map.split("\n")) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length !== 3 || f.some((n) => !Number.isSafeInteger(n) || n < 0)) continue;
    lines.push(f as [number, number, number]);
  }
  return lines;
}

/**
 * The text of this process's /proc/self/uid_map or gid_map (under `proc`), or null where it cannot be
 * read (an old kernel, /proc not mounted: no user namespaces, ids are themselves). An empty map is not
 * that: it is a user namespace whose map is not written yet, where every id is unmapped.
 */
export function idMap(kind: "uid" | "gid", proc = "/proc"): string | null {
  try {
    return Deno.readTextFileSync(`${proc}/self/${kind}_map`);
  } catch {
    return null;
  }
}

/**
 * The overflow uid (under `proc`), which owns every file of a user the uid map does not map, where this
 * process is in a user namespace; undefined in the machine's own (an identity map, or none read).
 */
export function namespaceOverflowUid(proc = "/proc"): number | undefined {
  const map = idMap("uid", proc);
  if (map === null) return undefined;
  const lines = mapLines(map);
  if (lines.length === 1 && lines[0]![0] === 0 && lines[0]![1] === 0 && lines[0]![2] === 4294967295) {
    return undefined;
  }
  try {
    const uid = Number(Deno.readTextFileSync(`${proc}/sys/kernel/overflowuid`).trim());
    return Number.isSafeInteger(uid) && uid >= 0 ? uid : undefined;
  } catch {
    return undefined;
  }
}

/** This process's uid as the machine's namespace knows it (`Deno.uid()` outside a user namespace). */
export function machineUid(): number {
  return uidOutside(Deno.uid() ?? -1, idMap("uid") ?? "");
}

/** True in a user namespace where this process is root but the machine knows it as another user. */
export function rootInUserNamespace(): boolean {
  return Deno.uid() === 0 && machineUid() !== 0;
}

/**
 * A user namespace as the kernel tells one from another while it lives:
 * the device and inode of /proc/PID/ns/user. Once its last process is gone
 * the kernel gives the inode to the next namespace made (another lab's, a
 * podman container's, after a reboot anyone's), so these alone never say a
 * namespace is still a given lab's: see {@link labProcesses}.
 */
export interface NamespaceId {
  dev: number;
  ino: number;
}

/** The user namespace of process `pid` ("self" for this one) under `proc`; null when it is gone or not ours to see. */
export function userNamespaceOf(pid: string, proc = "/proc"): NamespaceId | null {
  try {
    const st = Deno.statSync(`${proc}/${pid}/ns/user`);
    return { dev: st.dev, ino: st.ino ?? -1 };
  } catch {
    return null;
  }
}

/** Whether `a` and `b` name one namespace (null names none). */
export function sameNamespace(a: NamespaceId | null | undefined, b: NamespaceId | null | undefined): boolean {
  return a != null && b != null && a.dev === b.dev && a.ino === b.ino;
}

/**
 * The variable in which a rootless lab's host side hands the processes in its namespace the steps it
 * vouched for: `dev:ino:birth` of the machine's directories and links (root's) on the ways to the lab's files,
 * which inside show as the overflow uid as any other user's do (trusted_path.ts).
 */
export const VOUCHED_VARIABLE = "VDE_ROOTLESS_VOUCHED";

/** The variable that carries a rootless lab's mark into every process it starts (see {@link labProcesses}). */
export const LAB_MARK_VARIABLE = "VDE_ROOTLESS_LAB";

/** What tells a rootless lab's processes from any other in a namespace whose number is the one it had. */
export interface LabMark {
  /** Its user namespace when it came up. */
  namespace: NamespaceId;
  /** The machine's uid of the lab's user: whose processes alone are the lab's. */
  uid: number;
  /** A random mark in the environment of the lab's `vde up` and all it started ({@link LAB_MARK_VARIABLE}). */
  mark: string;
}

/**
 * The pids under `proc` (but this process) that are lab `lab`'s: in its
 * user namespace (device and inode), of its user (real uid, as this
 * namespace sees it), and started by the lab (its mark in their
 * environment). The namespace alone is not enough: its inode may be a new
 * namespace's that is not the lab's at all (root's, another user's, the
 * same user's podman), and `vde down` would kill what runs there. A process
 * that shed its environment is left alone: a leftover, never a stranger.
 */
export function labProcesses(lab: LabMark, proc = "/proc"): number[] {
  if (lab.mark === "") return [];
  return markedProcesses(proc).filter((p) =>
    p.mark === lab.mark && p.uid === lab.uid && p.pid !== Deno.pid &&
    sameNamespace(userNamespaceOf(String(p.pid), proc), lab.namespace)
  ).map((p) => p.pid);
}

/** A process that carries a rootless lab's mark: whose it is, and where its user's labs are. */
export interface MarkedProcess {
  pid: number;
  /** Its real uid, as this namespace sees it. */
  uid: number;
  mark: string;
  /** Its XDG_RUNTIME_DIR, under which its user's labs live (names.ts). */
  runtimeDir?: string;
}

/**
 * The processes under `proc` that carry a rootless lab's mark: for root,
 * whose own `vde` does not see a user's labs (they live in the user's
 * directory), to say whose a lab's name is. Another user sees none: the
 * environment of a process is its user's (and root's) to read.
 */
export function markedProcesses(proc = "/proc"): MarkedProcess[] {
  const out: MarkedProcess[] = [];
  for (const pid of processIds(proc)) {
    const env = readText(`${proc}/${pid}/environ`)?.split("\0") ?? [];
    const value = (name: string) => env.find((v) => v.startsWith(`${name}=`))?.slice(name.length + 1);
    const mark = value(LAB_MARK_VARIABLE);
    if (mark === undefined || mark === "") continue;
    const runtimeDir = value("XDG_RUNTIME_DIR");
    out.push({
      pid,
      uid: realUid(`${proc}/${pid}`),
      mark,
      ...(runtimeDir ? { runtimeDir } : {}),
    });
  }
  return out;
}

/** The real uid of process `pid` as this namespace sees it, or -1 when /proc does not say. */
export function processUid(pid: number, proc = "/proc"): number {
  return realUid(`${proc}/${pid}`);
}

/** The real uid in /proc/PID/status (`dir`), or -1 when it cannot be read. */
function realUid(dir: string): number {
  const m = /^Uid:\s+(\d+)/m.exec(readText(`${dir}/status`) ?? "");
  return m === null ? -1 : Number(m[1]);
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}
