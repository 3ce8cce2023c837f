package commands

import (
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// hashRESP is a parsed RESP2/RESP3 reply, for tests that compare replies
// by their meaning rather than their bytes (random or unordered replies).
type hashRESP struct {
	typ   byte   // the RESP type byte: '+', '-', ':', '$', '*', '%', '~', '_', ','...
	s     string // simple, error, integer, bulk and double payloads
	null  bool   // $-1, *-1 or _
	elems []hashRESP
}

// parseHashRESP parses one raw reply (as returned by harness.do or
// realRedis.do).
func parseHashRESP(t *testing.T, raw string) hashRESP {
	t.Helper()
	v, rest, err := parseHashRESPPrefix(raw)
	if err != nil || rest != "" {
		t.Fatalf("bad reply %q: %v (rest %q)", raw, err, rest)
	}
	return v
}

func parseHashRESPPrefix(s string) (hashRESP, string, error) {
	i := strings.Index(s, "\r\n")
	if i < 1 {
		return hashRESP{}, "", fmt.Errorf("no line")
	}
	v := hashRESP{typ: s[0]}
	body, rest := s[1:i], s[i+2:]
	switch v.typ {
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return v, "", err
		}
		if n < 0 {
			v.null = true
			return v, rest, nil
		}
		if len(rest) < n+2 {
			return v, "", fmt.Errorf("short bulk")
		}
		v.s = rest[:n]
		return v, rest[n+2:], nil
	case '*', '%', '~', '>':
		n, err := strconv.Atoi(body)
		if err != nil {
			return v, "", err
		}
		if n < 0 {
			v.null = true
			return v, rest, nil
		}
		if v.typ == '%' {
			n *= 2
		}
		for j := 0; j < n; j++ {
			var e hashRESP
			e, rest, err = parseHashRESPPrefix(rest)
			if err != nil {
				return v, "", err
			}
			v.elems = append(v.elems, e)
		}
		return v, rest, nil
	case '_':
		v.null = true
		return v, rest, nil
	}
	v.s = body
	return v, rest, nil
}

// hashPairsOf returns the field/value pairs of a flat array or a map reply,
// sorted, one "field\x00value" string each.
func hashPairsOf(t *testing.T, v hashRESP) []string {
	t.Helper()
	if len(v.elems)%2 != 0 {
		t.Fatalf("odd pair list %+v", v)
	}
	var out []string
	for i := 0; i < len(v.elems); i += 2 {
		out = append(out, v.elems[i].s+"\x00"+v.elems[i+1].s)
	}
	sort.Strings(out)
	return out
}

// hashDiffGen generates random hash commands over a few keys, with fields
// and values chosen to hit the interesting cases: integer and float
// boundaries, binary bytes, and lengths on both sides of the listpack
// value limit the test configures.
type hashDiffGen struct {
	rng  *rand.Rand
	keys []string
}

func (g *hashDiffGen) key() string { return g.keys[g.rng.Intn(len(g.keys))] }

func (g *hashDiffGen) field() string {
	// Fields and values of 12 and 13 bytes sit on the listpack value
	// limit the test configures; they are rare so that hashes stay
	// listpack encoded for a while.
	if g.rng.Intn(20) == 0 {
		return []string{"a-field-longer-than-the-limit", "twelve-bytes", "thirteen-byte"}[g.rng.Intn(3)]
	}
	if g.rng.Intn(4) == 0 {
		return "f" + strconv.Itoa(g.rng.Intn(40))
	}
	fields := []string{"a", "b", "c", "d", "e", "f", "", "\x00", "a\x00b", "\xff\xfe", "n", "x"}
	return fields[g.rng.Intn(len(fields))]
}

func (g *hashDiffGen) value() string {
	if g.rng.Intn(15) == 0 {
		return []string{"a value longer than the limit", "123456789012", "1234567890123",
			"1.2345678901", "-1.234567890", "twelve-bytes", "thirteen-byte"}[g.rng.Intn(7)]
	}
	if g.rng.Intn(3) == 0 {
		return strconv.Itoa(g.rng.Intn(200) - 100)
	}
	vals := []string{"0", "1", "-1", "10", "007", " 1", "1 ", "1.5", "-2.25", "1e3", "abc", "",
		"9223372036854775807", "-9223372036854775808", "9223372036854775806", "inf", "nan",
		"0x10", "1\x002"}
	return vals[g.rng.Intn(len(vals))]
}

func (g *hashDiffGen) incr() string {
	incrs := []string{"1", "-1", "0", "100", "9223372036854775807", "-9223372036854775808",
		"abc", "1.5", "", "4611686018427387904"}
	return incrs[g.rng.Intn(len(incrs))]
}

func (g *hashDiffGen) floatIncr() string {
	if g.rng.Intn(8) == 0 {
		// Results too long for a listpack, or errors.
		return []string{"1e-17", "0x1p-3", "inf", "-inf", "nan", "abc", "1.7976931348623157e308",
			"1e100", "123456789.123456789"}[g.rng.Intn(9)]
	}
	incrs := []string{"1", "-1", "0.5", "1.5", "-2.25", "1e3", "5.0e3", ".5", "+3", "-0.25", "0x10"}
	return incrs[g.rng.Intn(len(incrs))]
}

func (g *hashDiffGen) count() string {
	counts := []string{"0", "1", "2", "3", "5", "-1", "-2", "-5", "-20", "100", "x",
		"-9223372036854775808", "9223372036854775807", "4611686018427387904", "-4611686018427387904"}
	return counts[g.rng.Intn(len(counts))]
}

// next returns a command and how to compare its replies.
func (g *hashDiffGen) next() (args []string, kind string) {
	k := g.key()
	r := g.rng
	switch r.Intn(23) {
	case 0, 1, 2:
		args = []string{"HSET", k}
		for n := 1 + r.Intn(3); n > 0; n-- {
			args = append(args, g.field(), g.value())
		}
		if r.Intn(15) == 0 {
			args = args[:len(args)-1] // odd: arity error
		}
		return args, "exact"
	case 3:
		return []string{"HMSET", k, g.field(), g.value(), g.field(), g.value()}, "exact"
	case 4:
		return []string{"HSETNX", k, g.field(), g.value()}, "exact"
	case 5:
		return []string{"HGET", k, g.field()}, "exact"
	case 6:
		return []string{"HMGET", k, g.field(), g.field(), g.field()}, "exact"
	case 7:
		args = []string{"HDEL", k}
		for n := 1 + r.Intn(4); n > 0; n-- {
			args = append(args, g.field())
		}
		return args, "exact"
	case 8:
		return []string{"HLEN", k}, "exact"
	case 9:
		return []string{"HEXISTS", k, g.field()}, "exact"
	case 10:
		return []string{"HSTRLEN", k, g.field()}, "exact"
	case 11, 12:
		return []string{"HINCRBY", k, g.field(), g.incr()}, "exact"
	case 13, 14:
		return []string{"HINCRBYFLOAT", k, g.field(), g.floatIncr()}, "exact"
	case 15:
		return []string{[]string{"HGETALL", "HKEYS", "HVALS"}[r.Intn(3)], k}, "unordered"
	case 16, 17:
		args = []string{"HRANDFIELD", k}
		if r.Intn(4) > 0 {
			c := g.count()
			args = append(args, c)
			// Redis would try to send a reply of 2^62 elements for a
			// huge negative count without WITHVALUES (which it refuses).
			if r.Intn(2) == 0 || strings.HasPrefix(c, "-4611") || strings.HasPrefix(c, "-9223") {
				args = append(args, []string{"WITHVALUES", "withvalues", "WITHVALUE"}[r.Intn(3)])
			}
		}
		return args, "random"
	case 18:
		args = []string{"HSCAN", k, []string{"0", "0", "0", "x", "17"}[r.Intn(5)]}
		if r.Intn(2) == 0 {
			args = append(args, "COUNT", []string{"1", "3", "10", "0", "x"}[r.Intn(5)])
		}
		if r.Intn(3) == 0 {
			args = append(args, "MATCH", []string{"*", "f1*", "[a-c]", "nothing", "*\x00*"}[r.Intn(5)])
		}
		return args, "scan"
	case 19, 20, 21:
		switch r.Intn(5) {
		case 0:
			return []string{"DEL", k}, "exact"
		case 1:
			return []string{"SET", k, "string"}, "exact"
		case 2:
			return []string{"PEXPIREAT", k, "1"}, "exact"
		case 3:
			return []string{"EXPIREAT", k, "4102444800"}, "exact"
		}
		return []string{"UNLINK", k}, "exact"
	default:
		// Bulk growth, so that hashes cross the entries limit.
		args = []string{"HSET", k}
		for n := 3 + r.Intn(6); n > 0; n-- {
			args = append(args, "f"+strconv.Itoa(r.Intn(40)), strconv.Itoa(r.Intn(1000)))
		}
		return args, "exact"
	}
}

// TestHashDifferentialAgainstRedis runs the same seeded random sequence of
// hash commands on the harness and on a real redis-server, in RESP2 and
// RESP3, with small listpack limits so that encodings change often. It
// compares deterministic replies byte for byte, unordered replies as
// multisets, random replies (HRANDFIELD) by shape and membership, HSCAN by
// the set of entries a full iteration returns, and after every command
// the key's encoding (OBJECT ENCODING in Redis, Meta.Big in Skerry).
func TestHashDifferentialAgainstRedis(t *testing.T) {
	rr := startRealRedis(t)
	const steps = 2500
	for _, proto := range []int{2, 3} {
		rr.do(t, "HELLO", strconv.Itoa(proto))
		rr.do(t, "FLUSHALL")
		h := newHarness(t)
		h.c.Proto = proto
		for _, kv := range [][2]string{{"hash-max-listpack-entries", "8"}, {"hash-max-listpack-value", "12"}} {
			rr.do(t, "CONFIG", "SET", kv[0], kv[1])
			h.expect("+OK\r\n", "CONFIG", "SET", kv[0], kv[1])
		}
		g := &hashDiffGen{rng: rand.New(rand.NewSource(int64(41 + proto))), keys: []string{"h1", "h2", "h3"}}
		encodings := map[string]int{}
		for i := 0; i < steps; i++ {
			args, kind := g.next()
			var contents hashRESP
			if kind == "random" {
				contents = parseHashRESP(t, rr.do(t, "HGETALL", args[1]))
			}
			want := rr.do(t, args...)
			got := h.do(args...)
			where := fmt.Sprintf("RESP%d step %d %q", proto, i, args)
			switch kind {
			case "exact":
				if got != want {
					t.Fatalf("%s: skerry %q, redis %q", where, got, want)
				}
			case "unordered":
				hashCompareUnordered(t, where, got, want)
			case "random":
				checkHrandfield(t, where, proto, args, contents, got, want)
			case "scan":
				checkHscan(t, where, rr, h, args, got, want)
			}
			encodings[args[0]+" "+hashCompareEncoding(t, where, rr, h, args[1])]++
			if strings.HasPrefix(want, "-") {
				encodings["error"]++
			}
		}
		t.Logf("RESP%d: commands by name and encoding after them: %v", proto, encodings)
		for _, k := range g.keys {
			hashCompareUnordered(t, "final HGETALL "+k, h.do("HGETALL", k), rr.do(t, "HGETALL", k))
		}
	}
}

func hashCompareUnordered(t *testing.T, where, got, want string) {
	t.Helper()
	gv, wv := parseHashRESP(t, got), parseHashRESP(t, want)
	if gv.typ != wv.typ || len(gv.elems) != len(wv.elems) || gv.s != wv.s {
		t.Fatalf("%s: skerry %q, redis %q", where, got, want)
	}
	var gs, ws []string
	if gv.typ == '%' || (len(gv.elems)%2 == 0 && strings.Contains(where, "HGETALL")) {
		gs, ws = hashPairsOf(t, gv), hashPairsOf(t, wv)
	} else {
		for _, e := range gv.elems {
			gs = append(gs, e.s)
		}
		for _, e := range wv.elems {
			ws = append(ws, e.s)
		}
		sort.Strings(gs)
		sort.Strings(ws)
	}
	if strings.Join(gs, "\x01") != strings.Join(ws, "\x01") {
		t.Fatalf("%s: skerry %q, redis %q", where, got, want)
	}
}

// checkHrandfield checks a HRANDFIELD reply against Redis's: errors and
// shapes must be identical; fields must belong to the hash (contents, its
// HGETALL before the command) with their values; a positive count gives
// distinct fields.
func checkHrandfield(t *testing.T, where string, proto int, args []string, contents hashRESP, got, want string) {
	t.Helper()
	gv, wv := parseHashRESP(t, got), parseHashRESP(t, want)
	if wv.typ == '-' || gv.typ == '-' || wv.null || gv.null {
		if got != want {
			t.Fatalf("%s: skerry %q, redis %q", where, got, want)
		}
		return
	}
	values := map[string]string{}
	for i := 0; i+1 < len(contents.elems); i += 2 {
		values[contents.elems[i].s] = contents.elems[i+1].s
	}
	if len(args) == 2 {
		if gv.typ != '$' || wv.typ != '$' {
			t.Fatalf("%s: skerry %q, redis %q", where, got, want)
		}
		if _, ok := values[gv.s]; !ok {
			t.Fatalf("%s: %q is not a field of the hash", where, gv.s)
		}
		return
	}
	if gv.typ != wv.typ || len(gv.elems) != len(wv.elems) {
		t.Fatalf("%s: skerry %q, redis %q", where, got, want)
	}
	withValues := len(args) == 4
	var fields []string
	switch {
	case withValues && proto == 3:
		for _, e := range gv.elems {
			if e.typ != '*' || len(e.elems) != 2 {
				t.Fatalf("%s: element %+v is not a pair", where, e)
			}
			if v, ok := values[e.elems[0].s]; !ok || v != e.elems[1].s {
				t.Fatalf("%s: pair %q %q is not in the hash", where, e.elems[0].s, e.elems[1].s)
			}
			fields = append(fields, e.elems[0].s)
		}
	case withValues:
		for i := 0; i+1 < len(gv.elems); i += 2 {
			f, v := gv.elems[i].s, gv.elems[i+1].s
			if hv, ok := values[f]; !ok || hv != v {
				t.Fatalf("%s: pair %q %q is not in the hash", where, f, v)
			}
			fields = append(fields, f)
		}
	default:
		for _, e := range gv.elems {
			if _, ok := values[e.s]; !ok {
				t.Fatalf("%s: %q is not a field", where, e.s)
			}
			fields = append(fields, e.s)
		}
	}
	if n, _ := strconv.ParseInt(args[2], 10, 64); n > 0 {
		seen := map[string]bool{}
		for _, f := range fields {
			if seen[f] {
				t.Fatalf("%s: field %q returned twice: %q", where, f, got)
			}
			seen[f] = true
		}
	}
}

// checkHscan compares HSCAN: errors byte for byte; otherwise the entries
// a complete iteration (from cursor 0, same options) returns, as sets,
// with no entry returned twice by Skerry.
func checkHscan(t *testing.T, where string, rr *realRedis, h *harness, args []string, got, want string) {
	t.Helper()
	gv, wv := parseHashRESP(t, got), parseHashRESP(t, want)
	if gv.typ == '-' || wv.typ == '-' {
		if got != want {
			t.Fatalf("%s: skerry %q, redis %q", where, got, want)
		}
		return
	}
	if args[2] != "0" {
		return // a made-up cursor: only errors are comparable
	}
	iterate := func(do func(...string) string, dedupe bool) []string {
		var all []string
		seen := map[string]bool{}
		cursor := "0"
		for pages := 0; pages < 10000; pages++ {
			a := append([]string{"HSCAN", args[1], cursor}, args[3:]...)
			v := parseHashRESP(t, do(a...))
			if v.typ != '*' || len(v.elems) != 2 {
				t.Fatalf("%s: bad HSCAN reply %+v", where, v)
			}
			for _, p := range hashPairsOf(t, v.elems[1]) {
				if seen[p] && !dedupe {
					t.Fatalf("%s: entry %q returned twice", where, p)
				}
				if !seen[p] {
					all = append(all, p)
				}
				seen[p] = true
			}
			cursor = v.elems[0].s
			if cursor == "0" {
				sort.Strings(all)
				return all
			}
		}
		t.Fatalf("%s: HSCAN did not finish", where)
		return nil
	}
	gs := iterate(h.do, false)
	ws := iterate(func(a ...string) string { return rr.do(t, a...) }, true)
	if strings.Join(gs, "\x01") != strings.Join(ws, "\x01") {
		t.Fatalf("%s: skerry iterates %q, redis %q", where, gs, ws)
	}
}

// hashCompareEncoding requires Meta.Big to say what Redis's OBJECT ENCODING
// says of key.
func hashCompareEncoding(t *testing.T, where string, rr *realRedis, h *harness, key string) string {
	t.Helper()
	enc := parseHashRESP(t, rr.do(t, "OBJECT", "ENCODING", key))
	m, ok, err := keyspace.New(h.store.Txn(), 0).Lookup([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	if enc.null != !ok {
		t.Fatalf("%s: key %q exists in skerry: %v, in redis: %v", where, key, ok, !enc.null)
	}
	if !ok || m.Type != keyspace.TypeHash {
		return "none"
	}
	want := map[string]bool{"listpack": false, "hashtable": true}
	big, known := want[enc.s]
	if !known || big != m.Big {
		t.Fatalf("%s: redis encoding %q, skerry Big=%v", where, enc.s, m.Big)
	}
	return enc.s
}
