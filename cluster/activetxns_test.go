package cluster

import (
	"sync"
	"testing"
)

// The tracker's bound is below every running transaction's start ts and
// follows the newest timestamp once they end.
func TestTxnTrackerBounds(t *testing.T) {
	var tr txnTracker
	if got := tr.minStartTS(); got != 0 {
		t.Fatalf("empty tracker: %d, want 0", got)
	}
	a := tr.begin() // before any timestamp: bound 1
	tr.observe(100)
	if got := tr.minStartTS(); got != 1 {
		t.Fatalf("with a transaction registered before any timestamp: %d, want 1", got)
	}
	tr.end(a)
	if got := tr.minStartTS(); got != 100 {
		t.Fatalf("idle: %d, want the newest timestamp 100", got)
	}
	b := tr.begin() // bound 100: its timestamp will be above
	c := tr.begin()
	tr.observe(150)
	tr.observe(120) // out of order: last stays 150
	d := tr.begin() // bound 150
	if got := tr.minStartTS(); got != 100 {
		t.Fatalf("running since 100: %d", got)
	}
	tr.end(b)
	if got := tr.minStartTS(); got != 100 {
		t.Fatalf("one of two at 100 still running: %d", got)
	}
	tr.end(c)
	if got := tr.minStartTS(); got != 150 {
		t.Fatalf("running since 150: %d", got)
	}
	tr.end(d)
	tr.observe(200)
	if got := tr.minStartTS(); got != 200 {
		t.Fatalf("idle: %d, want 200", got)
	}
}

func TestTxnTrackerConcurrent(t *testing.T) {
	var tr txnTracker
	tr.observe(10)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				tok := tr.begin()
				tr.observe(uint64(10 + i))
				if m := tr.minStartTS(); m > tok.bound {
					t.Errorf("bound %d above a running transaction's %d", m, tok.bound)
					return
				}
				tr.end(tok)
			}
		}()
	}
	wg.Wait()
	if got := tr.minStartTS(); got != 1009 {
		t.Fatalf("idle after the run: %d, want 1009", got)
	}
}
