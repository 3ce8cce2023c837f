package commands

import (
	"fmt"
	"math/rand"
	"strconv"
	"testing"
)

func TestSetbitGetbit(t *testing.T) {
	scriptTest(t, 2, []step{
		{"SETBIT b 7 1", ":0"},
		{"SETBIT b 7 1", ":1"},
		{"GET b", "=$1\r\n\x01"},
		{"SETBIT b 0 1", ":0"},
		{"GET b", "=$1\r\n\x81"},
		{"SETBIT b 7 0", ":1"},
		{"SETBIT b 17 1", ":0"},
		{"GET b", "=$3\r\n\x80\x00\x40"},
		{"GETBIT b 0", ":1"},
		{"GETBIT b 1", ":0"},
		{"GETBIT b 17", ":1"},
		{"GETBIT b 1000", ":0"},
		{"GETBIT nokey 3", ":0"},
		{"SETBIT b 1 2", "=-ERR bit is not an integer or out of range"},
		{"SETBIT b 1 -1", "=-ERR bit is not an integer or out of range"},
		{"SETBIT b 1 x", "=-ERR bit is not an integer or out of range"},
		{"SETBIT b -1 1", "=-ERR bit offset is not an integer or out of range"},
		{"SETBIT b 4294967296 1", "=-ERR bit offset is not an integer or out of range"},
		{"SETBIT b #1 1", "=-ERR bit offset is not an integer or out of range"},
		{"GETBIT b 4294967296", "=-ERR bit offset is not an integer or out of range"},
		{"GETBIT b x", "=-ERR bit offset is not an integer or out of range"},
		{"GETBIT b 4294967295", ":0"},
		{"@list l", ""},
		{"SETBIT l 0 1", errWrong},
		{"SETBIT l 0 2", "=-ERR bit is not an integer or out of range"},
		{"GETBIT l 0", errWrong},
	})
}

func TestBitcountBitpos(t *testing.T) {
	scriptTest(t, 2, []step{
		{"SET s foobar", "+OK"},
		{"BITCOUNT s", ":26"},
		{"BITCOUNT s 0 0", ":4"},
		{"BITCOUNT s 1 1", ":6"},
		{"BITCOUNT s 1 1 BYTE", ":6"},
		{"BITCOUNT s 5 30 BIT", ":17"},
		{"BITCOUNT s -1 -1", ":4"},
		{"BITCOUNT s -1 -2", ":0"},
		{"BITCOUNT s -100 100", ":26"},
		{"BITCOUNT s 0", errSyntax},
		{"BITCOUNT s 0 1 foo", errSyntax},
		{"BITCOUNT s 0 1 BIT x", errSyntax},
		{"BITCOUNT s a 1", errNotInt},
		{"BITCOUNT nokey a b", ":0"},
		{"BITCOUNT nokey", ":0"},
		{"SET e ''", "+OK"},
		{"BITCOUNT e", ":0"},
		{"BITCOUNT e 0 -1", ":0"},
		{"@list l", ""},
		{"BITCOUNT l", errWrong},
		{"BITCOUNT l 0", errWrong},
		{`SET p "\xff\xf0\x00"`, "+OK"},
		{"BITPOS p 0", ":12"},
		{"BITPOS p 1 2", ":-1"},
		{"BITPOS p 0 2", ":16"},
		{"BITPOS p 1 0 -1 BIT", ":0"},
		{"BITPOS p 0 0 7 BIT", ":-1"},
		{"BITPOS p 0 0 11 BIT", ":-1"},
		{"BITPOS p 0 3 12 BIT", ":12"},
		{"BITPOS p 1 14 20 BIT", ":-1"},
		{`SET f "\xff\xff"`, "+OK"},
		{"BITPOS f 0", ":16"},
		{"BITPOS f 0 0", ":16"},
		{"BITPOS f 0 0 -1", ":-1"},
		{"BITPOS f 0 0 -1 BYTE", ":-1"},
		{"BITPOS f 1 1 0", ":-1"},
		{"BITPOS nokey 1", ":-1"},
		{"BITPOS nokey 0", ":0"},
		{"BITPOS nokey 0 a", ":0"},
		{"BITPOS e 0", ":-1"},
		{"BITPOS e 1", ":-1"},
		{"BITPOS f 2", "=-ERR The bit argument must be 1 or 0."},
		{"BITPOS f x", errNotInt},
		{"BITPOS f 1 x", errNotInt},
		{"BITPOS f 1 0 x", errNotInt},
		{"BITPOS f 1 0 1 foo", errSyntax},
		{"BITPOS l 1", errWrong},
	})
}

func TestBitop(t *testing.T) {
	scriptTest(t, 2, []step{
		{`MSET a "\xf0\x0f" b "\xff"`, "+OK"},
		{"BITOP AND d a b", ":2"},
		{"GET d", "=$2\r\n\xf0\x00"},
		{"BITOP OR d a b", ":2"},
		{"GET d", "=$2\r\n\xff\x0f"},
		{"BITOP XOR d a b nokey", ":2"},
		{"GET d", "=$2\r\n\x0f\x0f"},
		{"BITOP NOT d a", ":2"},
		{"GET d", "=$2\r\n\x0f\xf0"},
		{"BITOP NOT d a b", "=-ERR BITOP NOT must be called with a single source key."},
		{"BITOP FOO d a", errSyntax},
		{"BITOP and d nokey nokey2", ":0"},
		{"GET d", "$-1"},
		{"@list l", ""},
		{"BITOP OR d a l", errWrong},
		{"BITOP OR l a", ":2"},
		{"GET l", "=$2\r\n\xf0\x0f"},
	})
}

func TestBitfield(t *testing.T) {
	scriptTest(t, 2, []step{
		{"BITFIELD bf SET i8 0 100 GET i8 0", "*2 :0 :100"},
		{"BITFIELD bf INCRBY i8 0 100", "*1 :-56"},
		{"BITFIELD bf OVERFLOW SAT INCRBY i8 0 -100 INCRBY i8 0 -100", "*2 :-128 :-128"},
		{"BITFIELD bf OVERFLOW FAIL INCRBY i8 0 -1 GET u8 0", "*2 $-1 :128"},
		{"BITFIELD bf SET u4 #1 15 GET u4 #1 GET u8 0", "*3 :0 :15 :143"},
		{"BITFIELD bf OVERFLOW WRAP INCRBY u4 #1 3", "*1 :2"},
		{"BITFIELD bf OVERFLOW SAT INCRBY u4 #1 100 INCRBY u4 #1 -100", "*2 :15 :0"},
		{"BITFIELD bf OVERFLOW FAIL SET u2 0 4 SET i2 0 -3 SET i2 0 1", "*3 $-1 $-1 :-2"},
		{"BITFIELD bf OVERFLOW SAT SET u2 0 4 SET i2 0 -3", "*2 :1 :-1"},
		{"BITFIELD bf SET u8 0 -1 GET u8 0", "*2 :128 :255"},
		{"BITFIELD bf SET i64 0 -1 GET i64 0 GET u63 1", "*3 :-72057594037927936 :-1 :9223372036854775807"},
		{"BITFIELD bf OVERFLOW WRAP INCRBY i64 0 -9223372036854775808", "*1 :9223372036854775807"},
		{"BITFIELD bf OVERFLOW SAT INCRBY i64 0 9223372036854775807", "*1 :9223372036854775807"},
		{"BITFIELD bf OVERFLOW FAIL INCRBY i64 0 1", "*1 $-1"},
		{"BITFIELD bf OVERFLOW WRAP INCRBY u63 1 1", "*1 :0"},
		{"BITFIELD bf GET u8 1000 GET i5 7", "*2 :0 :0"},
		{"BITFIELD nokey GET u8 0", "*1 :0"},
		{"GET nokey", "$-1"},
		{"BITFIELD nokey", "*0"},
		{"BITFIELD nokey2 OVERFLOW FAIL SET u1 100 2", "*1 $-1"},
		{"STRLEN nokey2", ":13"},
		{"BITFIELD bf GET u64 0", "=-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"BITFIELD bf GET i65 0", "=-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"BITFIELD bf GET i0 0", "=-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"BITFIELD bf GET x8 0", "=-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"BITFIELD bf GET u08 0", "=-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"BITFIELD bf GET u8 -1", "=-ERR bit offset is not an integer or out of range"},
		{"BITFIELD bf GET u8 #-1", "=-ERR bit offset is not an integer or out of range"},
		{"BITFIELD bf GET u8 4294967296", "=-ERR bit offset is not an integer or out of range"},
		{"BITFIELD bf GET u8 #536870912", "=-ERR bit offset is not an integer or out of range"},
		{"BITFIELD bf SET u8 0 x", errNotInt},
		{"BITFIELD bf INCRBY u8 0 1.5", errNotInt},
		{"BITFIELD bf OVERFLOW foo", "=-ERR Invalid OVERFLOW type specified"},
		{"BITFIELD bf OVERFLOW", errSyntax},
		{"BITFIELD bf GET u8", errSyntax},
		{"BITFIELD bf SET u8 0", errSyntax},
		{"BITFIELD bf FOO", errSyntax},
		{"BITFIELD_RO bf GET u8 0 GET i4 4", "*2 :0 :0"},
		{"BITFIELD_RO bf SET u8 0 1", "=-ERR BITFIELD_RO only supports the GET subcommand"},
		{"BITFIELD_RO bf INCRBY u8 0 1", "=-ERR BITFIELD_RO only supports the GET subcommand"},
		{"BITFIELD_RO bf OVERFLOW SAT", "*0"},
		{"BITFIELD_RO bf SET x8 0 1", "=-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"@list l", ""},
		{"BITFIELD l GET u8 0", errWrong},
		{"BITFIELD l SET u8 0 1", errWrong},
		{"BITFIELD_RO l GET u8 0", errWrong},
		{"BITFIELD l", errWrong},
	})
}

func TestBitfieldResp3(t *testing.T) {
	scriptTest(t, 3, []step{
		{"BITFIELD bf OVERFLOW FAIL INCRBY u2 0 4 GET u2 0", "*2 _ :0"},
	})
}

// bitModel is a reference bitmap: one bool per bit, MSB first.
type bitModel []bool

func modelFrom(b []byte) bitModel {
	m := make(bitModel, len(b)*8)
	for i := range m {
		m[i] = b[i/8]>>(7-i%8)&1 == 1
	}
	return m
}

func (m bitModel) bytes() []byte {
	out := make([]byte, len(m)/8)
	for i, v := range m {
		if v {
			out[i/8] |= 1 << (7 - i%8)
		}
	}
	return out
}

// span converts Redis start/end arguments over n units to a clamped
// inclusive range; ok is false when it is empty.
func span(start, end, n int64) (int64, int64, bool) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	end = min(end, n-1)
	return start, end, start <= end
}

// TestBitmapRandomized compares BITCOUNT, BITPOS, GETBIT/SETBIT and
// BITFIELD GET/SET against the bit-per-bool model on random strings.
func TestBitmapRandomized(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	h := newHarness(t)
	for iter := 0; iter < 300; iter++ {
		n := rng.Intn(6)
		b := make([]byte, n)
		for i := range b {
			switch rng.Intn(3) {
			case 0:
				b[i] = 0
			case 1:
				b[i] = 0xff
			default:
				b[i] = byte(rng.Intn(256))
			}
		}
		h.expect("+OK\r\n", "SET", "k", string(b))
		m := modelFrom(b)
		bitsN := int64(len(m))
		r := func() int64 { return int64(rng.Intn(2*len(b)*8+6)) - int64(len(b)*8) - 3 }

		// BITCOUNT in both units.
		s, e := r()/4, r()/4
		want := int64(0)
		if lo, hi, ok := span(s, e, int64(n)); ok && !(s < 0 && e < 0 && s > e) {
			for i := lo * 8; i <= hi*8+7; i++ {
				if m[i] {
					want++
				}
			}
		}
		h.expect(fmt.Sprintf(":%d\r\n", want), "BITCOUNT", "k", itoa(s), itoa(e))
		s, e = r(), r()
		want = 0
		if lo, hi, ok := span(s, e, bitsN); ok && !(s < 0 && e < 0 && s > e) {
			for i := lo; i <= hi; i++ {
				if m[i] {
					want++
				}
			}
		}
		h.expect(fmt.Sprintf(":%d\r\n", want), "BITCOUNT", "k", itoa(s), itoa(e), "BIT")

		// BITPOS with each argument shape.
		for bit := 0; bit <= 1; bit++ {
			wantBit := bit == 1
			find := func(lo, hi int64, endGiven, ok bool) int64 {
				if !ok {
					return -1
				}
				for i := lo; i <= hi; i++ {
					if m[i] == wantBit {
						return i
					}
				}
				if !wantBit && !endGiven {
					return hi + 1
				}
				return -1
			}
			if n == 0 {
				continue // an empty string answers -1 for every shape
			}
			lo, hi, ok := span(0, int64(n)-1, int64(n))
			h.expect(fmt.Sprintf(":%d\r\n", find(lo*8, hi*8+7, false, ok)), "BITPOS", "k", itoa(int64(bit)))
			s = r() / 4
			lo, hi, ok = span(s, int64(n)-1, int64(n))
			h.expect(fmt.Sprintf(":%d\r\n", find(lo*8, hi*8+7, false, ok)), "BITPOS", "k", itoa(int64(bit)), itoa(s))
			s, e = r()/4, r()/4
			lo, hi, ok = span(s, e, int64(n))
			h.expect(fmt.Sprintf(":%d\r\n", find(lo*8, hi*8+7, true, ok)), "BITPOS", "k", itoa(int64(bit)), itoa(s), itoa(e))
			s, e = r(), r()
			lo, hi, ok = span(s, e, bitsN)
			h.expect(fmt.Sprintf(":%d\r\n", find(lo, hi, true, ok)), "BITPOS", "k", itoa(int64(bit)), itoa(s), itoa(e), "BIT")
		}

		// BITFIELD GET/SET of random widths, then SETBIT/GETBIT.
		signed := rng.Intn(2) == 0
		width := 1 + rng.Intn(63)
		if signed {
			width = 1 + rng.Intn(64)
		}
		typ := "u" + itoa(int64(width))
		if signed {
			typ = "i" + itoa(int64(width))
		}
		off := int64(rng.Intn(len(b)*8 + 16))
		var v uint64
		for i := int64(0); i < int64(width); i++ {
			v <<= 1
			if off+i < bitsN && m[off+i] {
				v |= 1
			}
		}
		got := int64(v)
		if signed && width < 64 && v>>(width-1)&1 == 1 {
			got = int64(v | ^uint64(0)<<width)
		}
		h.expect(fmt.Sprintf("*1\r\n:%d\r\n", got), "BITFIELD", "k", "GET", typ, itoa(off))
		nv := rng.Int63()
		h.do("BITFIELD", "k", "OVERFLOW", "WRAP", "SET", typ, itoa(off), itoa(nv))
		for int64(len(m)) < off+int64(width) {
			m = append(m, make(bitModel, 8)...)
		}
		for i := 0; i < width; i++ {
			m[off+int64(i)] = uint64(nv)>>(width-1-i)&1 == 1
		}
		h.expect(fmt.Sprintf("$%d\r\n%s\r\n", len(m)/8, m.bytes()), "GET", "k")
		pos := int64(rng.Intn(len(m) + 8))
		was := pos < int64(len(m)) && m[pos]
		h.expect(fmt.Sprintf(":%d\r\n", b2i(was)), "SETBIT", "k", itoa(pos), "1")
		h.expect(":1\r\n", "GETBIT", "k", itoa(pos))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
