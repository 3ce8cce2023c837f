package resp

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What Redis 7.0.15 does with odd and malformed input, recorded with nc-like
// clients against `redis-server --save ” --appendonly no` (default limits).
// Each case is one connection: the bytes sent, every byte Redis replied, and
// whether Redis closed the connection by itself. Cases that do not close
// are run with the client's write side shut afterwards, which makes both
// Redis and Server close once they have answered; a case that only waits for
// more input therefore shows an empty reply.
//
// Findings, beyond the table:
//   - After a protocol error Redis sends the replies of the requests before
//     it, then the error, then closes; bytes after the error are ignored.
//   - Inline requests end at '\n'; one '\r' before it is dropped; a NUL byte
//     before the '\n' hides it (Redis uses strchr) and the request waits until
//     the unterminated input passes 64 KiB ("too big inline request").
//   - Length lines ("*N", "$N") end at the first '\r'; the byte after it is
//     required but not checked; numbers are parsed by string2ll (no '+', no
//     leading zeros, no spaces, "-0" invalid). "*0" and negative counts are
//     ignored. Counts above INT_MAX are invalid, 2147483647 is accepted (the
//     old 1024*1024 cap of Redis 6 is gone). Bulk lengths above
//     proto-max-bulk-len (512 MiB) are invalid, exactly 512 MiB is accepted.
//   - The two bytes after a bulk payload are skipped unchecked.
//   - "expected '$', got 'c'" shows the byte raw, except '\r' and '\n',
//     which become a space.
//   - Whether a *terminated* line longer than 64 KiB is accepted depends on
//     how the input was split into reads (accepted when it arrived in one);
//     such cases are left out.
//   - Over maxclients: "-ERR max number of clients reached\r\n" and close.
//   - Over client-query-buffer-limit: closed with no reply.
//   - While authentication is required: more than 10 arguments is
//     "unauthenticated multibulk length", a bulk over 16384 bytes
//     "unauthenticated bulk length".
type redisCase struct {
	name   string
	in     string
	reply  string
	closes bool
}

func rep(s string, n int) string { return strings.Repeat(s, n) }

const (
	pErr = "-ERR Protocol error: "
	pong = "+PONG\r\n"
)

var redisCases = []redisCase{
	// inline
	{"unbalanced double quote", "SET a \"b\r\n", pErr + "unbalanced quotes in request\r\n", true},
	{"empty lines ignored", "\r\n\r\nPING\r\n", pong, false},
	{"bare newlines", "\n\nPING\n", pong, false},
	{"blank line", "   \r\n", "", false},
	{"hex and newline escapes", "ECHO \"\\x41\\n\"\r\n", "$2\r\nA\n\r\n", false},
	{"quote inside an argument", "ECHO a\"b c\"\r\n", "$4\r\nab c\r\n", false},
	{"text after closing quote", "ECHO \"a\"b\r\n", pErr + "unbalanced quotes in request\r\n", true},
	{"escaped single quote", "ECHO 'a\\'b'\r\n", "$3\r\na'b\r\n", false},
	{"unknown escape", "ECHO \"\\q\"\r\n", "$1\r\nq\r\n", false},
	{"short hex escape", "ECHO \"\\x4\"\r\n", "$2\r\nx4\r\n", false},
	{"bad hex escape", "ECHO \"\\x4g\"\r\n", "$3\r\nx4g\r\n", false},
	{"C escapes", "ECHO \"\\a\\b\\t\\r\"\r\n", "$4\r\n\a\b\t\r\r\n", false},
	{"escaped double quote", "ECHO \"\\\"\"\r\n", "$1\r\n\"\r\n", false},
	{"empty single quotes", "ECHO ''\r\n", "$0\r\n\r\n", false},
	{"empty double quotes", "ECHO \"\"\r\n", "$0\r\n\r\n", false},
	{"double quote in single", "ECHO 'a\"b'\r\n", "$3\r\na\"b\r\n", false},
	{"single quote in double", "ECHO \"a'b\"\r\n", "$3\r\na'b\r\n", false},
	{"no escapes in single quotes", "ECHO 'a\\x41'\r\n", "$5\r\na\\x41\r\n", false},
	{"backslash n in single quotes", "ECHO 'a\\n'\r\n", "$3\r\na\\n\r\n", false},
	{"backslash before closing single quote", "ECHO 'a\\\\'\r\n", pErr + "unbalanced quotes in request\r\n", true},
	{"text after single quote", "ECHO 'a'b\r\n", pErr + "unbalanced quotes in request\r\n", true},
	{"quotes mid token then text", "ECHO a'b c'd\r\n", pErr + "unbalanced quotes in request\r\n", true},
	{"unterminated double quote", "ECHO \"a\r\n", pErr + "unbalanced quotes in request\r\n", true},
	{"unterminated single quote", "ECHO 'a\r\n", pErr + "unbalanced quotes in request\r\n", true},
	{"leading vertical tab skipped", "ECHO \va\r\n", "$1\r\na\r\n", false},
	{"vertical tab inside token", "ECHO a\vb\r\n", "$3\r\na\vb\r\n", false},
	{"vertical tab after quote", "ECHO \"a\"\v\r\n", "$1\r\na\r\n", false},
	{"tab separates", "ECHO\ta\r\n", "$1\r\na\r\n", false},
	{"CR separates", "ECHO a\rb\r\n", "-ERR wrong number of arguments for 'echo' command\r\n", false},
	{"CR splits inline", "PING\rPING\r\n", "$4\r\nPING\r\n", false},
	{"double CR", "PING\r\r\n", pong, false},
	{"NUL hides newline", "ECHO a\x00b\r\n", "", false},
	{"NUL in quotes hides newline", "ECHO \"a\x00b\"\r\n", "", false},
	{"inline at limit waits", rep("a", 65536), "", false},
	{"too big inline", rep("a", 65537), pErr + "too big inline request\r\n", true},
	{"inline then QUIT drops the rest", "PING\r\nQUIT\r\nPING\r\n", pong + "+OK\r\n", true},

	// multibulk counts
	{"bad count", "*abc\r\n", pErr + "invalid multibulk length\r\n", true},
	{"zero count ignored", "*0\r\nPING\r\n", pong, false},
	{"minus one ignored", "*-1\r\nPING\r\n", pong, false},
	{"negative ignored", "*-5\r\nPING\r\n", pong, false},
	{"min int64 ignored", "*-9223372036854775808\r\n", "", false},
	{"below min int64", "*-9223372036854775809\r\n", pErr + "invalid multibulk length\r\n", true},
	{"above old 1M cap waits", "*1048577\r\n", "", false},
	{"INT_MAX waits", "*2147483647\r\n", "", false},
	{"above INT_MAX", "*2147483648\r\n", pErr + "invalid multibulk length\r\n", true},
	{"max int64", "*9223372036854775807\r\n", pErr + "invalid multibulk length\r\n", true},
	{"leading zero count", "*01\r\n", pErr + "invalid multibulk length\r\n", true},
	{"plus sign count", "*+1\r\n", pErr + "invalid multibulk length\r\n", true},
	{"space before count", "* 1\r\n", pErr + "invalid multibulk length\r\n", true},
	{"space after count", "*1 \r\n", pErr + "invalid multibulk length\r\n", true},
	{"empty count", "*\r\n", pErr + "invalid multibulk length\r\n", true},
	{"minus zero count", "*-0\r\n", pErr + "invalid multibulk length\r\n", true},
	{"LF only count line", "*1\n$4\r\nPING\r\n", pErr + "invalid multibulk length\r\n", true},
	{"byte after CR unchecked", "*1\rX$4\r\nPING\r\n", pong, false},
	{"count line waits for byte after CR", "*1\r", "", false},
	{"NUL hides CR of count", "*1\x00\r\n", "", false},
	{"count string at limit", "*" + rep("1", 65535) + "\r\n", pErr + "invalid multibulk length\r\n", true},
	{"too big count string", "*" + rep("1", 65536), pErr + "too big mbulk count string\r\n", true},

	// bulk headers and payloads
	{"bad bulk length", "*2\r\n$abc\r\n", pErr + "invalid bulk length\r\n", true},
	{"bulk above proto-max-bulk-len", "*1\r\n$536870913\r\n", pErr + "invalid bulk length\r\n", true},
	{"bulk at proto-max-bulk-len waits", "*1\r\n$536870912\r\n", "", false},
	{"negative bulk", "*1\r\n$-1\r\n", pErr + "invalid bulk length\r\n", true},
	{"minus zero bulk", "*2\r\n$4\r\nECHO\r\n$-0\r\n", pErr + "invalid bulk length\r\n", true},
	{"leading zero bulk", "*1\r\n$04\r\nPING\r\n", pErr + "invalid bulk length\r\n", true},
	{"empty bulk length", "*1\r\n$\r\n", pErr + "invalid bulk length\r\n", true},
	{"space in bulk length", "*1\r\n$ 4\r\n", pErr + "invalid bulk length\r\n", true},
	{"space after bulk length", "*1\r\n$4 \r\n", pErr + "invalid bulk length\r\n", true},
	{"bulk length overflow", "*1\r\n$9223372036854775808\r\n", pErr + "invalid bulk length\r\n", true},
	{"LF only bulk line waits", "*1\r\n$4\n", "", false},
	{"LF only bulk line", "*1\r\n$4\nPING\r\n", pErr + "invalid bulk length\r\n", true},
	{"bulk line waits for byte after CR", "*1\r\n$4\r", "", false},
	{"byte after bulk CR unchecked", "*1\r\n$4\rXPING\r\n", pong, false},
	{"NUL hides CR of bulk length", "*1\r\n$4\x00\r\nPING\r\n", "", false},
	{"expected dollar", "*1\r\nx\r\n", pErr + "expected '$', got 'x'\r\n", true},
	{"expected dollar got colon", "*1\r\n:4\r\n", pErr + "expected '$', got ':'\r\n", true},
	{"expected dollar got CR", "*1\r\n\r\n", pErr + "expected '$', got ' '\r\n", true},
	{"expected dollar got LF", "*1\r\n\nx\r\n", pErr + "expected '$', got ' '\r\n", true},
	{"expected dollar got 0xff", "*1\r\n\xffx\r\n", pErr + "expected '$', got '\xff'\r\n", true},
	{"expected dollar got 0x01", "*1\r\n\x01x\r\n", pErr + "expected '$', got '\x01'\r\n", true},
	{"NUL instead of dollar waits", "*1\r\n\x00x\r\n", "", false},
	{"bulk length string at limit", "*1\r\n$" + rep("1", 65535) + "\r\n", pErr + "invalid bulk length\r\n", true},
	{"too big bulk count string", "*1\r\n$" + rep("1", 65536), pErr + "too big bulk count string\r\n", true},
	{"trailer bytes unchecked", "*1\r\n$4\r\nPINGxxPING\r\n", pong + pong, false},
	{"short payload eats the trailer", "*2\r\n$4\r\nECHO\r\n$1\r\nab\r\n", "$1\r\na\r\n", false},
	{"NUL inside payload", "*2\r\n$4\r\nECHO\r\n$3\r\na\x00b\r\n", "$3\r\na\x00b\r\n", false},
	{"empty payload", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", "$0\r\n\r\n", false},
	{"trailing NUL waits", "*1\r\n$4\r\nPING\r\n\x00", pong, false},
	{"pipelined multibulk", "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", pong + pong, false},
	{"replies before the error", "PING\r\n*abc\r\nPING\r\n", pong + pErr + "invalid multibulk length\r\n", true},
	{"multibulk then QUIT drops the rest", "*1\r\n$4\r\nPING\r\nQUIT\r\nPING\r\n", pong + "+OK\r\n", true},
}

// unauthCases need a server where authentication is required.
var unauthCases = []redisCase{
	{"unauthenticated 11 arguments", "*11\r\n", pErr + "unauthenticated multibulk length\r\n", true},
	{"unauthenticated 10 arguments wait", "*10\r\n", "", false},
	{"unauthenticated big bulk", "*1\r\n$16385\r\n", pErr + "unauthenticated bulk length\r\n", true},
	{"unauthenticated bulk at limit waits", "*1\r\n$16384\r\n", "", false},
}

func runCases(t *testing.T, addr string, cases []redisCase) {
	for _, c := range cases {
		got, err := roundTrip(t, addr, c.in, !c.closes)
		if err != nil && !isReset(err) {
			t.Errorf("%s: %v (read %q)", c.name, err, got)
			continue
		}
		if got != c.reply {
			t.Errorf("%s: sent %q\n got  %q\n want %q", c.name, trim(c.in), got, c.reply)
		}
	}
}

func trim(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func TestRedisProtocolExpectations(t *testing.T) {
	_, addr := startServer(t, Config{}, newTestHandler())
	runCases(t, addr, redisCases)
}

func TestRedisUnauthenticatedLimits(t *testing.T) {
	cfg := Config{AuthRequired: func(c *Client) bool { return !c.Authenticated }}
	_, addr := startServer(t, cfg, newTestHandler())
	runCases(t, addr, unauthCases)
}

// TestRedisProtocolExpectationsLive replays the expectations against a real
// redis-server when one is installed, so that the table stays true.
func TestRedisProtocolExpectationsLive(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	addr := startRedis(t)
	runCases(t, addr, redisCases)
	authAddr := startRedis(t, "--requirepass", "pw", "--maxclients", "2")
	runCases(t, authAddr, unauthCases)

	// maxclients: two held connections, the third is refused.
	for i := 0; i < 2; i++ {
		c := dial(t, authAddr)
		c.Write([]byte("PING\r\n"))
		if got := readN(t, c, len("-NOAUTH Authentication required.\r\n")); got != "-NOAUTH Authentication required.\r\n" {
			t.Fatalf("got %q", got)
		}
	}
	got, err := roundTrip(t, authAddr, "PING\r\n", false)
	if err != nil && !isReset(err) {
		t.Fatal(err)
	}
	if got != maxClientsReply {
		t.Fatalf("over maxclients: got %q", got)
	}
}

// startRedis runs redis-server on a free 127.0.0.1 port until the test ends.
func startRedis(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	argv := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", t.TempDir()}, args...)
	cmd := exec.Command(bin, argv...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(ioDeadline)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
