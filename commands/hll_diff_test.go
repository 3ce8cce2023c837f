package commands

import (
	"fmt"
	"io"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hllDiff runs the same commands on the harness and on a real redis-server
// and requires byte-identical replies.
type hllDiff struct {
	t  *testing.T
	rr *realRedis
	h  *harness
}

func newHLLDiff(t *testing.T) *hllDiff {
	rr := startRealRedis(t)
	rr.do(t, "FLUSHALL")
	return &hllDiff{t: t, rr: rr, h: newHarness(t)}
}

func (d *hllDiff) do(args ...string) string {
	d.t.Helper()
	var want string
	if len(args) == 3 && strings.EqualFold(args[0], "PFDEBUG") && strings.EqualFold(args[1], "GETREG") {
		want = d.getreg(args[2])
	} else {
		want = d.rr.do(d.t, args...)
	}
	got := d.h.do(args...)
	if got != want {
		short := args
		if len(short) > 6 {
			short = append(short[:6:6], "...")
		}
		d.t.Fatalf("%q:\n skerry %.300q\n redis  %.300q", short, got, want)
	}
	return got
}

// getreg runs PFDEBUG GETREG on the real server and reads its 16384
// integers line by line (the generic RESP reader is quadratic on them).
func (d *hllDiff) getreg(key string) string {
	d.t.Helper()
	rr := d.rr
	_ = rr.conn.SetDeadline(time.Now().Add(5 * time.Second))
	cmd := fmt.Sprintf("*3\r\n$7\r\nPFDEBUG\r\n$6\r\nGETREG\r\n$%d\r\n%s\r\n", len(key), key)
	if _, err := io.WriteString(rr.conn, cmd); err != nil {
		d.t.Fatal(err)
	}
	var b strings.Builder
	line, err := rr.r.ReadString('\n')
	if err != nil {
		d.t.Fatal(err)
	}
	b.WriteString(line)
	if line == "*16384\r\n" {
		for i := 0; i < hllRegisters; i++ {
			if line, err = rr.r.ReadString('\n'); err != nil {
				d.t.Fatal(err)
			}
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestHLLCountsMatchRedis adds 1..100000 distinct elements in batches and
// compares every PFCOUNT and, at intervals, the stored bytes (GET): the
// sparse encoding, its promotion to dense and the cached cardinality.
func TestHLLCountsMatchRedis(t *testing.T) {
	d := newHLLDiff(t)
	rng := rand.New(rand.NewSource(1))
	added := 0
	// Every cardinality up to 3000 (through the sparse encoding and its
	// promotion), then growing batches up to 100000.
	for ; added < 3000; added++ {
		d.do("PFADD", "hll", "ele:"+strconv.Itoa(added))
		d.do("PFCOUNT", "hll")
		if added%100 == 0 {
			d.do("GET", "hll")
		}
	}
	for step := 0; added < 100000; step++ {
		n := 1 + rng.Intn(1+added/8)
		n = min(n, 100000-added, 2000)
		args := []string{"PFADD", "hll"}
		for i := 0; i < n; i++ {
			args = append(args, "ele:"+strconv.Itoa(added+i))
		}
		added += n
		d.do(args...)
		if step%3 == 0 {
			d.do("GET", "hll") // cache invalid
		}
		d.do("PFCOUNT", "hll")
		if step%3 == 1 {
			d.do("GET", "hll") // cache valid
		}
	}
	d.do("GET", "hll")
	d.do("PFDEBUG", "ENCODING", "hll")
}

// TestHLLRandomOpsMatchRedis runs a seeded random mix of every HLL
// command over a few keys, with element sets that keep some keys sparse
// and push others dense, and element bytes of every kind (lengths 0..20
// cover every MurmurHash tail).
func TestHLLRandomOpsMatchRedis(t *testing.T) {
	d := newHLLDiff(t)
	rng := rand.New(rand.NewSource(7))
	keys := []string{"a", "b", "c", "d", "s"}
	key := func() string { return keys[rng.Intn(len(keys))] }
	ele := func() string {
		if rng.Intn(3) == 0 {
			b := make([]byte, rng.Intn(21))
			rng.Read(b)
			return string(b)
		}
		return strconv.Itoa(rng.Intn(20000))
	}
	d.do("SET", "s", "not an hll")
	for i := 0; i < 3000; i++ {
		switch rng.Intn(12) {
		case 0, 1, 2, 3:
			args := []string{"PFADD", key()}
			for n := rng.Intn([]int{3, 30, 400}[rng.Intn(3)]); n > 0; n-- {
				args = append(args, ele())
			}
			d.do(args...)
		case 4, 5:
			d.do("PFCOUNT", key())
		case 6:
			d.do("PFCOUNT", key(), key(), key())
		case 7:
			args := []string{"PFMERGE", key()}
			for n := rng.Intn(3); n > 0; n-- {
				args = append(args, key())
			}
			d.do(args...)
		case 8:
			d.do("GET", key())
		case 9:
			// A copy made with GET and SET is an embstr or raw string
			// that the HLL commands must accept (and make raw).
			src, dst := key(), key()
			if v := d.rr.do(t, "GET", src); v[0] == '$' && v != "$-1\r\n" {
				d.do("SET", dst, bulkPayload(v))
				d.do("OBJECT", "ENCODING", dst)
			}
		case 10:
			d.do("PFDEBUG", pfdebugSub(rng), key())
			d.do("OBJECT", "ENCODING", key())
		case 11:
			if rng.Intn(4) == 0 {
				d.do("DEL", key())
			} else {
				d.do("PEXPIREAT", key(), "4102444800000")
			}
		}
	}
	for _, k := range keys {
		d.do("GET", k)
		d.do("PEXPIRETIME", k)
	}
}

// pfdebugSub picks a PFDEBUG subcommand.
func pfdebugSub(rng *rand.Rand) string {
	return []string{"ENCODING", "DECODE", "TODENSE", "GETREG", "NOSUCH"}[rng.Intn(5)]
}

// bulkPayload returns the payload of a raw RESP bulk string reply.
func bulkPayload(v string) string {
	i := 0
	for v[i] != '\n' {
		i++
	}
	return v[i+1 : len(v)-2]
}

// TestHLLSparseMaxBytesMatchRedis checks the promotion threshold with
// other hll-sparse-max-bytes values.
func TestHLLSparseMaxBytesMatchRedis(t *testing.T) {
	for _, limit := range []string{"0", "30", "200", "5000"} {
		rr := startRealRedis(t)
		rr.do(t, "CONFIG", "SET", "hll-sparse-max-bytes", limit)
		h := newHarness(t)
		h.d.env.Config = NewConfig(map[string]string{"hll-sparse-max-bytes": limit})
		d := &hllDiff{t: t, rr: rr, h: h}
		for i := 0; i < 300; i++ {
			d.do("PFADD", "x", "e"+strconv.Itoa(i*7), "f"+strconv.Itoa(i))
			d.do("GET", "x")
		}
		d.do("PFMERGE", "y", "x")
		d.do("GET", "y")
	}
}

// TestHLLCorruptValuesMatchRedis stores damaged HLLs (bytes flipped,
// truncated, extended, random opcode streams under a valid header) and
// requires every HLL command and the bytes left behind to match Redis,
// errors included.
func TestHLLCorruptValuesMatchRedis(t *testing.T) {
	d := newHLLDiff(t)
	rng := rand.New(rand.NewSource(3))
	// Build a few genuine HLLs to damage.
	var seeds []string
	for _, n := range []int{0, 1, 5, 40, 300, 3000} {
		d.do("DEL", "src")
		args := []string{"PFADD", "src"}
		for i := 0; i < n; i++ {
			args = append(args, strconv.Itoa(i))
		}
		d.do(args...)
		seeds = append(seeds, bulkPayload(d.rr.do(t, "GET", "src")))
	}
	damage := func() string {
		v := []byte(seeds[rng.Intn(len(seeds))])
		switch rng.Intn(6) {
		case 0: // flip some bytes after the header
			for n := 1 + rng.Intn(4); n > 0 && len(v) > 16; n-- {
				v[16+rng.Intn(len(v)-16)] ^= byte(1 << rng.Intn(8))
			}
		case 1: // truncate
			if len(v) > 16 {
				v = v[:16+rng.Intn(len(v)-16)]
			}
		case 2: // extend
			extra := make([]byte, 1+rng.Intn(5))
			rng.Read(extra)
			v = append(v, extra...)
		case 3: // random opcodes under a sparse header
			v = append(v[:16:16], make([]byte, rng.Intn(40))...)
			v[4] = 1
			rng.Read(v[16:])
		case 4: // a sparse stream that ends in half an XZERO opcode
			v = append(v[:16:16], 0x7f, 0xf0, 0x8c, 0x4e)
			v[4] = 1
		case 5: // bad header fields
			v[rng.Intn(16)] ^= byte(1 << rng.Intn(8))
		}
		return string(v)
	}
	for i := 0; i < 4000; i++ {
		v := damage()
		d.do("SET", "bad", v)
		d.do("SET", "good", seeds[rng.Intn(len(seeds))])
		switch rng.Intn(7) {
		case 0:
			d.do("PFADD", "bad", strconv.Itoa(rng.Intn(100)), strconv.Itoa(rng.Intn(100)), strconv.Itoa(rng.Intn(100)))
		case 1:
			d.do("PFCOUNT", "bad")
			d.do("PFCOUNT", "bad")
		case 2:
			d.do("PFCOUNT", "good", "bad")
		case 3:
			d.do("PFMERGE", "good", "bad")
		case 4:
			d.do("PFMERGE", "bad", "good")
		case 5:
			d.do("PFDEBUG", pfdebugSub(rng), "bad")
		case 6:
			args := []string{"PFADD", "bad"}
			for n := rng.Intn(200); n > 0; n-- {
				args = append(args, strconv.Itoa(rng.Intn(100000)))
			}
			d.do(args...)
		}
		d.do("GET", "bad")
		d.do("GET", "good")
		d.do("OBJECT", "ENCODING", "bad")
	}
}

// TestHLLHugeCorruptSparseMatchesRedis: XZERO runs summing past 2^31 (the
// overflow of CVE-2025-32023, fixed in the reference server).
func TestHLLHugeCorruptSparseMatchesRedis(t *testing.T) {
	d := newHLLDiff(t)
	v := []byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80")
	for i := 0; i < 131072+1000; i++ {
		v = append(v, 0x7f, 0xff)
	}
	v = append(v, 0xff)
	for _, cmd := range [][]string{
		{"PFCOUNT", "hll"}, {"PFCOUNT", "hll", "hll"}, {"PFDEBUG", "GETREG", "hll"}, {"PFMERGE", "x", "hll"},
		{"PFADD", "hll", "a"}, {"PFDEBUG", "TODENSE", "hll"},
	} {
		d.do("SET", "hll", string(v))
		d.do(cmd...)
		d.do("STRLEN", "hll")
		d.do("GETRANGE", "hll", "0", "40")
	}
}
