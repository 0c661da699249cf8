/**
 * What the main thread and the slirp thread (slirp_worker.ts) say to each
 * other: the start message, the reports, and the words of their shared
 * block. Apart from the worker so that the main thread, which imports it
 * (slirp_thread.ts), does not load the worker's module and with it the
 * whole slirp stack, which runs on the thread only.
 */
import type { LinkStats } from "../link/link.ts";
import type { SlirpConfig } from "../slirp/config.ts";
import type { Severity } from "../os/syslog.ts";

/** What the main thread posts once, to start the thread. */
export interface SlirpStart {
  config: SlirpConfig;
  /** The switch's datagram socket (connected, non-blocking); owned by the main thread. */
  fd: number;
  /** Eventfd the main thread writes to stop the loop. */
  wakeFd: number;
  /** Int32 [stop flag]. */
  shared: SharedArrayBuffer;
  /** Where the host's resolvers are listed (tests). */
  resolvConf?: string;
  /** The `slirp` label of the Prometheus metrics the thread renders on request (`--http`). */
  metricsName?: string;
}

/** What the thread tells the main thread. */
export type SlirpReport =
  | { type: "ready"; describe: string }
  /** The first gateway probe after plugging in was answered or went unanswered (`SlirpThread.probed`). */
  | { type: "probed" }
  | { type: "failed"; message: string }
  | { type: "log"; line: string; severity: Severity }
  | { type: "metrics"; text: string }
  | { type: "stopped"; reason: string | null; link: LinkStats };

/** Index of the stop flag in the shared Int32 view. */
export const SLIRP_STOP = 0;
/**
 * Index of the metrics request counter: the main thread bumps it and writes
 * the wake eventfd; the loop, seeing it move, renders the stack's metrics
 * (which live in this thread's memory) and posts them. A message would wait
 * for an event-loop turn the loop does not take while traffic flows.
 */
export const SLIRP_METRICS = 1;
