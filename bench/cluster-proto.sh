#!/usr/bin/env bash
# Smart cluster clients against forwarding, in one run: SET/GET throughput of
#
#   smart:  redis-benchmark --cluster -t set,get -c CLIENTS -n REQUESTS
#           against a 3-node playground started with --cluster-redirect
#           (the client reads CLUSTER NODES and sends each key to the node
#           leading its slot; a stale map costs a -MOVED);
#   single: redis-benchmark -t set,get -c CLIENTS -n REQUESTS against node 1
#           of a 3-node playground in the default forwarding mode (node 1
#           forwards every key it does not lead to the leader's node).
#
#   bench/cluster-proto.sh                      # run by bench/run.sh (CLUSTERPROTO=1)
#   REQUESTS=100000 RUNS=3 bench/cluster-proto.sh
#
# Both playgrounds get the same layout before measuring: the keyspace split
# into three regions at slots 5461 and 10923 (`skerry ctl split`), each led
# by a different node (`skerry ctl transfer-leader`), so a single endpoint
# serves about a third of the keys itself and forwards the rest. Runs are
# interleaved (smart, single, smart, ...) and the median of RUNS is printed
# with the ratio smart/single. Issue 6's target: ratio >= TARGET_RATIO.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
RUNS=${RUNS:-3}
KEYSPACE=${KEYSPACE:-100000}
SKERRY=${SKERRY:-./bin/skerry}
TARGET_RATIO=${TARGET_RATIO:-1.3}

for tool in redis-benchmark redis-cli jq; do
	command -v $tool >/dev/null || { echo "bench/cluster-proto: $tool not found"; exit 1; }
done
[ -x "$SKERRY" ] || { echo "bench/cluster-proto: $SKERRY not built (make build)"; exit 1; }

BENCH_NAME=cluster-proto
# shellcheck source=bench/playground-lib.sh
. bench/playground-lib.sh

B_SMART=$(pick_base); picked+=("$B_SMART")
B_FWD=$(pick_base)
start_playground smart "$B_SMART" --cluster-redirect
start_playground fwd "$B_FWD"
wait_up smart
wait_up fwd
echo "# smart: playground --cluster-redirect on ports $B_SMART..$((B_SMART + 2)); layout:"
layout "http://127.0.0.1:$((B_SMART + 2000))"
echo "# single: playground (forwarding) on ports $B_FWD..$((B_FWD + 2)); layout:"
layout "http://127.0.0.1:$((B_FWD + 2000))"
# The smart client reads the map once at start: wait until node 1's map
# shows three slot owners (it is refreshed from PD at most once a second).
for _ in $(seq 1 100); do
	[ "$(redis-cli -p "$B_SMART" cluster nodes | awk 'NF > 8' | wc -l)" = 3 ] && break
	sleep 0.2
done

echo "# smart:  redis-benchmark --cluster -h 127.0.0.1 -p $B_SMART -c $CLIENTS -n $REQUESTS -r $KEYSPACE -t set|get --csv"
echo "# single: redis-benchmark -h 127.0.0.1 -p $B_FWD -c $CLIENTS -n $REQUESTS -r $KEYSPACE -t set|get --csv"
echo "# runs=$RUNS (median), interleaved; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# bench LABEL TEST ARGS... -> appends "rps p50ms p99ms" to $work/res.LABEL.TEST
bench() {
	local label=$1 t=$2 out
	shift 2
	# A failed run (redis-benchmark --cluster refuses a map with one
	# master, e.g. while PD moves a leader) is reported, not fatal.
	out=$(redis-benchmark -h 127.0.0.1 "$@" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -t "$t" --csv \
		2>>"$work/rb.$label.err" | tail -n 1) || true
	[ -n "$out" ] || return 0
	# "test","rps","avg","min","p50","p95","p99","max"
	echo "$out" | tr -d '"' | awk -F, '{print $2, $5, $7}' >>"$work/res.$label.$t"
}

# Leaders can move between runs (PD's balancer, an election under this
# load): redis-benchmark --cluster cannot follow a map whose masters
# change, so the spread is checked (and restored) before every run, on
# both sides alike.
for _ in $(seq 1 "$RUNS"); do
	for t in set get; do
		(spread "http://127.0.0.1:$((B_SMART + 2000))") >/dev/null || true
		bench smart "$t" --cluster -p "$B_SMART"
		(spread "http://127.0.0.1:$((B_FWD + 2000))") >/dev/null || true
		bench single "$t" -p "$B_FWD"
	done
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { [ -s "$1" ] && awk -v c="$2" '{print $c}' "$1" | median || echo 0; }

printf '\n%-5s | %12s %8s %8s | %12s %8s %8s | %12s\n' test "smart ops/s" p50ms p99ms "single ops/s" p50ms p99ms "smart/single"
for t in set get; do
	s=$(col "$work/res.smart.$t" 1); f=$(col "$work/res.single.$t" 1)
	printf '%-5s | %12s %8s %8s | %12s %8s %8s | %12s\n' "$t" \
		"$s" "$(col "$work/res.smart.$t" 2)" "$(col "$work/res.smart.$t" 3)" \
		"$f" "$(col "$work/res.single.$t" 2)" "$(col "$work/res.single.$t" 3)" \
		"$(awk -v s="$s" -v f="$f" 'BEGIN{printf "%.2fx", (f>0?s/f:0)}')"
done
echo
for t in set get; do
	for l in smart single; do
		echo "# runs, $l $t (ops/s): $(awk '{printf "%s%.0f", (NR>1?", ":""), $1}' "$work/res.$l.$t")"
	done
	s=$(col "$work/res.smart.$t" 1); f=$(col "$work/res.single.$t" 1)
	awk -v s="$s" -v f="$f" -v r="$TARGET_RATIO" -v t="$t" 'BEGIN{
		x = (f > 0 ? s / f : 0)
		printf "# target: smart %s >= %.1fx single endpoint: %.2fx (%s)\n", t, r, x, (x >= r ? "met" : "NOT met")
	}'
done
errs=$(cat "$work"/rb.*.err 2>/dev/null | grep -v '^$' | sort | uniq -c | sort -rn | head -n 5 || true)
[ -n "$errs" ] && { echo "# redis-benchmark stderr (count, line):"; echo "$errs" | sed 's/^/#   /'; }
exit 0
