package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/resp"
)

// fakeCluster is a fixed ClusterView.
type fakeCluster struct{ topo *Topology }

func (f fakeCluster) Topology(context.Context) (*Topology, error) { return f.topo, nil }

// startClusterRedis starts a cluster-enabled redis-server that owns every
// slot (skipped when redis-server is not installed) and returns a
// connection to it, its port and its cluster bus port.
func startClusterRedis(t *testing.T) (rr *realRedis, port, busPort int) {
	t.Helper()
	// An explicit bus port (Redis 7.0 cluster-port): the default,
	// port+10000, may be out of range or taken.
	busPort = freeTCPPort(t)
	rr, port = startRealRedisArgs(t, "--cluster-enabled", "yes",
		"--cluster-config-file", t.TempDir()+"/nodes.conf", "--cluster-port", strconv.Itoa(busPort))
	deadline := time.Now().Add(10 * time.Second)
	if got := rr.do(t, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); got != "+OK\r\n" {
		t.Fatalf("ADDSLOTSRANGE: %q", got)
	}
	for !strings.Contains(rr.do(t, "CLUSTER", "INFO"), "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatal("cluster state never became ok")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rr, port, busPort
}

// clusterHarness is a harness whose node looks like the given one-node
// cluster (redirect mode: cluster_enabled:1).
func clusterHarness(t *testing.T, topo *Topology) *harness {
	h := newHarness(t)
	h.d.env.Cluster = fakeCluster{topo}
	h.d.env.ClusterRedirect = true
	return h
}

// TestClusterRepliesMatchRedisCluster compares the CLUSTER commands of a
// node whose topology mirrors a one-node Redis Cluster with that real
// cluster, byte for byte, in RESP2 and RESP3.
func TestClusterRepliesMatchRedisCluster(t *testing.T) {
	rr, port, busPort := startClusterRedis(t)
	id := strings.TrimSpace(strings.Split(rr.do(t, "CLUSTER", "MYID"), "\r\n")[1])
	// A one-node Redis Cluster does not know its own IP: it shows "".
	me := ClusterNode{ID: id, IP: "", Port: port, BusPort: busPort, Store: 1}
	topo := &Topology{Myself: me, Nodes: []ClusterNode{me}, Slots: []SlotRange{{Start: 0, End: 16383, Owner: me}},
		At: time.Now()}
	cmds := []string{
		"CLUSTER SLOTS", "CLUSTER SHARDS", "CLUSTER NODES", "CLUSTER INFO", "CLUSTER MYID", "CLUSTER LINKS",
		"CLUSTER HELP", "CLUSTER KEYSLOT foo", "CLUSTER KEYSLOT {user1000}.following", "CLUSTER KEYSLOT {}x",
		"CLUSTER KEYSLOT {a", "CLUSTER KEYSLOT }a{b}", "CLUSTER KEYSLOT ''",
		"SET foo 1", "SET {foo}bar 2", "SET other 3", "HSET h f v", "SET gone 1 PX 1",
		"CLUSTER COUNTKEYSINSLOT 12182", "CLUSTER COUNTKEYSINSLOT 0", "CLUSTER COUNTKEYSINSLOT 16383",
		"CLUSTER COUNTKEYSINSLOT -1", "CLUSTER COUNTKEYSINSLOT 16384", "CLUSTER COUNTKEYSINSLOT abc",
		"CLUSTER COUNTKEYSINSLOT 1.5", "CLUSTER COUNTKEYSINSLOT 99999999999999999999",
		"CLUSTER GETKEYSINSLOT 12182 0", "CLUSTER GETKEYSINSLOT 12182 -1", "CLUSTER GETKEYSINSLOT 16384 1",
		"CLUSTER GETKEYSINSLOT -1 1", "CLUSTER GETKEYSINSLOT abc 1", "CLUSTER GETKEYSINSLOT 1 abc",
		"CLUSTER GETKEYSINSLOT 1 99999999999999999999", "CLUSTER GETKEYSINSLOT 0 10",
		"CLUSTER GETKEYSINSLOT 4770 10", // h (one key: the order of several differs)
		"CLUSTER COUNT-FAILURE-REPORTS nosuchnode", "CLUSTER COUNT-FAILURE-REPORTS " + id,
		"READONLY", "READWRITE", "ASKING", "INFO cluster",
		"CLUSTER FOO", "CLUSTER KEYSLOT", "CLUSTER SLOTS x", "READONLY x",
	}
	for _, proto := range []int{2, 3} {
		rr.do(t, "HELLO", strconv.Itoa(proto))
		rr.do(t, "FLUSHALL")
		h := clusterHarness(t, topo)
		h.c.Proto = proto
		for _, line := range cmds {
			args := splitCmd(line)
			for i, a := range args {
				if a == "''" {
					args[i] = ""
				}
			}
			want := rr.do(t, args...)
			got := h.do(args...)
			if got != want {
				t.Errorf("RESP%d %q:\n got %q\nwant %q", proto, line, got, want)
			}
		}
		// GETKEYSINSLOT returns every key of the slot, in its own order.
		want := sortedArrayReply(rr.do(t, "CLUSTER", "GETKEYSINSLOT", "12182", "10"))
		if got := sortedArrayReply(h.do("CLUSTER", "GETKEYSINSLOT", "12182", "10")); got != want {
			t.Errorf("RESP%d GETKEYSINSLOT 12182 10: got %q want %q", proto, got, want)
		}
	}
}

// TestClusterKeySlotMatchesRedis checks CLUSTER KEYSLOT on many keys.
func TestClusterKeySlotMatchesRedis(t *testing.T) {
	rr, _, _ := startClusterRedis(t)
	h := clusterHarness(t, &Topology{})
	for i := range 300 {
		key := fmt.Sprintf("key:%d", i*7919)
		if i%3 == 0 {
			key = fmt.Sprintf("{tag%d}x%d", i, i)
		}
		if want, got := rr.do(t, "CLUSTER", "KEYSLOT", key), h.do("CLUSTER", "KEYSLOT", key); got != want {
			t.Fatalf("KEYSLOT %q: got %q want %q", key, got, want)
		}
	}
}

// TestClusterModeReportsCluster checks what redirect mode changes in INFO
// and HELLO, and that forwarding mode still answers CLUSTER commands while
// reporting standalone.
func TestClusterModeReportsCluster(t *testing.T) {
	me := ClusterNode{ID: strings.Repeat("a", 40), IP: "127.0.0.1", Port: 7000, BusPort: 17000, Store: 1}
	topo := &Topology{Myself: me, Nodes: []ClusterNode{me}, Slots: []SlotRange{{Start: 0, End: 16383, Owner: me}}}
	h := clusterHarness(t, topo)
	if got := h.do("HELLO", "3"); !strings.Contains(got, "$4\r\nmode\r\n$7\r\ncluster\r\n") {
		t.Errorf("HELLO in redirect mode: %q", got)
	}
	if got := h.do("INFO", "server"); !strings.Contains(got, "redis_mode:cluster\r\n") {
		t.Errorf("INFO server in redirect mode: %q", got)
	}
	h.d.env.ClusterRedirect = false
	h.c.Proto = 2
	h.expect("$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n", "INFO", "cluster")
	h.expect("$40\r\n"+me.ID+"\r\n", "CLUSTER", "MYID")
}

// TestClusterTopologyReplies checks SLOTS, SHARDS and NODES of a
// three-node cluster with replicas and split slot ranges.
func TestClusterTopologyReplies(t *testing.T) {
	n := func(i int) ClusterNode {
		return ClusterNode{ID: strings.Repeat(strconv.Itoa(i), 40), IP: "10.0.0." + strconv.Itoa(i), Port: 7000 + i,
			BusPort: 20160 + i, Store: uint64(i)}
	}
	a, b, c := n(1), n(2), n(3)
	topo := &Topology{Myself: b, Nodes: []ClusterNode{a, b, c}, At: time.UnixMilli(1700000000000),
		Slots: []SlotRange{
			{Start: 0, End: 99, Owner: a, Replicas: []ClusterNode{b, c}},
			{Start: 100, End: 100, Owner: b, Replicas: []ClusterNode{a, c}},
			{Start: 101, End: 16383, Owner: a, Replicas: []ClusterNode{b}},
		}}
	h := clusterHarness(t, topo)
	h.expect("$308\r\n"+
		"1111111111111111111111111111111111111111 10.0.0.1:7001@20161 master - 0 1700000000000 0 connected 0-99 101-16383\n"+
		"2222222222222222222222222222222222222222 10.0.0.2:7002@20162 myself,master - 0 0 0 connected 100\n"+
		"3333333333333333333333333333333333333333 10.0.0.3:7003@20163 master - 0 1700000000000 0 connected\n"+
		"\r\n", "CLUSTER", "NODES")
	node := func(x ClusterNode) string {
		return fmt.Sprintf("*4\r\n$%d\r\n%s\r\n:%d\r\n$40\r\n%s\r\n*0\r\n", len(x.IP), x.IP, x.Port, x.ID)
	}
	h.expect("*3\r\n"+
		"*5\r\n:0\r\n:99\r\n"+node(a)+node(b)+node(c)+
		"*5\r\n:100\r\n:100\r\n"+node(b)+node(a)+node(c)+
		"*4\r\n:101\r\n:16383\r\n"+node(a)+node(b), "CLUSTER", "SLOTS")
	got := h.do("CLUSTER", "SHARDS")
	// Two shards (a's, b's); c replicates ranges of both, so it is
	// listed in both, never alone.
	if !strings.HasPrefix(got, "*2\r\n*4\r\n$5\r\nslots\r\n*4\r\n:0\r\n:99\r\n:101\r\n:16383\r\n$5\r\nnodes\r\n*3\r\n") {
		t.Errorf("CLUSTER SHARDS: %q", got)
	}
	if strings.Count(got, "$7\r\nreplica\r\n") != 4 || strings.Count(got, "$6\r\nmaster\r\n") != 2 {
		t.Errorf("CLUSTER SHARDS roles: %q", got)
	}
	info := h.do("CLUSTER", "INFO")
	for _, want := range []string{"cluster_state:ok\r\ncluster_slots_assigned:16384\r\n",
		"cluster_known_nodes:3\r\ncluster_size:2\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("CLUSTER INFO %q lacks %q", info, want)
		}
	}
	// A gap (a region without a known leader) makes the state fail.
	topo.Slots = topo.Slots[1:]
	if info := h.do("CLUSTER", "INFO"); !strings.Contains(info, "cluster_state:fail\r\ncluster_slots_assigned:16284\r\n") {
		t.Errorf("CLUSTER INFO with a gap: %q", info)
	}
}

// TestSlotKeyNamesCoverEverySlot checks the key names COUNTKEYSINSLOT
// routes by.
func TestSlotKeyNamesCoverEverySlot(t *testing.T) {
	for s := range keys.NumSlots {
		if name := slotKeyName(s); name == nil || int(keys.Slot(name)) != s {
			t.Fatalf("slot %d: name %q", s, name)
		}
	}
}

type clientFlags struct{ readOnly, multi, forwarded bool }

// TestMovedReply checks when redirect mode answers MOVED: keyed commands
// of one slot on a client connection, not for READONLY reads, MULTI or
// forwarded calls, and not when the target is unknown.
func TestMovedReply(t *testing.T) {
	me := ClusterNode{ID: strings.Repeat("a", 40), IP: "127.0.0.1", Port: 7001, Store: 1}
	other := ClusterNode{ID: strings.Repeat("b", 40), IP: "127.0.0.2", Port: 7002, Store: 2}
	topo := &Topology{Myself: me, Nodes: []ClusterNode{me, other},
		Slots: []SlotRange{{Start: 0, End: 8000, Owner: me}, {Start: 8001, End: 16383, Owner: other}}}
	h := clusterHarness(t, topo)
	get := h.d.table.Lookup([]byte("get"))
	set := h.d.table.Lookup([]byte("set"))
	mget := h.d.table.Lookup([]byte("mget"))
	ping := h.d.table.Lookup([]byte("ping"))
	args := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, a := range s {
			out[i] = []byte(a)
		}
		return out
	}
	foo := keys.Slot([]byte("foo")) // 12182: other's
	cases := []struct {
		name   string
		cmd    *Command
		args   [][]byte
		client clientFlags
		nl     NotLocalError
		want   string // "" = no MOVED
	}{
		{"get via store id", get, args("GET", "foo"), clientFlags{}, NotLocalError{Node: 2}, fmt.Sprintf("MOVED %d 127.0.0.2:7002", foo)},
		{"get via map", get, args("GET", "foo"), clientFlags{}, NotLocalError{}, fmt.Sprintf("MOVED %d 127.0.0.2:7002", foo)},
		{"unknown store, map says me", get, args("GET", "b"), clientFlags{}, NotLocalError{Node: 9}, ""},
		{"readonly read", get, args("GET", "foo"), clientFlags{readOnly: true}, NotLocalError{Node: 2}, ""},
		{"readonly write", set, args("SET", "foo", "1"), clientFlags{readOnly: true}, NotLocalError{Node: 2}, fmt.Sprintf("MOVED %d 127.0.0.2:7002", foo)},
		{"multi", get, args("GET", "foo"), clientFlags{multi: true}, NotLocalError{Node: 2}, ""},
		{"forwarded", get, args("GET", "foo"), clientFlags{forwarded: true}, NotLocalError{Node: 2}, ""},
		{"same slot", mget, args("MGET", "{foo}1", "{foo}2"), clientFlags{}, NotLocalError{Node: 2}, fmt.Sprintf("MOVED %d 127.0.0.2:7002", foo)},
		{"cross slot", mget, args("MGET", "foo", "bar"), clientFlags{}, NotLocalError{Node: 2}, ""},
		{"keyless", ping, args("PING"), clientFlags{}, NotLocalError{Node: 2}, ""},
	}
	for _, tc := range cases {
		cl := &resp.Client{ReadOnly: tc.client.readOnly, Multi: tc.client.multi, Forwarded: tc.client.forwarded}
		nl := tc.nl
		re, ok := h.d.movedReply(tc.cmd, cl, tc.args, &nl)
		got := ""
		if ok {
			got = re.Msg
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	h.d.env.ClusterRedirect = false
	nl := NotLocalError{Node: 2}
	if _, ok := h.d.movedReply(get, &resp.Client{}, args("GET", "foo"), &nl); ok {
		t.Error("MOVED in forwarding mode")
	}
}
