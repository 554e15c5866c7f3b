# ekulab.bash: bash completion for ekulab and ekunode.
#
# The words come from the programs' own --help (the commands, the verbs of
# lab, plan and pki, every --flag of a command or verb), so completion
# cannot drift from them. Installed as
# share/bash-completion/completions/{ekulab,ekunode}.

# _ekl_help PROG ARGS...: PROG ARGS --help, or nothing.
_ekl_help() {
	"$@" --help 2>/dev/null
}

# The first words of the lines under "HEADING:" in a help text.
_ekl_section() {
	awk -v h="$1:" '
		$0 == h { on = 1; next }
		on && NF == 0 { on = 0 }
		on { print $1 }'
}

_ekulab() {
	local cur prog cmd verb help
	cur=${COMP_WORDS[COMP_CWORD]}
	prog=${COMP_WORDS[0]}
	cmd=${COMP_WORDS[1]:-}
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		help=$(_ekl_help "$prog" | _ekl_section commands)
		mapfile -t COMPREPLY < <(compgen -W "$help --help --version" -- "$cur")
		return
	fi
	help=$(_ekl_help "$prog" "$cmd")
	local verbs
	verbs=$(printf '%s\n' "$help" | _ekl_section verbs)
	verbs="$verbs $(printf '%s\n' "$help" |
		grep -o "'ekulab $cmd [a-z-]* --help'" | awk '{print $3}')"
	verbs=$(echo $verbs) # one line, single spaces
	if [ "$COMP_CWORD" -eq 2 ] && [ -n "${verbs// /}" ]; then
		mapfile -t COMPREPLY < <(compgen -W "$verbs --help" -- "$cur")
		return
	fi
	verb=${COMP_WORDS[2]:-}
	if [ -n "${verbs// /}" ] && [[ " $verbs " == *" $verb "* ]]; then
		help=$(_ekl_help "$prog" "$cmd" "$verb")
	fi
	if [[ "$cur" == -* ]]; then
		local flags
		flags=$(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u)
		mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
		return
	fi
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

_ekunode() {
	local cur flags
	cur=${COMP_WORDS[COMP_CWORD]}
	COMPREPLY=()
	if [[ "$cur" == -* ]]; then
		flags=$(_ekl_help "${COMP_WORDS[0]}" | grep -o -- '--[a-z][a-z-]*' | sort -u)
		mapfile -t COMPREPLY < <(compgen -W "$flags -h" -- "$cur")
		return
	fi
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -o filenames -F _ekulab ekulab
complete -o filenames -F _ekunode ekunode
