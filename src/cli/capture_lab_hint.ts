/**
 * What `vde capture LAB/NAME` (and `vde term LAB/NAME`) means when NAME is no switch of the lab but one
 * of its links (`sw1-sw2`, or `sw1:1-sw2:1` as `vde status` names it), a
 * host (`h1`, `h1:eth1`) or another node: a containerlab or Wireshark user
 * captures on a link or a host's interface, which is a port of a switch
 * here (lab/capture_hint.ts says which), captured there. NAME alone,
 * without its lab, is asked of every running lab, as a lab's switch is
 * found by its name alone (`vde status` prints links and hosts so).
 *
 * Theory of operation: the lab's own console answers `status json` with its
 * links' ends (a switch end has a port, a host end an interface); the
 * answer is read only on the way to a "no such switch" error, and any
 * failure to read it leaves that error as it was.
 */
import { MgmtClient } from "../console/client.ts";
import { labDir, NAME_PATTERN } from "../lab/names.ts";
import { labStates, ownerRuns } from "../lab/state.ts";
import type { LabLinks } from "../lab/netem_link.ts";
import { type CaptureAnswer, labCapturePoint, type LinkJson, spellings } from "../lab/capture_hint.ts";

export { type EndJson, labCapturePoint, type LinkJson } from "../lab/capture_hint.ts";

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
  const doc = await labStatus(lab);
  return doc === undefined ? undefined : { lab, what, ...doc };
}

/** Running lab `lab`'s nodes and links, as its console says them; undefined when it does not answer. */
async function labStatus(lab: string): Promise<{ nodes: NodeJson[]; links: LinkJson[] } | undefined> {
  // A lab's name only: the lab's console is asked, never a socket a path like ../x leads to.
  if (!NAME_PATTERN.test(lab)) return undefined;
  let client: MgmtClient | undefined;
  try {
    client = await MgmtClient.connect(`${labDir(lab)}/ctl`, { timeoutMs: 5000 });
    const reply = await client.command("status json");
    if (reply.code !== 0) return undefined;
    const doc = JSON.parse((reply.lines ?? []).join("")) as { nodes?: NodeJson[]; links?: LinkJson[] };
    return { nodes: doc.nodes ?? [], links: doc.links ?? [] };
  } catch {
    return undefined;
  } finally {
    client?.close();
  }
}

/** The links of every running lab of this user that answers (containerlab's netem line is mapped to one). */
export async function runningLabsLinks(): Promise<LabLinks[]> {
  const out: LabLinks[] = [];
  for (const [lab, state] of labStates()) {
    if (!ownerRuns(state.pid, state.pidStart)) continue;
    const doc = await labStatus(lab);
    if (doc !== undefined) out.push({ lab, links: doc.links });
  }
  return out;
}

/** Whether the lab's answer `a` has a node, a link or a link's end (`h1:eth1`) named as it was asked (`a.what`). */
function hasWhat(a: LabAnswer): boolean {
  return a.nodes.some((n) => n.name === a.what) || labCapturePoint(a.lab, a.what, a.links) !== undefined;
}

/** WHAT named without its lab, which several running labs have: a guess would pick one of them. */
export interface SeveralLabs {
  what: string;
  /** The labs that have a node or link so named, each with what it is there (`host`, `link`). */
  labs: { lab: string; kind: string }[];
}

/**
 * askLab for `target` as `LAB/WHAT`, or as WHAT alone (`h1`, `sw1:1-sw2:1`
 * copied from `vde status`) asked of each running lab of this user: the
 * answer of the one that has a node or link so named; the labs that have
 * it when several do (severalLabsLine lists them to name one, as for a switch);
 * undefined when none has.
 */
export async function askLabOf(target: string): Promise<LabAnswer | SeveralLabs | undefined> {
  if (target.includes("/")) return await askLab(target);
  const found: LabAnswer[] = [];
  for (const [lab, state] of labStates()) {
    if (!ownerRuns(state.pid, state.pidStart)) continue;
    const a = await askLab(`${lab}/${target}`);
    if (a !== undefined && hasWhat(a)) found.push(a);
  }
  if (found.length <= 1) return found[0];
  // Neither a node nor a link: one end of a link (`h1:eth0`, `sw1:3`), which a link of labs would misname.
  const kind = (a: LabAnswer) =>
    a.nodes.find((n) => n.name === a.what)?.kind ??
      (a.links.some((l) => spellings(l).includes(a.what)) ? "link" : "link end");
  return { what: target, labs: found.map((a) => ({ lab: a.lab, kind: kind(a) })) };
}

/** Whether askLabOf's answer is several labs' rather than one's. */
export function isSeveral(a: LabAnswer | SeveralLabs): a is SeveralLabs {
  return "labs" in a;
}

/** `h1 is a host of labs a and b: name one, a/h1 or b/h1`, as a switch of two labs is answered. */
export function severalLabsLine({ what, labs }: SeveralLabs): string {
  const kinds = [...new Set(labs.map((l) => l.kind))];
  const names = labs.map((l) => l.lab);
  return `${what} is ${kinds.length === 1 ? `a ${kinds[0]}` : "a node or link"} of labs ${
    names.join(", ")
  }: name one, ${names.map((lab) => `${lab}/${what}`).join(" or ")}`;
}

/**
 * severalLabsLine as `vde term` says it: a host has no console, so the
 * line for a host of several labs is each lab's `vde exec` at once, not a
 * `LAB/HOST` that vde term would then refuse.
 */
export function severalTermLine(s: SeveralLabs): string {
  if (!s.labs.every((l) => l.kind === "host")) return severalLabsLine(s);
  const names = s.labs.map((l) => l.lab);
  return `${s.what} is a host of labs ${names.join(", ")}, which has no console: a shell there is ${
    names.map((lab) => `\`vde exec ${lab}/${s.what}\``).join(" or ")
  }`;
}

/**
 * Where `target` (`LAB/WHAT`, or WHAT of one running lab) is captured, from
 * the running lab's own answer (labCapturePoint), or severalLabsLine when
 * several running labs have WHAT; undefined when no lab answers for it, or
 * WHAT is neither a link nor a node of it that is no switch.
 */
export async function askLabCapturePoint(target: string): Promise<CaptureAnswer | undefined> {
  const a = await askLabOf(target);
  if (a === undefined) return undefined;
  return isSeveral(a) ? { refused: severalLabsLine(a) } : labCapturePoint(a.lab, a.what, a.links);
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
