/**
 * Debian's wirefilter reads its options with getopt_long_only, so its
 * scripts may say `-daemon`, `-mgmt /tmp/wf`, `-loss 5` with one dash.
 * Commander reads those as bundled short flags (`-daemon` is `-d aemon`, a
 * delay that is no number), so toWirefilterLongOptions gives wirefilter's
 * long names (and ours that share its spelling) two dashes before the
 * parser sees them. Short options with their value attached (`-d50`,
 * `-lLR5`) are not long names and stay as typed, as getopt_long_only falls
 * back to the short option there too.
 */
import { getoptLongOnly } from "./vde_switch_args.ts";

/** wirefilter 2.3.2's long option names (one dash or two), and ours of the same kind, to ours. */
const LONG_NAMES: Readonly<Record<string, string>> = {
  help: "help",
  rcfile: "rcfile",
  loss: "loss",
  lostburst: "lostburst",
  delay: "delay",
  dup: "dup",
  band: "band",
  bandwidth: "bandwidth",
  speed: "speed",
  capacity: "capacity",
  chanbufsize: "chanbufsize",
  noise: "noise",
  mtu: "mtu",
  nofifo: "nofifo",
  mgmt: "mgmt",
  mgmtmode: "mgmtmode",
  daemon: "daemon",
  pidfile: "pidfile",
  blink: "blink",
  blinkid: "blinkid",
  seed: "seed",
};

/** `vde wirefilter` arguments with wirefilter's single-dash long options as ours; other commands' untouched. */
export const toWirefilterLongOptions: (args: string[]) => string[] = getoptLongOnly("wirefilter", LONG_NAMES);
