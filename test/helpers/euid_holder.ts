/**
 * Silent connections to a server from several uids at once, as root (euid_holder.py): what a user of
 * many uids (their /etc/subuid range, a rootless container's) can hold against a per-user cap.
 */
import { fileURLToPath } from "node:url";
import { run } from "./processes.ts";

const HOLDER = fileURLToPath(new URL("./euid_holder.py", import.meta.url));

/** Of one uid's connections: how many the server kept, and the distinct texts of those it refused. */
export interface HeldAs {
  held: number;
  refused: string[];
}

/**
 * Opens `n` connections as each `[uid, n]` of `groups` to `target` (`unix:PATH`, `tcp:PORT`), waits
 * `seconds`, and says per uid what the server kept; the holder's output with it, for messages.
 */
export async function holdAs(
  target: string,
  seconds: number,
  groups: [number, number][],
): Promise<{ by: Map<number, HeldAs>; out: string }> {
  // Debian's own Python: a shim under root's home is not what the system runs.
  const r = await run([
    "/usr/bin/python3",
    HOLDER,
    target,
    String(seconds),
    ...groups.map(([u, n]) => `${u}x${n}`),
  ], {
    timeoutMs: 30_000,
  });
  const by = new Map<number, HeldAs>(groups.map(([uid]) => [uid, { held: 0, refused: [] }]));
  for (const line of r.stdout.split("\n")) {
    const m = /^(\d+) (?:(held)|refused (.*))$/.exec(line);
    const of = m === null ? undefined : by.get(Number(m[1]));
    if (of === undefined) continue;
    if (m![2] !== undefined) of.held++;
    else if (!of.refused.includes(m![3]!)) of.refused.push(m![3]!);
  }
  return { by, out: r.stdout + r.stderr };
}
