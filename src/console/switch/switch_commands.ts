/**
 * The switch's full command set, in vde_switch's `help` order followed by
 * our own additions.
 */
import { addCoreCommands, addDataSocketCommands, addPluginCommands } from "./commands_core.ts";
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

/**
 * Builds the registry every console of this switch serves. Each command replies once the switch's
 * data-plane thread has applied what it changed, so the next command reads it (a reset's zeros); one
 * that changed nothing answers at once, even while the thread still warms up.
 */
export function switchCommands(ctx: ConsoleContext): CommandRegistry {
  const registry = new CommandRegistry(undefined, () => ctx.sw.changesFromHere());
  addDataSocketCommands(registry, ctx);
  addCoreCommands(registry, ctx);
  addDebugCommands(registry, ctx);
  addPluginCommands(registry);
  addHashCommands(registry, ctx);
  addPortCommands(registry, ctx);
  addVlanCommands(registry, ctx);
  addStpCommands(registry, ctx);
  addFriendlyCommands(registry, ctx);
  addMirrorCommands(registry, ctx);
  addMcastCommands(registry, ctx);
  return registry;
}
