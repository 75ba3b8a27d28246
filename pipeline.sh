#!/usr/bin/env bash
# pipeline.sh (installed as slate-replicator) - the live replicator:
# for each destination, slate-listen | slate-extract --follow | slate-load.
set -u -o pipefail

NAME=slate-replicator
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
if [[ -x $HERE/bin/slate-load ]]; then BIN=$HERE/bin; else BIN=$HERE; fi

usage() {
	cat <<-EOF
	$NAME copies a slate event source into one or more destinations, live.

	Usage:
	  $NAME -c CONFIG [OPTION]...
	  $NAME --source CONNINFO --destination CONNINFO [--destination CONNINFO]... [OPTION]...
	  $NAME --source CONNINFO --publish NATS_URL [OPTION]...
	  $NAME --via NATS_URL --destination CONNINFO [--destination CONNINFO]... [OPTION]...

	CONFIG is the original replicator's configuration file (JavaScript or JSON);
	it is read by slate-config, never executed. Passwords from it reach the
	stages through a private pgpass file, never the command line. With
	--source/--destination, keep passwords in ~/.pgpass or PGPASSWORD: a
	CONNINFO holding a password is refused (every user can read argv).

	Options:
	  -c, --config=FILE            the original's configuration file
	      --source=CONNINFO        the event source
	      --destination=CONNINFO   a destination (repeat for more)
	      --publish=NATS_URL       publish the source once to this NATS JetStream
	                               server (slate-publish), for any number of readers
	      --via=NATS_URL           replicate to the destinations from that JetStream
	                               stream (slate-consume | slate-load) instead of
	                               from the source; credentials in NATS_USER and
	                               NATS_PASSWORD, NATS_TOKEN, never in the URL
	      --stream=NAME            the JetStream stream (default slate)
	      --max-events-per-write=N commit at most every N events (default and
	                               minimum 10000, as the original)
	      --connect-timeout=S      seconds (default 15, or the config's)
	      --poll-interval=S        wake the extract every S seconds even without
	                               notifications (default 5)
	      --dry-run                validate everything, print the parameters, exit
	      --restart                restart all stages after a failure, with backoff
	      --log-format=FORMAT      json, text or auto (default: text on a terminal)
	  -V, --version                output version information, then exit
	  -h, --help                   show this help, then exit

	Exit status: 0 stopped by SIGINT/SIGTERM (or dry run passed), 1 a stage
	failed, 2 bad option, configuration or start-up check.
	EOF
}

try_help() {
	echo "$NAME: $1" >&2
	echo "Try \"$NAME --help\" for more information." >&2
	exit 2
}

log_format=auto
[[ -t 2 ]] && text_log=1 || text_log=0
HOSTNAME_=$(hostname 2>/dev/null || echo localhost)

# log LEVEL MESSAGE: one bunyan JSON line (or a text line) on stderr
log() {
	local level=$1 msg=$2 name num
	case $level in
	info) num=30 name=INFO ;;
	warn) num=40 name=WARN ;;
	*) num=50 name=ERROR ;;
	esac
	if ((text_log)); then
		printf '%s %s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$name" "$NAME" "$msg" >&2
	else
		msg=${msg//\\/\\\\}
		msg=${msg//\"/\\\"}
		msg=${msg//$'\n'/\\n}
		msg=${msg//$'\t'/\\t}
		printf '{"name":"%s","hostname":"%s","pid":%d,"level":%d,"msg":"%s","time":"%s","v":0}\n' \
			"$NAME" "$HOSTNAME_" $$ "$num" "$msg" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" >&2
	fi
}

config='' source='' dests=() publish='' via='' stream=slate max_events='' timeout='' poll=5 dry_run=0 restart=0
while (($#)); do
	arg=$1
	case $arg in
	--*=*) set -- "${arg%%=*}" "${arg#*=}" "${@:2}"; continue ;;
	esac
	case $arg in
	-h | --help) usage; exit 0 ;;
	-V | --version) echo "$NAME (slate) $("$BIN/slate-load" --version | awk '{print $3}')"; exit 0 ;;
	-c | --config) (($# > 1)) || try_help "option $arg needs a value"; config=$2; shift ;;
	--source) (($# > 1)) || try_help "option $arg needs a value"; source=$2; shift ;;
	--destination) (($# > 1)) || try_help "option $arg needs a value"; dests+=("$2"); shift ;;
	--publish) (($# > 1)) || try_help "option $arg needs a value"; publish=$2; shift ;;
	--via) (($# > 1)) || try_help "option $arg needs a value"; via=$2; shift ;;
	--stream) (($# > 1)) || try_help "option $arg needs a value"; stream=$2; shift ;;
	--max-events-per-write) (($# > 1)) || try_help "option $arg needs a value"; max_events=$2; shift ;;
	--connect-timeout) (($# > 1)) || try_help "option $arg needs a value"; timeout=$2; shift ;;
	--poll-interval) (($# > 1)) || try_help "option $arg needs a value"; poll=$2; shift ;;
	--log-format) (($# > 1)) || try_help "option $arg needs a value"; log_format=$2; shift ;;
	--dry-run) dry_run=1 ;;
	--restart) restart=1 ;;
	*) try_help "unrecognized argument '$arg'" ;;
	esac
	shift
done

case $log_format in
json) text_log=0 ;;
text) text_log=1 ;;
auto) ;;
*) try_help "invalid value \"$log_format\" for --log-format: use json, text or auto" ;;
esac
[[ -z $max_events || $max_events =~ ^[0-9]+$ ]] || try_help "invalid value \"$max_events\" for --max-events-per-write"
[[ -z $timeout || $timeout =~ ^[1-9][0-9]*$ ]] || try_help "invalid value \"$timeout\" for --connect-timeout"
[[ $poll =~ ^[0-9]+(\.[0-9]+)?$ ]] || try_help "invalid value \"$poll\" for --poll-interval"
for url in "$publish" "$via"; do
	# user:password@ or token@ would be in every user's ps
	[[ $url != *@* ]] || try_help "credentials in a NATS URL are refused (every user can read argv): use NATS_USER and NATS_PASSWORD, NATS_TOKEN"
done
[[ $stream =~ ^[A-Za-z0-9_-]+$ ]] || try_help "invalid value \"$stream\" for --stream"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/slate-replicator.XXXXXX") || exit 1
chmod 700 "$WORK"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -n $config ]]; then
	[[ -z $source && ${#dests[@]} -eq 0 ]] || try_help "use either -c CONFIG or --source/--destination"
	"$BIN/slate-config" --passfile "$WORK/pgpass" "$config" >"$WORK/config" || exit 2
	while IFS= read -r line; do
		case $line in
		max_events_per_write=*) [[ -n $max_events ]] || max_events=${line#*=} ;;
		connect_timeout=*) [[ -n $timeout ]] || timeout=${line#*=} ;;
		source=*) source=${line#*=} ;;
		destination=*) dests+=("${line#*=}") ;;
		esac
	done <"$WORK/config"
	# passwords travel in this 0600 file only
	[[ -s $WORK/pgpass ]] && export PGPASSFILE=$WORK/pgpass
else
	[[ -n $source || -n $via ]] || try_help "no source: use -c CONFIG, --source CONNINFO or --via NATS_URL"
	((${#dests[@]})) || [[ -n $publish ]] || try_help "no destination: use --destination CONNINFO"
	for c in "$source" "${dests[@]}"; do
		# a password= keyword or parameter, or a URI's user:password@
		[[ ${c,,} != *password* && ! ${c,,} =~ ^postgres(ql)?://[^/?#@]*:[^/?#]*@ ]] ||
			try_help "a CONNINFO holds a password, which every user can read in ps: use ~/.pgpass or PGPASSWORD"
	done
	for ((i = 0; i < ${#dests[@]}; i++)); do
		[[ ${dests[i],,} != "${source,,}" ]] || try_help "destination $((i + 1)) is the source"
		for ((j = 0; j < i; j++)); do
			[[ ${dests[i],,} != "${dests[j],,}" ]] || try_help "destination $((i + 1)) repeats destination $((j + 1))"
		done
	done
fi
[[ -z $publish || -n $source ]] || try_help "--publish needs the source: use -c CONFIG or --source CONNINFO"
[[ -z $via || ${#dests[@]} -gt 0 ]] || try_help "--via needs a destination: use --destination CONNINFO"
max_events=${max_events:-10000}
if ((max_events < 10000)); then
	log info "maxEventsPerWrite $max_events raised to the minimum 10000"
	max_events=10000
fi
timeout=${timeout:-15}
common=(--connect-timeout "$timeout" --log-format "$([[ $text_log == 1 ]] && echo text || echo json)")

# checks: every pair must pass before anything is copied.  The source's and
# every destination's checks run at once (the slow part of each, the count
# behind the hole check, needs nothing from the others); each destination's
# check then reads the source's header.  Returns 2 when a check refused (exit 2
# for the replicator), 1 when a server could not be reached or failed (worth
# retrying under --restart).
preflight() {
	local i rc src_rc pids=() fifos=() worst=0
	for i in "${!dests[@]}"; do
		rm -f "$WORK/header.$i"
		mkfifo "$WORK/header.$i" || return 1
		fifos+=("$WORK/header.$i")
		"$BIN/slate-load" --check "${common[@]}" "${dests[i]}" <"$WORK/header.$i" \
			2>"$WORK/check.$i.log" &
		pids+=($!)
	done
	# tee opens every fifo at once, which starts the destinations' checks; it
	# hands them the header once the source's check has written it (nothing
	# when that failed: the destinations' checks then fail for want of it, and
	# only the source's failure is reported), and with -p goes on past a
	# destination that gave up early.  Each destination's messages are held
	# back until its check is over, which keeps them from interleaving.
	# the destinations' header: the source's, or with --via alone the NATS
	# stream's (which holds the source's events as far as they were published)
	local header=("$BIN/slate-extract" --check "${common[@]}" "$source") what="the source"
	if [[ -z $source ]]; then
		header=("$BIN/slate-consume" --check --stream "$stream" "${common[@]}" "$via")
		what="the NATS stream $stream at $via"
	fi
	"${header[@]}" | tee -p "${fifos[@]}" >/dev/null
	src_rc=${PIPESTATUS[0]}
	for i in "${!dests[@]}"; do
		wait "${pids[i]}"
		rc=$?
		((src_rc == 0)) && cat "$WORK/check.$i.log" >&2
		rm -f "$WORK/check.$i.log"
		((rc == 0 || src_rc != 0)) && continue
		log error "start-up check failed for destination $((i + 1)) (${dests[i]})"
		((rc == 1 && worst == 0)) && worst=1
		((rc != 1)) && worst=2
	done
	if ((src_rc != 0)); then
		log error "start-up check failed for $what"
		((src_rc == 1)) && return 1
		return 2
	fi
	return "$worst"
}

preflight
rc=$?
# a server that cannot be reached at start-up is a failed start-up check too,
# unless --restart is to wait for it
((rc == 2 || (rc == 1 && (!restart || dry_run)))) && exit 2
if ((dry_run)); then
	[[ -n $source ]] && echo "source: $source"
	[[ -n $publish ]] && echo "publish to: $publish stream $stream"
	[[ -n $via ]] && echo "destinations read from: $via stream $stream"
	for i in "${!dests[@]}"; do echo "destination $((i + 1)): ${dests[i]}"; done
	echo "max events per write: $max_events"
	echo "connect timeout: ${timeout}s"
	echo "poll interval: ${poll}s"
	echo "dry run: all checks passed, nothing copied"
	exit 0
fi

stopping=0
on_signal() {
	stopping=1
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
}
trap on_signal INT TERM

stage_names=(slate-listen slate-extract slate-load slate-publish slate-consume)

# run_once: start every destination's stages and return when one stops
run_once() {
	local i p='' st dest_of=() stage_of=() status=() failed='' deadline pos after
	pids=()
	if [[ -n $publish ]]; then
		# the source side, once: from the stream's last event on
		pos=$("$BIN/slate-publish" --position --stream "$stream" "${common[@]}" "$publish") || return 1
		mkfifo "$WORK/wake.p" "$WORK/events.p" || return 1
		"$BIN/slate-listen" --reconnect --poll-interval "$poll" "${common[@]}" "$source" >"$WORK/wake.p" &
		pids+=($!) dest_of+=(-1) stage_of+=(0)
		"$BIN/slate-extract" --follow --after "$pos" "${common[@]}" "$source" <"$WORK/wake.p" >"$WORK/events.p" &
		pids+=($!) dest_of+=(-1) stage_of+=(1)
		"$BIN/slate-publish" --stream "$stream" "${common[@]}" "$publish" <"$WORK/events.p" &
		pids+=($!) dest_of+=(-1) stage_of+=(3)
		log info "publishing $source to $publish stream $stream after id $pos"
	fi
	for i in "${!dests[@]}"; do
		mkfifo "$WORK/events.$i" || return 1
		if [[ -n $via ]]; then
			# each destination from its own max(id), found in the stream without a scan
			if ! after=$("$BIN/slate-load" --position "${common[@]}" "${dests[i]}"); then
				log error "could not read the position of destination $((i + 1)) (${dests[i]})"
				for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
				wait
				rm -f "$WORK"/wake.* "$WORK"/events.*
				pids=()
				return 1
			fi
			"$BIN/slate-consume" --follow --after "$after" --stream "$stream" "${common[@]}" "$via" >"$WORK/events.$i" &
			pids+=($!) dest_of+=("$i") stage_of+=(4)
		else
			mkfifo "$WORK/wake.$i" || return 1
			"$BIN/slate-listen" --reconnect --poll-interval "$poll" "${common[@]}" "$source" >"$WORK/wake.$i" &
			pids+=($!) dest_of+=("$i") stage_of+=(0)
			"$BIN/slate-extract" --follow "${common[@]}" "$source" <"$WORK/wake.$i" >"$WORK/events.$i" &
			pids+=($!) dest_of+=("$i") stage_of+=(1)
		fi
		# the start-up check has said it if the destination holds the original's rows
		"$BIN/slate-load" --max-events-per-write "$max_events" --no-original-warning "${common[@]}" \
			"${dests[i]}" <"$WORK/events.$i" &
		pids+=($!) dest_of+=("$i") stage_of+=(2)
	done
	((${#dests[@]})) && log info "replicating ${via:+NATS stream $stream at }${via:-$source} to ${#dests[@]} destination(s), up to $max_events events per write"

	# the first stage to stop ends the run; then stop the rest within 2 seconds
	while :; do
		wait -n -p p "${pids[@]}"
		st=$?
		p=${p:-}	# wait -p leaves it unset when a trapped signal interrupts it
		[[ -n $p ]] && break
		((stopping)) && break
	done
	for i in "${!pids[@]}"; do [[ ${pids[i]} == "$p" ]] && status[i]=$st; done
	if ((!stopping)); then
		for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	fi
	deadline=$((SECONDS + 2))
	for i in "${!pids[@]}"; do
		[[ -n ${status[i]:-} ]] && continue
		while kill -0 "${pids[i]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
		kill -KILL "${pids[i]}" 2>/dev/null
		wait "${pids[i]}"
		status[i]=$?
	done
	rm -f "$WORK"/wake.* "$WORK"/events.*
	pids=()
	((stopping)) && return 0
	# every stage ended cleanly: a signal sent to them stopped them (a Ctrl-C
	# or systemd's stop reaches the whole group; this shell may see it later,
	# or never when it was started with SIGINT ignored), not a failure
	for i in "${!status[@]}"; do ((status[i] == 0)) || break; done
	if ((status[i] == 0)); then
		stopping=1
		return 0
	fi

	# name the stage that failed: one killed by a signal, else the first non-zero
	for i in "${!status[@]}"; do
		((status[i] > 128)) && { failed=$i; break; }
	done
	if [[ -z $failed ]]; then
		for i in "${!status[@]}"; do
			((status[i] != 0 && status[i] != 143)) && { failed=$i; break; }
		done
	fi
	[[ -n $failed ]] || failed=0
	st=${status[failed]}
	local for_what="destination $((dest_of[failed] + 1)) (${dests[dest_of[failed]]:-})"
	((dest_of[failed] < 0)) && for_what="the publisher ($publish stream $stream)"
	log error "${stage_names[stage_of[failed]]} for $for_what stopped with exit status $st$( ((st > 128)) && echo " (signal $((st - 128)))"); replication stopped"
	return 1
}

backoff=1
while :; do
	started=$SECONDS
	if ((rc == 0)); then
		run_once
		rc=$?
	fi
	((stopping)) && { log info "stopped"; exit 0; }
	((restart)) || exit "$rc"
	((SECONDS - started > 60)) && backoff=1
	log warn "restarting in ${backoff}s"
	sleep "$backoff" &
	wait $! 2>/dev/null
	((stopping)) && { log info "stopped"; exit 0; }
	backoff=$((backoff * 2 > 30 ? 30 : backoff * 2))
	preflight
	rc=$?
	((rc == 2)) && exit 2
done
