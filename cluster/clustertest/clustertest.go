// Package clustertest starts real in-process Skerry nodes for tests of other
// packages (redis-tests, client-library tests). Nodes use t.TempDir(),
// loopback addresses and are closed by t.Cleanup.
package clustertest

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skerrydb/skerry/cluster"
	"github.com/skerrydb/skerry/internal/testport"
)

// FreePort returns a currently free TCP port on 127.0.0.1, from below the
// kernel's ephemeral range (internal/testport: client sockets cannot take
// it before the node listens). Another test could still take it; tests
// accept that small window.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return p
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

// Cluster is an in-process cluster of nodes that each run a PD member, on
// loopback. Nodes can be stopped and restarted on the same data.
type Cluster struct {
	t     testing.TB
	Cfgs  []cluster.Config
	Nodes []*cluster.Node // nil while stopped
}

// ClusterConfigs plans n nodes on free ports, data under t.TempDir().
func ClusterConfigs(t testing.TB, n int) []cluster.Config {
	t.Helper()
	cfgs := make([]cluster.Config, n)
	var members []string
	for i := range cfgs {
		cfgs[i] = Config(t, t.TempDir())
		cfgs[i].PeerAddr = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		cfgs[i].PD = true
		cfgs[i].PDName = "pd" + strconv.Itoa(i+1)
		members = append(members, cfgs[i].PDName+"=http://"+cfgs[i].PDPeerAddr)
	}
	for i := range cfgs {
		cfgs[i].InitialCluster = strings.Join(members, ",")
	}
	return cfgs
}

// StartCluster starts the nodes of cfgs concurrently (the PD members wait
// for each other) and crashes them at the end of the test (CrashAll: a
// graceful stop of the last nodes would wait for hand-offs to the ones
// already gone, and acknowledged data are durable either way).
func StartCluster(t testing.TB, cfgs []cluster.Config) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Cfgs: cfgs, Nodes: make([]*cluster.Node, len(cfgs))}
	t.Cleanup(c.CrashAll)
	all := make([]int, len(cfgs))
	for i := range all {
		all[i] = i
	}
	if err := c.startSome(all); err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	return c
}

// startSome starts the nodes idx concurrently.
func (c *Cluster) startSome(idx []int) error {
	errs := make([]error, len(idx))
	nodes := make([]*cluster.Node, len(idx))
	var wg sync.WaitGroup
	for j, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[j], errs[j] = c.start(i)
		}()
	}
	wg.Wait()
	for j, i := range idx {
		if nodes[j] != nil {
			c.Nodes[i] = nodes[j]
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) start(i int) (*cluster.Node, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(testWriter{c.t}, &slog.HandlerOptions{Level: slog.LevelWarn})).
		With("node", i+1)
	return cluster.Start(ctx, c.Cfgs[i], log)
}

// Stop closes node i (as a graceful shutdown would).
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	if n := c.Nodes[i]; n != nil {
		c.Nodes[i] = nil
		if err := n.Close(); err != nil {
			c.t.Errorf("close node %d: %v", i+1, err)
		}
	}
}

// Crash closes node i without a graceful hand-off of its leaderships.
func (c *Cluster) Crash(i int) {
	c.t.Helper()
	if n := c.Nodes[i]; n != nil {
		c.Nodes[i] = nil
		if err := n.CloseAbruptly(); err != nil {
			c.t.Errorf("crash node %d: %v", i+1, err)
		}
	}
}

// Restart starts node i again on its data directory.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	n, err := c.start(i)
	if err != nil {
		c.t.Fatalf("restart node %d: %v", i+1, err)
	}
	c.Nodes[i] = n
}

// RestartAll starts every stopped node again on its data directory,
// concurrently (restarted PD members need a quorum of each other).
func (c *Cluster) RestartAll() {
	c.t.Helper()
	var idx []int
	for i, n := range c.Nodes {
		if n == nil {
			idx = append(idx, i)
		}
	}
	if err := c.startSome(idx); err != nil {
		c.t.Fatalf("restart cluster: %v", err)
	}
}

// StopAll closes every running node gracefully, one after the other.
func (c *Cluster) StopAll() {
	for i := range c.Nodes {
		c.Stop(i)
	}
}

// CrashAll closes every running node abruptly, concurrently.
func (c *Cluster) CrashAll() {
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes {
		if n == nil {
			continue
		}
		c.Nodes[i] = nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.CloseAbruptly()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			c.t.Errorf("crash node %d: %v", i+1, err)
		}
	}
}
