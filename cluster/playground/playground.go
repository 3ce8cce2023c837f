// Package playground starts a local Skerry cluster of N nodes on loopback,
// each node its own child `skerry server` process, so a user can kill one
// and watch the cluster heal (`skerry playground`). Every node runs an
// embedded PD member; together they form one PD (etcd) cluster.
//
// Ports are derived from Config.Port so that a playground is reproducible:
// node i (1-based) serves RESP on Port+i-1, its internal RPC on
// Port+1000+i-1, PD client and peer on Port+2000+i-1 and Port+3000+i-1, and
// HTTP status on Port+4000+i-1.
package playground

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Port offsets of the services of node i from Config.Port+i-1.
const (
	PeerOffset     = 1000
	PDClientOffset = 2000
	PDPeerOffset   = 3000
	StatusOffset   = 4000
)

// ErrInvalidConfig is wrapped by Config.Validate errors.
var ErrInvalidConfig = errors.New("playground: invalid config")

// Config describes a playground.
type Config struct {
	// Nodes is the number of nodes (1..9). Default 3.
	Nodes int
	// Port is the RESP port of node 1. Default 7001.
	Port int
	// DataDir holds node-<i>/ for each node (data and skerry.log). Required.
	DataDir string
	// Binary is the skerry executable to run. Default: this process's.
	Binary string
	// ServerArgs are passed on to every node's `skerry server`.
	ServerArgs []string
	// StopTimeout bounds a graceful stop of a node before it is killed.
	// Default 15s.
	StopTimeout time.Duration
	// ReadyTimeout bounds the wait for every node to accept connections.
	// Default 60s.
	ReadyTimeout time.Duration
}

// Validate fills defaults and checks c.
func (c *Config) Validate() error {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Port == 0 {
		c.Port = 7001
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 15 * time.Second
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 60 * time.Second
	}
	if c.Nodes < 1 || c.Nodes > 9 {
		return fmt.Errorf("%w: --nodes %d: must be 1..9", ErrInvalidConfig, c.Nodes)
	}
	if c.Port < 1 || c.Port+StatusOffset+c.Nodes > 65535 {
		return fmt.Errorf("%w: --port %d: node ports would exceed 65535", ErrInvalidConfig, c.Port)
	}
	if c.DataDir == "" {
		return fmt.Errorf("%w: --data-dir is required", ErrInvalidConfig)
	}
	if c.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("%w: cannot find the skerry binary: %v", ErrInvalidConfig, err)
		}
		c.Binary = exe
	}
	return nil
}

// Node is one planned node of the playground.
type Node struct {
	Index   int // 1-based
	Addr    string
	DataDir string
	Args    []string // the arguments of `skerry` for this node
}

// Plan returns the nodes of c with their exact command lines.
func Plan(c Config) []Node {
	host := "127.0.0.1"
	at := func(i, off int) string { return net.JoinHostPort(host, strconv.Itoa(c.Port+off+i-1)) }
	var members []string
	for i := 1; i <= c.Nodes; i++ {
		members = append(members, fmt.Sprintf("pd%d=http://%s", i, at(i, PDPeerOffset)))
	}
	initial := strings.Join(members, ",")
	nodes := make([]Node, c.Nodes)
	for i := 1; i <= c.Nodes; i++ {
		dir := filepath.Join(c.DataDir, fmt.Sprintf("node-%d", i))
		args := []string{"server",
			"--addr", at(i, 0),
			"--data-dir", dir,
			"--peer-addr", at(i, PeerOffset),
			"--status-addr", at(i, StatusOffset),
			"--pd",
			"--pd-name", fmt.Sprintf("pd%d", i),
			"--pd-client-addr", at(i, PDClientOffset),
			"--pd-peer-addr", at(i, PDPeerOffset),
			"--initial-cluster", initial,
		}
		args = append(args, c.ServerArgs...)
		nodes[i-1] = Node{Index: i, Addr: at(i, 0), DataDir: dir, Args: args}
	}
	return nodes
}

// Run starts the playground, prints how to reach it to out, and runs until
// ctx is done; then it stops every node (SIGTERM, then SIGKILL after
// StopTimeout). A node that exits on its own is reported and not
// restarted: that is how a user watches the cluster heal.
func Run(ctx context.Context, c Config, out io.Writer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	nodes := Plan(c)
	procs := make([]proc, 0, len(nodes))
	var wg sync.WaitGroup
	exited := make(chan string, len(nodes))
	defer func() {
		stopAll(procs, c.StopTimeout)
		wg.Wait()
	}()
	for _, n := range nodes {
		if err := os.MkdirAll(n.DataDir, 0o750); err != nil {
			return fmt.Errorf("playground: %w", err)
		}
		logf, err := os.OpenFile(filepath.Join(n.DataDir, "skerry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("playground: %w", err)
		}
		cmd := exec.Command(c.Binary, n.Args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		// Own process group: a Ctrl-C in the terminal reaches the
		// playground only, which then stops the nodes in order.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("playground: start node %d: %w", n.Index, err)
		}
		pr := proc{cmd: cmd, done: make(chan struct{})}
		procs = append(procs, pr)
		fmt.Fprintf(out, "node %d: %s %s\n", n.Index, c.Binary, strings.Join(n.Args, " "))
		wg.Add(1)
		go func(i int, logf *os.File) {
			defer wg.Done()
			err := pr.cmd.Wait()
			logf.Close()
			close(pr.done)
			exited <- fmt.Sprintf("node %d (pid %d) exited: %v", i, pr.cmd.Process.Pid, errOrOK(err))
		}(n.Index, logf)
	}
	if err := waitReady(ctx, nodes, c.ReadyTimeout, exited); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting: the deferred stop cleans up
		}
		return err
	}
	fmt.Fprintf(out, "\nSkerry playground is up: %d nodes, any node serves any key.\n", len(nodes))
	for _, n := range nodes {
		fmt.Fprintf(out, "  redis-cli -h 127.0.0.1 -p %s    (logs: %s)\n", portOf(n.Addr), filepath.Join(n.DataDir, "skerry.log"))
	}
	fmt.Fprintf(out, "Press Ctrl-C to stop every node.\n")
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "stopping the playground")
			return nil
		case msg := <-exited:
			fmt.Fprintln(out, msg)
		}
	}
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// waitReady polls every node's RESP port until it answers PING. A node
// that exits first fails the start (its log says why).
func waitReady(ctx context.Context, nodes []Node, timeout time.Duration, exited <-chan string) error {
	deadline := time.Now().Add(timeout)
	for _, n := range nodes {
		for {
			if ping(n.Addr) == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("playground: node %d (%s) not ready after %v; see %s", n.Index, n.Addr, timeout,
					filepath.Join(n.DataDir, "skerry.log"))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case msg := <-exited:
				return fmt.Errorf("playground: %s before the cluster was up; see the skerry.log files under %s",
					msg, filepath.Dir(n.DataDir))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// ping sends one PING over RESP and expects +PONG (or -NOAUTH, which
// also proves the node serves).
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if s := string(buf[:n]); strings.HasPrefix(s, "+PONG") || strings.HasPrefix(s, "-NOAUTH") {
		return nil
	}
	return fmt.Errorf("playground: %s answered %q", addr, buf[:n])
}

// proc is a started node; done is closed once it has exited and been
// reaped.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// stopAll sends SIGTERM to every running node, waits up to timeout for
// them to exit, then kills the rest.
func stopAll(procs []proc, timeout time.Duration) {
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails harmlessly if it is gone
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline.C:
			for _, q := range procs {
				_ = q.cmd.Process.Kill()
			}
			return
		}
	}
}
