"""gallerfs completion: print the bash or zsh completion script.

The scripts are thin: for every completion they ask ``gallerfs __complete``
(``gallerfs.cli.complete``) for the candidates, so commands, options, source
and album names always match the installed gallerfs and the library in use
(``--library`` on the line, else ``$GALLERFS_LIBRARY``, else the default).
"""

from __future__ import annotations

import argparse

from gallerfs.cli.context import Context

BASH = r"""# bash completion for gallerfs (from 'gallerfs completion bash')
_gallerfs() {
    local cur=${COMP_WORDS[COMP_CWORD]} prog=${COMP_WORDS[0]} out
    [[ $prog == */* ]] || prog=gallerfs
    prog=${prog/#\~/$HOME}
    out=$(command "$prog" __complete bash "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null) || return 0
    [[ $cur == -*=* ]] && cur=${cur#*=}
    [[ $cur == = ]] && cur=
    case $out in
        __files__) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
        __dirs__) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")) ;;
        *) COMPREPLY=(); [[ -n $out ]] && mapfile -t COMPREPLY <<< "$out" ;;
    esac
}
complete -F _gallerfs gallerfs
"""

ZSH = r"""#compdef gallerfs
# zsh completion for gallerfs (from 'gallerfs completion zsh'): save it as _gallerfs in a
# folder of $fpath, or eval "$(gallerfs completion zsh)" after compinit in ~/.zshrc.
_gallerfs() {
    local prog=${words[1]} out
    local -a cands
    [[ $prog == */* ]] || prog=gallerfs
    prog=${~prog}
    out=$(command "$prog" __complete zsh $((CURRENT - 1)) "${words[@]}" 2>/dev/null) || return 1
    [[ $PREFIX == -*=* ]] && compset -P '*='
    case $out in
        __files__) _files ;;
        __dirs__) _files -/ ;;
        *) cands=("${(@f)out}"); compadd -- "${cands[@]}" ;;
    esac
}
if [[ $funcstack[1] == _gallerfs ]]; then
    _gallerfs "$@"
else
    compdef _gallerfs gallerfs
fi
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "completion", help="print the shell completion script for bash or zsh",
        description="Print a completion script: commands, options, source and album names, settings. "
        "bash: eval \"$(gallerfs completion bash)\" in ~/.bashrc, or save it as "
        "~/.local/share/bash-completion/completions/gallerfs. zsh: save it as _gallerfs in a folder of "
        "$fpath, or eval \"$(gallerfs completion zsh)\" after compinit in ~/.zshrc.",
    )  # fmt: skip
    p.add_argument("shell", choices=sorted(SCRIPTS), metavar="SHELL", help="bash or zsh")
    p.set_defaults(func=run)


def run(ctx: Context) -> int:
    print(SCRIPTS[ctx.args.shell], end="")
    return 0
