/**
 * `deno task bundle`: writes ONE self-contained dist/vde.js (or the path
 * given as the first argument) that runs with `deno run -A`, offline, with
 * nothing beside it.
 *
 * Theory of operation: `deno bundle` inlines every static import, but the
 * data-plane workers are started by URL, which a bundle cannot follow. So
 * each worker is bundled on its own first, and its code goes into a prelude
 * that stores it on `globalThis` (the key src/dataplane/worker_url.ts reads)
 * ahead of the CLI's bundle; at run time the workers start from blob URLs
 * of that code. Run from the checkout, nothing sets the key and the workers
 * start from their files as before. The file starts with a `#!` line and is
 * executable, so it is a command as it is.
 */
import { WORKER_NAMES, WORKER_SOURCES_KEY, type WorkerName } from "../src/dataplane/worker_url.ts";
import { DENO_RUN } from "../src/cli/v8_flags.ts";

const ROOT = new URL("../", import.meta.url);
/**
 * Workers another worker starts: a vde:// link's receive thread, opened inside the slirp worker. A worker's
 * globalThis is its own, so each worker's code carries these sources in a prelude of its own. And a worker
 * names a nested worker's file as `new URL("./rx_worker.ts", import.meta.url)` before asking for its
 * source, which throws where import.meta.url is a blob URL: in a worker's code it is a file URL instead
 * (the file is never opened; its source comes from the prelude). Without both, `vde slirp` from the
 * bundle failed at start ("Invalid URL: './rx_worker.ts' with base 'blob:null/...'").
 */
const NESTED: readonly WorkerName[] = ["rx_worker"];
/**
 * The file runs as a command of its own (`./vde.js`, or copied to /usr/local/bin/vde), so `vde` is on the
 * PATH for what runs it by name: `vde dpipe vde plug ...`, `cmd://vde plug ...`, `ssh host vde plug ...`,
 * `sudo vde`. Deno takes a file without an extension as JavaScript; a `--daemon` copy re-runs the file
 * with `deno run -A` (src/cli/daemon.ts). `--quiet`: at a terminal Deno otherwise starts by clearing the
 * line for a progress bar (ESC[0G ESC[2K), which erased the shell's prompt when a `vde plug ... &` started
 * after the prompt was drawn. The V8 flags are vde's (src/cli/v8_flags.ts).
 */
const SHEBANG = `#!/usr/bin/env -S deno ${DENO_RUN.join(" ")} --quiet\n`;
const WORKER_BASE = JSON.stringify("file:///vde-bundle/src/dataplane/worker.js");

/** `deno bundle` of one entry point, returned as text. */
async function bundle(entry: string, tmp: string): Promise<string> {
  const out = `${tmp}/out.js`;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "-q", "--config", new URL("deno.json", ROOT).pathname, "-o", out, entry],
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`deno bundle ${entry} failed:\n${new TextDecoder().decode(stderr)}`);
  return await Deno.readTextFile(out);
}

/** The line that puts worker sources where src/dataplane/worker_url.ts looks for them. */
function preludeOf(sources: Partial<Record<WorkerName, string>>): string {
  return `globalThis[${JSON.stringify(WORKER_SOURCES_KEY)}] = ${JSON.stringify(sources)};\n`;
}

if (Deno.args.some((a) => a.startsWith("-")) || Deno.args.length > 1) {
  // An option is no file name: `deno task bundle --help` wrote a bundle named "--help".
  const help = Deno.args.length === 1 && ["--help", "-h"].includes(Deno.args[0]!);
  (help ? console.log : console.error)(
    "usage: deno task bundle [FILE]   (default dist/vde.js): one vde.js to run with deno run -A",
  );
  Deno.exit(help ? 0 : 2);
}
const target = Deno.args[0] ?? new URL("dist/vde.js", ROOT).pathname;
const tmp = await Deno.makeTempDir({ prefix: "vde-bundle-" });
try {
  const sources: Partial<Record<WorkerName, string>> = {};
  for (const name of WORKER_NAMES) {
    sources[name] = await bundle(new URL(`src/dataplane/${name}.ts`, ROOT).pathname, tmp);
  }
  const nested = Object.fromEntries(NESTED.map((name) => [name, sources[name]]));
  for (const name of WORKER_NAMES) {
    const code = sources[name]!.replaceAll("import.meta.url", WORKER_BASE);
    sources[name] = NESTED.includes(name) ? code : preludeOf(nested) + code;
  }
  const main = await bundle(new URL("src/cli/vde.ts", ROOT).pathname, tmp);
  const prelude = preludeOf(sources);
  const dir = target.slice(0, target.lastIndexOf("/"));
  if (dir !== "") await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(target, SHEBANG + prelude + main.replace(/^#!.*\n/, ""));
  await Deno.chmod(target, 0o755);
  // Success was silent: say where the file is and how it runs.
  const mb = (await Deno.stat(target)).size / 1e6;
  console.error(
    `wrote ${target} (${mb.toFixed(1)} MB); run it with: deno ${DENO_RUN.join(" ")} ${target} --help, ` +
      `or as a command: install -m 755 ${target} /usr/local/bin/vde`,
  );
} finally {
  await Deno.remove(tmp, { recursive: true });
}
