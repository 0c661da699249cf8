/**
 * When a data-plane Worker's code has loaded: the moment a prompt on the
 * terminal may need drawing again.
 *
 * Theory of operation: `deno run` (stderr a terminal, no `--quiet`) loads a
 * module graph under its progress-bar draw thread, and that thread erases
 * the terminal's current line (ESC[0G ESC[2K ESC[J on stderr) as the load
 * starts and again as it ends, even with nothing to show. A Worker loads
 * its graph on its own thread after `new Worker` has returned, so both
 * erasures land at no set time: a prompt drawn meanwhile (the lab shell's
 * after `add switch`, whose reply comes before the switch thread has
 * loaded) was wiped, and the terminal showed none until the next key.
 *
 * Every worker body calls `announceLoaded()` as its module runs, which is
 * after Deno's load and its erasures are over. The Worker's handle
 * (`watchLoaded`) takes that word before its owner's `onmessage` can see
 * it and tells the `onWorkerLoaded` listeners; a console redraws its
 * prompt there. (A Worker started by a worker, the slirp thread's receive
 * thread, reports to that worker, which answers "ready" to the main thread
 * only once it runs.)
 *
 * The word is also each worker's first posted message, and that matters to
 * V8: the first message a Deno thread posts changes a prototype chain that
 * optimized typed-array code depends on, and `--trace-deopt` shows every
 * such function thrown away ("dependent prototype chain changed"), once.
 * Posted as the module runs, before any warm-up compiles anything, it makes
 * that change while nothing is optimized yet; a later first message (the
 * switch thread's "warmed", the slirp thread's "ready") would throw the
 * warmed code away. So `announceLoaded` stays at the module's top level,
 * never behind a warm-up.
 */

/** The word a worker posts once its code runs; no worker's own protocol uses it. */
const LOADED = "vde:worker-loaded";

const listeners = new Set<() => void>();

/**
 * Calls `listener` each time a Worker of this thread has loaded its code.
 *
 * @returns a function that stops the calls
 */
export function onWorkerLoaded(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Takes `worker`'s loaded word out of its messages (the owner's `onmessage`
 * never sees it) and tells the listeners. Call before the owner sets
 * `onmessage`, so this listener runs first.
 *
 * @returns a promise that resolves when the worker's code runs
 */
export function watchLoaded(worker: Worker): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const onMessage = (e: MessageEvent) => {
    if (e.data !== LOADED) return;
    e.stopImmediatePropagation();
    worker.removeEventListener("message", onMessage);
    resolve();
    for (const listener of listeners) {
      try {
        listener();
      } catch { /* one listener's failure is not the worker's */ }
    }
  };
  worker.addEventListener("message", onMessage);
  return promise;
}

/**
 * Says, from a worker body, that its code has loaded. On the main thread
 * (slirp_thread.ts takes constants from slirp_worker.ts, which runs it
 * there too) there is no one to tell, and nothing is posted.
 */
export function announceLoaded(): void {
  (self as unknown as { postMessage?: (message: string) => void }).postMessage?.(LOADED);
}
