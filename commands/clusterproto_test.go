package commands

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/resp"
)

// wantRoutes fails unless h's node counted exactly want since before.
func wantRoutes(t *testing.T, h *harness, before RouteCounts, want RouteCounts) RouteCounts {
	t.Helper()
	now := h.d.env.Stats.Routes()
	if got := now.Sub(before); got != want {
		t.Fatalf("routes local/forwarded/redirected = %v, want %v", got, want)
	}
	return now
}

// TestRouteCounters: every keyed client command is counted once by where
// it was served; keyless commands and commands forwarded to this node are
// not counted.
func TestRouteCounters(t *testing.T) {
	o, l, fs, _ := forwardPair(t)
	r := o.d.env.Stats.Routes()
	lr := l.d.env.Stats.Routes()
	o.expect("+OK\r\n", "SET", "k", "v")
	o.expect("$1\r\nv\r\n", "GET", "k")
	o.expect("+PONG\r\n", "PING")
	r = wantRoutes(t, o, r, RouteCounts{RouteForwarded: 2})
	// The leader ran them for another node: not its clients' routing.
	lr = wantRoutes(t, l, lr, RouteCounts{})
	l.expect("$1\r\nv\r\n", "GET", "k")
	wantRoutes(t, l, lr, RouteCounts{RouteLocal: 1})

	// A pipeline that runs here is counted per command.
	fs.local.Store(true)
	cmds := [][][]byte{{[]byte("SET"), []byte("p"), []byte("1")}, {[]byte("INCR"), []byte("p")}, {[]byte("GET"), []byte("p")}}
	w := resp.NewWriter(2)
	o.d.ServeRESPBatch(o.c, cmds, w)
	if got := string(w.Bytes()); got != "+OK\r\n:2\r\n$1\r\n2\r\n" {
		t.Fatalf("pipeline replies %q", got)
	}
	// Errors still count as served here.
	o.expect("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "LPUSH", "p", "x")
	r = wantRoutes(t, o, r, RouteCounts{RouteLocal: 4})

	// Not the leader, then leader after a retry: counted once, forwarded.
	fs.local.Store(false)
	fs.node = 0
	fs.localAfter = fs.calls.Load() + 2
	o.expect("$1\r\n2\r\n", "GET", "p")
	wantRoutes(t, o, r, RouteCounts{RouteForwarded: 1})
}

// TestRouteCountersRedirect: in redirect mode a command led elsewhere is
// counted as redirected, and the metric exports the counters.
func TestRouteCountersRedirect(t *testing.T) {
	me := ClusterNode{ID: strings.Repeat("a", 40), IP: "127.0.0.1", Port: 7001, Store: 1}
	other := ClusterNode{ID: strings.Repeat("b", 40), IP: "127.0.0.2", Port: 7002, Store: 2}
	topo := &Topology{Myself: me, Nodes: []ClusterNode{me, other},
		Slots: []SlotRange{{Start: 0, End: keys.NumSlots - 1, Owner: other}}}
	o, _, _, _ := forwardPair(t)
	o.d.env.Cluster = fakeCluster{topo}
	o.d.env.ClusterRedirect = true
	r := o.d.env.Stats.Routes()
	o.expect(fmt.Sprintf("-MOVED %d 127.0.0.2:7002\r\n", keys.Slot([]byte("k"))), "GET", "k")
	// Keys of two slots are served (forwarded), not redirected.
	o.expect("*2\r\n$-1\r\n$-1\r\n", "MGET", "a", "b")
	r = wantRoutes(t, o, r, RouteCounts{RouteForwarded: 1, RouteRedirected: 1})

	reg := prometheus.NewRegistry()
	reg.MustRegister(o.d.env.Stats.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "skerry_cluster_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"local": float64(r[RouteLocal]), "forwarded": float64(r[RouteForwarded]),
		"redirected": float64(r[RouteRedirected])}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("skerry_cluster_requests_total = %v, want %v", got, want)
	}
}

// TestClusterMyShardID: Redis 7.2's CLUSTER MYSHARDID answers a stable
// 40-hex id, the same on every call, distinct from the node id and from
// other nodes' shard ids; without cluster support the node is Redis 7.0,
// which does not know the subcommand. INFO cluster says cluster_enabled:0
// on a single node (as Redis 7.0 without cluster-enabled).
func TestClusterMyShardID(t *testing.T) {
	me := ClusterNode{ID: strings.Repeat("a", 40), IP: "127.0.0.1", Port: 7001, Store: 1}
	other := ClusterNode{ID: strings.Repeat("b", 40), IP: "127.0.0.1", Port: 7002, Store: 2}
	topo := &Topology{Myself: me, Nodes: []ClusterNode{me, other},
		Slots: []SlotRange{{Start: 0, End: keys.NumSlots - 1, Owner: other}}}
	h := clusterHarness(t, topo)
	id := ShardID(me)
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(id) || id == me.ID || id == ShardID(other) {
		t.Fatalf("ShardID = %q (node %q, other shard %q)", id, me.ID, ShardID(other))
	}
	h.expect("$40\r\n"+id+"\r\n", "CLUSTER", "MYSHARDID")
	h.expect("$40\r\n"+id+"\r\n", "cluster", "myshardid")
	h.expect("-ERR wrong number of arguments for 'cluster|myshardid' command\r\n", "CLUSTER", "MYSHARDID", "x")
	h.expect("$30\r\n# Cluster\r\ncluster_enabled:1\r\n\r\n", "INFO", "cluster")

	single := newHarness(t)
	single.expect("-ERR unknown subcommand 'MyShardID'. Try CLUSTER HELP.\r\n", "CLUSTER", "MyShardID")
	single.expect("$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n", "INFO", "cluster")
}
