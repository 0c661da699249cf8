/**
 * `vde tap create|delete NAME`: persistent taps, what vde_tunctl does. A tap
 * created with `--user` can later be opened by that user without root.
 * `vde tap list`: the taps that exist, as `ip tuntap list` shows them, with
 * who owns each and which processes hold it.
 */
import type { Command } from "commander";
import { createPersistentTap, deletePersistentTap, interfaceExists, TapError } from "../../ffi/tun.ts";
import { C } from "../../ffi/libc.ts";
import { resolveGroup, resolveUser } from "../vde/permissions.ts";
import { type Subcommand, UsageError } from "./main.ts";
import { examples } from "./help.ts";
import { formatHolders, listTapsHere, namingHolders, type TapInfo } from "../os/taps.ts";
import { groupName, userName } from "../os/users.ts";
import { renderTable } from "../console/switch/tables.ts";

/**
 * Runs a tap operation; without CAP_NET_ADMIN says that this very command
 * needs root (the tap layer's own hint, "create it first with vde tap
 * create", would send the user in a circle), and then `orElse`.
 */
function asRoot(name: string, command: string, suggestion: string, operation: () => void, orElse = ""): void {
  try {
    operation();
  } catch (err) {
    if (err instanceof TapError && (err.code === C.EPERM || err.code === C.EACCES)) {
      throw new UsageError(`${command} needs root (CAP_NET_ADMIN): run \`sudo ${suggestion}\`${orElse}`);
    }
    throw namingHolders(err, name);
  }
}

/**
 * The lines of `vde tap list`: one row per tap, owner and group by name,
 * "persistent" or "while held", up or down, and the holders as PID (COMMAND).
 */
export function tapListLines(taps: readonly TapInfo[]): string[] {
  if (taps.length === 0) return ["no tap interfaces"];
  return renderTable(
    ["NAME", "OWNER", "GROUP", "LIFETIME", "STATE", "HELD BY"].map((title) => ({
      title,
      align: "left" as const,
    })),
    taps.map((t) => [
      t.name,
      t.owner === null ? "-" : userName(t.owner),
      t.group === null ? "-" : groupName(t.group),
      t.persistent ? "persistent" : "while held",
      t.up ? "up" : "down",
      t.holders.length === 0 ? "-" : formatHolders(t.holders),
    ]),
  );
}

/** Registers `vde tap`. */
export const tapCommand: Subcommand = (program: Command) => {
  const tap = program.command("tap").description("manage persistent tap interfaces (like vde_tunctl)");
  // ip tuntap's words too (add, del, show): what a Linux admin types first.
  tap.command("create")
    .alias("add")
    .description(
      "create a persistent tap (as root), optionally owned by a user who may then use it without root",
    )
    .argument("<name>", "interface name (at most 15 characters)")
    .option("-u, --user <user>", "owner: user name or uid")
    .option("-g, --group <group>", "group: name or gid")
    .addHelpText("after", examples("vde tap create tap0 -u alice   # alice may use tap0 without root"))
    .action((name: string, o: { user?: string; group?: string }) => {
      const uid = o.user === undefined ? undefined : resolveUser(o.user);
      const gid = o.group === undefined ? undefined : resolveGroup(o.group);
      // The kernel hands back an existing tap as if it were new: say which it was.
      const existed = interfaceExists(name);
      // Without --user the suggestion adds it: the point of a persistent tap is a user who may open it.
      asRoot(
        name,
        `vde tap create ${name}`,
        `vde tap create ${name} --user ${o.user ?? "$USER"}${
          o.group === undefined ? "" : ` --group ${o.group}`
        }`,
        () => createPersistentTap(name, uid, gid),
        // A user without sudo has taps too, in a network namespace of their own, where they are root.
        "; without root, in a network namespace of your own (`unshare -rn`; README: Without root)",
      );
      // As given, and the number when a name was given: `user nobody (uid 65534)`.
      const named = (kind: string, given: string | undefined, id: number | undefined) =>
        id === undefined
          ? ""
          : given === String(id)
          ? `${kind === "user" ? "uid" : "gid"} ${id}`
          : `${kind} ${given} (${kind === "user" ? "uid" : "gid"} ${id})`;
      const owner = [named("user", o.user, uid), named("group", o.group, gid)].filter((o) => o !== "").join(
        ", ",
      );
      // An existing tap is kept, but takes the owner given: say so, not "kept" alone.
      console.log(
        !existed
          ? `tap ${name} created${owner === "" ? "" : ` for ${owner}`}`
          : `tap ${name} already exists; ${owner === "" ? "kept" : `kept, now for ${owner}`}`,
      );
    });
  tap.command("delete")
    .aliases(["del", "rm"])
    .description("delete a persistent tap")
    .argument("<name>", "interface name")
    .addHelpText("after", examples("vde tap delete tap0"))
    .action((name: string) => {
      asRoot(name, `vde tap delete ${name}`, `vde tap delete ${name}`, () => deletePersistentTap(name));
      console.log(`tap ${name} deleted`);
    });
  tap.command("list")
    .alias("show")
    .description(
      "list the tap interfaces (as ip tuntap list): owner, group, persistent or not, up or down, which processes hold each",
    )
    .addHelpText("after", examples("vde tap list"))
    .action(() => {
      const taps = listTapsHere();
      if (taps === null) {
        throw new UsageError(
          "vde tap list: /sys lists another network namespace's interfaces (unshare --net keeps the machine's), " +
            "and ip (iproute2), which asks the kernel, is not installed",
        );
      }
      for (const line of tapListLines(taps)) console.log(line);
    });
};
