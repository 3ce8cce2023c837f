#!/usr/bin/env bash
# A 3-node Skerry cluster (3 replicas of every region) beside a 3-member etcd
# cluster, measured in one run: redis-benchmark SET/GET against Skerry, etcd's
# own benchmark tool put/range against etcd, same requests, same concurrency.
#
#   bench/cluster.sh                           # run by bench/run.sh (CLUSTER=1)
#   REQUESTS=100000 RUNS=3 bench/cluster.sh
#
# Skerry: `skerry playground --nodes 3`; etcd: three members on loopback.
# Each client tool connects to ONE endpoint at a time, and each side is
# measured twice per round: through the (first region's / etcd's) leader, and
# through a follower, which forwards (Skerry: to the region leader; etcd: to
# its leader). Node 1 is one of the two Skerry endpoints (the follower one
# unless node 1 leads); rows compare leader with leader, follower with
# follower. etcd's tool runs as many gRPC connections and clients as
# redis-benchmark has connections (CLIENTS).
#
# etcd binaries: $ETCD / $ETCD_BENCHMARK if set; else bench/.cache/{etcd,
# etcd-benchmark}; else `etcd` on PATH (Debian's etcd-server) for the server;
# else built from the Go module proxy into bench/.cache (the server at the
# version go.mod uses, the benchmark tool from the root module
# go.etcd.io/etcd/v3@$ETCD_TOOLS_VERSION, the newest the proxy serves). If
# they cannot be had, the etcd side is skipped with a message, never failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
RUNS=${RUNS:-3}
KEYSPACE=${KEYSPACE:-100000}
SKERRY=${SKERRY:-./bin/skerry}
CACHE=${CACHE:-$root/bench/.cache}
ETCD_TOOLS_VERSION=${ETCD_TOOLS_VERSION:-v3.6.8}
# Targets of the issue: 3-replica SET ops/s at least this many times etcd's
# 3-member put ops/s, with a p99 no worse than etcd's.
TARGET_RATIO=${TARGET_RATIO:-1.5}

for tool in redis-benchmark redis-cli curl; do
	command -v $tool >/dev/null || { echo "bench/cluster: $tool not found"; exit 1; }
done
[ -x "$SKERRY" ] || { echo "bench/cluster: $SKERRY not built (make build)"; exit 1; }

work=$(mktemp -d /tmp/skerry-cluster-bench.XXXXXX)
pg_pid=""
etcd_pids=()
cleanup() {
	set +e
	if [ -n "$pg_pid" ]; then
		# SIGINT: the playground stops its nodes gracefully; then the whole
		# process group (it was started with setsid) is killed if still there.
		kill -INT "$pg_pid" 2>/dev/null
		for _ in $(seq 1 200); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pg_pid" 2>/dev/null
	fi
	for p in "${etcd_pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.close()' "$1" 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || shuf -i 20000-60000 -n 1; }

# A base port P with P..P+2 and P+1000..P+4000+2 free (the playground's layout).
pick_base() {
	local p off i ok
	for _ in $(seq 1 50); do
		p=$(shuf -i 20000-40000 -n 1)
		ok=1
		for off in 0 1000 2000 3000 4000; do
			for i in 0 1 2; do port_free $((p + off + i)) || { ok=0; break 2; }; done
		done
		[ $ok = 1 ] && { echo "$p"; return 0; }
	done
	echo "bench/cluster: no free port range found" >&2
	return 1
}

# build_from_proxy MODULE@VERSION PKG OUT: builds PKG of a module fetched
# through the Go module proxy. etcd's modules carry replace directives (to
# their sibling directories), so `go install m@v` refuses them: the module is
# copied, the replace block dropped, and it is built against the published
# versions of its siblings.
build_from_proxy() {
	local modver=$1 pkg=$2 out=$3 dir src
	dir=$(cd "$work" && GOFLAGS=-mod=mod GOWORK=off timeout 600 go mod download -json "$modver" 2>>"$work/etcd-build.log" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || return 1
	[ -n "$dir" ] && [ -d "$dir" ] || return 1
	src="$work/src-$(basename "$out")"
	cp -r "$dir" "$src" && chmod -R u+w "$src" || return 1
	sed -i '/^replace (/,/^)/d; /^replace .*=>/d' "$src/go.mod"
	(cd "$src" && GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off GOTOOLCHAIN=local \
		timeout 900 go build -o "$out.tmp" "$pkg") >>"$work/etcd-build.log" 2>&1 || return 1
	mv "$out.tmp" "$out"
}

get_etcd() {
	local ver
	ETCD=${ETCD:-}
	ETCD_BENCHMARK=${ETCD_BENCHMARK:-}
	mkdir -p "$CACHE"
	if [ -z "$ETCD" ]; then
		if [ -x "$CACHE/etcd" ]; then
			ETCD=$CACHE/etcd
		elif command -v etcd >/dev/null; then
			ETCD=$(command -v etcd)
		else
			ver=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3 2>/dev/null || echo v3.7.3)
			echo "# building etcd server $ver from the Go module proxy into $CACHE (once)"
			build_from_proxy "go.etcd.io/etcd/server/v3@$ver" . "$CACHE/etcd" && ETCD=$CACHE/etcd
		fi
	fi
	if [ -z "$ETCD_BENCHMARK" ]; then
		if [ -x "$CACHE/etcd-benchmark" ]; then
			ETCD_BENCHMARK=$CACHE/etcd-benchmark
		else
			echo "# building etcd's benchmark tool (go.etcd.io/etcd/v3@$ETCD_TOOLS_VERSION) into $CACHE (once)"
			build_from_proxy "go.etcd.io/etcd/v3@$ETCD_TOOLS_VERSION" ./tools/benchmark "$CACHE/etcd-benchmark" &&
				ETCD_BENCHMARK=$CACHE/etcd-benchmark
		fi
	fi
	if [ -z "$ETCD" ] || [ -z "$ETCD_BENCHMARK" ] || [ ! -x "$ETCD" ] || [ ! -x "$ETCD_BENCHMARK" ]; then
		echo "# etcd comparison SKIPPED: could not obtain the etcd server and/or its benchmark tool"
		[ -s "$work/etcd-build.log" ] && tail -n 5 "$work/etcd-build.log" | sed 's/^/#   /'
		return 1
	fi
	return 0
}

# ---- Skerry: 3-node playground ----
P=$(pick_base)
PD="http://127.0.0.1:$((P + 2000))"
setsid "$SKERRY" playground --nodes 3 --port "$P" --data-dir "$work/skerry" -- --log-level warn >"$work/playground.log" 2>&1 &
pg_pid=$!
up=0
for _ in $(seq 1 600); do
	grep -q 'playground is up' "$work/playground.log" && { up=1; break; }
	kill -0 "$pg_pid" 2>/dev/null || break
	sleep 0.1
done
[ $up = 1 ] || { echo "bench/cluster: skerry playground did not come up:"; tail -n 20 "$work/playground.log"; exit 1; }

# Wait for the first region to have 3 peers and a leader.
leader_store=""
for _ in $(seq 1 300); do
	regions=$("$SKERRY" ctl --pd "$PD" --format json regions 2>/dev/null || true)
	if [ -n "$regions" ] && [ "$(echo "$regions" | jq '.[0].peers | length' 2>/dev/null)" = 3 ]; then
		leader_store=$(echo "$regions" | jq -r '.[0].leader.store_id // empty')
		[ -n "$leader_store" ] && [ "$leader_store" != 0 ] && break
	fi
	leader_store=""
	sleep 0.2
done
[ -n "$leader_store" ] || { echo "bench/cluster: the first region never got 3 peers and a leader"; exit 1; }
stores=$("$SKERRY" ctl --pd "$PD" --format json stores)
leader_addr=$(echo "$stores" | jq -r --arg s "$leader_store" '.[] | select((.id|tostring) == $s) | .resp_addr')
node1="127.0.0.1:$P"
declare -A sk_port
sk_port[leader]=${leader_addr##*:}
if [ "$leader_addr" = "$node1" ]; then
	node1_role=leader
	sk_port[follower]=$((P + 1))
else
	node1_role=follower
	sk_port[follower]=$P
fi
roles=(leader follower)

# ---- etcd: 3 members ----
have_etcd=0
if get_etcd; then
	cl=(); pe=(); init=""
	for i in 1 2 3; do
		cl[$i]=$(free_port); pe[$i]=$(free_port)
		init+="${init:+,}e$i=http://127.0.0.1:${pe[$i]}"
	done
	for i in 1 2 3; do
		"$ETCD" --name "e$i" --data-dir "$work/etcd$i" \
			--listen-client-urls "http://127.0.0.1:${cl[$i]}" --advertise-client-urls "http://127.0.0.1:${cl[$i]}" \
			--listen-peer-urls "http://127.0.0.1:${pe[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${pe[$i]}" \
			--initial-cluster "$init" --initial-cluster-state new --initial-cluster-token skerry-bench \
			--log-level warn >"$work/etcd$i.log" 2>&1 &
		etcd_pids+=($!)
	done
	for _ in $(seq 1 300); do
		ok=0
		for i in 1 2 3; do
			curl -sf -m 1 "http://127.0.0.1:${cl[$i]}/health" 2>/dev/null | grep -q '"health":"true"' && ok=$((ok + 1))
		done
		[ $ok = 3 ] && { have_etcd=1; break; }
		sleep 0.2
	done
	if [ $have_etcd = 1 ]; then
		# The key the range benchmark reads: present, like the keys GET finds.
		curl -sf -m 5 -X POST "http://127.0.0.1:${cl[1]}/v3/kv/put" \
			-d "{\"key\":\"$(printf 'key:000000000001' | base64)\",\"value\":\"$(printf 'xxx' | base64)\"}" >/dev/null || true
		declare -A etcd_ep
		for _ in $(seq 1 100); do
			etcd_leader=$(curl -sf -m 5 -X POST "http://127.0.0.1:${cl[1]}/v3/maintenance/status" -d '{}' | jq -r '.leader // empty' || true)
			[ -n "$etcd_leader" ] && [ "$etcd_leader" != 0 ] && break
			sleep 0.2
		done
		for i in 1 2 3; do
			id=$(curl -sf -m 5 -X POST "http://127.0.0.1:${cl[$i]}/v3/maintenance/status" -d '{}' | jq -r '.header.member_id // empty' || true)
			if [ -n "$id" ] && [ "$id" = "$etcd_leader" ]; then
				etcd_ep[leader]=127.0.0.1:${cl[$i]}; etcd_leader_desc="member $i"
			elif [ -z "${etcd_ep[follower]:-}" ]; then
				etcd_ep[follower]=127.0.0.1:${cl[$i]}
			fi
		done
		if [ -z "${etcd_ep[leader]:-}" ] || [ -z "${etcd_ep[follower]:-}" ]; then
			echo "# etcd comparison SKIPPED: could not tell etcd's leader"
			have_etcd=0
		fi
		etcd_version=$("$ETCD" --version 2>/dev/null | awk 'NR == 1 {print $3}' || true)
	else
		echo "# etcd comparison SKIPPED: the 3 etcd members did not become healthy:"
		tail -n 5 "$work/etcd1.log" | sed 's/^/#   /'
	fi
fi

echo
echo "# cluster: skerry 3 nodes x 3 replicas (playground, base port $P); region leader: store $leader_store at $leader_addr; node 1 ($node1) is the $node1_role"
echo "# skerry: redis-benchmark -h 127.0.0.1 -p PORT -c $CLIENTS -n $REQUESTS -r $KEYSPACE -t set|get --csv   (leader PORT ${sk_port[leader]}, follower PORT ${sk_port[follower]})"
if [ $have_etcd = 1 ]; then
	echo "# etcd $etcd_version, 3 members, leader: $etcd_leader_desc (${etcd_ep[leader]}), follower endpoint ${etcd_ep[follower]}; tool: $ETCD_BENCHMARK"
	echo "# etcd: benchmark --endpoints=EP --conns=$CLIENTS --clients=$CLIENTS put --key-size 16 --val-size 3 --key-space-size $KEYSPACE --total $REQUESTS"
	echo "# etcd: benchmark --endpoints=EP --conns=$CLIENTS --clients=$CLIENTS range key:000000000001 --total $REQUESTS   (linearizable)"
fi
echo "# runs=$RUNS (median), interleaved; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# skerry_run LABEL PORT TEST -> appends "rps p99ms" to $work/res.LABEL.TEST
skerry_run() {
	local out
	out=$(redis-benchmark -h 127.0.0.1 -p "$2" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -t "$3" --csv 2>>"$work/rb.$1.$3.err" | tail -n 1)
	# "test","rps","avg","min","p50","p95","p99","max"
	echo "$out" | tr -d '"' | awk -F, '{print $2, $7}' >>"$work/res.$1.$3"
}

# etcd_run ROLE TEST ARGS... -> appends "rps p99ms" to $work/res.etcd-ROLE.TEST
etcd_run() {
	local role=$1 t=$2 out
	shift 2
	out=$(timeout 600 "$ETCD_BENCHMARK" --endpoints="${etcd_ep[$role]}" --conns="$CLIENTS" --clients="$CLIENTS" "$@" 2>>"$work/etcd.$t.err") || true
	echo "$out" >>"$work/etcd-$role.$t.out"
	# "  Requests/sec:	12345.6789" and "  99% in 0.0123 secs."
	echo "$out" | awk '/Requests\/sec:/ {rps=$2} $1=="99%" && $2=="in" {p99=$3*1000} END {printf "%s %.3f\n", (rps==""?0:rps), p99}' >>"$work/res.etcd-$role.$t"
}

loads=()
for r in $(seq 1 "$RUNS"); do
	for t in set get; do
		for role in "${roles[@]}"; do
			skerry_run "$role" "${sk_port[$role]}" "$t"
			[ $have_etcd = 1 ] || continue
			if [ $t = set ]; then
				etcd_run "$role" put put --key-size 16 --val-size 3 --key-space-size "$KEYSPACE" --total "$REQUESTS"
			else
				etcd_run "$role" range range key:000000000001 --total "$REQUESTS"
			fi
		done
	done
	loads+=("$(cut -d' ' -f1 /proc/loadavg)")
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { [ -s "$1" ] && awk -v c="$2" '{print $c}' "$1" | median || echo 0; }

echo "# load average (1 min) after each round: ${loads[*]}"
printf '\n%-18s %-4s | %12s %8s | %-5s %12s %8s | %10s %14s\n' "endpoint" test "skerry ops/s" p99ms etcd "etcd ops/s" p99ms "ops ratio" "p99 vs etcd"
for t in set get; do
	et=put; [ $t = get ] && et=range
	for role in "${roles[@]}"; do
		l=$role; [ "$role" = "$node1_role" ] && l="$role (node 1)"
		s=$(col "$work/res.$role.$t" 1); sp=$(col "$work/res.$role.$t" 2)
		e=$(col "$work/res.etcd-$role.$et" 1); ep=$(col "$work/res.etcd-$role.$et" 2)
		if [ $have_etcd = 1 ]; then
			printf '%-18s %-4s | %12s %8s | %-5s %12s %8s | %10s %14s\n' "$l" "$t" "$s" "$sp" "$et" "$e" "$ep" \
				"$(awk -v s="$s" -v e="$e" 'BEGIN{printf "%.2fx", (e>0?s/e:0)}')" \
				"$(awk -v s="$sp" -v e="$ep" 'BEGIN{printf "%.2fx", (e>0?s/e:0)}')"
		else
			printf '%-18s %-4s | %12s %8s | %-5s %12s %8s | %10s %14s\n' "$l" "$t" "$s" "$sp" "$et" - - - -
		fi
	done
done

# Every run, for the record: ops/s/p99ms per round.
echo
for t in set get put range; do
	for role in "${roles[@]}"; do
		f="$work/res.$role.$t"; [ $t = put ] || [ $t = range ] && f="$work/res.etcd-$role.$t"
		[ -s "$f" ] && echo "# runs, $role $t (ops/s/p99ms): $(awk '{printf "%s%.0f/%s", (NR>1?", ":""), $1, $2}' "$f")"
	done
done

if [ $have_etcd = 1 ]; then
	echo
	for role in "${roles[@]}"; do
		s=$(col "$work/res.$role.set" 1); sp=$(col "$work/res.$role.set" 2)
		e=$(col "$work/res.etcd-$role.put" 1); ep=$(col "$work/res.etcd-$role.put" 2)
		l=$role; [ "$role" = "$node1_role" ] && l="$role, node 1"
		awk -v s="$s" -v sp="$sp" -v e="$e" -v ep="$ep" -v t="$TARGET_RATIO" -v l="$l" 'BEGIN{
			r = (e > 0 ? s / e : 0)
			printf "# target (%s): SET ops/s >= %.1fx etcd put: %.2fx (%s); SET p99 <= etcd put p99: %s vs %s ms (%s)\n",
				l, t, r, (r >= t ? "met" : "NOT met"), sp, ep, (sp + 0 <= ep + 0 ? "met" : "NOT met")
		}'
	done
fi

# Anything odd: error replies redis-benchmark saw, warnings the nodes logged.
errs=$(cat "$work"/rb.*.err 2>/dev/null | grep -v '^$' | sort | uniq -c | sort -rn | head -n 5 || true)
[ -n "$errs" ] && { echo "# redis-benchmark stderr (count, line):"; echo "$errs" | sed 's/^/#   /'; }
for i in 1 2 3; do
	n=$(grep -c -E '"level":"(WARN|ERROR)"|level=(WARN|ERROR)' "$work/skerry/node-$i/skerry.log" 2>/dev/null || true)
	[ "${n:-0}" -gt 0 ] && echo "# skerry node $i logged $n warnings/errors, e.g.: $(grep -m1 -E 'level=(WARN|ERROR)|"level":"(WARN|ERROR)"' "$work/skerry/node-$i/skerry.log" | cut -c1-200)"
done
nreg=$("$SKERRY" ctl --pd "$PD" --format json regions 2>/dev/null | jq 'length' 2>/dev/null || echo "?")
echo "# skerry regions after the run: $nreg"
if [ "${KEEP_LOGS:-0}" = 1 ]; then
	mkdir -p bench/results
	cp "$work"/*.out "$work"/*.err bench/results/ 2>/dev/null || true
	for i in 1 2 3; do cp "$work/skerry/node-$i/skerry.log" "bench/results/skerry-node-$i.log" 2>/dev/null || true; done
fi
exit 0
