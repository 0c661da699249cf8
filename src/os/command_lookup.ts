/**
 * Whether a command can be run, asked before a wrapper that cannot say so
 * itself runs it: `ip netns exec` exits 1 both for a command that is not
 * there and for one that fails, where a shell, `nsenter` and `docker exec`
 * say 127 (not found) and 126 (found, not executable). The search is
 * execvp's: a name with a slash is that file, else each $PATH directory in
 * turn (an empty one is "."), the first executable file winning and a file
 * found but not executable answering 126 once none is. "Executable" is any
 * x bit on a regular file: the kernel still refuses one this user lacks the
 * bit for, and the wrapper's own status then says so, rather than this
 * refusing a command that would have run.
 */

/** Why a command cannot run: the status a shell gives it (127 not there, 126 not executable) and its words. */
export interface Unrunnable {
  status: 126 | 127;
  why: string;
}

const NOT_FOUND: Unrunnable = { status: 127, why: "command not found" };

/** What is at `path`, links followed. */
function kindAt(path: string): "executable" | "directory" | "other" | "none" {
  try {
    const stat = Deno.statSync(path);
    if (stat.isDirectory) return "directory";
    return stat.isFile && ((stat.mode ?? 0) & 0o111) !== 0 ? "executable" : "other";
  } catch {
    return "none";
  }
}

const NOT_EXECUTABLE: Unrunnable = { status: 126, why: "permission denied (not executable)" };

/** Why `command` cannot run as execvp would look it up on `path` (a $PATH value); undefined when it can. */
export function unrunnable(command: string, path = Deno.env.get("PATH") ?? ""): Unrunnable | undefined {
  if (command === "") return NOT_FOUND;
  if (command.includes("/")) {
    const kind = kindAt(command);
    if (kind === "executable") return undefined;
    if (kind === "none") return { status: 127, why: "no such file or directory" };
    return kind === "directory" ? { status: 126, why: "is a directory" } : NOT_EXECUTABLE;
  }
  // A directory of that name in a $PATH directory is passed over, as a shell does.
  let found = false;
  for (const dir of path.split(":")) {
    const kind = kindAt(`${dir === "" ? "." : dir}/${command}`);
    if (kind === "executable") return undefined;
    if (kind === "other") found = true;
  }
  return found ? NOT_EXECUTABLE : NOT_FOUND;
}
