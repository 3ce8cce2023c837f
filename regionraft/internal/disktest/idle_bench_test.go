package disktest

import (
	"context"
	"fmt"
	"io"
	"log"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.etcd.io/raft/v3"

	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/regionraft"
)

// BenchmarkIdleRegions opens one store over Pebble (in-memory filesystem)
// with 10,000 single-voter regions at the default TickInterval, waits until
// they are elected and idle, then measures the process CPU (getrusage:
// user+system) over idle 2-second windows and reports it as cpu-%/core
// (DESIGN goal: under 5 with hibernation). "awake" sets
// DisableHibernation: every peer ticks, as before hibernation existed.
//
//	go test ./regionraft/internal/disktest -run X -bench IdleRegions -benchtime 3x
func BenchmarkIdleRegions(b *testing.B) {
	for _, disable := range []bool{false, true} {
		name := "hibernate"
		if disable {
			name = "awake"
		}
		b.Run(name, func(b *testing.B) { benchIdle(b, 10000, disable) })
	}
}

func benchIdle(b *testing.B, regions uint64, disable bool) {
	eng, err := pebbleengine.Open(pebbleengine.Options{Dir: "idle", FS: vfs.NewMem(), CacheSize: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	s, err := regionraft.NewStore(regionraft.Config{
		StoreID: 1, Engine: eng, Applier: &indexApplier{}, DisableHibernation: disable,
		Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := uint64(1); i <= regions; i++ {
		r := regionraft.Region{ID: i, StartKey: fmt.Appendf(nil, "r%08d", i), EndKey: fmt.Appendf(nil, "r%08d", i+1),
			Epoch: regionraft.Epoch{ConfVer: 1, Version: 1}, Peers: []regionraft.Peer{{ID: i*10 + 1, StoreID: 1}}}
		if err := s.BootstrapRegion(r); err != nil {
			b.Fatal(err)
		}
	}
	s.Start()
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := uint64(1); i <= regions; i++ {
		if err := s.WaitLeader(ctx, i); err != nil {
			b.Fatal(err)
		}
	}
	m := s.Metrics()
	deadline := time.Now().Add(time.Minute)
	for metric(b, m.AppliedEntries) < float64(regions) || (!disable && metric(b, m.Hibernated) < float64(regions)) {
		if time.Now().After(deadline) {
			b.Fatalf("not idle: applied %v, hibernated %v", metric(b, m.AppliedEntries), metric(b, m.Hibernated))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // let the last round finish before measuring
	const window = 2 * time.Second
	ticks0 := metric(b, m.PeerTicks)
	b.ResetTimer()
	var used, wall time.Duration
	for range b.N {
		c0, t0 := cpuTime(b), time.Now()
		time.Sleep(window) // the idle window being measured
		used += cpuTime(b) - c0
		wall += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(100*used.Seconds()/wall.Seconds(), "cpu-%/core")
	b.ReportMetric((metric(b, m.PeerTicks)-ticks0)/wall.Seconds(), "peer-ticks/s")
	if err := s.Propose(ctx, 1, []byte("wake")); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// metric reads a counter's or a gauge's value.
func metric(tb testing.TB, c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		tb.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
