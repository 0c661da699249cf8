/**
 * Which of a process's descriptors are pipes, for tests that pin who holds which end: a command lists its
 * shell's descriptors (`listFdsScript`), and the test keeps the pipes it made itself apart from those the
 * command inherited from the test (`pipesHeldHere`).
 */

/** The pipes (`pipe:[INODE]`) open in this process: what a child inherits, not what a test made. */
export function pipesHeldHere(): Set<string> {
  const held = new Set<string>();
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
      if (target.startsWith("pipe:")) held.add(target);
    } catch { /* the listing's own descriptor, closed */ }
  }
  return held;
}

/**
 * A shell script that lists its shell's descriptors, those it was started with, into `file`: a child shell
 * lists them and makes the redirection (dash makes a command's own in itself, around a vfork).
 */
export function listFdsScript(file: string): string {
  return `sh -c "ls -l /proc/$$/fd > ${file}"`;
}

/** The descriptors that are pipes in `file` (written by `listFdsScript`), but those in `inherited` or `skip`. */
export async function pipeFdsListed(
  file: string,
  inherited: Set<string>,
  skip: number[] = [],
): Promise<number[]> {
  return (await Deno.readTextFile(file)).split("\n").flatMap((line) => {
    const m = / (\d+) -> (pipe:\S+)$/.exec(line);
    const fd = Number(m?.[1]);
    return m !== null && !skip.includes(fd) && !inherited.has(m[2]!) ? [fd] : [];
  }).sort((a, b) => a - b);
}
