# shellcheck shell=bash
# mp.bash - msgpack written by hand, for streams no slate program would write

# mp_hex HH...: the bytes given in hex
mp_hex() {
	local h
	for h in "$@"; do
		# shellcheck disable=SC2059 # the format is the byte
		printf "\\x$h"
	done
}

# mp_repeat N HH...: the bytes given in hex, N times over (one printf: a
# loop of N under bats's debug trap takes minutes)
mp_repeat() {
	local n=$1 fmt
	shift
	fmt=$(printf '\\x%s' "$@")
	# shellcheck disable=SC2059 # the format is the bytes; %.0s eats each count
	printf "$fmt%.0s" $(seq "$n")
}

# mp_be N WIDTH: N as WIDTH bytes, big-endian
mp_be() {
	local h
	printf -v h '%0*x' $(($2 * 2)) "$1"
	# shellcheck disable=SC2046 # split into pairs on purpose
	mp_hex $(sed 's/../& /g' <<<"$h")
}

# mp_str S: S as a msgpack str (S in ASCII)
mp_str() {
	local LC_ALL=C s=$1
	local n=${#s}
	if ((n < 32)); then
		mp_be $((0xa0 + n)) 1
	elif ((n < 256)); then
		mp_hex d9
		mp_be "$n" 1
	else
		mp_hex da
		mp_be "$n" 2
	fi
	printf '%s' "$s"
}

mp_uint() {
	if (($1 < 128)); then
		mp_be "$1" 1
	else
		mp_hex cf
		mp_be "$1" 8
	fi
}

# mp_ts SECONDS NANOSECONDS: a 96-bit msgpack timestamp
mp_ts() {
	mp_hex c7 0c ff
	mp_be "$2" 4
	mp_be "$1" 8
}

# mp_event ID SECONDS NANOSECONDS JSON: an event without its (optional) crc
mp_event() {
	mp_hex 84
	mp_str type; mp_str event
	mp_str id; mp_uint "$1"
	mp_str ts; mp_ts "$2" "$3"
	mp_str event; mp_str "$4"
}

mp_boundary() {
	mp_hex 82
	mp_str type; mp_str boundary
	mp_str last_id; mp_uint "$1"
}

mp_end() {
	mp_hex 83
	mp_str type; mp_str end
	mp_str last_id; mp_uint "$1"
	mp_str count; mp_uint "$2"
}

mp_wake() {
	mp_hex 81
	mp_str type; mp_str wake
}
