/**
 * What `vde down LAB` finds of a lab whose record is gone: a `vde up`
 * killed with SIGKILL after its record went (or whose take-down could not
 * run `ip`) leaves its hosts' namespaces, `vde-LAB-HOST`, with the
 * interfaces in them. Its taps are not persistent: they went with the
 * process that held them open. So the namespaces are all there is to find,
 * by name alone, and a name is only trusted where it reads one way.
 *
 * Both a lab's and a host's name may hold "-": `vde-a-b-h1` is lab a's
 * host `b-h1` or lab a-b's `h1`. For `vde down a`, a rest holding "-" is
 * another lab's as likely as this one's; for `vde down a-b`, every name is
 * lab a's as likely (its host `b-` anything): such a one is left and named,
 * with the command that removes it. A namespace some lab's record holds (a running
 * lab's, recorded before it is made) is that lab's, whatever its name reads
 * as, and is never touched. A rootless lab's namespaces are its user
 * namespace's, not in /run/netns: they went with its processes.
 */
import { machineUid } from "../os/user_namespace.ts";
import { NAME_PATTERN, netnsName } from "./names.ts";
import { labStates } from "./state.ts";
import { deleteNetns } from "./system.ts";

/** The namespaces of `listed` that are lab `lab`'s by name (`ours`), and those that only may be (`unsure`). */
export function leftoverNamespaces(
  lab: string,
  listed: readonly string[],
  held: (ns: string) => boolean,
): { ours: string[]; unsure: string[] } {
  const prefix = netnsName(lab, "");
  const ours: string[] = [];
  const unsure: string[] = [];
  for (const ns of [...listed].sort()) {
    const host = ns.slice(prefix.length);
    if (!ns.startsWith(prefix) || !NAME_PATTERN.test(host) || held(ns)) continue;
    // A dash in either name lets a shorter lab's name read it: `vde-a-b-h1` for `vde down a-b` is lab a's `b-h1` too.
    (host.includes("-") || lab.includes("-") ? unsure : ours).push(ns);
  }
  return { ours, unsure };
}

/** The named network namespaces of the machine, as `ip netns list` reads them. */
export function namedNamespaces(dir = "/run/netns"): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return []; // none made yet
  }
}

/**
 * The one line `vde down` says of what it did with lab `lab`'s leftover
 * namespaces (`removed` deleted, `unsure` left), or undefined where there
 * were none.
 */
export function leftoversLine(
  lab: string,
  removed: readonly string[],
  unsure: readonly string[],
): string | undefined {
  const parts: string[] = [];
  if (removed.length > 0) {
    parts.push(
      `removed ${removed.length} namespace${removed.length === 1 ? "" : "s"} lab ${lab} left ` +
        `(its record was gone): ${removed.join(", ")}`,
    );
  }
  if (unsure.length > 0) {
    const list = unsure.join(", ");
    parts.push(
      `left ${list}: may be another lab's (names are vde-LAB-HOST, both may hold "-"); ` +
        `\`ip netns del NAME\` if nothing uses it`,
    );
  }
  return parts.length > 0 ? parts.join("; ") : undefined;
}

/**
 * What another user's `vde down LAB` says of root's namespaces named as lab
 * `lab`'s: not theirs to delete (they would fail in `ip`), but a cleanup that
 * heard only "nothing to take down" would think the machine clean.
 */
export function rootsLeftoversLine(lab: string, listed: readonly string[]): string | undefined {
  const { ours, unsure } = leftoverNamespaces(lab, listed, () => false);
  const all = [...ours, ...unsure].sort();
  if (all.length === 0) return undefined;
  return `left ${all.join(", ")}: root's namespace${all.length === 1 ? "" : "s"} ` +
    `(a root lab ${lab} left ${
      all.length === 1 ? "it" : "them"
    }?); \`sudo vde down ${lab}\` removes what is that lab's`;
}

/**
 * Deletes the namespaces lab `lab`, its record gone, left (root's alone: no
 * other user's lab has any in /run/netns), each looked for in every lab's
 * record again just before (a new `vde up` of any name records one before
 * it makes it); returns the line to say, or undefined where there were none.
 */
export async function removeLeftoverNamespaces(lab: string, dir = "/run/netns"): Promise<string | undefined> {
  if (machineUid() !== 0) return rootsLeftoversLine(lab, namedNamespaces(dir));
  const held = (ns: string) => labStates().some(([, s]) => (s.namespaces ?? []).includes(ns));
  const { ours, unsure } = leftoverNamespaces(lab, namedNamespaces(dir), held);
  const removed: string[] = [];
  for (const ns of ours) {
    if (held(ns)) continue;
    await deleteNetns(ns);
    removed.push(ns);
  }
  return leftoversLine(lab, removed, unsure);
}
