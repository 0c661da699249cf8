/**
 * What `--help` shows beyond commander's option list, in one style: every
 * default as `(default: VALUE)`, the VNL schemes wherever a VNL is taken,
 * and a few examples per command.
 */
import type { Command, Help } from "commander";

/** One line per VNL scheme, for the help of the commands that take VNLs. */
export const VNL_SCHEMES: readonly (readonly [scheme: string, syntax: string, what: string])[] = [
  ["vde", "DIR, vde://DIR[N]", "a port on a switch (ours or vde_switch); [N] picks port N"],
  ["stdio", "-", "stdin/stdout in VDE's stream framing (dpipe, ssh)"],
  [
    "cmd",
    'cmd://"COMMAND ARGS"',
    'a command speaking stream framing, e.g. cmd://"ssh host vde plug /tmp/net"',
  ],
  ["tap", "tap://NAME", "a Linux tap interface"],
  [
    "slirp",
    "slirp://[/OPTIONS]",
    "NAT to the host with DHCP and DNS, e.g. slirp:///tcpfwd=8080:10.0.2.15:80",
  ],
  ["tcp", "tcp://HOST:PORT, tcp://:PORT/listen", "an encrypted cable (/key=FILE or /insecure)"],
  ["udp", "udp://[SRC:]SRCPORT->DST:DSTPORT", "frames over UDP, one per datagram"],
  ["ptp", "ptp://PATH", "two ends, no switch: the same PATH at both (as vdeplug4's ptp)"],
  ["vxlan", "vxlan://[GROUP][/vni=N]", "a VXLAN segment"],
  ["vxvde", "vxvde://[GROUP][/vni=N]", "a switch spread over a multicast group"],
  ["hub", "hub://[PATH][mode=M/grp=G]", "serve PATH as a hub here, this end one of its ports (vdeplug4's)"],
  ["switch", "switch://[PATH][mode=M]", "serve PATH as a learning switch here, this end one of its ports"],
  ["multi", "multi://[PATH]", "PATH's clients are paths of this one link: frames out on all, in from any"],
  ["bonding", "bonding://[PATH]", "PATH's clients are paths of this one link: frames out round-robin"],
  ["seqpacket", "seqpacket://FD", "an inherited unix SOCK_SEQPACKET socket (a socketpair's end)"],
  ["wire", "wire://{VNL}[delay=50/loss=2]", "a VNL behind an impaired wire (as vde wirefilter)"],
  ["null", "null://", "discards everything"],
];

/** The "VNLs:" help section. */
export function vnlHelp(): string {
  const width = Math.max(...VNL_SCHEMES.map(([, syntax]) => syntax.length));
  return `\nVNLs (where a VNL is taken):\n${
    VNL_SCHEMES.map(([, syntax, what]) => `  ${syntax.padEnd(width)}  ${what}`).join("\n")
  }\n`;
}

/** An "Examples:" help section from command lines. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
}

/** Adds examples (and optional extra sections) after a command's option list. */
export function withExamples(command: Command, ...sections: string[]): Command {
  return command.addHelpText("after", sections.join(""));
}

function withDefault(description: string, value: unknown, shown: string | undefined): string {
  if (shown !== undefined) return `${description} (default: ${shown})`;
  if (value === undefined || value === false || (Array.isArray(value) && value.length === 0)) {
    return description;
  }
  return `${description} (default: ${Array.isArray(value) ? value.join(", ") : String(value)})`;
}

/**
 * The usage line names a command by its own name: an alias (`vde tap del`)
 * is for the fingers, and commander's `vde tap delete|del` reads as a
 * choice to type. The command list still shows `delete|del`.
 */
function commandUsage(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return `${names.join(" ")} ${command.usage()}`;
}

/** Commander help settings: defaults written as `(default: VALUE)`, never quoted; usage without aliases. */
export const helpStyle: Partial<Help> = {
  commandUsage,
  optionDescription: (o) => withDefault(o.description, o.defaultValue, o.defaultValueDescription),
  argumentDescription: (a) => withDefault(a.description, a.defaultValue, a.defaultValueDescription),
};
