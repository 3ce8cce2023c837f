package commands

import (
	"math/rand"
	"strconv"
	"testing"
)

// TestDifferentialAgainstRedis sends the same random string and bitmap
// commands to the harness and to the real Redis of SKERRY_TEST_REDIS and
// requires byte-identical replies. It is skipped without a server.
func TestDifferentialAgainstRedis(t *testing.T) {
	rc := dialTestRedis(t)
	rc.do("FLUSHALL")
	h := newHarness(t)
	rng := rand.New(rand.NewSource(11))
	num := func() string {
		switch rng.Intn(6) {
		case 0:
			return strconv.Itoa(rng.Intn(40) - 20)
		case 1:
			return strconv.FormatInt(rng.Int63()-rng.Int63(), 10)
		case 2:
			return "#" + strconv.Itoa(rng.Intn(5))
		default:
			return strconv.Itoa(rng.Intn(80) - 10)
		}
	}
	val := func() string {
		b := make([]byte, rng.Intn(8))
		for i := range b {
			b[i] = "ab\x00\xff\x0fz"[rng.Intn(6)]
		}
		return string(b)
	}
	floats := []string{"0.1", "-0.1", "1e3", "3.0e3", "1.5", "10.5", "1e-5", "0x1p-3", "7", "-2.25",
		"1.7976931348623157e308", "123456789.123456789", "1e-17", "5e-18", "+3", "inf", ".5", "abc", "1e20"}
	keys := []string{"a", "b", "c"}
	key := func() string { return keys[rng.Intn(len(keys))] }
	gens := []func() []string{
		func() []string { return []string{"SET", key(), val()} },
		func() []string { return []string{"GETRANGE", key(), num(), num()} },
		func() []string { return []string{"SETRANGE", key(), strconv.Itoa(rng.Intn(12)), val()} },
		func() []string { return []string{"APPEND", key(), val()} },
		func() []string { return []string{"BITCOUNT", key(), num(), num()} },
		func() []string { return []string{"BITCOUNT", key(), num(), num(), "BIT"} },
		func() []string { return []string{"BITPOS", key(), strconv.Itoa(rng.Intn(2))} },
		func() []string { return []string{"BITPOS", key(), strconv.Itoa(rng.Intn(2)), num()} },
		func() []string { return []string{"BITPOS", key(), strconv.Itoa(rng.Intn(2)), num(), num()} },
		func() []string { return []string{"BITPOS", key(), strconv.Itoa(rng.Intn(2)), num(), num(), "BIT"} },
		func() []string {
			return []string{"SETBIT", key(), strconv.Itoa(rng.Intn(70)), strconv.Itoa(rng.Intn(2))}
		},
		func() []string {
			return []string{"BITOP", []string{"AND", "OR", "XOR"}[rng.Intn(3)], key(), key(), key()}
		},
		func() []string { return []string{"BITOP", "NOT", key(), key()} },
		func() []string {
			typ := []string{"i", "u"}[rng.Intn(2)] + strconv.Itoa(1+rng.Intn(64))
			ow := []string{"WRAP", "SAT", "FAIL"}[rng.Intn(3)]
			op := []string{"GET", "SET", "INCRBY"}[rng.Intn(3)]
			args := []string{"BITFIELD", key(), "OVERFLOW", ow, op, typ, strconv.Itoa(rng.Intn(40))}
			if op != "GET" {
				args = append(args, num())
			}
			return args
		},
		func() []string { return []string{"INCRBYFLOAT", key(), floats[rng.Intn(len(floats))]} },
		func() []string { return []string{"INCRBY", key(), num()} },
		func() []string {
			return []string{"LCS", key(), key(), "IDX", "WITHMATCHLEN", "MINMATCHLEN", strconv.Itoa(rng.Intn(3))}
		},
		func() []string { return []string{"LCS", key(), key()} },
		func() []string { return []string{"GET", key()} },
	}
	for i := 0; i < 3000; i++ {
		args := gens[rng.Intn(len(gens))]()
		want := rc.do(args...)
		if got := h.do(args...); got != want {
			t.Fatalf("step %d %q: skerry %q, redis %q", i, args, got, want)
		}
	}
}

// TestIncrByFloatDifferential compares INCRBYFLOAT on random literals
// (decimal, exponent and hex forms, chained sums) with the real Redis.
func TestIncrByFloatDifferential(t *testing.T) {
	rc := dialTestRedis(t)
	rc.do("FLUSHALL")
	h := newHarness(t)
	rng := rand.New(rand.NewSource(5))
	lit := func() string {
		var s string
		if rng.Intn(4) == 0 {
			s = "-"
		}
		switch rng.Intn(5) {
		case 0:
			s += "0x" + strconv.FormatUint(rng.Uint64()>>uint(rng.Intn(64)), 16)
			if rng.Intn(2) == 0 {
				s += "p" + strconv.Itoa(rng.Intn(80)-40)
			}
		case 1:
			s += strconv.FormatUint(rng.Uint64()>>uint(rng.Intn(64)), 10) + "e" + strconv.Itoa(rng.Intn(60)-30)
		default:
			s += strconv.Itoa(rng.Intn(100000)) + "." + strconv.FormatUint(rng.Uint64()>>uint(rng.Intn(64)), 10)
		}
		return s
	}
	for i := 0; i < 4000; i++ {
		k := "k" + strconv.Itoa(rng.Intn(20))
		args := []string{"INCRBYFLOAT", k, lit()}
		want := rc.do(args...)
		if got := h.do(args...); got != want {
			t.Fatalf("step %d %q: skerry %q, redis %q", i, args, got, want)
		}
	}
}
