/**
 * The built-in VNL schemes and the module that implements each, loaded on
 * first use: registry.ts seeds its table from this list, so importing the
 * library (or the registry) loads no transport, and `vde plug null:// -`
 * never loads the slirp stack. Each module registers its real factory with
 * `registerScheme` when it is evaluated.
 */

/** A built-in scheme: where it is implemented, and what its links can do. */
export interface BuiltinScheme {
  /** Imports the module, which registers the scheme's factory. */
  load: () => Promise<unknown>;
  /**
   * Its links lend their fd to a plug thread (`lendFd`,
   * dataplane/plug_thread.ts): `vde plug` opens them for that thread from
   * the start (`plugsOnThread`). One that then cannot lend is logged.
   */
  lendsFd?: true;
}

/** Scheme (without `://`) to its module and abilities. */
export const BUILTIN_SCHEMES: Readonly<Record<string, BuiltinScheme>> = {
  bonding: { load: () => import("./node_link.ts") },
  cmd: { load: () => import("./cmd_link.ts") },
  hub: { load: () => import("./node_link.ts") },
  multi: { load: () => import("./node_link.ts") },
  null: { load: () => import("./null_link.ts") },
  ptp: { load: () => import("./ptp_link.ts"), lendsFd: true },
  seqpacket: { load: () => import("./seqpacket_link.ts") },
  slirp: { load: () => import("./slirp_link.ts") },
  stdio: { load: () => import("./stdio_link.ts") },
  switch: { load: () => import("./node_link.ts") },
  tap: { load: () => import("./tap_link.ts"), lendsFd: true },
  tcp: { load: () => import("./tcp_link.ts") },
  udp: { load: () => import("./udp_link.ts") },
  vde: { load: () => import("./vde_link.ts"), lendsFd: true },
  vxlan: { load: () => import("./vxlan_link.ts") },
  vxvde: { load: () => import("./vxvde_link.ts") },
  wire: { load: () => import("./wire_link.ts") },
};
