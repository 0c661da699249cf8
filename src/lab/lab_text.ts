/**
 * A lab file's text read as the lab it brings up: its variables expanded
 * (variables.ts), then validated (validate.ts), with the name a command
 * gave over the file's (`--name`). `vde up`, `vde graph`, and a running
 * lab's `diff` and `apply` all read a file through here, so each sees the
 * same lab in it; the file itself is read by lab_file.ts.
 */
import { expandVariables, type Lookup } from "./variables.ts";
import { validateLab, type ValidateOptions, type ValidationResult } from "./validate.ts";

export { labFileText, MAX_LAB_FILE_BYTES, trustedLabText } from "./lab_file.ts";

/** How a lab file is read: validation's options, and where variables get their values. */
export interface ReadOptions extends ValidateOptions {
  /** A variable's value (default: the environment). */
  lookup?: Lookup;
}

/** The lab in `text`, or its mistakes; with the variables the environment gave. */
export function readLabText(
  text: string,
  options: ReadOptions = {},
): ValidationResult & { used: Record<string, string> } {
  const { lookup, ...validate } = options;
  const expanded = expandVariables(text, lookup);
  // A variable without a value: the file's other mistakes would be about the hole it left.
  if (expanded.errors.length > 0) return { errors: expanded.errors, used: expanded.used };
  const result = validateLab(expanded.text, validate);
  // Said where the file has them, not where the expanded text does (a value longer than its `${...}`).
  const errors = result.errors.map((e) => ({ ...e, ...expanded.at(e.line, e.col) }));
  return { ...result, errors, used: expanded.used };
}
