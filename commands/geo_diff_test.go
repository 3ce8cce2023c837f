package commands

import (
	"bufio"
	"bytes"
	"math"
	"math/rand"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/resp"
)

// TestGeoDifferential sends the same seeded random GEO commands to the
// harness and to a fresh redis-server (skipped when it is not installed),
// in RESP2 and RESP3, and requires byte-identical replies. Points cluster
// around a few places (including the poles' Mercator limits and the
// antimeridian) so that searches find many members, ties in distance
// occur, and every search radius from zero to the whole Earth is tried.
// After every command the stored sorted sets are compared with Redis's
// ZRANGE WITHSCORES and OBJECT ENCODING, and their records are checked
// against each other.
func TestGeoDifferential(t *testing.T) {
	rr := startRealRedis(t)
	// A second, RESP2 connection reads the sets back for the checks.
	conn, err := net.Dial("tcp", rr.conn.RemoteAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	inspect := &realRedis{conn: conn, r: bufio.NewReader(conn)}
	stats := map[string]int{}
	steps := 1500
	if testing.Short() {
		steps = 300
	}
	for _, proto := range []int{2, 3} {
		for seed := int64(1); seed <= 3; seed++ {
			rr.do(t, "HELLO", strconv.Itoa(proto))
			rr.do(t, "FLUSHALL")
			h := newHarness(t)
			h.c.Proto = proto
			// One seed converts sets to skiplists early.
			entries := "128"
			if seed == 2 {
				entries = "6"
			}
			for _, tgt := range []func(...string) string{h.do, func(a ...string) string { return rr.do(t, a...) }} {
				tgt("CONFIG", "SET", "zset-max-listpack-entries", entries)
			}
			runGeoDiff(t, rr, inspect, h, rand.New(rand.NewSource(seed*10+int64(proto))), steps, stats)
		}
	}
	rr.do(t, "CONFIG", "SET", "zset-max-listpack-entries", "128")
	t.Logf("replies by kind: %v", stats)
	// The run must have searched populated sets, and stored distances
	// must match Redis's to the last bit all but rarely (with Go's math
	// package instead of geoSin, geoCos and geoAsin, most sets differ).
	if found := stats["search many"] + stats["search few"]; found < steps/10 {
		t.Errorf("only %d searches found members", found)
	}
	if stats["approximate distances"] > stats["checks of distances"]/10 {
		t.Errorf("%d of %d stored distances differ in their last bits", stats["approximate distances"], stats["checks of distances"])
	}
}

// geoPlaces are the centres points and searches cluster around.
var geoPlaces = [][2]float64{
	{13.361389, 38.115556}, {15.087269, 37.502669}, {0, 0}, {-0.0001, 0.0001},
	{179.99, 0.5}, {-179.995, -12}, {180, 0}, {-180, 10},
	{45, 85.05112878}, {-120, -85.05112878}, {10, 84.9}, {-70, -80.5},
	{-73.9857, 40.7484}, {139.6917, 35.6895}, {-122.27652, 37.805186},
}

// runGeoDiff runs steps random commands; stats counts the kinds of
// replies and of checks.
func runGeoDiff(t *testing.T, rr, inspect *realRedis, h *harness, rng *rand.Rand, steps int, stats map[string]int) {
	t.Helper()
	geoKeys := []string{"g1", "g2", "dst", "str"}
	key := func() string { return geoKeys[rng.Intn(len(geoKeys))] }
	srcKey := func() string { return []string{"g1", "g1", "g2", "dst", "str", "none"}[rng.Intn(6)] }
	member := func() string {
		switch rng.Intn(20) {
		case 0:
			return "long-" + string(bytes.Repeat([]byte{'x'}, 60+rng.Intn(10)))
		case 1:
			return ""
		}
		return "m" + strconv.Itoa(rng.Intn(40))
	}
	fmtNum := func(f float64) string {
		switch rng.Intn(4) {
		case 0:
			return strconv.FormatFloat(f, 'f', 6, 64)
		case 1:
			return strconv.FormatFloat(f, 'e', -1, 64)
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	clampLonLat := func(lon, lat float64) (float64, float64) {
		return math.Min(math.Max(lon, -180), 180), math.Min(math.Max(lat, geoLatMin), geoLatMax)
	}
	point := func() (string, string) {
		switch rng.Intn(30) {
		case 0:
			return []string{"200", "-180.0001", "abc", "inf", "nan", "0x1p3"}[rng.Intn(6)], "0"
		case 1:
			return "0", []string{"85.06", "-90", "-85.05112879", "1e400", ""}[rng.Intn(5)]
		case 2:
			return fmtNum(rng.Float64()*360 - 180), fmtNum(rng.Float64()*2*geoLatMax - geoLatMax)
		}
		p := geoPlaces[rng.Intn(len(geoPlaces))]
		scale := []float64{0, 1e-6, 1e-4, 1e-2, 0.5, 3}[rng.Intn(6)]
		lon, lat := clampLonLat(p[0]+rng.NormFloat64()*scale, p[1]+rng.NormFloat64()*scale)
		return fmtNum(lon), fmtNum(lat)
	}
	unit := func() string {
		return []string{"m", "km", "ft", "mi", "M", "Km", "mI", "yd"}[rng.Intn(8)]
	}
	length := func() string {
		switch rng.Intn(25) {
		case 0:
			return []string{"-1", "abc", "inf", "0", "-0"}[rng.Intn(5)]
		}
		scale := []float64{1, 100, 1e4, 1e5, 1e6, 5e6, 2.5e7}[rng.Intn(7)]
		return fmtNum(rng.Float64() * scale)
	}
	options := func(search, store bool) []string {
		var out []string
		for n := rng.Intn(5); n > 0; n-- {
			switch rng.Intn(12) {
			case 0:
				out = append(out, "WITHDIST")
			case 1:
				out = append(out, "withhash")
			case 2:
				out = append(out, "WithCoord")
			case 3:
				out = append(out, []string{"ASC", "desc"}[rng.Intn(2)])
			case 4, 5:
				out = append(out, "COUNT", []string{"1", "2", "3", "5", "8", "100"}[rng.Intn(6)])
				if rng.Intn(3) == 0 {
					out = append(out, "ANY")
				}
			case 6:
				if rng.Intn(6) == 0 {
					out = append(out, "COUNT", []string{"0", "-1", "x", "9223372036854775807"}[rng.Intn(4)])
				}
			case 7:
				if store && !search {
					out = append(out, []string{"STORE", "STOREDIST"}[rng.Intn(2)], "dst")
				} else if store {
					out = append(out, "STOREDIST")
				}
			case 8:
				if rng.Intn(8) == 0 {
					out = append(out, []string{"ANY", "bogus", "STORE", "FROMLONLAT"}[rng.Intn(4)])
				}
			default:
				if len(out) == 0 {
					out = append(out, "ASC")
				}
			}
		}
		return out
	}
	shapeArgs := func() []string {
		var out []string
		if rng.Intn(3) == 0 {
			out = append(out, "FROMMEMBER", member())
		} else {
			lon, lat := point()
			out = append(out, "FROMLONLAT", lon, lat)
		}
		if rng.Intn(2) == 0 {
			out = append(out, "BYRADIUS", length(), unit())
		} else {
			out = append(out, "BYBOX", length(), length(), unit())
		}
		if rng.Intn(20) == 0 {
			out = out[:2+rng.Intn(len(out)-2)] // a truncated or missing shape
		}
		// Options may come before, between or after FROM and BY.
		if rng.Intn(3) == 0 {
			out = append(options(true, false), out...)
		}
		return out
	}
	gens := []func() []string{
		func() []string {
			args := []string{"GEOADD", key()}
			for n := rng.Intn(3); n > 0; n-- {
				args = append(args, []string{"NX", "XX", "CH", "ch"}[rng.Intn(4)])
			}
			for n := 1 + rng.Intn(6); n > 0; n-- {
				lon, lat := point()
				args = append(args, lon, lat, member())
			}
			return args
		},
		func() []string {
			args := []string{"GEOADD", []string{"g1", "g2"}[rng.Intn(2)]}
			for n := 10 + rng.Intn(20); n > 0; n-- {
				p := geoPlaces[rng.Intn(len(geoPlaces))]
				lon, lat := clampLonLat(p[0]+rng.NormFloat64()*0.3, p[1]+rng.NormFloat64()*0.3)
				args = append(args, fmtNum(lon), fmtNum(lat), member())
			}
			return args
		},
		func() []string {
			args := []string{"GEOPOS", srcKey()}
			for n := rng.Intn(4); n > 0; n-- {
				args = append(args, member())
			}
			return args
		},
		func() []string {
			args := []string{"GEOHASH", srcKey()}
			for n := rng.Intn(4); n > 0; n-- {
				args = append(args, member())
			}
			return args
		},
		func() []string {
			args := []string{"GEODIST", srcKey(), member(), member()}
			if rng.Intn(2) == 0 {
				args = append(args, unit())
			}
			if rng.Intn(20) == 0 {
				args = append(args, "extra")
			}
			return args
		},
		func() []string {
			cmd := []string{"GEORADIUS", "GEORADIUS_RO", "georadius"}[rng.Intn(3)]
			lon, lat := point()
			args := append([]string{cmd, srcKey(), lon, lat, length(), unit()}, options(false, cmd != "GEORADIUS_RO")...)
			return args
		},
		func() []string {
			cmd := []string{"GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"}[rng.Intn(2)]
			return append([]string{cmd, srcKey(), member(), length(), unit()}, options(false, cmd == "GEORADIUSBYMEMBER")...)
		},
		func() []string {
			return append(append([]string{"GEOSEARCH", srcKey()}, shapeArgs()...), options(true, false)...)
		},
		func() []string {
			return append(append([]string{"GEOSEARCHSTORE", "dst", srcKey()}, shapeArgs()...), options(true, true)...)
		},
		func() []string {
			// Whole-Earth and zero-size searches around a member.
			return []string{"GEOSEARCH", srcKey(), "FROMMEMBER", member(), "BYRADIUS",
				[]string{"0", "20000", "6000", "1"}[rng.Intn(4)], "km", "ASC", "WITHDIST"}
		},
		func() []string { return []string{"SET", "str", "x"} },
		func() []string { return []string{"DEL", key()} },
		func() []string { return []string{"EXPIRE", "dst", "1000"} },
		func() []string { return []string{"TTL", "dst"} },
	}
	if len(gens) != len(geoGenWeights) {
		t.Fatal("a generator without a weight")
	}
	distances := false // dst holds STOREDIST distances
	for i := 0; i < steps; i++ {
		args := gens[geoPick(rng, geoGenWeights)]()
		want := rr.do(t, args...)
		kind := strings.ToLower(args[0])
		if strings.HasPrefix(kind, "georadius") || kind == "geosearch" {
			kind = "search"
		}
		stats[kind+" "+geoReplyKind(want)]++
		if got := h.do(args...); got != want {
			t.Fatalf("step %d %q (RESP%d):\nskerry %q\nredis  %q", i, args, h.c.Proto, got, want)
		}
		if want[0] != '-' && (args[0] == "GEOSEARCHSTORE" || slices.Contains(args, "STORE") || slices.Contains(args, "STOREDIST")) {
			src := args[1]
			if args[0] == "GEOSEARCHSTORE" {
				src = args[2]
			}
			// A store from dst copies its (approximate) scores.
			distances = slices.Contains(args, "STOREDIST") || (src == "dst" && distances) ||
				args[0] == "GEOSEARCHSTORE" && slices.ContainsFunc(args[3:], func(a string) bool { return strings.EqualFold(a, "storedist") })
		}
		for _, k := range geoKeys[:3] {
			if !checkGeoZset(t, h, inspect, k, distances && k == "dst", stats) {
				t.Fatalf("after step %d %q (RESP%d)", i, args, h.c.Proto)
			}
		}
	}
}

// checkGeoZset fails unless the sorted set at key has the same members,
// scores and encoding as in Redis, and its records agree with each other:
// one score index entry per member record, Size of each.
//
// approx allows scores that differ in their last bits: distances stored
// by STOREDIST come from sin, cos and asin, which glibc misrounds for a
// few inputs in a thousand (see geoDistance). Such checks are counted in
// stats.
func checkGeoZset(t *testing.T, h *harness, inspect *realRedis, key string, approx bool, stats map[string]int) bool {
	t.Helper()
	db := keyspace.New(h.store.Txn(), 0)
	m, ok, err := db.Lookup([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	w := resp.NewWriter(2)
	enc := "$-1\r\n"
	if ok && m.Type == keyspace.TypeZSet {
		if approx {
			stats["checks of distances"]++
		}
		prefix := keys.ZScorePrefix(0, []byte(key), m.Version)
		var n uint64
		var body []byte
		err = db.Txn().Scan(prefix, keys.PrefixEnd(prefix), false, func(k, _ []byte) error {
			score, err := keys.DecodeScore(k[len(prefix):])
			if err != nil {
				return err
			}
			member := k[len(prefix)+8:]
			v, ok, err := db.Txn().Get(keys.ZMemberKey(0, []byte(key), m.Version, member))
			if err != nil || !ok || !bytes.Equal(v, keys.AppendScore(nil, score)) {
				t.Fatalf("%s: index entry %q %v without a matching member record (%q %v %v)", key, member, score, v, ok, err)
			}
			n++
			w.Bulk(member)
			w.Bulk(resp.AppendDouble(nil, score))
			body = w.Bytes()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		mp := keys.ZMemberPrefix(0, []byte(key), m.Version)
		var members uint64
		if err := db.Txn().Scan(mp, keys.PrefixEnd(mp), false, func(_, _ []byte) error { members++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != m.Size || members != m.Size || n == 0 {
			t.Fatalf("%s: %d index entries, %d member records, size %d", key, n, members, m.Size)
		}
		got := "*" + strconv.FormatUint(2*n, 10) + "\r\n" + string(body)
		want := inspect.do(t, "ZRANGE", key, "0", "-1", "WITHSCORES")
		if got != want && approx {
			stats["approximate distances"]++
		}
		if got != want && !(approx && geoScoresClose(got, want)) {
			t.Errorf("%s contents:\nskerry %q\nredis  %q", key, got, want)
			return false
		}
		if m.Big {
			enc = "$8\r\nskiplist\r\n"
		} else {
			enc = "$8\r\nlistpack\r\n"
		}
	} else if want := inspect.do(t, "TYPE", key); ok && want != "+"+m.Type.String()+"\r\n" {
		t.Fatalf("%s: type %v, redis %q", key, m.Type, want)
	}
	if !ok || m.Type == keyspace.TypeZSet {
		if want := inspect.do(t, "OBJECT", "ENCODING", key); want != enc {
			t.Errorf("%s encoding: skerry %q, redis %q", key, enc, want)
			return false
		}
	}
	return true
}

// geoScoresClose reports whether two RESP2 ZRANGE WITHSCORES replies list
// the same members with scores equal to 14 significant digits.
func geoScoresClose(a, b string) bool {
	pa, pb := strings.Split(a, "\r\n"), strings.Split(b, "\r\n")
	if len(pa) != len(pb) || pa[0] != pb[0] {
		return false
	}
	// After the header, element j is the lines 1+2j ("$len") and 2+2j
	// (its text); odd elements are scores.
	for j := 0; 2+2*j < len(pa); j++ {
		x, y := pa[2+2*j], pb[2+2*j]
		if x == y {
			continue
		}
		if j%2 == 0 {
			return false
		}
		fx, err1 := strconv.ParseFloat(x, 64)
		fy, err2 := strconv.ParseFloat(y, 64)
		if err1 != nil || err2 != nil || math.Abs(fx-fy) > 1e-14*math.Max(math.Abs(fx), math.Abs(fy)) {
			return false
		}
	}
	return true
}

// geoGenWeights are the relative frequencies of runGeoDiff's generators:
// mostly searches over populated sets, rarely the commands that drop them.
var geoGenWeights = []int{6, 6, 3, 3, 3, 8, 8, 12, 8, 2, 1, 1, 1, 1}

// geoPick returns an index into weights chosen with those weights.
func geoPick(rng *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := rng.Intn(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

// geoReplyKind classifies a reply for the run's statistics.
func geoReplyKind(r string) string {
	switch {
	case r[0] == '-':
		return "err"
	case r == "*0\r\n":
		return "empty"
	case r[0] == '*':
		n, _ := strconv.Atoi(r[1:strings.Index(r, "\r")])
		if n > 5 {
			return "many"
		}
		return "few"
	}
	return string(r[0])
}

// TestGeoDifferentialTies puts many members at a few identical positions,
// so that searches meet long runs of equal distances, and compares every
// COUNT with Redis: the order of equal distances is whatever Redis's
// sorts (a stable merge sort without COUNT, its partial quicksort with
// it) leave, which geoPartialSort must reproduce exactly.
func TestGeoDifferentialTies(t *testing.T) {
	rr := startRealRedis(t)
	h := newHarness(t)
	rng := rand.New(rand.NewSource(5))
	spots := [][2]string{{"10", "10"}, {"10.001", "10"}, {"10", "10.002"}, {"9.999", "9.9995"}}
	for _, n := range []int{5, 7, 8, 40, 41, 90} {
		key := "t" + strconv.Itoa(n)
		args := []string{"GEOADD", key}
		for i := 0; i < n; i++ {
			s := spots[rng.Intn(len(spots))]
			args = append(args, s[0], s[1], "m"+strconv.Itoa(rng.Intn(1000)))
		}
		for _, tgt := range []func(...string) string{h.do, func(a ...string) string { return rr.do(t, a...) }} {
			tgt(args...)
		}
		for k := 1; k <= n+1; k++ {
			for _, order := range []string{"ASC", "DESC", ""} {
				q := []string{"GEOSEARCH", key, "FROMLONLAT", "10", "10", "BYRADIUS", "1000", "km", "COUNT", strconv.Itoa(k), "WITHDIST"}
				if order != "" {
					q = append(q, order)
				}
				if got, want := h.do(q...), rr.do(t, q...); got != want {
					t.Fatalf("%q:\nskerry %q\nredis  %q", q, got, want)
				}
			}
		}
		for _, order := range []string{"ASC", "DESC"} {
			q := []string{"GEORADIUS", key, "10", "10", "1000", "km", order}
			if got, want := h.do(q...), rr.do(t, q...); got != want {
				t.Fatalf("%q:\nskerry %q\nredis  %q", q, got, want)
			}
		}
	}
}
