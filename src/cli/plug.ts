/**
 * `vde plug VNL [VNL]`: a virtual cable between two links. With one VNL the
 * other end is stdin/stdout (as Debian's `vde_plug` does), so it can sit in
 * a dpipe or at the far end of ssh.
 */
import { onSignals } from "./signals.ts";
import type { Command } from "commander";
import type { Link } from "../link/link.ts";
import { plug } from "../link/plug.ts";
import { openLink, type OpenOptions, preloadSchemes } from "../link/registry.ts";
import type { Subcommand } from "./main.ts";
import { examples, vnlHelp } from "./help.ts";

interface PlugFlags {
  descr?: string;
  thread?: boolean;
}

/** Registers `vde plug`. */
export const plugCommand: Subcommand = (program: Command) => {
  program
    .command("plug")
    .description("join two VNLs with a virtual cable; with one VNL, join it with stdin/stdout")
    .argument("<vnl>", 'first end, e.g. /tmp/sw, vde:///tmp/sw[3], cmd://"ssh host vde plug", null://')
    .argument("[vnl2]", "second end; - is stdin/stdout", "-")
    .option("-D, --descr <text>", "description given to a switch")
    .option("--thread", "between two vde:// or tap:// ends, forward on a thread of its own (the default)")
    .option("--no-thread", "forward on the main thread even when both ends are vde:// or tap://")
    .addHelpText(
      "after",
      examples(
        "vde plug /tmp/net tap://tap0                      # a tap on the switch",
        "vde plug /tmp/net slirp://                        # NAT to the host on the switch",
        'vde plug /tmp/net cmd://"ssh hostB vde plug /tmp/net"  # two switches, one cable over ssh',
      ) + vnlHelp(),
    )
    .action(async (first: string, second: string, flags: PlugFlags) => {
      const options: OpenOptions = flags.descr === undefined ? {} : { description: flags.descr };
      // A signal ends the cable like EOF does: both links close, so each can say
      // goodbye (a vxvde leave notice, a tap it created removed). Listening from the
      // start: a signal while the ends are still opening closes what is open, exit 0.
      const ends: Link[] = [];
      let signalled = false;
      const removeSignals = onSignals(() => {
        signalled = true;
        for (const l of ends) l.close("stopped by a signal");
      });
      try {
        await preloadSchemes([first, second]);
        const a = await open(first, options);
        ends.push(a);
        if (signalled) {
          a.close("stopped by a signal");
          return;
        }
        let b: Link;
        try {
          b = await open(second, options);
        } catch (err) {
          a.close("the other end could not be opened");
          throw err;
        }
        ends.push(b);
        if (signalled) {
          a.close("stopped by a signal");
          b.close("stopped by a signal");
          return;
        }
        await plug(a, b, { thread: flags.thread !== false });
      } finally {
        removeSignals();
      }
    });
};

async function open(vnl: string, options: OpenOptions): Promise<Link> {
  try {
    return await openLink(vnl, options);
  } catch (err) {
    throw new Error(`cannot open ${vnl}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
