package redistests

import (
	"bytes"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skerrydb/skerry/internal/testport"
)

// RedisServerPath returns the path of the redis-server binary, or "" when it is not installed.
func RedisServerPath() string {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return ""
	}
	return p
}

// StartRedisServer starts a real redis-server on a free 127.0.0.1 port with a temporary
// directory and no persistence (--save "" --appendonly no), waits until it answers PING and
// returns its address. The server is killed when the test ends. The test is skipped when
// redis-server is not installed.
func StartRedisServer(tb testing.TB) string {
	tb.Helper()
	bin := RedisServerPath()
	if bin == "" {
		tb.Skip("redis-server is not installed")
	}
	// A port may be taken between freePort and the server's bind; retry a few times.
	var lastErr string
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("redistests: free port: %v", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(bin,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", tb.TempDir(), "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--logfile", "", "--loglevel", "warning")
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			tb.Fatalf("redistests: start redis-server: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Kill()
			<-exited
		}
		if waitReady(addr, exited) {
			tb.Cleanup(stop)
			return addr
		}
		stop()
		lastErr = out.String()
	}
	tb.Fatalf("redistests: redis-server did not start: %s", lastErr)
	return ""
}

func freePort() (int, error) { return testport.Free() }

// waitReady polls addr with PING until it answers, the process exits, or 10 s pass.
func waitReady(addr string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := Dial(addr); err == nil {
			v, err := c.Do([]byte("PING"))
			_ = c.Close()
			if err == nil && Head(v) == "+PONG" {
				return true
			}
		}
		select {
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
