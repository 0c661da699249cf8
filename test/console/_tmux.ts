/**
 * A program running in a private tmux server, for tests of the interactive
 * console in a real pseudo-terminal: send keys, read the screen, wait for
 * text with a bound. `kill` stops the server and everything in it.
 */
import { hasCommand } from "../helpers/processes.ts";
import { VDE_CLI } from "../helpers/switches.ts";

/** Why tmux tests cannot run here, or null. */
export async function tmuxMissing(): Promise<string | null> {
  return (await hasCommand("tmux")) ? null : "needs tmux (apt-get install -y tmux)";
}

/** A tmux session on its own server socket. */
export class TmuxSession {
  readonly #socket: string;

  private constructor(socket: string) {
    this.#socket = socket;
  }

  /**
   * Starts `command` (a shell command line) in a 160x50 window. The pane
   * stays readable after the program ends: the shell prints `[exit N]` and
   * waits.
   */
  static async start(
    socket: string,
    command: string,
    env: Record<string, string> = {},
  ): Promise<TmuxSession> {
    const s = new TmuxSession(socket);
    const exports = Object.entries(env).map(([k, v]) => `${k}='${v.replaceAll("'", "'\\''")}'`).join(" ");
    const wrapped = `env ${exports} ${command}; echo "[exit $?]"; sleep 60`;
    await s.#tmux(["new-session", "-d", "-x", "160", "-y", "50", wrapped]);
    return s;
  }

  async #tmux(args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", this.#socket, ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  /** Sends keys (tmux key names such as Tab, Enter, Up, C-c, or literal text). */
  async keys(...keys: string[]): Promise<void> {
    await this.#tmux(["send-keys", ...keys]);
  }

  /** The screen and its scrollback as text, trailing blank lines removed. */
  async screen(): Promise<string> {
    return (await this.#tmux(["capture-pane", "-p", "-S", "-500"])).replace(/\n+$/, "");
  }

  /** The last non-blank line of the screen (usually the prompt line). */
  async lastLine(): Promise<string> {
    return (await this.screen()).split("\n").at(-1) ?? "";
  }

  /** Waits until `done(screen)` holds; returns the screen. */
  async waitFor(done: (screen: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (done(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the tmux server (and the program, if still running). Never throws. */
  async kill(): Promise<void> {
    try {
      await this.#tmux(["kill-server"]);
    } catch { /* already gone */ }
  }
}

/** Our switch with its console on a tmux terminal, its prompt shown; `dir` holds the switch, HOME and tmux. */
export interface SwitchAtTerminal {
  dir: string;
  prompt: string;
  tmux: TmuxSession;
}

/**
 * Starts `vde switch --sock DIR/sw` in tmux with a fresh HOME (so a fresh
 * history) and waits for its prompt. The caller kills tmux and removes `dir`.
 */
export async function switchAtTerminal(prefix: string): Promise<SwitchAtTerminal> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.mkdir(`${dir}/home`);
  const prompt = `vde[${dir}/sw]$ `;
  const tmux = await TmuxSession.start(
    `${dir}/tmux.sock`,
    `${VDE_CLI.join(" ")} switch --sock ${dir}/sw`,
    { HOME: `${dir}/home`, NO_COLOR: "1" },
  );
  try {
    await tmux.waitFor((s) => s.endsWith(prompt.trimEnd()), "the prompt", 30_000);
  } catch (err) {
    await tmux.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  return { dir, prompt, tmux };
}

/**
 * `fg` at the job-control shell in `tmux`; resolves once `prompt` (without its trailing space), which a
 * console draws as it takes the terminal, ends the screen. No Enter to draw it: on a loaded machine the
 * console read that Enter with the caller's next key (a Ctrl-Z), and a Ctrl-Z typed behind a line is that
 * line's command's (src/console/repl.ts), so the job never stopped.
 */
export async function foreground(tmux: TmuxSession, prompt: string, what: string): Promise<void> {
  await tmux.keys("fg", "Enter");
  await tmux.waitFor((s) => s.endsWith(prompt), what);
}
