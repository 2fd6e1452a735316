# bash completion for loopctl
_loopctl()
{
	local cur prev cmd
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	local commands="schedule cancel ls show time status future await on-done wait gather cron help"
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--url|--token-file) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
	--url|--after|--at|--name|--timeout|--data|--header|--webhook|--method|--cwd|--env|--idempotency-key|--wait-timeout|--state|--phase|--limit)
		[[ $prev == --method ]] && COMPREPLY=($(compgen -W "GET POST PUT PATCH DELETE" -- "$cur"))
		[[ $prev == --state ]] && COMPREPLY=($(compgen -W "pending finished cancelled" -- "$cur"))
		[[ $prev == --phase ]] && COMPREPLY=($(compgen -W "scheduled waiting running done" -- "$cur"))
		return ;;
	--token-file|--stdin-file)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--tz)
		COMPREPLY=($(cd "${TZDIR:-/usr/share/zoneinfo}" 2>/dev/null && compgen -f -- "$cur")); return ;;
	-n|--from) return ;;
	esac
	case $cmd in
	"") COMPREPLY=($(compgen -W "$commands --url --token-file --json --help" -- "$cur")) ;;
	schedule) COMPREPLY=($(compgen -W "--soon --after --at --name --wait --webhook --data --header --method --timeout --env --cwd --stdin-file --idempotency-key --json --" -- "$cur")) ;;
	future) COMPREPLY=($(compgen -W "new set fail cancel" -- "$cur")) ;;
	wait) COMPREPLY=($(compgen -W "--any --all --first-exception --timeout --json" -- "$cur")) ;;
	gather) COMPREPLY=($(compgen -W "--return-exceptions --timeout --json" -- "$cur")) ;;
	await) COMPREPLY=($(compgen -W "--timeout --json" -- "$cur")) ;;
	on-done) COMPREPLY=($(compgen -W "--webhook --data --header --method --" -- "$cur")) ;;
	ls) COMPREPLY=($(compgen -W "--state --phase --name --limit --json" -- "$cur")) ;;
	cron)
		if [[ $prev == cron ]]; then
			COMPREPLY=($(compgen -W "next" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--cron --calendar --every --tz -n --from --skip-gap --json" -- "$cur"))
		fi ;;
	*) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
	esac
}
complete -F _loopctl loopctl
