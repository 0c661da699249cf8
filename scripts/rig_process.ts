/**
 * The child processes of the A/B rigs (ping_rig.ts, plug_rig.ts): a command
 * run to its end, a long-running child kept in the rig's list (killed at
 * its end), the environment a rig adds to one side's processes, and a
 * bounded wait.
 */

/** Runs `cmd` to its end; its stdout, or (with `check`) an error naming its stderr when it failed. */
export async function sh(cmd: string[], check = true): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  if (check && !out.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Starts `cmd` with `env` added, its output discarded, and keeps it in `children`. */
export function spawnKept(
  children: Deno.ChildProcess[],
  cmd: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  // Debian's vde_switch takes stdin as its console and exits at its EOF: every child gets an open pipe.
  const p = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    env,
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  })
    .spawn();
  children.push(p);
  return p;
}

/** `K=V K2=V2` (RIG_A_ENV, RIG_B_ENV) as an environment. */
export function envOf(spec: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of (spec ?? "").split(" ").filter((s) => s !== "")) {
    const i = kv.indexOf("=");
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

/** Polls `fn` every 100 ms until it holds; throws after `ms`. */
export async function waitFor(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
