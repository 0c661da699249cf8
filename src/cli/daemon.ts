/**
 * `--daemon` without fork(): the process starts a detached copy of itself
 * with the same arguments and waits until that copy is serving (its socket
 * appears) or has died, so the command's exit status still means something.
 */

const CHILD_MARK = "VDE_DAEMON_CHILD";

/** True in the background copy started by `daemonize`. */
export function isDaemonChild(): boolean {
  return Deno.env.get(CHILD_MARK) === "1";
}

/** The command line that runs this program again (script or compiled binary). */
function selfCommand(): { cmd: string; args: string[] } {
  const exe = Deno.execPath();
  const isDenoRuntime = /(^|\/)deno$/.test(exe) && Deno.mainModule.startsWith("file:");
  const args = isDenoRuntime
    ? ["run", "-A", new URL(Deno.mainModule).pathname, ...Deno.args]
    : [...Deno.args];
  return { cmd: exe, args };
}

/** Starts the background copy and waits until `readyPath` accepts connections. */
export async function daemonize(readyPath: string): Promise<void> {
  const { cmd, args } = selfCommand();
  const child = new Deno.Command(cmd, {
    args,
    env: { [CHILD_MARK]: "1" },
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited: Deno.CommandStatus | null = null;
  child.status.then((s) => (exited = s));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited !== null) {
      throw new Error(`the background switch exited with status ${(exited as Deno.CommandStatus).code}`);
    }
    try {
      // A stale socket may be there already: ready means it answers.
      const c = await Deno.connect({ transport: "unix", path: readyPath });
      c.close();
      child.unref();
      return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the background switch did not start within 10 s`);
}
