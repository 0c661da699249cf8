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

/**
 * `watch` over several switches (a lab's): each one's table under its
 * name, for the switches `names` gives at each redraw (one added meanwhile
 * included), each keeping its own previous sample for its rates.
 */
export function tablesByName(
  names: () => Promise<string[]>,
  tableFor: (name: string) => () => Promise<string[]>,
): () => Promise<string[]> {
  const tables = new Map<string, () => Promise<string[]>>();
  return async () => {
    const lines: string[] = [];
    for (const name of await names()) {
      let table = tables.get(name);
      if (table === undefined) tables.set(name, table = tableFor(name));
      lines.push(`${name}:`, ...await table(), "");
    }
    return lines.length > 0 ? lines : ["(no switches)"];
  };
}

/** The interval `watch` was given (default 1 s), in ms; undefined when out of range. */
export function watchInterval(args: string): number | undefined {
  const secs = args === "" ? 1 : parseInteger(args);
  return secs === undefined || secs < 1 || secs > MAX_INTERVAL ? undefined : secs * 1000;
}

/** The `watch [secs]` command for a REPL, drawing `render()`'s table. */
export function watchCommand(repl: Repl, render: () => Promise<string[]>): CommandSpec {
  return {
    path: "watch",
    syntax: "[secs]",
    help: "live port counters and rates, redrawn every secs (default 1) until a key is pressed",
    listing: false,
    run: async (args) => {
      const ms = watchInterval(args);
      if (ms === undefined) return { code: Errno.EINVAL };
      await watchLoop(repl, "Port counters", render, ms);
      return { code: 0 };
    },
  };
}
