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

/**
 * The uid `uid` of this namespace is outside it, by `uidMap` (the text of
 * /proc/self/uid_map: lines of `INSIDE OUTSIDE COUNT`); `uid` itself where
 * no line maps it (no map at all: an old kernel, or /proc not mounted).
 */
export function uidOutside(uid: number, uidMap: string): number {
  for (const line of uidMap.split("\n")) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length !== 3 || f.some((n) => !Number.isSafeInteger(n) || n < 0)) continue;
    const [inside, outside, count] = f as [number, number, number];
    if (uid >= inside && uid < inside + count) return outside + (uid - inside);
  }
  return uid;
}

/** This process's uid as the machine's namespace knows it (`Deno.uid()` outside a user namespace). */
export function machineUid(): number {
  const uid = Deno.uid() ?? -1;
  try {
    return uidOutside(uid, Deno.readTextFileSync("/proc/self/uid_map"));
  } catch {
    return uid;
  }
}

/** True in a user namespace where this process is root but the machine knows it as another user. */
export function rootInUserNamespace(): boolean {
  return Deno.uid() === 0 && machineUid() !== 0;
}

/** The user namespace of process `pid` ("self" for this one) as /proc names it (`user:[4026532712]`), or "". */
export function userNamespaceOf(pid: string): string {
  try {
    return Deno.readLinkSync(`/proc/${pid}/ns/user`);
  } catch {
    return "";
  }
}

/** The pids of the processes in user namespace `ns` (as {@link userNamespaceOf} names it) this user may see. */
export function processesInUserNamespace(ns: string): number[] {
  const pids: number[] = [];
  if (ns === "") return pids;
  for (const e of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(e.name) && e.name !== String(Deno.pid) && userNamespaceOf(e.name) === ns) {
      pids.push(Number(e.name));
    }
  }
  return pids;
}
