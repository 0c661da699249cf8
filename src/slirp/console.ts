/**
 * Console commands for a switch that has slirp stacks on its ports
 * (`vde switch --slirp`): `slirp/forward add|del|list` changes inbound
 * forwards at run time, `slirp/print` shows the stack's state. A refusal
 * says why in words sent before its result line (`failure`), so `vde term -c`
 * prints them on stderr and a terminal shows the words alone.
 *
 * A forward is a listening socket of this program's, on the host: from a
 * console another user reaches through its mode and group, one on a port
 * only root may listen on is refused (`othersPrivilegedForward`), or a
 * member of root's switch's console group had root take the host's port 80
 * (or 53, 443) for a guest of theirs.
 */
import type { CommandRegistry } from "../console/registry.ts";
import { failure, listing, type Session } from "../console/registry.ts";
import { Errno, type Reply } from "../console/reply_format.ts";
import type { SlirpLink } from "../link/slirp_link.ts";
import {
  ConfigError,
  formatForward,
  type ForwardSpec,
  parseForward,
  unprivilegedPortStart,
} from "./config.ts";
import { otherUserClient } from "../console/session_commands.ts";
import { userName } from "../os/users.ts";

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

/**
 * Why forward `spec` may not be added from `session`, or undefined where it may: its host port is one
 * only root may listen on (below net.ipv4.ip_unprivileged_port_start) and the console's client is
 * another user than ours, not root, who could not listen there themselves.
 */
export function othersPrivilegedForward(
  spec: ForwardSpec,
  session: Session,
  self: number | null = Deno.uid(),
  firstPort: number = unprivilegedPortStart(),
): Reply | undefined {
  const peer = otherUserClient(session, self);
  if (peer === undefined || spec.hostPort >= firstPort) return undefined;
  return failure(
    `host port ${spec.hostPort} is below ${firstPort}, which only root may listen on, and this console's ` +
      `client is ${userName(peer)}: forward a host port from ${firstPort} up (only ${
        self === null ? "this program's user" : userName(self)
      } may take a lower one)`,
    Errno.EPERM,
  );
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
    run: async (args, session) => {
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
            const spec = parseForward(arg, stack.config);
            const refused = othersPrivilegedForward(spec, session);
            if (refused !== undefined) return refused;
            const added = await stack.addForward(spec);
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
