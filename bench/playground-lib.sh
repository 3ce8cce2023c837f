# Shared by bench/cluster-proto.sh and bench/txn.sh (sourced, not run):
# 3-node playgrounds on free ports, split into three regions whose leaders
# sit on three different stores. Expects SKERRY and a `work` directory
# prefix in BENCH_NAME; sets `work` and installs the cleanup trap.
work=$(mktemp -d "/tmp/skerry-$BENCH_NAME.XXXXXX")
pg_pids=()
cleanup() {
	set +e
	for p in "${pg_pids[@]}"; do
		# SIGINT stops a playground's nodes gracefully; its process group
		# (started with setsid) is killed if anything is left.
		kill -INT "$p" 2>/dev/null
	done
	for p in "${pg_pids[@]}"; do
		for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.close()' "$1" 2>/dev/null; }

# A base port P with P..P+2 and P+1000..P+4000+2 free (the playground's
# layout), not within 10 of an earlier pick.
picked=()
pick_base() {
	local p off i ok q
	for _ in $(seq 1 50); do
		p=$(shuf -i 20000-40000 -n 1)
		ok=1
		for q in "${picked[@]}"; do [ $((p > q ? p - q : q - p)) -ge 10 ] || ok=0; done
		for off in 0 1000 2000 3000 4000; do
			for i in 0 1 2; do port_free $((p + off + i)) || { ok=0; break 2; }; done
		done
		[ $ok = 1 ] && { echo "$p"; return 0; }
	done
	echo "bench/$BENCH_NAME: no free port range found" >&2
	return 1
}

# start_playground NAME BASE [server args...]: a 3-node playground.
start_playground() {
	local name=$1 base=$2
	shift 2
	setsid "$SKERRY" playground --nodes 3 --port "$base" --data-dir "$work/$name" -- --log-level warn "$@" \
		>"$work/$name.log" 2>&1 &
	pg_pids+=($!)
}

wait_up() {
	local name=$1
	for _ in $(seq 1 600); do
		grep -q 'playground is up' "$work/$name.log" && return 0
		sleep 0.1
	done
	echo "bench/$BENCH_NAME: playground $name did not come up:"
	tail -n 20 "$work/$name.log"
	exit 1
}

# layout PD: three regions split at slots 5461 and 10923, led by three
# different stores (PD's leader balancer may move a leader meanwhile: one
# duplicate leader at a time is moved to a store leading none, until the
# three leaders differ three times in a row).
layout() {
	local pd=$1 regions stores i id round
	ctl() { "$SKERRY" ctl --pd "$pd" --wait 30s "$@" 2>>"$work/ctl.log"; }
	for _ in $(seq 1 300); do
		regions=$(ctl --format json regions || true)
		[ -n "$regions" ] && [ "$(echo "$regions" | jq '.[0].peers | length')" = 3 ] &&
			[ "$(echo "$regions" | jq '.[0].leader.store_id // 0')" != 0 ] && break
		sleep 0.2
	done
	for slot in 5461 10923; do
		id=$(ctl --format json regions | jq -r '.[-1].id')
		ctl split "$id" --slot "$slot" >/dev/null
	done
	spread "$pd"
}

# spread PD: wait until the three regions' leaders are on three stores,
# moving one duplicate leader at a time, and print the layout.
spread() {
	local pd=$1 regions stores round
	ctl() { "$SKERRY" ctl --pd "$pd" --wait 30s "$@" 2>>"$work/ctl.log"; }
	mapfile -t stores < <(ctl --format json stores | jq -r '.[].id' | sort -n)
	local stable=0
	for round in $(seq 1 60); do
		regions=$(ctl --format json regions)
		if [ "$(echo "$regions" | jq '[.[] | select(.peers | length == 3) | .leader.store_id // 0 | select(. != 0)] | unique | length')" = 3 ] &&
			[ "$(echo "$regions" | jq 'length')" = 3 ]; then
			# Spread three times in a row, a second apart: no transfer in flight.
			stable=$((stable + 1))
			[ $stable = 3 ] && break
			sleep 1
			continue
		fi
		stable=0
		[ "$round" = 60 ] && { echo "bench/$BENCH_NAME: could not spread the leaders: $regions"; exit 1; }
		# Move one leader from a store that leads two regions to one that
		# leads none. Any spread will do: insisting on a fixed store per
		# region fought PD's leader balancer, which also evens them out.
		local move
		move=$(echo "$regions" | jq -r --argjson stores "$(printf '%s\n' "${stores[@]}" | jq -s .)" '
			(map(.leader.store_id // 0)) as $ls | ($stores - $ls) as $free |
			[.[] | select((.leader.store_id // 0) as $s | $s != 0 and ($ls | map(select(. == $s)) | length) > 1)] as $dups |
			if ($free | length) > 0 and ($dups | length) > 0 then "\($dups[0].id) \($free[0])" else "" end')
		[ -n "$move" ] && { ctl transfer-leader $move >/dev/null || true; }
		sleep 1
	done
	ctl --format json regions | jq -r '.[] | "#   region \(.id) (slots \(.slots)): leader store \(.leader.store_id)"'
}

