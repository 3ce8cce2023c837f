package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft"
)

// plainBits is the size of plainKeys' bitset: 4 Mi bits, 512 KiB.
const plainBits = 1 << 22

// plainKeys lets a write that replaces a key's value (SET, MSET, the
// destination of RENAME...) skip reading the old metadata record when the
// leader knows, without reading, that the key holds neither a collection
// nor an expiry: then nothing of the old value needs cleaning up (no
// members to queue for the collector, no expiry index entry to delete)
// and the new record is written blind (keyspace.PlainChecker). A read of a
// key the leader has never touched is a memtable seek, about a quarter of
// a SET's CPU (docs/performance.md, session 9).
//
// What it knows is a bitset over hashes of Redis keys (every database
// shares a key's bit), never cleared:
//   - every metadata value that is a collection or has an expiry sets its
//     key's bit before a leader here proposes it (executor.commit for the
//     fast path, serveTxnKV for a prewrite), while the key is latched;
//   - that misses values written under another leader or before a restart,
//     so a region's clear bits count only after its leader here has
//     scanned the region's records (scan: every lock on a metadata key,
//     and every version of a metadata record that is not plain) and until
//     it stops leading. The scan starts after a read barrier, which on a
//     new leader means every entry of earlier terms is applied. A
//     leadership change bumps the region's generation, and a scan that
//     straddles one is thrown away.
//
// A clear bit in a scanned region therefore means: no value of that key
// that was ever committed or prewritten in the region, and is still
// stored, was a collection or had an expiry. Keys that were once such and
// are plain again keep their bit (a false "read it", never a wrong skip).
type plainKeys struct {
	bits []atomic.Uint64
	seed maphash.Seed

	engine  engine.Engine
	barrier func(ctx context.Context, region uint64) error
	region  func(region uint64) (regionraft.Region, bool)
	log     *slog.Logger

	mu      sync.Mutex
	gen     map[uint64]uint64 // region -> generation, bumped on every leader change
	pending map[uint64]uint64 // regions to scan -> the generation that asked
	// complete holds the regions whose clear bits count: replaced, never
	// modified, so the command path reads it without the lock.
	complete atomic.Pointer[map[uint64]bool]
	wake     chan struct{}

	skipped atomic.Int64 // reads skipped
	scanned atomic.Int64 // scans completed (tests)
	visited atomic.Int64 // records the scans stepped on (tests)
}

func newPlainKeys(e engine.Engine, log *slog.Logger) *plainKeys {
	p := &plainKeys{
		bits: make([]atomic.Uint64, plainBits/64), seed: maphash.MakeSeed(), engine: e, log: log,
		gen: map[uint64]uint64{}, pending: map[uint64]uint64{}, wake: make(chan struct{}, 1),
	}
	p.complete.Store(&map[uint64]bool{})
	return p
}

// collector exports the number of reads skipped.
func (p *plainKeys) collector() prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "skerry_meta_reads_skipped_total",
		Help: "Writes that replaced a key's metadata record without reading it: its leader knew it held no collection and no expiry."},
		func() float64 { return float64(p.skipped.Load()) })
}

func (p *plainKeys) bit(key []byte) (word int, mask uint64) {
	h := maphash.Bytes(p.seed, key) % plainBits
	return int(h / 64), 1 << (h % 64)
}

// mark sets the bit of the Redis key whose metadata record is metaKey (a
// logical key); other keys are ignored.
func (p *plainKeys) mark(metaKey []byte) {
	_, key, suffix, ok := keys.DecodeMetaKey(metaKey)
	if !ok || len(suffix) != 0 {
		return
	}
	w, m := p.bit(key)
	if p.bits[w].Load()&m == 0 {
		p.bits[w].Or(m)
	}
}

// note marks the keys of mutations about to be proposed whose new
// metadata value is not plain.
func (p *plainKeys) note(muts []mvcc.Mutation) {
	for _, m := range muts {
		if !m.Delete && !m.Lock && !keyspace.PlainMeta(m.Value) {
			p.mark(m.Key)
		}
	}
}

// known reports whether the metadata record metaKey of region is known
// to be plain or absent (see the type's comment).
func (p *plainKeys) known(region uint64, metaKey []byte) bool {
	if !(*p.complete.Load())[region] {
		return false
	}
	_, key, suffix, ok := keys.DecodeMetaKey(metaKey)
	if !ok || len(suffix) != 0 {
		return false
	}
	w, m := p.bit(key)
	if p.bits[w].Load()&m != 0 {
		return false
	}
	p.skipped.Add(1)
	return true
}

// check returns the function a leader transaction of region asks
// (txn.Txn.UsePlainCheck).
func (p *plainKeys) check(region uint64) func([]byte) bool {
	return func(k []byte) bool { return p.known(region, k) }
}

// leaderChanged is regionraft's OnLeaderChange: called on the raft
// goroutine before the region serves in its new role, so no command sees
// an old scan's verdict once this peer stops leading.
func (p *plainKeys) leaderChanged(region uint64, leader bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen[region]++
	if (*p.complete.Load())[region] {
		c := maps.Clone(*p.complete.Load())
		delete(c, region)
		p.complete.Store(&c)
	}
	delete(p.pending, region)
	if leader {
		p.queueLocked(region, p.gen[region])
	}
}

// queueLocked asks the worker to scan region for generation gen. p.mu is
// held.
func (p *plainKeys) queueLocked(region, gen uint64) {
	p.pending[region] = gen
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run scans the regions this node came to lead until ctx ends.
func (p *plainKeys) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		for {
			p.mu.Lock()
			var region, gen uint64
			for r, g := range p.pending {
				region, gen = r, g
				break
			}
			delete(p.pending, region)
			p.mu.Unlock()
			if region == 0 {
				break
			}
			if err := p.scanRegion(ctx, region, gen); err != nil {
				if ctx.Err() != nil {
					return
				}
				// Not fatal: the region's writes keep reading meanwhile.
				p.log.Warn("plain-key scan failed; retrying in a second", "region", region, "err", err)
				time.AfterFunc(time.Second, func() { p.retry(region, gen) })
			}
		}
	}
}

// retry queues region's scan again if it is still led in generation gen.
func (p *plainKeys) retry(region, gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen[region] == gen {
		p.queueLocked(region, gen)
	}
}

// scanRegion marks every key of region that has a lock on its metadata
// record or a stored metadata version that is not plain, then lets the
// region's clear bits count if it is still led in generation gen.
func (p *plainKeys) scanRegion(ctx context.Context, region, gen uint64) error {
	// A region without a quorum must not hold up the other regions'
	// scans: give up, and retry later (run).
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := p.barrier(bctx, region)
	cancel()
	if err != nil {
		var nl *regionraft.NotLeaderError
		if errors.As(err, &nl) || errors.Is(err, regionraft.ErrRegionNotFound) {
			return nil // no longer leads: nothing to do
		}
		return err
	}
	r, ok := p.region(region)
	if !ok {
		return nil
	}
	var end []byte
	if len(r.EndKey) > 0 {
		end = r.EndKey
	}
	// scan walks [lower, upper) of one record family. Member records say
	// nothing about any key's metadata, and a collection may have millions:
	// at the first one of a Redis key, the walk seeks past all of that
	// key's members (its metadata key is a prefix of theirs and of no other
	// Redis key's), so it costs about one step per key, not per record.
	scan := func(family func(start, end []byte) ([]byte, []byte), decode func([]byte) ([]byte, error), visit func(uk, v []byte) error) error {
		lower, upper := family(r.StartKey, end)
		it, err := p.engine.NewIter(lower, upper)
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok; {
			p.visited.Add(1)
			uk, err := decode(it.Key())
			if err != nil {
				return err
			}
			if db, key, suffix, isKey := keys.DecodeMetaKey(uk); isKey && len(suffix) > 0 {
				past, _ := family(keys.PrefixEnd(keys.MetaKey(db, key)), nil)
				ok = it.SeekGE(past)
				continue
			}
			if err := visit(uk, it.Value()); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ok = it.Next()
		}
		return it.Error()
	}
	decodeVersioned := func(decode func([]byte) ([]byte, uint64, error)) func([]byte) ([]byte, error) {
		return func(k []byte) ([]byte, error) {
			uk, _, err := decode(k)
			return uk, err
		}
	}
	err = scan(keys.LockRange, keys.DecodeLockKey, func(uk, _ []byte) error {
		p.mark(uk) // whatever it will write
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster: scan locks of region %d: %w", region, err)
	}
	err = scan(keys.WriteRange, decodeVersioned(keys.DecodeWriteKey), func(uk, v []byte) error {
		if !isMetaKey(uk) {
			return nil
		}
		w, err := mvcc.DecodeWrite(v)
		if err != nil {
			return err
		}
		if w.HasShort && !keyspace.PlainMeta(w.ShortValue) {
			p.mark(uk)
		}
		return nil // a long value is in a data record: scanned below
	})
	if err != nil {
		return fmt.Errorf("cluster: scan writes of region %d: %w", region, err)
	}
	err = scan(keys.DataRange, decodeVersioned(keys.DecodeDataKey), func(uk, v []byte) error {
		if isMetaKey(uk) && !keyspace.PlainMeta(v) {
			p.mark(uk)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster: scan data of region %d: %w", region, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen[region] != gen {
		return nil // leadership changed during the scan
	}
	c := maps.Clone(*p.complete.Load())
	c[region] = true
	p.complete.Store(&c)
	p.scanned.Add(1)
	return nil
}

// isMetaKey reports whether a logical key is a Redis key's metadata record.
func isMetaKey(uk []byte) bool {
	_, _, suffix, ok := keys.DecodeMetaKey(uk)
	return ok && len(suffix) == 0
}
