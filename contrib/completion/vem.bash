# bash completion for vem
#
# The commands and each command's options come from `vem __complete` (the
# same table that parses them and prints --help), so this script never lists
# an option itself and cannot fall behind. Install as
# $(PREFIX)/share/bash-completion/completions/vem.

# _vem_files: file and directory names for the current word, one
# COMPREPLY entry each (names with spaces stay whole)
_vem_files() {
	local cur=$1
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

_vem() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local vem=${COMP_WORDS[0]} i cmd= short long kind words=
	COMPREPLY=()
	command -v "$vem" >/dev/null 2>&1 || vem=vem

	# the command is the first word after the global options
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	if [[ -z $cmd ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$("$vem" __complete 2>/dev/null)
			-v --verbose -q --quiet --version --help" -- "$cur")
		return
	fi
	if [[ $cmd == help ]]; then
		# one command name, no options
		((COMP_CWORD == i + 1)) && [[ $cur != -* ]] &&
			mapfile -t COMPREPLY < <(compgen -W "$("$vem" __complete 2>/dev/null)" -- "$cur")
		return
	fi

	while read -r short long kind; do
		[[ -n $long ]] || continue
		if [[ $prev == "$long" || ($short != - && $prev == "$short") ]]; then
			case $kind in
			FILE) _vem_files "$cur" ;;
			FORMAT) mapfile -t COMPREPLY < <(compgen -W "json text" -- "$cur") ;;
			esac
			return   # WORD: a value (number, duration): nothing to offer
		fi
		words+=" $long"
	done < <("$vem" __complete "$cmd" 2>/dev/null)
	if [[ $cur == --*=* ]]; then
		return
	fi
	mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -F _vem vem
