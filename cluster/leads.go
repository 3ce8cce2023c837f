package cluster

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft"
)

// ledSlots is a snapshot of the regions this node leads, for background
// work that must run on region leaders only (active expiry, collection of
// deleted members): followers skip it and keep their marks.
type ledSlots struct {
	all     bool // everything is led here
	regions []regionraft.Region
}

// none reports whether this node leads no region at all.
func (l ledSlots) none() bool { return !l.all && len(l.regions) == 0 }

// has reports whether the region holding the first key of slot is led
// here. A slot split across regions is worked on by the leader of its
// first part; writes to the other parts are refused as not local and
// retried on a later round.
func (l ledSlots) has(slot uint16) bool {
	if l.all {
		return true
	}
	// The regions are sorted by start key and do not overlap: the one
	// that may hold k is the last one starting at or below it.
	k := keys.SlotPrefix(slot)
	i := sort.Search(len(l.regions), func(i int) bool { return bytes.Compare(l.regions[i].StartKey, k) > 0 }) - 1
	return i >= 0 && l.regions[i].ContainsKey(k)
}

// ledBy returns the regions store leads now, sorted by start key (has
// runs for every slot of a round: a binary search, not a scan of every
// region led).
func ledBy(s *regionraft.Store, storeID uint64) ledSlots {
	var l ledSlots
	for _, r := range s.Regions() {
		if p, ok := s.Leader(r.ID); ok && p.StoreID == storeID {
			l.regions = append(l.regions, r)
		}
	}
	sortLed(&l)
	return l
}

// sortLed sorts l's regions by start key, as has expects.
func sortLed(l *ledSlots) {
	sort.Slice(l.regions, func(i, j int) bool { return bytes.Compare(l.regions[i].StartKey, l.regions[j].StartKey) < 0 })
}

// isNotLocal reports an error that only says another node leads the keys.
func isNotLocal(err error) bool {
	var nl *commands.NotLocalError
	return errors.As(err, &nl)
}

// runPeriodically runs round every period until ctx ends: the loop of the
// leader's background jobs (active expiry, member and version GC). A
// round that fails because this node stopped leading is not worth a
// warning.
func runPeriodically(ctx context.Context, period time.Duration, log *slog.Logger, failed string, round func(context.Context) error) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := round(ctx); err != nil && ctx.Err() == nil && !isNotLocal(err) {
			log.Warn(failed, "err", err)
		}
	}
}
