package regionraft

import (
	"context"
	"fmt"
)

// A peer removed from its region while its store was down or cut off never
// applies its own removal: after a restart it is a follower of an old
// configuration that nobody sends to, campaigning in vain, its data stale
// and its key range blocked (a snapshot of a region overlapping it is
// refused on this store). Likewise a quarantined peer whose region went on
// without it. Only the placement driver knows that the region moved on:
// the store asks it about its leaderless and quarantined peers
// (StaleCandidates) and destroys those PD no longer counts
// (DestroyStalePeer), as TiKV's stale-peer check does.

// LocalPeer is this store's replica of a region as StaleCandidates sees it.
type LocalPeer struct {
	Region      Region // the replica's own descriptor (it may be stale)
	Self        Peer
	Quarantined bool
}

// StaleCandidates lists the initialized local peers that know no leader,
// and the quarantined ones: the replicas that may have been removed
// without learning it. Safe for concurrent use; empty before Start.
func (s *Store) StaleCandidates(ctx context.Context) ([]LocalPeer, error) {
	var out []LocalPeer
	err := s.runOnLoop(ctx, func() error {
		for _, p := range s.peers {
			if !p.initialized || p.receiving != 0 || p.expectSnap != nil {
				continue
			}
			if p.quarantined || p.rn.BasicStatus().Lead == 0 {
				out = append(out, LocalPeer{Region: p.region.Clone(), Self: p.self, Quarantined: p.quarantined})
			}
		}
		return nil
	})
	return out, err
}

// DestroyStalePeer destroys this store's peer peerID of region regionID
// (its state, data and log; a tombstone keeps stale messages out) given
// current, the region as the placement driver has it: only if current has
// a newer configuration (ConfVer) than the local peer and no longer
// includes peerID, so the removal is committed. It reports whether it
// destroyed the peer; a peer that is gone, replaced, leading or still a
// member is left alone.
func (s *Store) DestroyStalePeer(ctx context.Context, regionID, peerID uint64, current Region) (bool, error) {
	if current.ID != regionID {
		return false, fmt.Errorf("%w: region %d checked against region %d", ErrInvalidRegion, regionID, current.ID)
	}
	for _, q := range current.Peers {
		if q.ID == peerID {
			return false, nil // still a member: only behind
		}
	}
	var destroyed bool
	err := s.runOnLoop(ctx, func() error {
		p := s.peers[regionID]
		if p == nil || p.self.ID != peerID || !p.initialized || p.isLeader() || p.receiving != 0 || p.expectSnap != nil ||
			current.Epoch.ConfVer <= p.region.Epoch.ConfVer {
			return nil
		}
		s.cfg.Logger.Warningf("regionraft: region %d: peer %d was removed (conf version %d, local %d); destroying it",
			regionID, peerID, current.Epoch.ConfVer, p.region.Epoch.ConfVer)
		if err := s.destroyPeer(p, fmt.Errorf("%w: %d (peer removed)", ErrRegionNotFound, regionID)); err != nil {
			s.loopErr = err
			return err
		}
		destroyed = true
		return nil
	})
	return destroyed, err
}
