/**
 * The switch's full command set, in vde_switch's `help` order followed by
 * our own additions.
 */
import { addCoreCommands, addDataSocketCommands } from "./commands_core.ts";
import { addDebugCommands } from "./commands_debug.ts";
import { addFriendlyCommands } from "./commands_friendly.ts";
import { addHashCommands } from "./commands_hash.ts";
import { addMirrorCommands } from "./commands_mirror.ts";
import { addMcastCommands } from "./commands_mcast.ts";
import { addPortCommands } from "./commands_port.ts";
import { addStpCommands } from "./commands_stp.ts";
import { addVlanCommands } from "./commands_vlan.ts";
import type { ConsoleContext } from "./context.ts";
import { CommandRegistry } from "../registry.ts";

/** Builds the registry every console of this switch serves. */
export function switchCommands(ctx: ConsoleContext): CommandRegistry {
  const registry = new CommandRegistry();
  addDataSocketCommands(registry, ctx);
  addCoreCommands(registry, ctx);
  addDebugCommands(registry, ctx);
  addHashCommands(registry, ctx);
  addPortCommands(registry, ctx);
  addVlanCommands(registry, ctx);
  addStpCommands(registry, ctx);
  addFriendlyCommands(registry, ctx);
  addMirrorCommands(registry, ctx);
  addMcastCommands(registry, ctx);
  return registry;
}
