/**
 * Imports every link module for its side effect of registering its VNL
 * scheme. Import this once before calling `openLink`.
 */
import "./stdio_link.ts";
import "./cmd_link.ts";
import "./null_link.ts";
import "./vde_link.ts";
import "./tap_link.ts";
import "./tcp_link.ts";
import "./slirp_link.ts";
import "./udp_link.ts";
import "./vxlan_link.ts";
import "./vxvde_link.ts";
import "./wire_link.ts";
