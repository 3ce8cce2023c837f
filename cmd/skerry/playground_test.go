package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster/playground"
)

// playgroundBase finds a port P such that every port the playground
// derives from it (P..P+2 and the offsets) is free right now.
func playgroundBase(t *testing.T, nodes int) int {
	t.Helper()
	for range 50 {
		p, _ := strconv.Atoi(freePort(t))
		if p+playground.StatusOffset+nodes > 65535 {
			continue
		}
		ok := true
		for _, off := range []int{0, playground.PeerOffset, playground.PDClientOffset, playground.PDPeerOffset, playground.StatusOffset} {
			for i := range nodes {
				ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+off+i))
				if err != nil {
					ok = false
					break
				}
				ln.Close()
			}
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free port range for a playground")
	return 0
}

// TestPlaygroundSurvivesKillOfANode runs `skerry playground --nodes 3`
// (three real server processes), kills one node with SIGKILL while a
// client writes through another, and checks that writes go on and that
// every acknowledged write is readable from the surviving nodes.
func TestPlaygroundSurvivesKillOfANode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildSkerry(t)
	dir := t.TempDir()
	base := startPlayground(t, bin, 3, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	clients := make([]*redis.Client, 3)
	for i := range clients {
		clients[i] = redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(base+i), MaxRetries: -1})
		defer clients[i].Close()
	}
	acked := map[string]int{}
	set := func(cl *redis.Client, i int) error {
		key := fmt.Sprintf("key:%d", i)
		err := cl.Set(ctx, key, i, 0).Err()
		if err == nil {
			acked[key] = i
		}
		return err
	}
	for i := range 20 {
		if err := set(clients[i%3], i); err != nil {
			t.Fatalf("write %d through node %d: %v", i, i%3+1, err)
		}
	}
	// SIGKILL node 1's server: no graceful anything.
	victim := findServer(t, filepath.Join(dir, "node-1"))
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var firstOK time.Duration
	for i := 20; i < 120; i++ {
		if err := set(clients[1+i%2], i); err == nil && firstOK == 0 {
			firstOK = time.Since(killed)
		}
	}
	t.Logf("first acknowledged write %v after the kill", firstOK)
	if firstOK == 0 {
		t.Fatal("no write acknowledged after node 1 was killed")
	}
	for key, v := range acked {
		for _, cl := range clients[1:] {
			got, err := cl.Get(ctx, key).Int()
			if err != nil || got != v {
				t.Fatalf("acknowledged %s=%d reads %d %v", key, v, got, err)
			}
		}
	}
}

// findServer returns the pid of the `skerry server` whose data dir is dir.
func findServer(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--data-dir" && args[i+1] == dir && len(args) > 1 && args[1] == "server" {
				return pid
			}
		}
	}
	t.Fatalf("no server process with --data-dir %s", dir)
	return 0
}
