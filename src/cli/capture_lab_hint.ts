/**
 * What `vde capture LAB/NAME` (and `vde term LAB/NAME`) means when NAME is no switch of the lab but one
 * of its links (`sw1-sw2`, or `sw1:1-sw2:1` as `vde status` names it) or a
 * host: a containerlab or Wireshark user captures on a link or a host's
 * interface. Both are ports of a switch here, captured with `--port`; a
 * host's interface is also tcpdump's inside the host (`vde exec`). NAME
 * alone, without its lab, is asked of every running lab, as a lab's switch
 * is found by its name alone (`vde status` prints links and hosts so).
 *
 * Theory of operation: the lab's own console answers `status json` with its
 * links' ends (a switch end has a port, a host end an interface); the
 * answer is read only on the way to a "no such switch" error, and any
 * failure to read it leaves that error as it was. The line itself is a pure
 * function of that document.
 */
import { MgmtClient } from "../console/client.ts";
import { labDir, NAME_PATTERN } from "../lab/names.ts";
import { labStates, ownerRuns } from "../lab/state.ts";

/** A link's end, as `vde status --json` gives it. */
export interface EndJson {
  node: string;
  port?: number;
  iface?: string;
}

/** A link, as `vde status --json` gives it. */
export interface LinkJson {
  name: string;
  a: EndJson;
  b: EndJson;
}

/** The spellings a user may give link `l`: its status name, its two nodes, either way round. */
function spellings(l: LinkJson): string[] {
  const end = (e: EndJson) =>
    e.port !== undefined ? `${e.node}:${e.port}` : e.iface ? `${e.node}:${e.iface}` : e.node;
  return [
    l.name,
    `${end(l.b)}-${end(l.a)}`,
    `${l.a.node}-${l.b.node}`,
    `${l.b.node}-${l.a.node}`,
  ];
}

/** `vde capture LAB/SWITCH --port N` for the first switch end of `l`, or undefined (no switch on it). */
function atSwitch(lab: string, l: LinkJson): string | undefined {
  const end = [l.a, l.b].find((e) => e.port !== undefined);
  return end === undefined ? undefined : `vde capture ${lab}/${end.node} --port ${end.port}`;
}

/**
 * The line for `vde capture LAB/WHAT` where WHAT is a link or a host of the
 * lab whose links are `links`, or undefined when it is neither.
 */
export function labCaptureHint(lab: string, what: string, links: readonly LinkJson[]): string | undefined {
  const link = links.find((l) => spellings(l).includes(what));
  if (link !== undefined) {
    const at = atSwitch(lab, link);
    if (at === undefined) return undefined;
    return `${lab}/${what} is a link of lab ${lab}, not a switch: its frames are its switch port's, \`${at}\``;
  }
  // A node that is no switch (a host, a slirp, a cable) on a link: the switch port it is plugged into.
  const nodeLinks = links.filter((l) => [l.a, l.b].some((e) => e.node === what && e.port === undefined));
  const link0 = nodeLinks.find((l) => atSwitch(lab, l) !== undefined) ?? nodeLinks[0];
  if (link0 === undefined) return undefined;
  const iface = [link0.a, link0.b].find((e) => e.node === what)!.iface;
  const at = atSwitch(lab, link0);
  const inside = iface === undefined ? undefined : `\`vde exec ${lab} ${what} tcpdump -i ${iface}\``;
  const ways = [at === undefined ? undefined : `\`${at}\``, inside].filter((w) => w !== undefined);
  if (ways.length === 0) return undefined;
  const node = iface === undefined ? "a node" : "a host";
  return `${lab}/${what} is ${node} of lab ${lab}, not a switch: capture ${
    at === undefined ? "inside it" : `at the switch port it is plugged into`
  }, ${ways.join(", or inside it ")}`;
}

/** A node, as `vde status --json` gives it. */
export interface NodeJson {
  name: string;
  kind: string;
}

/** What a running lab says of itself, for `LAB/WHAT`: its nodes and links. */
export interface LabAnswer {
  lab: string;
  what: string;
  nodes: NodeJson[];
  links: LinkJson[];
}

/**
 * The running lab `LAB` of `target` (`LAB/WHAT`) asked for its nodes and
 * links; undefined when target has no such shape or the lab does not answer.
 */
export async function askLab(target: string): Promise<LabAnswer | undefined> {
  const m = /^([^/]+)\/([^/]+)$/.exec(target);
  if (m === null) return undefined;
  const [, lab, what] = m as unknown as [string, string, string];
  // A lab's name only: the lab's console is asked, never a socket a path like ../x leads to.
  if (!NAME_PATTERN.test(lab)) return undefined;
  let client: MgmtClient | undefined;
  try {
    client = await MgmtClient.connect(`${labDir(lab)}/ctl`, { timeoutMs: 5000 });
    const reply = await client.command("status json");
    if (reply.code !== 0) return undefined;
    const doc = JSON.parse((reply.lines ?? []).join("")) as { nodes?: NodeJson[]; links?: LinkJson[] };
    return { lab, what, nodes: doc.nodes ?? [], links: doc.links ?? [] };
  } catch {
    return undefined;
  } finally {
    client?.close();
  }
}

/** Whether the lab's answer `a` has a node or a link named as it was asked (`a.what`). */
function hasWhat(a: LabAnswer): boolean {
  return a.nodes.some((n) => n.name === a.what) || a.links.some((l) => spellings(l).includes(a.what));
}

/**
 * askLab for `target` as `LAB/WHAT`, or as WHAT alone (`h1`, `sw1:1-sw2:1`
 * copied from `vde status`) asked of each running lab of this user: the
 * answer of the one that has a node or link so named; undefined when none
 * has, or several have (LAB/WHAT then says which, as for a switch).
 */
export async function askLabOf(target: string): Promise<LabAnswer | undefined> {
  if (target.includes("/")) return await askLab(target);
  const found: LabAnswer[] = [];
  for (const [lab, state] of labStates()) {
    if (!ownerRuns(state.pid, state.pidStart)) continue;
    const a = await askLab(`${lab}/${target}`);
    if (a !== undefined && hasWhat(a)) found.push(a);
  }
  return found.length === 1 ? found[0] : undefined;
}

/**
 * labCaptureHint for `target` (`LAB/WHAT`, or WHAT of one running lab) from
 * the running lab's own answer; undefined when no lab answers for it, or
 * WHAT is neither a link nor a host of it.
 */
export async function askLabCaptureHint(target: string): Promise<string | undefined> {
  const a = await askLabOf(target);
  return a === undefined ? undefined : labCaptureHint(a.lab, a.what, a.links);
}

/**
 * What `vde term LAB/WHAT` means when WHAT is no switch of the lab: a host
 * (no console: a shell is `vde exec`), a slirp or cable (the lab's console
 * shows it), or a link (the lab's console changes it); undefined otherwise.
 */
export function labTermHint(a: LabAnswer): string | undefined {
  const { lab, what } = a;
  const node = a.nodes.find((n) => n.name === what);
  if (node?.kind === "host") {
    return `${lab}/${what} is a host of lab ${lab}, which has no console: a shell there is ` +
      `\`vde exec ${lab} ${what}\`, a command \`vde term ${lab} -c '${what} ip -br addr'\``;
  }
  if (node !== undefined && node.kind !== "switch") {
    return `${lab}/${what} is a ${node.kind} of lab ${lab}, which has no console of its own: ` +
      `the lab's shows it, \`vde term ${lab} -c nodes\``;
  }
  if (a.links.some((l) => spellings(l).includes(what))) {
    return `${lab}/${what} is a link of lab ${lab}: the lab's console changes it, ` +
      `\`vde term ${lab} -c 'link ${what} loss 5%'\` (\`-c links\` lists them)`;
  }
  return undefined;
}
