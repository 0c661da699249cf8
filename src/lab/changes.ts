/**
 * What a running lab's file says that the running lab does not do: the
 * nodes and links the file no longer has (they still run) and those it has
 * gained (they do not). A running lab never follows its file; `vde up` of
 * an edited file refuses, as for any lab that is up, and says these in one
 * line, so an edit is never taken for applied. Names only: a setting changed
 * under the same name is not seen here. Links are matched by the nodes they
 * join, not by their ports: a link the file puts on another port (the lowest
 * free one moves when an earlier link goes) is the same link.
 */
import { type Lab, linkName } from "./spec.ts";

/** The names a running lab reports (its `nodes` and `links` listings). */
export interface RunningNames {
  nodes: readonly string[];
  links: readonly string[];
}

/** Names in one and not the other. */
export interface LabChanges {
  /** In the running lab, gone from the file. */
  removedNodes: string[];
  removedLinks: string[];
  /** New in the file, not running. */
  addedNodes: string[];
  addedLinks: string[];
}

/** The first word of each row of a listing after its header: the names in a `nodes` or `links` table. */
export function namesInListing(lines: readonly string[]): string[] {
  return lines.slice(1).map((l) => l.trim().split(/\s+/)[0] ?? "").filter((n) => n !== "");
}

/** The nodes a link joins, in either order, as one key: `h1 sw1` for `h1:eth0-sw1:3`. */
function joins(a: string, b: string): string {
  return [a, b].sort().join(" ");
}

/**
 * The key of a running link's name (`sw-a:2-h1:eth0`): node names may hold
 * `-` too, so the split is the one whose two ends name running nodes.
 */
function runningKey(name: string, nodes: readonly string[]): string {
  const nodeOf = (end: string) => end.split(":")[0]!;
  for (let i = name.indexOf("-"); i >= 0; i = name.indexOf("-", i + 1)) {
    const [a, b] = [nodeOf(name.slice(0, i)), nodeOf(name.slice(i + 1))];
    if (nodes.includes(a) && nodes.includes(b)) return joins(a, b);
  }
  return name;
}

/** What the file and the running lab disagree on. */
export function labChanges(running: RunningNames, file: Lab): LabChanges {
  const fileNodes = file.nodes.map((n) => n.name);
  const notIn = (names: readonly string[], other: readonly string[]) =>
    names.filter((n) => !other.includes(n));
  // Links as multisets of the nodes they join: each file link takes one running link of its key.
  const unmatched = running.links.map((name) => ({ name, key: runningKey(name, running.nodes) }));
  const addedLinks: string[] = [];
  for (const link of file.links) {
    const i = unmatched.findIndex((r) => r.key === joins(link.ends[0].node, link.ends[1].node));
    if (i >= 0) unmatched.splice(i, 1);
    else addedLinks.push(linkName(link));
  }
  return {
    removedNodes: notIn(running.nodes, fileNodes),
    removedLinks: unmatched.map((r) => r.name),
    addedNodes: notIn(fileNodes, running.nodes),
    addedLinks,
  };
}

/** `node h2 and links a-b, c-d`: what one side of the changes names, or "" for nothing. */
function named(nodes: readonly string[], links: readonly string[]): string {
  const part = (noun: string, names: readonly string[]) =>
    names.length === 0 ? [] : [`${noun}${names.length === 1 ? "" : "s"} ${names.join(", ")}`];
  return [...part("node", nodes), ...part("link", links)].join(" and ");
}

/**
 * The changes in words, `removed from the file but still running: ...;
 * added to the file but not running: ...`, or undefined when the names agree.
 */
export function describeChanges(c: LabChanges): string | undefined {
  const gone = named(c.removedNodes, c.removedLinks);
  const added = named(c.addedNodes, c.addedLinks);
  const parts = [
    ...(gone === "" ? [] : [`removed from the file but still running: ${gone}`]),
    ...(added === "" ? [] : [`added to the file but not running: ${added}`]),
  ];
  return parts.length === 0 ? undefined : parts.join("; ");
}
