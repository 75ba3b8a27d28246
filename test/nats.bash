# nats.bash: a throwaway NATS server with JetStream for the broker tests and
# benchmarks, started like the PostgreSQL clusters of cluster.bash.
#
#	nats_start		start nats-server -js on a free port with its store in a
#				temporary directory; exports NATS_PORT, NATS_URL, NATS_DIR
#	nats_kill		kill -9 it (the store stays)
#	nats_restart		start it again on the same port and store
#	nats_stop		stop it and remove the store (call from teardown_file)
#	nats_api SUBJECT [JSON]	a JetStream API request; prints the JSON reply
#	nats_stream_state [STREAM]  prints "messages first_seq last_seq"
#
# A watchdog stops the server once the process that started it has gone, so
# a failed or killed test run leaves no server behind.

# nats_server_bin: print the path of nats-server (Debian puts it in /usr/sbin)
nats_server_bin() {
	command -v nats-server 2>/dev/null && return 0
	[[ -x /usr/sbin/nats-server ]] && echo /usr/sbin/nats-server && return 0
	echo "nats.bash: no nats-server (install the Debian package nats-server)" >&2
	return 1
}

# nats_launch: start the server on NATS_PORT with NATS_DIR/store; wait until it accepts
nats_launch() {
	local bin deadline=$((SECONDS + 30))
	bin=$(nats_server_bin) || return 1
	rm -f "$NATS_DIR/pid"
	# a session of its own, not a job of the test, and none of the test's
	# file descriptors (a fifo's writer held open would never see its EOF)
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			((fd > 2)) && eval "exec $fd>&-"
		done
		exec setsid -f "$bin" -js -sd "$NATS_DIR/store" -a 127.0.0.1 -p "$NATS_PORT" \
			-P "$NATS_DIR/pid" </dev/null >"$NATS_DIR/server.log" 2>&1
	)
	while ! port_in_use "$NATS_PORT" || [[ ! -s $NATS_DIR/pid ]]; do
		if ((SECONDS >= deadline)) || grep -q '\[FTL\]' "$NATS_DIR/server.log" ||
			{ [[ -s $NATS_DIR/pid ]] && ! kill -0 "$(cat "$NATS_DIR/pid")" 2>/dev/null; }; then
			echo "nats.bash: nats-server did not start:" >&2
			cat "$NATS_DIR/server.log" >&2
			return 1
		fi
		sleep 0.05
	done
}

nats_start() {
	local attempt
	NATS_DIR=$(mktemp -d /tmp/slate-nats.XXXXXX) || return 1
	export NATS_DIR
	nats_watchdog "$BASHPID"
	for attempt in 1 2 3; do
		NATS_PORT=$(free_port) || return 1
		nats_launch && break
		((attempt == 3)) && return 1
	done
	NATS_URL=nats://127.0.0.1:$NATS_PORT
	export NATS_PORT NATS_URL
}

# nats_watchdog OWNER_PID: kill the server and remove its directory once the
# owner has gone (or the directory was removed by nats_stop)
nats_watchdog() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid -f bash -c '
		dir=$1 owner=$2
		while kill -0 "$owner" 2>/dev/null && [[ -d $dir ]]; do sleep 1; done
		[[ -f $dir/pid ]] && kill -KILL "$(cat "$dir/pid")" 2>/dev/null
		rm -rf "$dir"
	' slate-nats-watchdog "$NATS_DIR" "$1" </dev/null >/dev/null 2>&1 3>&-
}

# nats_kill: kill -9 the server and wait until it is gone
nats_kill() {
	local pid
	pid=$(cat "$NATS_DIR/pid") || return 1
	kill -KILL "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	# the port is free once nothing accepts on it
	while port_in_use "$NATS_PORT"; do sleep 0.05; done
}

nats_restart() {
	nats_launch
}

nats_stop() {
	[[ -n ${NATS_DIR:-} && -d $NATS_DIR ]] || return 0
	[[ -f $NATS_DIR/pid ]] && kill -KILL "$(cat "$NATS_DIR/pid")" 2>/dev/null
	rm -rf "$NATS_DIR"
}

# nats_api SUBJECT [JSON]: one request over the plain NATS protocol (the nats
# CLI is not packaged in Debian); prints the reply's payload
nats_api() {
	local subject=$1 body=${2:-} fd line len payload
	exec {fd}<>"/dev/tcp/127.0.0.1/$NATS_PORT" || return 1
	IFS= read -r -t 5 line <&$fd || { exec {fd}>&-; return 1; }	# INFO
	printf 'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.slate-test 1\r\nPUB %s _INBOX.slate-test %d\r\n%s\r\n' \
		"$subject" "${#body}" "$body" >&$fd
	while IFS= read -r -t 10 line <&$fd; do
		line=${line%$'\r'}
		case $line in
		MSG\ *)
			len=${line##* }
			IFS= read -r -N "$len" -t 10 payload <&$fd
			exec {fd}>&-
			printf '%s\n' "$payload"
			return 0
			;;
		PING) printf 'PONG\r\n' >&$fd ;;
		-ERR*)
			echo "nats_api: $line" >&2
			exec {fd}>&-
			return 1
			;;
		esac
	done
	exec {fd}>&-
	echo "nats_api: no reply to $subject" >&2
	return 1
}

# nats_stream_state [STREAM]: print "messages first_seq last_seq" of the stream
nats_stream_state() {
	local info m f l
	info=$(nats_api "\$JS.API.STREAM.INFO.${1:-slate}") || return 1
	m=$(grep -o '"messages":[0-9]*' <<<"$info" | head -1)
	[[ -n $m ]] || { echo "nats_stream_state: $info" >&2; return 1; }
	f=$(grep -o '"first_seq":[0-9]*' <<<"$info" | head -1)
	l=$(grep -o '"last_seq":[0-9]*' <<<"$info" | head -1)
	echo "${m#*:} ${f#*:} ${l#*:}"
}
