package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster/clustertest"
)

func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling state owned by the node
	}
}

func TestRestartKeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	cfg := clustertest.Config(t, dir)
	ctx := context.Background()
	n := clustertest.Start(t, cfg)
	c := redis.NewClient(&redis.Options{Addr: n.Addr()})
	for i := 0; i < 100; i++ {
		if err := c.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, "ttl", "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = clustertest.Start(t, cfg)
	c = client(t, n.Addr())
	for i := 0; i < 100; i++ {
		if v, err := c.Get(ctx, fmt.Sprint("k", i)).Int(); err != nil || v != i {
			t.Fatalf("k%d after restart = %d, %v", i, v, err)
		}
	}
	if d, err := c.TTL(ctx, "ttl").Result(); err != nil || d < 59*time.Minute {
		t.Fatalf("TTL after restart = %v, %v", d, err)
	}
}

func TestActiveExpiryDeletesThroughRaft(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	c := client(t, n.Addr())
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if err := c.Set(ctx, fmt.Sprint("e", i), "v", 50*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, "keep", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Overwritten without a TTL: SET removes its old expiry index entry,
	// so the expirer must neither delete it nor find a stale entry.
	if err := c.Set(ctx, "over", "v", 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "over", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the active expirer to delete 20 keys", func() bool {
		return n.ExpiredKeys() >= 20
	})
	if n.ExpiredKeys() != 20 || n.StaleExpiryEntries() != 0 {
		t.Fatalf("expired %d keys and dropped %d stale entries, want 20 and 0", n.ExpiredKeys(), n.StaleExpiryEntries())
	}
	if v, err := c.Get(ctx, "keep").Result(); err != nil || v != "v" {
		t.Fatalf("a key without TTL was touched: %q %v", v, err)
	}
	if v, err := c.Get(ctx, "over").Result(); err != nil || v != "v2" {
		t.Fatalf("a stale expiry index entry deleted a live key: %q %v", v, err)
	}
}

func TestConcurrentIncrementsAreExact(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx := context.Background()
	const clients, each = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: n.Addr(), PoolSize: 2})
			defer c.Close()
			for j := 0; j < each; j++ {
				if err := c.Incr(ctx, "ctr").Err(); err != nil {
					errs <- err
					return
				}
				if err := c.Append(ctx, "log", "x").Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := client(t, n.Addr())
	if v, err := c.Get(ctx, "ctr").Int(); err != nil || v != clients*each {
		t.Fatalf("ctr = %d, %v; want %d", v, err, clients*each)
	}
	if v, err := c.StrLen(ctx, "log").Result(); err != nil || v != clients*each {
		t.Fatalf("strlen = %d, %v; want %d", v, err, clients*each)
	}
}

func TestRequirePassAndConfigSetLimits(t *testing.T) {
	cfg := clustertest.Config(t, t.TempDir())
	cfg.RequirePass = "s3cret"
	n := clustertest.Start(t, cfg)
	ctx := context.Background()
	anon := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
	if err := anon.Set(ctx, "k", "v", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("SET without AUTH: %v", err)
	}
	anon.Close()
	authed := redis.NewClient(&redis.Options{Addr: n.Addr(), Password: "s3cret", PoolSize: 1})
	defer authed.Close()
	if err := authed.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := authed.ConfigSet(ctx, "maxclients", "2").Err(); err != nil {
		t.Fatal(err)
	}
	// authed holds one connection; one more fits, a third is refused.
	c2 := redis.NewClient(&redis.Options{Addr: n.Addr(), Password: "s3cret", PoolSize: 1})
	defer c2.Close()
	if err := c2.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the anonymous connection to be gone", func() bool {
		return strings.Count(authed.ClientList(ctx).Val(), "\n") == 2
	})
	raw, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	line, err := bufio.NewReader(raw).ReadString('\n')
	if err != nil || line != "-ERR max number of clients reached\r\n" {
		t.Fatalf("third client got %q, %v", line, err)
	}
}

// TestPipelineRunsAsOneCommitWithRedisSemantics sends a pipeline mixing
// writes, reads, a failing command and SELECT: replies must be exactly
// those of one-by-one execution.
func TestPipelineRunsAsOneCommitWithRedisSemantics(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx := context.Background()
	raw, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cmds := [][]string{
		{"SET", "a", "1"}, {"INCR", "a"}, {"SET", "s", "text"},
		{"INCR", "s"},            // fails: its (absent) writes must not apply
		{"APPEND", "s", "+more"}, // sees SET s above
		{"GET", "a"}, {"SELECT", "1"}, {"SET", "a", "db1"}, {"GET", "a"},
		{"SELECT", "0"}, {"GET", "a"}, {"GETDEL", "s"}, {"EXISTS", "s"},
	}
	var req strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&req, "*%d\r\n", len(c))
		for _, a := range c {
			fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if _, err := raw.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	want := "+OK\r\n:2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n:9\r\n$1\r\n2\r\n+OK\r\n+OK\r\n$3\r\ndb1\r\n+OK\r\n$1\r\n2\r\n$9\r\ntext+more\r\n:0\r\n"
	buf := make([]byte, len(want))
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(raw)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read replies: %v (got %q)", err, buf)
	}
	if string(buf) != want {
		t.Fatalf("pipeline replies:\n got %q\nwant %q", buf, want)
	}
	c := client(t, n.Addr())
	if v, err := c.Get(ctx, "a").Result(); err != nil || v != "2" {
		t.Fatalf("a = %q, %v", v, err)
	}
}
