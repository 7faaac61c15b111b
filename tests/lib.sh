# tests/lib.sh: helpers for tunbroker's shell tests.  Source it, then call
# tb_begin "$@" first thing.  POSIX sh; bash and dash both work.
#
# The harness (make check) exports TUNBROKERD, TUNCTL and ICMP_ECHO (absolute
# paths to the built programs), TOP_SRCDIR, TOP_BUILDDIR and TESTS_SHELL_LIB.
#
# What it gives a test:
#   TAP        plan N, ok DESC, not_ok DESC, diag TEXT, diag_file LABEL FILE,
#              check DESC CMD..., is GOT WANT DESC, like TEXT ERE DESC,
#              unlike TEXT ERE DESC, skip_all REASON, bail_out REASON,
#              done_testing.  stdout carries nothing but TAP; a failed check
#              prints the last command run, its output and the broker's log
#              as "# " lines.
#   namespace  tb_begin re-executes the script under `unshare --net --mount`
#              (never touching the host's interfaces), brings lo up, makes a
#              scratch directory $TB_DIR and kills what the test started at
#              exit.
#   commands   run [--as-nobody] CMD...: bounded by a timeout; sets STATUS,
#              OUT, ERR.  tb_spawn [--as-nobody] OUTFILE ERRFILE CMD...:
#              in the background, killed at exit; sets TB_SPAWNED_PID.
#              tb_wait_exit PID SECONDS: sets TB_EXIT_STATUS.
#              tb_wait_until SECONDS CMD...: polls CMD until it succeeds.
#   broker     tb_broker_start MATCH_LINES, tb_broker_stop; TB_SOCKET,
#              TB_LOG, TB_CONF, TB_BROKER_PID.
#   nobody     tb_require_nobody_can_run PROG...: uid 65534 must be able to
#              execute the programs, else the test fails (not skips).

TB_NOBODY_UID=65534
TB_NOBODY_GID=65534
# The longest any single foreground command may take, in seconds.
: "${TB_TIMEOUT:=10}"

tb_count=0
tb_failed=0
tb_planned=
tb_pids=
tb_groups=
TB_DIR=
TB_SOCKET=
TB_LOG=
TB_CONF=
TB_BROKER_PID=
TB_LAST_CMD=
STATUS=
OUT=
ERR=

# ---------------------------------------------------------------- TAP

plan()
{
	tb_planned=$1
	echo "1..$1"
}

# Prints its arguments as TAP diagnostics, one "# " line per text line.
diag()
{
	printf '%s\n' "$*" | sed 's/^/# /'
}

# Prints the last lines of FILE, if it has any, under LABEL.
diag_file()
{
	if [ -s "$2" ]; then
		diag "$1:"
		tail -n "${3:-30}" "$2" | sed 's/^/#   /'
	fi
}

# A TAP description: one line, and a "#" would start a directive.
tb_description()
{
	printf '%s' "$*" | tr '\n' ' ' | sed 's/#/\\#/g'
}

ok()
{
	tb_count=$((tb_count + 1))
	echo "ok $tb_count - $(tb_description "$*")"
}

# not_ok DESC [DIAG...]: a failed check, its own diagnostics, then the
# context of every failure.
not_ok()
{
	tb_count=$((tb_count + 1))
	tb_failed=$((tb_failed + 1))
	echo "not ok $tb_count - $(tb_description "$1")"
	shift
	for tb_line in "$@"; do
		diag "$tb_line"
	done
	tb_failure_context
}

# What a reader of a failure needs: the last command and the broker's log.
tb_failure_context()
{
	if [ -n "$TB_LAST_CMD" ]; then
		diag "last command: $TB_LAST_CMD"
		diag "exit status: $STATUS"
		[ -n "$OUT" ] && diag_file "its stdout" "$TB_DIR/last.out"
		[ -n "$ERR" ] && diag_file "its stderr" "$TB_DIR/last.err"
	fi
	[ -n "$TB_LOG" ] && diag_file "broker log ($TB_LOG)" "$TB_LOG" 20
	return 0
}

# check DESC CMD...: ok if CMD succeeds.  CMD's output goes to stderr.
check()
{
	tb_desc=$1
	shift
	if "$@" >&2; then
		ok "$tb_desc"
	else
		not_ok "$tb_desc" "failed: $*"
	fi
}

# is GOT WANT DESC: exact string comparison.
is()
{
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3" "got:  $1" "want: $2"
	fi
}

# like TEXT ERE DESC: some line of TEXT matches the extended regex.
like()
{
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok "$3"
	else
		not_ok "$3" "text: $1" "does not match: $2"
	fi
}

# unlike TEXT ERE DESC: no line of TEXT matches.
unlike()
{
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		not_ok "$3" "text: $1" "matches: $2"
	else
		ok "$3"
	fi
}

skip_all()
{
	echo "1..0 # SKIP $*"
	exit 0
}

bail_out()
{
	echo "Bail out! $(tb_description "$*")"
	[ -n "$TB_LOG" ] && diag_file "broker log ($TB_LOG)" "$TB_LOG" 20
	exit 1
}

# Ends the test: the plan if none was given, a count, and the exit status.
done_testing()
{
	if [ -z "$tb_planned" ]; then
		plan "$tb_count"
	elif [ "$tb_planned" -ne "$tb_count" ]; then
		diag "planned $tb_planned checks but ran $tb_count"
		tb_failed=$((tb_failed + 1))
	fi
	if [ "$tb_failed" -eq 0 ]; then
		diag "all $tb_count checks passed"
		exit 0
	fi
	diag "$tb_failed of $tb_count checks failed"
	exit 1
}

# ---------------------------------------------------------- namespace

# True inside the private network namespace tb_begin made: not the one the
# script started in and not the one of pid 1, the host's.
tb_in_private_netns()
{
	[ -n "${TB_PARENT_NETNS:-}" ] || return 1
	tb_netns=$(readlink /proc/self/ns/net) || return 1
	[ "$tb_netns" != "$TB_PARENT_NETNS" ] &&
	    [ "$tb_netns" != "$(readlink /proc/1/ns/net 2>/dev/null)" ]
}

# Makes a program path absolute, so that it still works after a cd.
tb_absolute()
{
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$PWD" "$1" ;;
	esac
}

# tb_begin "$@": call first.  Outside the namespace it skips the test if the
# machine cannot run it and otherwise re-executes the script in a new network
# and mount namespace; inside, it checks the tools and programs, brings lo
# up, makes $TB_DIR and arranges the clean-up.
tb_begin()
{
	if ! tb_in_private_netns; then
		[ "$(id -u)" = 0 ] ||
		    skip_all "needs root to create a network namespace"
		command -v unshare >/dev/null 2>&1 ||
		    skip_all "unshare(1) is not installed"
		[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
		unshare --net --mount true >/dev/null 2>&1 ||
		    skip_all "cannot create a network namespace (unshare --net --mount failed)"
		TB_PARENT_NETNS=$(readlink /proc/self/ns/net)
		export TB_PARENT_NETNS
		if [ -n "${BASH_VERSION:-}" ]; then
			exec unshare --net --mount -- "$BASH" "$0" "$@"
		fi
		exec unshare --net --mount -- /bin/sh "$0" "$@"
	fi
	# A script this one starts makes a namespace of its own.
	unset TB_PARENT_NETNS

	for tb_tool in ip setpriv timeout ping; do
		command -v "$tb_tool" >/dev/null 2>&1 ||
		    bail_out "$tb_tool is not installed"
	done
	TB_BUILDDIR=${TOP_BUILDDIR:-.}
	TUNBROKERD=$(tb_absolute "${TUNBROKERD:-$TB_BUILDDIR/tunbrokerd}")
	TUNCTL=$(tb_absolute "${TUNCTL:-$TB_BUILDDIR/tunctl}")
	ICMP_ECHO=$(tb_absolute "${ICMP_ECHO:-$TB_BUILDDIR/examples/icmp-echo}")
	for tb_prog in "$TUNBROKERD" "$TUNCTL" "$ICMP_ECHO"; do
		[ -x "$tb_prog" ] || bail_out "$tb_prog is not an executable" \
		    "(set TUNBROKERD, TUNCTL and ICMP_ECHO, or run make check)"
	done

	TB_DIR=$(mktemp -d /tmp/tunbroker-shtest.XXXXXX) ||
	    bail_out "cannot make a temporary directory"
	# uid 65534 must reach the socket and the scripts in here.
	chmod 0755 "$TB_DIR"
	trap tb_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	ip link set lo up || bail_out "cannot bring lo up in the namespace"
}

# tb_alive PID: whether PID runs (a zombie does not).  One read of
# /proc/PID/stat answers both questions: checking that the process exists
# first and reading its state after raced with this shell reaping it in
# between, which then looked like a process that runs.
tb_alive()
{
	tb_stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	tb_state=${tb_stat##*) }
	tb_state=${tb_state%% *}
	[ -n "$tb_state" ] && [ "$tb_state" != Z ]
}

tb_forget_pid()
{
	tb_pids=$(printf ' %s ' "$tb_pids" | sed "s/ $1 / /; s/^ *//; s/ *$//")
}

# tb_wait_exit PID SECONDS: waits for a background process of this shell,
# killing it if it outlives SECONDS; TB_EXIT_STATUS is its exit status, or
# "timeout".  Returns 0 if it exited by itself.
tb_wait_exit()
{
	tb_ticks=$(($2 * 10))
	while tb_alive "$1" && [ "$tb_ticks" -gt 0 ]; do
		sleep 0.1
		tb_ticks=$((tb_ticks - 1))
	done
	tb_forget_pid "$1"
	if tb_alive "$1"; then
		# What it was doing, for the failure that follows.
		diag "pid $1 still running after $2 s:" \
		    "$(ps -o pid=,stat=,wchan:32=,comm=,args= -p "$1" 2>&1)" \
		    "$(cat "/proc/$1/stack" 2>/dev/null)"
		kill -KILL "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		TB_EXIT_STATUS=timeout
		return 1
	fi
	wait "$1" 2>/dev/null
	TB_EXIT_STATUS=$?
	return 0
}

# tb_wait_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds;
# returns 1 if it never did.
tb_wait_until()
{
	tb_ticks=$(($1 * 10))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$tb_ticks" -gt 0 ] || return 1
		sleep 0.1
		tb_ticks=$((tb_ticks - 1))
	done
}

tb_cleanup()
{
	tb_rc=$?
	trap - EXIT
	for tb_pid in $tb_pids $TB_BROKER_PID; do
		kill -TERM "$tb_pid" 2>/dev/null
	done
	for tb_pid in $tb_pids $TB_BROKER_PID; do
		tb_wait_exit "$tb_pid" 2
	done
	# What the spawned commands left behind in their process groups.
	for tb_pid in $tb_groups; do
		kill -KILL "-$tb_pid" 2>/dev/null
	done
	[ -n "$TB_DIR" ] && rm -rf "$TB_DIR"
	exit "$tb_rc"
}

# ------------------------------------------------------------ commands

# tb_as_nobody CMD...: runs CMD as uid and gid 65534 without supplementary
# groups, from $TB_DIR so that the working directory is reachable.
tb_as_nobody()
{
	(cd "$TB_DIR" && exec setpriv --reuid=$TB_NOBODY_UID \
	    --regid=$TB_NOBODY_GID --clear-groups -- "$@")
}

# run [--as-nobody] CMD...: runs an external command with a time limit;
# STATUS is its exit status (124 if it timed out), OUT and ERR its output.
run()
{
	tb_nobody=
	if [ "$1" = --as-nobody ]; then
		tb_nobody=1
		shift
	fi
	TB_LAST_CMD="${tb_nobody:+(as uid $TB_NOBODY_UID) }$*"
	if [ -n "$tb_nobody" ]; then
		tb_as_nobody timeout -k 2 "$TB_TIMEOUT" "$@" \
		    >"$TB_DIR/last.out" 2>"$TB_DIR/last.err" </dev/null
	else
		timeout -k 2 "$TB_TIMEOUT" "$@" \
		    >"$TB_DIR/last.out" 2>"$TB_DIR/last.err" </dev/null
	fi
	STATUS=$?
	OUT=$(cat "$TB_DIR/last.out")
	ERR=$(cat "$TB_DIR/last.err")
}

# tb_spawn [--as-nobody] OUTFILE ERRFILE CMD...: starts CMD in the background;
# TB_SPAWNED_PID is its pid (the command's own: setpriv and the libtool
# wrappers exec).  It is killed at exit unless tb_wait_exit reaped it.
tb_spawn()
{
	tb_nobody=
	if [ "$1" = --as-nobody ]; then
		tb_nobody=1
		shift
	fi
	tb_out=$1 tb_err=$2
	shift 2
	# setsid makes CMD a process group leader (without forking, since a
	# job of a shell without job control is not one), so that the clean-up
	# also reaches whatever CMD starts.
	if [ -n "$tb_nobody" ]; then
		(cd "$TB_DIR" && exec setsid setpriv --reuid=$TB_NOBODY_UID \
		    --regid=$TB_NOBODY_GID --clear-groups -- "$@") \
		    >"$tb_out" 2>"$tb_err" </dev/null &
	else
		setsid "$@" >"$tb_out" 2>"$tb_err" </dev/null &
	fi
	TB_SPAWNED_PID=$!
	tb_pids="$tb_pids $TB_SPAWNED_PID"
	tb_groups="$tb_groups $TB_SPAWNED_PID"
}

# tb_require_nobody_can_run PROG...: one check that uid 65534 can execute
# each program; bails out if not, since nothing else could be tested.
tb_require_nobody_can_run()
{
	tb_blocked=
	for tb_prog in "$@"; do
		if tb_as_nobody test -x "$tb_prog" &&
		    tb_as_nobody timeout "$TB_TIMEOUT" "$tb_prog" --help \
		    >/dev/null 2>&1; then
			continue
		fi
		not_ok "uid $TB_NOBODY_UID can execute $tb_prog"
		tb_dir=$tb_prog
		while tb_dir=$(dirname "$tb_dir") && [ "$tb_dir" != / ]; do
			tb_as_nobody test -x "$tb_dir" ||
			    tb_blocked=$tb_dir
		done
		[ -n "${tb_blocked:-}" ] &&
		    diag "uid $TB_NOBODY_UID cannot enter $tb_blocked"
		bail_out "uid $TB_NOBODY_UID cannot execute $tb_prog:" \
		    "the build tree must be readable and searchable by others" \
		    "(o+rx on every directory down to it, so not under /root)"
	done
	ok "uid $TB_NOBODY_UID can execute $*"
}

# -------------------------------------------------------------- broker

# tb_broker_start MATCH_LINES: starts tunbrokerd --foreground --verbose with
# a socket of mode 0666 at $TB_DIR/run/socket and one policy rule, [rule
# test]: MATCH_LINES (users = / groups = lines) say whom it matches, and it
# allows addresses in 198.18.0.0/15 and 2001:db8::/32 and 64 devices.  Waits
# up to 5 s for the broker to answer status.  One check; bails out if the
# broker does not come up.
tb_broker_start()
{
	TB_CONF=$TB_DIR/tunbrokerd.conf
	TB_SOCKET=$TB_DIR/run/socket
	TB_LOG=$TB_DIR/broker.log
	printf '[socket]\nmode = 0666\n\n[rule test]\n%s\n%s\n%s\n' "$1" \
	    'addresses = 198.18.0.0/15, 2001:db8::/32' 'max-devices = 64' \
	    >"$TB_CONF"
	: >"$TB_LOG"
	"$TUNBROKERD" --foreground --verbose --config "$TB_CONF" \
	    --socket "$TB_SOCKET" >>"$TB_LOG" 2>&1 </dev/null &
	TB_BROKER_PID=$!
	tb_ticks=50
	until timeout 2 "$TUNCTL" --socket "$TB_SOCKET" status \
	    >/dev/null 2>&1; do
		if ! tb_alive "$TB_BROKER_PID"; then
			wait "$TB_BROKER_PID"
			tb_rc=$?
			TB_BROKER_PID=
			bail_out "tunbrokerd exited with status $tb_rc while starting"
		fi
		if [ "$tb_ticks" -le 0 ]; then
			bail_out "tunbrokerd did not answer on $TB_SOCKET within 5 s"
		fi
		sleep 0.1
		tb_ticks=$((tb_ticks - 1))
	done
	ok "tunbrokerd started and answers on its socket"
}

# tb_broker_stop: SIGTERM; checks that the broker exits 0 within 5 s, removed
# its socket and logged no sanitizer report.
tb_broker_stop()
{
	kill -TERM "$TB_BROKER_PID" 2>/dev/null
	tb_wait_exit "$TB_BROKER_PID" 5
	TB_BROKER_PID=
	TB_LAST_CMD=
	is "$TB_EXIT_STATUS" 0 "tunbrokerd exits with status 0 on SIGTERM"
	check "tunbrokerd removed its socket" test ! -e "$TB_SOCKET"
	unlike "$(cat "$TB_LOG")" 'Sanitizer|runtime error:' \
	    "tunbrokerd logged no sanitizer report"
}
