/**
 * Other tools' words for vde's commands. A containerlab user types
 * `vde deploy -t lab.yaml`, a docker user `vde ps`; "did you mean" finds no
 * near spelling for those (or a wrong one: `stop` is not `tap`), so the
 * unknown command is answered with what vde calls it, the lab file carried
 * over when the line names one.
 */

/** What a word means in vde, given the lab file (or LAB) the line names. */
const WORDS: Record<string, (lab: string) => string> = {
  deploy: (lab) => `a lab comes up with \`vde up ${lab}\``,
  start: (lab) => `a switch starts with \`vde switch --sock DIR\`, a lab with \`vde up ${lab}\``,
  destroy: (lab) => `a lab goes down with \`vde down ${lab}\``,
  stop: (lab) => `a switch stops with \`vde term DIR -c shutdown\`, a lab with \`vde down ${lab}\``,
  inspect: () => "`vde status` lists running labs, `vde status LAB` one lab's nodes and links",
  ps: () => "`vde status` lists running labs, `vde status LAB` one lab's nodes and links",
  ls: () => "`vde status` lists running labs, `vde status LAB` one lab's nodes and links",
  list: () => "`vde status` lists running labs, `vde status LAB` one lab's nodes and links",
  version: () => "`vde --version` prints it",
  exec: () =>
    "a lab host runs a command with `ip netns exec vde-LAB-HOST COMMAND`, or `vde term LAB -c 'exec HOST COMMAND'`",
};

/**
 * vde's word for `word` (an unknown command) as another tool uses it, or
 * undefined. `rest` is the rest of the line: a lab file in it is used.
 */
export function otherToolHint(word: string, rest: readonly string[]): string | undefined {
  const say = WORDS[word.toLowerCase()];
  if (say === undefined) return undefined;
  return say(rest.find((a) => /\.ya?ml$/.test(a)) ?? "lab.yaml");
}
