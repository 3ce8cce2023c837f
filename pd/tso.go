package pd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// errTSOBehind is returned when GetTS could not get a window extended in
// a bounded number of attempts (the clock jumps faster than etcd writes).
var errTSOBehind = errors.New("pd: TSO window cannot keep up with the clock")

// errLeaseExpired is returned by GetTS when this member's leader lease was
// not renewed in time: another member may already lead.
var errLeaseExpired = fmt.Errorf("pd: leader lease expired: %w", pdclient.ErrNotLeader)

// tso is the timestamp oracle of a PD leader. Timestamps are issued from
// memory under mu; etcd is written only to extend the persisted window
// (by the keeper ahead of time, or by GetTS itself if the keeper fell
// behind).
type tso struct {
	store    counterStore
	now      func() time.Time
	windowMs int64 // how far ahead of the current physical the window is saved

	saveMu sync.Mutex // serialises window extensions

	mu       sync.Mutex
	physical int64 // physical part (Unix ms) of the last issued timestamp
	logical  int64 // logical part of the last issued timestamp
	saved    int64 // persisted window end: physical <= saved always
	err      error // sticky: set when this leader lost the window or closed
	// leaseUntil is when this member's PD leader lease may have expired
	// (monotonic clock): past it another member may lead, so no timestamp
	// is issued. Zero: no lease check (unit tests of the tso alone).
	leaseUntil time.Time
}

// setLease records that this member leads at least until until.
func (t *tso) setLease(until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.leaseUntil = until
}

// newTSO loads the persisted window end and starts strictly above it: the
// first physical part is max(now, saved+1), and a new window ending at
// that + window is persisted before the tso is returned.
func newTSO(ctx context.Context, store counterStore, now func() time.Time, window time.Duration) (*tso, error) {
	t := &tso{store: store, now: now, windowMs: max(window.Milliseconds(), 1)}
	stored, err := store.load(ctx, keyTSOWindow)
	if err != nil {
		return nil, err
	}
	phys := max(t.nowMs(), int64(stored)+1)
	end := phys + t.windowMs
	if err := store.cas(ctx, keyTSOWindow, stored, uint64(end)); err != nil {
		return nil, err
	}
	t.physical, t.saved = phys, end
	return t, nil
}

func (t *tso) nowMs() int64 { return t.now().UnixMilli() }

// getTS reserves count consecutive timestamps with one physical part and
// returns the last. The physical part follows the clock when the clock is
// ahead and never goes back; when the logical part would overflow, the
// physical part advances by 1 ms.
func (t *tso) getTS(ctx context.Context, count uint32) (uint64, error) {
	if count == 0 || count >= pdclient.MaxLogical {
		return 0, fmt.Errorf("%w: %d", pdclient.ErrInvalidCount, count)
	}
	n := int64(count)
	for range 4 {
		t.mu.Lock()
		if t.err != nil {
			t.mu.Unlock()
			return 0, t.err
		}
		if !t.leaseUntil.IsZero() && !time.Now().Before(t.leaseUntil) {
			t.mu.Unlock()
			return 0, errLeaseExpired
		}
		phys, logical := t.physical, t.logical
		if now := t.nowMs(); now > phys {
			phys, logical = now, 0
		}
		if logical+n >= pdclient.MaxLogical {
			phys, logical = phys+1, 0
		}
		if phys <= t.saved {
			t.physical, t.logical = phys, logical+n
			t.mu.Unlock()
			return pdclient.ComposeTS(phys, logical+n), nil
		}
		t.mu.Unlock()
		// Slow path: the keeper fell behind (or the clock jumped ahead).
		if err := t.extend(ctx, phys+t.windowMs); err != nil {
			return 0, err
		}
	}
	return 0, errTSOBehind
}

// keep extends the window in the background when less than half of it is
// left ahead of the current physical time, so getTS never waits on etcd.
func (t *tso) keep(ctx context.Context) error {
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return t.err
	}
	phys := max(t.physical, t.nowMs())
	left := t.saved - phys
	t.mu.Unlock()
	if left >= t.windowMs/2+1 {
		return nil
	}
	return t.extend(ctx, phys+t.windowMs)
}

// extend persists a window end of at least target, then publishes it.
// On a conflict the tso stops serving for good (another leader took over).
func (t *tso) extend(ctx context.Context, target int64) error {
	t.saveMu.Lock()
	defer t.saveMu.Unlock()
	t.mu.Lock()
	cur, err := t.saved, t.err
	t.mu.Unlock()
	if err != nil {
		return err
	}
	if cur >= target {
		return nil // extended meanwhile
	}
	err = t.store.cas(ctx, keyTSOWindow, uint64(cur), uint64(target))
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err == nil:
		t.saved = target
	case errors.Is(err, ErrWindowConflict):
		t.err = err
	}
	return err
}

// stop makes every later getTS fail with err.
func (t *tso) stop(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
	}
}

// windowEnd returns the persisted window end this tso knows (for tests).
func (t *tso) windowEnd() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.saved
}
