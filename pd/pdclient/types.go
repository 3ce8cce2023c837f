package pdclient

import (
	"bytes"
	"time"
)

// Wire types shared by PD and its clients. They travel as JSON (see
// codec.go) and are stored as JSON in etcd: the JSON field names are frozen;
// never rename one, only add new optional fields.

// Peer is one replica of a region.
type Peer struct {
	ID      uint64 `json:"id"`
	StoreID uint64 `json:"store_id"`
	// Learner peers receive the log but do not vote.
	Learner bool `json:"learner,omitempty"`
}

// Epoch versions a region: ConfVer grows with every membership change,
// Version with every split or merge.
type Epoch struct {
	ConfVer uint64 `json:"conf_ver"`
	Version uint64 `json:"version"`
}

// Region is a key range [StartKey, EndKey) replicated on Peers. An empty
// EndKey means +infinity; an empty StartKey means the start of the keyspace.
type Region struct {
	ID       uint64 `json:"id"`
	StartKey []byte `json:"start_key,omitempty"`
	EndKey   []byte `json:"end_key,omitempty"`
	Epoch    Epoch  `json:"epoch"`
	Peers    []Peer `json:"peers,omitempty"`
}

// Contains reports whether key is in r's range.
func (r *Region) Contains(key []byte) bool {
	return bytes.Compare(key, r.StartKey) >= 0 && (len(r.EndKey) == 0 || bytes.Compare(key, r.EndKey) < 0)
}

// Peer returns r's peer with the given ID.
func (r *Region) Peer(id uint64) (Peer, bool) {
	for _, p := range r.Peers {
		if p.ID == id {
			return p, true
		}
	}
	return Peer{}, false
}

// StorePeer returns r's peer on store storeID.
func (r *Region) StorePeer(storeID uint64) (Peer, bool) {
	for _, p := range r.Peers {
		if p.StoreID == storeID {
			return p, true
		}
	}
	return Peer{}, false
}

// Clone returns a deep copy of r.
func (r Region) Clone() Region {
	r.StartKey = bytes.Clone(r.StartKey)
	r.EndKey = bytes.Clone(r.EndKey)
	r.Peers = append([]Peer(nil), r.Peers...)
	return r
}

// RegionInfo is a region and its current leader (Leader.ID == 0: unknown).
type RegionInfo struct {
	Region Region `json:"region"`
	Leader Peer   `json:"leader"`
}

// StoreState is the administrative state of a store. Frozen values: never
// renumber.
type StoreState int32

const (
	// StoreUp stores take replicas.
	StoreUp StoreState = 0
	// StoreOffline stores are being drained: PD moves their replicas away,
	// then marks them StoreTombstone.
	StoreOffline StoreState = 1
	// StoreTombstone stores hold no replica and never come back.
	StoreTombstone StoreState = 2
)

func (s StoreState) String() string {
	switch s {
	case StoreUp:
		return "Up"
	case StoreOffline:
		return "Offline"
	case StoreTombstone:
		return "Tombstone"
	}
	return "StoreState(?)"
}

// Store is a node's storage as PD knows it.
type Store struct {
	ID         uint64     `json:"id"`
	PeerAddr   string     `json:"peer_addr,omitempty"`
	RESPAddr   string     `json:"resp_addr,omitempty"`
	StatusAddr string     `json:"status_addr,omitempty"`
	State      StoreState `json:"state"`
	// LastHeartbeat is when the PD leader last heard from the store (a new
	// PD leader starts it at its election time). Not persisted.
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// RegionCount and LeaderCount are from the store's last heartbeat.
	RegionCount int `json:"region_count"`
	LeaderCount int `json:"leader_count"`
	// Quarantined lists, from the store's last heartbeat, the replicas on
	// the store that are quarantined: a snapshot replaced their data
	// half-way, so they neither apply nor vote until PD replaces them
	// (StoreStats.Quarantined).
	Quarantined []RegionPeer `json:"quarantined,omitempty"`
}

// RegionPeer names one replica: a peer of a region.
type RegionPeer struct {
	RegionID uint64 `json:"region_id"`
	PeerID   uint64 `json:"peer_id"`
}

// StoreStats is a store heartbeat.
type StoreStats struct {
	StoreID     uint64 `json:"store_id"`
	RegionCount int    `json:"region_count"`
	LeaderCount int    `json:"leader_count"`
	// Capacity, Available and UsedBytes are in bytes; 0 means unknown.
	Capacity  uint64 `json:"capacity,omitempty"`
	Available uint64 `json:"available,omitempty"`
	UsedBytes uint64 `json:"used_bytes,omitempty"`
	// MinStartTS is a lower bound of the start timestamp of every
	// transaction running on the store, or starting there later: the
	// oldest start ts in flight, or, with none in flight, a timestamp the
	// store obtained before it looked (a later transaction starts above
	// it). PD's GC safe point stays below it (Backend.GCSafePoint). 0: not
	// reported.
	MinStartTS uint64 `json:"min_start_ts,omitempty"`
	// Quarantined lists the local replicas that are quarantined
	// (regionraft.Store.QuarantinedRegions): their data are not their
	// applied state, they drop every raft message, and only a newer peer
	// of the region on this store (or a removal) ends it. PD's replica
	// checker counts such a replica as unhealthy and replaces it.
	Quarantined []RegionPeer `json:"quarantined,omitempty"`
}

// RegionHeartbeat is what a region leader reports periodically and after
// every change of its region (split, membership, leadership).
type RegionHeartbeat struct {
	Region Region `json:"region"`
	Leader Peer   `json:"leader"`
	// Term is the leader's raft term (0: unknown, e.g. an older node). PD
	// ignores a heartbeat of a lower term than the last one it took: it was
	// sent by a leader since deposed, and would bring it back in PD's map.
	Term uint64 `json:"term,omitempty"`
	// QPS is the commands per second the leader served for the region
	// since its previous heartbeat.
	QPS float64 `json:"qps,omitempty"`
	// ApproxBytes and ApproxKeys estimate the region's size.
	ApproxBytes uint64 `json:"approx_bytes,omitempty"`
	ApproxKeys  uint64 `json:"approx_keys,omitempty"`
	// DownPeers have not answered the leader for a while; PendingPeers
	// are behind (catching up from a snapshot or a long log).
	DownPeers    []Peer `json:"down_peers,omitempty"`
	PendingPeers []Peer `json:"pending_peers,omitempty"`
}

// OperatorKind says what an Operator asks a region leader to do. Frozen
// values: never renumber.
type OperatorKind uint8

const (
	// OpAddLearner: add Peer (a new ID on a new store) as a learner.
	OpAddLearner OperatorKind = 1
	// OpPromoteLearner: make learner Peer a voter.
	OpPromoteLearner OperatorKind = 2
	// OpRemovePeer: remove Peer (never the leader: PD transfers first).
	OpRemovePeer OperatorKind = 3
	// OpTransferLeader: hand leadership to voter Peer.
	OpTransferLeader OperatorKind = 4
	// OpSplit: split the region at SplitKeys, or, if none, at a key the
	// leader picks (about the middle); the leader asks PD for the new IDs
	// with AskSplit and reports the result with ReportSplit.
	OpSplit OperatorKind = 5
)

func (k OperatorKind) String() string {
	switch k {
	case OpAddLearner:
		return "AddLearner"
	case OpPromoteLearner:
		return "PromoteLearner"
	case OpRemovePeer:
		return "RemovePeer"
	case OpTransferLeader:
		return "TransferLeader"
	case OpSplit:
		return "Split"
	}
	return "OperatorKind(?)"
}

// Operator is ONE step PD asks a region leader to take now. PD keeps
// returning it in answer to the region's heartbeats until a heartbeat shows
// it done; the leader must therefore treat a repeated step as a no-op when
// it is already done or in progress, and ignore a step whose Epoch is older
// than its region's.
type Operator struct {
	Kind     OperatorKind `json:"kind"`
	RegionID uint64       `json:"region_id"`
	// Epoch is the region's epoch when PD issued the step.
	Epoch Epoch `json:"epoch"`
	// Peer is the peer the step is about: the one to add, promote or
	// remove, or the new leader for OpTransferLeader.
	Peer Peer `json:"peer"`
	// SplitKeys are the split points of an OpSplit (optional).
	SplitKeys [][]byte `json:"split_keys,omitempty"`
}
