#!/usr/bin/env bash
# CPU time per operation of a fresh Skerry node, for before/after comparisons
# on a busy machine where wall-clock throughput is too noisy:
#
#   bench/cpuperop.sh                       # set,sadd,zadd,zrange10,lrange_100
#   TESTS=set N=50000 SKERRY=/tmp/old bench/cpuperop.sh
#
# For each test it reads the node's user+sys CPU ticks (/proc/PID/stat)
# before and after one redis-benchmark run (-c 50, no pipelining) and prints
# microseconds of node CPU per command, and how long the node's threads
# waited on the kernel's run queues per command (runnable but not running,
# /proc/PID/task/*/schedstat). PROFILE=dir also writes a CPU profile per test
# (from the node's /debug/pprof) to dir/TEST.pprof. The node inherits the
# environment, so GOMAXPROCS=1 bench/cpuperop.sh measures that setting.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50000}
TESTS=${TESTS:-set,sadd,zadd,zrange10,lrange_100}
SKERRY=${SKERRY:-./bin/skerry}
PROFILE=${PROFILE:-}

work=$(mktemp -d /tmp/skerry-cpu.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
P=$(free_port); S=$(free_port)
"$SKERRY" server --addr "127.0.0.1:$P" --data-dir "$work/d" --status-addr "127.0.0.1:$S" \
	--pd-client-addr "127.0.0.1:$(free_port)" --pd-peer-addr "127.0.0.1:$(free_port)" \
	--log-level warn >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do redis-cli -p "$P" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
runqwait() { cat /proc/"$pid"/task/*/schedstat 2>/dev/null | awk '{w += $2} END {printf "%.0f", w}'; }
hz=$(getconf CLK_TCK)
IFS=, read -ra tests <<<"$TESTS"
for t in "${tests[@]}"; do
	what=(-t "$t")
	[ "$t" = zrange10 ] && what=(zrange myzset 0 9)
	if [ "$t" = lrange_100 ]; then
		# redis-benchmark's lrange_100 also runs its LPUSH fill: fill first, measure LRANGE alone.
		redis-benchmark -h 127.0.0.1 -p "$P" -c 50 -n 20000 -t lpush >/dev/null 2>&1
		what=(lrange mylist 0 99)
	fi
	prof=
	if [ -n "$PROFILE" ]; then
		curl -s -o "$PROFILE/$t.pprof" "http://127.0.0.1:$S/debug/pprof/profile?seconds=${PSECS:-8}" &
		prof=$!
	fi
	a=$(ticks); w0=$(runqwait); s0=$(date +%s.%N)
	rps=$(redis-benchmark -h 127.0.0.1 -p "$P" -c "${C:-50}" -n "$N" -r 100000 --csv "${what[@]}" 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f2)
	b=$(ticks); w1=$(runqwait); s1=$(date +%s.%N)
	[ -n "$prof" ] && wait "$prof"
	awk -v t="$t" -v d="$((b - a))" -v w="$((w1 - w0))" -v hz="$hz" -v n="$N" -v r="$rps" \
		'BEGIN{printf "%-11s %8.1f us/op cpu  %9s ops/s  %6.1f us/op run-queue wait\n", t, d/hz*1e6/n, r, w/1e3/n}'
done
