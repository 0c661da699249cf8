/**
 * `watch`: redraws a table (the switch's port counters and rates) every
 * interval until a key is pressed. Only at a terminal: it owns the screen
 * while it runs. What the table holds is the caller's `render`, which may
 * keep state between calls (rates need the previous sample).
 */
import process from "node:process";
import { parseInteger } from "./args.ts";
import type { CommandSpec } from "./registry.ts";
import type { Repl } from "./repl.ts";
import { Errno } from "./reply_format.ts";

const CLEAR_SCREEN = "\x1b[H\x1b[2J";
/** Longest interval `watch` accepts, seconds. */
const MAX_INTERVAL = 3600;

/**
 * Redraws `render()`'s lines every `intervalMs` until a key is pressed.
 * `render` failing ends the watch with its message on screen.
 */
export async function watchLoop(
  repl: Repl,
  title: string,
  render: () => Promise<string[]>,
  intervalMs: number,
): Promise<void> {
  await repl.grabKeyboard(async (keyPressed) => {
    let stopped = false;
    keyPressed.then(() => (stopped = true));
    while (!stopped) {
      let lines: string[];
      try {
        lines = await render();
      } catch (err) {
        process.stdout.write(`watch stopped: ${err instanceof Error ? err.message : String(err)}\n`);
        return;
      }
      const when = new Date().toLocaleTimeString();
      process.stdout.write(
        `${CLEAR_SCREEN}${title}, every ${intervalMs / 1000}s at ${when} (press any key to stop)\n\n${
          lines.join("\n")
        }\n`,
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([keyPressed, new Promise<void>((r) => (timer = setTimeout(r, intervalMs)))]);
      clearTimeout(timer);
    }
  });
}

/** The `watch [secs]` command for a REPL, drawing `render()`'s table. */
export function watchCommand(repl: Repl, render: () => Promise<string[]>): CommandSpec {
  return {
    path: "watch",
    syntax: "[secs]",
    help: "live port counters and rates, redrawn every secs (default 1) until a key is pressed",
    listing: false,
    run: async (args) => {
      const secs = args === "" ? 1 : parseInteger(args);
      if (secs === undefined || secs < 1 || secs > MAX_INTERVAL) return { code: Errno.EINVAL };
      await watchLoop(repl, "Port counters", render, secs * 1000);
      return { code: 0 };
    },
  };
}
