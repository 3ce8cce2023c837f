package regionraft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// Peer is one replica of a region. Peer IDs are unique across the cluster
// (allocated by PD) and are the Raft node IDs of the region's group.
type Peer struct {
	ID      uint64
	StoreID uint64
	// Learner: the peer receives the log but does not vote (a new replica
	// catching up, before it is promoted).
	Learner bool
}

// Epoch versions a region descriptor. ConfVer grows with every membership
// change, Version with every split or merge. Requests carry the epoch they
// were routed with; a stale one is rejected.
type Epoch struct {
	ConfVer uint64
	Version uint64
}

// Region describes one key range and its replicas.
type Region struct {
	ID uint64
	// StartKey is the inclusive lower bound of the user-key range.
	StartKey []byte
	// EndKey is the exclusive upper bound; nil or empty means +inf.
	EndKey []byte
	Epoch  Epoch
	Peers  []Peer
}

// Clone returns a deep copy of r.
func (r Region) Clone() Region {
	c := r
	c.StartKey = bytes.Clone(r.StartKey)
	c.EndKey = bytes.Clone(r.EndKey)
	c.Peers = slices.Clone(r.Peers)
	return c
}

// ContainsKey reports whether the user key k is in [StartKey, EndKey).
func (r *Region) ContainsKey(k []byte) bool {
	return bytes.Compare(k, r.StartKey) >= 0 && (len(r.EndKey) == 0 || bytes.Compare(k, r.EndKey) < 0)
}

// PeerOnStore returns the region's peer on storeID.
func (r *Region) PeerOnStore(storeID uint64) (Peer, bool) {
	for _, p := range r.Peers {
		if p.StoreID == storeID {
			return p, true
		}
	}
	return Peer{}, false
}

// Voters returns the ids of the region's voting peers.
func (r *Region) Voters() []uint64 {
	var ids []uint64
	for _, p := range r.Peers {
		if !p.Learner {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// overlaps reports whether r's key range intersects o's.
func (r *Region) overlaps(o *Region) bool {
	return (len(o.EndKey) == 0 || bytes.Compare(r.StartKey, o.EndKey) < 0) &&
		(len(r.EndKey) == 0 || bytes.Compare(o.StartKey, r.EndKey) < 0)
}

// PeerByID returns the region's peer with the given id.
func (r *Region) PeerByID(id uint64) (Peer, bool) {
	for _, p := range r.Peers {
		if p.ID == id {
			return p, true
		}
	}
	return Peer{}, false
}

func (r *Region) equal(o *Region) bool {
	return r.ID == o.ID && bytes.Equal(r.StartKey, o.StartKey) && bytes.Equal(r.EndKey, o.EndKey) &&
		r.Epoch == o.Epoch && slices.Equal(r.Peers, o.Peers)
}

// validate checks a region descriptor for obvious mistakes.
func (r *Region) validate() error {
	if r.ID == 0 {
		return fmt.Errorf("%w: region id 0", ErrInvalidRegion)
	}
	if len(r.EndKey) > 0 && bytes.Compare(r.StartKey, r.EndKey) >= 0 {
		return fmt.Errorf("%w: region %d start key >= end key", ErrInvalidRegion, r.ID)
	}
	if len(r.Peers) == 0 {
		return fmt.Errorf("%w: region %d has no peers", ErrInvalidRegion, r.ID)
	}
	ids, stores := map[uint64]bool{}, map[uint64]bool{}
	for _, p := range r.Peers {
		if p.ID == 0 || p.StoreID == 0 || ids[p.ID] || stores[p.StoreID] {
			return fmt.Errorf("%w: region %d has a zero or duplicate peer %+v", ErrInvalidRegion, r.ID, p)
		}
		ids[p.ID], stores[p.StoreID] = true, true
	}
	if len(r.Voters()) == 0 {
		return fmt.Errorf("%w: region %d has no voter", ErrInvalidRegion, r.ID)
	}
	return nil
}

// regionFormatV1 and regionFormatV2 are the region encodings. EncodeRegion
// writes v1 when no peer is a learner (so every descriptor written before
// learners existed keeps its exact bytes) and v2 otherwise; DecodeRegion
// reads both and accepts only the canonical one.
//
// Region state record, stored under keys.RegionStateKey (FROZEN; add a new
// version byte for any change, never alter v1):
//
//	byte    version = 1
//	uvarint region id
//	uvarint len(StartKey), StartKey
//	uvarint len(EndKey),   EndKey      (0 = +inf)
//	uvarint Epoch.ConfVer
//	uvarint Epoch.Version
//	uvarint number of peers, then per peer: uvarint ID, uvarint StoreID
//
// Nothing may follow the last peer.
//
// v2 (FROZEN) is v1 with version byte 2 and one more byte per peer, after
// its StoreID: flags, bit 0 = Learner, other bits zero. v2 is written only
// when at least one peer is a learner.
const (
	regionFormatV1 byte = 1
	regionFormatV2 byte = 2
)

const peerFlagLearner byte = 1

// EncodeRegion returns the frozen binary encoding of r.
func EncodeRegion(r *Region) []byte {
	b := make([]byte, 0, 32+len(r.StartKey)+len(r.EndKey)+20*len(r.Peers))
	v2 := slices.ContainsFunc(r.Peers, func(p Peer) bool { return p.Learner })
	if v2 {
		b = append(b, regionFormatV2)
	} else {
		b = append(b, regionFormatV1)
	}
	b = binary.AppendUvarint(b, r.ID)
	b = binary.AppendUvarint(b, uint64(len(r.StartKey)))
	b = append(b, r.StartKey...)
	b = binary.AppendUvarint(b, uint64(len(r.EndKey)))
	b = append(b, r.EndKey...)
	b = binary.AppendUvarint(b, r.Epoch.ConfVer)
	b = binary.AppendUvarint(b, r.Epoch.Version)
	b = binary.AppendUvarint(b, uint64(len(r.Peers)))
	for _, p := range r.Peers {
		b = binary.AppendUvarint(b, p.ID)
		b = binary.AppendUvarint(b, p.StoreID)
		if v2 {
			var f byte
			if p.Learner {
				f |= peerFlagLearner
			}
			b = append(b, f)
		}
	}
	return b
}

// DecodeRegion parses an EncodeRegion encoding. It returns an error wrapping
// ErrCorrupt for anything malformed; it never returns a partial region.
func DecodeRegion(b []byte) (Region, error) {
	d := decoder{b: b}
	if len(b) == 0 {
		return Region{}, fmt.Errorf("%w: empty region record", ErrCorrupt)
	}
	v := d.byte()
	if v != regionFormatV1 && v != regionFormatV2 {
		return Region{}, fmt.Errorf("%w: region format version %d", ErrCorrupt, v)
	}
	var r Region
	r.ID = d.uvarint()
	r.StartKey = d.bytes()
	r.EndKey = d.bytes()
	r.Epoch.ConfVer = d.uvarint()
	r.Epoch.Version = d.uvarint()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) { // every peer takes at least 2 bytes
		d.err = errShort
	}
	if d.err == nil && n > 0 {
		r.Peers = make([]Peer, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			p := Peer{ID: d.uvarint(), StoreID: d.uvarint()}
			if v == regionFormatV2 {
				switch f := d.byte(); {
				case f&^peerFlagLearner != 0:
					d.err = fmt.Errorf("unknown peer flags %#x", f)
				default:
					p.Learner = f&peerFlagLearner != 0
				}
			}
			r.Peers = append(r.Peers, p)
		}
	}
	if d.err == nil && v == regionFormatV2 && !slices.ContainsFunc(r.Peers, func(p Peer) bool { return p.Learner }) {
		d.err = fmt.Errorf("format v2 without a learner") // v1 is the canonical encoding
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return Region{}, fmt.Errorf("%w: region record: %v", ErrCorrupt, d.err)
	}
	return r, nil
}

var errShort = fmt.Errorf("short record")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errShort
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	// Only the minimal encoding is valid, so a record has one encoding.
	if n != len(binary.AppendUvarint(nil, v)) {
		d.err = fmt.Errorf("non-minimal varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	if n == 0 {
		return nil
	}
	v := bytes.Clone(d.b[:n])
	d.b = d.b[n:]
	return v
}
