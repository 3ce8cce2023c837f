#!/usr/bin/env bash
# Cross-slot transactions beside single-key SET on one 3-node cluster, in
# one run (issue 5's benchmark): bench/txbench's
#
#   set:      SET of one random key;
#   mset10:   MSET of 10 keys in 10 different slots;
#   transfer: MULTI DECRBY a 1, INCRBY b 1 EXEC, a and b in different slots;
#
# against `skerry playground --nodes 3` (forwarding mode), its keyspace split
# into three regions led by three different nodes (as bench/cluster-proto.sh
# does), so most multi-key requests are distributed transactions. Clients
# are spread over the three nodes. Tests are interleaved RUNS times; the
# median ops/s, p50 and p99 are printed, with transfer/set against
# issue 5's target (TARGET_RATIO).
#
#   bench/txn.sh                      # run by bench/run.sh (TXN=1)
#   REQUESTS=20000 RUNS=3 bench/txn.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-20000}
CLIENTS=${CLIENTS:-50}
RUNS=${RUNS:-3}
KEYSPACE=${KEYSPACE:-100000}
SKERRY=${SKERRY:-./bin/skerry}
TARGET_RATIO=${TARGET_RATIO:-0.3}
TESTS=${TXN_TESTS:-set,mset10,transfer}

for tool in redis-cli jq; do
	command -v $tool >/dev/null || { echo "bench/txn: $tool not found"; exit 1; }
done
[ -x "$SKERRY" ] || { echo "bench/txn: $SKERRY not built (make build)"; exit 1; }

BENCH_NAME=txn
# shellcheck source=bench/playground-lib.sh
. bench/playground-lib.sh

go build -o "$work/txbench" ./bench/txbench
B=$(pick_base)
start_playground tx "$B"
wait_up tx
echo "# playground (forwarding) on ports $B..$((B + 2)); layout:"
layout "http://127.0.0.1:$((B + 2000))"
addrs="127.0.0.1:$B,127.0.0.1:$((B + 1)),127.0.0.1:$((B + 2))"
echo "# txbench -addrs $addrs -c $CLIENTS -n $REQUESTS -r $KEYSPACE -tests $TESTS"
echo "# runs=$RUNS (median), interleaved; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

for run in $(seq 1 "$RUNS"); do
	(spread "http://127.0.0.1:$((B + 2000))") >/dev/null || true
	"$work/txbench" -addrs "$addrs" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -tests "$TESTS" -seed "$run" \
		>>"$work/res" 2>>"$work/txbench.err" || true
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v t="$1" -v c="$2" '$1 == t {print $c}' "$work/res" | median; }

printf '\n%-9s | %10s %8s %8s | %7s\n' test "ops/s" p50ms p99ms errors
for t in ${TESTS//,/ }; do
	printf '%-9s | %10s %8s %8s | %7s\n' "$t" "$(col "$t" 2)" "$(col "$t" 3)" "$(col "$t" 4)" \
		"$(awk -v t="$t" '$1 == t {s += $5} END {print s+0}' "$work/res")"
done
echo
for t in ${TESTS//,/ }; do
	echo "# runs, $t (ops/s): $(awk -v t="$t" '$1 == t {printf "%s%.0f", (n++ ? ", " : ""), $2}' "$work/res")"
done
s=$(col set 2); x=$(col transfer 2)
awk -v s="$s" -v x="$x" -v r="$TARGET_RATIO" 'BEGIN{
	q = (s > 0 ? x / s : 0)
	printf "# target: cross-slot MULTI/EXEC transfer >= %.1fx SET: %.2fx (%s)\n", r, q, (q >= r ? "met" : "NOT met")
}'
[ -s "$work/txbench.err" ] && { echo "# txbench stderr:"; sed 's/^/#   /' "$work/txbench.err" | head -n 5; }
exit 0
