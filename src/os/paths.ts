/**
 * What a path is, asked without throwing: for error messages that say
 * which part of a path is wrong (a missing directory, a relative path meant
 * as an absolute one).
 */

/** Whether `path` is a directory (false where it is missing or cannot be seen). */
export function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
