package pd

import (
	"context"
	"testing"
	"time"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// TestGCSafePoint walks the safe point through its rules: bounded by
// GCLifeTime behind the TSO, held by a live store that has not reported
// and by the oldest transaction a store reports, released when the store
// is down, never backwards, and persisted across a restart.
func TestGCSafePoint(t *testing.T) {
	clock := newFakeClock(t0)
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Now: clock.now, GCLifeTime: 10 * time.Second,
		MaxStoreDownTime: time.Minute, ScheduleInterval: -1}
	s := startTestServerCfg(t, cfg)
	ctx := context.Background()
	c := pdclient.New(s)
	defer c.Close()
	sp := func() uint64 {
		t.Helper()
		v, err := c.GCSafePoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	at := func(ms int64) uint64 { return pdclient.ComposeTS(ms, 0) }
	hb := func(id, minStartTS uint64) {
		t.Helper()
		if err := s.StoreHeartbeat(ctx, pdclient.StoreStats{StoreID: id, MinStartTS: minStartTS}); err != nil {
			t.Fatal(err)
		}
	}

	// No store: GCLifeTime behind the TSO.
	if got, want := sp(), at(t0-10_000); got != want {
		t.Fatalf("safe point %d (%d ms), want %d ms", got, pdclient.PhysicalMs(got), t0-10_000)
	}
	clock.set(t0 + 5_000)
	if got, want := sp(), at(t0-5_000); got != want {
		t.Fatalf("safe point at %d ms, want %d ms", pdclient.PhysicalMs(got), t0-5_000)
	}

	// A live store that has not reported holds it where it is.
	if err := s.PutStore(ctx, pdclient.Store{ID: 1, PeerAddr: "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	clock.set(t0 + 20_000)
	hb(1, 0) // a heartbeat without a report (an older node)
	if got := sp(); got != at(t0-5_000) {
		t.Fatalf("unreported store: safe point moved to %d ms", pdclient.PhysicalMs(got))
	}

	// A reported transaction holds it just below its start ts.
	txnTS := pdclient.ComposeTS(t0+8_000, 7)
	hb(1, txnTS)
	if got := sp(); got != txnTS-1 {
		t.Fatalf("safe point %d, want %d (below the reported start ts)", got, txnTS-1)
	}
	clock.set(t0 + 50_000)
	hb(1, txnTS)
	if got := sp(); got != txnTS-1 {
		t.Fatalf("safe point %d, want %d while the transaction runs", got, txnTS-1)
	}

	// The transaction ended: up to GCLifeTime behind the TSO.
	hb(1, pdclient.ComposeTS(t0+50_000, 1))
	if got := sp(); got != at(t0+40_000) {
		t.Fatalf("safe point at %d ms, want %d ms", pdclient.PhysicalMs(got), t0+40_000)
	}

	// Never backwards: an older report (a store that was partitioned with
	// a stale view) or a clock gone back does not lower it.
	hb(1, txnTS)
	clock.set(t0)
	if got := sp(); got != at(t0+40_000) {
		t.Fatalf("safe point went back to %d ms", pdclient.PhysicalMs(got))
	}

	// A store that stops heartbeating holds it at its last report until
	// it is down, then no longer.
	clock.set(t0 + 60_000)
	hb(1, pdclient.ComposeTS(t0+45_000, 0))
	clock.set(t0 + 100_000)
	if got := sp(); got != pdclient.ComposeTS(t0+45_000, 0)-1 {
		t.Fatalf("silent store: safe point at %d ms, want just below %d", pdclient.PhysicalMs(got), t0+45_000)
	}
	clock.set(t0 + 121_000) // > MaxStoreDownTime since the last heartbeat
	if got := sp(); got != at(t0+111_000) {
		t.Fatalf("down store: safe point at %d ms, want %d ms", pdclient.PhysicalMs(got), t0+111_000)
	}
	last := sp()
	s.Close()

	// Restarted (a new leader: no reports): the persisted value, held by
	// the live store until it reports; then on.
	clock.set(t0 + 130_000)
	s2 := startTestServerCfg(t, cfg)
	s = s2
	c2 := pdclient.New(s2)
	defer c2.Close()
	c = c2
	if got := sp(); got != last {
		t.Fatalf("after restart: safe point %d, want the persisted %d", got, last)
	}
	hb(1, pdclient.ComposeTS(t0+200_000, 0))
	if got := sp(); got <= last || got > at(t0+120_000) {
		t.Fatalf("after a report: safe point at %d ms, want in (%d, %d] ms", pdclient.PhysicalMs(got), pdclient.PhysicalMs(last), t0+120_000)
	}

	// Over gRPC, the same answer.
	rc, err := pdclient.Dial(ctx, []string{s2.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := rc.GCSafePoint(ctx); err != nil || got != sp() {
		t.Fatalf("remote GCSafePoint = %d, %v; want %d", got, err, sp())
	}
}

func TestGCLifeTimeValidate(t *testing.T) {
	for _, tc := range []struct {
		life time.Duration
		ok   bool
	}{{0, true}, {time.Millisecond, true}, {10 * time.Minute, true}, {time.Microsecond, false}, {-time.Second, false}} {
		cfg := Config{DataDir: "/x", GCLifeTime: tc.life}
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("GCLifeTime %v: err = %v", tc.life, err)
		}
	}
	if d := (Config{}).withDefaults().GCLifeTime; d != DefaultGCLifeTime {
		t.Errorf("default GCLifeTime %v", d)
	}
}
