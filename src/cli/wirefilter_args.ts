/**
 * Debian's wirefilter reads its options with getopt_long_only, so its
 * scripts may say `-daemon`, `-mgmt /tmp/wf`, `-loss 5` with one dash.
 * Commander reads those as bundled short flags (`-daemon` is `-d aemon`, a
 * delay that is no number), so toWirefilterLongOptions gives wirefilter's
 * long names (and ours that share its spelling) two dashes before the
 * parser sees them. Short options with their value attached (`-d50`,
 * `-lLR5`) are not long names and stay as typed, as getopt_long_only falls
 * back to the short option there too. An option's value in the next
 * argument is never rewritten (`-f -rc` reads the file `-rc`).
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
  // One option, so `-ban` is --band, as wirefilter (which has no --bandwidth) takes it.
  bandwidth: "band",
  speed: "speed",
  capacity: "capacity",
  chanbufsize: "chanbufsize",
  noise: "noise",
  mtu: "mtu",
  nofifo: "nofifo",
  mgmt: "mgmt",
  mgmtmode: "mgmtmode",
  "vde-plug": "vde-plug",
  daemon: "daemon",
  pidfile: "pidfile",
  blink: "blink",
  blinkid: "blinkid",
  seed: "seed",
};

/** Our `vde wirefilter` options that take a value (src/cli/wirefilter.ts). */
const VALUED = {
  short: "lLdDbscnmfMvp",
  long: new Set([
    ...["loss", "lostburst", "delay", "dup", "band", "bandwidth", "speed", "capacity", "chanbufsize"],
    ...[
      "noise",
      "mtu",
      "rcfile",
      "mgmt",
      "mgmtmode",
      "vde-plug",
      "seed",
      "pidfile",
      "blink",
      "blinkid",
      "http",
    ],
  ]),
};

/** `vde wirefilter` arguments with wirefilter's single-dash long options as ours; other commands' untouched. */
export const toWirefilterLongOptions: (args: string[]) => string[] = getoptLongOnly(
  "wirefilter",
  LONG_NAMES,
  VALUED,
);
