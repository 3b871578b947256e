# bash completion for vem
_vem() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmds="validate plan apply status observe reconcile schema help version"
	if [ "$COMP_CWORD" = 1 ]; then
		COMPREPLY=($(compgen -W "$cmds -v -q --version --help" -- "$cur")); return
	fi
	case $prev in
	-f|--file|--observed|--require-signed-by) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-o|--output) COMPREPLY=($(compgen -W "json text" -f -- "$cur")); return ;;
	esac
	local opts="-f --file --help -v -q"
	case ${COMP_WORDS[1]} in
	validate) opts+=" -o --output" ;;
	plan) opts+=" -o --output --observed --detailed-exitcode --no-prune --allow-empty --max-removals --no-balance --connect-timeout --sample" ;;
	apply) opts+=" -y --yes --max-rounds --per-host --lease-wait --lease-ttl --no-prune --allow-empty --max-removals --no-balance --connect-timeout --shutdown-timeout" ;;
	status) opts+=" -o --output --connect-timeout --sample" ;;
	observe) opts+=" -o --output --connect-timeout --sample" ;;
	reconcile) opts+=" --every --jitter --once -y --max-rounds --no-prune --no-balance" ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _vem vem
