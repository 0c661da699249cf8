/**
 * Where a capture of a lab's link or host is made (`vde capture
 * LAB/sw1-sw2`, `vde capture LAB/h1`, `LAB/h1:eth1`): a containerlab or
 * Wireshark user captures on a link or on a host's interface, and both are
 * a port of a switch here, whose capture socket records it as
 * `vde capture LAB/SWITCH --port N` would.
 *
 * Which port, where two would do, is decided as a user reads the name: a
 * link between two switches is captured at the end named first
 * (`sw1-sw2` at sw1's port, `sw2-sw1` at sw2's; `vde status`'s
 * `sw1:5-sw2:1` at sw1's), as `tcpdump -i` on one end's interface would.
 * The two ends see the same frames except where the link loses or delays
 * them: the sender's end sees a frame the link then drops. A host is its
 * one interface's link; a host with several is named with the interface
 * (`h1:eth1`), a guess would record the wrong LAN. A link with no switch
 * end (host to host, host to slirp) has no port to record at: the answer
 * says so and gives tcpdump inside the host.
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

/** An end as `vde status` writes it: `sw1:5`, `h1:eth0`, `nat`. */
function endName(e: EndJson): string {
  return e.port !== undefined ? `${e.node}:${e.port}` : e.iface ? `${e.node}:${e.iface}` : e.node;
}

/** The spellings a user may give link `l`, each with its ends in the order it names them. */
function spelled(l: LinkJson): [string, EndJson, EndJson][] {
  return [
    [l.name, l.a, l.b],
    [`${endName(l.b)}-${endName(l.a)}`, l.b, l.a],
    [`${l.a.node}-${l.b.node}`, l.a, l.b],
    [`${l.b.node}-${l.a.node}`, l.b, l.a],
  ];
}

/** The spellings a user may give link `l`: its status name, its two nodes, either way round. */
export function spellings(l: LinkJson): string[] {
  return spelled(l).map(([s]) => s);
}

/** Where a capture of a lab's link or host is made: a switch of the lab and its port. */
export interface CapturePoint {
  /** The switch, as `vde capture` takes it: `LAB/SWITCH`. */
  switch: string;
  port: number;
  /** What was asked for, as the user named it (`LAB/h1`), and the link it is (`h1:eth0-sw1:3`). */
  what: string;
  link: string;
}

/** A capture of a lab's link or host: where it is made, or the one line saying why it cannot be. */
export type CaptureAnswer = CapturePoint | { refused: string };

/** Whether `a` says why no capture is made. */
export function isRefused(a: CaptureAnswer): a is { refused: string } {
  return "refused" in a;
}

/** The capture of link `l` with its ends in the order `first`, `second`: at the first switch end. */
function atLink(lab: string, what: string, l: LinkJson, first: EndJson, second: EndJson): CaptureAnswer {
  const end = [first, second].find((e) => e.port !== undefined);
  if (end !== undefined) {
    return { switch: `${lab}/${end.node}`, port: end.port!, what: `${lab}/${what}`, link: l.name };
  }
  // No switch on it: tcpdump in a host at one end is the only capture there is.
  const host = [first, second].find((e) => e.iface !== undefined);
  const inside = host === undefined
    ? ""
    : `; inside the host: \`vde exec ${lab} ${host.node} tcpdump -i ${host.iface} -U -w - | tcpdump -r -\``;
  return {
    refused: `${lab}/${what} is link ${l.name} of lab ${lab}, which has no switch end: ` +
      `vde captures at a switch's port${inside}`,
  };
}

/**
 * The capture of `what` (a link, as `vde status` names it or by its two
 * nodes; a host or another node that is no switch; `h1:eth1`, `sw1:5`, one
 * end of a link) in lab `lab` whose links are `links`; undefined when
 * `what` is none of these.
 */
export function labCapturePoint(
  lab: string,
  what: string,
  links: readonly LinkJson[],
): CaptureAnswer | undefined {
  const named = links.flatMap((l) =>
    spelled(l).filter(([s]) => s === what).slice(0, 1).map(([, first, second]) => ({ l, first, second }))
  );
  if (named.length > 1) {
    // Two links between the same two nodes: `sw1-sw2` names neither alone.
    const choices = named.map(({ l }) => `${lab}/${l.name}`);
    return {
      refused: `${lab}/${what} names ${named.length} links of lab ${lab}: name one, ${choices.join(" or ")}`,
    };
  }
  if (named.length === 1) return atLink(lab, what, named[0]!.l, named[0]!.first, named[0]!.second);
  // One end of a link (`h1:eth1`, `sw1:5`): that end's, at it if it is a switch's, else at the other.
  for (const l of links) {
    if (endName(l.a) === what && what.includes(":")) return atLink(lab, what, l, l.a, l.b);
    if (endName(l.b) === what && what.includes(":")) return atLink(lab, what, l, l.b, l.a);
  }
  // A node that is no switch (a host, a slirp, a cable): the link it is on, where it has one.
  const own = links.flatMap((l) =>
    [[l.a, l.b], [l.b, l.a]].filter(([e]) => e!.node === what && e!.port === undefined).map(([e, o]) => ({
      l,
      e: e!,
      o: o!,
    }))
  );
  if (own.length === 0) return undefined;
  if (own.length > 1) {
    const choices = own.map(({ e }) => `${lab}/${endName(e)}`);
    return {
      refused: `${lab}/${what} has ${own.length} interfaces in lab ${lab}: name one, ${choices.join(" or ")}`,
    };
  }
  return atLink(lab, what, own[0]!.l, own[0]!.e, own[0]!.o);
}
