/**
 * The switches of the labs running on this machine, by name, for commands
 * that take a switch's path (`vde capture`, `vde term`). A lab user knows a
 * switch as `site1` of lab `wan`, not as `/run/vde/wan/site1`: a name that
 * is no path is looked up as `SWITCH` (when one running lab has it) or
 * `LAB/SWITCH`, from the labs' runtime directories (a switch's socket
 * directory holds its `ctl` socket). A name that finds none is answered
 * with the ones that exist.
 */
import { labDir, labsBaseDir, labsBaseDirOf, NAME_PATTERN, netnsName, ROOT_LABS_DIR } from "./names.ts";
import { dirOf, isFile, isSocket, wholePath } from "../os/paths.ts";
import { LAB_STATE_FILE, type LabState, labStates, ownerRuns, readLabNames } from "./state.ts";
import { suggestCommands } from "../console/explain.ts";
import { didYouMeanClause } from "../did_you_mean.ts";
import { nearSwitchClause } from "../vde/near_switch.ts";
import { type MarkedProcess, markedProcesses } from "../os/user_namespace.ts";
import { groupHint, ownerAndMode, userName } from "../os/users.ts";
import { readOwnedFile } from "../os/owned_file.ts";
import { printable } from "../console/reply_format.ts";
import { shellQuoted } from "../shell_quote.ts";

/** A switch of a running lab. */
export interface LabSwitch {
  lab: string;
  node: string;
  /** Its socket directory (vde_plug, QEMU, `vde capture`); `${dir}.mgmt` is its console. */
  dir: string;
}

/** Every switch of every lab whose `vde up` runs, in lab then node order. */
export function labSwitches(): LabSwitch[] {
  const out: LabSwitch[] = [];
  for (const [lab, state] of labStates()) {
    if (!ownerRuns(state.pid, state.pidStart)) continue;
    const nodes: string[] = [];
    try {
      for (const e of Deno.readDirSync(labDir(lab))) {
        if (e.isDirectory && isSocket(`${labDir(lab)}/${e.name}/ctl`)) nodes.push(e.name);
      }
    } catch { /* taken down meanwhile */ }
    for (const node of nodes.sort()) out.push({ lab, node, dir: `${labDir(lab)}/${node}` });
  }
  return out;
}

/**
 * How a capture names the switch whose capture socket is `capture`: a
 * lab's as `LAB/SWITCH` (the name `vde capture` takes), any other by its
 * socket directory (its real path).
 */
export function switchName(capture: string): string {
  const dir = dirOf(capture);
  const lab = dirOf(dir);
  const base = dirOf(lab);
  const isLab = (base === labsBaseDir() || base === ROOT_LABS_DIR) && isFile(`${lab}/${LAB_STATE_FILE}`);
  // `.` or `sw` as typed would name nothing once the file is elsewhere.
  return isLab ? `${baseName(lab)}/${baseName(dir)}` : wholePath(dir);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** What `SWITCH` or `LAB/SWITCH` names among running labs: one switch, or why not ("" when found). */
export interface LabSwitchMatch {
  found?: LabSwitch;
  why: string;
  /** No lab is up, and `name` has the shape of a lab switch's name (sw1, demo/sw1) rather than a path's. */
  noLabUp?: boolean;
}

/** `wan/site1`, as the user writes it. */
function shown(s: LabSwitch): string {
  return `${s.lab}/${s.node}`;
}

/**
 * The running lab switch `name` means. `why` is the clause to add to a
 * "no such switch" error: ` (did you mean wan/site1?)`, the switches up,
 * that two labs have one by this name, or "" when no lab runs.
 */
export function findLabSwitch(name: string): LabSwitchMatch {
  const match = matchLabSwitch(name, labSwitches());
  if (match.found !== undefined) return match;
  const shared = sharedRootSwitch(name);
  return shared !== undefined ? { found: shared, why: "" } : match;
}

/**
 * Whether `path` is the console of a lab's switch (`BASE/LAB/SWITCH.mgmt`):
 * its lab file, not `vde switch`'s options, says who may open it.
 */
export function isLabSwitchConsole(path: string): boolean {
  const m = /^(.*)\/[^/]+\/[^/]+\.mgmt$/.exec(path);
  return m !== null && (m[1] === ROOT_LABS_DIR || m[1] === labsBaseDir());
}

/**
 * The lab whose own console `path` is (`BASE/LAB/ctl`, the lab shell, which
 * runs commands as root in its hosts): no lab file shares it, so a user
 * refused there is told whose it is, not how a switch shares its console.
 * Undefined for any other path.
 */
export function labOfConsole(path: string): string | undefined {
  const m = /^(.*)\/([^/]+)\/ctl$/.exec(path);
  return m !== null && (m[1] === ROOT_LABS_DIR || m[1] === labsBaseDir()) && NAME_PATTERN.test(m[2]!)
    ? m[2]
    : undefined;
}

/**
 * Root's lab switch `LAB/SWITCH` that this user may reach: one whose node
 * gave its sockets to a group or others (`mode`), so the user can see its
 * `ctl` through the lab's directory. Root's labs are not listed for another
 * user (their directories are root's to read), so only the whole name finds one.
 */
export function sharedRootSwitch(
  name: string,
  uid: number | null = Deno.uid(),
  base = ROOT_LABS_DIR,
): LabSwitch | undefined {
  const parts = nameParts(name);
  if (uid === 0 || parts?.length !== 2) return undefined;
  const [lab, node] = parts as [string, string];
  const dir = `${base}/${lab}/${node}`;
  return isSocket(`${dir}/ctl`) ? { lab, node, dir } : undefined;
}

/** `LAB` or `LAB/SWITCH` (a trailing `/` allowed) as its one or two names; undefined for anything else. */
function nameParts(name: string): string[] | undefined {
  const parts = name.replace(/\/+$/, "").split("/");
  return parts.length <= 2 && parts.every((p) => NAME_PATTERN.test(p)) ? parts : undefined;
}

/** findLabSwitch among the lab switches `all`. */
export function matchLabSwitch(name: string, all: readonly LabSwitch[]): LabSwitchMatch {
  const parts = nameParts(name) ?? [];
  const valid = parts.length > 0;
  const hits = !valid
    ? []
    : parts.length === 2
    ? all.filter((s) => s.lab === parts[0] && s.node === parts[1])
    : all.filter((s) => s.node === parts[0]);
  if (hits.length === 1) return { found: hits[0]!, why: "" };
  if (hits.length > 1) {
    return {
      why: ` (a switch of labs ${hits.map((s) => s.lab).join(", ")}: name one, ${
        hits.map(shown).join(" or ")
      })`,
    };
  }
  // A name as a lab's switch has (sw1, demo/sw1), not a path: the user may think a lab is up.
  if (all.length === 0) return { why: "", noLabUp: valid && !name.startsWith(".") };
  const names = all.map(shown);
  const near = suggestCommands(name, names);
  return {
    why: didYouMeanClause(near) ||
      ` (switches of running labs: ${names.slice(0, 8).join(", ")}${names.length > 8 ? ", ..." : ""})`,
  };
}

/**
 * ` (did you mean demo?)` for a running lab whose name is a typo's distance
 * from `name` (`vde term dmeo`, where a lab's name opens its console), or "".
 */
export function nearLabClause(name: string): string {
  if (!NAME_PATTERN.test(name)) return "";
  const up = [...labStates()].filter(([, s]) => ownerRuns(s.pid, s.pidStart)).map(([lab]) => lab);
  return didYouMeanClause(suggestCommands(name, up));
}

/**
 * A path that does not exist, as a command that also takes a running lab's
 * switch by name reads it (`vde capture`, `vde slirp --sock`): that
 * switch's directory; or root's lab's answer, a whole line; or the clause
 * for the command's "no such switch" line (why no lab switch matched, ""
 * where that says nothing more).
 */
export function namedSwitch(
  name: string,
): { dir: string } | { refused: string } | { clause: string; noLabUp?: boolean } {
  const lab = findLabSwitch(name);
  if (lab.found !== undefined) return { dir: lab.found.dir };
  const roots = rootsLabAnswer(name);
  if (roots !== undefined) return { refused: roots };
  // A path a letter off a switch's directory beside it (/tmp/nte): that one, before the labs' switches.
  const near = nearSwitchClause(name);
  if (near !== "") return { clause: near };
  const none = lab.noLabUp ? " (nor a switch of a running lab: no lab is up)" : "";
  // LAB/SWITCH of a user's rootless lab, asked by root: whose it is.
  const whose = name.includes("/") ? usersLabHint(name) : "";
  return { clause: `${lab.why || none}${whose}`, noLabUp: lab.noLabUp };
}

/**
 * Whether directory `dir` has the setgid bit that every switch gives its
 * socket directory and a lab never gives its own: how a switch's directory
 * among labs' (/run/vde) is told apart. False once it is gone.
 */
export function isSwitchMode(dir: string): boolean {
  try {
    return ((Deno.lstatSync(dir).mode ?? 0) & 0o2000) !== 0;
  } catch {
    return false;
  }
}

/**
 * `lab LAB cannot use DIR: it is ...`, when the runtime directory `dir` of
 * lab `lab` is a switch's socket directory, no lab's (root's labs and
 * `vde switch --sock /run/vde/NAME` share /run/vde): its `ctl`, or the
 * setgid bit every switch gives its directory and a lab never does. Such a
 * directory is never to be removed for the lab, least of all while its
 * switch serves it. Undefined for any other directory.
 */
export async function switchNotLab(lab: string, dir: string): Promise<string | undefined> {
  const ctl = `${dir}/ctl`;
  if (!isSocket(ctl) && !isSwitchMode(dir)) return undefined;
  let serves = false;
  try {
    (await Deno.connect({ transport: "unix", path: ctl })).close();
    serves = true;
  } catch { /* no switch answers there */ }
  return `lab ${lab} cannot use ${dir}: it is ${
    serves ? "the directory of a switch that runs there" : "a switch's socket directory"
  } (vde switch --sock ${dir}), no lab`;
}

/** Root's labs, seen by a user who is not root (none for root, who lists its own). */
export function rootLabs(uid: number | null = Deno.uid(), base = ROOT_LABS_DIR): string[] {
  if (uid === 0) return [];
  const labs: string[] = [];
  try {
    // Each lab's runtime directory (its state file inside is root's alone to read). A switch's
    // socket directory there (`vde switch --sock /run/vde/class`) is no lab: every switch makes
    // its directory setgid, a lab never does.
    for (const e of Deno.readDirSync(base)) {
      if (e.isDirectory && !isSwitchMode(`${base}/${e.name}`)) labs.push(e.name);
    }
  } catch { /* root has none */ }
  return labs.sort();
}

/**
 * Root's labs that have a host `host`, as a user who is not root sees them:
 * the lab's state is root's to read, but its names file beside it (state.ts's
 * LabNames) lists its hosts for anyone, and a host counts while its
 * namespace (`vde-LAB-HOST`) is in `netnsDir`. None for root, whose own labs
 * they are, or for a name no host may have.
 *
 * A lab a previous vde brought up has no names file: its hosts are read from
 * the namespaces' names, where a lab's name may hold a `-`, so one namespace
 * reads as two labs' hosts where one lab's name is the other's and more
 * (`vde-a-b-h1`: lab a's `b-h1`, lab a-b's `h1`). It is counted once: for the
 * lab whose names file lists it, else for the longest name of a lab that is
 * up (namespaceLab).
 */
export function rootLabsWithHost(
  host: string,
  uid: number | null = Deno.uid(),
  base = ROOT_LABS_DIR,
  netnsDir = "/run/netns",
): string[] {
  if (uid === 0 || !NAME_PATTERN.test(host)) return [];
  const labs = rootLabs(uid, base);
  const listed = new Map(labs.map((lab) => [lab, readLabNames(lab, 0, base)?.hosts]));
  // Namespaces a names file says are its lab's: no other lab's, whatever their names read as.
  const claimed = new Set(
    [...listed].flatMap(([lab, hosts]) => (hosts ?? []).map((h) => netnsName(lab, h))),
  );
  return labs.filter((lab) => {
    const ns = netnsName(lab, host);
    try {
      Deno.lstatSync(`${netnsDir}/${ns}`);
    } catch {
      return false;
    }
    const hosts = listed.get(lab);
    if (hosts !== undefined) return hosts.includes(host);
    // Among the labs whose names file does not say (one that does, and lists it not, has it not).
    return !claimed.has(ns) && namespaceLab(ns, labs.filter((l) => listed.get(l) === undefined)) === lab;
  });
}

/** Which of the labs `labs` namespace `ns` is a host's of: the longest name it opens with (`vde-LAB-`). */
function namespaceLab(ns: string, labs: readonly string[]): string | undefined {
  return labs.filter((lab) => ns.startsWith(netnsName(lab, "")) && ns.length > netnsName(lab, "").length)
    .reduce<string | undefined>(
      (best, lab) => best === undefined || lab.length > best.length ? lab : best,
      undefined,
    );
}

/**
 * The one line for a user who is not root naming a host of root's lab alone
 * (`vde COMMAND h1`): found there, it is root's to reach (its namespace is
 * root's to enter; a capture sees every port of its switch, so is root's
 * too), said with the line root types, each lab's where several have it.
 * Undefined when none of root's labs has the host.
 */
export function rootsHostAnswer(
  host: string,
  line: (lab: string) => string,
  uid: number | null = Deno.uid(),
  base = ROOT_LABS_DIR,
  netnsDir = "/run/netns",
): string | undefined {
  // Root's own labs are root's to reach: what root names that none has may be a user's rootless lab's.
  if (uid === 0) return usersHostAnswer(host, line);
  return rootsHostLine(host, rootLabsWithHost(host, uid, base, netnsDir), line);
}

/**
 * For root: the users' rootless labs that run with a host `host`, as their
 * own state records it (each namespace there is its own lab's, so the name
 * after `vde-LAB-` is the host's exactly). None for anyone else.
 */
export function usersLabsWithHost(host: string, labs: readonly UsersLab[]): UsersLab[] {
  if (!NAME_PATTERN.test(host)) return [];
  return labs.filter((l) => {
    // The user's file: a list of strings, or nothing to find there.
    const namespaces: unknown = l.state.namespaces;
    return Array.isArray(namespaces) && namespaces.includes(netnsName(l.name, host));
  });
}

/**
 * usersHostAnswer for a host named alone or as `LAB/HOST` (that user's lab
 * only), with `line` root's command given the lab and the host.
 */
export function usersNamedHostAnswer(
  name: string,
  line: (lab: string, host: string) => string,
  labs: () => readonly UsersLab[] = () => usersLabs(),
): string | undefined {
  const m = /^([^/]+)\/([^/]+)$/.exec(name);
  if (m === null) return usersHostAnswer(name, (lab) => line(lab, name), labs);
  const [, lab, host] = m as unknown as [string, string, string];
  return usersHostAnswer(host, (l) => line(l, host), () => labs().filter((l) => l.name === lab));
}

/**
 * The line root types to run `line` (`vde exec demo/h1`) as user `l.user`,
 * whose lab it is: with their runtime directory, where their vde finds it.
 * runuser keeps root's environment but for HOME, SHELL, USER and LOGNAME,
 * so a user whose lab has none (/tmp/vde-UID) needs root's taken away: root
 * logged in has its own (/run/user/0), where the user's vde would look.
 */
export function asUserLine(l: UsersLab, line: string): string {
  // The user's environment named it: no control character of theirs reaches root's terminal.
  const env = l.runtimeDir === undefined
    ? "env -u XDG_RUNTIME_DIR "
    : `env XDG_RUNTIME_DIR=${shellQuoted(printable(l.runtimeDir))} `;
  return `runuser -u ${shellQuoted(l.user)} -- ${env}${line}`;
}

/**
 * The one line for root naming a host alone (`vde exec h1`, `vde capture
 * h1`) that none of root's labs has and a user's rootless lab has: whose
 * it is, and the line that reaches it, as that user. Root's vde does not
 * go in itself: a command entered there runs as the user (root of their
 * namespace is their uid) in namespaces the user controls, which would
 * hand it root's terminal and, where the user's namespace may not drop
 * them, root's groups; as the user it has the user's alone. Each lab's
 * line where several have it; undefined where none has (or not root).
 */
export function usersHostAnswer(
  host: string,
  line: (lab: string) => string,
  labs: () => readonly UsersLab[] = () => usersLabs(),
): string | undefined {
  if (!NAME_PATTERN.test(host)) return undefined;
  const found = usersLabsWithHost(host, labs());
  if (found.length === 0) return undefined;
  const whose = found.map((l) => `user ${l.user}'s rootless lab ${l.name}`).join(", ");
  return `${host} is a host of ${whose}, whose namespaces are the user's own: reach it as that user, ` +
    found.map((l) => `\`${asUserLine(l, line(l.name))}\``).join(" or ");
}

/** rootsHostAnswer's line for host `host` (a node of kind `kind`) of root's labs `labs`; undefined for none. */
export function rootsHostLine(
  host: string,
  labs: readonly string[],
  line: (lab: string) => string,
  kind = "host",
): string | undefined {
  if (labs.length === 0) return undefined;
  const of = labs.length === 1 ? `root's lab ${labs[0]}` : `root's labs ${labs.join(", ")}`;
  return `${host} is a ${kind} of ${of}, not this user's: run vde as root for it, ` +
    labs.map((lab) => `\`sudo ${line(lab)}\``).join(" or ");
}

/**
 * The line for a user who is not root naming a switch or link alone
 * (`vde capture sw1`, `vde capture site1-site2`) that none of their labs
 * has, where root runs labs: whose it is where that shows (a switch of a
 * lab that shares one is seen by its name; a link by a host of root's at
 * either end, whose namespace anyone lists), said as rootsHostLine says a
 * host; else, as root's lab switches are root's alone to list, where it may
 * be (`maybe`, for when this user's own labs have nothing near it either).
 * Undefined for root, a path, or where root runs no lab.
 */
export function rootsNodeAnswer(
  name: string,
  line: (lab: string) => string,
  uid: number | null = Deno.uid(),
  base = ROOT_LABS_DIR,
  netnsDir = "/run/netns",
): { found: string } | { maybe: string } | undefined {
  if (uid === 0 || !/^[A-Za-z0-9][A-Za-z0-9_:-]*$/.test(name)) return undefined;
  const labs = rootLabs(uid, base);
  if (labs.length === 0) return undefined;
  const switchOf = labs.filter((lab) => NAME_PATTERN.test(name) && isSocket(`${base}/${lab}/${name}/ctl`));
  if (switchOf.length > 0) return { found: rootsHostLine(name, switchOf, line, "switch")! };
  // `A-B`, `A:eth0-B:1`: node names may hold a `-` too, so each `-` is tried as the one between the ends.
  const ends = [...name.matchAll(/-/g)].flatMap((m) => [name.slice(0, m.index), name.slice(m.index + 1)]);
  const linkOf = [
    ...new Set(ends.flatMap((end) => rootLabsWithHost(end.split(":")[0]!, uid, base, netnsDir))),
  ];
  if (linkOf.length > 0) return { found: rootsHostLine(name, linkOf, line, "link")! };
  const where = labs.length === 1 ? `\`sudo ${line(labs[0]!)}\`` : `\`sudo ${line("LAB")}\``;
  return {
    maybe: `root's labs are up (${labs.join(", ")}), whose switches and links only root sees: ` +
      `if it is one of theirs, ${where}`,
  };
}

/**
 * The one line for a user who is not root naming root's lab (`u24s1`) or
 * its switch (`u24s1/sw1`): the lab is up, only not theirs, so "no such lab"
 * (with every lab root runs after it, twenty in a class) would mislead. Its
 * console is root's alone because it runs commands as root in the hosts.
 * Undefined when `name` names none of root's labs.
 */
export function rootsLabAnswer(
  name: string,
  uid: number | null = Deno.uid(),
  base = ROOT_LABS_DIR,
): string | undefined {
  const parts = nameParts(name);
  if (parts === undefined || !rootLabs(uid, base).includes(parts[0]!)) return undefined;
  const shared = parts.length === 2 ? unsharedSwitch(`${base}/${parts.join("/")}`, uid) : undefined;
  if (shared !== undefined) return `switch ${parts[0]}/${parts[1]} of root's lab ${parts[0]}: ${shared}`;
  return `lab ${parts[0]} is root's, not this user's: run vde as root for it ` +
    "(its console runs commands as root in its hosts, so it is root's alone)";
}

/** A user's rootless lab, as root finds it. */
export interface UsersLab {
  /** The user's name (or uid where the machine has no name for it). */
  user: string;
  uid: number;
  name: string;
  state: LabState;
  /** The user's XDG_RUNTIME_DIR, under which their vde finds the lab (none: /tmp/vde-UID). */
  runtimeDir?: string;
}

/**
 * For root: the users' rootless labs that run (`vde up --rootless`). They
 * live in their users' directories and namespaces, which root's vde does
 * not look into, so they are found by their processes: each that carries a
 * lab's mark (user_namespace.ts) names its user's directory, and a lab
 * there counts when its state has that mark and user. None for anyone else,
 * who may not see them.
 */
export function usersLabs(uid = Deno.uid(), marked: () => MarkedProcess[] = markedProcesses): UsersLab[] {
  if (uid !== 0) return [];
  const found = new Map<string, UsersLab>();
  const seen = new Set<string>();
  for (const p of marked()) {
    const base = labsBaseDirOf(p.uid, p.runtimeDir);
    // One process of a lab is enough to look: a lab's hosts' processes carry its mark too.
    if (seen.has(`${p.mark} ${base}`)) continue;
    seen.add(`${p.mark} ${base}`);
    let names: string[];
    try {
      names = [...Deno.readDirSync(base)].filter((e) => e.isDirectory && NAME_PATTERN.test(e.name)).map((e) =>
        e.name
      );
    } catch {
      continue;
    }
    for (const name of names) {
      const state = usersState(`${base}/${name}/${LAB_STATE_FILE}`, p.uid);
      if (state?.rootless?.mark !== p.mark || state.rootless.uid !== p.uid) continue;
      found.set(`${p.uid} ${name}`, {
        user: userName(p.uid),
        uid: p.uid,
        name,
        state,
        runtimeDir: p.runtimeDir,
      });
    }
  }
  return [...found.values()].sort((a, b) => a.uid - b.uid || a.name.localeCompare(b.name));
}

/**
 * The state file at `path` of user `uid`'s lab, as root reads it: the path
 * is the user's to choose (their process's environment names the
 * directory), so a FIFO or a link to /dev/zero there must not hang root's
 * vde (owned_file.ts), and what it holds is shown to root only as a lab's
 * state would be: a pid, and a file name whose control characters cannot
 * reach root's terminal.
 */
function usersState(path: string, uid: number): LabState | undefined {
  let state: LabState;
  try {
    state = JSON.parse(readOwnedFile(path, uid) ?? "");
  } catch {
    return undefined;
  }
  if (typeof state !== "object" || state === null) return undefined;
  const { pid, pidStart, file } = state as { pid: unknown; pidStart?: unknown; file: unknown };
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0 || typeof file !== "string") return undefined;
  if (pidStart !== undefined && !Number.isSafeInteger(pidStart)) return undefined;
  return { ...state, file: printable(file) };
}

/**
 * Why this user cannot reach root's lab switch at `dir`, when the lab lets
 * others through its directory (one of its switches is shared): not in the
 * group it is shared with, or not shared. Undefined where the directory
 * cannot be seen (a lab that shares nothing).
 */
function unsharedSwitch(dir: string, uid: number | null): string | undefined {
  try {
    // A switch's socket directory: the lab's own `ctl` beside them is no switch, and is said as the lab's.
    if (!Deno.statSync(dir).isDirectory) return undefined;
  } catch {
    return undefined;
  }
  const member = uid === null ? undefined : groupHint(dir, uid);
  if (member !== undefined) return `permission denied: ${member}`;
  return `not shared with this user (${ownerAndMode(dir)}): a lab shares a switch with a group by its ` +
    "node's `mode: 660` and `group: GROUP`";
}

/**
 * For root: the users whose rootless lab `name` (or `LAB/SWITCH`'s LAB) runs: it lives in their directory
 * and namespaces, which root's vde does not look into. "" for anyone else, who may not see it.
 */
export function usersLabHint(name: string, uid = Deno.uid()): string {
  const lab = name.split("/")[0] ?? "";
  if (!NAME_PATTERN.test(lab)) return "";
  const users = usersLabs(uid).filter((l) => l.name === lab).map((l) => l.user);
  if (users.length === 0) return "";
  return `; ${users.map((u) => `user ${u}'s`).join(", ")} rootless lab ${lab} runs in namespaces of their ` +
    "own (only their vde reaches it)";
}
