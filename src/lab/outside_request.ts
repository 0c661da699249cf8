/**
 * A rootless lab's request for a slirp or cable node added live
 * (`NODE.outside.json`, outside.ts), checked by the process outside before
 * it opens anything on the machine's network.
 *
 * Theory of operation. The request is the node the lab's process resolved
 * from its lab file; but it is a file, and the process outside takes
 * nothing it opens from a file unchecked. Its settings are the lab file's
 * own keys (kind, forwards, options, mtu; connect, listen, key, insecure),
 * so they are put back into a one-node lab file and run through the lab
 * file's validator (validate.ts), the very checks `vde up` made: a bad
 * request is refused with the validator's words, in one printable line
 * (control characters in what it quotes become `?`), and what is
 * opened is the node the validator made, with nothing else the file held.
 */
import { Document } from "yaml";
import { validateLab } from "./validate.ts";
import { printable } from "../console/reply_format.ts";
import type { CableNode, SlirpNode } from "./spec.ts";

/**
 * Node `name` of lab `lab` as request `asked` gives it, checked as the lab file's would be (relative key
 * files read from `baseDir`).
 *
 * @throws Error in one line: what is wrong with it
 */
export function checkedRequest(
  lab: string,
  name: string,
  asked: unknown,
  baseDir: string,
): SlirpNode | CableNode {
  const settings = typeof asked === "object" && asked !== null && !Array.isArray(asked)
    ? { ...asked as Record<string, unknown> }
    : {};
  const named = settings.name;
  delete settings.name;
  if (named !== name || (settings.kind !== "slirp" && settings.kind !== "cable")) {
    throw new Error(printable(`${name}: no slirp or cable node asked for`));
  }
  const text = new Document({ name: lab, topology: { nodes: { [name]: settings } } }).toString();
  const { lab: checked, errors } = validateLab(text, { filesFrom: baseDir });
  const node = checked?.nodes[0];
  if (node?.kind === "slirp" || node?.kind === "cable") return node;
  // The validator quotes what it refuses as it was written: a value with a newline or a terminal escape in it
  // would break the refusal's one line (the lab shows it to its user), so control characters become `?`.
  throw new Error(
    printable(errors.map((e) => e.message).join("; ") || `${name}: no slirp or cable node asked for`),
  );
}
