/**
 * Other tools' words for vde's commands. A containerlab user types
 * `vde deploy -t lab.yaml`, a docker user `vde ps` or `vde network create`,
 * a tc netem user `vde netem`, containerlab's `vde tools netem set` (a
 * link line at the lab's console); "did you mean" finds no near spelling for
 * those (or a wrong one: `stop` is not `tap`), so the unknown command is
 * answered with what vde calls it, the lab file carried over when the line
 * names one. vde2's own programs (`vde vde_switch ...`) are vde2_tools.ts's.
 * A Linux bridge or Open vSwitch admin types their tool's whole line
 * (`vde brctl show`, `vde bridge fdb show`, `vde ovs-vsctl show`): it is
 * answered with the switch console command that does it, which `vde term`
 * runs (the console's own table, console/bridge_words.ts).
 */
import { BRIDGE_TOOLS, bridgeCommand } from "../console/bridge_words.ts";
import { labsBaseDir } from "../lab/names.ts";
import { shellQuoted, singleQuoted } from "../shell_quote.ts";
import { QEMU_ON_SWITCH, vde2ToolHint } from "./vde2_tools.ts";
import { type LabLinks, linksAtInterface } from "../lab/netem_link.ts";

/** What `inspect`, `ps` and the other listing words are in vde. */
function status(): string {
  return "`vde status` lists running labs, `vde status LAB` one lab's nodes and links";
}

/** What a word means in vde, given the lab file (or LAB) the line names. */
const WORDS: Record<string, (lab: string, rest: readonly string[]) => string> = {
  deploy: (lab) => `a lab comes up with \`vde up ${lab}\``,
  start: (lab) => `a switch starts with \`vde switch --sock DIR\`, a lab with \`vde up ${lab}\``,
  // containerlab's --cleanup or -c (its lab directory) is ours too (the lab's log).
  destroy: (lab, rest) =>
    `a lab goes down with \`vde down ${lab}${
      rest.some((w) => w === "--cleanup" || w === "-c") ? " --cleanup" : ""
    }\``,
  stop: (lab) => `a switch stops with \`vde term DIR -c shutdown\`, a lab with \`vde down ${lab}\``,
  inspect: status,
  show: status,
  ps: status,
  ls: status,
  list: status,
  version: () => "`vde --version` prints it",
  save: () => "the lab shell's `save [FILE]` writes the running lab as YAML: `vde term LAB -c 'save FILE'`",
  redeploy: (lab) => `a lab comes up again with \`vde up --reconfigure ${lab}\``,
  apply: (lab) => `a running lab takes its edited file live with \`vde up --apply ${lab}\``,
  // docker's and containerlab's ways into a node: `vde exec` gives a shell where no command follows.
  exec: () => "a command in a lab's host is `vde exec HOST COMMAND...` (clab exec --cmd's)",
  shell: shellInHost,
  ssh: shellInHost,
  attach: shellInHost,
  // docker's: a network is a switch, a container's interface a tap plugged into it.
  network: () =>
    "a network is a switch here: `vde switch --sock DIR --daemon`, a namespace's tap joins it with " +
    "`vde plug DIR tap://eth0`; a lab file has switch, host and link nodes",
  rm: (lab) => `a switch stops with \`vde term DIR -c shutdown\`, a lab with \`vde down ${lab}\``,
  logs: () =>
    `a lab in the background logs to ${labsBaseDir()}/LAB.log, a \`vde switch --daemon\` to its --logfile`,
  // tc netem's and a sniffer's: the impairments and the capture.
  netem,
  tc: netem,
  tcpdump: capture,
  tshark: capture,
  wireshark: capture,
  // A QEMU or libvirt user's: vde runs no VM, it is the LAN they plug into.
  qemu: vm,
  kvm: vm,
  vm: vm,
  virsh: libvirt,
  libvirt: libvirt,
};

/** What running a VM is in vde: QEMU plugs in by itself. */
function vm(): string {
  return `vde runs no VMs; QEMU plugs into a switch itself: ${QEMU_ON_SWITCH} (each VM a mac= of its own)`;
}

/** What a libvirt network is in vde: libvirt has no VDE interface, a bridge joins its VMs. */
function libvirt(): string {
  return "libvirt has no VDE interface: put a tap of the switch in a bridge (`ip link add br0 up type bridge`, " +
    "`vde plug DIR tap://vde0 &`, " +
    "`ip link set vde0 master br0 up`) and give the VM <interface type='bridge'><source bridge='br0'/></interface>";
}

/** What a shell in a container (docker attach, containerlab ssh) is in vde. */
function shellInHost(): string {
  return "a shell in a lab's host is `vde exec HOST` (`vde exec HOST COMMAND...` runs one command)";
}

/** What `tc qdisc ... netem` is in vde. */
function netem(): string {
  return "a link's loss, delay, dup and rate are `vde wirefilter DIR1 DIR2 --loss 5 --delay 100+20` between " +
    "two switches, `wire://{VNL}[loss=5]` around a plug or cable, or a lab link's `loss: 5%`, `delay: 100ms`";
}

/** What a sniffer on a bridge is in vde. */
function capture(): string {
  return "a switch's frames are recorded with `vde capture DIR -w FILE.pcapng`, " +
    "or read live with `vde capture DIR -w - | tshark -r -`";
}

/** The first words of a bridge's or OVS's line answered here: their tools, and `fdb`, `mdb`, `show` alone. */
const BRIDGE_FIRST = new Set([...BRIDGE_TOOLS, "fdb", "mdb", "show"]);

/**
 * What a bridge or Open vSwitch command line is here: the switch console
 * command that does it, run by `vde term`; for a tool's line with no word of
 * the table (`brctl addbr br0`), what a bridge is. Undefined for other lines.
 */
function bridgeLine(word: string, rest: readonly string[]): string | undefined {
  if (!BRIDGE_FIRST.has(word)) return undefined;
  const found = bridgeCommand([word, ...rest].join(" "));
  if (found !== undefined) {
    return `${found.word} here is ${found.ours} at a switch's console, ${found.what}: ` +
      `\`vde term DIR -c ${found.ours}\`, or \`vde term LAB/sw1 -c ${found.ours}\` for a lab's`;
  }
  return BRIDGE_TOOLS.has(word)
    ? "a bridge is a switch here (`vde switch --sock DIR`), set and shown at its console: " +
      "`vde term DIR -c ports` (its ports), `-c macs` (the MAC table), `-c stp`, `-c vlan/allprint`; " +
      "`vde status LAB` shows a lab's switches"
    : undefined;
}

/** containerlab's own names (`clab deploy`), and a `lab` group of commands vde does not have. */
const GROUPS = new Set(["lab", "labs", "clab", "containerlab"]);

/** What the lab commands are, for a group word followed by none of WORDS. */
function labCommands(lab: string): string {
  return `lab files: \`vde up ${lab}\`, \`vde status\`, \`vde down LAB\`, \`vde graph ${lab}\``;
}

/**
 * vde's word for `word` (an unknown command) as another tool uses it, or
 * undefined. `rest` is the rest of the line: a lab file in it is used.
 * `vde lab deploy` and `vde clab destroy` are answered for their second word.
 */
export function otherToolHint(
  word: string,
  rest: readonly string[],
  labs: readonly LabLinks[] = [],
  rootsHost: RootsHost = () => undefined,
): string | undefined {
  const vde2 = vde2ToolHint(word, rest);
  if (vde2 !== undefined) return vde2;
  // A file named on the line goes into the commands said as one shell word (a space, a `;` in its name).
  const lab = shellQuoted(rest.find((a) => /\.ya?ml$/.test(a)) ?? "lab.yaml");
  const lower = word.toLowerCase();
  if (GROUPS.has(lower)) {
    const next = rest[0]?.toLowerCase();
    if (next === "graph") return `a lab file is drawn with \`vde graph ${lab}\``;
    if (next === "tools") return clabTools(rest.slice(1), labs, rootsHost);
    const say = next === undefined ? undefined : wordOf(next);
    return say === undefined ? labCommands(lab) : say(lab, rest);
  }
  if (lower === "tools") return clabTools(rest, labs, rootsHost);
  return bridgeLine(lower, rest) ?? wordOf(lower)?.(lab, rest);
}

/**
 * The line for a user who is not root naming host `host` of root's lab
 * (switch_paths.ts's rootsHostAnswer), with `line` root's command for lab
 * `lab`; undefined where root's labs have no such host.
 */
export type RootsHost = (host: string, line: (lab: string) => string) => string | undefined;

/** containerlab's `tools netem set` flags and the lab link's words they are (its rate is kbit/s, as ours). */
const NETEM_FLAGS: Record<string, (v: string) => string> = {
  "--delay": (v) => `delay ${v}`,
  "--jitter": (v) => `jitter ${v}`,
  "--loss": (v) => `loss ${/%$/.test(v) ? v : `${v}%`}`,
  "--rate": (v) => `rate ${v}`,
};

/**
 * containerlab's `-n NODE` and `-i IFACE` of `tools netem set`, as `-n x`, `--node x` or `--node=x`.
 * A pass of its own over the line, not folded into clabTools' pass for the impairment flags: each reads
 * every word for its own flags, so a flag missing its value takes the next word and the other pass still
 * reads that word as its flag. Every word the user typed then reaches the line said back, a misplaced one
 * in plain sight (`-n --delay 5ms` names node --delay and keeps the delay; `--delay -n r1` says `delay -n`,
 * which the console refuses by name, and still names r1), where one pass would read each word once and
 * drop the node or the delay without a word (tests: "a malformed tools netem set line").
 */
function netemTarget(rest: readonly string[]): { node?: string; iface?: string } {
  const out: { node?: string; iface?: string } = {};
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i]!.split("=", 2) as [string, string | undefined];
    const key = flag === "-n" || flag === "--node"
      ? "node"
      : flag === "-i" || flag === "--interface"
      ? "iface"
      : undefined;
    if (key === undefined) continue;
    const value = inline ?? rest[i + 1];
    if (inline === undefined) i++;
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * containerlab's `tools netem set -n NODE -i IFACE --delay 10ms ...` (and `show`): a running lab's link
 * changes live at the lab's console, so the answer is that `link` line with the values carried over, for
 * the link NODE's IFACE is an end of among the running labs `labs` (A-B where none or several are).
 * Its other tools (veth, vxlan, cert) are a lab file's links and cable nodes.
 */
function clabTools(rest: readonly string[], labs: readonly LabLinks[], rootsHost: RootsHost): string {
  if (rest[0] !== "netem") {
    return "containerlab's tools are a lab file's links here (a link's impairments, `kind: cable` to " +
      "another host): `vde term LAB -c links` lists a running lab's, `link A-B loss 5%` changes one live";
  }
  if (rest[1] === "show") return "a running lab's links and their impairments: `vde term LAB -c links`";
  const words: string[] = [];
  let corrupt = false;
  for (let i = 2; i < rest.length; i++) {
    const [flag, inline] = rest[i]!.split("=", 2) as [string, string | undefined];
    const value = inline ?? rest[i + 1];
    if (flag === "--corruption") corrupt = true;
    if (!Object.hasOwn(NETEM_FLAGS, flag) || value === undefined) continue;
    words.push(NETEM_FLAGS[flag]!(value));
    if (inline === undefined) i++;
  }
  const settings = words.join(" ") || "delay 10ms";
  // The values are the user's words: quoted as one word, whatever they hold, so the line pastes as it reads.
  const at = (lab: string, link: string) =>
    `\`vde term ${lab} -c ${singleQuoted(`link ${link} ${settings}`)}\``;
  const noCorruption = corrupt ? "; a lab link has no corruption, `vde wirefilter --noise` has" : "";
  // A lab link's impairments are each way; netem's on one interface delays what that interface sends.
  const eachWay = "; a lab link's delay and loss are each way, netem's on one interface are what it sends";
  const { node, iface } = netemTarget(rest.slice(2));
  const found = node === undefined || iface === undefined ? [] : linksAtInterface(labs, node, iface);
  if (found.length === 1) {
    return `${node}'s ${iface} is link ${found[0]!.link} of lab ${
      found[0]!.lab
    }, which changes live at its ` +
      `console: ${at(found[0]!.lab, found[0]!.link)}${eachWay}${noCorruption}`;
  }
  if (found.length > 1) {
    return `${node}'s ${iface} is a link of labs ${found.map((f) => f.lab).join(", ")}: ` +
      `${found.map((f) => at(f.lab, f.link)).join(" or ")}${eachWay}${noCorruption}`;
  }
  // A host of root's lab, for a user who is not root: root's line, its link named by the host's end.
  const roots = node === undefined || iface === undefined ? undefined : rootsHost(
    node,
    (lab) => `vde term ${lab} -c ${singleQuoted(`link ${node}:${iface} ${settings}`)}`,
  );
  if (roots !== undefined) return `${roots}${eachWay}${noCorruption}`;
  const none = node !== undefined && iface !== undefined && labs.length > 0
    ? `no running lab has ${node}'s ${iface} on a link; `
    : "";
  return `${none}a running lab's link changes live at its console: ${at("LAB", "A-B")} ` +
    `(\`-c links\` lists the links A-B; in the lab file, the link's keys)${noCorruption}`;
}

/** WORDS' entry for `word`, never an Object.prototype member (`vde constructor`). */
function wordOf(word: string): ((lab: string, rest: readonly string[]) => string) | undefined {
  return Object.hasOwn(WORDS, word) ? WORDS[word] : undefined;
}

/** The lab file as docker compose's `-f FILE` and `--file` give it, carried over as one shell word. */
function labFileOption(command: string, file: string | undefined): string {
  return `the lab file is the argument, or -t FILE as containerlab's: vde ${command} ${
    shellQuoted(file ?? "lab.yaml")
  }`;
}

/** docker exec's -u USER, -w DIR and -e VAR=VALUE as the host's command line, each value one shell word. */
const asUser = (v: string | undefined) =>
  `a command as another user: vde exec HOST runuser -u ${shellQuoted(v ?? "USER")} -- COMMAND`;
const inDirectory = (v: string | undefined) =>
  `a command in a directory: vde exec HOST env -C ${shellQuoted(v ?? "DIR")} COMMAND`;
const withVariable = (v: string | undefined) =>
  `a variable for the command: vde exec HOST env ${shellQuoted(v ?? "VAR=VALUE")} COMMAND`;

/**
 * docker's, docker compose's and containerlab's options for the lab commands
 * (`vde up -f lab.yaml`, `vde exec -u alice h1 id`, `vde status -o json`):
 * what they are here, keyed by command and then by option name (no dashes).
 */
const LAB_OPTIONS: Record<string, Record<string, (value: string | undefined) => string>> = {
  up: { f: (v) => labFileOption("up", v), file: (v) => labFileOption("up", v) },
  down: {
    f: (v) => labFileOption("down", v),
    file: (v) => labFileOption("down", v),
    // docker compose down -v, --volumes; containerlab's destroy --cleanup is ours too.
    v: () => "the lab's log goes too with --cleanup (-c)",
    volumes: () => "the lab's log goes too with --cleanup (-c)",
  },
  status: {
    // containerlab's inspect -f json / --format json is --format here; kubectl's -o json.
    o: () => "it is --json here, or --format json",
    output: () => "it is --json here, or --format json",
    f: () => "it is --json here, or --format json",
    a: () => "vde status alone lists every running lab",
    all: () => "vde status alone lists every running lab",
  },
  exec: {
    // docker exec's -u, -w, -e: the command runs as root in the host; these are the command's own job.
    u: asUser,
    user: asUser,
    w: inDirectory,
    workdir: inDirectory,
    e: withVariable,
    env: withVariable,
  },
};

/**
 * What another tool's option `name` (given `value`) to `vde COMMAND` is
 * here, for its "unknown option" line; undefined when it is no option of
 * theirs that this table knows.
 */
export function otherToolOption(
  command: string,
  name: string,
  value: string | undefined,
): string | undefined {
  const options = LAB_OPTIONS[command];
  return options !== undefined && Object.hasOwn(options, name) ? options[name]!(value) : undefined;
}
