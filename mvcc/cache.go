package mvcc

import (
	"hash/maphash"
	"sync"
)

// VersionCache holds the newest committed version of recently used keys so
// that the leader's hot path reads them without touching the engine (on
// these machines a memtable seek costs tens of microseconds of TLB misses).
//
// Protocol (the cache is never the only copy of anything):
//   - The applier Invalidates every key it applies a write record for,
//     on every replica, before the write is visible in the engine.
//   - A writer that held the key's latch from before its timestamp until
//     its write was applied Puts the new version; a reader holding the
//     latch (shared with other readers, never with a writer) Puts what it
//     read from the engine. Under the latch no other version of the key can
//     be applied concurrently on the leader, so the entry is the newest
//     version (concurrent readers Put the same one).
//   - A writer whose proposal outcome is unknown Invalidates its keys.
//   - On any change of leadership the cache is Cleared.
//
// Get answers only reads at a timestamp at or after the entry's commit
// timestamp; older snapshots go to the engine. Safe for concurrent use.
type VersionCache struct {
	seed     maphash.Seed
	shards   [cacheShards]cacheShard
	maxBytes int // per shard
}

const cacheShards = 64

type cacheShard struct {
	mu    sync.Mutex
	m     map[string]cacheEntry
	bytes int
}

type cacheEntry struct {
	commitTS uint64
	value    []byte
	ok       bool
}

// entryOverhead approximates the memory of an entry beyond key and value.
const entryOverhead = 64

// NewVersionCache returns a cache holding about maxBytes of keys and values.
func NewVersionCache(maxBytes int) *VersionCache {
	c := &VersionCache{seed: maphash.MakeSeed(), maxBytes: maxBytes / cacheShards}
	for i := range c.shards {
		c.shards[i].m = map[string]cacheEntry{}
	}
	return c
}

func (c *VersionCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// Get returns the cached newest version of key if it is visible at ts. hit
// is false when the engine must be read. The value must not be modified.
func (c *VersionCache) Get(key []byte, ts uint64) (value []byte, ok, hit bool) {
	s := c.shard(key)
	s.mu.Lock()
	e, found := s.m[string(key)]
	s.mu.Unlock()
	if !found || e.commitTS > ts {
		return nil, false, false
	}
	return e.value, e.ok, true
}

// Put records the newest version of key (ok false: the key has no value).
// value is retained: the caller must not modify it afterwards.
func (c *VersionCache) Put(key []byte, commitTS uint64, value []byte, ok bool) {
	s := c.shard(key)
	size := len(key) + len(value) + entryOverhead
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, found := s.m[string(key)]; found {
		if old.commitTS > commitTS {
			return
		}
		s.bytes -= len(key) + len(old.value) + entryOverhead
	}
	for s.bytes+size > c.maxBytes && len(s.m) > 0 {
		for k, e := range s.m { // map order is random: random eviction
			s.bytes -= len(k) + len(e.value) + entryOverhead
			delete(s.m, k)
			break
		}
	}
	if size > c.maxBytes {
		return
	}
	s.m[string(key)] = cacheEntry{commitTS: commitTS, value: value, ok: ok}
	s.bytes += size
}

// Invalidate drops key.
func (c *VersionCache) Invalidate(key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if e, found := s.m[string(key)]; found {
		s.bytes -= len(key) + len(e.value) + entryOverhead
		delete(s.m, string(key))
	}
	s.mu.Unlock()
}

// Clear drops everything.
func (c *VersionCache) Clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.m = map[string]cacheEntry{}
		s.bytes = 0
		s.mu.Unlock()
	}
}
