/**
 * `vde tap create|delete NAME`: persistent taps, what vde_tunctl does. A tap
 * created with `--user` can later be opened by that user without root.
 */
import type { Command } from "commander";
import { createPersistentTap, deletePersistentTap } from "../../ffi/tun.ts";
import { resolveGroup, resolveUser } from "../vde/permissions.ts";
import type { Subcommand } from "./main.ts";

/** Registers `vde tap`. */
export const tapCommand: Subcommand = (program: Command) => {
  const tap = program.command("tap").description("manage persistent tap interfaces (like vde_tunctl)");
  tap.command("create")
    .description("create a persistent tap, optionally owned by a user who may then use it without root")
    .argument("<name>", "interface name (at most 15 characters)")
    .option("-u, --user <user>", "owner: user name or uid")
    .option("-g, --group <group>", "group: name or gid")
    .action((name: string, o: { user?: string; group?: string }) => {
      const uid = o.user === undefined ? undefined : resolveUser(o.user);
      const gid = o.group === undefined ? undefined : resolveGroup(o.group);
      createPersistentTap(name, uid, gid);
      console.log(`tap ${name} created${uid === undefined ? "" : ` for uid ${uid}`}`);
    });
  tap.command("delete")
    .description("delete a persistent tap")
    .argument("<name>", "interface name")
    .action((name: string) => {
      deletePersistentTap(name);
      console.log(`tap ${name} deleted`);
    });
};
