package cluster

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// topologyMaxAge is how old a cached slot map may be before a CLUSTER
// command or a MOVED reply refreshes it from PD.
const topologyMaxAge = time.Second

// topologyStaleLimit bounds how long a cached map is still served while PD
// cannot be reached; after that the CLUSTER commands fail (CLUSTERDOWN).
const topologyStaleLimit = 30 * time.Second

// topology is the commands.ClusterView of a node: the Redis Cluster slot
// map derived from PD's region map (DESIGN.md §8). Each slot range is owned
// by the node of its regions' leader; the other voters are its replicas.
// The map is cached and refreshed from PD at most once per topologyMaxAge,
// on demand (one refresh at a time; concurrent callers share it).
type topology struct {
	pdc     *pdclient.Client
	self    pdclient.Store // this node, as registered (or as configured)
	cluster uint64         // PD's cluster id: part of every node id
	// local returns the regions this node holds, with the leaders it
	// knows: the map of a single node (which never reports its regions to
	// PD), and the leaders of regions PD has none for yet. Optional.
	local func() []pdclient.RegionInfo

	mu     sync.Mutex // serialises refreshes
	cached *commands.Topology
}

// Topology implements commands.ClusterView.
func (t *topology) Topology(ctx context.Context) (*commands.Topology, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cached != nil && time.Since(t.cached.At) < topologyMaxAge {
		return t.cached, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	fresh, err := t.load(ctx)
	if err != nil {
		if t.cached != nil && time.Since(t.cached.At) < topologyStaleLimit {
			return t.cached, nil
		}
		return nil, err
	}
	t.cached = fresh
	return fresh, nil
}

// load reads the stores and the regions from PD and builds the map.
func (t *topology) load(ctx context.Context) (*commands.Topology, error) {
	stores, err := t.pdc.GetStores(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: topology: stores: %w", err)
	}
	regions, err := t.pdc.ScanRegions(ctx, nil, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("cluster: topology: regions: %w", err)
	}
	nodes := map[uint64]commands.ClusterNode{}
	for _, st := range stores {
		if st.State == pdclient.StoreTombstone || st.RESPAddr == "" {
			continue
		}
		nodes[st.ID] = clusterNode(t.cluster, st)
	}
	// A single node is not registered in PD; a registered one is shown as
	// PD has it.
	myself, ok := nodes[t.self.ID]
	if !ok {
		myself = clusterNode(t.cluster, t.self)
		nodes[t.self.ID] = myself
	}
	if t.local != nil {
		local := t.local()
		if len(regions) == 0 {
			regions = local
		}
		// A leader this node's own replica knows is fresher than PD's,
		// which learns a new leader only from its next heartbeat (up to a
		// second after a transfer, longer after a crash): smart clients
		// converge sooner.
		leaders := make(map[uint64]pdclient.Peer, len(local))
		for _, l := range local {
			if l.Leader.StoreID != 0 {
				leaders[l.Region.ID] = l.Leader
			}
		}
		for i := range regions {
			if l, ok := leaders[regions[i].Region.ID]; ok {
				regions[i].Leader = l
			}
		}
	}
	topo := &commands.Topology{Myself: myself, Slots: slotRanges(regions, nodes, t.cached), At: time.Now()}
	for _, n := range nodes {
		topo.Nodes = append(topo.Nodes, n)
	}
	slices.SortFunc(topo.Nodes, func(a, b commands.ClusterNode) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return topo, nil
}

// NodeID is the Redis Cluster node id of a store: 40 hex characters, the
// SHA-1 of the cluster id and the store id, so it is the same on every
// node and across restarts, and differs between clusters.
func NodeID(clusterID, storeID uint64) string {
	sum := sha1.Sum([]byte("skerry-node/" + strconv.FormatUint(clusterID, 10) + "/" + strconv.FormatUint(storeID, 10)))
	return hex.EncodeToString(sum[:])
}

// clusterNode describes a store as a Redis Cluster node. Its address is
// the RESP address it registered; a wildcard host (0.0.0.0, ::) is replaced
// by the host of its peer address, else 127.0.0.1, since clients cannot
// connect to a wildcard. The bus port is its internal RPC port.
func clusterNode(clusterID uint64, st pdclient.Store) commands.ClusterNode {
	host, port := splitAddr(st.RESPAddr)
	peerHost, peerPort := splitAddr(st.PeerAddr)
	if wildcard(host) {
		host = peerHost
		if wildcard(host) {
			host = "127.0.0.1"
		}
	}
	if peerPort == 0 {
		peerPort = port + 10000 // Redis's default bus port
	}
	return commands.ClusterNode{ID: NodeID(clusterID, st.ID), IP: host, Port: port, BusPort: peerPort, Store: st.ID}
}

func splitAddr(a string) (string, int) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func wildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// slotRanges maps regions (in key order, as PD's ScanRegions returns them)
// to Redis Cluster slot ranges. Region keys are logical keys, which start
// with their 2-byte slot (mvcc/keys), so region [start, end) covers
// slot(start)..slot(end-1). A slot split between regions is reported once,
// owned by the leader of its first region (the earlier region wins).
//
// Every slot of a region stays assigned, so that CLUSTER SLOTS covers all
// 16384 slots at all times (smart clients treat a gap as a broken map): a
// region without a known leader (an election, or a region just split off
// that has not reported yet), or whose leader's node is unknown, is shown
// owned by the node that owned its first slot in prev (the previous map),
// if it still holds a voter of the region, else by its known voter with
// the lowest store id. Any node serves any key, so that owner answers
// the clients it gets by forwarding or -MOVED to the real leader. Only a
// region none of whose voters is a known node leaves a gap.
//
// The owner's replicas are the other voters whose nodes are known, by
// store id. Adjacent ranges with the same owner and replicas are merged.
func slotRanges(regions []pdclient.RegionInfo, nodes map[uint64]commands.ClusterNode, prev *commands.Topology) []commands.SlotRange {
	var out []commands.SlotRange
	next := 0 // the first slot not yet reported
	for _, ri := range regions {
		first, last := regionSlots(ri.Region.StartKey, ri.Region.EndKey)
		first = max(first, next)
		if first > last {
			continue
		}
		next = last + 1
		peers := slices.Clone(ri.Region.Peers)
		slices.SortFunc(peers, func(a, b pdclient.Peer) int { return cmpUint(a.StoreID, b.StoreID) })
		owner, ok := nodes[ri.Leader.StoreID]
		if ri.Leader.StoreID == 0 || !ok {
			if owner, ok = standInOwner(first, peers, nodes, prev); !ok {
				continue
			}
		}
		var replicas []commands.ClusterNode
		for _, p := range peers {
			if p.Learner || p.StoreID == owner.Store {
				continue
			}
			if n, ok := nodes[p.StoreID]; ok {
				replicas = append(replicas, n)
			}
		}
		if k := len(out); k > 0 && out[k-1].End+1 == first && out[k-1].Owner.ID == owner.ID &&
			sameNodes(out[k-1].Replicas, replicas) {
			out[k-1].End = last
			continue
		}
		out = append(out, commands.SlotRange{Start: first, End: last, Owner: owner, Replicas: replicas})
	}
	return out
}

// standInOwner picks the node shown as owner of a region whose leader is
// not known (see slotRanges): prev's owner of slot first if it holds a
// voter of the region, else the voter of peers (sorted by store) with the
// lowest store id whose node is known.
func standInOwner(first int, peers []pdclient.Peer, nodes map[uint64]commands.ClusterNode, prev *commands.Topology) (commands.ClusterNode, bool) {
	voter := func(store uint64) bool {
		for _, p := range peers {
			if p.StoreID == store && !p.Learner {
				return true
			}
		}
		return false
	}
	if prev != nil {
		if o, ok := prev.OwnerOf(first); ok && voter(o.Store) {
			if n, ok := nodes[o.Store]; ok {
				return n, true
			}
		}
	}
	for _, p := range peers {
		if n, ok := nodes[p.StoreID]; ok && !p.Learner {
			return n, true
		}
	}
	return commands.ClusterNode{}, false
}

// regionSlots returns the slots region [start, end) holds keys of
// (first > last: none). A missing second byte counts as 0; an end key that
// is a slot's boundary (nothing but zeros after the slot, as
// ctl.SlotSplitKey makes) excludes that slot.
func regionSlots(start, end []byte) (first, last int) {
	slotOf := func(k []byte) int {
		s := 0
		if len(k) > 0 {
			s = int(k[0]) << 8
		}
		if len(k) > 1 {
			s |= int(k[1])
		}
		return s
	}
	first = slotOf(start)
	last = keys.NumSlots - 1
	if len(end) > 0 {
		last = slotOf(end)
		if len(end) <= 2 || allZero(end[2:]) {
			// No stored key of slot(end) is below end: a logical key has
			// a database and a length after its slot, and only slot 0's
			// empty name has them all zero, which is not below end.
			last--
		}
	}
	return first, min(last, keys.NumSlots-1)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func sameNodes(a, b []commands.ClusterNode) bool {
	return slices.EqualFunc(a, b, func(x, y commands.ClusterNode) bool { return x.ID == y.ID })
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// localRegions lists the regions this node holds, in key order, with the
// leaders it knows (topology.local).
func (n *Node) localRegions() []pdclient.RegionInfo {
	var out []pdclient.RegionInfo
	for _, r := range n.raft.Regions() {
		ri := pdclient.RegionInfo{Region: toPDRegion(r)}
		if p, ok := n.raft.Leader(r.ID); ok {
			ri.Leader = toPDPeer(p)
		}
		out = append(out, ri)
	}
	slices.SortFunc(out, func(a, b pdclient.RegionInfo) int { return bytes.Compare(a.Region.StartKey, b.Region.StartKey) })
	return out
}
