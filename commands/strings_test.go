package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
)

const (
	errSyntax   = "=-ERR syntax error"
	errNotInt   = "=-ERR value is not an integer or out of range"
	errNotFloat = "=-ERR value is not a valid float"
	errWrong    = "=-WRONGTYPE Operation against a key holding the wrong kind of value"
	emptyBulk   = "=$0\r\n"
)

func TestGetSet(t *testing.T) {
	scriptTest(t, 2, []step{
		{"GET k", "$-1"},
		{"SET k v", "+OK"},
		{"GET k", "$1 v"},
		{`SET bin "a\x00b"`, "+OK"},
		{"GET bin", "=$3\r\na\x00b"},
		{"SET k v2 NX", "$-1"},
		{"SET k2 v2 XX", "$-1"},
		{"SET k v3 XX", "+OK"},
		{"SET k v4 nx get", "$2 v3"},
		{"SET k5 v5 nx get", "$-1"},
		{"GET k5", "$2 v5"},
		{"SET k v5 GET", "$2 v3"},
		{"SET nk v GET", "$-1"},
		{"SET k v NX XX", errSyntax},
		{"SET k v XX NX", errSyntax},
		{"SET k v EX 10 PX 10", errSyntax},
		{"SET k v KEEPTTL EX 10", errSyntax},
		{"SET k v EX 10 KEEPTTL", errSyntax},
		{"SET k v PERSIST", errSyntax},
		{"SET k v EX", errSyntax},
		{"SET k v foo", errSyntax},
		{"SET k v EX 0", "=-ERR invalid expire time in 'set' command"},
		{"SET k v EX -1", "=-ERR invalid expire time in 'set' command"},
		{"SET k v PX 0", "=-ERR invalid expire time in 'set' command"},
		{"SET k v EXAT 0", "=-ERR invalid expire time in 'set' command"},
		{"SET k v PXAT -5", "=-ERR invalid expire time in 'set' command"},
		{"SET k v EX 9223372036854775", "=-ERR invalid expire time in 'set' command"},
		{"SET k v PX 9223372036854775807", "=-ERR invalid expire time in 'set' command"},
		{"SET k v EX abc", errNotInt},
		{"SET k v EX +5", errNotInt},
		{"SET k v EX 10 EX 20", "+OK"},
		{"SET k v KEEPTTL KEEPTTL GET GET", "$1 v"},
		{"SET k v PXAT 1", "+OK"},
		{"GET k", "$-1"},
		{"@list l", ""},
		{"SET l v GET", errWrong},
		{"GET l", errWrong},
		{"SET l v", "+OK"},
		{"GET l", "$1 v"},
		{"SET", "=-ERR wrong number of arguments for 'set' command"},
		{"GET", "=-ERR wrong number of arguments for 'get' command"},
	})
}

func TestSetVariants(t *testing.T) {
	scriptTest(t, 2, []step{
		{"SETNX k v", ":1"},
		{"SETNX k w", ":0"},
		{"GET k", "$1 v"},
		{"@list l", ""},
		{"SETNX l w", ":0"},
		{"SETEX k 0 v", "=-ERR invalid expire time in 'setex' command"},
		{"SETEX k -3 v", "=-ERR invalid expire time in 'setex' command"},
		{"SETEX k x v", errNotInt},
		{"SETEX k 100 v2", "+OK"},
		{"GET k", "$2 v2"},
		{"PSETEX k 0 v", "=-ERR invalid expire time in 'psetex' command"},
		{"PSETEX k 100000 v3", "+OK"},
		{"GET k", "$2 v3"},
		{"GETSET k v4", "$2 v3"},
		{"GETSET nk v", "$-1"},
		{"GETSET l v", errWrong},
		{"GETDEL k", "$2 v4"},
		{"GETDEL k", "$-1"},
		{"GETDEL l", errWrong},
		{"GET k", "$-1"},
		{"GETEX nk", "$1 v"},
		{"GETEX missing", "$-1"},
		{"GETEX missing EX 0", "$-1"},
		{"GETEX missing EX x", "$-1"},
		{"GETEX nk EX 0", "=-ERR invalid expire time in 'getex' command"},
		{"GETEX nk PX -1", "=-ERR invalid expire time in 'getex' command"},
		{"GETEX nk EX x", errNotInt},
		{"GETEX nk KEEPTTL", errSyntax},
		{"GETEX nk NX", errSyntax},
		{"GETEX nk PERSIST EX 1", errSyntax},
		{"GETEX nk EX 1 PERSIST", errSyntax},
		{"GETEX nk EX 1 PX 1", errSyntax},
		{"GETEX nk PERSIST PERSIST", "$1 v"},
		{"GETEX nk EX 100", "$1 v"},
		{"GETEX l", errWrong},
		{"GETEX l EX 0", errWrong},
		{"GETEX nk PXAT 1", "$1 v"},
		{"GET nk", "$-1"},
	})
}

func TestMultiKey(t *testing.T) {
	scriptTest(t, 2, []step{
		{"MSET a 1 b 2", "+OK"},
		{"MSET a 1 b", "=-ERR wrong number of arguments for 'mset' command"},
		{"MSET a", "=-ERR wrong number of arguments for 'mset' command"},
		{"@list l", ""},
		{"MGET a b c l a", "*5 $1 1 $1 2 $-1 $-1 $1 1"},
		{"MSETNX a 1 c", "=-ERR wrong number of arguments for 'msetnx' command"},
		{"MSETNX c 3 a 9", ":0"},
		{"MSETNX c 3 l 9", ":0"},
		{"GET c", "$-1"},
		{"MSETNX c 3 d 4", ":1"},
		{"MGET c d", "*2 $1 3 $1 4"},
		{"MSET l v", "+OK"},
		{"GET l", "$1 v"},
	})
}

func TestAppendStrlenRange(t *testing.T) {
	scriptTest(t, 2, []step{
		{"APPEND k foo", ":3"},
		{"APPEND k bar", ":6"},
		{`APPEND k "\x00z"`, ":8"},
		{"STRLEN k", ":8"},
		{"STRLEN nokey", ":0"},
		{"@list l", ""},
		{"APPEND l x", errWrong},
		{"STRLEN l", errWrong},
		{"GETRANGE k 0 2", "$3 foo"},
		{"GETRANGE k -3 -1", "=$3\r\nr\x00z"},
		{"GETRANGE k 5 2", emptyBulk},
		{"GETRANGE k -1 -5", emptyBulk},
		{"GETRANGE k 100 200", emptyBulk},
		{"GETRANGE k -100 1", "$2 fo"},
		{"GETRANGE k 0 -100", "$1 f"},
		{"GETRANGE nokey 0 1", emptyBulk},
		{"GETRANGE k a 1", errNotInt},
		{"GETRANGE k 0 1.5", errNotInt},
		{"GETRANGE l 0 1", errWrong},
		{"SUBSTR k 3 5", "$3 bar"},
		{"SET e ''", "+OK"},
		{"GETRANGE e 0 -1", emptyBulk},
		{"SETRANGE k -1 x", "=-ERR offset is out of range"},
		{"SETRANGE k x x", errNotInt},
		{"SETRANGE k 536870912 x", "=-ERR string exceeds maximum allowed size (proto-max-bulk-len)"},
		{"SETRANGE nk 536870912 ''", ":0"},
		{"GET nk", "$-1"},
		{"SETRANGE k 536870912 ''", ":8"},
		{"SETRANGE k 1 OO", ":8"},
		{"GETRANGE k 0 3", "$4 fOOb"},
		{"SETRANGE k 10 Z", ":11"},
		{"GET k", "=$11\r\nfOObar\x00z\x00\x00Z"},
		{"SETRANGE nk 3 ab", ":5"},
		{"GET nk", "=$5\r\n\x00\x00\x00ab"},
		{"SETRANGE l 0 x", errWrong},
		{"SETRANGE l 0 ''", errWrong},
	})
}

func TestIncrDecr(t *testing.T) {
	scriptTest(t, 2, []step{
		{"INCR n", ":1"},
		{"INCRBY n 10", ":11"},
		{"DECR n", ":10"},
		{"DECRBY n 20", ":-10"},
		{"INCRBY n -5", ":-15"},
		{"INCRBY n x", errNotInt},
		{"INCRBY n 1.5", errNotInt},
		{"DECRBY n -9223372036854775808", "=-ERR decrement would overflow"},
		{"SET n 9223372036854775807", "+OK"},
		{"INCR n", "=-ERR increment or decrement would overflow"},
		{"DECRBY n -1", "=-ERR increment or decrement would overflow"},
		{"SET n -9223372036854775808", "+OK"},
		{"DECR n", "=-ERR increment or decrement would overflow"},
		{"INCRBY n -1", "=-ERR increment or decrement would overflow"},
		{"INCRBY n 9223372036854775807", ":-1"},
		{"SET n ' 1'", "+OK"},
		{"INCR n", errNotInt},
		{"SET n 01", "+OK"},
		{"INCR n", errNotInt},
		{"SET n -0", "+OK"},
		{"INCR n", errNotInt},
		{"SET n 12345678901234567890", "+OK"},
		{"INCR n", errNotInt},
		{"SET n abc", "+OK"},
		{"DECR n", errNotInt},
		{"@list l", ""},
		{"INCR l", errWrong},
		{"INCRBY l x", errNotInt},
		{"DECRBY l -9223372036854775808", "=-ERR decrement would overflow"},
	})
}

func TestIncrByFloat(t *testing.T) {
	scriptTest(t, 2, []step{
		{"INCRBYFLOAT f 10.5", "$4 10.5"},
		{"INCRBYFLOAT f 0.1", "$4 10.6"},
		{"SET f 5.0e3", "+OK"},
		{"INCRBYFLOAT f 2.0e2", "$4 5200"},
		{"SET f 3.0e3", "+OK"},
		{"INCRBYFLOAT f 1.5", "$6 3001.5"},
		{"INCRBYFLOAT g 1.1e-5", "$8 0.000011"},
		{"INCRBYFLOAT h 1e-18", "$1 0"},
		{"INCRBYFLOAT i -0.0", "$1 0"},
		{"INCRBYFLOAT j 0x10", "$2 16"},
		{"INCRBYFLOAT j 0x1p-2", "$5 16.25"},
		{"INCRBYFLOAT j .5", "$5 16.75"},
		{"INCRBYFLOAT j 5.", "$5 21.75"},
		{"INCRBYFLOAT j +1", "$5 22.75"},
		{"INCRBYFLOAT j -22.75", "$1 0"},
		{"INCRBYFLOAT k 0.000003814697265625", "$19 0.00000381469726562"},
		{"INCRBYFLOAT k2 1.000000000000000005", "$1 1"},
		{"INCRBYFLOAT k3 0.3", "$3 0.3"},
		{"INCRBYFLOAT k3 0.3", "$3 0.6"},
		{"INCRBYFLOAT k3 0.3", "$3 0.9"},
		{"INCRBYFLOAT k3 -1.2", "$4 -0.3"},
		{"INCRBYFLOAT k4 1e30", "$31 1000000000000000000024696061952"},
		{"INCRBYFLOAT k4 1", "$31 1000000000000000000024696061952"},
		{"INCRBYFLOAT k5 123456789012345678901234567890", "$30 123456789012345678899921813504"},
		{"INCRBYFLOAT k6 3.14159265358979323846264338327950288", "$19 3.14159265358979324"},
		{"INCRBYFLOAT k7 -1e-17", "$20 -0.00000000000000001"},
		{"INCRBYFLOAT x inf", "=-ERR increment would produce NaN or Infinity"},
		{"INCRBYFLOAT x -inf", "=-ERR increment would produce NaN or Infinity"},
		{"INCRBYFLOAT x +Infinity", "=-ERR increment would produce NaN or Infinity"},
		{"INCRBYFLOAT x nan", errNotFloat},
		{"INCRBYFLOAT x 1e5000", errNotFloat},
		{"INCRBYFLOAT x 1e-5000", errNotFloat},
		{"INCRBYFLOAT x 1.2e4932", errNotFloat},
		{"INCRBYFLOAT x ' 1'", errNotFloat},
		{"INCRBYFLOAT x '1 '", errNotFloat},
		{"INCRBYFLOAT x 1_0", errNotFloat},
		{"INCRBYFLOAT x 1e", errNotFloat},
		{"INCRBYFLOAT x 0x", errNotFloat},
		{"INCRBYFLOAT x ''", errNotFloat},
		{"INCRBYFLOAT x abc", errNotFloat},
		{"SET s abc", "+OK"},
		{"INCRBYFLOAT s 1", errNotFloat},
		{"@list l", ""},
		{"INCRBYFLOAT l 1", errWrong},
		{"INCRBYFLOAT l x", errWrong},
	})
}

func TestLCS(t *testing.T) {
	steps := []step{
		{"MSET a ohmytext b mynewtext", "+OK"},
		{"LCS a b", "$6 mytext"},
		{"LCS a b LEN", ":6"},
		{"LCS a b IDX", "*4 $7 matches *2 *2 *2 :4 :7 *2 :5 :8 *2 *2 :2 :3 *2 :0 :1 $3 len :6"},
		{"LCS a b IDX MINMATCHLEN 4", "*4 $7 matches *1 *2 *2 :4 :7 *2 :5 :8 $3 len :6"},
		{"LCS a b IDX WITHMATCHLEN", "*4 $7 matches *2 *3 *2 :4 :7 *2 :5 :8 :4 *3 *2 :2 :3 *2 :0 :1 :2 $3 len :6"},
		{"LCS a b IDX MINMATCHLEN -5 WITHMATCHLEN", "*4 $7 matches *2 *3 *2 :4 :7 *2 :5 :8 :4 *3 *2 :2 :3 *2 :0 :1 :2 $3 len :6"},
		{"LCS a b LEN IDX", "=-ERR If you want both the length and indexes, please just use IDX."},
		{"LCS a b MINMATCHLEN", errSyntax},
		{"LCS a b MINMATCHLEN x", errNotInt},
		{"LCS a b foo", errSyntax},
		{"LCS a nokey", emptyBulk},
		{"LCS a nokey IDX", "*4 $7 matches *0 $3 len :0"},
		{"LCS nokey nokey2 LEN", ":0"},
		{"@list l", ""},
		{"LCS a l", "=-ERR The specified keys must contain string values"},
		{"LCS l a foo", "=-ERR The specified keys must contain string values"},
		{"MSET x abcabc y cbacba", "+OK"},
		{"LCS x y", "$3 cbc"},
		{"LCS x y IDX WITHMATCHLEN", "*4 $7 matches *3 *3 *2 :5 :5 *2 :3 :3 :1 *3 *2 :4 :4 *2 :1 :1 :1 *3 *2 :2 :2 *2 :0 :0 :1 $3 len :3"},
	}
	scriptTest(t, 2, steps)
}

func TestLCSResp3(t *testing.T) {
	scriptTest(t, 3, []step{
		{"MSET a ohmytext b mynewtext", "+OK"},
		{"LCS a b IDX MINMATCHLEN 4", "%2 $7 matches *1 *2 *2 :4 :7 *2 :5 :8 $3 len :6"},
		{"GET nokey", "_"},
		{"MGET a nokey", "*2 $8 ohmytext _"},
	})
}

// TestIncrByFloatHuge checks the longest values INCRBYFLOAT prints: the
// exact decimal expansion of a long double near LDBL_MAX, as recorded from
// Redis 7.0.15, and the overflow that follows.
func TestIncrByFloatHuge(t *testing.T) {
	h := newHarness(t)
	got := h.do("INCRBYFLOAT", "x", "1.1e4932")
	v, ok := strings.CutPrefix(got, "$4933\r\n")
	if !ok || !strings.HasPrefix(v, "10999999999999999999743731075282418176590308692790434077349") {
		t.Fatalf("got %.80q", got)
	}
	sum := sha256.Sum256([]byte(strings.TrimSuffix(v, "\r\n")))
	if hex.EncodeToString(sum[:]) != "d75f99cd3adac4313716bd597f67155354443b7fe6aa113f3a6fddfc08de1187" {
		t.Fatalf("digits differ from Redis 7.0.15")
	}
	h.expect("-ERR increment would produce NaN or Infinity\r\n", "INCRBYFLOAT", "x", "1.1e4932")
}

// expireAt returns the stored absolute expiry of key (0: none); -1 when
// the key is absent.
func expireAt(t *testing.T, h *harness, key string) int64 {
	t.Helper()
	m, ok, err := keyspace.New(h.store.Txn(), 0).Lookup([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return -1
	}
	return m.ExpireAt
}

// TestTTLRules checks which commands keep, set or clear a key's TTL.
func TestTTLRules(t *testing.T) {
	const ttl = 100000
	at := int64(harnessNowMs + ttl)
	keep := [][]string{
		{"APPEND", "k", "x"},
		{"SETRANGE", "k", "0", "1"},
		{"INCR", "k"},
		{"INCRBY", "k", "5"},
		{"DECRBY", "k", "5"},
		{"DECR", "k"},
		{"INCRBYFLOAT", "k", "1.5"},
		{"SETBIT", "k", "100", "1"},
		{"BITFIELD", "k", "SET", "u8", "0", "49"},
		{"GETEX", "k"},
		{"SET", "k", "v", "KEEPTTL"},
		{"SET", "k", "v", "XX", "KEEPTTL", "GET"},
		{"SETNX", "k", "v"},
		{"MSETNX", "k", "v", "other", "v"},
	}
	for _, cmd := range keep {
		h := newHarness(t)
		h.expect("+OK\r\n", "SET", "k", "1", "PX", strconv.Itoa(ttl))
		h.do(cmd...)
		if got := expireAt(t, h, "k"); got != at {
			t.Errorf("%q: expireAt %d, want %d (kept)", cmd, got, at)
		}
	}
	clear := [][]string{
		{"SET", "k", "v"},
		{"SET", "k", "v", "GET"},
		{"GETSET", "k", "v"},
		{"MSET", "k", "v"},
		{"GETEX", "k", "PERSIST"},
		{"BITOP", "NOT", "k", "k"},
	}
	for _, cmd := range clear {
		h := newHarness(t)
		h.expect("+OK\r\n", "SET", "k", "1", "PX", strconv.Itoa(ttl))
		h.do(cmd...)
		if got := expireAt(t, h, "k"); got != 0 {
			t.Errorf("%q: expireAt %d, want 0 (cleared)", cmd, got)
		}
	}
	set := []struct {
		cmd  []string
		want int64
	}{
		{[]string{"SET", "k", "v", "EX", "10"}, harnessNowMs + 10000},
		{[]string{"SET", "k", "v", "PX", "10"}, harnessNowMs + 10},
		{[]string{"SET", "k", "v", "EXAT", "1900000000"}, 1900000000000},
		{[]string{"SET", "k", "v", "PXAT", "1900000000123"}, 1900000000123},
		{[]string{"SETEX", "k", "7", "v"}, harnessNowMs + 7000},
		{[]string{"PSETEX", "k", "7", "v"}, harnessNowMs + 7},
		{[]string{"GETEX", "k", "EX", "3"}, harnessNowMs + 3000},
		{[]string{"GETEX", "k", "PXAT", "1900000000123"}, 1900000000123},
		{[]string{"GETEX", "k", "EXAT", "1"}, -1},
		{[]string{"SET", "k", "v", "PXAT", strconv.FormatInt(harnessNowMs, 10)}, -1},
	}
	for _, c := range set {
		h := newHarness(t)
		h.expect("+OK\r\n", "SET", "k", "1", "PX", strconv.Itoa(ttl))
		h.do(c.cmd...)
		if got := expireAt(t, h, "k"); got != c.want {
			t.Errorf("%q: expireAt %d, want %d", c.cmd, got, c.want)
		}
	}

	// An expired key is absent for every command.
	h := newHarness(t)
	h.expect("+OK\r\n", "SET", "k", "10", "PX", "5")
	h.store.Now += 5
	h.expect("$-1\r\n", "GET", "k")
	h.expect(":1\r\n", "INCR", "k")
	if got := expireAt(t, h, "k"); got != 0 {
		t.Errorf("INCR on an expired key kept its TTL: %d", got)
	}
	h.expect("+OK\r\n", "SET", "j", "abc", "PX", "5")
	h.store.Now += 5
	h.expect(":0\r\n", "STRLEN", "j")
	h.expect(":1\r\n", "SETNX", "j", "v")
}
