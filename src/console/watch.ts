/**
 * `watch`: redraws the port table every interval until a key is pressed,
 * with each port's rates (frames/s and bits/s in and out) from the last two
 * samples. Only at a terminal: it owns the screen while it runs.
 */
import process from "node:process";
import { parseInteger } from "./args.ts";
import type { CommandSpec } from "./registry.ts";
import type { Repl } from "./repl.ts";
import { Errno } from "./reply_format.ts";
import { portRates, portsTable } from "./tables.ts";
import type { PortView } from "./views.ts";

const CLEAR_SCREEN = "\x1b[H\x1b[2J";
/** Longest interval `watch` accepts, seconds. */
const MAX_INTERVAL = 3600;

/**
 * Redraws the table of `sample()`'s ports every `intervalMs` until a key is
 * pressed. `sample` failing ends the watch with its message on screen.
 */
export async function watchLoop(
  repl: Repl,
  title: string,
  sample: () => Promise<PortView[]>,
  intervalMs: number,
): Promise<void> {
  await repl.grabKeyboard(async (keyPressed) => {
    let stopped = false;
    keyPressed.then(() => (stopped = true));
    let previous: { at: number; views: PortView[] } | undefined;
    while (!stopped) {
      let views: PortView[];
      try {
        views = await sample();
      } catch (err) {
        process.stdout.write(`watch stopped: ${err instanceof Error ? err.message : String(err)}\n`);
        return;
      }
      const at = performance.now();
      const rates = previous === undefined
        ? new Map()
        : portRates(previous.views, views, (at - previous.at) / 1000);
      previous = { at, views };
      const when = new Date().toLocaleTimeString();
      process.stdout.write(
        `${CLEAR_SCREEN}${title}, every ${intervalMs / 1000}s at ${when} (press any key to stop)\n\n${
          portsTable(views, rates).join("\n")
        }\n`,
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([keyPressed, new Promise<void>((r) => (timer = setTimeout(r, intervalMs)))]);
      clearTimeout(timer);
    }
  });
}

/** The `watch [secs]` command for a REPL, sampling `sample()`'s ports. */
export function watchCommand(repl: Repl, sample: () => Promise<PortView[]>): CommandSpec {
  return {
    path: "watch",
    syntax: "[secs]",
    help: "live port counters and rates, redrawn every secs (default 1) until a key is pressed",
    listing: false,
    run: async (args) => {
      const secs = args === "" ? 1 : parseInteger(args);
      if (secs === undefined || secs < 1 || secs > MAX_INTERVAL) return { code: Errno.EINVAL };
      await watchLoop(repl, "Port counters", sample, secs * 1000);
      return { code: 0 };
    },
  };
}
