package pd

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// gcSafePoint keeps the PD leader's GC safe point: the persisted value,
// which only grows, and the lower bounds of running transactions that the
// stores reported in their heartbeats to this leader.
//
// The safe point is advanced to
//
//	min(TSO now - GCLifeTime, every live store's MinStartTS - 1)
//
// when that is above the persisted value. A store counts while it is not
// Tombstone and not down (heard from within MaxStoreDownTime, the same
// rule that has its replicas replaced): a store that stopped heartbeating
// holds the safe point back at its last report until then, and no longer
// (its coordinators are gone; their locks are resolved by readers). A
// live store that has not reported to this leader yet (a new leader knows
// no reports: they are not persisted) holds the safe point where it is
// until it reports or is down, so a change of PD leader cannot let the
// safe point pass a transaction reported to the previous leader.
type gcSafePoint struct {
	kv    clientv3.KV
	guard clientv3.Cmp
	life  time.Duration

	mu    sync.Mutex // serialises advance (held across the etcd write)
	saved uint64     // the persisted safe point; 0: none yet

	repMu   sync.Mutex
	reports map[uint64]uint64 // store ID -> MinStartTS of its last heartbeat
}

// loadGCSafePoint loads the persisted safe point.
func loadGCSafePoint(ctx context.Context, kv clientv3.KV, guard clientv3.Cmp, life time.Duration) (*gcSafePoint, error) {
	saved, err := etcdCounters{kv: kv}.load(ctx, keyGCSafePoint)
	if err != nil {
		return nil, err
	}
	return &gcSafePoint{kv: kv, guard: guard, life: life, saved: saved, reports: map[uint64]uint64{}}, nil
}

// report records a store heartbeat's MinStartTS (0: not reported).
func (g *gcSafePoint) report(storeID, minStartTS uint64) {
	if minStartTS == 0 {
		return
	}
	g.repMu.Lock()
	g.reports[storeID] = minStartTS
	g.repMu.Unlock()
}

// candidate returns the safe point the reports allow at TSO timestamp
// nowTS and wall time now, with hold set when a live store has not
// reported yet.
func (g *gcSafePoint) candidate(nowTS uint64, now time.Time, stores []pdclient.Store, maxDown time.Duration) (sp uint64, hold bool) {
	lifeMs := g.life.Milliseconds()
	if phys := pdclient.PhysicalMs(nowTS); phys > lifeMs {
		sp = pdclient.ComposeTS(phys-lifeMs, 0)
	}
	g.repMu.Lock()
	defer g.repMu.Unlock()
	for _, st := range stores {
		if st.State == pdclient.StoreTombstone || now.Sub(st.LastHeartbeat) > maxDown {
			continue
		}
		r, ok := g.reports[st.ID]
		if !ok {
			return 0, true
		}
		sp = min(sp, r-1)
	}
	return sp, false
}

// advance moves the persisted safe point up to what the reports allow and
// returns it.
func (g *gcSafePoint) advance(ctx context.Context, nowTS uint64, now time.Time, stores []pdclient.Store, maxDown time.Duration) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sp, hold := g.candidate(nowTS, now, stores, maxDown)
	if hold || sp <= g.saved {
		return g.saved, nil
	}
	cmp := clientv3.Compare(clientv3.CreateRevision(keyGCSafePoint), "=", 0)
	if g.saved != 0 {
		cmp = clientv3.Compare(clientv3.Value(keyGCSafePoint), "=", encodeUint64(g.saved))
	}
	resp, err := g.kv.Txn(ctx).If(g.guard, cmp).Then(clientv3.OpPut(keyGCSafePoint, encodeUint64(sp))).Commit()
	if err != nil {
		return 0, fmt.Errorf("pd: save GC safe point: %w", err)
	}
	if !resp.Succeeded {
		// Deposed, or another leader moved it: this leadership is over.
		return 0, errLostElection
	}
	g.saved = sp
	return sp, nil
}

// GCSafePoint returns the GC safe point, advanced first as far as the
// store reports allow; see pdclient.Backend.GCSafePoint.
func (s *Server) GCSafePoint(ctx context.Context) (uint64, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return 0, err
	}
	// A timestamp from the TSO, not the clock: the safe point must stay
	// below timestamps already issued to running transactions, and the
	// TSO never goes back while a clock may.
	nowTS, err := l.tso.getTS(ctx, 1)
	if err != nil {
		return 0, err
	}
	return l.gc.advance(ctx, nowTS, s.cfg.Now(), l.pl.getStores(), s.cfg.MaxStoreDownTime)
}
