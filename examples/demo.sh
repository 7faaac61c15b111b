#!/bin/sh
# examples/demo.sh: tunbroker in one minute.  An unprivileged user asks the
# broker for a TUN device and a program answers pings on it.
#
# Run as root from the top of a built source tree:
#
#   sudo sh examples/demo.sh
#
# Everything happens in a private network namespace made for the demo, so
# this machine's own interfaces are never touched.  The programs can be
# chosen with TUNBROKERD, TUNCTL and ICMP_ECHO.

TUNBROKERD=${TUNBROKERD:-./tunbrokerd}
TUNCTL=${TUNCTL:-./tunctl}
ICMP_ECHO=${ICMP_ECHO:-./examples/icmp-echo}
NOBODY=65534		# the unprivileged user and group the demo acts as

say()
{
	printf '\n==> %s\n' "$*"
}

# Shows a command, as a reader would type it.
show()
{
	printf '    %s %s\n' "$1" "$2"
}

fail()
{
	printf '\ndemo FAILED: %s\n' "$*" >&2
	if [ -n "${log:-}" ] && [ -s "$log" ]; then
		echo "The broker's log:" >&2
		sed 's/^/    /' "$log" >&2
	fi
	exit 1
}

as_nobody()
{
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"
}

# ---- outside: make the namespace and run this script again inside it
if [ "${DEMO_PARENT_NETNS:-}" = "" ] ||
    [ "$(readlink /proc/self/ns/net)" = "$DEMO_PARENT_NETNS" ]; then
	[ "$(id -u)" = 0 ] || fail "run me as root: starting tunbrokerd needs CAP_NET_ADMIN"
	for tool in unshare setpriv ip ping timeout; do
		command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
	done
	say "Making a private network namespace, so nothing touches this machine's interfaces"
	show '#' "unshare --net --mount"
	DEMO_PARENT_NETNS=$(readlink /proc/self/ns/net)
	export DEMO_PARENT_NETNS
	exec unshare --net --mount -- /bin/sh "$0" "$@"
fi
unset DEMO_PARENT_NETNS

# ---- inside the namespace
ip link set lo up || fail "cannot bring lo up"

for prog in "$TUNBROKERD" "$TUNCTL" "$ICMP_ECHO"; do
	[ -x "$prog" ] || fail "$prog not found: run me from the top of a built" \
	    "tree (./configure && make), or set TUNBROKERD, TUNCTL and ICMP_ECHO"
done
for prog in "$TUNCTL" "$ICMP_ECHO"; do
	if ! as_nobody test -x "$prog" ||
	    ! as_nobody "$prog" --help >/dev/null 2>&1; then
		fail "user nobody (uid $NOBODY) cannot execute $prog: the build" \
		    "tree must be readable and searchable by others, e.g. not under /root"
	fi
done

dir=$(mktemp -d /tmp/tunbroker-demo.XXXXXX) || fail "cannot make a temporary directory"
chmod 0755 "$dir"	# nobody must reach the socket in here
conf=$dir/tunbrokerd.conf
sock=$dir/run/socket
log=$dir/broker.log
broker_pid=
echo_pid=

# True while PID runs (a zombie waiting for "wait" does not count).  One
# read of /proc/PID/stat: checking that PID exists first and reading its
# state after races with this shell reaping it in between.
running()
{
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	state=${stat##*) }
	state=${state%% *}
	[ -n "$state" ] && [ "$state" != Z ]
}

# wait_exit PID SECONDS: waits for a child of this shell, killing it and its
# process group if it outlives SECONDS; exit_status is its exit status.
wait_exit()
{
	ticks=$(($2 * 10))
	while running "$1" && [ "$ticks" -gt 0 ]; do
		sleep 0.1
		ticks=$((ticks - 1))
	done
	if running "$1"; then
		kill -KILL "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	exit_status=$?
}

cleanup()
{
	demo_status=$?
	trap - EXIT
	if [ -n "$echo_pid" ]; then
		kill -TERM "-$echo_pid" 2>/dev/null
		wait_exit "$echo_pid" 2
	fi
	if [ -n "$broker_pid" ]; then
		kill -TERM "$broker_pid" 2>/dev/null
		wait_exit "$broker_pid" 3
	fi
	rm -rf "$dir"
	exit "$demo_status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs "$@" every 0.1 s, up to $1 seconds, until it succeeds.
wait_until()
{
	ticks=$(($1 * 10))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$ticks" -gt 0 ] || return 1
		sleep 0.1
		ticks=$((ticks - 1))
	done
}

say "Writing a broker configuration that allows only the user nobody (uid $NOBODY)"
cat >"$conf" <<EOF
[socket]
# Anyone may connect; the rules decide who gets which device.
mode = 0666

[rule test]
# nobody, with addresses from the benchmarking and documentation ranges
users = $NOBODY
addresses = 198.18.0.0/15, 2001:db8::/32
max-devices = 64
EOF
sed 's/^/    /' "$conf"

say "Starting the broker as root; it is the only privileged process"
show '#' "$TUNBROKERD --foreground --verbose --config $conf --socket $sock"
"$TUNBROKERD" --foreground --verbose --config "$conf" --socket "$sock" \
    >"$log" 2>&1 </dev/null &
broker_pid=$!
wait_until 5 timeout 2 "$TUNCTL" --socket "$sock" status ||
    fail "the broker did not answer on $sock within 5 seconds"
show '$' "$TUNCTL --socket $sock status"
timeout 5 "$TUNCTL" --socket "$sock" status | sed 's/^/    /'

say "As nobody, asking for a device with address 198.18.0.1/24 and handing it to icmp-echo"
show '$' "$TUNCTL --socket $sock request --address 198.18.0.1/24 --exec -- $ICMP_ECHO --count 3 --verbose"
echo "    (run with: setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups)"
# setsid: icmp-echo gets a process group of its own for the clean-up.
setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- \
    setsid "$TUNCTL" --socket "$sock" request --address 198.18.0.1/24 \
    --exec -- "$ICMP_ECHO" --count 3 --verbose \
    >"$dir/echo.out" 2>"$dir/echo.err" </dev/null &
echo_pid=$!
wait_until 5 sh -c '[ -n "$(ip -o addr show to 198.18.0.1)" ]' ||
    fail "no device with 198.18.0.1 appeared: $(cat "$dir/echo.err")"
ifname=$(ip -o addr show to 198.18.0.1 | awk '{ print $2; exit }')

say "The broker made $ifname, owned by nobody, up, with the address"
show '#' "ip -d addr show dev $ifname"
ip -d addr show dev "$ifname" | sed 's/^/    /'

say "Pinging 198.18.0.2: the kernel routes it into $ifname and icmp-echo answers"
show '#' "ping -c 3 198.18.0.2"
timeout 15 ping -c 3 -W 2 198.18.0.2 >"$dir/ping.out" 2>&1
ping_status=$?
sed 's/^/    /' "$dir/ping.out"
[ "$ping_status" = 0 ] || fail "ping failed with status $ping_status"

wait_exit "$echo_pid" 5
echo_status=$exit_status
echo_pid=

say "icmp-echo exited with status $echo_status after printing:"
sed 's/^/    /' "$dir/echo.out"
[ -s "$dir/echo.err" ] && sed 's/^/    /' "$dir/echo.err"

say "The broker's log line for the grant:"
grep ' grant ' "$log" | sed 's/^/    /'

say "icmp-echo closed the device's descriptor, so $ifname is gone:"
show '#' "ip link show dev $ifname"
wait_until 3 sh -c "! ip link show dev '$ifname'" ||
    fail "$ifname still exists after icmp-echo exited"
ip link show dev "$ifname" 2>&1 | sed 's/^/    /'

[ "$echo_status" = 0 ] || fail "icmp-echo exited with status $echo_status"
[ "$(grep -c 'echo reply 198.18.0.2 -> 198.18.0.1' "$dir/echo.out")" = 3 ] ||
    fail "icmp-echo did not answer three pings"
grep -q " grant uid=$NOBODY " "$log" || fail "the broker logged no grant for uid $NOBODY"

say "Stopping the broker"
show '#' "kill -TERM $broker_pid"
kill -TERM "$broker_pid"
wait_exit "$broker_pid" 5
broker_pid=
[ "$exit_status" = 0 ] || fail "the broker exited with status $exit_status"
[ ! -e "$sock" ] || fail "the broker left its socket $sock behind"

printf '\ndemo OK: ping answered through a device requested by an unprivileged user\n'
