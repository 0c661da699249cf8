/**
 * Signal handling for the long-running commands: they listen from their
 * first line, so a signal during start-up still runs their cleanup. A
 * second stop signal does not kill the process (its cleanup still removes
 * sockets and taps) but tells it to hurry: no data-plane thread still being
 * loaded by Deno is waited for (worker_handle.ts), which could otherwise
 * hold the stop for up to a minute.
 */
import { hurryStops } from "../dataplane/worker_handle.ts";
import { handOverSigint } from "./early_sigint.ts";

/** The signals that stop a command, as for vde_switch: interrupt, terminate, hang-up. */
export const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Calls `handler` on any of `signals`; returns the function that removes the listeners. A SIGINT listener
 * takes over from vde.ts's early one (early_sigint.ts), added before that one goes.
 */
export function onSignals(handler: (signal: Deno.Signal) => void, signals = STOP_SIGNALS): () => void {
  const handlers = signals.map((s) => [s, () => handler(s)] as const);
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  if (signals.includes("SIGINT")) handOverSigint();
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

/**
 * Listens for `signals` until `remove`; the first one (or `stop`) resolves `stopped`, a signal
 * after that hurries the stop under way.
 */
export function untilSignal(signals = STOP_SIGNALS): StopRequest {
  const { promise, resolve } = Promise.withResolvers<string>();
  let stopping = false;
  const stop = (reason: string) => {
    stopping = true;
    resolve(reason);
  };
  const onSignal = (signal: string) => {
    if (stopping) hurryStops();
    stop(signal);
  };
  return { stopped: promise, stop, remove: onSignals(onSignal, signals) };
}
