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
export { CableListener, ListenerSession } from "./src/cable/listener.ts";
export type { CableListenerOptions } from "./src/cable/listener.ts";
export { CableClient, defaultSessionId } from "./src/cable/client.ts";
export type { CableClientOptions } from "./src/cable/client.ts";
export { CableSession } from "./src/cable/session.ts";
export { generateKeyFile, keyFromBytes, loadKey } from "./src/cable/key.ts";
export type { CableKey } from "./src/cable/key.ts";
export { openCableClient, parseTcpVnl, startCableListener } from "./src/link/tcp_link.ts";
export { openUdpLink, UdpLink } from "./src/link/udp_link.ts";
export { openVxlanLink, VxlanLink } from "./src/link/vxlan_link.ts";
export { openVxvdeLink, VxvdeLink } from "./src/link/vxvde_link.ts";
export { openWireLink, parseWireVnl, WireLink } from "./src/link/wire_link.ts";
export type { WireVnl } from "./src/link/wire_link.ts";
export { WireFilter } from "./src/wirefilter/filter.ts";
export type { DirectionCounters, WireFilterOptions } from "./src/wirefilter/filter.ts";
export { parseWireValue } from "./src/wirefilter/value.ts";
export type { WireSetting, WireValue } from "./src/wirefilter/value.ts";
export { FakeClock, realClock } from "./src/wirefilter/clock.ts";
export type { Clock } from "./src/wirefilter/clock.ts";
export { openSlirpLink, SlirpLink } from "./src/link/slirp_link.ts";
export type { SlirpLinkOptions } from "./src/link/slirp_link.ts";
export { SlirpStack } from "./src/slirp/stack.ts";
export { defaultConfig as defaultSlirpConfig, parseForward, parseSlirpOptions } from "./src/slirp/config.ts";
export type { ForwardSpec, SlirpConfig } from "./src/slirp/config.ts";

import { runCli } from "./src/cli/main.ts";
import { SUBCOMMANDS } from "./src/cli/commands.ts";
import { toLongOptions } from "./src/cli/vde_switch_args.ts";

if (import.meta.main) {
  const code = await runCli([...SUBCOMMANDS], toLongOptions(Deno.args));
  Deno.exit(code);
}
