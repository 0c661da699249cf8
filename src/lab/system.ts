/**
 * The lab's hands on the machine: `ip` and commands inside namespaces, run
 * as child processes. Each helper either succeeds or throws one line that
 * says which command failed and what it printed, for the rollback message.
 */

/** Output of a finished command. */
export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to completion (at most `timeoutMs`), without throwing on a non-zero status. */
export async function runCommand(cmd: string[], timeoutMs = 30_000): Promise<CommandOutput> {
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `cmd`; throws `what: <stderr>` when it fails. */
export async function mustRun(cmd: string[], timeoutMs = 30_000): Promise<string> {
  const r = await runCommand(cmd, timeoutMs);
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit status ${r.code}`).split("\n").slice(-1)[0];
    throw new Error(`${cmd.join(" ")}: ${why}`);
  }
  return r.stdout;
}

/** Runs `ip` with `args`. */
export function ip(...args: string[]): Promise<string> {
  return mustRun(["ip", ...args]);
}

/** Kills every process in `ns`, then deletes it; a namespace already gone is fine. */
export async function deleteNetns(ns: string): Promise<void> {
  const pids = await runCommand(["ip", "netns", "pids", ns]);
  for (const pid of pids.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
    try {
      Deno.kill(Number(pid), "SIGKILL");
    } catch { /* gone */ }
  }
  const r = await runCommand(["ip", "netns", "delete", ns]);
  if (r.code !== 0 && !/No such file/.test(r.stderr)) {
    throw new Error(`ip netns delete ${ns}: ${r.stderr.trim()}`);
  }
}
