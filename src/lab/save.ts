/**
 * `save` over the lab file: the running lab written into the file's own
 * document, so its comments and layout stay where the yaml library can
 * keep them.
 *
 * Theory of operation. The file is read as a lab and its links are paired
 * with the running ones as `diff` pairs them (by the nodes they join,
 * changes.ts). What the file has that no longer runs (`del`, an `apply` of
 * another file) is deleted from the document, a node by its name, a link by
 * its place in the file's list; a kept link's impairments and VLANs are set
 * in place; nodes and links added are appended. Where the two differ in
 * more than that (a node's settings, a host's addresses gained or lost with
 * a link) the document is not edited but written anew: a file that brings
 * up what ran matters more than its comments. Flow lists keep the file's
 * `[a, b]` where it writes them so.
 */
import { isMap, isSeq, parseDocument } from "yaml";
import { matchLinks } from "./changes.ts";
import type { Lab } from "./spec.ts";
import { endpointsFlow, labToYaml, plainLink, plainNode, YAML_OUT } from "./to_yaml.ts";
import { validateLab } from "./validate.ts";

/** A link's keys that `save` sets in place. */
const LINK_KEYS = ["loss", "delay", "jitter", "dup", "rate", "mtu", "limit", "vlan", "trunk"] as const;

/** The running lab `lab` written into `original` (the file's text), or anew where it cannot be. */
export function saveInto(original: string, lab: Lab): string {
  const doc = parseDocument(original);
  const was = validateLab(original, { stp: true }).lab;
  if (doc.errors.length > 0 || !isMap(doc.contents) || was === undefined) return labToYaml(lab);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const running = new Map(lab.nodes.map((n) => [n.name, n]));
  if (was.nodes.some((n) => running.has(n.name) && !same(plainNode(n), plainNode(running.get(n.name)!)))) {
    return labToYaml(lab);
  }
  const { matched, removed, added } = matchLinks(was, lab);
  for (const { running: inFile, file: now } of matched) {
    const want = plainLink(now);
    const at = was.links.indexOf(inFile);
    for (const k of LINK_KEYS) {
      const path = ["topology", "links", at, k];
      const has = doc.getIn(path);
      if (want[k] === undefined) {
        if (doc.hasIn(path)) doc.deleteIn(path);
      } else if (
        !same(isSeq(has) ? has.toJSON() : String(has), Array.isArray(want[k]) ? want[k] : String(want[k]))
      ) {
        doc.setIn(path, want[k]);
      }
    }
  }
  for (const at of removed.map((l) => was.links.indexOf(l)).sort((a, b) => b - a)) {
    doc.deleteIn(["topology", "links", at]);
  }
  for (const n of was.nodes) if (!running.has(n.name)) doc.deleteIn(["topology", "nodes", n.name]);
  const nodes = doc.getIn(["topology", "nodes"]);
  for (const n of lab.nodes) {
    if (was.nodes.some((w) => w.name === n.name)) continue;
    const node = doc.createNode(plainNode(n));
    node.flow = true;
    if (isMap(nodes)) nodes.set(n.name, node);
    else doc.setIn(["topology", "nodes", n.name], node);
  }
  for (const l of added) {
    if (!isSeq(doc.getIn(["topology", "links"]))) doc.setIn(["topology", "links"], doc.createNode([]));
    const link = doc.createNode(plainLink(l));
    if (isMap(link)) endpointsFlow(link);
    doc.addIn(["topology", "links"], link);
  }
  return flowListsAsIn(original, doc.toString(YAML_OUT));
}

/** A flow list as a value or item (`endpoints: [ h, s ]`, `exec: [ "ip -br addr" ]`), as yaml writes it. */
const PADDED_LIST = /([:,{-] )\[ ((?:"[^"\n]*"|'[^'\n]*'|[^[\]\n"'])*?) \]/g;

/**
 * `saved` with its flow lists written `[h, s]` when `original` writes them
 * so (as the examples and containerlab's files do): yaml pads every flow
 * list (`[ h, s ]`) while it pads maps too, so a save would change each
 * link's line of a file that changed in one. Each list is tightened only
 * where the file reads back the same (a string that looks like a padded
 * list inside a comment or a block scalar is left alone).
 */
function flowListsAsIn(original: string, saved: string): string {
  // The file's style is what most of its lists are (a string may hold either).
  const count = (re: RegExp) => [...original.matchAll(re)].length;
  if (count(/[:,{-] \[[^\s\]]/g) <= count(/[:,{-] \[ /g)) return saved;
  const meaning = (text: string) => JSON.stringify(parseDocument(text).toJSON());
  const want = meaning(saved);
  let out = saved;
  // Last first: what is tightened after a list does not move it.
  for (const m of [...saved.matchAll(PADDED_LIST)].reverse()) {
    const at = m.index;
    const tight = `${out.slice(0, at)}${m[1]}[${m[2]}]${out.slice(at + m[0].length)}`;
    if (meaning(tight) === want) out = tight;
  }
  return out;
}
