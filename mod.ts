/**
 * vde: Virtual Distributed Ethernet for Deno.
 *
 * The library: a switch engine and a Switch whose ports hold Links, a
 * vde_switch-compatible server, the console machinery, cables, the
 * wirefilter, and `openLink` for every VNL scheme (vde, stdio, cmd, null,
 * tap, tcp, udp, vxlan, vxvde, wire, slirp) with `plug` to join two links.
 * Transports load on first use: importing this module loads none of them,
 * nor the command line. The user-mode network stack is its own entry,
 * `@vde/vde/slirp` (src/slirp/mod.ts). Run as the main module, this file
 * hands over to the `vde` command line (src/cli/vde.ts).
 *
 * @example
 * ```ts ignore
 * import { openLink, plug, Switch, VdeSwitchServer } from "./mod.ts";
 * const sw = new Switch({ numPorts: 32 });
 * const server = await VdeSwitchServer.start(sw, { dir: "/tmp/net" });
 * ```
 * @module
 */
export type { FrameHandler, Link, LinkStats } from "./src/link/link.ts";
export { BaseLink } from "./src/link/link.ts";
export { openLink, registerScheme, schemes, splitVnl } from "./src/link/registry.ts";
export type { LinkFactory, OpenOptions } from "./src/link/registry.ts";
export { plug, plugsOnThread } from "./src/link/plug.ts";
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
export { ConsoleContext } from "./src/console/switch/context.ts";
export type { ConsoleContextOptions } from "./src/console/switch/context.ts";
export { switchCommands } from "./src/console/switch/switch_commands.ts";
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

if (import.meta.main) {
  // `deno run -A mod.ts ARGS` stays the command line; the library itself never loads it. The
  // specifier is computed so that type checking a user's script which imports this module does
  // not follow it into the CLI, whose bare imports ("commander") resolve only with this repo's
  // deno.json.
  const cli = new URL("./src/cli/vde.ts", import.meta.url).href;
  const { main }: { main(args: string[]): Promise<void> } = await import(cli);
  await main(Deno.args);
}
