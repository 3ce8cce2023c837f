package pd

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// errLostElection reports that this member's election key is gone (its
// lease expired, or it resigned) while it was taking over.
var errLostElection = fmt.Errorf("pd: election key lost: %w", pdclient.ErrNotLeader)

// leadership is what a member holds while it serves as PD leader. A new
// one is built (from etcd) at every election won.
type leadership struct {
	tso *tso
	ids *idAllocator
	// guard holds while this member's election key exists: every PD
	// metadata write is a transaction conditioned on it, so a deposed
	// leader cannot overwrite its successor's state.
	guard clientv3.Cmp
	pl    *placement
	gc    *gcSafePoint
}

// leader returns this member's leadership, or the error to answer with:
// pdclient.ErrClosed, or a *pdclient.NotLeaderError naming the leader.
func (s *Server) leader(ctx context.Context) (*leadership, error) {
	if s.closed.Load() {
		return nil, pdclient.ErrClosed
	}
	if l := s.lead.Load(); l != nil {
		return l, nil
	}
	if !s.ready.Load() {
		return nil, &pdclient.NotLeaderError{}
	}
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	url, _ := s.leaderURL(qctx) // unknown on error: the caller retries
	if url == s.cfg.ClientURL {
		// Taking over (loading, bounded by takeoverTimeout) or stepping
		// down: not serving yet. "Leader unknown" makes pdclient back off
		// and ask again; the other members keep naming this one.
		url = ""
	}
	if s.cfg.onNotLeader != nil {
		s.cfg.onNotLeader(url)
	}
	return nil, &pdclient.NotLeaderError{LeaderURL: url}
}

// leaderURL returns the client URL of the election winner, or "".
func (s *Server) leaderURL(ctx context.Context) (string, error) {
	resp, err := s.client.Get(ctx, keyLeaderElection+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("pd: read leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// takeoverTimeout bounds loading the state of a new leadership: a lease
// TTL, after which the member resigns and campaigns again.
func (s *Server) takeoverTimeout() time.Duration { return s.cfg.LeaderLease }

// leaseTTLSeconds is cfg.LeaderLease in etcd's unit, rounded up.
func (s *Server) leaseTTLSeconds() int {
	return int((s.cfg.LeaderLease + time.Second - 1) / time.Second)
}

// runElection campaigns for PD leadership until ctx ends, serving as
// leader whenever it wins.
func (s *Server) runElection(ctx context.Context) {
	defer close(s.electionDone)
	backoff := 10 * time.Millisecond
	for ctx.Err() == nil {
		err := s.campaignOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.cfg.Logger.Warn("pd: election round failed", zap.Error(err))
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
	}
}

// campaignOnce waits to win the election, serves until leadership is lost
// or ctx ends, then resigns.
func (s *Server) campaignOnce(ctx context.Context) error {
	sess, err := concurrency.NewSession(s.client, concurrency.WithTTL(s.leaseTTLSeconds()), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("pd: election session: %w", err)
	}
	e := concurrency.NewElection(sess, keyLeaderElection)
	if err := e.Campaign(ctx, s.cfg.ClientURL); err != nil {
		sess.Close()
		return fmt.Errorf("pd: campaign: %w", err)
	}
	serveErr := s.serveAsLeader(ctx, sess, e)
	if s.crashOnClose.Load() {
		sess.Orphan() // stop renewing, revoke nothing: the lease expires by itself
		return serveErr
	}
	defer sess.Close() // revokes the lease
	// Resign so that another member takes over at once rather than after
	// the lease expires; bounded, since etcd may be unreachable.
	rctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := e.Resign(rctx); err != nil && serveErr == nil && ctx.Err() == nil {
		return fmt.Errorf("pd: resign: %w", err)
	}
	return serveErr
}

// renewLease renews the leader lease and returns until when this member
// may serve: the renewal's send time plus the granted TTL, less a margin
// (etcd counts the TTL from when it received the renewal, later).
func (s *Server) renewLease(ctx context.Context, id clientv3.LeaseID) (time.Time, error) {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.LeaderLease/3)
	defer cancel()
	resp, err := s.client.KeepAliveOnce(rctx, id)
	if err != nil {
		return time.Time{}, fmt.Errorf("pd: renew leader lease: %w", err)
	}
	ttl := time.Duration(resp.TTL) * time.Second
	return start.Add(ttl - ttl/10), nil
}

// serveAsLeader loads PD's state, publishes the leadership, and keeps it
// (renewing the lease, extending the TSO window, running the schedulers)
// until it is lost or ctx ends.
func (s *Server) serveAsLeader(ctx context.Context, sess *concurrency.Session, e *concurrency.Election) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	until, err := s.renewLease(ctx, sess.Lease())
	if err != nil {
		return err
	}
	guard := clientv3.Compare(clientv3.CreateRevision(e.Key()), "=", e.Rev())
	// The other members name this one as leader from the moment it holds
	// the election key: a takeover that stalls (etcd slow or unreachable
	// from here) must give the key up, not hold it without serving.
	lctx, lcancel := context.WithTimeout(ctx, s.takeoverTimeout())
	l, err := s.newLeadership(lctx, guard)
	lcancel()
	if err != nil {
		return fmt.Errorf("pd: take over as PD leader: %w", err)
	}
	if s.cfg.beforeServe != nil {
		s.cfg.beforeServe()
	}
	l.tso.setLease(until)
	s.lead.Store(l)
	defer func() {
		s.lead.Store(nil)
		l.tso.stop(&pdclient.NotLeaderError{})
	}()
	s.cfg.Logger.Info("pd: serving as PD leader", zap.String("name", s.cfg.Name))

	keeperDone := make(chan struct{})
	go func() {
		defer close(keeperDone)
		s.runKeeper(ctx, l.tso)
		cancel() // the window was taken by another leader: step down
	}()
	defer func() { cancel(); <-keeperDone }()

	renew := time.NewTicker(s.cfg.LeaderLease / 4)
	defer renew.Stop()
	var sched <-chan time.Time
	if s.cfg.ScheduleInterval > 0 {
		t := time.NewTicker(s.cfg.ScheduleInterval)
		defer t.Stop()
		sched = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sess.Done():
			return errLostElection
		case <-renew.C:
			u, err := s.renewLease(ctx, sess.Lease())
			if err == nil {
				until = u
				l.tso.setLease(until)
			} else if !time.Now().Before(until) {
				return err
			}
		case <-sched:
			l.pl.runSchedulers(ctx)
		}
	}
}

// newLeadership checks that the election key is still this member's and
// loads the TSO window, the ID allocator, the stores and the regions.
func (s *Server) newLeadership(ctx context.Context, guard clientv3.Cmp) (*leadership, error) {
	resp, err := s.client.Txn(ctx).If(guard).Commit()
	if err != nil {
		return nil, fmt.Errorf("pd: check election key: %w", err)
	}
	if !resp.Succeeded {
		return nil, errLostElection
	}
	store := etcdCounters{kv: s.client}
	l := &leadership{guard: guard}
	if l.tso, err = newTSO(ctx, store, s.cfg.Now, s.cfg.TSOSaveInterval); err != nil {
		return nil, err
	}
	if l.ids, err = newIDAllocator(ctx, store, idBlock); err != nil {
		return nil, err
	}
	if l.pl, err = loadPlacement(ctx, s.cfg, s.client, guard, l.ids); err != nil {
		return nil, err
	}
	if l.gc, err = loadGCSafePoint(ctx, s.client, guard, s.cfg.GCLifeTime); err != nil {
		return nil, err
	}
	return l, nil
}

// runKeeper extends the TSO window ahead of time until ctx ends or the
// window is lost to another leader.
func (s *Server) runKeeper(ctx context.Context, t *tso) {
	tick := time.NewTicker(keeperInterval(s.cfg.TSOSaveInterval))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		opCtx, cancel := context.WithTimeout(ctx, s.cfg.TSOSaveInterval)
		err := t.keep(opCtx)
		cancel()
		if errors.Is(err, ErrWindowConflict) {
			s.cfg.Logger.Error("pd: TSO window taken by another leader; stepping down", zap.Error(err))
			return
		}
		// Other errors (slow etcd, lease expiry) are retried on the next
		// tick; GetTS extends the window itself if it runs out meanwhile.
	}
}
