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
 *
 * `onPath` asks the looser question the lab shell's hint needs (is this
 * word a program's name?) with the same look at each entry: a bare name,
 * any regular file, x bit or not, an empty $PATH entry skipped.
 */

/** Why a command cannot run: the status a shell gives it (127 not there, 126 not executable) and its words. */
export interface Unrunnable {
  status: 126 | 127;
  why: string;
}

const NOT_FOUND: Unrunnable = { status: 127, why: "command not found" };

/** What is at `path`, links followed: a regular file with an x bit or without, a directory, else (a fifo, a device). */
function kindAt(path: string): "executable" | "file" | "directory" | "other" | "none" {
  try {
    const stat = Deno.statSync(path);
    if (stat.isDirectory) return "directory";
    if (!stat.isFile) return "other";
    return ((stat.mode ?? 0) & 0o111) !== 0 ? "executable" : "file";
  } catch {
    return "none";
  }
}

/** What each $PATH entry holds under `name`, in order; an empty entry is "." (`emptyIsCwd`, execvp's reading) or none. */
function* pathKinds(name: string, path: string, emptyIsCwd: boolean): Generator<ReturnType<typeof kindAt>> {
  for (const dir of path.split(":")) {
    if (dir !== "" || emptyIsCwd) yield kindAt(`${dir === "" ? "." : dir}/${name}`);
  }
}

/** Whether `name` (no slash) is a regular file in a directory of $PATH (`path`), as the lab shell's hint asks. */
export function onPath(name: string, path = Deno.env.get("PATH") ?? ""): boolean {
  if (name === "" || name.includes("/")) return false;
  for (const kind of pathKinds(name, path, false)) if (kind === "executable" || kind === "file") return true;
  return false;
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
  for (const kind of pathKinds(command, path, true)) {
    if (kind === "executable") return undefined;
    if (kind === "file" || kind === "other") found = true;
  }
  return found ? NOT_EXECUTABLE : NOT_FOUND;
}

/** The Debian package of each program the lab and the taps run, for the line that says one is missing. */
const PACKAGES: Record<string, string> = {
  ip: "iproute2",
  tc: "iproute2",
  setsid: "util-linux",
  unshare: "util-linux",
  nsenter: "util-linux",
  tcpdump: "tcpdump",
  udhcpc: "busybox",
  busybox: "busybox",
  dot: "graphviz",
};

/** Where Debian puts programs: one there but off the PATH (`su` without `-` leaves out /usr/sbin) is installed. */
const SYSTEM_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/**
 * What to say when `command` could not be started for not being found (Deno's "Failed to spawn 'ip': entity
 * not found" named neither the PATH it looked in nor the package that has it). Installed in a system
 * directory the PATH leaves out, the way out is that directory, not the package: `apt-get install iproute2`
 * would say it is installed already.
 */
export function missingProgram(
  command: string,
  path = Deno.env.get("PATH") ?? "",
  systemDirs = SYSTEM_DIRS,
): string {
  if (command.includes("/")) return `cannot run ${command}: there is no such file`;
  const onPath = new Set(path.split(":"));
  const dir = systemDirs.find((d) => !onPath.has(d) && unrunnable(command, d) === undefined);
  if (dir !== undefined) {
    return `cannot run ${command}: it is in ${dir}, which the PATH (${path}) leaves out: add it (PATH=$PATH:${dir})`;
  }
  const pkg = PACKAGES[command];
  return `cannot run ${command}: it is not on the PATH (${path})${
    pkg === undefined ? "" : `; it is Debian's ${pkg} (apt-get install ${pkg})`
  }`;
}
