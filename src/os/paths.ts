/**
 * What a path is, asked without throwing: for error messages that say
 * which part of a path is wrong (a missing directory, a relative path meant
 * as an absolute one); and its directory, the one helper for it.
 */

/** Whether `path` is a directory (false where it is missing or cannot be seen). */
export function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Whether `path`, links followed, is a regular file (false where it is missing, a loop or a dangling link). */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Whether `path`, links followed, is a unix socket (a switch's `ctl`); false where nothing is. */
export function isSocket(path: string): boolean {
  try {
    return Deno.statSync(path).isSocket === true;
  } catch {
    return false;
  }
}

/** Whether anything is at `path` (a dangling symlink counts: it is there, to be replaced or kept). */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Which file a name held when it was opened or made: its device and inode (as `fstatOf` reads them). */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
}

/**
 * What `path` itself (a final symlink not followed) is, while it still is
 * the file `id`; undefined when the name is gone or now holds another file.
 */
export function stillNamed(path: string, id: FileIdentity): Deno.FileInfo | undefined {
  try {
    const st = Deno.lstatSync(path);
    return st.ino !== null && BigInt(st.dev) === id.dev && BigInt(st.ino) === id.ino ? st : undefined;
  } catch {
    return undefined;
  }
}

/** `path` resolved (`./sw1.rc` and `sw1.rc` are one file), or as given when it cannot be. */
export function realPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

/**
 * The one name of `path` from anywhere: its real path; or, where it does not
 * exist yet (a switch's directory before the switch makes it), its parent's
 * real path and its own name, so `./net`, `net/` and `/tmp/./net` name
 * `/tmp/net` whether it is there yet or not.
 */
export function wholePath(path: string): string {
  const absolute = (path.startsWith("/") ? path : `${Deno.cwd()}/${path}`).replace(/\/+$/, "") || "/";
  try {
    return Deno.realPathSync(absolute);
  } catch {
    const name = absolute.slice(absolute.lastIndexOf("/") + 1);
    const parent = realPath(dirOf(absolute));
    return `${parent === "/" ? "" : parent}/${name}`;
  }
}

/** The directory part of an absolute `path` ("/" for a file at the root). */
export function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/**
 * The directory above `dir` that we may not pass through (a home directory
 * of mode 700 holding the switch), when that is what refuses us: then no
 * mode of the switch's own would let us in.
 */
export function closedAncestor(dir: string): string | undefined {
  if (!dir.startsWith("/")) return undefined;
  const parts = dir.split("/").filter((p) => p !== "");
  for (let i = 1; i < parts.length; i++) {
    const above = `/${parts.slice(0, i).join("/")}`;
    try {
      Deno.statSync(`${above}/${parts[i]}`);
    } catch (err) {
      return err instanceof Deno.errors.PermissionDenied ? above : undefined;
    }
  }
  return undefined;
}
