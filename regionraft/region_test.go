package regionraft

import (
	"bytes"
	"errors"
	"testing"
)

func TestRegionCodec(t *testing.T) {
	for _, r := range []Region{
		{ID: 1, Peers: []Peer{{ID: 1, StoreID: 1}}},
		{ID: 1 << 60, StartKey: []byte{0, 1, 2}, EndKey: []byte("zz"), Epoch: Epoch{7, 9},
			Peers: []Peer{{ID: 11, StoreID: 1}, {ID: 12, StoreID: 2}, {ID: 1 << 63, StoreID: 3, Learner: true}}},
	} {
		got, err := DecodeRegion(EncodeRegion(&r))
		if err != nil || !got.equal(&r) {
			t.Fatalf("round trip of %+v = %+v, %v", r, got, err)
		}
	}
	// Frozen v1 bytes: id 1, start "a", end "", epoch {2,3}, one peer {4,5}.
	golden := []byte{1, 1, 1, 'a', 0, 2, 3, 1, 4, 5}
	r := Region{ID: 1, StartKey: []byte("a"), Epoch: Epoch{2, 3}, Peers: []Peer{{ID: 4, StoreID: 5}}}
	if enc := EncodeRegion(&r); !bytes.Equal(enc, golden) {
		t.Fatalf("encoding changed: %v, frozen %v", enc, golden)
	}
	// Frozen v2 bytes: the same with a learner peer (flags byte 1).
	golden2 := []byte{2, 1, 1, 'a', 0, 2, 3, 1, 4, 5, 1}
	r2 := Region{ID: 1, StartKey: []byte("a"), Epoch: Epoch{2, 3}, Peers: []Peer{{ID: 4, StoreID: 5, Learner: true}}}
	if enc := EncodeRegion(&r2); !bytes.Equal(enc, golden2) {
		t.Fatalf("v2 encoding changed: %v, frozen %v", enc, golden2)
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 1, 5, 'a'}, append(golden, 0), {1, 1, 0, 0, 0, 0, 200},
		{2, 1, 1, 'a', 0, 2, 3, 1, 4, 5, 0}, {2, 1, 1, 'a', 0, 2, 3, 1, 4, 5, 2}, {3, 1, 1, 'a', 0, 2, 3, 1, 4, 5}} {
		if _, err := DecodeRegion(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeRegion(%v) = %v, want ErrCorrupt", bad, err)
		}
	}
}

func FuzzDecodeRegion(f *testing.F) {
	f.Add(EncodeRegion(&Region{ID: 3, StartKey: []byte("a"), EndKey: []byte("b"), Peers: []Peer{{ID: 1, StoreID: 2}}}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRegion(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeRegion(&r), b) {
			t.Fatalf("decode/encode not canonical for %v", b)
		}
	})
}

func TestRegionValidate(t *testing.T) {
	bad := []Region{
		{ID: 0, Peers: []Peer{{ID: 1, StoreID: 1}}},
		{ID: 1},
		{ID: 1, StartKey: []byte("b"), EndKey: []byte("a"), Peers: []Peer{{ID: 1, StoreID: 1}}},
		{ID: 1, Peers: []Peer{{ID: 1, StoreID: 1}, {ID: 1, StoreID: 2}}},
		{ID: 1, Peers: []Peer{{ID: 1, StoreID: 1}, {ID: 2, StoreID: 1}}},
	}
	for _, r := range bad {
		if err := r.validate(); !errors.Is(err, ErrInvalidRegion) {
			t.Fatalf("validate(%+v) = %v", r, err)
		}
	}
	r := Region{ID: 1, StartKey: []byte("b"), EndKey: []byte("d"), Peers: []Peer{{ID: 1, StoreID: 1}}}
	if !r.ContainsKey([]byte("b")) || !r.ContainsKey([]byte("c")) || r.ContainsKey([]byte("d")) || r.ContainsKey([]byte("a")) {
		t.Fatal("ContainsKey")
	}
	r.EndKey = nil
	if !r.ContainsKey([]byte("zzzz")) {
		t.Fatal("ContainsKey with +inf end")
	}
}

func TestConfigValidate(t *testing.T) {
	eng := newTestEngine()
	c := Config{StoreID: 1, Engine: eng, Applier: newRecApplier(eng)}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.TickInterval != DefaultTickInterval || c.ElectionTick != DefaultElectionTick || c.HeartbeatTick != DefaultHeartbeatTick ||
		c.RaftLogGCThreshold != DefaultRaftLogGCThreshold || c.Transport == nil || c.Logger == nil {
		t.Fatalf("defaults not filled: %+v", c)
	}
	for _, mut := range []func(*Config){
		func(c *Config) { c.StoreID = 0 },
		func(c *Config) { c.Engine = nil },
		func(c *Config) { c.Applier = nil },
		func(c *Config) { c.ElectionTick, c.HeartbeatTick = 2, 2 },
		func(c *Config) { c.TickInterval = -1 },
	} {
		c := Config{StoreID: 1, Engine: eng, Applier: newRecApplier(eng)}
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Validate = %v", err)
		}
	}
}
