package rpc

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package if a test leaves a Client, Server or gRPC
// goroutine running.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitNoGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines running code of this
// package or of gRPC, other than the caller's.
func leakedGoroutines() []string {
	buf := make([]byte, 4<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	var leaked []string
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "rpc.TestMain") || strings.Contains(g, "rpc.waitNoGoroutines") ||
			strings.Contains(g, "rpc.leakedGoroutines") {
			continue
		}
		if strings.Contains(g, "skerry/cluster/rpc.") || strings.Contains(g, "google.golang.org/grpc") {
			leaked = append(leaked, g)
		}
	}
	return leaked
}

func waitNoGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		leaked := leakedGoroutines()
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
