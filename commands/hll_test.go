package commands

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// Exact bytes and replies below were recorded from Redis 7.0.15 (see also
// redis-tests/testdata/hll.txt and the differential tests in
// hll_diff_test.go).

const hllEmptyInvalid = "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"

func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

func TestHLLPatLen(t *testing.T) {
	for _, tc := range []struct {
		ele   string
		index int
		count uint8
	}{
		{"", 5938, 2},
		{"c", 8436, 1},
	} {
		i, n := hllPatLen([]byte(tc.ele))
		if i != tc.index || n != tc.count {
			t.Errorf("hllPatLen(%q) = %d,%d, want %d,%d", tc.ele, i, n, tc.index, tc.count)
		}
	}
	// "a" and "b" take registers 12711 (count 2) and 15780 (count 1).
	ia, na := hllPatLen([]byte("a"))
	ib, nb := hllPatLen([]byte("b"))
	got := map[int]uint8{ia: na, ib: nb}
	if len(got) != 2 || got[12711] != 2 || got[15780] != 1 {
		t.Errorf("a, b: %v", got)
	}
}

func TestHLLNewKeyBytes(t *testing.T) {
	h := newHarness(t)
	h.expect(":1\r\n", "PFADD", "h")
	h.expect(bulk(hllEmptyInvalid), "GET", "h")
	h.expect(":0\r\n", "PFCOUNT", "h")
	h.expect(bulk("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff"), "GET", "h")
	h.expect(":1\r\n", "PFADD", "h", "a", "b", "c")
	h.expect(bulk("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ"), "GET", "h")
	h.expect(":0\r\n", "PFADD", "h", "a", "b", "c")
	h.expect(":3\r\n", "PFCOUNT", "h")
	h.expect(bulk("\x03\x00\x00\x00\x00\x00\x00\x00"), "GETRANGE", "h", "8", "15")
	h.expect(bulk("raw"), "OBJECT", "ENCODING", "h")
}

// TestPFCountIsAReadonlyCommandThatWrites: COMMAND INFO must keep Redis's
// flags, while the dispatcher gives PFCOUNT a read-write transaction.
func TestPFCountIsAReadonlyCommandThatWrites(t *testing.T) {
	cmd := NewRedisTable().Lookup([]byte("pfcount"))
	if !cmd.HasFlag(FlagReadonly) || cmd.HasFlag(FlagWrite) || !cmd.Writes {
		t.Fatalf("pfcount flags %v, Writes %v", cmd.Flags, cmd.Writes)
	}
}

// TestPFCountWritesTheCacheOnlyWhenStale checks that a valid cache is
// answered without writing, and that the multi-key form never writes.
func TestPFCountWritesTheCacheOnlyWhenStale(t *testing.T) {
	h := newHarness(t)
	h.expect(":1\r\n", "PFADD", "h", "x", "y")
	h.expect(":1\r\n", "PFADD", "g", "z")
	h.expect(":3\r\n", "PFCOUNT", "h", "g")
	h.expect(bulk("\x80"), "GETRANGE", "h", "15", "15")
	h.expect(bulk("\x80"), "GETRANGE", "g", "15", "15")
	h.expect(":2\r\n", "PFCOUNT", "h")
	h.expect(bulk("\x02\x00\x00\x00\x00\x00\x00\x00"), "GETRANGE", "h", "8", "15")
	// Forge a different valid cache: PFCOUNT must answer it, untouched.
	h.expect(":23\r\n", "SETRANGE", "h", "8", "\x07")
	h.expect(":7\r\n", "PFCOUNT", "h")
	h.expect(bulk("\x07\x00\x00\x00\x00\x00\x00\x00"), "GETRANGE", "h", "8", "15")
}

func putTestCollection(t *testing.T, h *harness, key string, typ keyspace.Type) {
	t.Helper()
	db := keyspace.New(h.store.Txn(), 0)
	if err := db.Put([]byte(key), &keyspace.Meta{Type: typ, Version: 1, Size: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestHLLWrongTypeForOtherTypes(t *testing.T) {
	h := newHarness(t)
	const wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
	for _, typ := range []keyspace.Type{keyspace.TypeList, keyspace.TypeHash, keyspace.TypeSet, keyspace.TypeZSet} {
		putTestCollection(t, h, "c", typ)
		h.expect(wrongType, "PFADD", "c", "a")
		h.expect(wrongType, "PFCOUNT", "c")
		h.expect(wrongType, "PFCOUNT", "nosuch", "c")
		h.expect(wrongType, "PFMERGE", "c")
		h.expect(wrongType, "PFMERGE", "d", "c")
		h.expect(wrongType, "PFDEBUG", "GETREG", "c")
		h.expect(":0\r\n", "EXISTS", "d")
	}
	h.expect("+OK\r\n", "SET", "s", "HYLL")
	h.expect("-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n", "PFMERGE", "d", "s")
}

func TestHLLKeepsTTL(t *testing.T) {
	h := newHarness(t)
	const at = "4102444800000"
	h.expect(":1\r\n", "PFADD", "h", "a")
	h.expect(":1\r\n", "PEXPIREAT", "h", at)
	for _, cmd := range [][]string{
		{"PFADD", "h", "b"}, {"PFCOUNT", "h"}, {"PFMERGE", "h", "x"}, {"PFDEBUG", "TODENSE", "h"},
		{"PFADD", "h", "c"}, {"PFCOUNT", "h"},
	} {
		h.do(cmd...)
		h.expect(":"+at+"\r\n", "PEXPIRETIME", "h")
	}
}

// TestHLLPromotionThreshold follows hll-sparse-max-bytes: 0 makes every
// change promote at once.
func TestHLLPromotionThreshold(t *testing.T) {
	h := newHarness(t)
	h.d.env.Config = NewConfig(map[string]string{"hll-sparse-max-bytes": "0"})
	h.expect(":1\r\n", "PFADD", "h")
	h.expect("+sparse\r\n", "PFDEBUG", "ENCODING", "h")
	h.expect(":1\r\n", "PFADD", "h", "a")
	h.expect("+dense\r\n", "PFDEBUG", "ENCODING", "h")
	h.expect(":12304\r\n", "STRLEN", "h")
	h.expect(":1\r\n", "PFCOUNT", "h")
}

// TestHLLSparseGrowsToDenseWithDefaultLimit adds elements one by one and
// checks the encoding switches exactly when the sparse value would exceed
// 3000 bytes (or a register exceeds 32), with counts agreeing throughout
// with a dense copy.
func TestHLLSparseGrowsToDenseWithDefaultLimit(t *testing.T) {
	sparse := newHLLObj(hllEmpty())
	dense := newHLLObj(hllEmpty())
	if !dense.toDense() {
		t.Fatal("empty HLL does not convert")
	}
	count := func(o *hllObj) uint64 {
		var h [64]int
		if !o.histogram(&h) {
			t.Fatal("invalid histogram")
		}
		return hllEstimate(&h)
	}
	for i := 0; sparse.encoding() == hllEncSparse; i++ {
		before := sparse.n
		ele := []byte("element:" + strconv.Itoa(i))
		r1 := sparse.add(ele, hllSparseMaxBytesDefault)
		r2 := dense.add(ele, hllSparseMaxBytesDefault)
		if r1 != r2 {
			t.Fatalf("element %d: sparse %d, dense %d", i, r1, r2)
		}
		if sparse.encoding() == hllEncSparse && sparse.n > hllSparseMaxBytesDefault {
			t.Fatalf("sparse value of %d bytes", sparse.n)
		}
		if sparse.encoding() == hllEncDense {
			t.Logf("promoted after %d elements from %d bytes", i+1, before)
			if before+3 <= hllSparseMaxBytesDefault {
				_, n := hllPatLen(ele)
				if n <= hllSparseValMax {
					t.Fatalf("promoted at %d bytes without cause", before)
				}
			}
		}
		if i%97 == 0 && count(sparse) != count(dense) {
			t.Fatalf("element %d: counts differ", i)
		}
	}
	if !bytes.Equal(sparse.value()[hllHdrSize:], dense.value()[hllHdrSize:]) {
		t.Fatal("promoted registers differ from the dense copy")
	}
}

func TestHLLEstimateEdges(t *testing.T) {
	var h [64]int
	h[0] = hllRegisters
	if got := hllEstimate(&h); got != 0 {
		t.Errorf("empty: %d", got)
	}
	h = [64]int{}
	h[63] = hllRegisters // no register in the estimator's range: z = 0
	if got := hllEstimate(&h); got != 1<<63 {
		t.Errorf("all 63: %d", got)
	}
	if hllSigma(1) != hllSigma(1) || hllTau(0) != 0 || hllTau(1) != 0 {
		t.Error("sigma/tau edges")
	}
}

// TestHLLHugeCorruptSparse is Redis's "doesn't cause overflow and
// out-of-bounds with XZERO opcode" test: run lengths summing past 2^31
// must be reported, never wrap.
func TestHLLHugeCorruptSparse(t *testing.T) {
	h := newHarness(t)
	v := []byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80")
	for i := 0; i < 131072+1000; i++ {
		v = append(v, 0x7f, 0xff)
	}
	v = append(v, 0xff)
	h.expect("+OK\r\n", "SET", "hll", string(v))
	const corrupt = "-INVALIDOBJ Corrupted HLL object detected\r\n"
	h.expect(corrupt, "PFCOUNT", "hll", "hll")
	h.expect(corrupt, "PFCOUNT", "hll")
	h.expect(corrupt, "PFDEBUG", "GETREG", "hll")
	h.expect(corrupt, "PFMERGE", "x", "hll")
	// The register is in the first XZERO, but splitting it would make the
	// value longer than hll-sparse-max-bytes, and the promotion finds the
	// corruption.
	h.expect(corrupt, "PFADD", "hll", "a")
	h.expect("+PONG\r\n", "PING")
}

// hllRegistersOf decodes every register of an HLL known to be valid.
func hllRegistersOf(t testing.TB, o *hllObj) [hllRegisters]uint8 {
	t.Helper()
	var max [hllRegisters]uint8
	if !o.merge(&max) {
		t.Fatalf("invalid HLL %q", o.value())
	}
	return max
}

// hllSparseWellFormed reports whether a sparse HLL's opcodes cover exactly
// 16384 registers and end exactly at the end of the value. One that ends
// in half an XZERO opcode is corrupt even when its terminator completes
// it: an edit there can push an opcode into the terminator, as in Redis.
func hllSparseWellFormed(o *hllObj) bool {
	idx, p := 0, hllHdrSize
	for p < o.n {
		runlen, _, oplen := sparseOp(o.buf, p)
		idx += runlen
		p += oplen
	}
	return p == o.n && idx == hllRegisters
}

// FuzzHLLSparseSet applies register updates to a sparse HLL and checks the
// result against a plain array: the in-place opcode surgery must keep the
// encoding valid and the registers right, promote only as allowed, and
// never panic. The input is a user value, valid or not.
func FuzzHLLSparseSet(f *testing.F) {
	f.Add(hllEmpty(), []byte{1, 2, 3, 4, 5, 6}, uint16(3000))
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ"), []byte{0x21, 0x0f, 3, 0x21, 0x10, 2, 0, 0, 40}, uint16(3000))
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00A\xfe~"), []byte{1, 0xff, 1, 0x3f, 0xff, 9}, uint16(30))
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff\x80"), []byte{0, 0, 1}, uint16(0))
	f.Fuzz(func(t *testing.T, value, ops []byte, limit uint16) {
		if checkHLL(value) != nil || value[4] != hllEncSparse || len(value) > 1<<16 {
			return
		}
		o := newHLLObj(value)
		valid := hllSparseWellFormed(o)
		var model [hllRegisters]uint8
		if valid {
			model = hllRegistersOf(t, o)
		}
		for i := 0; i+2 < len(ops); i += 3 {
			index := int(binary.BigEndian.Uint16(ops[i:]) % hllRegisters)
			count := ops[i+2]%(hllQ+1) + 1
			wasSparse := o.encoding() == hllEncSparse
			var got int
			if o.encoding() == hllEncSparse {
				got = o.sparseSet(index, count, int64(limit))
			} else if hllDenseSet(o.registers(), index, count) {
				got = 1
			}
			if checkHLL(o.value()) != nil {
				t.Fatalf("value no longer an HLL: %q", o.value())
			}
			if !valid {
				continue // corrupt input: only "no panic, still an HLL"
			}
			changed := count > model[index]
			if changed {
				model[index] = count
			}
			if got == -1 || (got == 1) != changed {
				t.Fatalf("set %d=%d: got %d, changed %v", index, count, got, changed)
			}
			if wasSparse && o.encoding() == hllEncSparse && o.n > max(int(limit), len(value)) {
				t.Fatalf("sparse value grew to %d bytes past the limit %d", o.n, limit)
			}
			// Decoded from o itself: a value ending in half an XZERO
			// opcode keeps its second byte in the terminator.
			if hllRegistersOf(t, o) != model {
				t.Fatalf("registers differ from the model after set %d=%d", index, count)
			}
		}
	})
}

// FuzzHLLCommands stores arbitrary bytes and runs every HLL command on
// them: a user can SET anything. No reply may be the internal-error reply
// of a recovered panic, and whatever PFADD or PFMERGE leave behind must
// still be an HLL.
func FuzzHLLCommands(f *testing.F) {
	f.Add([]byte(hllEmptyInvalid), "a b c")
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00A\xfe~"), "a b c d e f g")
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00g\x0f"), "c a")
	f.Add([]byte("HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"), "x")
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00\x80"), "")
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, value []byte, elems string) {
		h.t = t
		ele := strings.Fields(elems)
		check := func(args ...string) string {
			t.Helper()
			r := h.do(args...)
			if strings.HasPrefix(r, "-ERR internal error") {
				t.Fatalf("%q panicked on %q", args, value)
			}
			return r
		}
		stillHLL := func(key string) {
			t.Helper()
			r := check("GET", key)
			if r == "$-1\r\n" {
				return
			}
			v := bulkPayload(r)
			if checkHLL([]byte(v)) != nil {
				t.Fatalf("%s is no longer an HLL: %q (from %q)", key, v, value)
			}
		}
		for _, cmds := range [][][]string{
			{append([]string{"PFADD", "k"}, ele...)},
			{{"PFCOUNT", "k"}, {"PFCOUNT", "k"}},
			{{"PFCOUNT", "k", "k"}},
			{{"PFMERGE", "d", "k"}, {"PFMERGE", "k", "d"}},
			{{"PFDEBUG", "DECODE", "k"}, {"PFDEBUG", "TODENSE", "k"}, {"PFDEBUG", "GETREG", "k"}},
		} {
			check("SET", "k", string(value))
			check("DEL", "d")
			wasHLL := checkHLL(value) == nil
			for _, args := range cmds {
				check(args...)
			}
			if wasHLL {
				stillHLL("k")
				stillHLL("d")
			}
		}
	})
}
