package regionraft

import (
	"errors"
	"io"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
)

// chanTransport delivers messages between in-process stores through one
// unbounded queue and delivery goroutine per target store, so Send never
// blocks the sender's raft goroutine. Messages are cloned, as a wire would.
type chanTransport struct {
	mu      sync.Mutex
	stores  map[uint64]*Store
	queues  map[uint64][]RaftMessage
	wake    map[uint64]chan struct{}
	down    map[uint64]bool // messages to or from these stores are dropped
	stopped chan struct{}
	wg      sync.WaitGroup
}

func newChanTransport() *chanTransport {
	return &chanTransport{stores: map[uint64]*Store{}, queues: map[uint64][]RaftMessage{},
		wake: map[uint64]chan struct{}{}, down: map[uint64]bool{}, stopped: make(chan struct{})}
}

func (tr *chanTransport) register(storeID uint64, s *Store) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.stores[storeID] = s
	if _, ok := tr.wake[storeID]; ok {
		return
	}
	wake := make(chan struct{}, 1)
	tr.wake[storeID] = wake
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		for {
			select {
			case <-tr.stopped:
				return
			case <-wake:
			}
			tr.mu.Lock()
			q, s := tr.queues[storeID], tr.stores[storeID]
			tr.queues[storeID] = nil
			tr.mu.Unlock()
			for _, m := range q {
				_ = s.Step(m) // a stopped store drops it
			}
		}
	}()
}

func (tr *chanTransport) Send(msgs []RaftMessage) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, m := range msgs {
		to := m.To.StoreID
		if tr.down[to] || tr.down[m.From.StoreID] || tr.wake[to] == nil {
			continue
		}
		m.Msg = proto.CloneOf(m.Msg)
		tr.queues[to] = append(tr.queues[to], m)
		select {
		case tr.wake[to] <- struct{}{}:
		default:
		}
	}
}

// SendSnapshot is not supported by chanTransport yet.
func (tr *chanTransport) SendSnapshot(_ RaftMessage, data io.ReadCloser, done func(error)) {
	_ = data.Close()
	done(ErrNoTransport)
}

func (tr *chanTransport) close() {
	close(tr.stopped)
	tr.wg.Wait()
}

func threeVoterRegion() Region {
	return Region{ID: 1, Epoch: Epoch{ConfVer: 1, Version: 1},
		Peers: []Peer{{ID: 101, StoreID: 1}, {ID: 102, StoreID: 2}, {ID: 103, StoreID: 3}}}
}

func TestThreeVoters(t *testing.T) {
	tr := newChanTransport()
	defer tr.close()
	stores := map[uint64]*Store{}
	appliers := map[uint64]*recApplier{}
	engines := map[uint64]*testEngine{}
	for id := uint64(1); id <= 3; id++ {
		eng := newTestEngine()
		appliers[id] = newRecApplier(eng)
		cfg := testConfig(id, eng, appliers[id])
		cfg.Transport = tr
		cfg.RaftLogGCThreshold = 8
		engines[id] = eng
		s, err := NewStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.BootstrapRegion(threeVoterRegion()); err != nil {
			t.Fatal(err)
		}
		tr.register(id, s)
		stores[id] = s
	}
	for _, s := range stores {
		s.Start()
		defer s.Stop()
	}
	var leader Peer
	eventually(t, "one leader known by all", func() bool {
		var seen []Peer
		for _, s := range stores {
			l, ok := s.Leader(1)
			if !ok {
				return false
			}
			seen = append(seen, l)
		}
		leader = seen[0]
		return seen[1] == leader && seen[2] == leader
	})

	ls := stores[leader.StoreID]
	proposeN(t, ls, 1, "x", 20)
	if err := ls.ReadBarrier(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	for id, s := range stores {
		if id == leader.StoreID {
			continue
		}
		var nle *NotLeaderError
		if err := s.Propose(ctxT(t), 1, []byte("nope")); !errors.As(err, &nle) || nle.Leader != leader || nle.RegionID != 1 {
			t.Fatalf("follower %d propose: %v", id, err)
		}
		if err := s.ReadBarrier(ctxT(t), 1); !errors.As(err, &nle) {
			t.Fatalf("follower %d read: %v", id, err)
		}
	}
	for id, ap := range appliers {
		eventually(t, "replication", func() bool { return len(ap.entries(1)) == 20 })
		for i, e := range ap.entries(1) {
			if e != appliers[leader.StoreID].entries(1)[i] {
				t.Fatalf("store %d entry %d = %v, leader applied %v", id, i, e, appliers[leader.StoreID].entries(1)[i])
			}
		}
	}

	// Log GC is decided by the leader and applied by every replica alike.
	eventually(t, "same log truncation on every replica", func() bool {
		var firsts []uint64
		for _, eng := range engines {
			_, first := logKeys(t, eng, 1)
			firsts = append(firsts, first)
		}
		return firsts[0] > 10 && firsts[0] == firsts[1] && firsts[1] == firsts[2]
	})

	// Cut the leader off: the others elect a new one and keep serving.
	tr.mu.Lock()
	tr.down[leader.StoreID] = true
	tr.mu.Unlock()
	// A proposal on the isolated leader can never commit: it must fail
	// (NotLeaderError once it steps down first, or ErrProposalDropped when
	// the new leader's log overwrites it after the partition heals), not hang.
	isolated := make(chan error, 1)
	go func() { isolated <- ls.Propose(ctxT(t), 1, []byte("isolated")) }()
	var newLeader Peer
	eventually(t, "new leader", func() bool {
		for id, s := range stores {
			if l, ok := s.Leader(1); ok && id != leader.StoreID && l.StoreID == id {
				newLeader = l
				return true
			}
		}
		return false
	})
	proposeN(t, stores[newLeader.StoreID], 1, "y", 5)

	tr.mu.Lock()
	tr.down[leader.StoreID] = false
	tr.mu.Unlock()
	var nle *NotLeaderError
	if err := <-isolated; !errors.As(err, &nle) && !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("proposal on isolated leader: %v", err)
	} else {
		t.Logf("proposal on isolated leader: %v", err)
	}
	eventually(t, "old leader catches up", func() bool { return len(appliers[leader.StoreID].entries(1)) == 25 })
	for _, e := range appliers[leader.StoreID].entries(1) {
		if e.cmd == "isolated" {
			t.Fatal("isolated proposal applied")
		}
	}
}

func TestOnLeaderChangeReportsGainAndLoss(t *testing.T) {
	tr := newChanTransport()
	defer tr.close()
	type change struct {
		store  uint64
		leader bool
	}
	changes := make(chan change, 64)
	var stores []*Store
	for id := uint64(1); id <= 3; id++ {
		eng := newTestEngine()
		cfg := testConfig(id, eng, newRecApplier(eng))
		cfg.Transport = tr
		store := id
		cfg.OnLeaderChange = func(region uint64, leader bool) { changes <- change{store, leader} }
		s, err := NewStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.BootstrapRegion(threeVoterRegion()); err != nil {
			t.Fatal(err)
		}
		tr.register(id, s)
		s.Start()
		defer s.Stop()
		stores = append(stores, s)
	}
	ctx := ctxT(t)
	if err := stores[0].WaitLeader(ctx, threeVoterRegion().ID); err != nil {
		t.Fatal(err)
	}
	var first change
	select {
	case first = <-changes:
		if !first.leader {
			t.Fatalf("first change is a loss: %+v", first)
		}
		l, _ := stores[0].Leader(threeVoterRegion().ID)
		if l.StoreID != first.store {
			t.Fatalf("store %d reported leadership, leader is on store %d", first.store, l.StoreID)
		}
	case <-ctx.Done():
		t.Fatal("no leadership change reported")
	}
	// Isolate the leader: CheckQuorum makes it step down (a loss), and
	// another store reports a gain.
	tr.mu.Lock()
	tr.down[first.store] = true
	tr.mu.Unlock()
	lost, gained := false, false
	for !lost || !gained {
		select {
		case c := <-changes:
			if c.store == first.store && !c.leader {
				lost = true
			}
			if c.store != first.store && c.leader {
				gained = true
			}
		case <-ctx.Done():
			t.Fatalf("after isolating the leader: lost=%v gained=%v", lost, gained)
		}
	}
}
