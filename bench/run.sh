#!/usr/bin/env bash
# Skerry beside a real redis-server, measured in one run with redis-benchmark.
#
#   bench/run.sh                 # defaults below
#   REQUESTS=200000 RUNS=5 bench/run.sh
#
# Targets: redis-server with appendonly yes + appendfsync always ("redis-aof"),
# redis-server without persistence ("redis-mem"), and a single Skerry node
# (one Raft replica, fsync per group-committed batch). Each test runs RUNS
# times per target, interleaved, and the median ops/s, p50 and p99 are
# printed with Skerry's ratio to each Redis.
#
# Then, unless CLUSTER=0, bench/cluster.sh: a 3-node, 3-replica Skerry
# cluster's SET/GET beside a 3-member etcd cluster's put/range (etcd's own
# benchmark tool), same requests and concurrency. SINGLE=0 runs only that.
#
# Then, unless CLUSTERPROTO=0, bench/cluster-proto.sh: redis-benchmark
# --cluster against a 3-node playground in redirect mode beside plain
# redis-benchmark against one node of a 3-node playground in forwarding
# mode (SET/GET, medians of RUNS, ratio printed).
#
# Then, unless TXN=0, bench/txn.sh: cross-slot MSET (10 keys) and MULTI/EXEC
# transfers beside SET on a 3-node playground split into three regions.
#
#   CLUSTER=0 bench/run.sh       # no etcd comparison
#   CLUSTERPROTO=0 bench/run.sh  # no smart-client comparison
#   TXN=0 bench/run.sh           # no cross-slot transaction figures
#   SINGLE=0 bench/run.sh        # cluster comparisons only
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
RUNS=${RUNS:-3}
KEYSPACE=${KEYSPACE:-100000}
TESTS=${TESTS:-set,get,incr,mset}
PIPELINES=${PIPELINES:-"1 16"}
# Collection tests run without pipelining. zrange10 is "ZRANGE myzset 0 9"
# on the sorted set the zadd test fills; lpop pops what lpush pushed.
COLL_TESTS=${COLL_TESTS:-hset,lpush,lpop,sadd,zadd,zrange10,lrange_100}
BIGDEL=${BIGDEL:-1000000}
SKERRY=${SKERRY:-./bin/skerry}
CLUSTER=${CLUSTER:-1}
CLUSTERPROTO=${CLUSTERPROTO:-1}
TXN=${TXN:-1}
SINGLE=${SINGLE:-1}

cluster() {
	if [ "$CLUSTER" = 1 ]; then
		REQUESTS=$REQUESTS CLIENTS=$CLIENTS RUNS=$RUNS KEYSPACE=$KEYSPACE SKERRY=$SKERRY bench/cluster.sh
	fi
	if [ "$CLUSTERPROTO" = 1 ]; then
		[ "$CLUSTER" = 1 ] && echo
		REQUESTS=$REQUESTS CLIENTS=$CLIENTS RUNS=$RUNS KEYSPACE=$KEYSPACE SKERRY=$SKERRY bench/cluster-proto.sh
	fi
	if [ "$TXN" = 1 ]; then
		echo
		CLIENTS=$CLIENTS RUNS=$RUNS KEYSPACE=$KEYSPACE SKERRY=$SKERRY bench/txn.sh
	fi
}
if [ "$SINGLE" = 0 ]; then
	cluster
	exit 0
fi

for tool in redis-server redis-benchmark; do
	command -v $tool >/dev/null || { echo "bench: $tool not found (apt-get install redis-server redis-tools)"; exit 1; }
done
[ -x "$SKERRY" ] || { echo "bench: $SKERRY not built (make build)"; exit 1; }

work=$(mktemp -d /tmp/skerry-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || shuf -i 20000-60000 -n 1; }

wait_ping() {
	for _ in $(seq 1 200); do
		redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.1
	done
	echo "bench: server on port $1 did not come up"; exit 1
}

P_AOF=$(free_port); P_MEM=$(free_port); P_SK=$(free_port)
mkdir -p "$work/aof" "$work/mem" "$work/skerry"
redis-server --port "$P_AOF" --bind 127.0.0.1 --dir "$work/aof" --save '' --appendonly yes --appendfsync always >"$work/aof.log" 2>&1 &
pids+=($!)
redis-server --port "$P_MEM" --bind 127.0.0.1 --dir "$work/mem" --save '' --appendonly no >"$work/mem.log" 2>&1 &
pids+=($!)
"$SKERRY" server --addr "127.0.0.1:$P_SK" --data-dir "$work/skerry" --status-addr off \
	--pd-client-addr "127.0.0.1:$(free_port)" --pd-peer-addr "127.0.0.1:$(free_port)" \
	--log-level warn >"$work/skerry.log" 2>&1 &
pids+=($!)
wait_ping "$P_AOF"; wait_ping "$P_MEM"; wait_ping "$P_SK"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "# redis: $(redis-server --version | awk '{print $3}'), requests=$REQUESTS clients=$CLIENTS keyspace=$KEYSPACE runs=$RUNS (median)"
echo "# command: redis-benchmark -h 127.0.0.1 -p PORT -c $CLIENTS -n $REQUESTS -r $KEYSPACE -t TEST -P PIPE --csv"

# run TARGET PORT TEST PIPE -> appends "rps p50 p99" to $work/res.TARGET.TEST.PIPE
run() {
	local out
	local what=(-t "$3")
	[ "$3" = zrange10 ] && what=(zrange myzset 0 9)
	out=$(redis-benchmark -h 127.0.0.1 -p "$2" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -P "$4" --csv "${what[@]}" 2>/dev/null | tail -n 1)
	# "test","rps","avg","min","p50","p95","p99","max"
	echo "$out" | tr -d '"' | awk -F, '{print $2, $5, $7}' >>"$work/res.$1.$3.$4"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' "$1" | median; }

IFS=, read -ra tests <<<"$TESTS"
IFS=, read -ra colltests <<<"$COLL_TESTS"
pipes() { if [[ ",$COLL_TESTS," == *",$1,"* ]]; then echo 1; else echo "$PIPELINES"; fi; }
all=("${tests[@]}" "${colltests[@]}")
for t in "${all[@]}"; do
	for p in $(pipes "$t"); do
		for _ in $(seq 1 "$RUNS"); do
			run aof "$P_AOF" "$t" "$p"
			run mem "$P_MEM" "$t" "$p"
			run skerry "$P_SK" "$t" "$p"
		done
	done
done

printf '\n%-10s %-4s | %12s %8s %8s | %12s %8s %8s | %12s %8s %8s | %9s %9s\n' \
	test pipe "skerry ops/s" p50ms p99ms "aof ops/s" p50ms p99ms "mem ops/s" p50ms p99ms "vs aof" "vs mem"
for t in "${all[@]}"; do
	for p in $(pipes "$t"); do
		s=$(col "$work/res.skerry.$t.$p" 1); a=$(col "$work/res.aof.$t.$p" 1); m=$(col "$work/res.mem.$t.$p" 1)
		printf '%-10s %-4s | %12s %8s %8s | %12s %8s %8s | %12s %8s %8s | %9s %9s\n' "$t" "$p" \
			"$s" "$(col "$work/res.skerry.$t.$p" 2)" "$(col "$work/res.skerry.$t.$p" 3)" \
			"$a" "$(col "$work/res.aof.$t.$p" 2)" "$(col "$work/res.aof.$t.$p" 3)" \
			"$m" "$(col "$work/res.mem.$t.$p" 2)" "$(col "$work/res.mem.$t.$p" 3)" \
			"$(awk -v s="$s" -v a="$a" 'BEGIN{printf "%.2fx", (a>0?s/a:0)}')" \
			"$(awk -v s="$s" -v m="$m" 'BEGIN{printf "%.2fx", (m>0?s/m:0)}')"
	done
done

if [ "$BIGDEL" -gt 0 ]; then
	echo
	echo "# DEL of one key with $BIGDEL members (go run ./bench/bigdel -members $BIGDEL), per type:"
	for target in "skerry $P_SK" "redis-aof $P_AOF" "redis-mem $P_MEM"; do
		set -- $target
		go run ./bench/bigdel -addr "127.0.0.1:$2" -members "$BIGDEL" -label "$1"
	done
fi

if [ "$CLUSTER" = 1 ] || [ "$CLUSTERPROTO" = 1 ]; then
	# Stop the single-node targets first: the cluster runs have the machine to themselves.
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
	echo
	cluster
fi
