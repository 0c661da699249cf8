/**
 * A Ctrl-C (SIGINT) in a vde command's first moments, before the command
 * listens for it itself, still stops it.
 *
 * Theory of operation. A process starts with the disposition of SIGINT it
 * inherits, and Deno keeps it until the program adds a listener. From a
 * terminal that is the default action, which ends the process at once;
 * but a shell without job control (a script, a CI job) starts a command
 * run with `&` with SIGINT ignored. vde's commands listen once their
 * modules are loaded and their action starts, 0.1-0.4 s after exec on a
 * busy 2-core machine, so a `kill -INT` to such a command in that time was
 * lost: it ran on as if never told (`vde up -d` brought its lab up). The
 * entry (vde.ts) calls `listenForEarlySigint` first, before it loads the
 * command line, about 50 ms after exec.
 *
 * Until a command of ours listens for SIGINT, this listener ends the
 * process as the default action would: it removes itself and sends the
 * process SIGINT again, which Deno, with no listener left, ends it by, and
 * blocks the program until then (Deno ends it from a thread of its own, and a
 * program that ran on meanwhile could start what outlives it). The
 * process dies of SIGINT, so a shell waiting for it stops too, as for a C
 * tool. Nothing needs undoing then: a command makes nothing before it
 * listens. `onSignals` (signals.ts) hands SIGINT over: it adds the
 * command's listener first and then removes this one, so a signal Deno
 * has received but not yet dispatched finds one of them. After that a
 * command's SIGINT is its own: once it removes its listeners the default
 * action is back, as it always was.
 *
 * What remains: the ~50 ms from exec to this module's first line (Deno's
 * own start), when an inherited ignored SIGINT is still lost. This module
 * imports nothing, so loading it delays nothing.
 */

/** The listener until a command's own takes SIGINT; undefined before `listenForEarlySigint` and after. */
let early: (() => void) | undefined;

/** How long the process may take to die of its own SIGINT before it exits 130 instead. */
const RAISE_GRACE_MS = 2_000;

/** Listens for SIGINT until `handOverSigint`: one that comes first ends the process as SIGINT does. */
export function listenForEarlySigint(): void {
  if (early !== undefined) return;
  const listener = () => {
    handOverSigint();
    Deno.kill(Deno.pid, "SIGINT");
    // Deno acts on a signal no listener takes as the default action does, but on its own thread: until
    // then the program ran on, and a `vde up -d` spawned its background copy, orphaned as the parent died
    // (1 trial in about 150 at 500 ms under load). Blocked here, it makes nothing more; should a runtime
    // not end it, it still ends with the status a shell gives a command SIGINT ended.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RAISE_GRACE_MS);
    Deno.exit(130);
  };
  early = listener;
  Deno.addSignalListener("SIGINT", listener);
}

/** Removes the early listener: a listener of the command's has SIGINT now (or nothing listened early). */
export function handOverSigint(): void {
  if (early === undefined) return;
  Deno.removeSignalListener("SIGINT", early);
  early = undefined;
}
