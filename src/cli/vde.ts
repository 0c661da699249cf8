/**
 * The `vde` executable: every subcommand on one program. `deno task vde`,
 * `deno task install`, `deno task compile` and `deno task bundle` start
 * this file; the library (mod.ts) does not import it, so a library user
 * loads neither commander nor any subcommand.
 *
 * Its one static import is early_sigint.ts, which imports nothing: Deno
 * loads a module's whole static graph before it runs any of it, so the
 * SIGINT listener installed here comes about 50 ms after exec, and the
 * command line (command_loaders.ts, commander and the command's module)
 * is loaded after it, where a Ctrl-C while it loads stops the process.
 */
import { listenForEarlySigint } from "./early_sigint.ts";

/** Runs `vde ARGS` and exits with its status. */
export async function main(args: string[]): Promise<never> {
  listenForEarlySigint();
  const { runVde } = await import("./command_loaders.ts");
  return await runVde(args);
}

if (import.meta.main) await main(Deno.args);
