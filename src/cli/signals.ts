/**
 * Signal handling for the long-running commands: they listen from their
 * first line, so a signal during start-up still runs their cleanup.
 */

/** The signals that stop a command, as for vde_switch: interrupt, terminate, hang-up. */
export const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Calls `handler` on any of `signals`; returns the function that removes the listeners. */
export function onSignals(handler: (signal: Deno.Signal) => void, signals = STOP_SIGNALS): () => void {
  const handlers = signals.map((s) => [s, () => handler(s)] as const);
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  return () => {
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  };
}

/** A stop request: by one of `signals` (its name is the reason) or by `stop(reason)`. */
export interface StopRequest {
  /** Resolves with the reason of the first stop. */
  stopped: Promise<string>;
  stop(reason: string): void;
  /** Removes the signal listeners. */
  remove(): void;
}

/** Listens for `signals` until `remove`; the first one (or `stop`) resolves `stopped`. */
export function untilSignal(signals = STOP_SIGNALS): StopRequest {
  const { promise, resolve } = Promise.withResolvers<string>();
  return { stopped: promise, stop: resolve, remove: onSignals(resolve, signals) };
}
