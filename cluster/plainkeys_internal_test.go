package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft"
)

// TestPlainKeysScan: a region's scan marks every key with a lock on its
// metadata or a stored version that is a collection or has an expiry
// (short values in write records, long ones in data records), and leaves
// plain strings and unknown keys clear; clear bits count only in regions
// scanned in the current leadership.
func TestPlainKeysScan(t *testing.T) {
	eng, err := pebbleengine.Open(pebbleengine.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	mk := func(k string) []byte { return keys.MetaKey(0, []byte(k)) }
	short := func(m keyspace.Meta) []byte {
		w := mvcc.Write{Kind: mvcc.WritePut, StartTS: 5, HasShort: true, ShortValue: m.Encode(nil)}
		return w.Encode()
	}
	b := eng.NewBatch()
	set := func(k, v []byte) {
		if err := b.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	set(keys.WriteKey(mk("plain"), 10), short(keyspace.Meta{Type: keyspace.TypeString, Value: []byte("v")}))
	hash := keyspace.Meta{Type: keyspace.TypeHash, Version: 5, Size: 1}
	set(keys.WriteKey(mk("hash"), 10), short(hash))
	set(keys.WriteKey(keys.MemberKey(0, []byte("member"), 5, []byte("f")), 10), short(keyspace.Meta{Type: keyspace.TypeHash}))
	// An older version that had an expiry, under a newer plain one.
	set(keys.WriteKey(mk("wasttl"), 10), short(keyspace.Meta{Type: keyspace.TypeString, ExpireAt: 99}))
	set(keys.WriteKey(mk("wasttl"), 20), short(keyspace.Meta{Type: keyspace.TypeString}))
	long := keyspace.Meta{Type: keyspace.TypeString, Value: []byte(strings.Repeat("v", 1000)), ExpireAt: 99}
	set(keys.DataKey(mk("long"), 5), long.Encode(nil))
	w := mvcc.Write{Kind: mvcc.WritePut, StartTS: 5}
	set(keys.WriteKey(mk("long"), 10), w.Encode())
	set(keys.LockKey(mk("locked")), []byte("any lock"))
	// A big collection, then a key with an expiry right after its members
	// in key order (same slot, same length): the scan skips the members
	// and must still find the next key.
	set(keys.WriteKey(mk("{t}a"), 10), short(hash))
	for i := range 1000 {
		member := keys.MemberKey(0, []byte("{t}a"), 5, fmt.Appendf(nil, "f%04d", i))
		set(keys.WriteKey(member, 10), short(keyspace.Meta{Type: keyspace.TypeString}))
		set(keys.DataKey(member, 5), []byte(strings.Repeat("v", 300)))
	}
	set(keys.WriteKey(mk("{t}b"), 10), short(keyspace.Meta{Type: keyspace.TypeString, ExpireAt: 99}))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()

	p := newPlainKeys(eng, slog.New(slog.DiscardHandler))
	p.region = func(id uint64) (regionraft.Region, bool) { return regionraft.Region{ID: id}, true }
	p.barrier = func(context.Context, uint64) error { return nil }
	ctx := context.Background()
	p.leaderChanged(1, true)
	if p.known(1, mk("fresh")) {
		t.Fatal("a key is known plain before its region was scanned")
	}
	if err := p.scanRegion(ctx, 1, p.gen[1]); err != nil {
		t.Fatal(err)
	}
	if v := p.visited.Load(); v > 50 {
		t.Errorf("the scan stepped on %d records: it walked the members", v)
	}
	want := map[string]bool{"fresh": true, "plain": true, "member": true, "hash": false, "wasttl": false, "long": false, "locked": false,
		"{t}a": false, "{t}b": false}
	for k, plain := range want {
		if got := p.known(1, mk(k)); got != plain {
			t.Errorf("known(%q) = %v, want %v", k, got, plain)
		}
	}
	if p.known(2, mk("fresh")) {
		t.Error("a key of an unscanned region is known plain")
	}
	if p.known(1, keys.MemberKey(0, []byte("fresh"), 5, []byte("f"))) {
		t.Error("a member record is known plain")
	}
	p.note([]mvcc.Mutation{{Key: mk("fresh"), Value: hash.Encode(nil)}, {Key: mk("plain"), Delete: true}})
	if p.known(1, mk("fresh")) || !p.known(1, mk("plain")) {
		t.Error("note: a new hash must mark its key, a deletion must not")
	}

	// Losing the leadership, or a change during a scan, voids the region.
	p.leaderChanged(1, false)
	if p.known(1, mk("plain")) {
		t.Fatal("a key is known plain after its region's leadership was lost")
	}
	p.leaderChanged(1, true)
	p.barrier = func(_ context.Context, r uint64) error {
		p.leaderChanged(r, false)
		p.leaderChanged(r, true)
		return nil
	}
	if err := p.scanRegion(ctx, 1, p.gen[1]); err != nil {
		t.Fatal(err)
	}
	if p.known(1, mk("plain")) {
		t.Fatal("a scan that straddled a leadership change counted")
	}
}
