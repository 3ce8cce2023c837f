package pd

import (
	"context"
	"sync"
)

// idBlock is how many IDs one persisted reservation covers.
const idBlock = 1000

// idAllocator hands out IDs from blocks whose end is persisted first.
type idAllocator struct {
	store counterStore
	block uint64

	mu   sync.Mutex // held across the etcd write: one per block
	last uint64     // last issued ID
	end  uint64     // persisted end of the current block
}

// newIDAllocator starts after the last persisted block end, so IDs of a
// block that was only partly used before a restart are skipped, never
// reused.
func newIDAllocator(ctx context.Context, store counterStore, block uint64) (*idAllocator, error) {
	end, err := store.load(ctx, keyAllocID)
	if err != nil {
		return nil, err
	}
	return &idAllocator{store: store, block: block, last: end, end: end}, nil
}

// alloc returns the next ID, persisting a new block end first when the
// current block is used up.
func (a *idAllocator) alloc(ctx context.Context) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == a.end {
		next := a.end + a.block
		if err := a.store.cas(ctx, keyAllocID, a.end, next); err != nil {
			return 0, err
		}
		a.end = next
	}
	a.last++
	return a.last, nil
}
