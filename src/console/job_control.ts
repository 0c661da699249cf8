/**
 * A console on the terminal for a program that serves (a switch, a filter, a
 * lab), under a shell's job control.
 *
 * A program in the background of a shell (`vde switch &`, or after Ctrl-Z
 * and `bg`) must not touch the terminal: setting it up, or reading it, would
 * stop the whole program (SIGTTOU, SIGTTIN), forwarding included, until
 * `fg`. So the console exists only while the program owns the terminal:
 * started in the background, the program waits (looking cheaply every half
 * second, since `fg` sends a running job no signal) and takes the terminal
 * once it is in the foreground. Ctrl-Z closes the console (the terminal is
 * restored) and stops the program as a job is stopped; when continued, the
 * program takes the console again if `fg` continued it, and otherwise
 * serves on without one.
 *
 * Deno, as it exits, sets the terminal back to the mode it had before a
 * console's raw mode, which a process in the background may not do either:
 * SIGTTOU stops it there for good (a lab stopped with Ctrl-Z and taken down
 * by `vde down` finished its take-down, then hung until killed). Its console
 * restored the terminal as it was stopped, so such a process ends without
 * Deno's exit handlers (exitProcess).
 */
import { libc } from "../../ffi/libc.ts";

/** A console that can be closed; what `start` returns. */
export interface ClosableConsole {
  close(): void;
}

/**
 * Whether this process may use its terminal: false when a shell's job
 * control put it in the background. /proc/self/stat holds the process
 * group (field 5) and the terminal's foreground group (field 8).
 */
export function inForeground(): boolean {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pgrp = Number(fields[2]);
    const foreground = Number(fields[5]);
    return foreground <= 0 || foreground === pgrp;
  } catch {
    return true;
  }
}

/** Whether a console ran on the terminal (in raw mode, which Deno restores at exit). */
let consoleRan = false;

/**
 * Ends the process with status `code`: as Deno.exit, but for a process whose console ran and that is in
 * the background of its shell now, without Deno's restoring of the terminal's mode (see above).
 */
export function exitProcess(code: number): never {
  if (consoleRan && !inForeground()) libc()._exit(code);
  Deno.exit(code);
}

/** How often a program in the background looks whether `fg` gave it the terminal. */
const FOREGROUND_POLL_MS = 500;

/**
 * Runs the console `start` makes while the program owns the terminal.
 * `start` gets the function its Ctrl-Z must call; `inBackground` is logged
 * each time the program runs on without a console.
 */
export function consoleWhileForeground(
  start: (onSuspend: () => void) => ClosableConsole,
  inBackground: () => void,
): ClosableConsole {
  let running: ClosableConsole | null = null;
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  const attach = () => {
    if (inForeground()) {
      consoleRan = true;
      running = start(suspend);
      return;
    }
    inBackground();
    const poll = setInterval(() => {
      if (!inForeground()) return;
      clearInterval(poll);
      consoleRan = true;
      running = start(suspend);
    }, FOREGROUND_POLL_MS);
    Deno.unrefTimer(poll);
    timer = poll;
  };
  const suspend = () => {
    running?.close();
    running = null;
    // Stops here; `fg` or `bg` continues from the next line.
    Deno.kill(Deno.pid, "SIGSTOP");
    if (!closed) attach();
  };
  attach();
  return {
    close: () => {
      closed = true;
      clearInterval(timer);
      running?.close();
    },
  };
}
