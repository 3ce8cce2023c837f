package regionraft

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// errInjected is the error chanTransport reports for a snapshot it drops.
var errInjected = errors.New("test transport: dropped")

// chanTransport delivers messages between in-process stores through one
// unbounded queue and delivery goroutine per target store, so Send never
// blocks the sender's raft goroutine. Messages are cloned, as a wire would.
//
// Faults (all guarded by mu, change them at any time):
//   - down: every message to or from these stores is dropped;
//   - groups: when non-nil, a partition: messages between stores of
//     different groups (a store without a group is alone) are dropped;
//   - dropRate: each message is dropped with this probability (seeded);
//   - delay: each delivery batch waits this long (simulated latency);
//   - noSnap: snapshots fail at once;
//   - dropTypes: messages of these types are dropped.
//
// Snapshots are streamed from the sender's stream straight into the target
// store's ReceiveSnapshot on a goroutine of their own.
type chanTransport struct {
	mu       sync.Mutex
	stores   map[uint64]*Store
	queues   map[uint64][]RaftMessage
	wake     map[uint64]chan struct{}
	down     map[uint64]bool
	groups   map[uint64]int
	dropRate float64
	delay    time.Duration
	noSnap   bool
	// dropTypes: messages of these types vanish (nil: none).
	dropTypes map[raftpb.MessageType]bool
	// cutSnaps: the next cutSnaps snapshot streams end after cutAfter
	// bytes (a sender crash or a broken connection mid-transfer).
	cutSnaps int
	cutAfter int64
	rnd      *rand.Rand
	snaps    int // snapshots accepted by a receiver
	stopped  chan struct{}
	wg       sync.WaitGroup
}

func newChanTransport() *chanTransport {
	return &chanTransport{stores: map[uint64]*Store{}, queues: map[uint64][]RaftMessage{},
		wake: map[uint64]chan struct{}{}, down: map[uint64]bool{}, stopped: make(chan struct{}),
		rnd: rand.New(rand.NewPCG(1, 2))}
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
			q, s, delay := tr.queues[storeID], tr.stores[storeID], tr.delay
			tr.queues[storeID] = nil
			tr.mu.Unlock()
			if delay > 0 {
				select {
				case <-time.After(delay): // simulated latency, not a wait for state
				case <-tr.stopped:
					return
				}
			}
			for _, m := range q {
				_ = s.Step(m) // a stopped store drops it
			}
		}
	}()
}

// cut reports whether a message from one store to another is dropped.
func (tr *chanTransport) cut(from, to uint64) bool {
	if tr.down[to] || tr.down[from] || tr.wake[to] == nil {
		return true
	}
	if tr.groups != nil {
		gf, okf := tr.groups[from]
		gt, okt := tr.groups[to]
		if !okf || !okt || gf != gt {
			return from != to
		}
	}
	return tr.dropRate > 0 && tr.rnd.Float64() < tr.dropRate
}

func (tr *chanTransport) Send(msgs []RaftMessage) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, m := range msgs {
		to := m.To.StoreID
		if tr.cut(m.From.StoreID, to) || tr.dropTypes[m.Msg.GetType()] {
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

func (tr *chanTransport) SendSnapshot(m RaftMessage, data io.ReadCloser, done func(error)) {
	tr.mu.Lock()
	cut := tr.noSnap || tr.cut(m.From.StoreID, m.To.StoreID)
	s := tr.stores[m.To.StoreID]
	tr.mu.Unlock()
	if cut || s == nil {
		_ = data.Close()
		done(errInjected)
		return
	}
	m.Msg = proto.CloneOf(m.Msg)
	var r io.Reader = data
	tr.mu.Lock()
	if tr.cutSnaps > 0 {
		tr.cutSnaps--
		r = io.LimitReader(data, tr.cutAfter)
	}
	tr.mu.Unlock()
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-tr.stopped:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := s.ReceiveSnapshot(ctx, m, r)
		_ = data.Close()
		if err == nil {
			tr.mu.Lock()
			tr.snaps++
			tr.mu.Unlock()
		}
		done(err)
	}()
}

func (tr *chanTransport) setDown(storeID uint64, down bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.down[storeID] = down
}

// partition splits the stores into groups; heal() removes it.
func (tr *chanTransport) partition(groups ...[]uint64) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.groups = map[uint64]int{}
	for i, g := range groups {
		for _, id := range g {
			tr.groups[id] = i
		}
	}
}

func (tr *chanTransport) heal() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.groups = nil
	tr.dropRate = 0
	tr.delay = 0
}

func (tr *chanTransport) snapshotsAccepted() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.snaps
}

func (tr *chanTransport) close() {
	close(tr.stopped)
	tr.wg.Wait()
}
