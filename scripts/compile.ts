/**
 * `deno task compile [--target TRIPLE] [--output PATH]`: the single
 * executable, `vde` in this directory unless `--output` names another path.
 *
 * Theory of operation: `deno compile` embeds what the entry point imports,
 * but the data-plane workers are started by URL, which it cannot follow;
 * each must be named with `--include` or the binary fails when it starts
 * one (`vde switch` does at once: its switch thread is the default). The
 * workers are listed once, in src/dataplane/worker_url.ts, for this script
 * and for scripts/bundle.ts, so the release workflow (which runs this task
 * per target) cannot fall behind a new worker. Every argument given is
 * passed on to `deno compile`. The binary carries vde's V8 flags
 * (src/cli/v8_flags.ts), as `deno compile --v8-flags` bakes them in.
 */
import { WORKER_NAMES } from "../src/dataplane/worker_url.ts";
import { V8_FLAGS } from "../src/cli/v8_flags.ts";

const ROOT = new URL("../", import.meta.url);

/** The arguments of `deno compile` for the binary, with `extra` (a target, an output) before the entry point. */
export function compileArgs(extra: readonly string[]): string[] {
  const named = extra.some((a) => a === "-o" || a === "--output" || a.startsWith("--output="));
  return [
    "compile",
    "-A",
    `--v8-flags=${V8_FLAGS}`,
    ...WORKER_NAMES.flatMap((name) => ["--include", new URL(`src/dataplane/${name}.ts`, ROOT).pathname]),
    ...(named ? [] : ["--output", "vde"]),
    ...extra,
    new URL("src/cli/vde.ts", ROOT).pathname,
  ];
}

if (import.meta.main) {
  const { code } = await new Deno.Command(Deno.execPath(), { args: compileArgs(Deno.args) }).spawn().status;
  Deno.exit(code);
}
