package commands

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// The family commands (HSET, RPUSH, SADD, ZADD...) live in other files;
// these tests build collections directly through the record layouts of
// mvcc/keys, in their own transaction, as those commands would.

// putCollection stores a new collection value at key in its own
// transaction: fill writes its member records under m.Version and sets
// Size (and Head/Tail). Any previous value is replaced through DB.Put, so
// its members are queued for the collector as a command would leave them.
func putCollection(t testing.TB, h *harness, db int, key string, typ keyspace.Type, big bool,
	fill func(txn keyspace.Txn, m *keyspace.Meta)) keyspace.Meta {
	t.Helper()
	txn := h.store.Txn()
	d := keyspace.New(txn, db)
	m := d.NewCollection(typ)
	m.Big = big
	fill(txn, &m)
	if err := d.Put([]byte(key), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// putList stores a list of elems. The list starts two places before the
// origin, as after LPUSHes, so Head offsets are exercised.
func putList(t testing.TB, h *harness, db int, key string, elems ...string) keyspace.Meta {
	t.Helper()
	return putCollection(t, h, db, key, keyspace.TypeList, false, func(txn keyspace.Txn, m *keyspace.Meta) {
		m.Head = keyspace.ListOrigin - 2
		for i, e := range elems {
			mustSet(t, txn, keys.ListElemKey(db, []byte(key), m.Version, m.Head+uint64(i)), []byte(e))
		}
		m.Size = uint64(len(elems))
		m.Tail = m.Head + m.Size
	})
}

// putSet stores a set; big marks the hashtable encoding (else intset).
func putSet(t testing.TB, h *harness, db int, key string, big bool, members ...string) keyspace.Meta {
	t.Helper()
	return putCollection(t, h, db, key, keyspace.TypeSet, big, func(txn keyspace.Txn, m *keyspace.Meta) {
		seen := map[string]bool{}
		for _, e := range members {
			if !seen[e] {
				seen[e] = true
				mustSet(t, txn, keys.MemberKey(db, []byte(key), m.Version, []byte(e)), nil)
			}
		}
		m.Size = uint64(len(seen))
	})
}

// putZSet stores a sorted set from member, score pairs; big marks the
// skiplist encoding (else listpack).
func putZSet(t testing.TB, h *harness, db int, key string, big bool, pairs ...string) keyspace.Meta {
	t.Helper()
	return putCollection(t, h, db, key, keyspace.TypeZSet, big, func(txn keyspace.Txn, m *keyspace.Meta) {
		for i := 0; i+1 < len(pairs); i += 2 {
			member := []byte(pairs[i])
			score, err := strconv.ParseFloat(pairs[i+1], 64)
			if err != nil {
				t.Fatal(err)
			}
			mustSet(t, txn, keys.ZMemberKey(db, []byte(key), m.Version, member), keys.AppendScore(nil, score))
			mustSet(t, txn, keys.ZScoreKey(db, []byte(key), m.Version, score, member), nil)
		}
		m.Size = uint64(len(pairs) / 2)
	})
}

// putHashKV stores a hash from field, value pairs; big marks hashtable.
func putHashKV(t testing.TB, h *harness, db int, key string, big bool, pairs ...string) keyspace.Meta {
	t.Helper()
	return putCollection(t, h, db, key, keyspace.TypeHash, big, func(txn keyspace.Txn, m *keyspace.Meta) {
		for i := 0; i+1 < len(pairs); i += 2 {
			mustSet(t, txn, keys.MemberKey(db, []byte(key), m.Version, []byte(pairs[i])), []byte(pairs[i+1]))
		}
		m.Size = uint64(len(pairs) / 2)
	})
}

func mustSet(t testing.TB, txn keyspace.Txn, k, v []byte) {
	t.Helper()
	if err := txn.Set(k, v); err != nil {
		t.Fatal(err)
	}
}

// metaOf returns the live metadata of key (ok false when absent).
func metaOf(t testing.TB, h *harness, db int, key string) (keyspace.Meta, bool) {
	t.Helper()
	m, ok, err := keyspace.New(h.store.Txn(), db).Lookup([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return m, ok
}

// listElems returns the elements of a list key read from its records
// [Head, Tail), failing on a gap or a stray record of the version.
func listElems(t testing.TB, h *harness, db int, key string) []string {
	t.Helper()
	m, ok := metaOf(t, h, db, key)
	if !ok || m.Type != keyspace.TypeList {
		t.Fatalf("%s (db %d) is not a list: %+v %v", key, db, m, ok)
	}
	var out []string
	d := keyspace.New(h.store.Txn(), db)
	next := m.Head
	err := d.ScanMembers([]byte(key), &m, nil, nil, false, func(suffix, v []byte) error {
		if len(suffix) != 8 || binary.BigEndian.Uint64(suffix) != next {
			return fmt.Errorf("list %s: record %x, want sequence %d", key, suffix, next)
		}
		next++
		out = append(out, string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next != m.Tail || uint64(len(out)) != m.Size {
		t.Fatalf("list %s: %d records, Head %d Tail %d Size %d", key, len(out), m.Head, m.Tail, m.Size)
	}
	return out
}

// memberRecords returns "suffix=value" of every member record of key's
// current version.
func memberRecords(t testing.TB, h *harness, db int, key string) []string {
	t.Helper()
	m, ok := metaOf(t, h, db, key)
	if !ok {
		t.Fatalf("%s (db %d) missing", key, db)
	}
	var out []string
	err := keyspace.New(h.store.Txn(), db).ScanMembers([]byte(key), &m, nil, nil, false, func(s, v []byte) error {
		out = append(out, fmt.Sprintf("%x=%x", s, v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestObjectEncodingOfCollections(t *testing.T) {
	h := newHarness(t)
	putHashKV(t, h, 0, "h", false, "f", "v")
	putHashKV(t, h, 0, "H", true, "f", "v")
	putSet(t, h, 0, "s", false, "1", "2")
	putSet(t, h, 0, "S", true, "a")
	putZSet(t, h, 0, "z", false, "a", "1")
	putZSet(t, h, 0, "Z", true, "a", "1")
	putList(t, h, 0, "l", "a")
	for _, c := range []struct{ key, typ, enc string }{
		{"h", "hash", "listpack"}, {"H", "hash", "hashtable"},
		{"s", "set", "intset"}, {"S", "set", "hashtable"},
		{"z", "zset", "listpack"}, {"Z", "zset", "skiplist"},
		{"l", "list", "quicklist"},
	} {
		h.expect("+"+c.typ+"\r\n", "TYPE", c.key)
		h.expect(fmt.Sprintf("$%d\r\n%s\r\n", len(c.enc), c.enc), "OBJECT", "ENCODING", c.key)
		h.expect(":1\r\n", "OBJECT", "REFCOUNT", c.key)
		h.expect(":1\r\n", "EXISTS", c.key)
	}
	// COPY and RENAME keep the encoding, as Redis duplicates or moves the
	// object as it is.
	h.expect(":1\r\n", "COPY", "s", "s2")
	h.expect("$6\r\nintset\r\n", "OBJECT", "ENCODING", "s2")
	h.expect("+OK\r\n", "RENAME", "H", "H2")
	h.expect("$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "H2")
	h.expect(":1\r\n", "MOVE", "z", "3")
	h.expect("+OK\r\n", "SELECT", "3")
	h.expect("$8\r\nlistpack\r\n", "OBJECT", "ENCODING", "z")
}

func TestGenericCommandsOnEveryCollectionType(t *testing.T) {
	build := map[string]func(h *harness, db int, key string) keyspace.Meta{
		"list": func(h *harness, db int, key string) keyspace.Meta { return putList(t, h, db, key, "a", "b", "a") },
		"set":  func(h *harness, db int, key string) keyspace.Meta { return putSet(t, h, db, key, true, "x", "y") },
		"zset": func(h *harness, db int, key string) keyspace.Meta {
			return putZSet(t, h, db, key, false, "x", "1", "y", "-2.5")
		},
		"hash": func(h *harness, db int, key string) keyspace.Meta {
			return putHashKV(t, h, db, key, false, "f", "1", "g", "2")
		},
	}
	for _, typ := range []string{"list", "set", "zset", "hash"} {
		t.Run(typ, func(t *testing.T) {
			h := newHarness(t)
			orig := build[typ](h, 0, "k")
			want := memberRecords(t, h, 0, "k")
			h.expect("+"+typ+"\r\n", "TYPE", "k")

			// EXPIRE / TTL / PERSIST rewrite the metadata only: same
			// version, same members.
			h.expect(":1\r\n", "EXPIRE", "k", "100")
			h.expect(":100\r\n", "TTL", "k")
			if m, _ := metaOf(t, h, 0, "k"); m.Version != orig.Version || m.Size != orig.Size {
				t.Fatalf("EXPIRE changed the collection: %+v", m)
			}

			// COPY keeps the TTL and copies members under a new version.
			h.expect(":1\r\n", "COPY", "k", "c")
			h.expect(":100\r\n", "TTL", "c")
			mc, _ := metaOf(t, h, 0, "c")
			if mc.Version == orig.Version || mc.Size != orig.Size || mc.Type != orig.Type {
				t.Fatalf("COPY meta %+v from %+v", mc, orig)
			}
			if got := memberRecords(t, h, 0, "c"); !slices.Equal(got, want) {
				t.Fatalf("COPY members %q, want %q", got, want)
			}

			// RENAME keeps the TTL and the members; the source's version is
			// queued for the collector.
			h.expect("+OK\r\n", "RENAME", "k", "r")
			h.expect(":0\r\n", "EXISTS", "k")
			h.expect(":100\r\n", "TTL", "r")
			if got := memberRecords(t, h, 0, "r"); !slices.Equal(got, want) {
				t.Fatalf("RENAME members %q, want %q", got, want)
			}
			if !queued(t, h, 0, "k", orig.Version) {
				t.Fatal("RENAME did not queue the source's members")
			}

			// RENAME over an existing collection orphans the target.
			h.expect("+OK\r\n", "RENAME", "r", "c")
			if !queued(t, h, 0, "c", mc.Version) {
				t.Fatal("RENAME did not queue the overwritten target's members")
			}
			h.expect(":100\r\n", "TTL", "c")

			// PERSIST, then MOVE keeps the (absent) expiry.
			h.expect(":1\r\n", "PERSIST", "c")
			h.expect(":-1\r\n", "TTL", "c")
			h.expect(":1\r\n", "MOVE", "c", "1")
			h.expect(":0\r\n", "EXISTS", "c")
			if got := memberRecords(t, h, 1, "c"); !slices.Equal(got, want) {
				t.Fatalf("MOVE members %q, want %q", got, want)
			}

			// SCAN TYPE, KEYS, DBSIZE and RANDOMKEY see keys, not members.
			h.expect("+OK\r\n", "SELECT", "1")
			h.expect("+OK\r\n", "SET", "str", "v")
			h.expect(":2\r\n", "DBSIZE")
			if _, ks := scanOnce(t, h, "SCAN", "0", "COUNT", "100000", "TYPE", typ); !slices.Equal(ks, []string{"c"}) {
				t.Fatalf("SCAN TYPE %s: %q", typ, ks)
			}
			if _, ks := scanOnce(t, h, "SCAN", "0", "COUNT", "100000", "TYPE", strings.ToUpper(typ)); len(ks) != 1 {
				t.Fatalf("SCAN TYPE %s (upper case): %q", typ, ks)
			}
			if _, ks := scanOnce(t, h, "SCAN", "0", "COUNT", "100000"); len(ks) != 2 {
				t.Fatalf("SCAN: %q", ks)
			}
			for range 20 {
				if rk := h.do("RANDOMKEY"); rk != "$1\r\nc\r\n" && rk != "$3\r\nstr\r\n" {
					t.Fatalf("RANDOMKEY: %q", rk)
				}
			}

			// SWAPDB carries members (and the garbage queue) along.
			h.expect("+OK\r\n", "SWAPDB", "0", "1")
			h.expect("+OK\r\n", "SELECT", "0")
			if got := memberRecords(t, h, 0, "c"); !slices.Equal(got, want) {
				t.Fatalf("SWAPDB members %q, want %q", got, want)
			}
			if !queued(t, h, 1, "k", orig.Version) {
				t.Fatal("SWAPDB did not move the garbage queue entry of db 0 to db 1")
			}

			// An expired collection is gone for every command, and EXPIRE
			// in the past deletes (and queues) at once.
			h.expect(":1\r\n", "PEXPIRE", "c", "10")
			h.store.Now += 11
			h.expect(":0\r\n", "EXISTS", "c")
			h.expect("+none\r\n", "TYPE", "c")
			h.expect(":-2\r\n", "TTL", "c")
			h.expect("-ERR no such key\r\n", "RENAME", "c", "x")
			h.expect(":0\r\n", "DEL", "c") // removes the dead record, not counted
			build[typ](h, 0, "e")
			me, _ := metaOf(t, h, 0, "e")
			h.expect(":1\r\n", "EXPIRE", "e", "-1")
			h.expect(":0\r\n", "EXISTS", "e")
			if !queued(t, h, 0, "e", me.Version) {
				t.Fatal("EXPIRE in the past did not queue the members")
			}

			// UNLINK and DEL are one write each; FLUSHDB queues everything.
			build[typ](h, 0, "u")
			h.expect(":1\r\n", "UNLINK", "u")
			build[typ](h, 0, "f")
			mf, _ := metaOf(t, h, 0, "f")
			h.expect("+OK\r\n", "FLUSHDB")
			if !queued(t, h, 0, "f", mf.Version) {
				t.Fatal("FLUSHDB did not queue the members")
			}
			collectAll(t, h)
			for db := 0; db < keys.MaxDB; db++ {
				if db != 0 {
					h.expect("+OK\r\n", "SELECT", strconv.Itoa(db))
				}
				h.expect("+OK\r\n", "FLUSHDB")
			}
			collectAll(t, h)
			if n := h.store.Len(); n != 0 {
				t.Fatalf("%d records left after flushing and collecting everything", n)
			}
		})
	}
}

// queued reports whether the garbage queue holds (db, key, version).
func queued(t testing.TB, h *harness, db int, key string, version uint64) bool {
	t.Helper()
	pending, err := keyspace.PendingGC(h.store.Txn(), keys.Slot([]byte(key)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range pending {
		if e.DB == db && string(e.Key) == key && e.Version == version {
			return true
		}
	}
	return false
}

// queueSlots returns the slots whose garbage queue is not empty.
func queueSlots(t testing.TB, h *harness) []uint16 {
	t.Helper()
	set := map[uint16]bool{}
	err := h.store.Txn().Scan(nil, nil, false, func(k, _ []byte) error {
		if _, key, _, ok := keys.DecodeGCQueueKey(k); ok {
			set[keys.Slot(key)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []uint16
	for s := range set {
		out = append(out, s)
	}
	return out
}

// collectAll runs the collector, in small steps, until the queue of every
// slot is empty.
func collectAll(t testing.TB, h *harness) {
	t.Helper()
	for rounds := 0; ; rounds++ {
		if rounds > 10000 {
			t.Fatal("collector does not finish")
		}
		slots := queueSlots(t, h)
		if len(slots) == 0 {
			return
		}
		for _, slot := range slots {
			pending, err := keyspace.PendingGC(h.store.Txn(), slot)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range pending {
				if _, _, _, err := keyspace.CollectGC(h.store.Txn(), e, 3); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// ---- Property tests of the encoding ----

// randBytes returns a short random byte string biased towards the bytes
// the key encoding treats specially (0x00, 0x01, 0xFF) and towards
// prefixes of one another.
func randBytes(rng *rand.Rand, max int) []byte {
	b := make([]byte, rng.IntN(max+1))
	for i := range b {
		b[i] = []byte{0x00, 0x01, 0xFF, 'a', 'b', 0xFE, 0xFD}[rng.IntN(7)]
	}
	return b
}

// recordOwner is the Redis key a logical record belongs to.
type recordOwner struct {
	db  int
	key string
}

// TestPropertyRecordsOfAKeyAreContiguous: for random keys (sharing
// prefixes, holding 0x00/0xFF bytes, in several databases) with random
// members of every collection type under random versions, every record of
// one Redis key sorts next to the others of that key, both as logical keys
// and as the MVCC write/data keys that reach Pebble. So a region split at a
// metadata key never splits a Redis key, and a scan of one key's members
// never crosses another key.
func TestPropertyRecordsOfAKeyAreContiguous(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 40; round++ {
		type rec struct {
			k     []byte
			owner recordOwner
		}
		var recs []rec
		add := func(k []byte, o recordOwner) { recs = append(recs, rec{k, o}) }
		seen := map[recordOwner]bool{}
		for i := 0; i < 30; i++ {
			o := recordOwner{db: rng.IntN(3), key: string(randBytes(rng, 5))}
			if seen[o] {
				continue
			}
			seen[o] = true
			key := []byte(o.key)
			add(keys.MetaKey(o.db, key), o)
			// Several versions: the live one and orphans awaiting GC.
			for v := 0; v < 1+rng.IntN(3); v++ {
				version := rng.Uint64() >> uint(rng.IntN(64))
				for j := 0; j < rng.IntN(6); j++ {
					member := randBytes(rng, 4)
					switch rng.IntN(4) {
					case 0: // hash field / set member
						add(keys.MemberKey(o.db, key, version, member), o)
					case 1: // list element
						add(keys.ListElemKey(o.db, key, version, keyspace.ListOrigin+uint64(rng.IntN(9))-4), o)
					default: // sorted set: member record and score index
						score := []float64{0, -1, 1.5, -0.5, 1e300}[rng.IntN(5)]
						add(keys.ZMemberKey(o.db, key, version, member), o)
						add(keys.ZScoreKey(o.db, key, version, score, member), o)
					}
				}
				// The slot-level indexes belong to no key's run.
				add(keys.GCQueueKey(o.db, key, version), recordOwner{db: -1, key: "gc"})
			}
			add(keys.ExpiryIndexKey(o.db, key, rng.Int64N(1<<40)), recordOwner{db: -2, key: "expiry"})
		}
		check := func(what string, encode func([]byte, int) []byte) {
			type enc struct {
				k     []byte
				owner recordOwner
			}
			var all []enc
			for i, r := range recs {
				all = append(all, enc{encode(r.k, i), r.owner})
			}
			sort.Slice(all, func(i, j int) bool { return bytes.Compare(all[i].k, all[j].k) < 0 })
			first, last := map[recordOwner]int{}, map[recordOwner]int{}
			count := map[recordOwner]int{}
			for i, e := range all {
				if _, ok := first[e.owner]; !ok {
					first[e.owner] = i
				}
				last[e.owner] = i
				count[e.owner]++
			}
			for o, n := range count {
				if o.db < 0 {
					continue
				}
				if last[o]-first[o]+1 != n {
					t.Fatalf("round %d, %s: the records of %q (db %d) are not contiguous: %d records span %d positions",
						round, what, o.key, o.db, n, last[o]-first[o]+1)
				}
			}
		}
		check("logical keys", func(k []byte, _ int) []byte { return k })
		check("MVCC write records", func(k []byte, i int) []byte { return keys.WriteKey(k, uint64(i*7919%1000)) })
		check("MVCC data records", func(k []byte, i int) []byte { return keys.DataKey(k, uint64(i)) })
		check("MVCC locks", func(k []byte, _ int) []byte { return keys.LockKey(k) })
	}
}

// TestPropertyVersionBumpHidesOldMembers: after DEL (or an overwrite) and
// re-creation, whatever members the old value had, none is visible in the
// new one, whether the collector ran or not, and whether the re-creation
// happened in a later transaction or in the same one (which reuses the
// start timestamp as version, so its old members must be gone at once).
func TestPropertyVersionBumpHidesOldMembers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	types := []keyspace.Type{keyspace.TypeHash, keyspace.TypeSet, keyspace.TypeList, keyspace.TypeZSet}
	for round := 0; round < 300; round++ {
		h := newHarness(t)
		key := []byte("k" + strconv.Itoa(rng.IntN(3)))
		// Member records are written with the opaque suffixes the layouts
		// produce; generic code must not care which type they came from.
		fill := func(txn keyspace.Txn, d *keyspace.DB, typ keyspace.Type, n int, value string) (keyspace.Meta, map[string]bool) {
			m := d.NewCollection(typ)
			suffixes := map[string]bool{}
			for len(suffixes) < n {
				s := randBytes(rng, 6)
				if len(s) == 0 {
					continue
				}
				suffixes[string(s)] = true
				mustSet(t, txn, d.MemberKey(key, &m, s), []byte(value))
			}
			m.Size = uint64(n)
			return m, suffixes
		}
		typ := types[rng.IntN(len(types))]
		txn := h.store.Txn()
		d := keyspace.New(txn, 0)
		m, _ := fill(txn, d, typ, 1+rng.IntN(8), "old")
		if err := d.Put(key, &m); err != nil {
			t.Fatal(err)
		}
		sameTxn := rng.IntN(2) == 0
		if !sameTxn {
			txn = h.store.Txn()
			d = keyspace.New(txn, 0)
		}
		op := rng.IntN(3)
		if sameTxn {
			// Within one transaction a new collection has the old one's
			// version (the start timestamp): the old value must be deleted
			// first, which is the protocol every command follows.
			op = rng.IntN(2)
		}
		switch op {
		case 0:
			if _, err := d.Delete(key); err != nil {
				t.Fatal(err)
			}
		case 1:
			if err := d.SetString(key, []byte("s"), 0); err != nil {
				t.Fatal(err)
			}
		case 2: // overwritten directly by the new collection's Put below
		}
		typ2 := types[rng.IntN(len(types))]
		m2, fresh := fill(txn, d, typ2, rng.IntN(5)+1, "new")
		if err := d.Put(key, &m2); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(2) == 0 {
			collectAll(t, h)
		}
		got := map[string]bool{}
		d = keyspace.New(h.store.Txn(), 0)
		cur, ok, err := d.Lookup(key)
		if err != nil || !ok {
			t.Fatalf("round %d: lookup %v %v", round, ok, err)
		}
		err = d.ScanMembers(key, &cur, nil, nil, false, func(s, v []byte) error {
			if string(v) != "new" || !fresh[string(s)] {
				return fmt.Errorf("member %x=%q is not one of the new value's", s, v)
			}
			got[string(s)] = true
			return nil
		})
		if err != nil {
			t.Fatalf("round %d (same txn %v): %v", round, sameTxn, err)
		}
		if len(got) != len(fresh) {
			t.Fatalf("round %d: %d members visible, want %d", round, len(got), len(fresh))
		}
	}
}

// liveAndOrphanRecords classifies every member record in the store: live
// when its (db, key, version) is the version of the key's metadata record
// (expired or not: an expired key still owns its members until deleted),
// an orphan otherwise.
func liveAndOrphanRecords(t testing.TB, h *harness) (live, orphans map[string]bool) {
	t.Helper()
	live, orphans = map[string]bool{}, map[string]bool{}
	txn := h.store.Txn()
	type metaID struct {
		db  int
		key string
	}
	versions := map[metaID]uint64{}
	var members [][]byte
	err := txn.Scan(nil, nil, false, func(k, v []byte) error {
		db, key, suffix, ok := keys.DecodeMetaKey(k)
		if !ok {
			return nil
		}
		if len(suffix) == 0 {
			m, err := keyspace.DecodeMeta(v)
			if err != nil {
				return err
			}
			if m.Type.IsCollection() {
				versions[metaID{db, string(key)}] = m.Version
			}
			return nil
		}
		members = append(members, bytes.Clone(k))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range members {
		db, key, suffix, _ := keys.DecodeMetaKey(k)
		if len(suffix) < 8 {
			t.Fatalf("member record %x has no version", k)
		}
		v, ok := versions[metaID{db, string(key)}]
		if ok && v == binary.BigEndian.Uint64(suffix) {
			live[string(k)] = true
		} else {
			orphans[string(k)] = true
		}
	}
	return live, orphans
}

// TestPropertyCollectorRemovesExactlyTheOrphans runs random generic
// commands over collections of every type (DEL, UNLINK, overwrite by SET,
// RENAME, COPY, MOVE, SWAPDB, FLUSHDB, EXPIRE in the past, SORT ... STORE)
// and then the collector: it must delete every member record of every
// orphaned version and nothing else, and leave the queue empty.
func TestPropertyCollectorRemovesExactlyTheOrphans(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 25; round++ {
		h := newHarness(t)
		names := []string{"a", "b", "c", "{a}x"}
		key := func() string { return names[rng.IntN(len(names))] }
		db := 0
		for step := 0; step < 60; step++ {
			switch rng.IntN(14) {
			case 0:
				putList(t, h, db, key(), "3", "1", "2")
			case 1:
				putSet(t, h, db, key(), rng.IntN(2) == 0, "1", "x", "7")
			case 2:
				putZSet(t, h, db, key(), rng.IntN(2) == 0, "m", "1", "n", "2")
			case 3:
				putHashKV(t, h, db, key(), false, "f", "v", "g", "w")
			case 4:
				h.do("DEL", key(), key())
			case 5:
				h.do("UNLINK", key())
			case 6:
				h.do("SET", key(), "s")
			case 7:
				h.do("RENAME", key(), key())
			case 8:
				h.do("COPY", key(), key(), "DB", strconv.Itoa(rng.IntN(2)), "REPLACE")
			case 9:
				h.do("MOVE", key(), strconv.Itoa(1-db))
			case 10:
				h.do("SWAPDB", "0", "1")
			case 11:
				if rng.IntN(4) == 0 {
					h.do("FLUSHDB")
				} else {
					h.do("PEXPIRE", key(), "-5")
				}
			case 12:
				h.do("SORT", key(), "ALPHA", "STORE", key())
			case 13:
				db = 1 - db
				h.expect("+OK\r\n", "SELECT", strconv.Itoa(db))
			}
		}
		live, orphans := liveAndOrphanRecords(t, h)
		collectAll(t, h)
		live2, orphans2 := liveAndOrphanRecords(t, h)
		if len(orphans2) != 0 {
			t.Fatalf("round %d: %d orphaned member records survive the collector (of %d)", round, len(orphans2), len(orphans))
		}
		if !mapsEqual(live, live2) {
			t.Fatalf("round %d: the collector changed the live records: %d before, %d after", round, len(live), len(live2))
		}
		if slots := queueSlots(t, h); len(slots) != 0 {
			t.Fatalf("round %d: queue not empty in slots %v", round, slots)
		}
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
