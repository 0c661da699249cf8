/**
 * What a capture of a lab's link or host means (`vde capture LAB/sw1-sw2`,
 * `vde capture LAB/h1`, the lab shell's `capture h1`): a containerlab or
 * Wireshark user captures on a link or a host's interface, and both are
 * ports of a switch here, captured with `--port`; a host's interface is
 * also tcpdump's inside the host (`vde exec`).
 *
 * Theory of operation: a pure function of the lab's links as `vde status
 * --json` gives them (a switch end has a port, a host end an interface),
 * which the running lab's own links satisfy as they are.
 */

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
export function spellings(l: LinkJson): string[] {
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
