/**
 * A lab file's text read as the lab it brings up: its variables expanded
 * (variables.ts), then validated (validate.ts), with the name a command
 * gave over the file's (`--name`). `vde up`, `vde graph`, and a running
 * lab's `diff` and `apply` all read a file through here, so each sees the
 * same lab in it. A file to run (`vde up`, `apply`) must be trusted as a
 * switch's rc is: its commands run as ours in the lab's hosts, so a file
 * others may write, or another user's, or one on a way others may change,
 * is refused with what to do; one only read for its name or drawn is not.
 */
import { expandVariables, type Lookup } from "./variables.ts";
import { validateLab, type ValidateOptions, type ValidationResult } from "./validate.ts";
import { readSmallFile, readTrustedFile, type Untrusted } from "../os/owned_file.ts";
import { stepAdvice, stepText, writersText } from "../os/trusted_path.ts";
import { userName } from "../os/users.ts";
import { libc } from "../../ffi/libc.ts";

/** Most a lab file may be: a big lab's is tens of kilobytes; a larger YAML file is something else. */
export const MAX_LAB_FILE_BYTES = 1 << 20;

/**
 * The text of lab file `path`, read as a small regular file (owned_file.ts): a name leading to /dev/zero
 * or to a FIFO nobody writes is refused, not read without end or waited on (in a running lab's `apply`,
 * with the whole lab).
 *
 * @throws Deno.errors.NotFound when there is no such file, else an Error whose message is why, in a few words
 */
export function labFileText(path: string): string {
  const file = readSmallFile(path, MAX_LAB_FILE_BYTES);
  if (typeof file !== "string") return file.text;
  throw readFailure(file);
}

/** A read's failure, as labFileText throws it: NotFound for `no such file`, else an Error of `why`. */
function readFailure(why: string): Error {
  return why === "no such file" ? new Deno.errors.NotFound(why) : new Error(why);
}

/**
 * The text of lab file `path` to run: read as labFileText reads it, and only where it is as trusted as a
 * switch's rc (readTrustedFile), for its `exec` lines and its hosts' commands run as we do (root's `vde
 * up` of a 0666 lab.yaml, or of another user's, ran whatever they put in it as root in the lab's hosts).
 *
 * @throws as labFileText, the refusal's words (what to do) as the message
 */
export function trustedLabText(path: string): string {
  const file = readTrustedFile(path, MAX_LAB_FILE_BYTES);
  if (typeof file === "string") throw readFailure(file);
  if ("text" in file) return file.text;
  throw new Error(untrustedLabText(path, file));
}

/** Why lab file `path` is not run, with what to do, as an rc's refusal says it (session_commands.ts). */
function untrustedLabText(path: string, why: Untrusted): string {
  const me = userName(libc().geteuid());
  const runs = `and its commands would run as ${me}`;
  if ("step" in why) {
    return `it is reached through ${stepText(why.step)}, which may lead the name to any file, ${runs}: ` +
      stepAdvice(why.step);
  }
  if ("owner" in why) {
    // Only root may give a file away; another user takes a copy, which is theirs.
    const fix = libc().geteuid() === 0 ? `chown ${me} ${path}` : "take a copy of your own";
    return `it is ${userName(why.owner)}'s, ${runs}: read it, then ${fix}`;
  }
  return `${writersText(why.mode, why.gid)} may write it (mode ${
    (why.mode & 0o7777).toString(8).padStart(4, "0")
  }), ${runs}: chmod go-w ${path}`;
}

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
