package commands

import (
	"math"
	"strconv"
	"testing"
)

func TestParseInt(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1": 1, "-1": -1, "123": 123,
		"9223372036854775807":  math.MaxInt64,
		"-9223372036854775808": math.MinInt64,
	}
	for s, want := range good {
		if got, ok := ParseInt([]byte(s)); !ok || got != want {
			t.Errorf("ParseInt(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "-", "+1", " 1", "1 ", "01", "-0", "00", "1.0", "1e3",
		"9223372036854775808", "-9223372036854775809", "18446744073709551616",
		"99999999999999999999", "0x10", "1\x00", "abc"} {
		if got, ok := ParseInt([]byte(s)); ok {
			t.Errorf("ParseInt(%q) = %d, accepted", s, got)
		}
	}
}

func TestParseFloat(t *testing.T) {
	good := map[string]float64{
		"0": 0, "1.5": 1.5, "-2": -2, "+3": 3, ".5": 0.5, "5.": 5, "1e3": 1000,
		"1E-2": 0.01, "0x10": 16, "0x1p-2": 0.25, "0X.8": 0.5, "inf": math.Inf(1),
		"-Infinity": math.Inf(-1), "+INF": math.Inf(1), "1e-310": 1e-310, "0e-999": 0,
		"00012": 12,
	}
	for s, want := range good {
		if got, ok := ParseFloat([]byte(s)); !ok || got != want {
			t.Errorf("ParseFloat(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", " 1", "1 ", "nan", "NaN", "-nan", "1e", "1e+", "0x", "0xp1",
		"1_000", "1e400", "-1e400", "1e-400", "in", "infin", "1.2.3", "--1", "+-1", ".", "e5",
		"0x1p", "1\x00"} {
		if got, ok := ParseFloat([]byte(s)); ok {
			t.Errorf("ParseFloat(%q) = %v, accepted", s, got)
		}
	}
}

func TestLongDouble(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{"10.5", "0.1", "10.6"},
		{"5.0e3", "0", "5000"},
		{"3.0e3", "1.5", "3001.5"},
		{"0", "1.1e-5", "0.000011"},
		{"0.1", "0.2", "0.3"},
		{"1", "-1", "0"},
		{"-0.0", "0", "0"},
		{"0", "-1e-18", "0"},
		{"0x1p63", "0", "9223372036854775808"},
		{"1.18973149535723176502e4932", "0", ""}, // just below LDBL_MAX: printable
	}
	for _, c := range cases {
		a, ok1 := ParseLongDouble([]byte(c.a))
		b, ok2 := ParseLongDouble([]byte(c.b))
		if !ok1 || !ok2 {
			t.Fatalf("parse %q %q: %v %v", c.a, c.b, ok1, ok2)
		}
		sum, ok := a.Add(b)
		if !ok {
			t.Fatalf("%s+%s overflowed", c.a, c.b)
		}
		if c.want != "" && sum.Format() != c.want {
			t.Errorf("%s+%s = %s, want %s", c.a, c.b, sum.Format(), c.want)
		}
	}
	for _, s := range []string{"1.19e4932", "1e-5000", "nan", " 1", strconv.Itoa(1) + string(make([]byte, 5200))} {
		if _, ok := ParseLongDouble([]byte(s)); ok {
			t.Errorf("ParseLongDouble(%.20q) accepted", s)
		}
	}
	inf, ok := ParseLongDouble([]byte("-inf"))
	if !ok || !inf.IsInf() || inf.Format() != "-inf" {
		t.Errorf("-inf: %v %v %q", ok, inf.IsInf(), inf.Format())
	}
	if _, ok := inf.Add(LongDoubleFromInt(1)); ok {
		t.Error("-inf+1 accepted")
	}
	big, _ := ParseLongDouble([]byte("1.1e4932"))
	if _, ok := big.Add(big); ok {
		t.Error("overflow to infinity accepted")
	}
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-1", "+1", "01", "9223372036854775807", "-9223372036854775808", " 1", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := ParseInt(b)
		if !ok {
			return
		}
		// Every accepted input is the canonical decimal form of its value.
		if s := strconv.FormatInt(n, 10); s != string(b) {
			t.Fatalf("ParseInt(%q) = %d, canonical form %q", b, n, s)
		}
	})
}

func FuzzParseFloat(f *testing.F) {
	for _, s := range []string{"1.5", "-0x1p3", "inf", "nan", "1e400", "0x", ".5", "5.", "1e-5000", "3.0e3"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := ParseFloat(b)
		if ok && math.IsNaN(v) {
			t.Fatalf("ParseFloat(%q) accepted NaN", b)
		}
		ld, ok := ParseLongDouble(b)
		if !ok {
			return
		}
		// A formatted long double always parses back to a value.
		s := ld.Format()
		if _, ok := ParseLongDouble([]byte(s)); !ok && !ld.IsInf() && len(s) < maxLongDoubleChars {
			t.Fatalf("Format(%q) = %q does not parse", b, s)
		}
	})
}
