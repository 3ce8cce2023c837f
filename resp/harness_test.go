package resp

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ioDeadline bounds every network wait in the tests; reaching it is a failure
// (a hang), never the expected outcome.
const ioDeadline = 10 * time.Second

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			os.Stderr.WriteString("resp: goroutines leaked by the tests:\n" + leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines still running server
// code after a short grace period: a connection goroutine that has already
// signalled the server's WaitGroup may still be returning from its last
// deferred call when Close returns.
func leakedGoroutines() string {
	deadline := time.Now().Add(2 * time.Second)
	for {
		leaked := runningServerGoroutines()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling goroutine exit; there is no event to wait on
	}
}

// runningServerGoroutines returns the stacks of goroutines running server code.
func runningServerGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "resp.(*conn).serve") || strings.Contains(g, "resp.(*Server).Serve") ||
			strings.Contains(g, "resp.(*Server).reject") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// testHandler is the fake command layer: a few commands whose replies match
// Redis's (PING, ECHO, QUIT) so that the same transcripts run against a real
// redis-server, plus helpers; anything else is echoed back as an array.
type testHandler struct {
	mu     sync.Mutex
	closed []int64
	kept   [][][]byte    // arguments of KEEP commands, retained as a MULTI queue would
	block  chan struct{} // BLOCK waits on it
	inside chan struct{} // BLOCK signals it is running
}

func newTestHandler() *testHandler {
	return &testHandler{block: make(chan struct{}), inside: make(chan struct{}, 16)}
}

func (h *testHandler) ServeRESP(c *Client, args [][]byte, w *Writer) {
	switch strings.ToUpper(string(args[0])) {
	case "PING":
		if len(args) == 2 {
			w.Bulk(args[1])
		} else if len(args) == 1 {
			w.Simple("PONG")
		} else {
			w.Error("ERR wrong number of arguments for 'ping' command")
		}
	case "ECHO":
		if len(args) != 2 {
			w.Error("ERR wrong number of arguments for 'echo' command")
			return
		}
		w.Bulk(args[1])
	case "QUIT":
		w.OK()
		c.CloseAfterReply()
	case "HELLO":
		if len(args) > 1 {
			p, _ := strconv.Atoi(string(args[1]))
			c.Proto = p
			w.SetProto(p) // HELLO's own reply is in the new protocol
		}
		w.Map(1)
		w.BulkString("proto")
		w.Int(int64(c.Proto))
	case "DOUBLE":
		f, _ := strconv.ParseFloat(string(args[1]), 64)
		w.Double(f)
	case "CLIENTID":
		w.Int(c.ID)
	case "KEEP":
		h.mu.Lock()
		h.kept = append(h.kept, args)
		h.mu.Unlock()
		w.OK()
	case "DISCARDREPLY": // a reply written then discarded, as a failed commit does
		w.Simple("SHOULD NOT BE SEEN")
		w.Reset()
		w.OK()
	case "BIG":
		n, _ := strconv.Atoi(string(args[1]))
		w.BulkString(strings.Repeat("x", n))
	case "BLOCK":
		h.inside <- struct{}{}
		<-h.block
		w.OK()
	default:
		w.Array(len(args))
		for _, a := range args {
			w.Bulk(a)
		}
	}
}

func (h *testHandler) Closed(c *Client) {
	h.mu.Lock()
	h.closed = append(h.closed, c.ID)
	h.mu.Unlock()
}

func (h *testHandler) closedIDs() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int64(nil), h.closed...)
}

// startServer serves cfg on a fresh 127.0.0.1 port; the server is closed
// when the test ends.
func startServer(t testing.TB, cfg Config, h Handler) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg, h)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioDeadline)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(ioDeadline))
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes in, then reads until the server closes the connection.
// With halfClose the client first shuts its write side, which makes the
// server close once it has answered; without it the server must close by
// itself (a protocol error), or the read deadline fails the test.
func roundTrip(t testing.TB, addr string, in string, halfClose bool) (string, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioDeadline)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := nc.(*net.TCPConn)
	c.SetDeadline(time.Now().Add(ioDeadline))
	werr := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, in)
		if err == nil && halfClose {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	out, rerr := io.ReadAll(c)
	<-werr
	return string(out), rerr
}

// readN reads exactly n bytes.
func readN(t testing.TB, c net.Conn, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v (got %q)", n, err, b)
	}
	return string(b)
}

// expectEOF asserts the server closed the connection with nothing more.
func expectEOF(t testing.TB, c net.Conn) {
	t.Helper()
	rest, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("waiting for close: %v (read %q)", err, rest)
	}
	if len(rest) != 0 {
		t.Fatalf("unexpected bytes before close: %q", rest)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}
