package cluster

import (
	"testing"
	"time"
)

func TestRegionOpsRate(t *testing.T) {
	r := newRegionOps()
	t0 := time.Unix(1000, 0)
	if q := r.rate(7, t0); q != 0 {
		t.Fatalf("first rate = %v, want 0", q)
	}
	for range 30 {
		r.add(7)
	}
	r.add(8)
	if q := r.rate(7, t0.Add(2*time.Second)); q != 15 {
		t.Fatalf("rate = %v, want 15 (30 commands in 2 s)", q)
	}
	if q := r.rate(7, t0.Add(3*time.Second)); q != 0 {
		t.Fatalf("rate after a quiet second = %v, want 0", q)
	}
	if q := r.rate(8, t0.Add(3*time.Second)); q != 0 {
		t.Fatalf("a region's first report = %v, want 0 (its count starts now)", q)
	}
}
