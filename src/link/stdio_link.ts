/**
 * The `stdio` scheme (VNL `-`): a stream link on this process's stdin and
 * stdout, as `vde_plug` uses them when one side is a pipe (dpipe, ssh).
 * Closing the link closes stdin, which is what interrupts a pending read
 * (otherwise it would keep the process alive); stdout stays open.
 */
import type { Link } from "./link.ts";
import { registerScheme } from "./registry.ts";
import { StreamLink } from "./stream_link.ts";

let inUse = false;

/** Opens the process's stdin/stdout as a link; only one may be open at a time. */
export function openStdioLink(): Link {
  if (inUse) throw new Error("stdio is already in use by another link");
  inUse = true;
  const link = new StreamLink("stdio", Deno.stdin, Deno.stdout, {
    release: () => {
      try {
        Deno.stdin.close();
      } catch {
        // already closed
      }
    },
  });
  link.closed.then(() => (inUse = false));
  return link;
}

registerScheme("stdio", (rest) => {
  if (rest !== "") return Promise.reject(new Error(`stdio:// takes no argument, found "${rest}"`));
  return Promise.resolve(openStdioLink());
});
