package cluster_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster/clustertest"
)

func TestStatusEndpointsAndShutdownCommand(t *testing.T) {
	cfg := clustertest.Config(t, t.TempDir())
	cfg.StatusAddr = "127.0.0.1:0"
	n := clustertest.Start(t, cfg)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: n.Addr()})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		resp, err := http.Get("http://" + n.StatusAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s %s", path, resp.Status, b)
		}
		return string(b)
	}
	metrics := get("/metrics")
	for _, want := range []string{
		`skerry_commands_total{cmd="set",result="ok"} 1`,
		"skerry_raft_propose_apply_seconds_count",
		"skerry_raft_batch_commit_seconds_count",
		"skerry_raft_entries_per_batch_count",
		"skerry_pebble_disk_usage_bytes",
		`skerry_command_duration_seconds_count{cmd="set"} 1`,
		`skerry_cluster_requests_total{route="local"} 1`,
		`skerry_cluster_requests_total{route="forwarded"} 0`,
		"skerry_raft_batched_commands_total",
		"go_sched_latencies_seconds_bucket",
		// Pebble observes nanoseconds; exported in seconds.
		`skerry_pebble_wal_fsync_seconds_bucket{le="0.001"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The SET was fsynced: Pebble's fsync histogram counted it, and its
	// sum is seconds (well under one per fsync), not nanoseconds.
	var count, sum float64
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, "skerry_pebble_wal_fsync_seconds_count "); ok {
			count, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(line, "skerry_pebble_wal_fsync_seconds_sum "); ok {
			sum, _ = strconv.ParseFloat(v, 64)
		}
	}
	if count < 1 || sum <= 0 || sum/count > 1 {
		t.Errorf("WAL fsync histogram: count %v, sum %v", count, sum)
	}
	if h := get("/health"); !strings.Contains(h, `"status":"ok"`) {
		t.Errorf("/health = %q", h)
	}
	// SHUTDOWN asks the process to stop (cmd/skerry waits on this).
	c.Do(ctx, "SHUTDOWN")
	select {
	case <-n.ShutdownRequested():
	case <-time.After(10 * time.Second):
		t.Fatal("SHUTDOWN did not request a shutdown")
	}
}
