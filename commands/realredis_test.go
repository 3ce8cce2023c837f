package commands

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skerrydb/skerry/internal/testport"
)

// realRedis is a redis-server process started for differential tests, or
// skipped when the binary is not installed.
type realRedis struct {
	conn net.Conn
	r    *bufio.Reader
}

// startRealRedis starts redis-server on a free 127.0.0.1 port with no
// persistence; the test is skipped when redis-server is not installed.
func startRealRedis(t *testing.T) *realRedis {
	t.Helper()
	rr, _ := startRealRedisArgs(t)
	return rr
}

// startRealRedisArgs is startRealRedis with extra server arguments; it
// also returns the port.
func startRealRedisArgs(t *testing.T, args ...string) (*realRedis, int) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	port := freeTCPPort(t)
	argv := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)
	cmd := exec.Command(bin, argv...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			rr := &realRedis{conn: c, r: bufio.NewReader(c)}
			t.Cleanup(func() { c.Close() })
			return rr, port
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeTCPPort returns a port free on 127.0.0.1 right now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	p, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// do sends one command and returns the raw bytes of its reply.
func (rr *realRedis) do(t *testing.T, args ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = rr.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(rr.conn, b.String()); err != nil {
		t.Fatal(err)
	}
	s, err := rawRESPReply(rr.r)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return s
}

// rawRESPReply reads one complete RESP2/RESP3 reply and returns its bytes.
func rawRESPReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) < 3 {
		return "", fmt.Errorf("short line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return line, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return line + string(buf), nil
	case '*', '~', '>', '%':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return line, err
		}
		if line[0] == '%' {
			n *= 2
		}
		out := line
		for i := 0; i < n; i++ {
			s, err := rawRESPReply(r)
			if err != nil {
				return "", err
			}
			out += s
		}
		return out, nil
	}
	return line, nil
}

// diffCase is a command sequence run on both Skerry and Redis; replies of
// commands prefixed with "~" are not compared (time, ids...), and the
// elements of array replies of commands prefixed with "#" are compared in
// sorted order (KEYS: Redis's order is its hash table's).
type diffCase struct {
	name string
	cmds []string
}

// splitCmd splits a command line on spaces; "\s" stands for a space inside
// an argument and "”" for an empty argument.
func splitCmd(line string) []string {
	f := strings.Fields(line)
	for i, a := range f {
		if a == "''" {
			a = ""
		}
		f[i] = strings.ReplaceAll(a, `\s`, " ")
	}
	return f
}

// runDiff runs every case on a fresh harness and on a flushed real Redis
// (same protocol) and compares the raw replies byte for byte.
func runDiff(t *testing.T, cases []diffCase) {
	rr := startRealRedis(t)
	for _, proto := range []int{2, 3} {
		for _, tc := range cases {
			rr.do(t, "HELLO", strconv.Itoa(proto))
			rr.do(t, "SELECT", "0")
			rr.do(t, "FLUSHALL")
			rr.do(t, "CONFIG", "SET", "maxmemory", "0")
			h := newHarness(t)
			h.c.Proto = proto
			for _, line := range tc.cmds {
				skip := strings.HasPrefix(line, "~")
				unordered := strings.HasPrefix(line, "#")
				args := splitCmd(strings.TrimLeft(line, "~#"))
				want := rr.do(t, args...)
				got := h.do(args...)
				if unordered {
					want, got = sortedArrayReply(want), sortedArrayReply(got)
				}
				if !skip && got != want {
					t.Errorf("%s (RESP%d) %q:\n got %q\nwant %q", tc.name, proto, line, got, want)
				}
			}
		}
	}
}

// sortedArrayReply sorts the bulk-string elements of a flat array reply.
func sortedArrayReply(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "*") || len(lines)%2 != 1 {
		return s
	}
	var elems []string
	for i := 1; i+1 < len(lines); i += 2 {
		elems = append(elems, lines[i]+"\r\n"+lines[i+1]+"\r\n")
	}
	sort.Strings(elems)
	return lines[0] + "\r\n" + strings.Join(elems, "")
}
