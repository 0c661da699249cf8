/**
 * A running lab's record on disk, so `vde down` and `vde status` work from
 * another process, and after `vde up` was killed with SIGKILL.
 *
 * `state.json` in the lab's runtime directory names the owner's pid, the
 * lab file and every namespace made so far; it is rewritten before each
 * namespace is created, so a crash at any point leaves a record that covers
 * everything on the machine. Taps need no record: they belong to the `vde
 * up` process and vanish with it. Sockets live in the runtime directory,
 * which goes last.
 */
import { labDir, labsBaseDir, netnsName } from "./names.ts";
import { readOwnedFile, readSmallFile } from "../os/owned_file.ts";
import { deleteNetns } from "./system.ts";
import { mayBeVde, processAlive, processStartTime, untilExit } from "../os/processes.ts";
import { exists, isSocket } from "../os/paths.ts";
import { C, cstr, libc } from "../../ffi/libc.ts";
import {
  LAB_MARK_VARIABLE,
  type LabMark,
  labProcesses,
  machineUid,
  processUid,
  rootInUserNamespace,
  sameNamespace,
  userNamespaceOf,
} from "../os/user_namespace.ts";

/** What `state.json` holds. */
export interface LabState {
  name: string;
  pid: number;
  /** When `pid` started (processes.ts), so a later process given its number is not taken for the lab's. */
  pidStart?: number;
  /** The lab file (absolute), or "" for a lab built in the shell. */
  file: string;
  /** The name is `vde up --name`'s, not the file's. */
  named?: boolean;
  /** What the file's variables took from the environment of `vde up` (variables.ts). */
  variables?: Record<string, string>;
  namespaces: string[];
  started: string;
  /**
   * A rootless lab's (`vde up --rootless`): its network namespaces are its user namespace's, out of
   * sight of the machine's `ip netns`, and what holds them after a SIGKILL are the processes left in it,
   * which this tells from any other (user_namespace.ts).
   */
  rootless?: LabMark;
  /**
   * A rootless lab's `vde up --rootless`, outside its namespaces, which runs its slirp and cable nodes
   * (outside.ts): it ends with the lab, and `vde down` ends it when it does not.
   */
  outsideProcess?: RecordedProcess;
}

/** A process a state file names: its pid, and when it started (processes.ts), where /proc said. */
export interface RecordedProcess {
  pid: number;
  pidStart?: number;
}

/**
 * `{ rootless }` for a lab brought up by root of a user namespace, else
 * nothing. Its mark is the one `vde up --rootless` gave this process's
 * environment (so /proc shows it for this process too), or a new one put
 * there now; everything the lab starts inherits it.
 */
export function markRootlessLab(): { rootless?: LabMark } {
  if (!rootInUserNamespace()) return {};
  const namespace = userNamespaceOf("self");
  if (namespace === null) return {};
  const mark = Deno.env.get(LAB_MARK_VARIABLE) || crypto.randomUUID();
  Deno.env.set(LAB_MARK_VARIABLE, mark);
  return { rootless: { namespace, uid: machineUid(), mark } };
}

/**
 * Whose a lab this process brings up or runs is, as validation's `usersOwn`
 * takes it: nothing for root's, else the user's own (`"rootless"` in a user
 * namespace, or about to enter one), whose sharing is refused. The same at
 * `vde up` and at every later change of the lab (its shell's `add`, `apply`).
 */
export function usersOwnLab(rootless = rootInUserNamespace()): "user" | "rootless" | undefined {
  if (machineUid() === 0) return undefined;
  return rootless ? "rootless" : "user";
}

/** The state file's name in a lab's runtime directory (what tells that directory from a switch's). */
export const LAB_STATE_FILE = "state.json";

/** The state file of lab `name`. */
export function statePath(name: string): string {
  return `${labDir(name)}/${LAB_STATE_FILE}`;
}

/** Reads a lab's state; undefined when there is none (or it is unreadable). */
export function readState(name: string): LabState | undefined {
  return stateIn(labDir(name));
}

/** The state in runtime directory `dir`, as readState reads it. */
function stateIn(dir: string): LabState | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}/${LAB_STATE_FILE}`)) as LabState;
  } catch {
    return undefined;
  }
}

/**
 * Writes a lab's state atomically (a crash never leaves half a file), its
 * owner's alone: a lab whose switches a group may use lets others through
 * its directory, and the state holds the file's variables. Its names file
 * (labNames) follows it, so the two never say different hosts for long.
 */
export function writeState(state: LabState): void {
  writeWhole(statePath(state.name), JSON.stringify(state, null, 2) + "\n", 0o600);
  writeLabNames(state);
}

/**
 * What anyone may read of a lab: whose it is and its hosts' names, which
 * its namespaces (`vde-LAB-HOST`, listed by `ip netns` for anyone) show
 * already but cannot say exactly: lab `a`'s host `b-h1` and lab `a-b`'s
 * `h1` are one namespace name. So another user's `vde exec h1` finds root's
 * lab that has it. Beside the lab's directory (`/run/vde/LAB.names.json`,
 * as its `.log`), which stays its owner's alone (700); mode 644. A lab a
 * previous vde brought up has none: its hosts are read from its namespaces'
 * names then (switch_paths.ts).
 */
export interface LabNames {
  lab: string;
  /** The owner's uid as the machine knows it (a rootless lab's user, not its namespace's root). */
  owner: number;
  hosts: string[];
}

/** Where lab `name`'s names file is, among the labs of `base`. */
export function labNamesPath(name: string, base = labsBaseDir()): string {
  return `${base}/${name}.names.json`;
}

function writeLabNames(state: LabState): void {
  const prefix = netnsName(state.name, "");
  // Its own record's namespaces: each opens with this lab's name, so what follows is the host's, exactly.
  const hosts = state.namespaces.filter((ns) => ns.startsWith(prefix)).map((ns) => ns.slice(prefix.length));
  const names: LabNames = { lab: state.name, owner: machineUid(), hosts };
  // Deno sets a mode given whatever this process's umask: the file is for others to read.
  writeWhole(labNamesPath(state.name), JSON.stringify(names) + "\n", 0o644);
}

/**
 * Removes lab `name`'s names file, then its runtime directory: in this
 * order, as a new `vde up` of the name can claim the directory (mkdir)
 * the moment it is gone and writes its own names file next, which a
 * removal of the names file after the directory's took away again (its
 * hosts then read from namespace names). `remove` is Deno.removeSync but
 * in the test of this order.
 */
export function removeLabFiles(
  name: string,
  remove: (path: string, o?: Deno.RemoveOptions) => void = Deno.removeSync,
): void {
  try {
    remove(labNamesPath(name));
  } catch { /* none: a lab of a previous vde, or gone already */ }
  sweepNamesCopies(name);
  try {
    remove(labDir(name), { recursive: true });
  } catch { /* gone already */ }
}

/** Whether state `b` is of the same `vde up` as `a`: not a later lab of the name, with a directory of its own. */
function sameRun(a: LabState, b: LabState | undefined): b is LabState {
  return b !== undefined && b.pid === a.pid && b.pidStart === a.pidStart && b.started === a.started;
}

/**
 * The names file of lab `name` among the labs of `base`, as `uid` (its
 * owner: root's for root's labs) wrote it; undefined where there is none
 * (a lab of a previous vde) or it is not that (another's, not JSON, no list
 * of names).
 */
export function readLabNames(name: string, uid: number, base: string): LabNames | undefined {
  let names: unknown;
  try {
    names = JSON.parse(readOwnedFile(labNamesPath(name, base), uid) ?? "");
  } catch {
    return undefined;
  }
  if (typeof names !== "object" || names === null) return undefined;
  const { lab, owner, hosts } = names as Partial<LabNames>;
  if (lab !== name || owner !== uid || !Array.isArray(hosts)) return undefined;
  if (!hosts.every((h) => typeof h === "string")) return undefined;
  return { lab, owner, hosts };
}

/**
 * Writes `text` to `path` whole, through a file beside it renamed into its
 * place: a crash never leaves half a file, and another process (`vde
 * status`, the process outside a rootless lab) reads it as soon as it is there.
 */
export function writeWhole(path: string, text: string, mode?: number): void {
  // Under this process's pid: one killed between the write and the rename leaves a copy that
  // sweepNamesCopies tells from a live writer's.
  const beside = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(beside, text, mode === undefined ? {} : { mode });
  Deno.renameSync(beside, path);
}

/**
 * Removes the copies of lab `name`'s names file (writeWhole's `LAB.names.json.PID.tmp`, an earlier
 * vde's `LAB.names.json.tmp`) that a process killed between its write and its rename left among the
 * labs of `base`, where they would lie forever (the lab's directory takes its own along). Only this
 * lab's, only this user's own (regular files: not a link planted there), and only where the writer is
 * gone: a live one (a new `vde up` of the name, writing now) keeps its copy, and a dead pid never
 * writes again. A pid the kernel gave to another process meanwhile keeps a copy for a later sweep.
 * An earlier vde's copy names no writer: it is taken where no vde up of the lab can be writing (at `vde
 * down`, its owner stopped; at `vde up`, the directory just claimed).
 */
export function sweepNamesCopies(name: string, base = labsBaseDir()): void {
  const copy = new RegExp(`^${name}\\.names\\.json\\.(?:(\\d+)\\.)?tmp$`);
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(base)];
  } catch {
    return;
  }
  for (const e of entries) {
    const m = copy.exec(e.name);
    if (m === null || !e.isFile) continue;
    if (m[1] !== undefined && processAlive(Number(m[1]))) continue;
    const path = `${base}/${e.name}`;
    try {
      if (Deno.lstatSync(path).uid !== Deno.uid()) continue;
      Deno.removeSync(path);
    } catch { /* gone meanwhile */ }
  }
}

/**
 * Writes `text` to `path` whole, as writeWhole does, but only where there
 * is no file yet (the file beside it is linked into its place, which fails
 * where one is): false when there was one. Two processes racing to write
 * the same place both learn which of them wrote it.
 *
 * @throws Deno's error when it cannot write there (the directory gone)
 */
export function writeNew(path: string, text: string): boolean {
  // Beside it under this process's own name: the other process's copy is not this one.
  const beside = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(beside, text);
  try {
    Deno.linkSync(beside, path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  } finally {
    Deno.removeSync(beside);
  }
}

/**
 * Whether the `vde up` a state file names still runs: its pid is alive,
 * started when the lab's did (`pidStart`, where the state has it) and may
 * be a vde program. A lab whose `vde up` was killed leaves its pid behind,
 * and the kernel gives that number to another process in time: that one
 * is no lab's owner, to be reported as up or signalled by `vde down`.
 */
export function ownerRuns(pid: number, pidStart?: number): boolean {
  return processAlive(pid) && (pidStart === undefined || processStartTime(pid) === pidStart) && mayBeVde(pid);
}

/**
 * The file in a lab's runtime directory that says it is being taken down: written first by `vde down`
 * (before it signals the lab's `vde up`) and by that `vde up` as it stops (before its console closes),
 * so a lab whose console is gone is told going down from coming up. It goes with the directory. Its
 * leading dot keeps it from any node's name (a switch `stopping` has a directory of that name there).
 */
export const STOPPING_FILE = ".stopping";

/**
 * Marks the lab whose runtime directory is `dir` as being taken down, the mark naming this process (the
 * lab's `vde up`: see markStoppingOf); nothing where the directory is gone.
 */
export function markStopping(dir: string): void {
  try {
    Deno.writeTextFileSync(`${dir}/${STOPPING_FILE}`, `${Deno.pid}\n`, { mode: 0o600 });
  } catch { /* gone already: nothing to mark */ }
}

/**
 * Whether the stop mark in lab directory `dir` was left by a process that is gone: a `vde down` killed
 * between its mark and its SIGTERM, whose lab runs on as if stopping. A mark that names no pid (empty,
 * unreadable, not a regular file) is taken as a stop under way, as a live marker's is; a pid the
 * kernel gave another process since is too (the wait is then its grace, as before marks named theirs).
 */
function staleMark(dir: string): boolean {
  const mark = readSmallFile(`${dir}/${STOPPING_FILE}`, 32, true);
  const pid = typeof mark === "string" ? NaN : Number(mark.text.trim());
  return Number.isSafeInteger(pid) && pid > 0 && !processAlive(pid);
}

/**
 * What `vde down` holds of the lab it takes down (markStoppingOf): how it found the lab's directory,
 * and, where it made the mark, that directory's descriptor until `release`.
 */
export interface StopMark {
  /**
   * `marked`: this `vde down` marked it; `under way`: it was marked already (its `vde up` is stopping
   * by itself, or another `vde down` took it down first); `gone`: no directory of this run to mark.
   */
  readonly how: "marked" | "under way" | "gone";
  /**
   * Ends the hold, once the lab's `vde up` is gone: where its record is gone too, and the directory
   * with it but for what came in late (a mark made as its removal ran), removes what is left.
   */
  release(): void;
}

/**
 * `vde down`'s markStopping of lab `name`, whose record it read as `state`: its `vde up` may have
 * removed the directory since, and a new `vde up` of the name claimed it (mkdir) at once, whose lab a
 * mark by name would say is stopping for good. So the directory is held open (a descriptor names the
 * very directory, whatever becomes of its name), its record read through it, and the mark written
 * through it only where that record is still this run's.
 *
 * The mark is made only where there is none: one there already says a stop is under way, which this
 * `vde down` waits for rather than hurries. A mark made while the directory's removal runs (its `vde
 * up` stopping by itself, or another `vde down` removing it) may land after that removal listed the
 * directory: its rmdir then finds it not empty, and the directory would stay, holding only the mark
 * (which `vde up` refuses to claim). So the `vde down` that made the mark holds the directory until
 * it is done (`release`), and removes what is left where the lab's record is gone. A mark names the
 * process that made it: one whose maker is gone (a `vde down` killed before its SIGTERM) is no stop
 * under way, and is made anew, as if there were none.
 */
export function markStoppingOf(name: string, state: LabState): StopMark {
  const c = libc();
  const fd = c.open(cstr(labDir(name)), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW | C.O_CLOEXEC, 0);
  if (fd < 0) return { how: "gone", release() {} }; // gone already: nothing to mark
  const held = `/proc/self/fd/${fd}`;
  let how: StopMark["how"] = "gone";
  if (sameRun(state, stateIn(held))) {
    const mark = `${held}/${STOPPING_FILE}`;
    try {
      Deno.writeTextFileSync(mark, `${Deno.pid}\n`, { mode: 0o600, createNew: true });
      how = "marked";
    } catch (err) {
      // Removed since: nothing to mark.
      if (err instanceof Deno.errors.AlreadyExists) how = "under way";
    }
    // A mark whose maker is gone is no stop under way: this vde down takes it over, and the lab down.
    // Made anew (never written through: the name may be a symlink by now), so a mark another makes
    // meanwhile is theirs, and a stop under way.
    if (how === "under way" && staleMark(held)) {
      try {
        Deno.removeSync(mark);
        Deno.writeTextFileSync(mark, `${Deno.pid}\n`, { mode: 0o600, createNew: true });
        how = "marked";
      } catch { /* marked again, or removed since: its vde up is stopping after all */ }
    }
  }
  if (how !== "marked") {
    c.close(fd);
    return { how, release() {} };
  }
  return {
    how,
    release() {
      try {
        removeLeft(held, labDir(name));
      } finally {
        c.close(fd);
      }
    },
  };
}

/**
 * Removes lab directory `held` (`/proc/self/fd/N`), named `dir`, where its lab's `vde up` is over and
 * its record gone: what is left is what came in as its removal ran, or what a `vde up` killed in its
 * removal left. Not where the directory is removed already (a new `vde up` of the name may have `dir`
 * now) or `dir` names another directory.
 */
function removeLeft(held: string, dir: string): void {
  if (stateIn(held) !== undefined) return;
  try {
    for (const e of Deno.readDirSync(held)) {
      try {
        Deno.removeSync(`${held}/${e.name}`, { recursive: true });
      } catch { /* removed meanwhile */ }
    }
    const own = Deno.statSync(held);
    const named = Deno.lstatSync(dir);
    if (own.nlink === 0 || own.ino !== named.ino || own.dev !== named.dev) return;
    Deno.removeSync(dir);
  } catch { /* removed already, or another removal's entries still there: its rmdir follows */ }
}

/**
 * A lab whose `vde up` runs is up once it serves its console (`ctl`, made as it reports ready, when
 * `vde up -d` returns); before that its state file is there and it is coming up; once it is marked
 * (markStopping) it is going down, its console closing or closed: a script that polls `vde status` for a
 * lab another step brings up waits for `up`.
 */
export function runState(
  name: string,
  s: LabState,
  dir = labDir(name),
): "up" | "starting" | "stopping" | "dead" {
  if (!ownerRuns(s.pid, s.pidStart)) return "dead";
  // A mark whose maker is gone (a vde down killed before its SIGTERM) says nothing: the lab runs on.
  if (exists(`${dir}/${STOPPING_FILE}`) && !staleMark(dir)) return "stopping";
  return isSocket(`${dir}/ctl`) ? "up" : "starting";
}

/**
 * Why lab `name`, whose record is `s`, cannot be brought up again now, as its run stands: up, still
 * coming up (another `vde up`, which may yet fail), being taken down (gone in a moment), or left behind.
 */
export function alreadyThere(name: string, s: LabState): string {
  switch (runState(name, s)) {
    case "starting":
      return `lab ${name} is coming up already (its vde up, pid ${s.pid}, is bringing it up): ` +
        "`vde status` lists it as starting until it is up";
    case "stopping":
      return `${beingTakenDown(name, s)}; bring it up again then`;
    case "dead":
      return `lab ${name} was not taken down (its vde up, pid ${s.pid}, is gone): run \`vde down ${name}\``;
    default:
      return `lab ${name} is already up (pid ${s.pid}): \`vde status ${name}\`, \`vde down ${name}\``;
  }
}

/** The line for a lab whose `vde up` is gone, where its status, nodes or console were asked for. */
export function deadLab(name: string, s: LabState): string {
  return `lab ${name} is dead (its vde up, pid ${s.pid}, is gone): run \`vde down ${name}\``;
}

/** The line for a lab that is not up yet, where its nodes or console were asked for. */
export function notUpYet(name: string, s: LabState): string {
  return `lab ${name} is not up (its vde up, pid ${s.pid}, is still bringing it up): ` +
    "vde up -d returns once it is up (`vde status` lists it as starting until then)";
}

/** The line for a lab being taken down, where its nodes or console were asked for. */
export function beingTakenDown(name: string, s: LabState): string {
  return `lab ${name} is being taken down (its vde up, pid ${s.pid}, is stopping): ` +
    "`vde status` lists it as stopping until it is gone";
}

/** How long a rootless lab's process outside has to end by itself once the lab's has: it takes milliseconds. */
const OUTSIDE_ENDS_MS = 2000;

/**
 * Stops process `pid` (`what`): SIGTERM, then SIGKILL after `graceMs`; says which it took. A SIGCONT
 * follows the SIGTERM, as a shell's `kill` of a stopped job sends: a stopped process (Ctrl-Z, a SIGSTOP)
 * takes no SIGTERM until it runs again, and would otherwise wait out the grace to be killed.
 */
async function stop(pid: number, graceMs: number, what: string): Promise<string> {
  for (const signal of ["SIGTERM", "SIGCONT"] as const) {
    try {
      Deno.kill(pid, signal);
    } catch { /* gone */ }
  }
  if (await untilExit(pid, graceMs, 50)) return `stopped ${what} (pid ${pid})`;
  try {
    Deno.kill(pid, "SIGKILL");
  } catch { /* gone */ }
  await untilExit(pid);
  return `killed ${what} (pid ${pid}) after ${graceMs} ms`;
}

/** The uid, as this namespace sees it, of whoever owns lab `name`'s state file, or -1. */
function fileOwner(name: string): number {
  try {
    return Deno.lstatSync(statePath(name)).uid ?? -1;
  } catch {
    return -1;
  }
}

/** Names of the labs that have a runtime directory with a state file. */
export function listLabs(): string[] {
  return labStates().map(([name]) => name);
}

/**
 * Every lab with a state file and that state, read once: a lab that goes
 * down between a listing and a second read of its state (another `vde
 * down`, a test beside) is then simply not listed.
 */
export function labStates(): [string, LabState][] {
  const out: [string, LabState][] = [];
  try {
    for (const e of Deno.readDirSync(labsBaseDir())) {
      const state = e.isDirectory ? readState(e.name) : undefined;
      if (state !== undefined) out.push([e.name, state]);
    }
  } catch { /* no labs yet */ }
  return out.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The other lab (not `except`) whose record holds namespace `ns`: a
 * namespace is `vde-LAB-HOST` and both may hold "-", so lab a's host b-c
 * and lab a-b's host c name the same one.
 */
export function labHoldingNamespace(ns: string, except: string): string | undefined {
  return labStates().find(([lab, state]) => lab !== except && (state.namespaces ?? []).includes(ns))?.[0];
}

/**
 * Removes what a lab left on the machine, from its state file: stops the
 * owner if it still runs (SIGTERM, then SIGKILL after `graceMs`), and a
 * rootless lab's process outside if it outlives it, deletes its namespaces
 * and its runtime directory.
 *
 * @returns what was done, one line per step
 */
export async function cleanupLab(name: string, graceMs = 10_000): Promise<string[]> {
  const state = readState(name);
  const done: string[] = [];
  if (state === undefined) return done;
  // Whose the lab is, before its vde up, stopping, removes its directory.
  const user = fileOwner(name);
  // Said first, before its console closes: `vde status` and `vde term` meanwhile say it is going down.
  const mark = markStoppingOf(name, state);
  let ours = false;
  try {
    await takeDown(name, state, user, mark, graceMs, done);
    // Its vde up, stopping, removed its names file and directory: a new `vde up` of the name may claim
    // both since (its record another run's, or not written yet, or its mkdir just after this look). Only
    // while the record is this run's is the directory this run's, and no other can claim the name until
    // it goes.
    ours = sameRun(state, readState(name));
    if (ours) removeLabFiles(name);
  } finally {
    mark.release();
  }
  done.push(
    ours || !exists(labDir(name))
      ? `removed lab ${name}`
      : `removed lab ${name} (a new vde up of ${name} has its directory now)`,
  );
  return done;
}

/**
 * cleanupLab's steps up to its directory's removal, once lab `name` (record `state`, file of `user`) is
 * marked as `mark` says: the lab's processes, and its namespaces where nothing else ends them.
 */
async function takeDown(
  name: string,
  state: LabState,
  user: number,
  mark: StopMark,
  graceMs: number,
  done: string[],
): Promise<void> {
  if (state.pid !== Deno.pid && ownerRuns(state.pid, state.pidStart)) {
    // Marked already: its vde up is stopping (by itself, or another vde down's SIGTERM), given its grace
    // to end as it would be here; a second SIGTERM would hurry it (signals.ts).
    if (mark.how === "under way" && await untilExit(state.pid, graceMs, 50)) {
      done.push(`vde up (pid ${state.pid}) was stopping already: waited for it`);
    } else {
      done.push(await stop(state.pid, graceMs, "vde up"));
    }
  }
  // The process outside ends once the lab's has (its slirps and cables with it); one that does not (stopped,
  // hung) is ended here, if it is still the one recorded and the lab's user's.
  const outside = state.outsideProcess;
  if (
    outside !== undefined && outside.pid !== Deno.pid && ownerRuns(outside.pid, outside.pidStart) &&
    processUid(outside.pid) === user &&
    !(await untilExit(outside.pid, Math.min(graceMs, OUTSIDE_ENDS_MS), 50))
  ) {
    done.push(await stop(outside.pid, graceMs, "vde up --rootless outside the lab's namespaces"));
  }
  // The owner cleans up on SIGTERM; whatever it could not (it was killed) goes here.
  const rootless = state.rootless;
  if (rootless !== undefined && !sameNamespace(rootless.namespace, userNamespaceOf("self"))) {
    // Rootless, seen from outside: its namespaces go with the last process in its user namespace. The
    // kernel gives a freed namespace's number to the next, maybe another running lab's: that one is left,
    // and elsewhere only the lab's own are killed, of the user whose file this is (labProcesses).
    const running = labStates().filter(([, s]) => ownerRuns(s.pid, s.pidStart))
      .map(([, s]) => userNamespaceOf(String(s.pid)));
    // Not the owner, whose threads may still be ending after its SIGTERM (its pid a zombie until they have).
    const left = running.some((ns) => sameNamespace(ns, rootless.namespace)) || user !== rootless.uid
      ? []
      : labProcesses(rootless).filter((pid) => pid !== state.pid);
    for (const pid of left) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    if (left.length > 0) {
      done.push(`killed ${left.length} process${left.length === 1 ? "" : "es"} left in its namespaces`);
    }
  } else {
    // The record as it is now (namespaces made since the first read). None where the record is gone: its
    // vde up, stopping, deleted them before its directory, and a new lab of the name, whose directory is
    // claimed before its record is written, makes namespaces named as this one's were.
    const now = readState(name);
    for (const ns of sameRun(state, now) ? now.namespaces : []) await deleteNetns(ns);
  }
}
