/**
 * A program typed where the lab takes its own commands, at the lab shell
 * and through `vde term LAB` alike: the lab runs programs in a host only,
 * so the line is answered with the host's line that runs it.
 */

/** Programs that stop or restart the machine itself, which no host's line may be offered for. */
const MACHINE_WIDE: ReadonlySet<string> = new Set(["shutdown", "reboot", "poweroff", "halt"]);

/**
 * A line that runs a program (`ping 10.9.0.2`, `tcpdump -i eth0`, or
 * `ip netns exec vde-demo-h1 ip a` whole) typed where the shell takes its
 * own commands: the shell runs programs in a host only, so the line is said
 * as the host's (`h1 ping 10.9.0.2`), the namespace's host when the line
 * names one (a namespace not the lab's is said to be none, naming the
 * lab's). Undefined when the first word is no program (`isProgram`) or
 * the lab has no host.
 */
export function programHint(
  line: string,
  hosts: ReadonlyMap<string, { ns: string }>,
  isProgram: (name: string) => boolean,
): string | undefined {
  const names = [...hosts.keys()];
  const netns = /^\s*ip\s+netns\s+exec\s+(\S+)\s+(\S.*)$/.exec(line);
  const inNs = netns === null ? undefined : names.find((h) => hosts.get(h)!.ns === netns[1]);
  const command = netns === null ? line.trim() : netns[2]!.trim();
  const first = command.split(/\s+/)[0] ?? "";
  if (names.length === 0) return undefined;
  if (netns !== null && inNs === undefined) {
    // Another namespace than the lab's: `h1 ip netns exec ...` would run it nested in h1, not what was meant.
    const nss = names.map((h) => `${h} ${hosts.get(h)!.ns}`).join(", ");
    return `${netns[1]} is no namespace of this lab (its hosts' are ${nss}); ` +
      `a program runs in a host: ${names[0]} ${command}\n`;
  }
  if (!isProgram(first)) return undefined;
  if (MACHINE_WIDE.has(first.slice(first.lastIndexOf("/") + 1))) {
    return `${first} acts on this whole machine, which a host shares (a host is a network namespace of it): ` +
      "the lab stops with `down`\n";
  }
  return `${first}: no such command in the lab shell; a program runs in a host: ` +
    `${inNs ?? names[0]} ${command} (or exec HOST ...; hosts: ${names.join(", ")})\n`;
}
