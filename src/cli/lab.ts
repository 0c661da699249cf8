/**
 * `vde up`, `vde down`, `vde status` and plain `vde`: labs from a lab file
 * (see src/lab/), and `vde completions` for shells.
 *
 * `vde up FILE` validates the whole file first (every error as
 * FILE:LINE:COL, nothing created), brings the lab up, prints its nodes and
 * links, serves the lab's control socket (`vde status` and `vde down` use
 * it and the state file) and stays in the foreground, with the lab shell at
 * a terminal; SIGINT, SIGTERM, `down` or Ctrl-D take the lab down. With
 * `-d` it runs in the background and returns once the lab is up.
 */
import { checkKeepWarmSetting } from "./keep_warm_setting.ts";
import { shellQuoted } from "../shell_quote.ts";
import { type Command, Option } from "commander";
import { parseDocument } from "yaml";
import { MgmtClient, type RemoteReply } from "../console/client.ts";
import { MgmtServer } from "../console/mgmt_server.ts";
import { poller } from "../io/poller.ts";
import { labCommands, linksTable, nodesTable } from "../lab/commands.ts";
import { labDir, labsBaseDir, NAME_PATTERN, ROOT_LABS_DIR, socketPathTooLong } from "../lab/names.ts";
import { SUN_PATH_LEN } from "../wire/sockaddr_un.ts";
import { LabRunner, LabTaken, STP_AVAILABLE } from "../lab/runner.ts";
import { startLabShell } from "../lab/shell.ts";
import { shellCapture } from "./shell_capture.ts";
import { consoleWhileForeground } from "../console/job_control.ts";
import type { Lab } from "../lab/spec.ts";
import {
  alreadyThere,
  beingTakenDown,
  cleanupLab,
  deadLab,
  type LabState,
  labStates,
  listLabs,
  markStopping,
  notUpYet,
  ownerRuns,
  readState,
  runState,
  usersOwnLab,
} from "../lab/state.ts";
import { labToYaml } from "../lab/to_yaml.ts";
import {
  rootLabs,
  rootsHostAnswer,
  rootsLabAnswer,
  switchNotLab,
  usersLabHint,
  usersLabs,
} from "../lab/switch_paths.ts";
import { sessionGroups } from "../os/users.ts";
import { resolveOwnGroup } from "../vde/permissions.ts";
import { saveInto } from "../lab/save.ts";
import { removeLeftoverNamespaces } from "../lab/leftover_namespaces.ts";
import { formatErrors, type ValidateOptions } from "../lab/validate.ts";
import { labFileText, readLabText, trustedLabText } from "../lab/lab_text.ts";
import { slirpVlanWarnings } from "../lab/slirp_vlan.ts";
import {
  expandVariables,
  hasVariables,
  type Lookup,
  recordedLookup,
  variablesNotTaken,
} from "../lab/variables.ts";
import { exampleNamedBy } from "../lab/examples.ts";
import { cannotRead, unreadableReason } from "../lab/unreadable.ts";
import { log, setLogFile } from "../log.ts";
import { suggestCommands } from "../console/explain.ts";
import { didYouMeanClause } from "../did_you_mean.ts";
import { renderTable } from "../console/switch/tables.ts";
import {
  daemonize,
  hasReportedReady,
  isDaemonChild,
  reportReady,
  StartTimeout,
  StoppedAtReady,
} from "./daemon.ts";
import {
  commandFirst,
  ExitStatus,
  forPeople,
  type Subcommand,
  unknownOptionHint,
  UsageError,
  vdeErrors,
} from "./main.ts";
import { untilSignal } from "./signals.ts";
import { checkUserNamespaces, rootlessInner, upRootless } from "./rootless.ts";
import { pageSocket, pluggedFromOutside } from "../lab/outside.ts";
import { slirpCountersFrom } from "../lab/outside_slirp_counters.ts";
import { forwardsFromOutside } from "../lab/outside_forwards.ts";
import { examples } from "./help.ts";
import { completionScript } from "./completions.ts";
import { otherToolHint, otherToolOption } from "./other_tools.ts";
import { runningLabsLinks } from "./capture_lab_hint.ts";
import { httpListenFailure, parseHttpAddress } from "../web/address.ts";
import { LabWebServer } from "../web/lab_server.ts";
import { envDataplane } from "../switch/dataplane.ts";
import { counted } from "../counted.ts";
import { printable } from "../console/reply_format.ts";
import { dirOf, isDirectory, isFile, isSocket, realPath } from "../os/paths.ts";
import { nearEntries } from "../os/near_entries.ts";
import { openOutputFile } from "../os/output_file.ts";

/**
 * Reads and validates a lab file; prints every error and throws when there
 * is any, saying `after` (what the command did not do) at the end.
 */
export function loadLab(
  file: string,
  after = "; nothing was created",
  opts: {
    checkFiles?: boolean;
    name?: string;
    lookup?: Lookup;
    usersOwn?: ValidateOptions["usersOwn"];
    /** Only drawn (vde graph), not run: a file others may write is read too. */
    drawOnly?: boolean;
  } = {},
): { lab: Lab; text: string; path: string; variables: Record<string, string> } {
  let text: string;
  try {
    text = opts.drawOnly ? labFileText(file) : trustedLabText(file);
  } catch (err) {
    const example = exampleNamedBy(file);
    const why = !(err instanceof Deno.errors.NotFound)
      ? unreadableReason(err)
      : example === undefined
      ? `no such file${nearLabFile(file)}`
      // The README's `vde up examples/lan-nat.yaml`, typed where only the program was copied.
      : `no such file (vde carries that example: vde example ${example} > ${example}.yaml; vde up ${example}.yaml)`;
    throw new UsageError(cannotRead(file, why));
  }
  // Relative rc and key files start where bring-up resolves them: the real lab file's directory.
  const filesFrom = opts.checkFiles ? dirOf(Deno.realPathSync(file)) : undefined;
  const { lab, errors, notLab, used } = readLabText(text, {
    stp: STP_AVAILABLE,
    filesFrom,
    name: opts.name,
    lookup: opts.lookup,
    usersOwn: opts.usersOwn,
  });
  // Not a lab file at all: the one line that says so is the whole answer.
  if (notLab) throw new UsageError(`${formatErrors(file, errors).join(" ")}${after}`);
  if (lab === undefined) {
    for (const line of formatErrors(file, errors)) console.error(line);
    throw new UsageError(
      `${counted(errors.length, "error")} in ${file}${after}`,
    );
  }
  return { lab, text, path: Deno.realPathSync(file), variables: used };
}

/**
 * How long `vde up -d` waits for the background lab: its DHCP leases and
 * `exec` commands have their own bounds (30 s, 60 s), so this is for several.
 */
const LAB_START_TIMEOUT_MS = 180_000;

/** The log of a background lab: beside its runtime directory, so it outlives a rollback. */
function daemonLog(name: string): string {
  return `${labsBaseDir()}/${name}.log`;
}

interface UpOptions {
  name?: string;
  detach?: boolean;
  reconfigure?: boolean;
  apply?: boolean;
  http?: string;
  topo?: string;
  rootless?: boolean;
}

/** containerlab's `--name` (`deploy --name X`): the lab's name over its file's. */
export function nameOption(what: string): Option {
  return new Option("--name <name>", what);
}

/** A `--name` as a lab's name must be (it names namespaces, taps and files), or the line that says why not. */
export function checkedName(name: string | undefined): string | undefined {
  if (name !== undefined && !NAME_PATTERN.test(name)) {
    throw new UsageError(
      `--name "${name}" may hold only letters, digits, "-" and "_", starting with a letter or digit`,
    );
  }
  return name;
}

/**
 * How running lab `name` read its file: the name `--name` gave it and the
 * variables its `vde up` had (one it had not is unset, whatever this
 * environment says), so the file is read again as it runs (`vde graph
 * LAB`); this environment's for a lab that recorded none (no such lab).
 */
export function asRunning(name: string): { name?: string; lookup: Lookup } {
  const state = readState(name);
  const had = state?.variables;
  return {
    name: state?.named ? state.name : undefined,
    lookup: had === undefined ? (v) => Deno.env.get(v) : recordedLookup(had),
  };
}

/** containerlab's `-t FILE` (`deploy -t`, `destroy -t`), taken for the lab argument. */
export function topoOption(): Option {
  return new Option("-t, --topo <file>", "the lab file, as containerlab's -t (instead of the argument)");
}

/**
 * The lab `vde up`/`vde down`/`vde graph` is given, as the argument or
 * containerlab's `-t FILE`; without either, the one lab file in the current
 * directory, as containerlab's deploy and destroy find theirs.
 */
export function labFileOf(command: string, arg: string | undefined, topo: string | undefined): string {
  let lab = labOrNone(command, arg, topo) ?? labFilesHere();
  // `vde graph demo`, as `vde status demo`: a running lab's name, where no file has it, is its file.
  if (command === "graph" && typeof lab === "string" && !exists(lab)) lab = readState(lab)?.file || lab;
  // Several here: for `down` and `graph`, the one whose lab is up is the one meant.
  if (typeof lab !== "string" && lab.length > 1 && (command === "down" || command === "graph")) {
    const up = new Set(listLabs());
    const running = lab.filter((f) => {
      try {
        return up.has(nameInFile(f) ?? "");
      } catch {
        return false; // read a moment ago by labFilesHere: gone since
      }
    });
    if (running.length === 1) lab = running[0]!;
    else if (running.length > 1) lab = oneLabsFile(running, command) ?? lab;
  }
  if (typeof lab === "string") return lab;
  const here = lab.length > 1 ? ` (this directory has ${lab.length}: ${lab.join(", ")}; name one)` : "";
  throw new UsageError(
    command === "down"
      ? `vde down needs a lab: vde down LAB, its name or lab file${here || labsUpHint()}`
      : `vde ${command} needs a lab file: vde ${command} lab.yaml${here}`,
  );
}

/**
 * Of several files here that name one running lab (the lab file and a copy
 * its shell's `save` wrote beside it), the one that lab runs; for `down`,
 * the lab's name will do where it runs none of them.
 */
function oneLabsFile(files: readonly string[], command: string): string | undefined {
  const names = new Set(files.map((f) => {
    try {
      return nameInFile(f);
    } catch {
      return undefined; // gone since it was read
    }
  }));
  const [name] = names;
  if (names.size !== 1 || name === undefined) return undefined;
  const runs = realPathOr(readState(name)?.file || "");
  const same = files.find((f) => runs !== undefined && realPathOr(f) === runs);
  return same ?? (command === "down" ? name : undefined);
}

function realPathOr(path: string): string | undefined {
  try {
    return Deno.realPathSync(path);
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The lab file in the current directory when there is exactly one (a YAML
 * file with a `topology`), else the candidates (none, or several).
 */
export function labFilesHere(dir = "."): string | string[] {
  const found: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (!(e.isFile || e.isSymlink) || !/\.ya?ml$/.test(e.name)) continue;
      try {
        // A symlink counts as the file it names (a lab kept elsewhere, linked here), if that is a regular file.
        // A lab file is small; a large YAML file here is something else and not worth parsing.
        if (parseDocument(labFileText(`${dir}/${e.name}`)).has("topology")) found.push(e.name);
      } catch { /* unreadable, or no YAML mapping: not a lab file */ }
    }
  } catch { /* an unreadable directory holds none we can use */ }
  found.sort();
  return found.length === 1 ? found[0]! : found;
}

/** The lab a command is given, as the argument or `-t FILE`, if any. */
function labOrNone(command: string, arg: string | undefined, topo: string | undefined): string | undefined {
  if (arg !== undefined && topo !== undefined && arg !== topo) {
    throw new UsageError(`vde ${command}: give one lab, not ${arg} and -t ${topo}`);
  }
  return arg ?? topo;
}

/**
 * Refuses, before anything is touched (a background start would remove the
 * running lab's log first), a lab that is already up or was left behind,
 * hosts without root (they are network namespaces), and a $VDE_DATAPLANE
 * that names no data plane or a $VDE_KEEP_WARM_MS no window (as `vde switch`
 * refuses them).
 */
export function checkCanStart(lab: Lab, uid: number | null = Deno.uid(), file = "", rootless = false): void {
  try {
    envDataplane();
    checkKeepWarmSetting();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const old = readState(lab.name);
  if (old !== undefined) {
    // A copy of a lab file, changed but not renamed: say which file runs and what to change.
    if (runState(lab.name, old) === "up" && file !== "" && old.file !== "" && old.file !== file) {
      throw new UsageError(
        `lab ${lab.name} is already up from ${old.file} (pid ${old.pid}); to run ${file} beside it, ` +
          `change its \`name: ${lab.name}\` or give \`--name\`; to make the running lab this file, \`vde up --apply ${file}\``,
      );
    }
    throw new UsageError(alreadyThere(lab.name, old));
  }
  const tooLong = socketPathTooLong(labDir(lab.name), lab, rootless);
  if (tooLong !== undefined) {
    throw new UsageError(
      `lab ${lab.name}: a socket path would be ${tooLong.bytes} bytes (${tooLong.path}...), the limit is ` +
        `${SUN_PATH_LEN - 1}: give it a shorter name (--name, or its file's name:) or shorter node names`,
    );
  }
  checkRoot(lab, uid);
}

/**
 * Refuses, in one line, lab `lab` with hosts for a user `uid` other than
 * root (0 for a rootless lab, root in namespaces of its own).
 *
 * @throws UsageError saying how to run it
 */
function checkRoot(lab: Lab, uid: number | null): void {
  const hosts = lab.nodes.filter((n) => n.kind === "host").map((n) => n.name);
  if (hosts.length > 0 && uid !== 0) {
    throw new UsageError(
      `lab ${lab.name} needs root: its hosts (${
        hosts.join(", ")
      }) are network namespaces; run vde up as root, or \`vde up --rootless\` for namespaces of your own`,
    );
  }
}

/**
 * Refuses, in one line and before anything is made, a switch's `group` of
 * root's lab that the machine has no entry for, as vde switch --group says
 * it. A user's own lab refuses any `group` (and a mode that lets a group or
 * others in) where the file writes it: validation's `usersOwn`.
 *
 * @throws UsageError naming the switch and the group
 */
export function checkGroups(
  lab: Lab,
  uid: number | null = Deno.uid(),
  held: Set<number> = sessionGroups(),
): void {
  for (const n of lab.nodes) {
    if (n.kind !== "switch" || n.group === undefined) continue;
    try {
      resolveOwnGroup(n.group, `${n.name}: group`, uid ?? -1, held);
    } catch (err) {
      throw new UsageError(`lab ${lab.name}: ${(err as Error).message}`);
    }
  }
}

/**
 * Sends `line` to the lab shell of running lab `lab` when it runs `file`
 * (its `diff` or `apply`): its reply, and the pid its state file names;
 * undefined when it does not run `file`, or does not answer.
 */
async function toRunningLab(
  lab: Lab,
  file: string,
  line: string,
  anyFile = false,
): Promise<{ reply: RemoteReply; pid: number } | undefined> {
  const old = readState(lab.name);
  if (old === undefined || (!anyFile && old.file !== file) || !ownerRuns(old.pid, old.pidStart)) {
    return undefined;
  }
  let client: MgmtClient;
  try {
    client = await MgmtClient.connect(`${labDir(lab.name)}/ctl`, { timeoutMs: 5000 });
  } catch {
    return undefined; // Not answering: the plain refusal says it is up.
  }
  try {
    return { reply: await client.command(line, LAB_START_TIMEOUT_MS), pid: old.pid };
  } catch (err) {
    // It took the line and went (vde down meanwhile): bringing the file up in its place is not what was asked.
    throw new UsageError(
      `lab ${lab.name} stopped answering during \`${line.split(" ")[0]}\` (${(err as Error).message}); ` +
        `\`vde status ${lab.name}\` says whether it runs`,
    );
  } finally {
    client.close();
  }
}

/**
 * Refuses `vde up FILE` of a running lab that differs from FILE, saying
 * each difference (nodes and links removed or added, settings changed) and
 * the ways to end it: a running lab never follows its file unless told, and
 * the plain "already up" would let an edit pass for applied. The lab may be
 * the one that changed (its shell's `link`, `add`, `del`), so `save`, which
 * keeps those changes, is named beside `--apply`, which would undo them.
 */
async function refuseEditedRunningLab(lab: Lab, file: string): Promise<void> {
  const running = await toRunningLab(lab, file, `diff ${file}`);
  const changes = running?.reply.lines ?? [];
  if (running === undefined || changes.length === 0) return;
  throw new UsageError(
    `lab ${lab.name} is already up (pid ${running.pid}) and differs from ${file} ` +
      `(the file was edited, or the lab changed from its shell):\n` +
      changes.map((c) => `  ${c}\n`).join("") +
      `\`vde up --apply ${file}\` makes the lab the file live, \`vde up -c ${file}\` takes the lab down ` +
      `and brings the file up; \`vde term ${lab.name} -c 'save ${file}'\` writes the running lab to the file instead`,
  );
}

/**
 * `vde up --apply FILE` of a running lab of FILE's name: its shell's
 * `apply`, whose lines (what changed, or what could not) are printed; the
 * lab then runs FILE, as `kubectl apply -f` would have it, even when it was
 * brought up from another file. False when no lab of that name runs (FILE
 * is then brought up as by `vde up`).
 */
async function applyToRunningLab(lab: Lab, file: string): Promise<boolean> {
  const reply = (await toRunningLab(lab, file, `apply ${file}`, true))?.reply;
  if (reply === undefined) return false;
  const text = (reply.raw ?? "").replace(/\n$/, "");
  if (reply.code !== 0) throw new UsageError(`lab ${lab.name}: ${text.split("\n").join("\n  ")}`);
  console.log(text.split("\n").map((l) => `lab ${lab.name}: ${l}`).join("\n"));
  return true;
}

/**
 * After `vde up --apply` of a running lab: the variables this shell sets
 * otherwise than the lab's `vde up` did, which the apply did not take (the
 * lab reads its file with its own), on stderr, so a changed `PORT=` is not
 * taken for applied.
 */
function sayVariablesNotTaken(lab: string, here: Record<string, string>): void {
  // A lab built in the shell recorded none: it read no file.
  const had = readState(lab)?.variables;
  if (had === undefined) return;
  for (const v of variablesNotTaken(here, had)) {
    const kept = v.kept === undefined ? "its default (it was not set)" : JSON.stringify(v.kept);
    console.error(
      `vde: lab ${lab} keeps ${v.name} as ${kept} from its vde up, not this shell's ${
        JSON.stringify(v.here)
      }: ` +
        `a new value takes vde up -c`,
    );
  }
}

/** Runs a lab until a signal, `down` or the end of the shell. */
async function runLab(
  lab: Lab,
  source: { text: string; path: string; variables: Record<string, string> } | null,
  o: UpOptions,
): Promise<void> {
  if (!isDaemonChild() && source !== null) await refuseEditedRunningLab(lab, source.path);
  // Not root: the lab runs again, root in namespaces of the user's own, its hosts there (rootless.ts).
  const rootless = o.rootless === true && Deno.uid() !== 0;
  if (!isDaemonChild()) checkCanStart(lab, rootless ? 0 : undefined, source?.path, rootless);
  if (!isDaemonChild()) checkGroups(lab);
  if (rootless && !isDaemonChild()) await checkUserNamespaces();
  // The copy in those namespaces runs in the foreground of the `vde up` outside, which is the one in the
  // background when there is one.
  const inner = rootlessInner();
  if (inner !== undefined) o = { ...o, detach: false };
  // Whether the vde up outside, which runs a rootless lab's slirps and cables, still does.
  const outsideRuns = () =>
    inner?.outside === undefined || ownerRuns(inner.outside.pid, inner.outside.pidStart);
  if (o.detach && !isDaemonChild()) {
    Deno.mkdirSync(labsBaseDir(), { recursive: true });
    // The last run's log is not removed here: a `vde up -d` of the lab that started first may be writing
    // it now, and this one loses to it. The copy that gets the lab's name starts it afresh (startLog).
    const started = Date.now();
    try {
      await daemonize(`lab ${lab.name}`, LAB_START_TIMEOUT_MS);
    } catch (err) {
      // The background copy's own lines, its error last, are printed already: one line, as in the foreground.
      // It named its log, kept (failedInBackground).
      if (err instanceof ExitStatus && err.message === "") throw err;
      // Ctrl-C as it came up: it took itself down again.
      if (err instanceof StoppedAtReady) {
        removeOwnLog(lab.name);
        throw new UsageError(err.message);
      }
      // Too slow: it was stopped (and undid its start); its log says how far it got. Killed, it undid nothing.
      if (err instanceof StartTimeout) {
        const log = `its log: ${daemonLog(lab.name)}`;
        throw new UsageError(
          err.killed
            ? `${err.message}; it was killed before it could undo its start: run \`vde down ${lab.name}\` (${log})`
            : `${err.message}; it was taken down (${log})`,
        );
      }
      let why = "";
      try {
        // Only a log written since this start: an older run's last line is not this one's news.
        if ((Deno.statSync(daemonLog(lab.name)).mtime?.getTime() ?? 0) >= started - 1000) {
          why = Deno.readTextFileSync(daemonLog(lab.name)).trim().split("\n").slice(-1)[0]!.replace(
            /^\S+ /,
            "",
          );
        }
      } catch { /* no log */ }
      // A log it wrote is kept for a script to show; an empty one says nothing.
      if (why === "") removeOwnLog(lab.name);
      // Stopped before it logged a line (Ctrl-C at once): what the wait knows is the news.
      if (why === "" && err instanceof ExitStatus && err.message !== "") throw new UsageError(err.message);
      throw new UsageError(
        `lab ${lab.name} did not come up${why ? `: ${why}; its log: ${daemonLog(lab.name)}` : ""}`,
      );
    }
    // On stderr, as every --daemon start says where it serves: a script's $(vde up -d ...) takes nothing.
    console.error(
      `lab ${lab.name} is up in the background: \`vde status ${lab.name}\`, \`vde down ${lab.name}\`; ` +
        `its log (exec lines, cables, errors): ${daemonLog(lab.name)}`,
    );
    // With `--http 0` only the background copy knows its port; it logged the URL before it served.
    const web = o.http === undefined ? undefined : loggedWebView(lab.name);
    if (web !== undefined) console.error(web);
    return;
  }
  // A background lab's log is opened once the lab is this process's (claimed, below; outside a rootless lab,
  // once the copy in there has claimed it): a start refused before that (the name taken, a switch's
  // directory there) makes no log, and touches none another `vde up` of the name writes.
  if (rootless) {
    // Not opened here, the copy in there, opening the same file as it claims the lab, fails and says why.
    const outsideLog = () => {
      try {
        openLog(lab.name);
      } catch { /* said by the copy */ }
    };
    const dir = source ? dirOf(source.path) : Deno.cwd();
    return await upRootless(lab, dir, o.http, source?.path, isDaemonChild() ? outsideLog : undefined);
  }
  const { stopped, stop, remove } = untilSignal();
  // A signal while the lab comes up (Ctrl-C during a slow DHCP or exec) cuts bring-up short.
  const interrupt = new AbortController();
  let interruptedBy: string | undefined;
  stopped.then((why) => {
    interruptedBy ??= why;
    interrupt.abort();
  });
  let runner: LabRunner | undefined;
  let ctl: MgmtServer | undefined;
  let web: LabWebServer | undefined;
  let shell: { close(): void } | undefined;
  try {
    runner = await LabRunner.up(lab, {
      file: source?.path ?? "",
      baseDir: source ? dirOf(source.path) : Deno.cwd(),
      name: o.name,
      variables: source?.variables,
      log: (m) => log("vde up", m),
      signal: interrupt.signal,
      // In the namespaces of a rootless lab: its slirps and cables are the `vde up` outside's.
      ...(inner === undefined ? {} : {
        outside: pluggedFromOutside(
          labDir(lab.name),
          lab.nodes.filter((n) => n.kind === "slirp" || n.kind === "cable").map((n) => n.name),
          undefined,
          outsideRuns,
        ),
        outsideForwards: forwardsFromOutside(labDir(lab.name), undefined, outsideRuns),
        ...(inner.outside === undefined ? {} : { outsideProcess: inner.outside }),
      }),
      // The log is this run's from here: the last run's lines go (a loser of a race never gets here).
      claimed: () => {
        if (isDaemonChild() || inner?.background) openLog(lab.name, true);
      },
    }).catch((err) => {
      // Lost a race with another `vde up` of this lab: its lab is up, not taken down, and its log is its own.
      if (err instanceof LabTaken) throw new LostToAnother(err.message);
      // Ctrl-C reaches the commands bring-up runs too: their failure is not the news.
      if (interruptedBy !== undefined) {
        throw new InterruptedBringUp(
          `lab ${lab.name}: ${interruptedBy} while it came up; everything made was taken down`,
        );
      }
      throw new UsageError(`lab ${lab.name}: ${(err as Error).message} (everything made was taken down)`);
    });
    const r = runner;
    let savedTo: string | undefined;
    const { commands } = labCommands(r, {
      down: (reason) => stop(reason),
      webUrl: () => web?.url,
      log: (m) => log("vde up", `lab ${lab.name}: ${m}`),
      save: async (file) => {
        // The lab's file is the one it runs now: after `apply OTHER.yaml`, that one.
        // A relative FILE goes beside the lab file, as diff and apply read theirs: the lab process's own
        // directory is not the one `vde term` is typed in, and `saved copy.yaml` said nothing of where.
        const target = file === undefined
          ? r.file || savedTo
          : file.startsWith("/")
          ? file
          : `${r.baseDir}/${file}`;
        if (target === undefined) throw new Error("this lab has no file yet: save FILE");
        savedTo = target;
        // The file as it is now: after an `apply` of its edit, the text `vde up` read would undo the edit's comments.
        const original = target === r.file ? currentText(target, source) : undefined;
        // The running lab holds their values, not the variables: writing it there would fix the file to this copy.
        if (original !== undefined && hasVariables(original)) {
          throw new Error(
            `${target} has variables (\${...}), which save would replace: save FILE, another file`,
          );
        }
        const text = original !== undefined ? saveInto(original, r.lab) : labToYaml(r.lab);
        try {
          // Not through a symlink nor into another user's file: a lab file in /tmp puts `save copy.yaml` there.
          const bytes = new TextEncoder().encode(text);
          using out = openOutputFile(target, { truncate: true });
          for (let at = 0; at < bytes.length;) at += await out.write(bytes.subarray(at));
        } catch (err) {
          throw new Error(`cannot write ${target}: ${forPeople((err as Error).message)}`);
        }
        return target;
      },
    });
    // Before the control socket: a background `vde up` reports success once that exists.
    if (o.http !== undefined) {
      // A rootless lab's page is served outside its namespaces, which pass their connections here.
      web = inner === undefined ? startLabWeb(r, o.http) : LabWebServer.start(
        r,
        { path: pageSocket(r.dir), url: inner.pageUrl ?? "" },
        // Its slirps are the process outside's too: their counters come from there at each scrape.
        slirpCountersFrom(r.dir, (m) => log("vde up", `lab ${lab.name}: ${m}`)),
      );
    }
    ctl = await MgmtServer.start(commands, { debug: { detach: () => {} } }, {
      path: `${r.dir}/ctl`,
      greeting: `vde lab ${lab.name}\n\nlab[${lab.name}]$ `,
      prompt: `lab[${lab.name}]$ `,
      // Ctrl-C at `vde term LAB` stops a host's exec here; the lab's switches read 0x03 as vde_switch does.
      interrupts: true,
      log: (m) => log("vde up", m),
    });
    // The waiting `vde up -d` returns once the lab serves.
    reportReady();
    if (!isDaemonChild()) {
      console.log([...nodesTable(r), "", ...linksTable(r), ""].join("\n"));
      if (Deno.stdin.isTerminal()) {
        console.log(
          `lab ${lab.name} is up; \`help\` lists the shell's commands, \`down\` (or Ctrl-D) takes it down`,
        );
        // Under job control (`vde up lab.yaml &`, Ctrl-Z, bg) the lab runs on while the shell waits for fg.
        shell = consoleWhileForeground(
          (onSuspend) =>
            startLabShell(r, commands, () => stop("end of the shell"), onSuspend, shellCapture(r)),
          () =>
            log(
              "vde up",
              `lab ${lab.name} runs in the background: the lab shell comes back with fg (meanwhile: vde term ${lab.name})`,
            ),
        );
      } else console.log(`lab ${lab.name} is up; Ctrl-C or \`vde down ${lab.name}\` takes it down`);
    }
    log("vde up", `lab ${lab.name}: ${await stopped}, taking it down`);
  } finally {
    // Before its console closes: a `vde status` or `vde term` meanwhile says it is going down.
    if (runner !== undefined) markStopping(runner.dir);
    shell?.close();
    ctl?.close();
    await web?.close();
    await runner?.down();
    remove();
    // A background lab's log outlives it (what its exec commands printed); `vde down --cleanup` removes it.
    await poller().stop();
  }
}

/** The lab file's text now, or as `vde up` read it when it can no longer be read. */
function currentText(path: string, source: { text: string; path: string } | null): string | undefined {
  try {
    return labFileText(path);
  } catch {
    return source?.path === path ? source.text : undefined;
  }
}

/** `vde up --http`: one web server for all the lab's switches. */
function startLabWeb(r: LabRunner, address: string): LabWebServer {
  let web: LabWebServer;
  try {
    web = LabWebServer.start(r, parseHttpAddress(address));
  } catch (err) {
    throw new UsageError(httpListenFailure(address, err));
  }
  log("vde up", `lab ${r.lab.name}: web view on ${web.url} (metrics at ${web.url}metrics)`);
  return web;
}

/** The background lab's "web view on URL ..." line from its log, if it wrote one. */
function loggedWebView(name: string): string | undefined {
  try {
    return /web view on .*$/m.exec(Deno.readTextFileSync(daemonLog(name)))?.[0];
  } catch {
    return undefined;
  }
}

/**
 * The background copy's failure before it served, written to the lab's log as its last line too, and its
 * line (the waiting `vde up -d` prints it) naming that log, which is kept: a script shows why from it.
 */
function failedInBackground(name: string, err: unknown): unknown {
  // Another `vde up` of the lab has it: that one's log is not this one's to write in (nor to remove).
  if (err instanceof LostToAnother) return err;
  // Stopped as told (Ctrl-C, SIGTERM) is no failure to show: its log goes, as a stop at ready's does.
  if (err instanceof InterruptedBringUp) {
    if (logOpened) removeLog(name);
    return err;
  }
  // Refused before it had the lab (and its log): the line is the whole story.
  if (!(err instanceof Error) || err instanceof ExitStatus || !logOpened) return err;
  log("vde up", err.message, "err");
  return new UsageError(`${err.message}; its log: ${daemonLog(name)}`);
}

/** A bring-up a stop signal ended: everything made was taken down, as the user asked. */
class InterruptedBringUp extends UsageError {}

/** Another `vde up` of the lab has its name (running, starting or stopping): this one made nothing. */
class LostToAnother extends UsageError {}

function removeLog(name: string): void {
  try {
    Deno.removeSync(daemonLog(name));
  } catch { /* none was written */ }
}

/**
 * Removes the lab's log unless a `vde up` of the lab runs (or starts): that one's log is its own, as a
 * second `vde up -d` of the lab finds when it loses to the first.
 */
function removeOwnLog(name: string): void {
  const state = readState(name);
  if (state === undefined || !ownerRuns(state.pid, state.pidStart) || state.pid === Deno.pid) removeLog(name);
}

/** Whether this process opened the lab's log (openLog): only then is the log its to write in or remove. */
let logOpened = false;

/**
 * Opens the background lab's log, once this process has the lab's name (its record written first, so
 * removeOwnLog of another `vde up` of the name never takes a log that one has open); `fresh`, as the lab's
 * own `vde up` gets the name: the last run's lines go.
 */
function openLog(name: string, fresh = false): void {
  setLogFile(daemonLog(name), "--logfile", 0o600, fresh);
  logOpened = true;
}

/**
 * The `name` of lab file `file`, if it has one. A name `vde up` would refuse (validate.ts) is refused here
 * too: it names no lab, and joined to the labs' directory (`../../home/x`) it led elsewhere, where
 * `vde down FILE` removed that directory and `--cleanup` a `.log` file, as root too.
 *
 * @throws Deno's error when the file cannot be read; UsageError for a name that is no lab's
 */
function nameInFile(file: string): string | undefined {
  // `name: ${LAB:=demo}` is the name the environment makes of it, as `vde up` of the file would run.
  const value = parseDocument(expandVariables(labFileText(file)).text).get("name");
  if (typeof value !== "string" && typeof value !== "number") return undefined;
  const name = String(value);
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(
      `${printable(file)}: lab name "${printable(name)}" may hold only letters, digits, "-" and "_", ` +
        "starting with a letter or digit",
    );
  }
  return name;
}

/** ` (did you mean lab.yaml?)` for `lab.yml` typed beside lab.yaml: a YAML file a typo away, or "". */
function nearLabFile(file: string): string {
  return didYouMeanClause(nearEntries(file, (f) => isFile(f) && /\.ya?ml$/.test(f)));
}

/** The lab name an argument means: a lab file's `name`, or the name itself. */
function labName(arg: string): string {
  try {
    if (Deno.statSync(arg).isFile) {
      const name = nameInFile(arg);
      if (name !== undefined) return name;
      throw new UsageError(`${arg} has no lab name`);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
  }
  if (!NAME_PATTERN.test(arg)) {
    // An operator's `vde status /tmp/net` of a switch started alone: say what shows that switch instead.
    const what = isSocket(`${arg}/ctl`)
      ? `a switch's socket directory, not a lab: vde term ${arg} reaches that switch (-c ports, -c shutdown)`
      : `neither a lab file nor a lab name${nearLabFile(arg)}`;
    throw new UsageError(`"${arg}" is ${what}`);
  }
  return arg;
}

/** Whether lab `name` is up, dead or half made: anything `vde down` would remove. */
function labIsThere(name: string): boolean {
  try {
    Deno.statSync(labDir(name));
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses to take down running lab `name` for lab file `file` when the lab
 * runs another file: two copies of one file (an example copied by two
 * users, two checkouts) name the same lab, and `vde down lan.yaml` (or
 * `vde up -c`) in the second copy's directory would take the first one's
 * lab down. The lab's name, given as itself, still takes it down, and so
 * does any file once the one the lab runs is gone (moved or renamed).
 */
function refuseAnotherFilesLab(name: string, file: string, doing: string): void {
  const state = readState(name);
  if (state === undefined || state.file === "" || !ownerRuns(state.pid, state.pidStart)) return;
  let path: string;
  try {
    path = Deno.realPathSync(file);
  } catch {
    return;
  }
  // The running lab's own file moved or renamed (`mv lan.yaml lab.yaml`): no other copy runs it.
  if (path === state.file || !isFile(state.file)) return;
  throw new UsageError(
    `${doing} would take down lab ${name} (pid ${state.pid}), which runs ${state.file}, not ${path}: ` +
      `to run this file beside it, change its \`name: ${name}\` or give \`--name\`; to take that lab down, \`vde down ${name}\``,
  );
}

async function down(arg: string, cleanup = false): Promise<void> {
  const name = labName(arg);
  if (isFile(arg)) refuseAnotherFilesLab(name, arg, `vde down ${arg}`);
  // Last, once the lab has stopped writing to it; a lab already down may still have one.
  const removeLogToo = () => {
    if (!cleanup) return false;
    try {
      Deno.removeSync(daemonLog(name));
      console.log(`removed ${daemonLog(name)}`);
      return true;
    } catch {
      return false;
    }
  };
  if (readState(name) === undefined) {
    // A directory without a state file: a `vde up` killed in its first steps; or a switch's, kept.
    const notLab = await switchNotLab(name, labDir(name));
    if (notLab !== undefined) throw new UsageError(`${notLab}: left alone`);
    // Its hosts' namespaces, which a `vde up` killed after its record went leaves, found by their names.
    const swept = await removeLeftoverNamespaces(name);
    const removedSome = swept?.startsWith("removed ") ?? false;
    try {
      Deno.removeSync(labDir(name), { recursive: true });
      console.log(`removed ${labDir(name)} (no lab was running there)`);
    } catch {
      if (swept !== undefined && removedSome) console.log(swept);
      if (removeLogToo() || removedSome) return;
      // Root's lab of that name is there, and not this user's to take down: a real failure.
      if (rootLabs().includes(name)) throw noSuchLab(name);
      // Nothing to take down is success, as containerlab's destroy and `docker rm -f` have it:
      // a cleanup trap needs no `|| true`, which would hide the failures that remain.
      console.log(`${noSuchLab(name).message}: nothing to take down${copiesHint(arg, "down")}`);
      if (swept !== undefined) console.log(swept);
      return;
    }
    if (swept !== undefined) console.log(swept);
    removeLogToo();
    return;
  }
  for (const line of await cleanupLab(name)) console.log(line);
  removeLogToo();
}

/**
 * `vde down` with no lab named, in a directory of several lab files none of
 * whose labs is up (nor root's of that name, nor left behind by a killed
 * `vde up`): whichever was meant is down, so, as `vde down NAME` of a lab not
 * up, nothing to take down, said in one line (exit 0, for a cleanup trap);
 * with `cleanup`, their logs go first. Undefined where a lab was named, one
 * file or none is here, or one of theirs is up: labFileOf decides then.
 */
function noLabUpHere(arg: string | undefined, topo: string | undefined, cleanup = false): string | undefined {
  if (labOrNone("down", arg, topo) !== undefined) return undefined;
  const files = labFilesHere();
  if (typeof files === "string" || files.length < 2) return undefined;
  let names: (string | undefined)[];
  try {
    names = files.map(nameInFile);
  } catch {
    return undefined; // gone since it was read: labFileOf says what is here now
  }
  const taken = new Set([...listLabs(), ...rootLabs()]);
  if (names.some((n) => n === undefined || taken.has(n) || isDirectory(labDir(n)))) return undefined;
  if (cleanup) {
    for (const name of names) {
      try {
        Deno.removeSync(daemonLog(name!));
        console.log(`removed ${daemonLog(name!)}`);
      } catch { /* none kept */ }
    }
  }
  const labs = files.map((f, i) => `${f}: ${names[i]}`).join(", ");
  return `no lab of this directory's ${files.length} lab files is up (${labs}): nothing to take down` +
    files.map((f) => copiesHint(f, "down")).join("");
}

/**
 * Takes each of `labs` down with `takeDown`, going on past one that fails (a
 * lab someone else took down meanwhile, say): the others still come down.
 *
 * @throws UsageError naming each lab that failed and why, once all were tried
 */
export async function downEach(
  labs: readonly string[],
  takeDown: (name: string) => Promise<void>,
): Promise<void> {
  const failed: string[] = [];
  for (const name of labs) {
    try {
      await takeDown(name);
    } catch (err) {
      failed.push(`${name}: ${(err as Error).message}`);
    }
  }
  if (failed.length > 0) throw new UsageError(`not every lab came down (${failed.join("; ")})`);
}

/**
 * For `vde down FILE` or `vde status FILE` of a file whose copies run under
 * names of their own (`vde up FILE --name s1`): those names, and the command
 * that reaches one.
 */
function copiesHint(file: string, command: "down" | "status"): string {
  if (!isFile(file)) return "";
  const path = realPath(file);
  const copies = labStates().filter(([, state]) => state.named === true && state.file === path).map(([l]) =>
    l
  );
  if (copies.length === 0) return "";
  return ` (${file} runs as ${copies.join(", ")}: vde ${command} ${file} --name ${copies[0]})`;
}

/** "no lab X is up", with the labs that are (a near name first), so a typo or a wrong guess is one step away. */
function noSuchLab(name: string): UsageError {
  const roots = rootsLabAnswer(name);
  if (roots !== undefined) return new UsageError(roots);
  return new UsageError(`no lab ${name} is up${labsUpHint(name)}${rootLabsHint()}${usersLabHint(name)}`);
}

/**
 * For a user who is not root: root's labs, which live apart (ROOT_LABS_DIR) and
 * so are not this user's to list, named when there are any.
 */
export function rootLabsHint(uid = Deno.uid(), base = ROOT_LABS_DIR): string {
  const labs = rootLabs(uid, base);
  return labs.length === 0 ? "" : `; root's labs are up (${labs.join(", ")}): run vde as root for those`;
}

/** ` (did you mean a?)`, ` (up: a, b)` or, unless a lab was named, ` (no lab is up)`. */
function labsUpHint(name?: string): string {
  const up = listLabs();
  if (up.length === 0) return name === undefined ? " (no lab is up)" : "";
  const near = name === undefined ? [] : suggestCommands(name, up);
  return didYouMeanClause(near) || ` (up: ${up.join(", ")})`;
}

/** `vde status --json` or `--format json|table` (containerlab's inspect spelling): whether to print JSON. */
export function statusWantsJson(o: { json?: boolean; format?: string }): boolean {
  if (o.format !== undefined && o.format !== "json" && o.format !== "table") {
    throw new UsageError(`vde status --format takes json or table, not "${o.format}"`);
  }
  if (o.json && o.format === "table") throw new UsageError("give --json or --format table, not both");
  return o.json === true || o.format === "json";
}

/** What `vde status` adds where no lab is up: a switch started alone is no lab, and how to see one. */
export const NO_LAB_SWITCH =
  " (a switch started with `vde switch` is none: `vde term DIR -c ports` shows it)";

async function status(arg: string | undefined, json: boolean): Promise<void> {
  if (arg === undefined) {
    const row = (name: string, s: LabState, state = runState(name, s)) => ({
      name,
      pid: s.pid,
      state,
      file: s.file,
    });
    const labs = labStates().map(([name, state]) => row(name, state));
    // For root, users' rootless labs apart, each with its user: theirs to take down, never in `labs`, which
    // a script may hand to root's `vde down` (that finds none of them anyway, and says whose they are).
    const rootless = usersLabs().map((l) => ({
      user: l.user,
      ...row(l.name, l.state, ownerRuns(l.state.pid, l.state.pidStart) ? "up" : "dead"),
    }));
    if (json) {
      console.log(JSON.stringify({ labs, ...(rootless.length === 0 ? {} : { rootless }) }, null, 2));
      return;
    }
    if (labs.length + rootless.length === 0) {
      // A bridge user's first look after `vde switch -d` (as `brctl show` after `ip link add`): no switch is a lab.
      console.log(`no labs are up${rootLabsHint()}${NO_LAB_SWITCH}`);
      return;
    }
    const rows = [
      ...labs.map((
        l,
      ) => [
        l.name,
        String(l.pid),
        l.state === "starting"
          ? "starting (up once vde up -d returns)"
          : l.state === "stopping"
          ? "stopping (being taken down)"
          : l.state === "up"
          ? "up"
          : "dead (vde down cleans up)",
        l.file,
      ]),
      ...rootless.map((l) => [
        l.name,
        String(l.pid),
        `${l.state}, user ${l.user}'s rootless lab (their vde down takes it down)`,
        l.file,
      ]),
    ].map(([name, pid, state, file]) => [name!, pid!, state!, file || "-"]);
    const cols = ["LAB", "PID", "STATE", "FILE"].map((title) => ({ title, align: "left" as const }));
    console.log(renderTable(cols, rows).join("\n"));
    return;
  }
  const name = labName(arg);
  const state = readState(name);
  if (state === undefined) throw new UsageError(`${noSuchLab(name).message}${copiesHint(arg, "status")}`);
  if (!ownerRuns(state.pid, state.pidStart)) {
    throw new UsageError(deadLab(name, state));
  }
  const run = runState(name, state);
  if (run === "starting") throw new UsageError(notUpYet(name, state));
  if (run === "stopping") throw new UsageError(beingTakenDown(name, state));
  const client = await MgmtClient.connect(`${labDir(name)}/ctl`);
  try {
    const reply = await client.command(json ? "status json" : "status");
    const lines = reply.lines ?? [];
    if (reply.code !== 0) throw new UsageError(`lab ${name}: ${(reply.raw ?? lines.join(" ")).trim()}`);
    // The lab sends one line; printed indented, as the list of labs is, for a reader and for jq alike.
    console.log(json ? JSON.stringify(labJson(name, lines), null, 2) : lines.join("\n"));
  } finally {
    client.close();
  }
}

/** A lab's `status json` line; a lab brought up by a vde before `--json` answers with its table. */
function labJson(name: string, lines: readonly string[]): unknown {
  try {
    return JSON.parse(lines.join(""));
  } catch {
    throw new UsageError(
      `lab ${name} answers status with no JSON (a vde before --json runs it): \`vde status ${name}\``,
    );
  }
}

/** The lab plain `vde` starts: empty, named after the current directory. */
function emptyLab(): Lab {
  const base = Deno.cwd().split("/").filter((p) => p !== "").at(-1) ?? "lab";
  const name = base.replace(/[^A-Za-z0-9_-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 8) || "lab";
  return { name, nodes: [], links: [] };
}

/** Registers `up`, `down`, `status`, `completions` and plain `vde`. */
export const labCommand: Subcommand = (program: Command) => {
  program.command("up")
    .configureOutput(vdeErrors(unknownOptionHint((name, value) => otherToolOption("up", name, value))))
    .description("bring up the lab in a lab file (YAML): switches, hosts in namespaces, slirp, cables, links")
    .argument("[file]", "the lab file (default: the one in this directory)")
    .addOption(topoOption())
    .addOption(nameOption("run the lab under this name, not its file's (containerlab's deploy --name)"))
    .option("-d, --detach", "run the lab in the background")
    .option("-c, --reconfigure", "take the lab down first if it is up (containerlab's deploy --reconfigure)")
    .option(
      "--apply",
      "if a lab of this name runs, make it this file live (containerlab's apply); it then runs this file",
    )
    .option("--http <[addr:]port>", "serve the lab's /metrics and a live page (127.0.0.1 unless ADDR)")
    .option("--rootless", "without root: the lab in a user and network namespace of your own (unshare)")
    .addHelpText(
      "after",
      examples(
        "vde up lab.yaml                  # build it, then the lab shell (Ctrl-D takes it down)",
        "vde up -d lab.yaml --http 9100   # in the background, with a live page on 127.0.0.1:9100",
        "vde up examples/lan-nat.yaml     # hosts h1 and h2: ip netns exec vde-lan-h1 ping 10.0.2.2",
        "vde example lan-nat > lan.yaml   # that example where there is no examples/ (vde example lists them)",
        "vde up -d -c lab.yaml            # again, after editing lab.yaml (down, then up)",
        "vde up --apply lab.yaml          # the edit, applied live to the running lab",
        "vde up -d lab.yaml --name s2     # a second copy of the file, beside the first",
        "PORT=18082 vde up -d lab.yaml    # a file's ${PORT:=18080} is 18082 this time",
        "vde up -d --rootless lab.yaml    # not root: vde term lab -c 'h1 ping -c 3 10.0.2.2'",
      ),
    )
    .action(async (file: string | undefined, o: UpOptions) => {
      // With --apply the lab may run: a mistake leaves it as it was too.
      const after = o.apply ? "; nothing was created or changed" : undefined;
      const name = checkedName(o.name);
      const { lab, text, path, variables } = loadLab(labFileOf("up", file, o.topo), after, {
        checkFiles: true,
        name,
        // Not root: the lab is the user's alone, and a file's sharing is refused where it is written.
        usersOwn: o.rootless ? usersOwnLab(true) : usersOwnLab(),
      });
      // Said once, by the vde up that was typed: not again by its background or rootless copy.
      if (!isDaemonChild() && rootlessInner() === undefined) {
        for (const line of slirpVlanWarnings(lab)) console.error(`vde: ${file ?? path}: ${line}`);
      }
      if (o.http !== undefined) {
        try {
          parseHttpAddress(o.http);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
      }
      if (o.apply && o.reconfigure) {
        throw new UsageError("give --apply (live) or -c (down, then up), not both");
      }
      // A running lab's web server is its start's: an --http beside --apply would be dropped unsaid.
      if (o.apply && o.http !== undefined && !isDaemonChild() && labIsThere(lab.name)) {
        throw new UsageError(
          `--http is the lab's start's, not --apply's: lab ${lab.name} runs (\`vde status ${lab.name}\` names ` +
            `its web view, if it has one); \`vde up -c --http ${o.http} ${
              file ?? path
            }\` takes it down and up ` +
            "with one, or give --apply alone",
        );
      }
      if (o.apply && !isDaemonChild() && await applyToRunningLab(lab, path)) {
        sayVariablesNotTaken(lab.name, variables);
        return;
      }
      // The background copy runs with the same options: the lab is down by then.
      if (o.reconfigure && !isDaemonChild() && labIsThere(lab.name)) {
        refuseAnotherFilesLab(lab.name, path, "vde up -c");
        // What refuses the new lab refuses it before the running one is taken down, not after: a user's
        // `vde up -c` of a rootless lab without --rootless (as apply's hint reads) left no lab at all.
        const rootless = o.rootless === true && Deno.uid() !== 0;
        checkRoot(lab, rootless ? 0 : Deno.uid());
        checkGroups(lab);
        if (rootless) await checkUserNamespaces();
        await down(lab.name);
      }
      await runLab(lab, { text, path, variables }, o).catch((err) => {
        throw isDaemonChild() && !hasReportedReady() ? failedInBackground(lab.name, err) : err;
      });
    });
  program.command("down")
    .configureOutput(vdeErrors(unknownOptionHint((name, value) => otherToolOption("down", name, value))))
    .description("take a lab down: processes, namespaces, taps, sockets (also after vde up was killed)")
    .argument("[lab]", "lab name or lab file (default: the one in this directory)")
    .addOption(topoOption())
    .option(
      "-c, --cleanup",
      "remove the lab's log too, as containerlab's destroy --cleanup its lab directory",
    )
    .addOption(nameOption("the lab of this name (one brought up with vde up --name), whatever the file says"))
    .option("-a, --all", "take every lab down, as containerlab's destroy --all")
    .addHelpText(
      "after",
      examples(
        "vde down demo       # or: vde down lab.yaml",
        "vde down           # the one lab file in this directory",
        "vde down --all      # every lab of this user",
        "vde down --name s2  # the copy brought up with vde up lab.yaml --name s2",
      ),
    )
    .action(async (
      arg: string | undefined,
      o: { topo?: string; name?: string; cleanup?: boolean; all?: boolean },
    ) => {
      // `vde down lab.yaml --name s2`: the copy named s2, as containerlab's destroy -t FILE --name.
      if (!o.all && o.name !== undefined) return await down(checkedName(o.name)!, o.cleanup);
      if (!o.all) {
        const none = noLabUpHere(arg, o.topo, o.cleanup);
        if (none !== undefined) return console.log(none);
        return await down(labFileOf("down", arg, o.topo), o.cleanup);
      }
      if (arg !== undefined || o.topo !== undefined || o.name !== undefined) {
        const lab = arg ?? o.topo ?? `--name ${o.name}`;
        throw new UsageError(`vde down --all takes no lab: give ${lab} or --all`);
      }
      const labs = listLabs();
      if (labs.length === 0) console.log("no labs are up");
      await downEach(labs, (name) => down(name, o.cleanup));
    });
  program.command("status")
    .configureOutput(vdeErrors(unknownOptionHint((name, value) => otherToolOption("status", name, value))))
    .description("list running labs, or one lab's nodes and links with their counters")
    .argument("[lab]", "lab name or lab file")
    .addOption(topoOption())
    .addOption(nameOption("the lab of this name (one brought up with vde up --name)"))
    .option("--json", "print one JSON document (keys as README's vde status --json says)")
    .option("--format <format>", "json or table (default), as containerlab's inspect --format")
    .addHelpText(
      "after",
      examples(
        "vde status          # the running labs",
        "vde status demo     # its nodes and links",
        "vde status demo --json | jq -r '.nodes[] | select(.kind==\"host\") | .namespace'",
      ),
    )
    .action((arg: string | undefined, o: { topo?: string; name?: string; json?: boolean; format?: string }) =>
      status(checkedName(o.name) ?? labOrNone("status", arg, o.topo), statusWantsJson(o))
    );
  program.command("completions")
    .description("print shell completions for vde")
    // Optional to commander, so its bare "missing required argument 'shell'" gives way to the choices.
    .argument("[shell]", "bash, zsh or fish")
    .addHelpText("after", examples('eval "$(vde completions bash)"   # in ~/.bashrc'))
    .action((shell: string | undefined) => {
      if (shell === undefined) {
        throw new UsageError(
          'vde completions needs a shell: bash, zsh or fish, e.g. eval "$(vde completions bash)"',
        );
      }
      if (!["bash", "zsh", "fish"].includes(shell)) {
        throw new UsageError(`no completions for "${shell}": bash, zsh or fish`);
      }
      console.log(completionScript(program, shell as "bash" | "zsh" | "fish"));
    });
};

/**
 * Plain `vde`: the lab shell at a terminal, help otherwise, and a mistyped
 * command named as such. Registered after every subcommand (last in
 * vdeSubcommands): the program's allowExcessArguments, set here, is copied
 * into each subcommand made after it, where `vde example NAME extra` or
 * `vde graph a b` would then pass without a word.
 */
export const plainVdeCommand: Subcommand = (program: Command) => {
  program.addHelpText(
    "after",
    "\nWith no command, at a terminal: the lab shell on an empty lab named after this directory\n" +
      "(`help` lists its commands; `add switch sw1` grows it, `save lab.yaml` writes it).\n",
  );
  // Unknown options are let through to the action, so `vde swtich -s /tmp/net` names the mistyped command
  // rather than the `-s` it happens to be followed by (allowUnknownOption is never copied to subcommands).
  // `vde help [command]`, which commander leaves out once the program has an action of its own.
  program.helpCommand("help [command]", "display help for vde or a command");
  program.allowExcessArguments(true).allowUnknownOption(true).action(async () => {
    // Plain `vde` only: anything else on the line is a subcommand that does not exist.
    const [first] = program.args;
    // -V is commander's usual version flag (and vde_switch's -v is ours).
    if (first === "-V") program.error(`vde: unknown option '-V' (vde -v or --version prints the version)`);
    if (first?.startsWith("-")) {
      // `vde --sock /tmp/net switch`: the options of a command follow its name.
      const line = commandFirst(program.args, program.commands.map((c) => c.name()));
      program.error(
        `vde: unknown option '${first}'${line === undefined ? "" : ` (options follow the command: ${line})`}`,
      );
    }
    if (first !== undefined) {
      // `vde lab.yaml` is a likely first try at bringing a lab file up.
      const near = suggestCommands(first, program.commands.map((c) => c.name()));
      // containerlab's `tools netem set -n NODE -i IFACE`: the running labs' links say which link that is.
      const netem = program.args.includes("netem") && program.args.some((a) => /^(-n|--node)(=|$)/.test(a));
      const other = netem
        ? otherToolHint(first, program.args.slice(1), await runningLabsLinks(), rootsHostAnswer)
        : otherToolHint(first, program.args.slice(1));
      const hint = /\.ya?ml$/.test(first)
        ? ` (a lab file? \`vde up ${shellQuoted(first)}\` brings it up)`
        : other !== undefined
        ? ` (${other})`
        : didYouMeanClause(near);
      program.error(`vde: unknown command '${first}'${hint}`);
    }
    if (!Deno.stdin.isTerminal()) {
      program.outputHelp();
      return;
    }
    await runLab(emptyLab(), null, {});
  });
};
