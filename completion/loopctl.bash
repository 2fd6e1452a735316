# bash completion for loopctl: commands, every flag of each, values where
# they are few, files and directories, and call ids from the daemon itself.
_loopctl_ids()
{
	# The newest calls the daemon lists (quietly nothing if it is down).
	loopctl ls -q --limit 200 2>/dev/null
}

_loopctl()
{
	local cur prev cmd sub
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	local commands="schedule cancel ls show time status logs future await on-done wait gather cron ui help"
	local globals="--url --token-file --json --show-secrets --help"
	local action="--name --idempotency-key --timeout --retry --backoff --max-backoff --env --env-all --no-env --cwd --no-cwd --stdin-file --webhook --data --header --method --wait --wait-timeout"
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--url|--token-file) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${COMP_WORDS[i]}
				[[ $cmd == future || $cmd == help ]] || break
			else
				sub=${COMP_WORDS[i]}
				break
			fi ;;
		esac
	done
	case $prev in
	--method)
		COMPREPLY=($(compgen -W "GET POST PUT PATCH DELETE" -- "$cur")); return ;;
	--state)
		COMPREPLY=($(compgen -W "pending finished cancelled" -- "$cur")); return ;;
	--phase)
		COMPREPLY=($(compgen -W "scheduled waiting running done" -- "$cur")); return ;;
	--at)
		COMPREPLY=($(compgen -W "now tomorrow today monday tuesday wednesday thursday friday saturday sunday" -- "$cur")); return ;;
	--token-file|--stdin-file)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--tz)
		COMPREPLY=($(cd "${TZDIR:-/usr/share/zoneinfo}" 2>/dev/null && compgen -f -- "$cur")); return ;;
	-n|--from) return ;;
	--cwd)
		COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--wait)
		[[ $cmd == status ]] && return ;;
	--url|--after|--name|--timeout|--retry|--backoff|--max-backoff|--data|--header|--webhook|--env|--idempotency-key|--wait-timeout|--limit|--since)
		return ;;
	esac
	case $cmd in
	"") COMPREPLY=($(compgen -W "$commands $globals --version" -- "$cur")) ;;
	help) COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
	schedule) COMPREPLY=($(compgen -W "--soon --after --at --allow-past $action $globals --" -- "$cur")) ;;
	on-done)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$action $globals --" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_loopctl_ids)" -- "$cur"))
		fi ;;
	future)
		case $sub in
		"") COMPREPLY=($(compgen -W "new set fail cancel" -- "$cur")) ;;
		new) COMPREPLY=($(compgen -W "--name --timeout $globals" -- "$cur")) ;;
		cron)
		if [[ $prev == cron ]]; then
			COMPREPLY=($(compgen -W "next" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--cron --calendar --every --tz -n --from --skip-gap --json" -- "$cur"))
		fi ;;
	*) COMPREPLY=($(compgen -W "$globals" -- "$cur")) ;;
		esac ;;
	cancel|show|await|wait|gather)
		local flags="$globals"
		case $cmd in
		cancel) flags="--name $globals" ;;
		await) flags="--timeout $globals" ;;
		wait) flags="--any --all --first-exception --timeout $globals" ;;
		gather) flags="--return-exceptions --timeout $globals" ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$flags" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_loopctl_ids)" -- "$cur"))
		fi ;;
	status) COMPREPLY=($(compgen -W "--wait $globals" -- "$cur")) ;;
	logs) COMPREPLY=($(compgen -W "-f --follow -n $globals" -- "$cur")) ;;
	ls) COMPREPLY=($(compgen -W "--failed --running --pending --name --since --limit -q --state --phase --futures $globals" -- "$cur")) ;;
	ui) COMPREPLY=($(compgen -W "--no-open $globals" -- "$cur")) ;;
	cron)
		if [[ $prev == cron ]]; then
			COMPREPLY=($(compgen -W "next add ls show pause resume trigger rm" -- "$cur"))
		elif [[ " ${COMP_WORDS[*]} " == *" add "* ]]; then
			COMPREPLY=($(compgen -W "--every --cron --calendar --tz --start --end --count --catchup --catchup-window --overlap --jitter --pause-on-failure $action $globals --" -- "$cur"))
		elif [[ " ${COMP_WORDS[*]} " == *" ls "* ]]; then
			COMPREPLY=($(compgen -W "--paused --active --name $globals" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--cron --calendar --every --tz -n --from --skip-gap --json" -- "$cur"))
		fi ;;
	*) COMPREPLY=($(compgen -W "$globals" -- "$cur")) ;;
	esac
}
complete -F _loopctl loopctl
