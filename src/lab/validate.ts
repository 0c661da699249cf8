/**
 * Lab file validation: YAML text in, a resolved `Lab` or every mistake out.
 *
 * Pure: no I/O, nothing created. The YAML is read as a document (npm
 * `yaml`), not as plain data, so every mistake is reported where it is, as
 * LINE:COL of the offending key or value. Validation never stops at the
 * first error: the walk continues with what it could read, so a file with
 * five mistakes gives five lines. Cross-checks (link ends naming nodes,
 * ports used twice, interface names fitting a tap) run on what the walk
 * accepted. Ports and interfaces a link leaves open are assigned here, in
 * link order, so the lab that runs is exactly the lab that was checked.
 */
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Scalar,
  visit,
  type YAMLMap,
} from "yaml";
import { MCAST_KNOBS } from "../switch/mcast_knobs.ts";
import { type Dataplane, parseDataplane } from "../switch/dataplane.ts";
import { defaultConfig, parseForward, parseSlirpOptions } from "../slirp/config.ts";
import { MAX_NETNS, NAME_PATTERN, netnsName } from "./names.ts";
import type { HostNode, Impairments, Lab, LabLink, LabNode, NodeKind } from "./spec.ts";
import { NODE_KINDS } from "./spec.ts";
import { containerlabKey, containerlabKind } from "./containerlab.ts";
import { SHELL_WORDS } from "./shell_words.ts";
import { ipKey, lanClashes, vlanOnTrunk } from "./same_lan.ts";
import { listAfterComma, missingSpaceAfterColon, missingSpaceClause, yamlErrorHint } from "./yaml_slips.ts";
import { lookupGroup } from "../os/users.ts";
import { BRIDGE_PRIORITY, BRIDGE_PRIORITY_STEP, inSteps, stepsText } from "../switch/stp_limits.ts";
import { cannotRead } from "./unreadable.ts";
import { modeText } from "../os/mode_text.ts";
import { whyUnopenable } from "../os/owned_file.ts";
import { othersScript } from "../console/session_commands.ts";
import { keyFileProblem } from "../cable/key.ts";
import { didYouMean, didYouMeanClause, didYouMeanText } from "../did_you_mean.ts";
import {
  ipv4InSubnet,
  isIp,
  isIpv4,
  LINK_LIMIT,
  LINK_MTU,
  parseCidr,
  type Parsed,
  parseDuration,
  parsePercent,
  parseRate,
} from "./values.ts";

/** One mistake, at a 1-based line and column. */
export interface LabError {
  line: number;
  col: number;
  message: string;
}

/** The outcome: a lab when there were no errors. */
export interface ValidationResult {
  lab?: Lab;
  errors: LabError[];
  /**
   * The text is no lab file at all (binary, not YAML, or YAML without a
   * lab's keys): `errors` holds the one line that says so, where known.
   */
  notLab?: boolean;
}

/** What a lab file is, for the line that says a file is not one. */
const EXPECTED = "expected YAML with `name` and `topology`";

/**
 * The key `k` names in other words: `snooping`, `mcast-snooping` and
 * `igmp_snooping` mean `mcast_snooping`, which edit distance does not find.
 */
function sameLastWord(k: string, allowed: readonly string[]): string | undefined {
  const last = (w: string) => w.toLowerCase().split(/[-_]/).at(-1) ?? "";
  const word = last(k);
  if (word.length < 5) return undefined;
  const found = allowed.filter((a) => /[-_]/.test(a) && last(a) === word);
  return found.length === 1 ? found[0] : undefined;
}

/** Keys each part of the file may have. */
export const KEYS = {
  top: ["name", "topology"],
  topology: ["nodes", "links"],
  switch: [
    "kind",
    "ports",
    "hub",
    "stp",
    "priority",
    "mcast_snooping",
    "mcast_querier",
    ...MCAST_KNOBS.map((k) => k.name),
    "vlans",
    "rc",
    "dataplane",
    "mode",
    "group",
    "mgmt_mode",
  ],
  slirp: ["kind", "forwards", "options", "mtu"],
  host: ["kind", "address", "gateway", "routes", "exec", "interfaces", "mtu"],
  cable: ["kind", "connect", "listen", "key", "insecure"],
  link: ["endpoints", "loss", "delay", "jitter", "dup", "rate", "mtu", "limit", "vlan", "trunk"],
} as const;

const MAX_VLAN = 4093;
/** The largest MTU of a tap: 65535 less its 14-byte Ethernet header. */
const TAP_MAX_MTU = 65521;
const IFACE = /^eth(\d{1,3})$/;

/** Whether a top-level key is a lab's, or close enough to one that its hint is the better answer. */
function nearLabKey(key: unknown): boolean {
  return isScalar(key) && didYouMean(String(key.value), KEYS.top) !== undefined;
}

/** Formats errors as `FILE:LINE:COL: message`, one per line, in file order. */
export function formatErrors(file: string, errors: LabError[]): string[] {
  return errors.map((e) => `${file}:${e.line}:${e.col}: ${e.message}`);
}

/** Options of validation. */
export interface ValidateOptions {
  /** Whether switches may ask for spanning tree (the engine has it). */
  stp?: boolean;
  /** A lab growing in the shell: a host may have addresses for links still to come. */
  live?: boolean;
  /**
   * Where relative `rc` and `key` files start (the lab file's directory, as
   * bring-up resolves them): given, each must be a readable file.
   */
  filesFrom?: string;
  /** The lab's name given over the file's (`vde up FILE --name X`, containerlab's deploy --name). */
  name?: string;
  /**
   * The lab is a user's other than root's (`"user"`, or `"rootless"`, whose user namespace also maps
   * no group): it lives in their runtime directory, closed to everyone else, so a switch's `group`,
   * or a `mode` or `mgmt_mode` with group or other bits, would share it with no one. Each is refused
   * where it is written.
   */
  usersOwn?: "user" | "rootless";
}

/** Validates lab file text. */
export function validateLab(text: string, options: ValidateOptions = {}): ValidationResult {
  return new Validator(text, options).run();
}

interface Entry {
  key: Node;
  value: Node | null;
}

/** The items of a value that may be a list or one item (`routes: [a, b]` or `routes: a`); none when empty. */
function itemsOf(e: Entry | undefined): Node[] {
  if (e === undefined || e.value === null) return [];
  return isSeq(e.value) ? (e.value.items as Node[]) : [e.value];
}

/** A link end as written, before ports are assigned. */
interface RawEnd {
  node: string;
  suffix?: string;
  at: Node;
}

class Validator {
  readonly #lines = new LineCounter();
  readonly #errors: LabError[] = [];
  readonly #text: string;
  readonly #options: ValidateOptions;
  /** The file parsed, for the anchors its aliases name. */
  #doc: Document | undefined;
  /** A link was left out for a mistake (reported there): a host's address may be waiting for it. */
  #linkLeftOut = false;
  /** `nodes` was no mapping (reported there): every node a link names is unknown for that alone. */
  #nodesLeftOut = false;
  /** Each host address's item in the file (`h1 eth0 10.0.2.10/24`), where a clash on its LAN is said. */
  readonly #addressAt = new Map<string, Node>();

  constructor(text: string, options: ValidateOptions) {
    this.#text = text;
    this.#options = options;
  }

  run(): ValidationResult {
    const doc = this.#doc = parseDocument(this.#text, {
      lineCounter: this.#lines,
      prettyErrors: false,
      // Duplicate keys are found below, named, and the walk goes on to the file's other mistakes.
      uniqueKeys: false,
    });
    // Binary data before the parser's complaints about it: those name a symptom, not the file.
    const nul = this.#text.indexOf("\0");
    if (nul >= 0) {
      const at = this.#lines.linePos(nul);
      return this.#notLab(at.line, at.col, `not a lab file: binary data, ${EXPECTED}`);
    }
    // The parser's first complaint is the cause; those after it (a file that is not YAML gives
    // one per line) follow from it and bury it.
    const bad = doc.errors[0];
    if (bad !== undefined) {
      const pos = this.#lines.linePos(bad.pos[0]);
      const why = bad.message.split("\n")[0]!.replace(/ at line .*/, "");
      const hint = yamlErrorHint(bad.code, why, this.#text.split("\n")[pos.line - 1]);
      return this.#notLab(pos.line, pos.col, `not YAML: ${why}${hint ? `: ${hint}` : ""} (${EXPECTED})`);
    }
    this.#dropDuplicateKeys(doc);
    const root = doc.contents;
    // No key of a lab, nor one misspelled: some other file (its keys would each be "unknown").
    if (!isMap(root) || !root.items.some((pair) => nearLabKey(pair.key))) {
      const at = this.#lines.linePos(root?.range?.[0] ?? 0);
      return this.#notLab(at.line, at.col, `not a lab file: ${EXPECTED}`);
    }
    const top = this.#entries(root, KEYS.top, "the top level");
    const inFile = this.#options.name === undefined || top.has("name")
      ? this.#name(top.get("name"), root, "lab")
      : undefined;
    const name = this.#options.name === undefined
      ? inFile
      : this.#checkWord(this.#options.name, top.get("name")?.value ?? root, "lab name (--name)");
    const topo = top.get("topology");
    let nodes: LabNode[] = [];
    let links: LabLink[] = [];
    if (topo === undefined) this.#error(root, "missing `topology` (with `nodes` and `links`)");
    else if (!isMap(topo.value)) {
      this.#error(topo.value ?? topo.key, "`topology` must be a mapping with `nodes` and `links`");
    } else {
      const t = this.#entries(topo.value, KEYS.topology, "topology");
      const nodeEntries = t.get("nodes");
      if (nodeEntries === undefined) {
        this.#error(topo.key, "missing `topology.nodes`");
        this.#nodesLeftOut = true;
      }
      const nodeKeys = new Map<string, Node>();
      if (nodeEntries !== undefined) nodes = this.#nodes(nodeEntries, nodeKeys);
      const linkEntries = t.get("links");
      // `link:` or `lniks:` (reported as an unknown key) left the links out: the hosts' addresses wait for them.
      if (linkEntries === undefined && topo.value.items.length > t.size) this.#linkLeftOut = true;
      if (linkEntries !== undefined && linkEntries.value !== null) {
        links = this.#links(linkEntries.value, nodes, nodeKeys);
      }
      if (name !== undefined) this.#checkNames(name, nodes, links, nodeKeys);
      this.#checkSameLan(nodes, links, nodeKeys);
    }
    if (this.#errors.length > 0 || name === undefined) return { errors: this.#sorted() };
    return { lab: { name, nodes, links }, errors: [] };
  }

  #notLab(line: number, col: number, message: string): ValidationResult {
    return { errors: [{ line, col, message }], notLab: true };
  }

  /**
   * Reports every key a mapping has twice (YAML keeps one of them, silently
   * in most tools) where the second one is, and drops it, so the rest of the
   * walk reads the first and reports the file's other mistakes.
   */
  #dropDuplicateKeys(doc: Parameters<typeof visit>[0]): void {
    visit(doc, {
      Map: (_, map) => {
        const seen = new Map<unknown, Node>();
        map.items = map.items.filter((pair) => {
          if (!isScalar(pair.key)) return true;
          const key = pair.key as Scalar;
          const first = seen.get(key.value);
          if (first === undefined) {
            seen.set(key.value, key);
            return true;
          }
          const line = this.#lines.linePos(first.range?.[0] ?? 0).line;
          this.#error(
            key,
            `duplicate key "${String(key.value)}" (also at line ${line}): give each key once`,
          );
          return false;
        });
      },
    });
  }

  #sorted(): LabError[] {
    return this.#errors.sort((a, b) => a.line - b.line || a.col - b.col);
  }

  #error(node: Node | null | undefined, message: string): void {
    const offset = node?.range?.[0] ?? 0;
    const pos = this.#lines.linePos(offset);
    this.#errors.push({ line: pos.line, col: pos.col, message });
  }

  /** The entries of a mapping by key; unknown keys are reported with a suggestion. */
  #entries(map: YAMLMap, allowed: readonly string[], where: string): Map<string, Entry> {
    const out = new Map<string, Entry>();
    for (const pair of map.items) {
      const key = pair.key as Node;
      const k = isScalar(key) ? String(key.value) : undefined;
      if (k === undefined) {
        this.#error(key, `keys in ${where} must be plain words`);
        continue;
      }
      if (missingSpaceAfterColon(k, allowed) !== undefined) {
        this.#error(key, `unknown key "${k}" in ${where}${missingSpaceClause(k, allowed)}`);
        continue;
      }
      const list = pair.value === null ? listAfterComma(map.items, pair) : undefined;
      if (list !== undefined) {
        // "": a later item of the same list, said at its first.
        if (list !== "") this.#error(key, `unknown key "${k}" in ${where}: ${list}`);
        continue;
      }
      if (!allowed.includes(k)) {
        const foreign = containerlabKey(k);
        const hint = sameLastWord(k, allowed) ?? didYouMean(k, allowed);
        this.#error(
          key,
          `unknown key "${k}" in ${where}` +
            (foreign ? ` (${foreign})` : didYouMeanClause(hint && `"${hint}"`) ||
              ` (known: ${allowed.join(", ")})`),
        );
        continue;
      }
      // An alias (`mgmt_mode: *m`) is read as what its anchor holds, as YAML means it.
      const value = (pair.value as Node | null) ?? null;
      out.set(k, { key, value: isAlias(value) && this.#doc ? value.resolve(this.#doc) ?? value : value });
    }
    return out;
  }

  #scalar(e: Entry | undefined): unknown {
    return e !== undefined && isScalar(e.value) ? (e.value as Scalar).value : undefined;
  }

  #name(e: Entry | undefined, parent: Node, what: string): string | undefined {
    if (e === undefined) {
      this.#error(parent, `missing \`name\` of the ${what}`);
      return undefined;
    }
    const v = this.#scalar(e);
    if (typeof v !== "string" && typeof v !== "number") {
      this.#error(e.value ?? e.key, `the ${what} name must be a word`);
      return undefined;
    }
    return this.#checkWord(String(v), e.value!, `${what} name`);
  }

  #checkWord(v: string, at: Node, what: string): string | undefined {
    if (!NAME_PATTERN.test(v)) {
      this.#error(
        at,
        `${what} "${v}" may hold only letters, digits, "-" and "_", starting with a letter or digit`,
      );
      return undefined;
    }
    return v;
  }

  #bool(e: Entry | undefined, what: string): boolean {
    if (e === undefined) return false;
    const v = this.#scalar(e);
    if (typeof v !== "boolean") {
      this.#error(e.value ?? e.key, `${what} must be true or false`);
      return false;
    }
    return v;
  }

  #int(e: Entry | undefined, what: string, min: number, max: number): number | undefined {
    if (e === undefined) return undefined;
    const v = this.#scalar(e);
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      // `ports: "16"` reads as if it were one: the quotes make it a string.
      const quoted = typeof v === "string" && /^\s*-?\d+\s*$/.test(v)
        ? ` (a number is written without quotes)`
        : "";
      this.#error(
        e.value ?? e.key,
        `${what} must be a whole number from ${min} to ${max}, got ${this.#show(e)}${quoted}`,
      );
      return undefined;
    }
    return v;
  }

  #show(e: Entry): string {
    return e.value === null
      ? "nothing"
      : JSON.stringify(isScalar(e.value) ? (e.value as Scalar).value : e.value.toJSON());
  }

  #string(e: Entry | undefined, what: string): string | undefined {
    if (e === undefined) return undefined;
    const v = this.#scalar(e);
    if (typeof v !== "string" && typeof v !== "number") {
      this.#error(e.value ?? e.key, `${what} must be a string`);
      return undefined;
    }
    return String(v);
  }

  /** A file name; with `filesFrom`, a readable file's. */
  #file(
    e: Entry | undefined,
    what: string,
    role: string,
    refused: (path: string) => string | undefined = () => undefined,
  ): string | undefined {
    const name = this.#string(e, what);
    const from = this.#options.filesFrom;
    if (name === undefined || from === undefined) return name;
    const path = name.startsWith("/") ? name : `${from}/${name}`;
    const why = whyUnopenable(path) ?? refused(path);
    if (why !== undefined) {
      this.#error(e!.value ?? e!.key, `${what}: ${cannotRead(path, why, role)}`);
    }
    return name;
  }

  /**
   * A cable's key file; with `filesFrom`, one loadKey takes (key.ts: a regular file of ours, closed to
   * others, holding a key), so /dev/zero, a FIFO, a key others may read or a missing one is refused here,
   * at its FILE:LINE:COL, before anything of the lab starts, not when the cable opens.
   */
  #keyFile(e: Entry | undefined, what: string): string | undefined {
    const name = this.#string(e, what);
    const from = this.#options.filesFrom;
    if (name === undefined || from === undefined) return name;
    const problem = keyFileProblem(name.startsWith("/") ? name : `${from}/${name}`);
    if (problem !== undefined) this.#error(e!.value ?? e!.key, `${what}: ${problem}`);
    return name;
  }

  /** A string or a list of strings; each item is checked by `check` at its own position. */
  #strings(e: Entry | undefined, what: string, check?: (s: string) => string | undefined): string[] {
    const out: string[] = [];
    for (const item of itemsOf(e)) {
      const v = isScalar(item) ? (item as Scalar).value : undefined;
      if (typeof v !== "string" && typeof v !== "number") {
        this.#error(item, `each item of ${what} must be a string`);
        continue;
      }
      const problem = check?.(String(v));
      if (problem !== undefined) this.#error(item, `${what}: ${problem}`);
      else out.push(String(v));
    }
    return out;
  }

  #ints(e: Entry | undefined, what: string, min: number, max: number): number[] {
    const out: number[] = [];
    for (const item of itemsOf(e)) {
      const v = isScalar(item) ? (item as Scalar).value : undefined;
      if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
        // `vlans: "10,20"` or `10 20` is one word to YAML: the list it meant is written in brackets.
        // Split, not one pattern: `\s*[,\s]\s*` took quadratic time over a long run of blanks.
        const words = typeof v === "string" ? v.trim().split(/[\s,]+/) : [];
        const list = words.length > 1 && words.every((w) => /^\d+$/.test(w))
          ? ` (a list is written [${words.join(", ")}])`
          : "";
        this.#error(
          item,
          `${what} must be whole numbers from ${min} to ${max}, got ${JSON.stringify(v ?? null)}${list}`,
        );
      } else out.push(v);
    }
    return out;
  }

  #value<T>(e: Entry | undefined, what: string, parse: (v: unknown) => Parsed<T>): T | undefined {
    if (e === undefined) return undefined;
    const r = parse(this.#scalar(e) ?? e.value?.toJSON());
    if (!r.ok) {
      this.#error(e.value ?? e.key, `${what}: ${r.error}`);
      return undefined;
    }
    return r.value;
  }

  #nodes(entry: Entry, keys: Map<string, Node>): LabNode[] {
    if (!isMap(entry.value)) {
      // A list of `- sw1: {...}` is the one slip that names its nodes: said so, not as "unknown node" per link end.
      const list = isSeq(entry.value) ? " (no `-` before each: `sw1: { kind: switch }`)" : "";
      this.#error(
        entry.value ?? entry.key,
        `\`nodes\` must be a mapping of node names to their settings${list}`,
      );
      this.#nodesLeftOut = true;
      return [];
    }
    const out: LabNode[] = [];
    for (const pair of entry.value.items) {
      const key = pair.key as Node;
      const name = this.#checkWord(String(isScalar(key) ? key.value : ""), key, "node name");
      if (name === undefined) continue;
      keys.set(name, key);
      const value = pair.value as Node | null;
      if (!isMap(value)) {
        // `sw1: kind:switch` is one word, not a mapping.
        const word = isScalar(value) ? String(value.value) : "";
        this.#error(
          value ?? key,
          `node ${name} must be a mapping with a \`kind\`${missingSpaceClause(word, ["kind"])}`,
        );
        continue;
      }
      const kindPair = value.items.find((p) => isScalar(p.key) && p.key.value === "kind");
      const kind = kindPair && isScalar(kindPair.value) ? String(kindPair.value.value) : undefined;
      if (kind === undefined) {
        // `{ kind:switch }` is a key of its own: that one is the slip.
        const joined = value.items.map((p) => isScalar(p.key) ? String(p.key.value) : "")
          .find((k) => missingSpaceAfterColon(k, ["kind"]) !== undefined);
        this.#error(
          key,
          joined === undefined
            ? `node ${name} has no \`kind\` (one of ${NODE_KINDS.join(", ")})`
            : `node ${name} has no \`kind\`${missingSpaceClause(joined, ["kind"])}`,
        );
        continue;
      }
      if (!(NODE_KINDS as readonly string[]).includes(kind)) {
        const near = didYouMean(kind, NODE_KINDS);
        const hint = containerlabKind(kind) ?? (didYouMeanText(near && `"${near}"`) || undefined);
        this.#error(
          kindPair!.value as Node,
          `unknown kind "${kind}" of node ${name}` + ` (${hint ?? `one of ${NODE_KINDS.join(", ")}`})`,
        );
        continue;
      }
      // A host's name is a shell command too (`h1 ip -br addr`), as a switch's is.
      if ((kind === "switch" || kind === "host") && SHELL_WORDS.includes(name)) {
        this.#error(key, `a ${kind} cannot be called "${name}": the lab shell has a command of that name`);
        continue;
      }
      const node = this.#node(
        name,
        kind as NodeKind,
        this.#entries(value, KEYS[kind as NodeKind], `node ${name} (${kind})`),
      );
      if (node !== undefined) out.push(node);
    }
    return out;
  }

  #node(name: string, kind: NodeKind, e: Map<string, Entry>): LabNode | undefined {
    const w = `${name}:`;
    switch (kind) {
      case "switch": {
        const hub = this.#bool(e.get("hub"), `${w} hub`);
        return {
          kind,
          name,
          ports: this.#int(e.get("ports"), `${w} ports`, 2, 65535) ?? 32,
          hub,
          stp: this.#stp(e.get("stp"), w, hub),
          ...this.#priority(e, w),
          ...this.#snooping(e, w),
          vlans: this.#ints(e.get("vlans"), `${w} vlans`, 1, MAX_VLAN),
          // Another user's is refused when the switch starts (script.ts): here, before anything does.
          rc: this.#file(e.get("rc"), `${w} rc`, "startup script", othersScript),
          dataplane: this.#dataplane(e.get("dataplane"), w),
          ...this.#access(e, w),
        };
      }
      case "slirp": {
        const options = this.#string(e.get("options"), `${w} options`);
        const config = defaultConfig();
        if (options !== undefined) {
          try {
            Object.assign(config, parseSlirpOptions(`/${options.replace(/^\/+/, "")}`));
          } catch (err) {
            this.#error(e.get("options")!.value, `${w} options: ${(err as Error).message}`);
          }
        }
        const forwards = this.#strings(e.get("forwards"), `${w} forwards`, (f) => {
          try {
            parseForward(f, config);
            return undefined;
          } catch (err) {
            return (err as Error).message;
          }
        });
        return { kind, name, forwards, options, mtu: this.#int(e.get("mtu"), `${w} mtu`, 1280, 65520) };
      }
      case "host": {
        const addresses: Record<string, string[]> = {};
        // `DHCP`, `Dhcp`: the word is lower case, as `ip` and the file's other words are.
        const addr = (s: string) =>
          s === "dhcp"
            ? undefined
            : s.toLowerCase() === "dhcp"
            ? `expected dhcp, in lower case, got "${s}"`
            : ((r) => r.ok ? undefined : r.error)(parseCidr(s));
        const eth0 = this.#strings(e.get("address"), `${w} address`, addr);
        if (eth0.length > 0) addresses.eth0 = eth0;
        this.#noteAddresses(name, "eth0", e.get("address"));
        const ifs = e.get("interfaces");
        if (ifs !== undefined) {
          if (!isMap(ifs.value)) {
            this.#error(ifs.value ?? ifs.key, `${w} interfaces must map eth1, eth2, ... to addresses`);
          } else {
            for (const pair of ifs.value.items) {
              const k = pair.key as Node;
              const ifname = isScalar(k) ? String(k.value) : "";
              if (!IFACE.test(ifname)) {
                this.#error(k, `${w} interface "${ifname}" must be named eth0, eth1, ...`);
                continue;
              }
              const list = this.#strings(
                { key: k, value: (pair.value as Node | null) ?? null },
                `${w} ${ifname}`,
                addr,
              );
              if (list.length > 0) addresses[ifname] = [...(addresses[ifname] ?? []), ...list];
              this.#noteAddresses(name, ifname, { key: k, value: (pair.value as Node | null) ?? null });
            }
          }
        }
        const gw = this.#string(e.get("gateway"), `${w} gateway`);
        if (gw !== undefined && !isIp(gw)) {
          // `gateway: dhcp`: the lease's router is the default route already, as `address: dhcp` gives it.
          const dhcp = String(gw).toLowerCase() === "dhcp"
            ? " (address: dhcp sets the default route itself)"
            : "";
          this.#error(e.get("gateway")!.value, `${w} gateway "${gw}" is not an IP address${dhcp}`);
        } else if (gw !== undefined && ownAddress(gw, addresses) !== undefined) {
          this.#error(e.get("gateway")!.value, `${w} gateway ${ownGateway(gw, name, addresses)}`);
        } else if (gw !== undefined && e.get("routes") === undefined) {
          // Without a route of the file's own, the kernel reaches a gateway only on a subnet of the host.
          const off = offSubnets(gw, addresses);
          if (off !== undefined) {
            this.#error(
              e.get("gateway")!.value,
              `${w} gateway ${gw} is on none of ${name}'s subnets (${off}): fix it, or add a route to it`,
            );
          }
        }
        // A route's gateway too, unless a `dev` route of the file's own may lead to it.
        const routeText = (r: string) => {
          const via = /^\S+\s+via\s+(\S+)$/.exec(r.trim())?.[1];
          if (via !== undefined && ownAddress(via, addresses) !== undefined) {
            return `gateway ${ownGateway(via, name, addresses)}`;
          }
          const off = via === undefined ? undefined : offSubnets(via, addresses);
          return off === undefined
            ? undefined
            : `gateway ${via} is on none of ${name}'s subnets (${off}), which Linux refuses (Nexthop has invalid gateway)`;
        };
        const devRoute = itemsOf(e.get("routes")).some((r) => isScalar(r) && /\sdev\s/.test(String(r.value)));
        return {
          kind,
          name,
          addresses,
          gateway: gw !== undefined && isIp(gw) ? gw : undefined,
          routes: this.#strings(
            e.get("routes"),
            `${w} routes`,
            (r) => checkRoute(r) ?? (devRoute ? undefined : routeText(r)),
          ),
          exec: this.#strings(e.get("exec"), `${w} exec`),
          mtu: this.#hostMtu(e.get("mtu"), w, addresses),
        };
      }
      case "cable": {
        const connect = this.#string(e.get("connect"), `${w} connect`);
        if (connect !== undefined && !/^.+:\d{1,5}$/.test(connect)) {
          this.#error(e.get("connect")!.value, `${w} connect must be HOST:PORT, got "${connect}"`);
        }
        const listen = this.#string(e.get("listen"), `${w} listen`);
        if (listen !== undefined && !/^(?:.+:)?\d{1,5}$/.test(listen)) {
          this.#error(e.get("listen")!.value, `${w} listen must be PORT or ADDRESS:PORT, got "${listen}"`);
        }
        if ((connect === undefined) === (listen === undefined)) {
          this.#error(e.get("kind")!.key, `cable ${name} needs exactly one of \`connect\` and \`listen\``);
        }
        const key = this.#keyFile(e.get("key"), `${w} key`);
        const insecure = this.#bool(e.get("insecure"), `${w} insecure`);
        // As `vde cable`: an open, unauthenticated cable only when asked for by name.
        if ((key === undefined) !== insecure) {
          this.#error(
            e.get("kind")!.key,
            insecure
              ? `cable ${name} has a key and insecure: true; keep one of them`
              : `cable ${name} needs a \`key\` file (vde cable keygen FILE), or \`insecure: true\` for a plain cable`,
          );
        }
        return { kind, name, connect, listen, key, ...(insecure ? { insecure } : {}) };
      }
    }
  }

  #dataplane(e: Entry | undefined, w: string): Dataplane | undefined {
    const v = this.#string(e, `${w} dataplane`);
    if (v === undefined) return undefined;
    try {
      return parseDataplane(v, `${w} dataplane`);
    } catch (err) {
      this.#error(e!.value ?? e!.key, (err as Error).message);
      return undefined;
    }
  }

  /**
   * A host's `mtu`: at most a tap's (65535 less its Ethernet header: `ip`
   * refuses more), and not below IPv6's 1280 where the host has an IPv6
   * address, which the kernel would drop from the interface without a word.
   */
  #hostMtu(e: Entry | undefined, w: string, addresses: Record<string, string[]>): number | undefined {
    const mtu = this.#int(e, `${w} mtu`, 68, TAP_MAX_MTU);
    const v6 = Object.values(addresses).flat().filter((a) => a.includes(":"));
    if (mtu === undefined || mtu >= 1280 || v6.length === 0) return mtu;
    this.#error(
      e!.value,
      `${w} mtu ${mtu} is below 1280, which IPv6 needs: ${v6.join(", ")} would be dropped`,
    );
    return undefined;
  }

  /**
   * `mcast_snooping`, `mcast_querier` and the bridge's knobs (`mcast_query_interval`), set only when given
   * (a querier and knobs are part of snooping).
   */
  #snooping(
    e: Map<string, Entry>,
    w: string,
  ): { mcastSnooping?: boolean; mcastQuerier?: boolean; mcastKnobs?: Record<string, number> } {
    const out: { mcastSnooping?: boolean; mcastQuerier?: boolean; mcastKnobs?: Record<string, number> } = {};
    const snooping = e.get("mcast_snooping");
    const querier = e.get("mcast_querier");
    if (snooping !== undefined) out.mcastSnooping = this.#bool(snooping, `${w} mcast_snooping`);
    if (querier !== undefined) out.mcastQuerier = this.#bool(querier, `${w} mcast_querier`);
    if (out.mcastQuerier && !out.mcastSnooping) {
      this.#error(
        querier!.key,
        `${w} mcast_querier needs mcast_snooping: true (the querier is part of snooping)`,
      );
    }
    for (const k of MCAST_KNOBS) {
      const at = e.get(k.name);
      if (at === undefined) continue;
      const unit = k.msPerUnit === null ? "" : " (centiseconds, as ip link's)";
      const v = this.#int(at, `${w} ${k.name}${unit}`, k.min, k.max);
      if (v === undefined) continue;
      if (!out.mcastSnooping) {
        this.#error(at.key, `${w} ${k.name} needs mcast_snooping: true (it is a snooping setting)`);
      }
      (out.mcastKnobs ??= {})[k.name] = v;
    }
    return out;
  }

  /** `priority`, as `vde switch --priority` takes it: in its steps, and only with spanning tree on. */
  #priority(e: Map<string, Entry>, w: string): { priority?: number } {
    const at = e.get("priority");
    const v = this.#int(at, `${w} priority`, BRIDGE_PRIORITY[0], BRIDGE_PRIORITY[1]);
    if (v === undefined) return {};
    if (!inSteps(v, BRIDGE_PRIORITY, BRIDGE_PRIORITY_STEP)) {
      this.#error(at!.value!, `${w} priority must be ${stepsText(v, BRIDGE_PRIORITY, BRIDGE_PRIORITY_STEP)}`);
      return {};
    }
    const stp = e.get("stp");
    if (stp === undefined || this.#scalar(stp) !== true) {
      this.#error(at!.key, `${w} priority is the spanning tree's: it needs stp: true`);
    }
    return { priority: v };
  }

  /**
   * `mode`, `group` and `mgmt_mode`: who may plug into the switch and open
   * its console, as `vde switch --mode`, `--group` and `--mgmtmode` say.
   * A mode is octal as written (`660`, which YAML reads as a decimal
   * number, or `"0660"`); a group must be one of this machine's.
   */
  #access(e: Map<string, Entry>, w: string): { mode?: number; group?: string; mgmtMode?: number } {
    const out: { mode?: number; group?: string; mgmtMode?: number } = {};
    const mode = this.#octal(e.get("mode"), `${w} mode`);
    if (mode !== undefined) out.mode = mode;
    this.#sharedByMode(e.get("mode"), mode, `${w} mode`);
    const mgmt = this.#octal(e.get("mgmt_mode"), `${w} mgmt_mode`);
    if (mgmt !== undefined) out.mgmtMode = mgmt;
    this.#sharedByMode(e.get("mgmt_mode"), mgmt, `${w} mgmt_mode`);
    const group = this.#string(e.get("group"), `${w} group`);
    if (group !== undefined && this.#options.usersOwn !== undefined) {
      this.#error(
        e.get("group")!.value,
        `${w} group ${group}: ${this.#closed()}: drop \`group\`, or run vde up as root ` +
          "(vde switch --sock DIR --mode 660 --group G shares a switch of yours, which vde plug joins to the lab)",
      );
    } else if (group !== undefined) {
      if (lookupGroup(group) === undefined) {
        this.#error(
          e.get("group")!.value!,
          `${w} group "${group}" is no group of this machine (getent group lists them)`,
        );
      } else out.group = group;
    }
    return out;
  }

  /** Why a user's lab shares nothing: the same words for `group`, `mode` and `mgmt_mode`. */
  #closed(): string {
    const rootless = this.#options.usersOwn === "rootless" ? ", and its user namespace maps no group" : "";
    return `a lab of a user other than root is theirs alone (its runtime directory is closed to others${rootless})`;
  }

  /** Refuses, in a user's own lab, a mode that lets the group or others in: they never get that far. */
  #sharedByMode(e: Entry | undefined, mode: number | undefined, what: string): void {
    if (this.#options.usersOwn === undefined || mode === undefined || (mode & 0o077) === 0) return;
    const who = (mode & 0o070) && (mode & 0o007)
      ? "its group and others"
      : mode & 0o070
      ? "its group"
      : "others";
    this.#error(
      e!.value,
      `${what} ${modeText(mode)} lets ${who} in, but ${this.#closed()}: write ${
        modeText((mode & 0o700) || 0o600)
      } (or leave it out), or run vde up as root`,
    );
  }

  /** An octal mode, from the text as written: YAML reads `660` as six hundred and sixty. */
  #octal(e: Entry | undefined, what: string): number | undefined {
    if (e === undefined) return undefined;
    const v = isScalar(e.value) ? (e.value as Scalar).source ?? String((e.value as Scalar).value) : undefined;
    // Three digits at most (after a leading 0 or 0o): a socket has no use for setuid, setgid or sticky bits.
    if (v === undefined || !/^(?:0o?)?[0-7]{1,3}$/.test(v)) {
      // A number as written (`0x1b0`, `660.0`), not as YAML read it (432, 660).
      const shown = v !== undefined && typeof (e.value as Scalar).value === "number" ? v : this.#show(e);
      this.#error(e.value ?? e.key, `${what} must be an octal mode like 660 (at most 777), got ${shown}`);
      return undefined;
    }
    return parseInt(v.replace(/^0o/, ""), 8);
  }

  #stp(e: Entry | undefined, w: string, hub: boolean): boolean {
    const on = this.#bool(e, `${w} stp`);
    if (on && !this.#options.stp) {
      this.#error(e!.value, `${w} stp: spanning tree is not available in this vde`);
    }
    if (on && hub) {
      this.#error(e!.value, `${w} stp: a hub has no spanning tree (vde_switch refuses fstp in hub mode)`);
    }
    return on;
  }

  #links(seq: Node, nodes: LabNode[], nodeKeys: Map<string, Node>): LabLink[] {
    if (!isSeq(seq)) {
      this.#error(seq, "`links` must be a list of `- endpoints: [A, B]`");
      return [];
    }
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const raw: { ends: RawEnd[]; link: LabLink; at: Node }[] = [];
    for (const item of seq.items as Node[]) {
      if (!isMap(item)) {
        this.#error(item, "each link is a mapping with `endpoints: [A, B]`");
        this.#linkLeftOut = true;
        continue;
      }
      const e = this.#entries(item, KEYS.link, "a link");
      const ends = this.#endpoints(e.get("endpoints"), item, byName, nodeKeys);
      const impair: Impairments = {
        loss: this.#value(e.get("loss"), "loss", parsePercent),
        delay: this.#value(e.get("delay"), "delay", parseDuration),
        jitter: this.#value(e.get("jitter"), "jitter", parseDuration),
        dup: this.#value(e.get("dup"), "dup", parsePercent),
        rate: this.#value(e.get("rate"), "rate", parseRate),
        mtu: this.#int(e.get("mtu"), "mtu", ...LINK_MTU),
        limit: this.#int(e.get("limit"), "limit", ...LINK_LIMIT),
      };
      for (const k of Object.keys(impair) as (keyof Impairments)[]) {
        if (impair[k] === undefined) delete impair[k];
      }
      const vlan = this.#int(e.get("vlan"), "vlan", 1, MAX_VLAN);
      const trunk = this.#ints(e.get("trunk"), "trunk", 1, MAX_VLAN);
      if (ends === undefined) {
        this.#linkLeftOut = true;
        continue;
      }
      const kinds = ends.map((x) => byName.get(x.node)?.kind);
      if ((vlan !== undefined || trunk.length > 0) && !kinds.includes("switch")) {
        this.#error(
          (e.get("vlan") ?? e.get("trunk"))!.key,
          "`vlan` and `trunk` need a switch at one end of the link",
        );
      }
      const onTrunk = vlanOnTrunk(vlan, trunk);
      if (onTrunk !== undefined) this.#error(e.get("vlan")!.value, onTrunk);
      raw.push({
        ends,
        at: item,
        link: { ends: [{ node: ends[0]!.node }, { node: ends[1]!.node }], impair, vlan, trunk },
      });
    }
    this.#assign(raw, byName);
    return raw.map((r) => r.link);
  }

  #endpoints(
    e: Entry | undefined,
    item: Node,
    byName: Map<string, LabNode>,
    nodeKeys: Map<string, Node>,
  ): RawEnd[] | undefined {
    if (e === undefined) {
      this.#error(item, "a link needs `endpoints: [A, B]`");
      return undefined;
    }
    if (!isSeq(e.value) || e.value.items.length !== 2) {
      this.#error(e.value ?? e.key, '`endpoints` must list exactly two ends, such as [h1, "sw1:5"]');
      return undefined;
    }
    const ends: RawEnd[] = [];
    for (const it of e.value.items as Node[]) {
      const text = isScalar(it) ? String((it as Scalar).value) : containerlabEndpoint(it);
      const m = /^([^:]+)(?::(.+))?$/.exec(text);
      if (m === null) {
        this.#error(it, `an endpoint is NODE or NODE:PORT, got ${JSON.stringify(it.toJSON())}`);
        continue;
      }
      const node = byName.get(m[1]!);
      if (node === undefined) {
        // The node itself is in error, reported there; the other end is still checked.
        if (nodeKeys.has(m[1]!) || this.#nodesLeftOut) continue;
        const hint = didYouMean(m[1]!, [...byName.keys()]);
        this.#error(it, `unknown node "${m[1]}"` + didYouMeanClause(hint && `"${hint}"`));
        continue;
      }
      // containerlab names a bridge's ends by interfaces (br1:eth1): a switch's ethN is its port N.
      const suffix = node.kind === "switch" ? m[2]?.replace(/^eth(\d+)$/, "$1") : m[2];
      if (suffix !== undefined) {
        if (node.kind === "switch") {
          if (!/^\d+$/.test(suffix) || Number(suffix) < 1 || Number(suffix) >= node.ports) {
            this.#error(
              it,
              `port "${m[2]}" of switch ${node.name} must be a number from 1 to ${node.ports - 1}` +
                (/^\d+$/.test(m[2]!)
                  ? ""
                  : ` (a switch's ends are ports: "${node.name}:1", or "${node.name}" for the next free one)`),
            );
            continue;
          }
        } else if (node.kind === "host") {
          if (!IFACE.test(suffix)) {
            this.#error(it, `interface "${suffix}" of host ${node.name} must be eth0, eth1, ...`);
            continue;
          }
        } else {
          this.#error(it, `a ${node.kind} node has a single end: write "${node.name}" without ":${suffix}"`);
          continue;
        }
      }
      ends.push({ node: node.name, suffix, at: it });
    }
    if (ends.length !== 2) return undefined;
    if (ends[0]!.node === ends[1]!.node) {
      this.#error(e.value, `a link joins two different nodes, both ends are ${ends[0]!.node}`);
      return undefined;
    }
    for (const [i, end] of ends.entries()) {
      const kind = byName.get(end.node)!.kind;
      const other = byName.get(ends[1 - i]!.node)!.kind;
      if (kind === "cable" && other !== "switch") {
        this.#error(end.at, `cable ${end.node} must be linked to a switch, not to a ${other}`);
        return undefined;
      }
    }
    return ends;
  }

  /** Fixes every switch port and host interface; reports ones used twice or running out. */
  #assign(raw: { ends: RawEnd[]; link: LabLink }[], byName: Map<string, LabNode>): void {
    const used = new Map<string, Set<string>>();
    const take = (node: string, slot: string) => {
      let s = used.get(node);
      if (s === undefined) used.set(node, s = new Set());
      if (s.has(slot)) return false;
      s.add(slot);
      return true;
    };
    // Fixed ends first, so automatic ones never take a port named later in the file.
    for (const { ends, link } of raw) {
      ends.forEach((end, i) => {
        const node = byName.get(end.node)!;
        if (end.suffix === undefined) {
          if ((node.kind === "slirp" || node.kind === "cable") && !take(node.name, "")) {
            this.#error(end.at, `${node.kind} ${node.name} is already linked: it has a single end`);
          }
          return;
        }
        if (!take(node.name, end.suffix)) {
          this.#error(
            end.at,
            `${node.kind === "switch" ? "port" : "interface"} ${end.node}:${end.suffix} is used by two links`,
          );
        }
        if (node.kind === "switch") link.ends[i]!.port = Number(end.suffix);
        else link.ends[i]!.iface = end.suffix;
      });
    }
    for (const { ends, link } of raw) {
      ends.forEach((end, i) => {
        const node = byName.get(end.node)!;
        if (end.suffix !== undefined || (node.kind !== "switch" && node.kind !== "host")) return;
        const limit = node.kind === "switch" ? node.ports : 1000;
        const first = node.kind === "switch" ? 1 : 0;
        for (let p = first; p < limit; p++) {
          const slot = node.kind === "switch" ? String(p) : `eth${p}`;
          if (!take(node.name, slot)) continue;
          if (node.kind === "switch") link.ends[i]!.port = p;
          else link.ends[i]!.iface = slot;
          return;
        }
        this.#error(
          end.at,
          `switch ${node.name} has no free port left: ports 1-${limit - 1} are taken ` +
            `(ports: ${limit} counts port 0, which is for management clients)`,
        );
      });
    }
  }

  /** Where each item of a host's addresses on `iface` is, for #checkSameLan. */
  #noteAddresses(host: string, iface: string, e: Entry | undefined): void {
    for (const item of itemsOf(e)) {
      if (isScalar(item)) this.#addressAt.set(`${host} ${iface} ${String(item.value)}`, item);
    }
  }

  /** Two hosts (or interfaces) on one LAN with one address, or a host on a slirp's: each neighbour reaches either. */
  #checkSameLan(nodes: LabNode[], links: LabLink[], nodeKeys: Map<string, Node>): void {
    for (const { at, message } of lanClashes(nodes, links)) {
      this.#error(
        this.#addressAt.get(`${at.host} ${at.iface} ${at.address}`) ?? nodeKeys.get(at.host),
        message,
      );
    }
  }

  /** Names that become namespaces must fit the kernel's limits (taps are cut to fit: tapName). */
  #checkNames(lab: string, nodes: LabNode[], links: LabLink[], nodeKeys: Map<string, Node>): void {
    for (const node of nodes) {
      if (node.kind !== "host") continue;
      const at = nodeKeys.get(node.name);
      const ns = netnsName(lab, node.name);
      if (ns.length > MAX_NETNS) {
        this.#error(at, `namespace name ${ns} is longer than ${MAX_NETNS} characters`);
      }
      for (const ifname of this.#options.live || this.#linkLeftOut ? [] : Object.keys(node.addresses)) {
        if (!links.some((l) => l.ends.some((e) => e.node === node.name && e.iface === ifname))) {
          this.#error(
            at,
            `host ${node.name} has an address on ${ifname} but no link there${
              movedHint(node, ifname, links)
            }`,
          );
        }
      }
    }
  }
}

/**
 * What to write when host `node`'s address on `ifname` (`address:` is eth0's) has no link there but the
 * host has links on other interfaces: containerlab's habit is `h1:eth1` for a host's first link (its eth0
 * being the management network), which leaves `address:` on an eth0 that is not there. "" when the host
 * has no link elsewhere, or every interface it has carries an address already.
 */
function movedHint(node: HostNode, ifname: string, links: readonly LabLink[]): string {
  const ifaces = links.flatMap((l) => l.ends.filter((e) => e.node === node.name).map((e) => e.iface ?? ""));
  const free = ifaces.find((i) => i !== "" && node.addresses[i] === undefined);
  if (free === undefined) return "";
  const addrs = node.addresses[ifname] ?? [];
  const value = addrs.length === 1 ? addrs[0] : `[${addrs.join(", ")}]`;
  return ` (its link is on ${free}: \`interfaces: { ${free}: ${value} }\` puts the address there, ` +
    `or \`${node.name}:${ifname}\` for \`${node.name}:${free}\` in the link moves the link)`;
}

/**
 * The IPv4 subnets of `addresses` (as "a/24, b/24") when IPv4 `gateway` is
 * on none of them, else undefined (also for IPv6, DHCP or no IPv4 address:
 * nothing to tell from the file).
 */
function offSubnets(gateway: string, addresses: Record<string, string[]>): string | undefined {
  const own = Object.values(addresses).flat();
  const v4 = own.filter((a) => isIpv4(a.split("/")[0]!));
  if (!isIpv4(gateway) || own.includes("dhcp") || v4.length === 0) return undefined;
  return v4.some((a) => ipv4InSubnet(gateway, a)) ? undefined : v4.join(", ");
}

/** The interface of `host`'s own `addresses` that holds `gateway` (as `10.0.2.10` in `10.0.2.10/24`). */
function ownAddress(gateway: string, addresses: Record<string, string[]>): string | undefined {
  const own = ipKey(gateway);
  return own === undefined
    ? undefined
    : Object.keys(addresses).find((i) => addresses[i]!.some((a) => ipKey(a) === own));
}

/** What a gateway that is the host's own address is (Linux takes it for IPv4 and then routes nowhere). */
function ownGateway(gateway: string, host: string, addresses: Record<string, string[]>): string {
  return `${gateway} is ${host}'s own address (${ownAddress(gateway, addresses)}): ` +
    `the gateway is the router's, another node on the LAN (a slirp's, unless its vnet says, is 10.0.2.2)`;
}

/** A route is `PREFIX via GATEWAY`, `default via GATEWAY` or `PREFIX dev ethN`. */
function checkRoute(route: string): string | undefined {
  const m = /^(\S+)\s+(via|dev)\s+(\S+)$/.exec(route.trim());
  if (m === null) return `expected "PREFIX via GATEWAY" or "PREFIX dev ethN", got "${route}"`;
  if (m[1] !== "default" && !parseCidr(m[1]).ok) return `"${m[1]}" is not a prefix such as 10.1.0.0/16`;
  if (m[2] === "via" && !isIp(m[3]!)) return `gateway "${m[3]}" is not an IP address`;
  if (m[2] === "dev" && !IFACE.test(m[3]!)) return `device "${m[3]}" must be eth0, eth1, ...`;
  return undefined;
}

/**
 * containerlab's extended endpoint, `{ node: h1, interface: eth1 }`, as the
 * `h1:eth1` it means (a switch's interface is its port's number here); ""
 * for any other shape, which the caller refuses.
 */
function containerlabEndpoint(it: Node): string {
  if (!isMap(it)) return "";
  const end = it.toJSON() as Record<string, unknown>;
  const keys = Object.keys(end);
  if (typeof end.node !== "string" || !keys.every((k) => k === "node" || k === "interface")) return "";
  const iface = end.interface;
  if (iface === undefined) return end.node;
  return typeof iface === "string" || typeof iface === "number" ? `${end.node}:${iface}` : "";
}
