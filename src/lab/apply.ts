/**
 * A running lab follows its edited file: `diff` says what the file changes,
 * `apply` changes the running lab to match, live (the lab shell's commands,
 * and `vde up --apply FILE` through the lab's control socket).
 *
 * Theory of operation. The file is read and validated by the process that
 * runs the lab, as `vde up` would read it, and compared with the lab as it
 * runs (changes.ts). `apply` is all or nothing in what it will try: while
 * one change cannot be made live (a switch's data plane, a slirp's options,
 * a switch shrunk below a port a link keeps), it changes nothing and names
 * each such change with why, since a half-applied file would match neither
 * the file nor what ran before; `vde up -c` is then the way. Otherwise it
 * removes first (links, then nodes: ports and interface names come free for
 * what is added), changes links (a host end's addresses, then impairments
 * and VLANs), switches' and slirps' settings (live_settings.ts), adds
 * nodes, then links, then changes hosts' settings (a gateway may be on a
 * link just added) and configures the hosts it added (routes, gateway,
 * `exec`), and says one line per change made. A step that fails (a tap name
 * taken, no DHCP lease, a console command refused, a route `ip` refuses, a
 * forward's host port taken, an `exec`) has undone itself, and every step
 * after the removals is undone with it, newest first (a host added goes
 * again, so a second apply tries it anew; a switch changed gets its
 * settings back): the lab runs on as before, but for the removals, which
 * cannot be taken back (a host removed took its processes along) and are
 * said. An undo that fails too is said, and the lab is then half changed.
 */
import {
  type AddedLink,
  describeChanges,
  type LabChanges,
  labChanges,
  noChanges,
  notLiveLines,
  renodedLine,
} from "./changes.ts";
import { changeAddresses, changeNode, HalfUndone } from "./live_settings.ts";
import type { LabRunner } from "./runner.ts";
import { STP_AVAILABLE } from "./runner.ts";
import { type Lab, linkName } from "./spec.ts";
import { formatErrors } from "./validate.ts";
import { readLabText, trustedLabText } from "./lab_text.ts";
import { usersOwnLab } from "./state.ts";
import { dirOf, realPath } from "../os/paths.ts";
import { shellQuoted } from "../shell_quote.ts";
import { layRcSettings } from "./rc_settings.ts";
import { cannotRead, unreadableReason } from "./unreadable.ts";

/** What a lab command says: its lines, and whether it did what was asked. */
export interface Outcome {
  ok: boolean;
  lines: string[];
  /** Failed, but having changed the lab on the way (removals, or what could not be undone). */
  changedAnyway?: boolean;
}

/**
 * The lab in `file` (default: the running lab's own file), or the one line
 * (or FILE:LINE:COL lines) that say why there is none to compare. A relative
 * `file` is read from the lab file's directory, as its rc and key files are:
 * the lab process's own directory is not the shell user's, who cannot see it.
 */
export function readLabFile(
  r: LabRunner,
  file: string | undefined,
  purpose: "diff" | "apply",
): { lab: Lab; path: string; notes: string[] } | Outcome {
  // A diff changes nothing anyway: saying so after its refusal read as if it might have.
  const after = purpose === "apply" ? "nothing was changed" : undefined;
  const given = file === undefined ? r.file : file.startsWith("/") ? file : `${r.baseDir}/${file}`;
  if (given === "") {
    return { ok: false, lines: ["this lab was built in the shell and has no file: name one"] };
  }
  let text: string;
  let path: string;
  try {
    text = trustedLabText(given);
    // As `vde up` names it (state.json, `vde up --apply`): `./x.yaml` and a link to it are one file.
    path = Deno.realPathSync(given);
  } catch (err) {
    return { ok: false, lines: [cannotRead(given, unreadableReason(err))] };
  }
  // The file's rc and key files start in its directory, as they would for `vde up` of it.
  const filesFrom = dirOf(path);
  // Its variables from the lab's own environment, that of its `vde up`: the file reads as it did then.
  const { lab, errors } = readLabText(text, {
    stp: STP_AVAILABLE,
    filesFrom,
    name: r.givenName,
    usersOwn: usersOwnLab(),
  });
  if (lab === undefined) {
    return { ok: false, lines: [...formatErrors(path, errors), ...(after ? [after] : [])] };
  }
  if (lab.name !== r.lab.name) {
    return {
      ok: false,
      lines: [`${path} is lab ${lab.name}, not this lab (${r.lab.name})${after ? `: ${after}` : ""}`],
    };
  }
  return { lab, path, notes: withRcSettings(r, lab, filesFrom) };
}

/**
 * Lays over each switch of `lab` that runs the rc its running switch ran
 * what that rc set (rc_settings.ts), as `vde up` of the file would run it;
 * says where the file's own setting is not what runs then.
 */
function withRcSettings(r: LabRunner, lab: Lab, filesFrom: string): string[] {
  const notes: string[] = [];
  for (const node of lab.nodes) {
    const from = node.kind === "switch" ? r.switches.get(node.name)?.fromRc : undefined;
    if (node.kind !== "switch" || node.rc === undefined || from === undefined) continue;
    if (realPath(node.rc.startsWith("/") ? node.rc : `${filesFrom}/${node.rc}`) !== from.rc) continue;
    const overridden = layRcSettings(node, from.set);
    if (overridden.length > 0) {
      notes.push(
        `switch ${node.name}: its rc sets ${overridden.join(", ")} over the file, as vde up of it would`,
      );
    }
  }
  return notes;
}

/** `diff`: what `file` changes in the running lab, one line each; none when it runs the file. */
export function diffLab(r: LabRunner, file: Lab): string[] {
  return describeChanges(labChanges(r.lab, file));
}

/**
 * `apply`: makes the running lab what `file` says, live.
 *
 * @param path the file, for the hint when a change is not live
 * @param nodeAdded told each node added (the shell makes its name a command)
 */
export async function applyLab(
  r: LabRunner,
  file: Lab,
  path: string,
  nodeAdded: (name: string) => void,
): Promise<Outcome> {
  const c = labChanges(r.lab, file);
  const was = r.file;
  // Applied, the file is the lab's (as `kubectl apply -f` would have it): `save` writes into it,
  // `vde up --apply` of it reaches the lab, `vde status` names it.
  const followed = was === path ? [] : [`now runs ${path}${was ? ` (was ${was})` : ""}`];
  // A switch whose thread died forwards nothing whatever the apply makes of the rest: the lab again is the
  // way, with the file applied (said before "nothing to apply": the file is not what runs). One the file
  // removes may go.
  const dead = file.nodes.filter((n) => n.kind === "switch" && r.switchFailure(n.name) !== null);
  if (dead.length > 0) {
    return { ok: false, lines: dead.map((n) => `${r.deadSwitchLine(n.name, path)}; nothing was applied`) };
  }
  if (noChanges(c)) {
    r.follow(path);
    return { ok: true, lines: [`nothing to apply: lab ${r.lab.name} runs ${path} as it is`, ...followed] };
  }
  if (c.notLive.length > 0) {
    const rootless = r.rootless ? " --rootless" : "";
    // `vde up -c` of another file than the lab runs (a copy edited beside it) is refused, lest a second
    // copy's take down the first's lab: that file comes up after a `vde down` of the lab by name.
    // Quoted: the commands are copied into a shell, and a copy's name may hold a space ("lab copy.yaml").
    const file = shellQuoted(path);
    const again = was && was !== path
      ? `the lab runs ${was}: \`vde down ${r.lab.name}\`, then \`vde up${rootless} ${file}\`, brings this file up`
      : `\`vde up -c${rootless} ${file}\` takes the lab down and brings the file up`;
    return { ok: false, lines: [...notLiveLines(c), `nothing was changed; ${again}`] };
  }
  const done: string[] = [];
  let step = "";
  // Before the steps: what they add resolves its relative rc and key files from the file's directory.
  const unfollow = r.follow(path);
  // What undoes each step made after the removals, newest last: the removals cannot be taken back (a
  // host's processes are gone with it), the rest is, so a failure leaves the lab as the removals left it.
  const undo: (() => Promise<void>)[] = [];
  // The lines from here on are of steps undone on a failure.
  let undone = Infinity;
  try {
    await removeSteps(r, c, done, (what) => step = what);
    undone = done.length;
    await applySteps(r, c, nodeAdded, done, undo, (what) => step = what);
  } catch (err) {
    const stuck: string[] = [];
    for (const u of undo.reverse()) await u().catch((e) => stuck.push((e as Error).message));
    if (undone < done.length) done.splice(undone);
    const half = err instanceof HalfUndone || stuck.length > 0;
    // Untouched, the lab keeps its file; with removals made, it follows the file, so a second `apply` tries
    // the rest.
    if (done.length === 0 && !half) unfollow();
    const why = `${(err as Error).message}${
      stuck.length > 0 ? ` (and undoing the changes before it: ${stuck.join("; ")})` : ""
    }`;
    const rest = half
      ? `what could not be undone runs on as it is; \`vde up -c ${path}\` brings the file up whole`
      : done.length === 0
      ? "nothing was changed"
      : `the rest was undone: the lab runs on with the removals above${
        followed.length > 0 ? `, and ${path} as its file` : ""
      }`;
    return {
      ok: false,
      lines: [...done, `${step} failed: ${why}; ${rest}`],
      changedAnyway: done.length > 0 || half,
    };
  }
  return { ok: true, lines: [...done, ...followed] };
}

/** Removes the links, then the nodes, the file no longer has: ports and interface names come free. */
async function removeSteps(
  r: LabRunner,
  c: LabChanges,
  done: string[],
  doing: (what: string) => void,
): Promise<void> {
  for (const spec of c.removedLinks) {
    const link = r.links.find((l) => l.spec === spec)!;
    doing(`removing link ${link.name}`);
    await r.removeLink(link);
    done.push(`removed link ${link.name}`);
  }
  for (const node of c.removedNodes) {
    doing(`removing ${node.kind} ${node.name}`);
    await r.removeNode(node.name);
    done.push(`removed ${node.kind} ${node.name}`);
  }
}

/** Every change after the removals, each pushing what undoes it onto `undo`. */
async function applySteps(
  r: LabRunner,
  c: LabChanges,
  nodeAdded: (name: string) => void,
  done: string[],
  undo: (() => Promise<void>)[],
  doing: (what: string) => void,
): Promise<void> {
  for (const m of c.relinked) {
    const link = r.links.find((l) => l.spec === m.running)!;
    doing(`changing link ${link.name}`);
    const { impair, vlan, trunk } = link.spec;
    // What may fail first: the addresses undo themselves, and the rest cannot fail.
    await changeAddresses(r, m.addresses);
    r.setImpairments(link, m.file.impair);
    r.setLinkVlans(link, m.file.vlan, m.file.trunk);
    undo.push(async () => {
      r.setLinkVlans(link, vlan, trunk);
      r.setImpairments(link, impair);
      await changeAddresses(r, m.addresses.map((a) => ({ ...a, before: a.after, after: a.before })));
    });
    done.push(`link ${link.name}: ${m.settings.join(", ")}`);
  }
  // Before nodes and links are added (a link may take a port a switch gains); a host's after its links
  // (a gateway may be on one), below.
  const [hostChanges, otherChanges] = partition(c.renoded, (n) => n.running.kind === "host");
  for (const n of otherChanges) await changeNodeStep(r, n, done, undo, doing);
  for (const node of c.addedNodes) {
    doing(`adding ${node.kind} ${node.name}`);
    await r.addNode(node);
    undo.push(async () => {
      if (r.lab.nodes.some((n) => n.name === node.name)) await r.removeNode(node.name);
    });
    nodeAdded(node.name);
    done.push(`added ${node.kind} ${node.name}`);
  }
  // A host added here is configured whole once its links are in (routes may go through any of them).
  const newHosts = new Set(c.addedNodes.filter((n) => n.kind === "host").map((n) => n.name));
  for (const added of c.addedLinks) {
    doing(`adding link ${linkName(added.link)}`);
    const given = giveAddresses(r, added);
    const link = await r.addLink(added.link, newHosts).catch((err) => {
      given.forEach((take) => take());
      throw err;
    });
    undo.push(() => r.removeLink(link));
    done.push(`added link ${link.name}`);
  }
  for (const n of hostChanges) await changeNodeStep(r, n, done, undo, doing);
  for (const name of newHosts) {
    doing(`configuring host ${name}`);
    // Half configured (its exec failed), the host goes again with what else was added, by its undo: it
    // would pass for applied, and a second apply find nothing to do.
    await r.configureHost(r.hosts.get(name)!.node);
  }
}

/**
 * Gives an added link's host ends the file's addresses, under the
 * interfaces they get; returns what takes each away again.
 */
function giveAddresses(r: LabRunner, added: AddedLink): (() => void)[] {
  return added.addresses.flatMap(({ host, iface, addresses }) => {
    const node = r.hosts.get(host)?.node;
    if (node === undefined) return [];
    node.addresses[iface] = addresses;
    return [() => void delete node.addresses[iface]];
  });
}

/** One node's live settings changed, all or none, and said; its undo sets them back. */
async function changeNodeStep(
  r: LabRunner,
  n: LabChanges["renoded"][number],
  done: string[],
  undo: (() => Promise<void>)[],
  doing: (what: string) => void,
): Promise<void> {
  doing(`changing ${n.running.kind} ${n.running.name}`);
  const before = structuredClone(n.running);
  await changeNode(r, n.running, n.file);
  undo.push(() => changeNode(r, n.running, before));
  done.push(renodedLine(n));
}

/** The items `test` holds for, and the others. */
function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((i) => !test(i))];
}
