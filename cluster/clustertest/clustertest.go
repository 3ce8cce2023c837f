// Package clustertest starts real in-process Skerry nodes for tests of other
// packages (redis-tests, client-library tests). Nodes use t.TempDir(),
// loopback addresses and are closed by t.Cleanup.
package clustertest

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/skerrydb/skerry/cluster"
)

// FreePort returns a currently free TCP port on 127.0.0.1. Another process
// could take it before it is used; tests accept that small window.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Config returns a node configuration on free loopback ports with its data
// in dir.
func Config(t testing.TB, dir string) cluster.Config {
	return cluster.Config{
		Addr:         "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		DataDir:      dir,
		StatusAddr:   "off",
		PDClientAddr: "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		PDPeerAddr:   "127.0.0.1:" + strconv.Itoa(FreePort(t)),
	}
}

// Start starts a node with cfg and registers its Close with t.Cleanup.
func Start(t testing.TB, cfg cluster.Config) *cluster.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := cluster.Start(ctx, cfg, log)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	return n
}

// StartNode starts a fresh single node and returns its RESP address.
func StartNode(t testing.TB) string {
	t.Helper()
	return Start(t, Config(t, t.TempDir())).Addr()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
