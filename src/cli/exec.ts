/**
 * `vde exec [LAB] HOST [COMMAND...]`: a command, or a shell, in a running
 * lab's host, as `docker exec -it` and containerlab users reach a node.
 *
 * Theory of operation: the host is found in the labs' state files (each
 * lists its namespaces, `vde-LAB-HOST`), so a host's name alone is enough
 * while one running lab has it; the lab's name goes first where several
 * do. The command runs with this terminal (stdin, stdout, stderr
 * inherited) under `ip netns exec`; a rootless lab's namespaces are seen
 * only from its user and mount namespaces, entered first with `nsenter`
 * from the lab's pid. With no command it is the user's $SHELL (or
 * /bin/sh). A command that is not there or not executable is said here,
 * with a shell's 127 and 126, as `ip netns exec` says 1 for both. This
 * process waits on the command, passes on the signals a wrapper does (as
 * sudo and docker exec: INT, QUIT, TERM, HUP, USR1, USR2, WINCH), and exits
 * with its status. Ctrl-C and Ctrl-\ at the terminal reach the command
 * themselves (same process group): an INT or QUIT sent to the whole group
 * is not sent again, as a second one may force what the first asked
 * gracefully, while one sent to this process alone (`kill -INT PID` from
 * another shell) is passed on. Deno does not say who sent a signal; a
 * witness in the group tells (os/group_witness.ts), and where it cannot,
 * this process being its terminal's foreground is taken for the keys'.
 *
 * A host is a network namespace, not a machine: its shell has this
 * machine's files, hostname and so prompt, where docker's has the
 * container's. So a shell (no command) at a terminal is announced in one
 * line, and every command gets VDE_LAB and VDE_HOST, which a prompt can
 * show (PS1='[$VDE_HOST] \w\$ ').
 */
import type { Command } from "commander";
import { CommanderError } from "commander";
import { didYouMean, didYouMeanClause } from "../did_you_mean.ts";
import { labStates, ownerRuns } from "../lab/state.ts";
import { netnsName, ROOT_LABS_DIR } from "../lab/names.ts";
import {
  labSwitches,
  rootLabsWithHost,
  rootsHostLine,
  usersHostAnswer,
  type UsersLab,
  usersLabs,
  usersLabsWithHost,
} from "../lab/switch_paths.ts";
import { shellQuoted } from "../shell_quote.ts";
import { cannotRun } from "../os/processes.ts";
import { examples } from "./help.ts";
import { ExitStatus, unknownOptionHint, UsageError, vdeErrors } from "./main.ts";
import { otherToolOption } from "./other_tools.ts";
import { onSignals } from "./signals.ts";
import { hostSideVouched } from "../os/host_vouched.ts";
import { VOUCHED_VARIABLE } from "../os/user_namespace.ts";
import { unrunnable } from "../os/command_lookup.ts";
import { thisInForeground } from "../os/foreground.ts";
import { GroupSignalWitness, type WitnessedSignal } from "../os/group_witness.ts";
import { rootLabsHint } from "./lab.ts";
import { askLab } from "./capture_lab_hint.ts";

/** A running lab as exec sees it: its name and its hosts' namespaces. */
export interface ExecLab {
  name: string;
  namespaces: readonly string[];
  /** Its switches, which a user may name as a host (`vde exec sw1`): their console is `vde term`. */
  switches?: readonly string[];
}

/** Where a command runs: the lab, the host, and the command's words (none: a shell). */
export interface ExecTarget {
  lab: string;
  host: string;
  command: string[];
}

/** The hosts of `lab`, from its namespaces' names. */
function hostsOf(lab: ExecLab): string[] {
  const prefix = netnsName(lab.name, "");
  return lab.namespaces.filter((ns) => ns.startsWith(prefix)).map((ns) => ns.slice(prefix.length));
}

/**
 * `words` with `LAB/HOST` first, as vde capture and vde term name a lab's host, as `LAB HOST`: each
 * lookup (hosts, a slirp named as a host, root's hosts) reads the same words.
 */
export function labHostWords(words: readonly string[]): readonly string[] {
  const slash = /^([^/]+)\/([^/]+)$/.exec(words[0] ?? "");
  return slash === null ? words : [slash[1]!, slash[2]!, ...words.slice(1)];
}

/**
 * Which lab and host `words` (after `vde exec`) name: `LAB HOST CMD...` when
 * the first word is a lab with that host, else `HOST CMD...` in the one lab
 * that has it. A line naming no such host throws a UsageError saying which
 * hosts there are, and `elsewhere` (root's labs, for a user who is not root) where it has none.
 */
export function execTarget(words: readonly string[], labs: readonly ExecLab[], elsewhere = ""): ExecTarget {
  words = labHostWords(words);
  const [first, second] = words;
  if (first === undefined) throw new UsageError("give a lab's host: vde exec [LAB] HOST [COMMAND...]");
  if (labs.length === 0) {
    throw new UsageError(`no labs are up: \`vde up lab.yaml\` brings one up${elsewhere}`);
  }
  const named = labs.find((l) => l.name === first);
  if (named !== undefined && second !== undefined && hostsOf(named).includes(second)) {
    return { lab: named.name, host: second, command: commandAfter(words, 2) };
  }
  const holding = labs.filter((l) => hostsOf(l).includes(first));
  if (holding.length === 1) return { lab: holding[0]!.name, host: first, command: commandAfter(words, 1) };
  if (holding.length > 1) {
    const names = holding.map((l) => l.name);
    throw new UsageError(
      `labs ${names.join(", ")} each have a host ${first}: name one, ${
        names.map((n) => `${n}/${first}`).join(" or ")
      } (\`vde exec ${names[0]}/${first}\`)`,
    );
  }
  // A switch is no host: its console is what a user entering it wants.
  const sw = labs.find((l) =>
    l.switches?.includes(second !== undefined && l.name === first ? second : first)
  );
  // Named alone, a switch of several labs: each lab's console, as a host of several labs is answered.
  const switchOf = named === undefined ? labs.filter((l) => l.switches?.includes(first)) : [];
  if (switchOf.length > 1) {
    throw new UsageError(
      `${first} is a switch of labs ${switchOf.map((l) => l.name).join(", ")}, not a host: its console is ${
        switchOf.map((l) => `\`vde term ${l.name}/${first}\``).join(" or ")
      }`,
    );
  }
  if (sw !== undefined) {
    const node = second !== undefined && sw.name === first ? second : first;
    throw new UsageError(
      `${node} is a switch of lab ${sw.name}, not a host: its console is \`vde term ${sw.name}/${node}\`; ` +
        `the lab's hosts: ${hostsOf(sw).join(", ") || "none"}`,
    );
  }
  if (named !== undefined) {
    const hosts = hostsOf(named);
    const near = second === undefined ? undefined : didYouMeanClause(didYouMean(second, hosts));
    const which = second === undefined ? "give one of its hosts" : `it has no host ${second}${near}`;
    throw new UsageError(`lab ${named.name}: ${which}; its hosts: ${hosts.join(", ") || "none"}`);
  }
  // `vde exec LAB HOST` of a lab that is not up, whose host name another lab has.
  if (second !== undefined && labs.some((l) => hostsOf(l).includes(second))) {
    throw new UsageError(`no lab ${first} is up (up: ${labs.map((l) => l.name).join(", ")})`);
  }
  const all = labs.flatMap((l) => hostsOf(l).map((h) => labs.length === 1 ? h : `${l.name} ${h}`));
  const near = didYouMeanClause(didYouMean(first, labs.flatMap(hostsOf)));
  throw new UsageError(
    `no running lab has a host ${first}${near}; the hosts: ${all.join(", ") || "none"}${elsewhere}`,
  );
}

/**
 * The command's words from `start`: a `--` right after the host is dropped,
 * as docker exec and kubectl exec take `HOST -- COMMAND` (no program is
 * named `--`; running it said `--: command not found`).
 */
function commandAfter(words: readonly string[], start: number): string[] {
  return words.slice(words[start] === "--" ? start + 1 : start);
}

/**
 * What `vde exec` says of a lab's node that is neither host nor switch (a
 * slirp, a cable), which a user names as a host: it runs in the lab's own
 * process, with no namespace to enter, and the lab's console shows it.
 */
export function notAHost(lab: ExecLab, node: string, kind: string): string {
  return `${node} is a ${kind} of lab ${lab.name}, not a host: it runs in the lab's process, with no ` +
    `namespace to enter (\`vde term ${lab.name} -c nodes\` shows it); the lab's hosts: ` +
    `${hostsOf(lab).join(", ") || "none"}`;
}

/**
 * The lab node `words` name as a host when it is one of another kind, asked of each running lab (its
 * state names hosts and switches only); undefined when none has such a node.
 */
async function otherNodeNamed(
  words: readonly string[],
  labs: readonly ExecLab[],
): Promise<string | undefined> {
  const [first, second] = words;
  if (first === undefined) return undefined;
  const named = labs.find((l) => l.name === first);
  const asked = named !== undefined && second !== undefined
    ? [[named, second] as const]
    : labs.map((l) => [l, first] as const);
  for (const [lab, node] of asked) {
    const answer = await askLab(`${lab.name}/${node}`);
    const kind = answer?.nodes.find((n) => n.name === node)?.kind;
    if (kind !== undefined && kind !== "host" && kind !== "switch") return notAHost(lab, node, kind);
  }
  return undefined;
}

/**
 * What a user who is not root is told of a host of root's lab (`vde exec h1`, `vde exec class h1`,
 * `vde exec class/h1`) that none of their labs has: root's to enter, said with root's line. Undefined
 * where the first word is a lab of theirs, or root's labs have no such host. `uid`, `base` and `netnsDir`
 * are rootLabsWithHost's.
 */
export function rootsHostOf(
  words: readonly string[],
  labs: readonly ExecLab[],
  uid: number | null = Deno.uid(),
  base = ROOT_LABS_DIR,
  netnsDir = "/run/netns",
): string | undefined {
  const [first, second] = words;
  if (first === undefined || labs.some((l) => l.name === first)) return undefined;
  // LAB HOST of root's lab: "no lab LAB is up" would be false, it is up as root's.
  if (second !== undefined && rootLabsWithHost(second, uid, base, netnsDir).includes(first)) {
    return rootsHostLine(second, [first], (lab) => `vde exec ${lab}/${second}`);
  }
  return rootsHostLine(
    first,
    rootLabsWithHost(first, uid, base, netnsDir),
    (lab) => `vde exec ${lab}/${first}`,
  );
}

/**
 * What root is told of a host that none of its labs has and a user's
 * rootless lab has (`vde exec h1 CMD`, `vde exec demo/h1`, `demo h1`):
 * whose lab it is and the line that runs the same as that user
 * (switch_paths.ts's usersHostAnswer says why not as root). Undefined where
 * the first word is a lab of root's, or no user's lab has the host.
 */
export function usersHostOf(
  words: readonly string[],
  labs: readonly ExecLab[],
  users: () => readonly UsersLab[] = () => usersLabs(),
): string | undefined {
  const [first, second] = words;
  // Root's own labs first: a lab of root's that has the host (or two that do) is answered as root's.
  if (first === undefined || labs.some((l) => l.name === first || hostsOf(l).includes(first))) {
    return undefined;
  }
  const line = (host: string, from: number) => (lab: string) =>
    ["vde", "exec", `${lab}/${host}`, ...commandAfter(words, from).map(shellQuoted)].join(" ");
  // LAB HOST of a user's lab.
  const named = second === undefined
    ? []
    : usersLabsWithHost(second, users().filter((l) => l.name === first));
  if (named.length > 0) return usersHostAnswer(second!, line(second!, 2), () => named);
  return usersHostAnswer(first, line(first, 1), users);
}

/** The program and arguments that run `target` in its host, for a lab rootless or not. */
export function execArgv(target: ExecTarget, rootlessPid: number | undefined, shell: string): string[] {
  const command = target.command.length > 0 ? target.command : [shell];
  const inHost = ["ip", "netns", "exec", netnsName(target.lab, target.host), ...command];
  if (rootlessPid === undefined) return inHost;
  return ["nsenter", "-t", String(rootlessPid), "-U", "-m", "--preserve-credentials", ...inHost];
}

/** The signals passed on to the command, as sudo and docker exec pass them (WINCH: a terminal's resize). */
export const RELAYED_SIGNALS: readonly Deno.Signal[] = [
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGHUP",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
];

/**
 * Whether `signal` is passed on, `toGroup` saying whether it was sent to this process's whole group (the
 * terminal's keys, `kill -INT -PGID`): an INT or QUIT sent so reached the command as well. A resize's
 * WINCH goes there too, but a second one only has the size read again.
 */
export function relays(signal: Deno.Signal, toGroup: boolean): boolean {
  return !(toGroup && (signal === "SIGINT" || signal === "SIGQUIT"));
}

/** What tells whether a signal was sent to the whole group (os/group_witness.ts's witness). */
export interface GroupWitness {
  sentToGroup(signal: WitnessedSignal): Promise<boolean | undefined>;
}

/**
 * Whether `signal`, just received, was sent to this process's whole group: as `witness` saw it, or, where
 * it cannot tell, whether this process is its terminal's foreground (where the keys send it to the group).
 */
async function sentToGroup(signal: Deno.Signal, witness: GroupWitness): Promise<boolean> {
  if (signal !== "SIGINT" && signal !== "SIGQUIT") return false;
  return (await witness.sentToGroup(signal)) ?? thisInForeground();
}

/**
 * A signal listener that passes each signal `relays` lets through to `kill`, in the order they came. The
 * witness is asked as each comes (its answer is about that moment), but an answer can wait for a dead
 * witness's exit status: the passing on waits for the answers before it, so a TERM that follows an INT
 * still comes after it (a command's INT trap that cleans up runs before the TERM that ends it).
 */
export function orderedRelay(
  witness: GroupWitness,
  kill: (signal: Deno.Signal) => void,
): (signal: Deno.Signal) => void {
  let before: Promise<void> = Promise.resolve();
  return (signal) => {
    const toGroup = sentToGroup(signal, witness);
    // Nothing here rejects (the witness reads and waits without throwing, `kill` is the caller's safe
    // one); caught all the same, as a chain that rejected once would pass on no signal after.
    before = before.then(async () => {
      if (relays(signal, await toGroup)) kill(signal);
    }).catch(() => {});
  };
}

/**
 * The line a shell in a host starts with at a terminal, since its prompt is
 * this machine's; undefined for a command, or without a terminal.
 */
export function shellBanner(target: ExecTarget, terminal: boolean): string | undefined {
  if (target.command.length > 0 || !terminal) return undefined;
  return `vde exec: a shell in host ${target.host} of lab ${target.lab}, namespace ` +
    `${netnsName(target.lab, target.host)}: its network, this machine's files and hostname ` +
    "($VDE_HOST names it for a prompt); exit leaves it";
}

/** What a command in a host is told of where it runs, beside the caller's environment. */
export function hostEnv(target: ExecTarget, rootless = false): Record<string, string> {
  const env = { VDE_LAB: target.lab, VDE_HOST: target.host };
  // Entered by nsenter, not started by the lab: no vouching inherited, and a vde run there trusted no
  // step of root's, `/` included (trusted_path.ts); this process, outside, vouches for the ways it knows.
  return rootless ? { ...env, [VOUCHED_VARIABLE]: hostSideVouched([]) } : env;
}

/** Runs `argv` on this terminal; resolves with its exit status (128 + N after signal N, as a shell says). */
async function runHere(argv: readonly string[], env: Record<string, string>): Promise<number> {
  let child: Deno.ChildProcess | undefined;
  // This process outlives the command, whatever it is sent. Listening (and the witness there) before the
  // command starts: a signal sent as soon as it runs is passed on, not the end of this process. The witness
  // after the listeners: it starts with INT and QUIT at their default, not ignored as this process may have
  // got them (a script's background job), where one sent before it blocks them would leave no trace.
  const witness = new GroupSignalWitness();
  const stop = onSignals(
    orderedRelay(witness, (signal) => {
      try {
        child?.kill(signal);
      } catch { /* exited meanwhile */ }
    }),
    RELAYED_SIGNALS,
  );
  witness.start();
  try {
    try {
      child = new Deno.Command(argv[0]!, { args: argv.slice(1), stdin: "inherit", stdout: "inherit", env })
        .spawn();
    } catch (err) {
      throw new UsageError(cannotRun(argv[0]!, err));
    }
    // Deno's code for a command a signal ended is already 128 + its number (139 after a SIGSEGV).
    return (await child.status).code;
  } finally {
    stop();
    await witness.close();
  }
}

/** Registers `vde exec`. */
export const execCommand = (program: Command): void => {
  program.command("exec")
    .configureOutput(vdeErrors(unknownOptionHint((name, value) => otherToolOption("exec", name, value))))
    .description("run a command (default: a shell) in a running lab's host, as docker exec -it does")
    // Optional to commander, whose "missing required argument 'words'" named no host: execTarget says it.
    .argument("[words...]", "[LAB] HOST [COMMAND...]: the lab only where several have that host")
    .usage("[options] [LAB] HOST [COMMAND...]")
    .passThroughOptions()
    // docker exec -it's: the command always has this terminal, as they ask.
    .option("-i, --interactive", "taken for docker exec's -i: the command always reads this terminal")
    .option("-t, --tty", "taken for docker exec's -t: the command always has this terminal")
    .addHelpText(
      "after",
      examples(
        "vde exec h1                    # a shell in host h1 ($SHELL; exit leaves it)",
        "vde exec h1 ip -br addr        # one command; vde exec exits with its status",
        "vde exec demo h1 ping -c 3 10.0.2.2   # lab demo's h1, where two running labs have an h1",
      ),
    )
    .action(async (words: string[]) => {
      const states = labStates().filter(([, s]) => ownerRuns(s.pid, s.pidStart));
      const switches = labSwitches();
      const labs = states.map(([name, s]) => ({
        name,
        namespaces: s.namespaces ?? [],
        switches: switches.filter((w) => w.lab === name).map((w) => w.node),
      }));
      // A user's labs are their own: root's, which only root may enter, are named where none has the host.
      let target: ExecTarget;
      try {
        target = execTarget(words, labs, rootLabsHint());
      } catch (err) {
        // A slirp or cable named as a host: said as what it is, as a switch is.
        const asked = labHostWords(words);
        const other = err instanceof UsageError
          ? await otherNodeNamed(asked, labs) ?? rootsHostOf(asked, labs) ?? usersHostOf(asked, labs)
          : undefined;
        throw other === undefined ? err : new UsageError(other);
      }
      const state = states.find(([name]) => name === target.lab)![1];
      const shell = Deno.env.get("SHELL") || "/bin/sh";
      // Asked here: a lab's host sees this file system (its namespaces are its network's).
      const program = target.command[0] ?? shell;
      const cannot = unrunnable(program);
      if (cannot !== undefined) {
        throw new ExitStatus(cannot.status, `${target.host}: ${program}: ${cannot.why}`);
      }
      const banner = shellBanner(target, Deno.stdin.isTerminal());
      if (banner !== undefined) console.error(banner);
      const status = await runHere(
        execArgv(target, state.rootless ? state.pid : undefined, shell),
        hostEnv(target, state.rootless !== undefined),
      );
      // runCli turns a CommanderError into the process's exit status without printing anything.
      if (status !== 0) throw new CommanderError(status, "vde.exec.status", `exited with status ${status}`);
    });
};
