/**
 * A lab file's text, read from its file. One to run (`vde up`, a running
 * lab's `apply` and `diff`) must be trusted as a switch's rc is: its `exec`
 * lines run as we do in the lab's hosts, so a file others may write, another
 * user's, or one on a way others may change is refused in one line with
 * what to do (owned_file.ts readTrustedFile judges it); one only read for
 * its name, or drawn (`vde graph`), is not. Kept apart from the YAML
 * reading (lab_text.ts), so this is all a namespace's test need load.
 */
import { readSmallFile, readTrustedFile, type Untrusted } from "../os/owned_file.ts";
import { stepAdvice, stepText, writersText } from "../os/trusted_path.ts";
import { userName } from "../os/users.ts";
import { shellQuoted } from "../shell_quote.ts";
import { namespaceOverflowUid } from "../os/user_namespace.ts";
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
    // In a rootless lab root's file (not the lab's own, vouched for) and another user's look alike.
    if (why.owner === namespaceOverflowUid()) {
      return `it is a user's this user namespace does not map (root or another), ${runs}: ` +
        "copy it into a directory of your own";
    }
    // Only root may give a file away; another user takes a copy, which is theirs.
    const fix = libc().geteuid() === 0 ? `chown ${me} ${shellQuoted(path)}` : "take a copy of your own";
    return `it is ${userName(why.owner)}'s, ${runs}: read it, then ${fix}`;
  }
  return `${writersText(why.mode, why.gid)} may write it (mode ${
    (why.mode & 0o7777).toString(8).padStart(4, "0")
  }), ${runs}: chmod go-w ${shellQuoted(path)}`;
}
