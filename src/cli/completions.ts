/**
 * `vde completions bash|zsh|fish`: shell completion scripts generated from
 * the program's own subcommands and options, so they never drift from it.
 * Lab commands complete lab files (`up`) and running labs (`down`, `status`).
 */
import type { Command } from "commander";

interface Sub {
  name: string;
  about: string;
  options: string[];
}

function subcommands(program: Command): Sub[] {
  return program.commands.map((c) => ({
    name: c.name(),
    about: c.description().replace(/['"\\$`]/g, ""),
    options: c.options.flatMap((o) => [o.short, o.long].filter((x): x is string => x !== undefined)).concat(
      "--help",
    ),
  }));
}

const LAB_DIRS = '"${XDG_RUNTIME_DIR:-/tmp}/vde" /run/vde';

function bash(subs: Sub[]): string {
  const cases = subs.map((s) => `    ${s.name}) opts="${s.options.join(" ")}" ;;`).join("\n");
  return `# bash completion for vde: eval "$(vde completions bash)"
_vde() {
  local cur=\${COMP_WORDS[COMP_CWORD]} sub=\${COMP_WORDS[1]} opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${subs.map((s) => s.name).join(" ")} --help --version" -- "$cur"))
    return
  fi
  case "$sub" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [ "$sub" = down ] || [ "$sub" = status ]; then
    COMPREPLY=($(compgen -W "$(ls ${LAB_DIRS} 2>/dev/null | grep -v '\\.log$')" -- "$cur") $(compgen -f -X '!*.y*ml' -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _vde vde
`;
}

function zsh(subs: Sub[]): string {
  const list = subs.map((s) => `    '${s.name}:${s.about.replace(/:/g, "\\:").replace(/'/g, "")}'`).join(
    "\n",
  );
  const cases = subs.map((s) =>
    `    ${s.name}) _arguments '*:file:_files' ${s.options.map((o) => `'${o}'`).join(" ")} ;;`
  )
    .join("\n");
  return `#compdef vde
# zsh completion for vde: vde completions zsh > "\${fpath[1]}/_vde"
_vde() {
  local -a subs
  subs=(
${list}
  )
  if (( CURRENT == 2 )); then
    _describe 'vde command' subs
    return
  fi
  case "$words[2]" in
${cases}
  esac
}
compdef _vde vde
`;
}

function fish(subs: Sub[]): string {
  const lines = ["# fish completion for vde: vde completions fish > ~/.config/fish/completions/vde.fish"];
  lines.push("complete -c vde -f");
  for (const s of subs) {
    lines.push(`complete -c vde -n __fish_use_subcommand -a ${s.name} -d '${s.about.replace(/'/g, "")}'`);
    for (const o of s.options) {
      const flag = o.startsWith("--") ? `-l ${o.slice(2)}` : `-s ${o.slice(1)}`;
      lines.push(`complete -c vde -n '__fish_seen_subcommand_from ${s.name}' ${flag}`);
    }
  }
  lines.push("complete -c vde -n '__fish_seen_subcommand_from up' -F");
  lines.push(
    `complete -c vde -n '__fish_seen_subcommand_from down status' -a '(ls ${LAB_DIRS} 2>/dev/null | string match -v "*.log")'`,
  );
  return lines.join("\n") + "\n";
}

/** The completion script for `shell`. */
export function completionScript(program: Command, shell: "bash" | "zsh" | "fish"): string {
  const subs = subcommands(program);
  return shell === "bash" ? bash(subs) : shell === "zsh" ? zsh(subs) : fish(subs);
}
