package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/skerrydb/skerry/internal/testport"
)

// buildSkerry compiles the real binary once per test run.
func buildSkerry(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "skerry")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	p, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

type proc struct {
	cmd  *exec.Cmd
	addr string
}

func startServer(t *testing.T, bin, dir string, ports [3]string) *proc {
	t.Helper()
	addr := "127.0.0.1:" + ports[0]
	cmd := exec.Command(bin, "server", "--addr", addr, "--data-dir", dir, "--status-addr", "off",
		"--pd-client-addr", "127.0.0.1:"+ports[1], "--pd-peer-addr", "127.0.0.1:"+ports[2], "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: addr}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer PING: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling a process we cannot step
	}
}

// TestCrashLosesNothingAcknowledged kills a real server with SIGKILL in the
// middle of a write load, restarts it on the same data directory, and
// checks that every acknowledged write is there and that no MSET is half
// applied.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildSkerry(t)
	dir := t.TempDir()
	ports := [3]string{freePort(t), freePort(t), freePort(t)}
	p := startServer(t, bin, dir, ports)

	const writers = 16
	const killAfter = 3000 // acknowledged writes before the kill
	var acked sync.Map     // key -> value acknowledged
	var ackCount atomic.Int64
	killed := make(chan struct{})
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1, PoolSize: 1})
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				case <-ctx.Done():
					return
				default:
				}
				k, v := fmt.Sprintf("w%d:%d", w, i), fmt.Sprintf("v%d", i)
				// Pairs written atomically: after recovery both or neither.
				err := c.MSet(ctx, k+":a", v, k+":b", v).Err()
				if err != nil {
					return // the server died under us: this write is unacknowledged
				}
				acked.Store(k, v)
				ackCount.Add(1)
			}
		}(w)
	}
	for ackCount.Load() < killAfter && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond) // waiting on another process's progress
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(killed)
	p.cmd.Wait()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("load did not reach %d acknowledged writes in time (got %d)", killAfter, ackCount.Load())
	}

	p = startServer(t, bin, dir, ports)
	c := redis.NewClient(&redis.Options{Addr: p.addr})
	defer c.Close()
	n := 0
	var missing []string
	acked.Range(func(k, v any) bool {
		n++
		got, err := c.MGet(ctx, k.(string)+":a", k.(string)+":b").Result()
		if err != nil {
			t.Fatalf("MGET after restart: %v", err)
		}
		if got[0] != v || got[1] != v {
			missing = append(missing, fmt.Sprintf("%s=%v", k, got))
		}
		return true
	})
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged writes lost after SIGKILL, e.g. %v", len(missing), n, missing[:min(5, len(missing))])
	}
	// No half-applied MSET anywhere, acknowledged or not.
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, k := range keys {
		seen[k[:len(k)-2]]++
	}
	for base, cnt := range seen {
		if cnt != 2 {
			t.Fatalf("MSET %s is half applied after the crash (%d of 2 keys)", base, cnt)
		}
	}
	t.Logf("%d acknowledged MSETs verified after SIGKILL and restart; %d pairs present", n, len(seen))
}
