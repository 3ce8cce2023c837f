package resp

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// encode builds a multibulk request with redcon's encoder, an implementation
// independent of ours.
func encode(args ...string) []byte {
	b := redcon.AppendArray(nil, len(args))
	for _, a := range args {
		b = redcon.AppendBulkString(b, a)
	}
	return b
}

// readReplies parses n replies with redcon's RESP reader.
func readReplies(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	var buf []byte
	var out []string
	for len(out) < n {
		for {
			k, resp := redcon.ReadNextRESP(buf)
			if k == 0 {
				break
			}
			out = append(out, string(buf[:k]))
			_ = resp
			buf = buf[k:]
			if len(out) == n {
				break
			}
		}
		if len(out) == n {
			break
		}
		chunk := make([]byte, 64*1024)
		k, err := r.Read(chunk)
		if err != nil {
			t.Fatalf("after %d replies: %v", len(out), err)
		}
		buf = append(buf, chunk[:k]...)
	}
	if len(buf) != 0 {
		t.Fatalf("extra bytes after %d replies: %q", n, buf)
	}
	return out
}

type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, writes: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

func TestPipelining(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	s := NewServer(Config{}, newTestHandler())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	defer func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()

	const n = 1000
	var req []byte
	for i := 0; i < n; i++ {
		req = append(req, encode("ECHO", fmt.Sprint("value-", i))...)
	}
	c := dial(t, inner.Addr().String())
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	replies := readReplies(t, bufio.NewReader(c), n)
	for i, r := range replies {
		v := fmt.Sprint("value-", i)
		if want := fmt.Sprintf("$%d\r\n%s\r\n", len(v), v); r != want {
			t.Fatalf("reply %d = %q, want %q", i, r, want)
		}
	}
	// One write per read batch, not per command: the request is ~25 KB, so
	// a handful of reads at most.
	if w := ln.writes.Load(); w > 20 {
		t.Fatalf("%d writes for %d pipelined commands", w, n)
	}
	if st := s.Stats(); st.TotalCommandsProcessed != n {
		t.Fatalf("TotalCommandsProcessed = %d", st.TotalCommandsProcessed)
	}
}

func TestInlineAndMixed(t *testing.T) {
	_, addr := startServer(t, Config{}, newTestHandler())
	in := "SET k \"hello world\"\r\n" + string(encode("GET", "k")) + "  echo   'x y'  \n"
	got, err := roundTrip(t, addr, in, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$11\r\nhello world\r\n" +
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" +
		"$3\r\nx y\r\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestProtoSwitch(t *testing.T) {
	_, addr := startServer(t, Config{}, newTestHandler())
	// HELLO 3 and the commands after it arrive in one read: each command
	// must be encoded in the protocol in force when it runs.
	in := "DOUBLE 1.5\r\nHELLO 3\r\nDOUBLE 1.5\r\nHELLO 2\r\nDOUBLE 1.5\r\n"
	got, err := roundTrip(t, addr, in, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "$3\r\n1.5\r\n" + "%1\r\n$5\r\nproto\r\n:3\r\n" + ",1.5\r\n" +
		"*2\r\n$5\r\nproto\r\n:2\r\n" + "$3\r\n1.5\r\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestHandlerResetDiscardsOnlyItsReply(t *testing.T) {
	_, addr := startServer(t, Config{}, newTestHandler())
	got, err := roundTrip(t, addr, "PING\r\nDISCARDREPLY\r\nPING\r\n", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := pong + "+OK\r\n" + pong; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestArgumentsMayBeRetained(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Config{}, h)
	var in []byte
	for i := 0; i < 2000; i++ {
		in = append(in, encode("KEEP", fmt.Sprint("a", i), strings.Repeat("b", i%700))...)
	}
	if _, err := roundTrip(t, addr, string(in), true); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.kept) != 2000 {
		t.Fatalf("kept %d commands", len(h.kept))
	}
	for i, args := range h.kept {
		if string(args[1]) != fmt.Sprint("a", i) || string(args[2]) != strings.Repeat("b", i%700) {
			t.Fatalf("command %d changed after it ran: %q", i, args[1])
		}
		if i == 0 {
			_ = append(args[1], "zz"...) // must not clobber a neighbour
		}
	}
	if string(h.kept[0][2]) != "" || string(h.kept[1][0]) != "KEEP" {
		t.Fatalf("append clobbered a neighbouring argument")
	}
}

func TestProtocolErrorClosesAfterEarlierReplies(t *testing.T) {
	h := newTestHandler()
	s, addr := startServer(t, Config{}, h)
	c := dial(t, addr)
	if _, err := c.Write([]byte("PING\r\nPING\r\n*1\r\n$x\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	want := pong + pong + pErr + "invalid bulk length\r\n"
	if got := readN(t, c, len(want)); got != want {
		t.Fatalf("got %q", got)
	}
	expectEOF(t, c)
	eventually(t, "Closed callback", func() bool { return len(h.closedIDs()) == 1 })
	if st := s.Stats(); st.TotalCommandsProcessed != 2 || st.ConnectedClients != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxClients(t *testing.T) {
	s, addr := startServer(t, Config{MaxClients: 2}, newTestHandler())
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c := dial(t, addr)
		c.Write([]byte("PING\r\n"))
		if got := readN(t, c, len(pong)); got != pong {
			t.Fatalf("got %q", got)
		}
		held = append(held, c)
	}
	got, err := roundTrip(t, addr, "PING\r\n", false)
	if err != nil && !isReset(err) {
		t.Fatal(err)
	}
	if got != "-ERR max number of clients reached\r\n" {
		t.Fatalf("third client got %q", got)
	}
	st := s.Stats()
	if st.RejectedConnections != 1 || st.TotalConnectionsReceived != 2 || st.ConnectedClients != 2 {
		t.Fatalf("stats %+v", st)
	}
	held[0].Close()
	eventually(t, "a free slot", func() bool { return s.Stats().ConnectedClients == 1 })
	got, err = roundTrip(t, addr, "PING\r\n", true)
	if err != nil || got != pong {
		t.Fatalf("after a slot freed: %q %v", got, err)
	}
}

func TestClientsAndKill(t *testing.T) {
	h := newTestHandler()
	s, addr := startServer(t, Config{}, h)
	c1 := dial(t, addr)
	c2 := dial(t, addr)
	ids := make([]int64, 2)
	for i, c := range []net.Conn{c1, c2} {
		c.Write([]byte("CLIENTID\r\n"))
		r := readReplies(t, bufio.NewReader(c), 1)[0]
		fmt.Sscanf(r, ":%d", &ids[i])
	}
	if ids[1] <= ids[0] {
		t.Fatalf("ids not increasing: %v", ids)
	}
	cls := s.Clients()
	if len(cls) != 2 || cls[0].ID != ids[0] || cls[1].ID != ids[1] {
		t.Fatalf("Clients() = %v, ids %v", cls, ids)
	}
	cl := cls[1]
	if cl.Proto != 2 || cl.User != "default" || cl.Addr != c2.LocalAddr().String() ||
		cl.LAddr != c2.RemoteAddr().String() || cl.FD <= 0 || cl.Created.IsZero() {
		t.Fatalf("client fields: %+v", cl)
	}
	// Kill from this goroutine while c2's goroutine is blocked reading.
	cl.Kill()
	expectEOF(t, c2)
	eventually(t, "killed client gone", func() bool { return len(s.Clients()) == 1 })
	if got := h.closedIDs(); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("Closed called for %v", got)
	}
	// The other client is untouched.
	c1.Write([]byte("PING\r\n"))
	if got := readN(t, c1, len(pong)); got != pong {
		t.Fatalf("got %q", got)
	}
}

func TestKillWhileHandlerRuns(t *testing.T) {
	h := newTestHandler()
	s, addr := startServer(t, Config{}, h)
	c := dial(t, addr)
	c.Write([]byte("BLOCK\r\nPING\r\n"))
	<-h.inside
	s.Clients()[0].Kill()
	close(h.block)
	// The reply of the running command may or may not be written; the
	// pipelined PING must not run.
	rest, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatal(err)
	}
	if string(rest) != "" && string(rest) != "+OK\r\n" {
		t.Fatalf("got %q", rest)
	}
	eventually(t, "client gone", func() bool { return len(s.Clients()) == 0 })
	if n := s.Stats().TotalCommandsProcessed; n != 1 {
		t.Fatalf("%d commands ran", n)
	}
}

func TestQueryBufferLimit(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Config{QueryBufferLimit: 1 << 20}, h)
	in := "*1\r\n$3000000\r\n" + strings.Repeat("a", 2000000)
	got, err := roundTrip(t, addr, in, false)
	if err != nil && !isReset(err) {
		t.Fatal(err)
	}
	if got != "" {
		t.Fatalf("got %q, want a silent close", trim(got))
	}
	// A big request under the limit is fine.
	_, addr2 := startServer(t, Config{}, h)
	v := strings.Repeat("v", 3<<20)
	got, err = roundTrip(t, addr2, string(encode("ECHO", v)), true)
	if err != nil || got != fmt.Sprintf("$%d\r\n%s\r\n", len(v), v) {
		t.Fatalf("big ECHO: %v, %d bytes back", err, len(got))
	}
}

func TestBigRepliesAreFlushedEarly(t *testing.T) {
	_, addr := startServer(t, Config{}, newTestHandler())
	c := dial(t, addr)
	// 100 replies of 100 KB: far over the flush threshold, all in order.
	var in []byte
	for i := 0; i < 100; i++ {
		in = append(in, "BIG 100000\r\n"...)
	}
	c.Write(in)
	rs := readReplies(t, bufio.NewReader(c), 100)
	for i, r := range rs {
		if len(r) != len("$100000\r\n")+100000+2 {
			t.Fatalf("reply %d has %d bytes", i, len(r))
		}
	}
}

func TestCloseStopsEverything(t *testing.T) {
	h := newTestHandler()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Config{}, h)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	var conns []net.Conn
	for i := 0; i < 5; i++ {
		c := dial(t, ln.Addr().String())
		c.Write([]byte("PING\r\n"))
		readN(t, c, len(pong))
		conns = append(conns, c)
	}
	// A partial request must not keep its connection alive either.
	conns[0].Write([]byte("*2\r\n$3\r\nfoo"))
	if s.Addr() == nil || s.Addr().String() != ln.Addr().String() {
		t.Fatalf("Addr() = %v", s.Addr())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	// Close waited for every goroutine.
	if leaked := leakedGoroutines(); leaked != "" {
		t.Fatalf("goroutines left after Close:\n%s", leaked)
	}
	if n := len(h.closedIDs()); n != 5 {
		t.Fatalf("Closed called %d times", n)
	}
	for _, c := range conns {
		expectEOF(t, c)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting after Close")
	}
	if err := s.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestStatsBytes(t *testing.T) {
	s, addr := startServer(t, Config{}, newTestHandler())
	if _, err := roundTrip(t, addr, "PING\r\nECHO abc\r\n", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "connection closed", func() bool { return s.Stats().ConnectedClients == 0 })
	st := s.Stats()
	if st.TotalNetInputBytes != int64(len("PING\r\nECHO abc\r\n")) ||
		st.TotalNetOutputBytes != int64(len(pong+"$3\r\nabc\r\n")) ||
		st.TotalCommandsProcessed != 2 || st.TotalConnectionsReceived != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	cfg := Config{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	_, addr := startServer(t, cfg, newTestHandler())
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: ioDeadline}, "tcp", addr,
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioDeadline))
	c.Write([]byte("PING\r\nECHO hi\r\n"))
	if got := readN(t, c, len(pong+"$2\r\nhi\r\n")); got != pong+"$2\r\nhi\r\n" {
		t.Fatalf("got %q", got)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	bad := []Config{
		{MaxClients: -1},
		{ProtoMaxBulkLen: -1},
		{MaxMultibulkLen: -1},
		{MaxMultibulkLen: 1 << 31},
		{QueryBufferLimit: -5},
	}
	for _, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: Validate = %v", c, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := NewServer(Config{MaxClients: -1}, newTestHandler()).Serve(ln); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Serve with a bad config: %v", err)
	}
	d := (Config{}).withDefaults()
	if d.MaxClients != 10000 || d.ProtoMaxBulkLen != 512<<20 || d.QueryBufferLimit != 1<<30 || d.MaxMultibulkLen != 1<<31-1 {
		t.Fatalf("defaults %+v", d)
	}
}

func TestMaxMultibulkLenConfig(t *testing.T) {
	_, addr := startServer(t, Config{MaxMultibulkLen: 3, ProtoMaxBulkLen: 5}, newTestHandler())
	runCases(t, addr, []redisCase{
		{"count at limit", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", false},
		{"count over limit", "*4\r\n", pErr + "invalid multibulk length\r\n", true},
		{"bulk at limit", "*1\r\n$5\r\nabcde\r\n", "*1\r\n$5\r\nabcde\r\n", false},
		{"bulk over limit", "*1\r\n$6\r\n", pErr + "invalid bulk length\r\n", true},
	})
}
