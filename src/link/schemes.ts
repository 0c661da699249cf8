/**
 * The built-in VNL schemes and the module that implements each, loaded on
 * first use: registry.ts seeds its table from this list, so importing the
 * library (or the registry) loads no transport, and `vde plug null:// -`
 * never loads the slirp stack. Each module registers its real factory with
 * `registerScheme` when it is evaluated.
 */

/** Scheme (without `://`) to the loader of the module that registers it. */
export const BUILTIN_SCHEMES: Readonly<Record<string, () => Promise<unknown>>> = {
  cmd: () => import("./cmd_link.ts"),
  null: () => import("./null_link.ts"),
  slirp: () => import("./slirp_link.ts"),
  stdio: () => import("./stdio_link.ts"),
  tap: () => import("./tap_link.ts"),
  tcp: () => import("./tcp_link.ts"),
  udp: () => import("./udp_link.ts"),
  vde: () => import("./vde_link.ts"),
  vxlan: () => import("./vxlan_link.ts"),
  vxvde: () => import("./vxvde_link.ts"),
  wire: () => import("./wire_link.ts"),
};
