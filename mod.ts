/**
 * vde: Virtual Distributed Ethernet for Deno.
 *
 * The library: a switch engine and a Switch whose ports hold Links, a
 * vde_switch-compatible server, VNL links (vde://, stdio, cmd://, null://)
 * and `plug` to join two links. Run as the main module, this file is the
 * `vde` command line: `deno run -A mod.ts switch --sock /tmp/net`.
 *
 * @example
 * ```ts ignore
 * import { openLink, plug, Switch, VdeSwitchServer } from "./mod.ts";
 * const sw = new Switch({ numPorts: 32 });
 * const server = await VdeSwitchServer.start(sw, { dir: "/tmp/net" });
 * ```
 * @module
 */
import "./src/link/schemes.ts";
export type { FrameHandler, Link, LinkStats } from "./src/link/link.ts";
export { BaseLink } from "./src/link/link.ts";
export { openLink, registerScheme, schemes, splitVnl } from "./src/link/registry.ts";
export type { LinkFactory, OpenOptions } from "./src/link/registry.ts";
export { plug } from "./src/link/plug.ts";
export { openVdeLink, parseVdeVnl } from "./src/link/vde_link.ts";
export { openTapLink, TapLink } from "./src/link/tap_link.ts";
export { createPersistentTap, deletePersistentTap, TapError } from "./ffi/tun.ts";
export { SwitchEngine } from "./src/switch/engine.ts";
export type { EngineOptions } from "./src/switch/engine.ts";
export { PortRefused, Switch } from "./src/switch/switch.ts";
export type { AttachRequest, Endpoint, SwitchOptions } from "./src/switch/switch.ts";
export { VdeSwitchServer } from "./src/vde/switch_server.ts";
export type { SwitchServerOptions } from "./src/vde/switch_server.ts";
export { StreamDecoder, StreamEncoder } from "./src/wire/stream_framing.ts";
export { ConsoleContext } from "./src/console/context.ts";
export type { ConsoleContextOptions } from "./src/console/context.ts";
export { switchCommands } from "./src/console/switch_commands.ts";
export { CommandRegistry } from "./src/console/registry.ts";
export type { CommandSpec, Session } from "./src/console/registry.ts";
export { MgmtServer } from "./src/console/mgmt_server.ts";
export type { MgmtServerOptions } from "./src/console/mgmt_server.ts";
export { MgmtClient } from "./src/console/client.ts";
export type { RemoteReply } from "./src/console/client.ts";

import { runCli } from "./src/cli/main.ts";
import { switchCommand } from "./src/cli/switch.ts";
import { plugCommand } from "./src/cli/plug.ts";
import { dpipeCommand } from "./src/cli/dpipe.ts";
import { tapCommand } from "./src/cli/tap.ts";
import { toLongOptions } from "./src/cli/vde_switch_args.ts";
import { termCommand } from "./src/cli/term.ts";

if (import.meta.main) {
  const code = await runCli(
    [switchCommand, plugCommand, dpipeCommand, tapCommand, termCommand],
    toLongOptions(Deno.args),
  );
  Deno.exit(code);
}
