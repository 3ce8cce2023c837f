package commands

import (
	"context"
	"math"
	"math/big"
	"math/rand"
	"slices"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/resp"
)

// Replies recorded from Redis 7.0.15 (redis-server on x86-64, glibc 2.36).

func TestGeoRecordedSicily(t *testing.T) {
	h := newHarness(t)
	h.expect(":2\r\n", "GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
	h.expect(":2\r\n", "GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2")
	h.expect("*4\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n"+
		"*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n"+
		"*2\r\n$19\r\n12.7584877610206604\r\n$20\r\n38.78813451624225195\r\n"+
		"*2\r\n$20\r\n17.24151045083999634\r\n$20\r\n38.78813451624225195\r\n",
		"GEOPOS", "Sicily", "Palermo", "Catania", "edge1", "edge2")
	h.expect("*4\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$11\r\nsqchdm4mq20\r\n$11\r\nsquk8m4vk20\r\n",
		"GEOHASH", "Sicily", "Palermo", "Catania", "edge1", "edge2")
	h.expect("$11\r\n166274.1516\r\n", "GEODIST", "Sicily", "Palermo", "Catania")
	h.expect("$8\r\n103.3182\r\n", "GEODIST", "Sicily", "Palermo", "Catania", "mi")
	h.expect("$11\r\n545518.8700\r\n", "GEODIST", "Sicily", "Palermo", "Catania", "ft")
	h.expect("*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n"+
		"*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n",
		"GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC", "WITHCOORD", "WITHDIST", "WITHHASH")
	h.expect("*4\r\n*2\r\n$5\r\nedge1\r\n$8\r\n279.7405\r\n*2\r\n$5\r\nedge2\r\n$8\r\n279.7403\r\n"+
		"*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n",
		"GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "DESC", "WITHDIST")
	want := map[string]float64{"Palermo": 3479099956230698, "edge1": 3479273021651468, "Catania": 3479447370796909, "edge2": 3481342659049484}
	checkScores(t, h, "Sicily", want)

	// STOREDIST scores at full precision.
	h.expect(":2\r\n", "GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST")
	checkScores(t, h, "d", map[string]float64{"Catania": 56.441257870158204, "Palermo": 190.44242984775784})
	h.expect(":3\r\n", "GEORADIUS", "Sicily", "13.361389", "38.115556", "200", "km", "STOREDIST", "d")
	checkScores(t, h, "d", map[string]float64{"Palermo": 5.3056374386009927e-05, "edge1": 91.400677728068175, "Catania": 166.27416107465282})
	h.expect(":2\r\n", "GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "13.361389", "38.115556", "BYRADIUS", "200", "mi", "STOREDIST", "COUNT", "2")
	checkScores(t, h, "d", map[string]float64{"Palermo": 3.2967784548951702e-05, "edge1": 56.793889251536761})
}

func TestGeoRecordedEdges(t *testing.T) {
	h := newHarness(t)
	h.expect(":5\r\n", "GEOADD", "w", "180", "0", "e1", "-180", "0", "w1", "0", "85.05112878", "n1", "0", "-85.05112878", "s1", "179.9999999", "45", "e2")
	// Longitude 180 (and the top latitude) encode one bit beyond the 52.
	checkScores(t, h, "w", map[string]float64{"w1": 1125899906842624, "s1": 2251799813685248,
		"e2": 4410136822791146, "n1": 6755399441055744, "e1": 10133099161583616})
	h.expect("*5\r\n*2\r\n$3\r\n180\r\n$19\r\n0.00000126736058093\r\n*2\r\n$22\r\n-179.99999731779098511\r\n$19\r\n0.00000126736058093\r\n"+
		"*2\r\n$19\r\n0.00000268220901489\r\n$19\r\n85.0511287799999991\r\n*2\r\n$19\r\n0.00000268220901489\r\n$21\r\n-85.05112751263942528\r\n"+
		"*2\r\n$21\r\n179.99999731779098511\r\n$20\r\n45.00000100864581043\r\n",
		"GEOPOS", "w", "e1", "w1", "n1", "s1", "e2")
	h.expect("*5\r\n$11\r\n80000000000\r\n$11\r\n80000000000\r\n$11\r\nup05b5048p0\r\n$11\r\nh0bh0hbj200\r\n$11\r\nzbpbpbpbpb0\r\n",
		"GEOHASH", "w", "e1", "w1", "n1", "s1", "e2")
	// Scores beyond 52 bits are outside every searched cell.
	h.expect("*3\r\n$2\r\ns1\r\n$2\r\ne2\r\n$2\r\nw1\r\n", "GEOSEARCH", "w", "FROMLONLAT", "0", "0", "BYRADIUS", "30000", "km", "ASC")
	h.expect("-ERR invalid longitude,latitude pair 200.000000,100.000000\r\n", "GEOADD", "w", "200", "100", "x")
	h.expect("-ERR invalid longitude,latitude pair inf,1.000000\r\n", "GEOADD", "w", "inf", "1", "x")
	h.expect("-ERR invalid longitude,latitude pair 1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160.000000,1.000000\r\n",
		"GEOADD", "w", "1e300", "1", "x")
}

// checkScores fails unless the sorted set at key holds exactly want.
func checkScores(t *testing.T, h *harness, key string, want map[string]float64) {
	t.Helper()
	db := keyspace.New(h.store.Txn(), 0)
	c := &Ctx{DB: db}
	z, err := loadGeoZset(c, []byte(key))
	if err != nil || z == nil {
		t.Fatalf("%s: %v %v", key, z, err)
	}
	if z.m.Size != uint64(len(want)) {
		t.Fatalf("%s: size %d, want %d", key, z.m.Size, len(want))
	}
	got := map[string]float64{}
	err = z.scanScores(math.Inf(-1), math.Inf(1), func(m []byte, s float64) error {
		got[string(m)] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for m, s := range want {
		if got[m] != s {
			t.Errorf("%s %s: score %v, want %v", key, m, got[m], s)
		}
		if s2, ok, err := z.score([]byte(m)); err != nil || !ok || s2 != s {
			t.Errorf("%s %s: member record %v %v %v", key, m, s2, ok, err)
		}
	}
}

// TestGeoStoreOverItsSourceInOneTransaction runs GEOADD and a
// GEOSEARCHSTORE that replaces its own source in one transaction, where
// the new set gets the version of the old one: the old members must not
// survive in it.
func TestGeoStoreOverItsSourceInOneTransaction(t *testing.T) {
	h := newHarness(t)
	txn := h.store.Txn()
	table := NewRedisTable()
	run := func(args ...string) string {
		bs := make([][]byte, len(args))
		for i, a := range args {
			bs[i] = []byte(a)
		}
		w := resp.NewWriter(2)
		c := &Ctx{ctx: context.Background(), Args: bs, W: w, DB: keyspace.New(txn, 0), Env: h.d.env, Cmd: table.Lookup(bs[0])}
		if err := c.Cmd.Handler(c); err != nil {
			return ReplyText(err)
		}
		return string(w.Bytes())
	}
	if got := run("GEOADD", "k", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania", "2", "48", "Paris"); got != ":3\r\n" {
		t.Fatal(got)
	}
	if got := run("GEOSEARCHSTORE", "k", "k", "FROMLONLAT", "15", "37", "BYRADIUS", "100", "km", "STOREDIST"); got != ":1\r\n" {
		t.Fatal(got)
	}
	checkScores(t, h, "k", map[string]float64{"Catania": 56.441257870158204})
}

// TestGeoForeignScores decodes scores no GEOADD writes (a ZADD can): they
// must decode as Redis decodes them on x86-64, wrapping negative values
// and saturating huge ones. Recorded from Redis 7.0.15.
func TestGeoForeignScores(t *testing.T) {
	h := newHarness(t)
	db := keyspace.New(h.store.Txn(), 0)
	c := &Ctx{DB: db, Env: h.d.env}
	z := newGeoZset(c, []byte("z"))
	for _, p := range []struct {
		m string
		s float64
	}{{"neg", -5.7}, {"big", 1e19}, {"huge", 2e19}, {"inf", math.Inf(1)}, {"ninf", math.Inf(-1)}, {"half", 1.5}} {
		if _, _, err := z.add([]byte(p.m), p.s, false, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.save(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ member, pos, hash string }{
		{"neg", "*2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n", "$11\r\nbp05b5048p0\r\n"},
		{"big", "*2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n", "$11\r\nbp05b5048p0\r\n"},
		{"huge", "*2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n", "$11\r\n00bh0hbj200\r\n"},
		{"inf", "*2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n", "$11\r\n00bh0hbj200\r\n"},
		{"ninf", "*2\r\n$3\r\n180\r\n$21\r\n-85.05112751263942528\r\n", "$11\r\n00bh0hbj200\r\n"},
		{"half", "*2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112497791824921\r\n", "$11\r\n00bh0hbj210\r\n"},
	} {
		h.expect("*1\r\n"+tc.pos, "GEOPOS", "z", tc.member)
		h.expect("*1\r\n"+tc.hash, "GEOHASH", "z", tc.member)
	}
	// WITHHASH prints the score truncated to an integer.
	h.expect("*1\r\n*2\r\n$4\r\nhalf\r\n:1\r\n", "GEOSEARCH", "z", "FROMMEMBER", "half", "BYRADIUS", "1", "km", "WITHHASH")
	h.expect("*1\r\n*3\r\n$4\r\nhalf\r\n$10\r\n10560.8121\r\n:1\r\n", "GEORADIUS", "z", "0", "0", "100000", "km", "WITHHASH", "WITHDIST")
}

// geoBigSinCos returns sin(x) and cos(x) to 300 bits (Taylor series).
func geoBigSinCos(x *big.Float) (sin, cos *big.Float) {
	const prec = 300
	nf := func() *big.Float { return new(big.Float).SetPrec(prec) }
	x2 := nf().Mul(x, x)
	sin, cos = nf().Set(x), nf().SetInt64(1)
	st, ct := nf().Set(x), nf().SetInt64(1)
	for k := int64(1); k < 120; k++ {
		st.Mul(st, x2).Quo(st, nf().SetInt64((2*k)*(2*k+1))).Neg(st)
		ct.Mul(ct, x2).Quo(ct, nf().SetInt64((2*k-1)*(2*k))).Neg(ct)
		sin.Add(sin, st)
		cos.Add(cos, ct)
	}
	return sin, cos
}

// TestGeoTrigCorrectlyRounded checks geoSin, geoCos and geoAsin against
// 300-bit references over the arguments geo distances use.
func TestGeoTrigCorrectlyRounded(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		x := (rng.Float64()*2 - 1) * 3.9 * math.Pow(10, -float64(rng.Intn(10)))
		s, c := geoBigSinCos(new(big.Float).SetPrec(300).SetFloat64(x))
		ws, _ := s.Float64()
		wc, _ := c.Float64()
		if got := geoSin(x); got != ws {
			t.Errorf("geoSin(%v) = %v, want %v", x, got, ws)
		}
		if got := geoCos(x); got != wc {
			t.Errorf("geoCos(%v) = %v, want %v", x, got, wc)
		}
		// asin: the reference is y with sin(y) = a, by Newton's method at
		// 300 bits.
		a := math.Sqrt(rng.Float64())
		if rng.Intn(3) == 0 {
			a = 1 - rng.Float64()*math.Pow(10, -float64(rng.Intn(15)))
		}
		y := new(big.Float).SetPrec(300).SetFloat64(math.Asin(a))
		ba := new(big.Float).SetPrec(300).SetFloat64(a)
		for j := 0; j < 8 && a < 1; j++ {
			s, c := geoBigSinCos(y)
			s.Sub(s, ba).Quo(s, c)
			y.Sub(y, s)
		}
		wa, _ := y.Float64()
		if a == 1 {
			wa = math.Pi / 2
		}
		if got := geoAsin(a); got != wa {
			t.Errorf("geoAsin(%v) = %v, want %v", a, got, wa)
		}
	}
	if !math.IsNaN(geoAsin(1.0000000000000002)) || geoSin(math.Copysign(0, -1)) != 0 || !math.Signbit(geoSin(math.Copysign(0, -1))) {
		t.Error("edge values")
	}
}

// TestGeoPartialSortSorts checks geoPartialSort against a full sort: the
// requested prefix holds the smallest values in order.
func TestGeoPartialSortSorts(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 2000; i++ {
		n := 1 + rng.Intn(120)
		pts := make([]geoPoint, n)
		for j := range pts {
			pts[j].dist = float64(rng.Intn(1 + rng.Intn(50)))
		}
		k := 1 + rng.Intn(n)
		geoPartialSort(pts, geoComparePoints, 0, k-1)
		for j := 1; j < k; j++ {
			if pts[j-1].dist > pts[j].dist {
				t.Fatalf("n=%d k=%d: not sorted at %d", n, k, j)
			}
		}
		for j := k; j < n; j++ {
			if pts[j].dist < pts[k-1].dist {
				t.Fatalf("n=%d k=%d: %v after the prefix is smaller than %v", n, k, pts[j].dist, pts[k-1].dist)
			}
		}
	}
}

// TestGeoStoreKeysAreDeclared checks that the destination of a store is
// among the keys a command declares, so its transaction covers it.
func TestGeoStoreKeysAreDeclared(t *testing.T) {
	table := NewRedisTable()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"GEORADIUS", "src", "1", "2", "3", "km", "STORE", "dst"}, []string{"src", "dst"}},
		{[]string{"GEORADIUS", "src", "1", "2", "3", "km", "ASC", "STOREDIST", "dst"}, []string{"src", "dst"}},
		{[]string{"GEORADIUSBYMEMBER", "src", "m", "3", "km", "STORE", "dst"}, []string{"src", "dst"}},
		{[]string{"GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"}, []string{"dst", "src"}},
		{[]string{"GEOSEARCH", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"}, []string{"src"}},
	} {
		args := make([][]byte, len(tc.args))
		for i, a := range tc.args {
			args[i] = []byte(a)
		}
		var got []string
		for _, k := range table.Lookup(args[0]).KeyArgs(args) {
			got = append(got, string(k))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: keys %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestGeoRecordedSameLongitude: points on one meridian take the full
// haversine path in Redis 7.0 (later versions shortcut it).
func TestGeoRecordedSameLongitude(t *testing.T) {
	h := newHarness(t)
	h.expect(":4\r\n", "GEOADD", "t", "10", "10", "a", "10", "10.5", "b", "10", "-3", "c", "10", "40", "d")
	h.expect(":4\r\n", "GEOSEARCHSTORE", "d", "t", "FROMMEMBER", "a", "BYRADIUS", "10000", "km", "STOREDIST")
	checkScores(t, h, "d", map[string]float64{"a": 0, "b": 55.613049439323447, "c": 1445.9421046989851, "d": 3336.7888868402174})
}
