package commands

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/resp"
)

// This file makes a Skerry cluster look like a Redis Cluster to smart
// clients (DESIGN.md §8): the CLUSTER commands describe the slot map that
// package cluster derives from PD's region map (Env.Cluster), and in
// redirect mode (Env.ClusterRedirect) a command whose keys are led by
// another node is answered -MOVED instead of being forwarded.

// ClusterView is the cluster's shape as Redis Cluster clients see it.
// Package cluster implements it from PD's region map; nil means a single
// node without cluster support (CLUSTER commands answer as a Redis started
// without cluster-enabled).
type ClusterView interface {
	// Topology returns the current slot map, at most about a second old.
	// The result is shared: callers must not modify it.
	Topology(ctx context.Context) (*Topology, error)
}

// ClusterNode is one node of the cluster as CLUSTER NODES/SLOTS show it.
type ClusterNode struct {
	ID      string // 40 lower-case hex characters, stable for the node's life
	IP      string
	Port    int    // RESP port
	BusPort int    // the node-to-node port (Skerry's internal RPC)
	Store   uint64 // the node's store id, as in NotLocalError.Node
}

// Addr is the node's "ip:port", as a MOVED reply names it.
func (n ClusterNode) Addr() string { return n.IP + ":" + strconv.Itoa(n.Port) }

// SlotRange is a run of slots served by one node (the leader of their
// regions), with the nodes that hold replicas of them.
type SlotRange struct {
	Start, End int // inclusive, 0..16383
	Owner      ClusterNode
	Replicas   []ClusterNode
}

// Topology is a snapshot of the cluster.
type Topology struct {
	Myself ClusterNode
	// Nodes lists every node of the cluster, Myself included, sorted by ID.
	Nodes []ClusterNode
	// Slots are disjoint and sorted by Start; slots in no range have no
	// known owner (a region without a leader yet).
	Slots []SlotRange
	// At is when the snapshot was taken (CLUSTER NODES pong times).
	At time.Time
}

// OwnerOf returns the node serving slot.
func (t *Topology) OwnerOf(slot int) (ClusterNode, bool) {
	i := sort.Search(len(t.Slots), func(i int) bool { return t.Slots[i].End >= slot })
	if i < len(t.Slots) && t.Slots[i].Start <= slot {
		return t.Slots[i].Owner, true
	}
	return ClusterNode{}, false
}

// NodeByStore returns the node of a store id.
func (t *Topology) NodeByStore(store uint64) (ClusterNode, bool) {
	for _, n := range t.Nodes {
		if n.Store == store {
			return n, true
		}
	}
	return ClusterNode{}, false
}

// slotsAssigned counts the slots that have an owner.
func (t *Topology) slotsAssigned() int {
	n := 0
	for _, r := range t.Slots {
		n += r.End - r.Start + 1
	}
	return n
}

var (
	errClusterDisabled = &ReplyError{"ERR This instance has cluster support disabled"}
	errInvalidSlot     = &ReplyError{"ERR Invalid slot"}
	errInvalidSlotKeys = &ReplyError{"ERR Invalid slot or number of keys"}
)

// afterRedis70 names the commands of later Redis versions that Skerry
// answers as that version does. They have no recorded Redis 7.0
// metadata, so COMMAND describes them as Skerry's own, and the tests that
// compare COMMAND with Redis 7.0 skip them.
var afterRedis70 = map[string]bool{"cluster|myshardid": true}

// registerCluster registers CLUSTER and the connection commands of Redis
// Cluster (READONLY, READWRITE, ASKING).
func registerCluster(t *Table) {
	t.Register(&Command{Name: "cluster"})
	sub := func(name string, h func(c *Ctx, topo *Topology) error) {
		t.Register(&Command{Name: "cluster|" + name, Handler: withTopology(h)})
	}
	plain := func(name string, h Handler) {
		t.Register(&Command{Name: "cluster|" + name, Handler: func(c *Ctx) error {
			if c.Env.Cluster == nil {
				return errClusterDisabled
			}
			return h(c)
		}})
	}
	plain("help", func(c *Ctx) error { return writeHelp(c, "cluster") })
	plain("keyslot", func(c *Ctx) error {
		c.W.Int(int64(keys.Slot(c.Args[2])))
		return nil
	})
	plain("links", func(c *Ctx) error {
		// Skerry has no gossip bus: nodes talk over the internal RPC
		// only when they have something to send.
		c.W.Array(0)
		return nil
	})
	plain("countkeysinslot", clusterCountKeysInSlot)
	plain("getkeysinslot", clusterGetKeysInSlot)
	sub("myid", func(c *Ctx, topo *Topology) error {
		c.W.BulkString(topo.Myself.ID)
		return nil
	})
	// CLUSTER MYSHARDID is Redis 7.2's (smart clients ask for it); it is
	// not in Redis 7.0's table, so its metadata is given here, as 7.2
	// has it (see afterRedis70). Only a cluster node knows it.
	myShardID := withTopology(func(c *Ctx, topo *Topology) error {
		c.W.BulkString(ShardID(topo.Myself))
		return nil
	})
	t.Register(&Command{Name: "cluster|myshardid", Arity: 2, Flags: []string{"loading", "stale"},
		Categories: []string{"slow"}, Handler: func(c *Ctx) error {
			if c.Env.Cluster == nil {
				// A node without cluster support is Redis 7.0, which
				// does not know the subcommand.
				return Errorf("ERR unknown subcommand '%s'. Try CLUSTER HELP.", trimArg(c.Args[1]))
			}
			return myShardID(c)
		}})
	sub("info", clusterInfo)
	sub("nodes", func(c *Ctx, topo *Topology) error {
		c.W.Verbatim(clusterNodesText(topo))
		return nil
	})
	sub("slots", clusterSlots)
	sub("shards", clusterShards)
	sub("count-failure-reports", func(c *Ctx, topo *Topology) error {
		if _, ok := nodeByID(topo, c.Args[2]); !ok {
			return Errorf("ERR Unknown node %s", c.Args[2])
		}
		c.W.Int(0) // no gossip, no failure reports: PD judges stores
		return nil
	})
	// Slots and membership belong to PD (skerry ctl), not to CLUSTER.
	for _, name := range []string{"addslots", "addslotsrange", "bumpepoch", "delslots", "delslotsrange",
		"failover", "flushslots", "forget", "meet", "replicate", "reset", "saveconfig",
		"set-config-epoch", "setslot", "replicas", "slaves"} {
		plain(name, func(c *Ctx) error {
			return Errorf("ERR CLUSTER %s is not supported: Skerry's placement driver manages slots and nodes (see skerry ctl)",
				strings.ToUpper(name))
		})
	}
	conn := func(name string, h Handler) {
		t.Register(&Command{Name: name, Handler: func(c *Ctx) error {
			if c.Env.Cluster == nil {
				return errClusterDisabled
			}
			return h(c)
		}})
	}
	conn("readonly", func(c *Ctx) error { c.Client.ReadOnly = true; c.W.OK(); return nil })
	conn("readwrite", func(c *Ctx) error { c.Client.ReadOnly = false; c.W.OK(); return nil })
	// Skerry never answers -ASK (slots move with their regions, whole and
	// atomically), so ASKING has nothing to allow.
	conn("asking", func(c *Ctx) error { c.W.OK(); return nil })
}

// withTopology adapts a handler that needs the cluster's map.
func withTopology(h func(c *Ctx, topo *Topology) error) Handler {
	return func(c *Ctx) error {
		if c.Env.Cluster == nil {
			return errClusterDisabled
		}
		topo, err := c.Env.Cluster.Topology(c.Context())
		if err != nil {
			// PD unreachable: clients retry CLUSTERDOWN.
			return ErrClusterDown
		}
		return h(c, topo)
	}
}

// ShardID is the Redis Cluster shard id (40 hex characters) of the shard
// whose master is n. In Skerry every node is the master of exactly one
// shard (the slots it leads, possibly none: see clusterShards), so a
// shard is named by its master: the id is derived from n's node id,
// stable for the node's life and distinct from every node id.
func ShardID(n ClusterNode) string {
	sum := sha1.Sum([]byte("skerry-shard/" + n.ID))
	return hex.EncodeToString(sum[:])
}

func nodeByID(topo *Topology, id []byte) (ClusterNode, bool) {
	for _, n := range topo.Nodes {
		if n.ID == string(id) {
			return n, true
		}
	}
	return ClusterNode{}, false
}

// clusterInfo implements CLUSTER INFO with Redis 7.0's fields. Epochs and
// gossip counters are 0: Skerry has neither (PD orders changes).
func clusterInfo(c *Ctx, topo *Topology) error {
	assigned := topo.slotsAssigned()
	state := "ok"
	if assigned < keys.NumSlots {
		state = "fail"
	}
	owners := map[string]bool{}
	for _, r := range topo.Slots {
		owners[r.Owner.ID] = true
	}
	var b strings.Builder
	field := func(name string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", name, v) }
	field("cluster_state", state)
	field("cluster_slots_assigned", assigned)
	field("cluster_slots_ok", assigned)
	field("cluster_slots_pfail", 0)
	field("cluster_slots_fail", 0)
	field("cluster_known_nodes", len(topo.Nodes))
	field("cluster_size", len(owners))
	field("cluster_current_epoch", 0)
	field("cluster_my_epoch", 0)
	field("cluster_stats_messages_sent", 0)
	field("cluster_stats_messages_received", 0)
	field("total_cluster_links_buffer_limit_exceeded", 0)
	c.W.Verbatim(b.String())
	return nil
}

// clusterNodesText renders CLUSTER NODES: one line per node,
// "<id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv>
// <config-epoch> <link-state> <slot> ...". Every node is a master of the
// slots it leads; Skerry's replicas are per region, not per node, so no
// node is listed as a replica (CLUSTER SLOTS and SHARDS list them).
func clusterNodesText(topo *Topology) string {
	owned := map[string][]SlotRange{}
	for _, r := range topo.Slots {
		owned[r.Owner.ID] = append(owned[r.Owner.ID], r)
	}
	pong := int64(0)
	if !topo.At.IsZero() {
		pong = topo.At.UnixMilli()
	}
	var b strings.Builder
	for _, n := range topo.Nodes {
		flags, pongRecv := "master", pong
		if n.ID == topo.Myself.ID {
			flags, pongRecv = "myself,master", 0
		}
		fmt.Fprintf(&b, "%s %s:%d@%d %s - 0 %d 0 connected", n.ID, n.IP, n.Port, n.BusPort, flags, pongRecv)
		for _, r := range mergeRanges(owned[n.ID]) {
			if r.Start == r.End {
				fmt.Fprintf(&b, " %d", r.Start)
			} else {
				fmt.Fprintf(&b, " %d-%d", r.Start, r.End)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// mergeRanges joins adjacent ranges of one owner (their replicas may
// differ, which CLUSTER NODES does not show).
func mergeRanges(rs []SlotRange) []SlotRange {
	var out []SlotRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].End+1 == r.Start {
			out[n-1].End = r.End
			continue
		}
		out = append(out, r)
	}
	return out
}

// clusterSlots implements CLUSTER SLOTS: [start, end, master, replicas...]
// with each node as [ip, port, id, {networking metadata}] (Redis 7.0; the
// metadata map is empty without hostnames).
func clusterSlots(c *Ctx, topo *Topology) error {
	node := func(n ClusterNode) {
		c.W.Array(4)
		c.W.BulkString(n.IP)
		c.W.Int(int64(n.Port))
		c.W.BulkString(n.ID)
		c.W.Map(0)
	}
	c.W.Array(len(topo.Slots))
	for _, r := range topo.Slots {
		c.W.Array(3 + len(r.Replicas))
		c.W.Int(int64(r.Start))
		c.W.Int(int64(r.End))
		node(r.Owner)
		for _, rep := range r.Replicas {
			node(rep)
		}
	}
	return nil
}

// clusterShards implements CLUSTER SHARDS: one shard per node that leads
// slots (its ranges, then itself as master and the nodes replicating any
// of those ranges as replicas), and one slot-less shard per other node.
func clusterShards(c *Ctx, topo *Topology) error {
	type shard struct {
		master   ClusterNode
		slots    []SlotRange
		replicas []ClusterNode
	}
	var shards []*shard
	byID := map[string]*shard{}
	listed := map[string]bool{}
	for _, r := range topo.Slots {
		s := byID[r.Owner.ID]
		if s == nil {
			s = &shard{master: r.Owner}
			byID[r.Owner.ID] = s
			shards = append(shards, s)
			listed[r.Owner.ID] = true
		}
		s.slots = append(s.slots, r)
		for _, rep := range r.Replicas {
			if !containsNode(s.replicas, rep.ID) {
				s.replicas = append(s.replicas, rep)
				listed[rep.ID] = true
			}
		}
	}
	for _, n := range topo.Nodes {
		if !listed[n.ID] {
			shards = append(shards, &shard{master: n})
		}
	}
	node := func(n ClusterNode, role string) {
		c.W.Map(7)
		c.W.BulkString("id")
		c.W.BulkString(n.ID)
		c.W.BulkString("port")
		c.W.Int(int64(n.Port))
		c.W.BulkString("ip")
		c.W.BulkString(n.IP)
		c.W.BulkString("endpoint")
		c.W.BulkString(n.IP)
		c.W.BulkString("role")
		c.W.BulkString(role)
		c.W.BulkString("replication-offset")
		c.W.Int(0)
		c.W.BulkString("health")
		c.W.BulkString("online")
	}
	c.W.Array(len(shards))
	for _, s := range shards {
		c.W.Map(2)
		c.W.BulkString("slots")
		merged := mergeRanges(s.slots)
		c.W.Array(2 * len(merged))
		for _, r := range merged {
			c.W.Int(int64(r.Start))
			c.W.Int(int64(r.End))
		}
		c.W.BulkString("nodes")
		c.W.Array(1 + len(s.replicas))
		node(s.master, "master")
		for _, rep := range s.replicas {
			node(rep, "replica")
		}
	}
	return nil
}

func containsNode(ns []ClusterNode, id string) bool {
	for _, n := range ns {
		if n.ID == id {
			return true
		}
	}
	return false
}

// parseSlot parses a slot argument: a non-integer is ErrNotInteger, an
// integer outside 0..16383 is bad (Redis's error differs per command).
func parseSlot(b []byte, bad error) (int, error) {
	n, err := intArg(b)
	if err != nil {
		return 0, err
	}
	if n < 0 || n >= keys.NumSlots {
		return 0, bad
	}
	return int(n), nil
}

// scanSlot calls fn for the live keys of database 0 in slot (Redis Cluster
// has only database 0), in a read transaction routed like a key of that
// slot: on a node that does not lead the slot's region, the Store answers
// NotLocalError and the dispatcher forwards the command to the leader, so
// the answer covers the whole cluster, not one node's share. fn may be
// called again from the start if the transaction is retried: reset runs
// before each attempt.
func scanSlot(c *Ctx, slot int, reset func(), fn func(key []byte) error) error {
	return c.Env.Store.View(c.Context(), 0, [][]byte{slotKeyName(slot)}, func(txn keyspace.Txn) error {
		reset()
		db := keyspace.New(txn, 0)
		return db.ScanKeys(slot, slot+1, func(_ int, key []byte, _ *keyspace.Meta) error {
			return fn(key)
		})
	})
}

// clusterCountKeysInSlot implements CLUSTER COUNTKEYSINSLOT slot. It scans
// the slot (O(keys in the slot); Redis keeps a counter).
func clusterCountKeysInSlot(c *Ctx) error {
	slot, err := parseSlot(c.Args[2], errInvalidSlot)
	if err != nil {
		return err
	}
	var n int64
	err = scanSlot(c, slot, func() { n = 0 }, func([]byte) error { n++; return nil })
	if err != nil {
		return err
	}
	c.W.Int(n)
	return nil
}

// clusterGetKeysInSlot implements CLUSTER GETKEYSINSLOT slot count. Keys
// come in storage order (length, then bytes); Redis's order is its own.
func clusterGetKeysInSlot(c *Ctx) error {
	slot, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	count, err := intArg(c.Args[3])
	if err != nil {
		return err
	}
	if slot < 0 || slot >= keys.NumSlots || count < 0 {
		return errInvalidSlotKeys
	}
	var out [][]byte
	if count > 0 {
		err = scanSlot(c, int(slot), func() { out = out[:0] }, func(key []byte) error {
			out = append(out, bytes.Clone(key))
			if int64(len(out)) >= count {
				return keyspace.ErrStop
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	c.W.Array(len(out))
	for _, k := range out {
		c.W.Bulk(k)
	}
	return nil
}

var (
	slotNamesOnce sync.Once
	slotNames     [keys.NumSlots][]byte
)

// slotKeyName returns a Redis key name whose slot is slot, so that a
// transaction over "the keys of a slot" is routed like any key of it. CRC16
// is a bijection on 2-byte messages, so the 65536 two-byte names cover
// every slot four times; none contains a complete hash tag.
func slotKeyName(slot int) []byte {
	slotNamesOnce.Do(func() {
		for i := range 1 << 16 {
			name := []byte{byte(i >> 8), byte(i)}
			if s := keys.Slot(name); slotNames[s] == nil {
				slotNames[s] = name
			}
		}
	})
	return slotNames[slot]
}

// movedReply returns the -MOVED error for a command that another node
// serves, when this node answers in redirect mode and the command is one a
// Redis Cluster node would redirect: a command with keys, all in one slot,
// sent by a client connection (not forwarded) outside MULTI. READONLY
// connections are forwarded instead: a Redis replica serves their reads,
// and Skerry serves them through the leader (linearizable). ok is false
// when the command should be forwarded as before.
func (d *Dispatcher) movedReply(cmd *Command, c *resp.Client, args [][]byte, nl *NotLocalError) (*ReplyError, bool) {
	if !d.env.ClusterRedirect || d.env.Cluster == nil || c.Forwarded || c.Multi {
		return nil, false
	}
	if c.ReadOnly && !cmd.writes() {
		return nil, false
	}
	ks := cmd.KeyArgs(args)
	if len(ks) == 0 {
		return nil, false
	}
	slot := keys.Slot(ks[0])
	for _, k := range ks[1:] {
		if keys.Slot(k) != slot {
			return nil, false // Redis would say CROSSSLOT; Skerry serves it
		}
	}
	ctx, cancel := context.WithTimeout(d.ctx, time.Second)
	defer cancel()
	topo, err := d.env.Cluster.Topology(ctx)
	if err != nil {
		return nil, false
	}
	var target ClusterNode
	var ok bool
	if nl.Node != 0 {
		// The Store's answer is fresher than PD's map.
		target, ok = topo.NodeByStore(nl.Node)
	}
	if !ok {
		target, ok = topo.OwnerOf(int(slot))
	}
	if !ok || target.ID == topo.Myself.ID || target.IP == "" {
		return nil, false
	}
	return &ReplyError{fmt.Sprintf("MOVED %d %s", slot, target.Addr())}, true
}

// clusterMode reports whether the node presents itself as a Redis Cluster
// node (INFO cluster_enabled, redis_mode, HELLO's mode): in redirect mode.
// In forwarding mode the CLUSTER commands answer too, but the node
// otherwise behaves as a standalone server (any key on any node).
func (e *Env) clusterMode() bool { return e.ClusterRedirect && e.Cluster != nil }
