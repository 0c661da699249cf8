/**
 * `vde completions bash|zsh|fish`: shell completion scripts generated from
 * the program's own subcommands and options, so they never drift from it.
 * Lab commands complete lab files (`up`) and running labs (`down`, `status`,
 * and `term`); `tap` and `cable` complete their own subcommands and then
 * those's options.
 */
import type { Command } from "commander";

interface Sub {
  name: string;
  about: string;
  options: string[];
  /** Its own subcommands (`tap create`, `cable keygen`). */
  children: Sub[];
}

function subcommands(program: Command): Sub[] {
  return program.commands.map((c) => ({
    name: c.name(),
    about: c.description().replace(/['"\\$`]/g, ""),
    options: c.options.flatMap((o) => [o.short, o.long].filter((x): x is string => x !== undefined)).concat(
      "--help",
    ),
    children: subcommands(c),
  }));
}

/**
 * The running labs' names: their runtime directories (`ls` of two directories would add `DIR:` headers),
 * where lab/names.ts puts them: $XDG_RUNTIME_DIR/vde, or /tmp/vde-UID without one (a login by su or
 * ssh without pam_systemd, a container), and root's /run/vde.
 */
const BASH_LABS = 'for d in "${XDG_RUNTIME_DIR:-/tmp}"/vde/*/ /tmp/vde-"$(id -u)"/*/ /run/vde/*/; ' +
  'do [ -d "$d" ] && basename "$d"; done';

function bash(subs: Sub[]): string {
  const nested = subs.filter((s) => s.children.length > 0).map((s) =>
    `    ${s.name}) if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=($(compgen -W "${
      [...s.children.map((c) => c.name), "--help"].join(" ")
    }" -- "$cur")); return; fi; sub="${s.name} \${COMP_WORDS[2]}" ;;`
  ).join("\n");
  const all = subs.flatMap((s) => [s, ...s.children.map((c) => ({ ...c, name: `"${s.name} ${c.name}"` }))]);
  const cases = all.map((s) => `    ${s.name}) opts="${s.options.join(" ")}" ;;`).join("\n");
  return `# bash completion for vde: eval "$(vde completions bash)"
_vde() {
  local cur=\${COMP_WORDS[COMP_CWORD]} sub=\${COMP_WORDS[1]} opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${subs.map((s) => s.name).join(" ")} --help --version" -- "$cur"))
    return
  fi
  case "$sub" in
${nested}
  esac
  case "$sub" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [ "$sub" = down ] || [ "$sub" = status ]; then
    COMPREPLY=($(compgen -W "$(${BASH_LABS})" -- "$cur") $(compgen -f -X '!*.y*ml' -- "$cur"))
  elif [ "$sub" = term ]; then
    COMPREPLY=($(compgen -W "$(${BASH_LABS})" -- "$cur") $(compgen -f -- "$cur"))
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
  const args = (s: Sub) => `_arguments '*:file:_files' ${s.options.map((o) => `'${o}'`).join(" ")}`;
  const cases = subs.map((s) => {
    if (s.children.length > 0) {
      const inner = s.children.map((c) => `        ${c.name}) ${args(c)} ;;`).join("\n");
      return `    ${s.name})
      if (( CURRENT == 3 )); then compadd -- ${s.children.map((c) => c.name).join(" ")}; return; fi
      case "$words[3]" in
${inner}
      esac ;;`;
    }
    // Running labs by name, besides files.
    const labs = ["down", "status", "term"].includes(s.name) ? "compadd -- $labs; " : "";
    return `    ${s.name}) ${labs}${args(s)} ;;`;
  }).join("\n");
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
  local -a labs
  labs=(\${XDG_RUNTIME_DIR:-/tmp}/vde/*(N/:t) /tmp/vde-\$(id -u)/*(N/:t) /run/vde/*(N/:t))
  case "$words[2]" in
${cases}
  esac
}
if (( $+functions[compdef] )); then
  compdef _vde vde
else
  print -u2 "vde completions: zsh's completion system is off: put 'autoload -Uz compinit && compinit' first in ~/.zshrc"
fi
`;
}

/** fish: the running labs' names (a glob matching nothing is no error in `for`). */
const FISH_LABS = "(for d in $XDG_RUNTIME_DIR/vde/*/ /tmp/vde-(id -u)/*/ /run/vde/*/; basename $d; end)";

function fish(subs: Sub[]): string {
  const lines = ["# fish completion for vde: vde completions fish > ~/.config/fish/completions/vde.fish"];
  lines.push("complete -c vde -f");
  const options = (when: string, opts: string[]) => {
    for (const o of opts) {
      const flag = o.startsWith("--") ? `-l ${o.slice(2)}` : `-s ${o.slice(1)}`;
      lines.push(`complete -c vde -n '${when}' ${flag}`);
    }
  };
  for (const s of subs) {
    lines.push(`complete -c vde -n __fish_use_subcommand -a ${s.name} -d '${s.about.replace(/'/g, "")}'`);
    options(`__fish_seen_subcommand_from ${s.name}`, s.options);
    const names = s.children.map((c) => c.name).join(" ");
    for (const c of s.children) {
      lines.push(
        `complete -c vde -n '__fish_seen_subcommand_from ${s.name}; and not __fish_seen_subcommand_from ${names}' -a ${c.name} -d '${
          c.about.replace(/'/g, "")
        }'`,
      );
      options(`__fish_seen_subcommand_from ${s.name}; and __fish_seen_subcommand_from ${c.name}`, c.options);
    }
  }
  lines.push("complete -c vde -n '__fish_seen_subcommand_from up term' -F");
  lines.push(`complete -c vde -n '__fish_seen_subcommand_from down status term' -a '${FISH_LABS}'`);
  return lines.join("\n") + "\n";
}

/** The completion script for `shell`. */
export function completionScript(program: Command, shell: "bash" | "zsh" | "fish"): string {
  const subs = subcommands(program);
  return shell === "bash" ? bash(subs) : shell === "zsh" ? zsh(subs) : fish(subs);
}
