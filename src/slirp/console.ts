/**
 * Console commands for a switch that has slirp stacks on its ports
 * (`vde switch --slirp`): `slirp/forward add|del|list` changes inbound
 * forwards at run time, `slirp/print` shows the stack's state. A refusal
 * says why in words sent before its result line (`failure`), so `vde term -c`
 * prints them on stderr and a terminal shows the words alone.
 */
import type { CommandRegistry } from "../console/registry.ts";
import { failure, listing } from "../console/registry.ts";
import { Errno } from "../console/reply_format.ts";
import type { SlirpLink } from "../link/slirp_link.ts";
import { ConfigError, formatForward, type ForwardSpec, parseForward } from "./config.ts";

/** A slirp on a switch port. */
export interface AttachedSlirp {
  port: number;
  link: SlirpLink;
}

/**
 * Parses what `slirp/forward del` takes: a whole forward, or just
 * `PROTO:[HOSTIP:]HOSTPORT`, the host address empty too (`tcp::2222`, QEMU's
 * hostfwd_remove form, as `add` takes QEMU's `tcp::2222-:22`).
 */
export function parseForwardKey(text: string, link: SlirpLink): ForwardSpec {
  try {
    return parseForward(text, link.stack.config);
  } catch (err) {
    const m = /^(tcp|udp):(?:(\[[^\]]+\]|[\d.]*):)?(\d+)$/i.exec(text.trim());
    if (m === null) throw err;
    const host = m[2] || "0.0.0.0";
    return parseForward(`${m[1]}:${host}:${m[3]}:1`, link.stack.config);
  }
}

/** Registers the slirp commands; `slirps()` lists the stacks attached now. */
export function addSlirpCommands(registry: CommandRegistry, slirps: () => AttachedSlirp[]): void {
  registry.menu("slirp", "SLIRP MENU (user-mode networking)");
  const pick = (): AttachedSlirp | undefined => slirps()[0];
  registry.add({
    path: "slirp/forward",
    syntax: "add|del|list [tcp|udp:[HOSTIP:]HOSTPORT:[GUESTIP:]GUESTPORT]",
    help: "list, add or remove inbound port forwards of the slirp",
    listing: true,
    run: async (args) => {
      const s = pick();
      if (s === undefined) return failure("no slirp is attached to this switch", Errno.ENODEV);
      const [verb = "list", ...rest] = args.split(/\s+/).filter((w) => w !== "");
      const arg = rest.join(" ");
      const stack = s.link.stack;
      try {
        switch (verb) {
          case "list":
          case "print":
            return listing(stack.forwards().map((f) => formatForward(f, stack.config)));
          case "add": {
            if (arg === "") {
              return failure("usage: slirp/forward add tcp|udp:HOSTPORT:GUESTPORT", Errno.EINVAL);
            }
            const added = await stack.addForward(parseForward(arg, stack.config));
            return listing([`added ${formatForward(added, stack.config)}`]);
          }
          case "del":
          case "delete":
          case "remove": {
            if (arg === "") {
              return failure("usage: slirp/forward del tcp|udp:[HOSTIP:]HOSTPORT", Errno.EINVAL);
            }
            const spec = parseForwardKey(arg, s.link);
            if (!(await stack.removeForward(spec))) return failure(`no forward ${arg}`, Errno.ENOENT);
            return listing([`removed ${arg}`]);
          }
          default:
            return failure(`unknown action "${verb}": use add, del or list`, Errno.EINVAL);
        }
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        const code = err instanceof ConfigError
          ? Errno.EINVAL
          : /in use/.test(msg)
          ? Errno.EADDRINUSE
          : Errno.EINVAL;
        return failure(msg, code);
      }
    },
  });
  registry.add({
    path: "slirp/print",
    syntax: "",
    help: "show the slirp's addresses, leases and counters",
    listing: true,
    run: () => {
      const out: string[] = [];
      for (const s of slirps()) {
        const stack = s.link.stack;
        out.push(`slirp on port ${s.port}`, ...stack.describe().map((l) => `  ${l}`));
        for (const l of stack.dhcp.describe(stack.now())) out.push(`  lease ${l}`);
        const counters = Object.entries(stack.stats).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`);
        out.push(`  ${counters.join(" ")}`);
        const tcp = Object.entries(stack.tcp.stats).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`);
        if (tcp.length > 0) out.push(`  tcp ${tcp.join(" ")}`);
      }
      if (out.length === 0) return failure("no slirp is attached to this switch", Errno.ENODEV);
      return listing(out);
    },
  });
}
