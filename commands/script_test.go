package commands

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/resp"
)

// Command scripts shared by the unit tests (against the harness) and, when
// SKERRY_TEST_REDIS names a real Redis 7.0 (host:port), against that server
// too, so every expected reply is checked against Redis itself.
//
// A step is a redis-cli style command line and its expected reply. The
// reply is written as space-separated RESP lines ("*2 $1 a $-1"); a reply
// starting with '=' is the literal remainder followed by CRLF (for lines
// holding spaces, such as errors). The pseudo command "@list key" creates
// a list key (for WRONGTYPE cases) and checks no reply.

type step struct {
	cmd  string
	want string
}

// wire turns a step's reply notation into raw RESP.
func (s step) wire() string {
	if strings.HasPrefix(s.want, "=") {
		return s.want[1:] + "\r\n"
	}
	var b strings.Builder
	for _, f := range strings.Fields(s.want) {
		b.WriteString(f)
		b.WriteString("\r\n")
	}
	return b.String()
}

func (s step) args(t testing.TB) []string {
	t.Helper()
	bs, ok := resp.SplitArgs([]byte(s.cmd))
	if !ok {
		t.Fatalf("bad command line %q", s.cmd)
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// runScript runs steps on a fresh harness with protocol proto.
func runScript(t *testing.T, proto int, steps []step) {
	t.Helper()
	h := newHarness(t)
	h.c.Proto = proto
	for _, s := range steps {
		if key, ok := strings.CutPrefix(s.cmd, "@list "); ok {
			// A list key, written directly: the list family is not part
			// of these tests.
			db := keyspace.New(h.store.Txn(), 0)
			if err := db.Put([]byte(key), &keyspace.Meta{Type: keyspace.TypeList, Version: 1, Size: 1}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, want := h.do(s.args(t)...), s.wire(); got != want {
			t.Errorf("%s: got %q, want %q", s.cmd, got, want)
		}
	}
}

// runScriptOnRedis runs steps against the real Redis named by
// SKERRY_TEST_REDIS after FLUSHALL, and skips when it is unset.
func runScriptOnRedis(t *testing.T, proto int, steps []step) {
	t.Helper()
	addr := os.Getenv("SKERRY_TEST_REDIS")
	if addr == "" {
		t.Skip("SKERRY_TEST_REDIS not set")
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	send := func(args ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := conn.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
		out, err := readRawReply(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	send("HELLO", strconv.Itoa(proto))
	send("FLUSHALL")
	for _, s := range steps {
		if key, ok := strings.CutPrefix(s.cmd, "@list "); ok {
			send("RPUSH", key, "x")
			continue
		}
		if got, want := send(s.args(t)...), s.wire(); got != want {
			t.Errorf("redis: %s: got %q, want %q", s.cmd, got, want)
		}
	}
}

// readRawReply reads one complete RESP2/RESP3 reply and returns its bytes.
func readRawReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	out := line
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	switch line[0] {
	case '$', '=', '!':
		if n < 0 {
			return out, nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return "", err
		}
		return out + string(buf), nil
	case '*', '~', '>', '%':
		if line[0] == '%' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			s, err := readRawReply(r)
			if err != nil {
				return "", err
			}
			out += s
		}
	}
	return out, nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// scriptTest runs steps on the harness and, if configured, on Redis.
func scriptTest(t *testing.T, proto int, steps []step) {
	t.Helper()
	t.Run("harness", func(t *testing.T) { runScript(t, proto, steps) })
	t.Run("redis", func(t *testing.T) { runScriptOnRedis(t, proto, steps) })
}

// redisConn is a raw connection to the real Redis of SKERRY_TEST_REDIS.
type redisConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialTestRedis(t testing.TB) *redisConn {
	t.Helper()
	addr := os.Getenv("SKERRY_TEST_REDIS")
	if addr == "" {
		t.Skip("SKERRY_TEST_REDIS not set")
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	return &redisConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (rc *redisConn) do(args ...string) string {
	rc.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := rc.conn.Write([]byte(b.String())); err != nil {
		rc.t.Fatal(err)
	}
	out, err := readRawReply(rc.r)
	if err != nil {
		rc.t.Fatal(err)
	}
	return out
}
