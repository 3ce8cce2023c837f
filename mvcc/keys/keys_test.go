package keys

import (
	"bytes"
	"math/rand"
	"sort"
	"testing"
)

// Expected slots were read from a real Redis 7.0 with CLUSTER KEYSLOT.
func TestSlotMatchesRedis(t *testing.T) {
	for key, want := range map[string]uint16{
		"foo": 12182, "bar": 5061, "hello": 866,
		"{user1000}.following": 3443, "{user1000}.followers": 3443,
		"a{}b": 13694, "{}x": 10595, "{a": 10276, "abc{x}{y}": 16287, "": 0,
	} {
		if got := Slot([]byte(key)); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestEscapedRoundTripAndOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var uks [][]byte
	for i := 0; i < 500; i++ {
		k := make([]byte, rng.Intn(6))
		for j := range k {
			k[j] = []byte{0x00, 0x01, 0xFF, 'a', 'b'}[rng.Intn(5)]
		}
		uks = append(uks, k)
	}
	for _, uk := range uks {
		got, err := DecodeLockKey(LockKey(uk))
		if err != nil || !bytes.Equal(got, uk) {
			t.Fatalf("lock round trip %x: %x %v", uk, got, err)
		}
		for _, ts := range []uint64{0, 1, 1 << 40, ^uint64(0)} {
			gk, gts, err := DecodeWriteKey(WriteKey(uk, ts))
			if err != nil || !bytes.Equal(gk, uk) || gts != ts {
				t.Fatalf("write round trip %x@%d: %x@%d %v", uk, ts, gk, gts, err)
			}
		}
	}
	// Physical order of (userKey, version) must be user-key order first,
	// then newest version first: versions of a key never interleave with
	// another key, even when one key is a prefix of the other.
	type rec struct {
		uk []byte
		ts uint64
	}
	var recs []rec
	for _, uk := range uks {
		for _, ts := range []uint64{1, 7, 1 << 50} {
			recs = append(recs, rec{uk, ts})
		}
	}
	sort.Slice(recs, func(i, j int) bool {
		return bytes.Compare(WriteKey(recs[i].uk, recs[i].ts), WriteKey(recs[j].uk, recs[j].ts)) < 0
	})
	for i := 1; i < len(recs); i++ {
		a, b := recs[i-1], recs[i]
		c := bytes.Compare(a.uk, b.uk)
		if c > 0 || (c == 0 && a.ts < b.ts) {
			t.Fatalf("order broken: %x@%d before %x@%d", a.uk, a.ts, b.uk, b.ts)
		}
	}
}

func TestMetaAndMemberKeysContiguous(t *testing.T) {
	// All records of one Redis key lie between its metadata key and the
	// next Redis key's metadata key in the same slot and db.
	k1, k2 := []byte("{t}a"), []byte("{t}ab")
	m1 := MetaKey(0, k1)
	mem := MemberKey(0, k1, 5, []byte("\xff\xff"))
	m2 := MetaKey(0, k2)
	if !(bytes.Compare(m1, mem) < 0 && bytes.Compare(mem, m2) < 0) {
		t.Fatalf("member of %q not between metadata keys", k1)
	}
	db, key, suffix, ok := DecodeMetaKey(mem)
	if !ok || db != 0 || !bytes.Equal(key, k1) || len(suffix) != 10 {
		t.Fatalf("DecodeMetaKey(member) = %d %q %x %v", db, key, suffix, ok)
	}
	// The expiry index sorts after every database of its slot.
	ei := ExpiryIndexKey(15, k1, 1000)
	if bytes.Compare(MetaKey(15, k1), ei) >= 0 {
		t.Fatal("expiry index must sort after db records")
	}
	edb, ek, at, ok := DecodeExpiryIndexKey(ei)
	if !ok || edb != 15 || !bytes.Equal(ek, k1) || at != 1000 {
		t.Fatalf("DecodeExpiryIndexKey = %d %q %d %v", edb, ek, at, ok)
	}
	lo, hi := ExpiryIndexRange(Slot(k1), 1001)
	if bytes.Compare(lo, ei) > 0 || bytes.Compare(ei, hi) >= 0 {
		t.Fatal("entry due at 1000 must be inside range until 1001")
	}
	if _, _, _, ok := DecodeMetaKey(ei); ok {
		t.Fatal("expiry index key decoded as a metadata key")
	}
}

func TestRaftLogKey(t *testing.T) {
	k := RaftLogKey(7, 42)
	if idx, err := RaftLogIndex(k); err != nil || idx != 42 {
		t.Fatalf("RaftLogIndex = %d, %v", idx, err)
	}
	lo, hi := RaftLogRange(7)
	if bytes.Compare(lo, k) > 0 || bytes.Compare(k, hi) >= 0 {
		t.Fatal("log key outside its range")
	}
	if bytes.HasPrefix(RaftHardStateKey(7), lo[:11]) {
		t.Fatal("hard state key inside the log range")
	}
}

func FuzzDecodeKeys(f *testing.F) {
	f.Add(WriteKey([]byte("abc"), 5))
	f.Add(LockKey([]byte{0, 1, 0xff}))
	f.Add(MetaKey(3, []byte("k")))
	f.Add(ExpiryIndexKey(1, []byte("x"), 9))
	f.Fuzz(func(t *testing.T, b []byte) {
		if uk, ts, err := DecodeWriteKey(b); err == nil {
			if !bytes.Equal(WriteKey(uk, ts), b) {
				t.Fatalf("write key does not round trip: %x", b)
			}
		}
		if uk, err := DecodeLockKey(b); err == nil {
			if !bytes.Equal(LockKey(uk), b) {
				t.Fatalf("lock key does not round trip: %x", b)
			}
		}
		if db, key, suffix, ok := DecodeMetaKey(b); ok {
			if !bytes.Equal(append(MetaKey(db, key)[2:], suffix...), b[2:]) {
				t.Fatalf("meta key does not round trip: %x", b)
			}
		}
		DecodeExpiryIndexKey(b)
		RaftLogIndex(b)
	})
}
