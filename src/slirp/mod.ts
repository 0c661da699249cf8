/**
 * The user-mode network stack as a library entry (`@vde/vde/slirp`): a
 * Link that is a whole NAT'ed network (DHCP, DNS, TCP and UDP to the host's
 * sockets), its stack and its configuration. Kept apart from mod.ts so that
 * importing the library does not load the stack; `openLink("slirp://...")`
 * loads it on first use.
 *
 * @module
 */
export { openSlirpLink, SlirpLink } from "../link/slirp_link.ts";
export type { SlirpLinkOptions } from "../link/slirp_link.ts";
export { SlirpStack } from "./stack.ts";
export { defaultConfig as defaultSlirpConfig, parseForward, parseSlirpOptions } from "./config.ts";
export type { ForwardSpec, SlirpConfig } from "./config.ts";
