/**
 * Where a data-plane worker's code comes from.
 *
 * Theory of operation: run from the checkout (or a `deno compile` binary
 * with `--include`), a worker starts from its own file beside this module.
 * `scripts/bundle.ts` makes dist/vde.js one self-contained file: it bundles
 * each worker to a string and puts those strings on `globalThis` before the
 * program's own code; here they become one blob URL per worker (made once,
 * kept for the life of the process), so the bundle needs no file beside it.
 */

/** The global the bundle's prelude sets: worker name to its bundled source. */
export const WORKER_SOURCES_KEY = "__vdeWorkerSources";

/**
 * Every data-plane worker, by its file's name in this directory: what the bundle carries and what
 * `deno compile` must `--include` (a worker started by URL is no static import either can follow).
 */
export const WORKER_NAMES = ["rx_worker", "plug_worker", "switch_worker", "slirp_worker"] as const;

/** One of the data-plane workers. */
export type WorkerName = typeof WORKER_NAMES[number];

const blobUrls = new Map<WorkerName, string>();

/** The URL to start worker `name` from: its bundled source when there is one, else `file`. */
export function workerUrl(name: WorkerName, file: URL): string {
  const cached = blobUrls.get(name);
  if (cached !== undefined) return cached;
  const sources = (globalThis as Record<string, unknown>)[WORKER_SOURCES_KEY] as
    | Partial<Record<WorkerName, string>>
    | undefined;
  const code = sources?.[name];
  if (code === undefined) return file.href;
  const url = URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
  blobUrls.set(name, url);
  return url;
}
