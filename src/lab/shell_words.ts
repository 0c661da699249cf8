/**
 * The lab shell's own commands, their syntax and help: one list that the
 * shell's registry (commands.ts) is built from and that the lab file's
 * validation (validate.ts) reads, so a switch or host may not take one of
 * these names. Its own module, without imports: validate.ts cannot import
 * commands.ts, which imports it.
 */

/** Each lab command: its word, its syntax and its help, in `help`'s order. */
export const LAB_COMMANDS: readonly (readonly [string, string, string])[] = [
  ["help", "", "this list"],
  ["nodes", "", "the lab's nodes"],
  ["links", "", "the lab's links with their counters"],
  ["status", "[json]", "nodes and links (json: the same as one line of JSON)"],
  ["exec", "HOST COMMAND...", "run a command in a host's namespace"],
  [
    "link",
    "A-B down|up|clear|KEY VALUE...",
    "down pulls the cable (ports go down at both ends), up plugs it back; loss, delay, jitter, dup, rate, " +
    "mtu, limit impair it; vlan N moves its untagged VLAN, trunk N,M its tagged ones (0: none)",
  ],
  ["add", "switch|host|slirp NAME [KEY VALUE]... | link A B [KEY VALUE]...", "grow the lab"],
  ["del", "NODE|A-B", "remove a node (with its links) or a link live: ports freed, taps and namespace gone"],
  [
    "diff",
    "[FILE]",
    "what the lab file (default: this lab's; relative to its directory) changes in the running lab",
  ],
  ["apply", "[FILE]", "make the running lab what the lab file says, live; names what cannot change live"],
  ["use", "[SWITCH]", "send lines that are no lab command to SWITCH (none: stop)"],
  [
    "capture",
    "[NODE|LINK] [-w FILE] [OPTION]...",
    "record a switch's, link's or host's frames as vde capture LAB/NAME does (--port, --vlan, -c, -s, " +
    "--filter EXPR...): into FILE, or shown by tcpdump; any key (Ctrl-C) stops it",
  ],
  ["save", "[FILE]", "write the running lab as YAML (default: the lab file; relative to its directory)"],
  ["down", "", "take the lab down and exit"],
  ["logout", "", "leave this console; the lab runs on (vde term LAB)"],
];

/** Every word the shell takes as its own: the commands above, and `watch`, which the terminal's shell runs. */
export const SHELL_WORDS: readonly string[] = [...LAB_COMMANDS.map(([word]) => word), "watch"];
