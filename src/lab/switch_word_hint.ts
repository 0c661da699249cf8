/**
 * A switch's console command typed where the lab takes its own (`ports`,
 * `macs`, `stp` at the lab shell or through `vde term LAB`), or a bridge's
 * or Open vSwitch's line for one (`brctl show`, `bridge fdb show`): the lab
 * shell sends a switch's commands to the switch it names first, so the line
 * is answered with that (`sw1 ports`), as program_hint.ts answers a program
 * with its host's line. A bridge tool's line is the switch's even where the
 * tool is installed (`bridge` is iproute2's): in a host, which has no
 * bridge, it would show nothing.
 */
import { BRIDGE_TOOLS, bridgeCommand } from "../console/bridge_words.ts";

/**
 * The switch's line for `line`, or undefined when its first word is no
 * switch command (`isSwitchCommand`; one is the switch's even where a
 * program has its name) nor bridge word, is a program (`isProgram`: `ip
 * link` runs in a host) other than a bridge tool, or the lab has no switch.
 */
export function switchWordHint(
  line: string,
  switches: readonly string[],
  isSwitchCommand: (path: string) => boolean,
  isProgram: (name: string) => boolean,
): string | undefined {
  const words = line.trim().split(/\s+/);
  const first = words[0] ?? "";
  const sw = switches[0];
  if (sw === undefined) return undefined;
  const where = `\`use ${sw}\` drops the prefix; switches: ${switches.join(", ")}`;
  // Before the program check: `shutdown` is the switch's here, where /sbin/shutdown's line in a host
  // (a namespace of this machine) would stop the machine.
  if (isSwitchCommand(first)) return `${first} is a switch's command: ${sw} ${line.trim()} (${where})`;
  if (isProgram(first) && !BRIDGE_TOOLS.has(first)) return undefined;
  const found = bridgeCommand(line);
  if (found === undefined || !isSwitchCommand(found.ours)) return undefined;
  return `${found.word} here is ${found.ours}, a switch's command (${found.what}): ${sw} ${found.ours} (${where})`;
}
