package resp

import (
	"bufio"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestWriterGolden(t *testing.T) {
	type tc struct {
		name       string
		write      func(w *Writer)
		resp2, re3 string
	}
	cases := []tc{
		{"simple", func(w *Writer) { w.Simple("PONG") }, "+PONG\r\n", "+PONG\r\n"},
		{"ok", func(w *Writer) { w.OK() }, "+OK\r\n", "+OK\r\n"},
		{"error", func(w *Writer) { w.Error("ERR syntax error") }, "-ERR syntax error\r\n", "-ERR syntax error\r\n"},
		{"error newlines", func(w *Writer) { w.Error("ERR a\r\nb\nc") }, "-ERR a  b c\r\n", "-ERR a  b c\r\n"},
		{"int", func(w *Writer) { w.Int(-42) }, ":-42\r\n", ":-42\r\n"},
		{"int min", func(w *Writer) { w.Int(math.MinInt64) }, ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
		{"bulk", func(w *Writer) { w.Bulk([]byte("a\r\nb")) }, "$4\r\na\r\nb\r\n", "$4\r\na\r\nb\r\n"},
		{"bulk empty", func(w *Writer) { w.Bulk(nil) }, "$0\r\n\r\n", "$0\r\n\r\n"},
		{"bulk string", func(w *Writer) { w.BulkString("hé") }, "$3\r\nhé\r\n", "$3\r\nhé\r\n"},
		{"bulk int", func(w *Writer) { w.BulkInt(-7) }, "$2\r\n-7\r\n", "$2\r\n-7\r\n"},
		{"null", func(w *Writer) { w.Null() }, "$-1\r\n", "_\r\n"},
		{"null array", func(w *Writer) { w.NullArray() }, "*-1\r\n", "_\r\n"},
		{"array", func(w *Writer) { w.Array(2); w.Int(1); w.Null() }, "*2\r\n:1\r\n$-1\r\n", "*2\r\n:1\r\n_\r\n"},
		{"empty array", func(w *Writer) { w.Array(0) }, "*0\r\n", "*0\r\n"},
		{"map", func(w *Writer) { w.Map(2); w.BulkString("a"); w.Int(1); w.BulkString("b"); w.Bool(true) },
			"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:1\r\n", "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n#t\r\n"},
		{"empty map", func(w *Writer) { w.Map(0) }, "*0\r\n", "%0\r\n"},
		{"set", func(w *Writer) { w.Set(1); w.BulkString("x") }, "*1\r\n$1\r\nx\r\n", "~1\r\n$1\r\nx\r\n"},
		{"push", func(w *Writer) { w.Push(2); w.BulkString("message"); w.BulkString("c") },
			"*2\r\n$7\r\nmessage\r\n$1\r\nc\r\n", ">2\r\n$7\r\nmessage\r\n$1\r\nc\r\n"},
		{"bool true", func(w *Writer) { w.Bool(true) }, ":1\r\n", "#t\r\n"},
		{"bool false", func(w *Writer) { w.Bool(false) }, ":0\r\n", "#f\r\n"},
		{"double", func(w *Writer) { w.Double(1.5) }, "$3\r\n1.5\r\n", ",1.5\r\n"},
		{"double 0.1", func(w *Writer) { w.Double(0.1) }, "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n"},
		{"double inf", func(w *Writer) { w.Double(math.Inf(1)) }, "$3\r\ninf\r\n", ",inf\r\n"},
		{"double -inf", func(w *Writer) { w.Double(math.Inf(-1)) }, "$4\r\n-inf\r\n", ",-inf\r\n"},
		{"double nan", func(w *Writer) { w.Double(math.NaN()) }, "$3\r\nnan\r\n", ",nan\r\n"},
		{"verbatim", func(w *Writer) { w.Verbatim("a\nb") }, "$3\r\na\nb\r\n", "=7\r\ntxt:a\nb\r\n"},
		{"raw", func(w *Writer) { w.Raw([]byte("+X\r\n")) }, "+X\r\n", "+X\r\n"},
	}
	for _, c := range cases {
		for _, p := range []struct {
			proto int
			want  string
		}{{2, c.resp2}, {3, c.re3}} {
			w := NewWriter(p.proto)
			c.write(w)
			if got := string(w.Bytes()); got != p.want {
				t.Errorf("%s RESP%d: got %q, want %q", c.name, p.proto, got, p.want)
			}
			if w.Len() != len(p.want) {
				t.Errorf("%s RESP%d: Len %d, want %d", c.name, p.proto, w.Len(), len(p.want))
			}
		}
	}
}

func TestWriterResetTruncateProto(t *testing.T) {
	w := NewWriter(2)
	if w.Proto() != 2 {
		t.Fatalf("Proto = %d", w.Proto())
	}
	w.OK()
	n := w.Len()
	w.Int(1)
	w.Truncate(n)
	if got := string(w.Bytes()); got != "+OK\r\n" {
		t.Fatalf("after Truncate: %q", got)
	}
	w.Reset()
	if w.Len() != 0 {
		t.Fatalf("after Reset: %q", w.Bytes())
	}
	w.SetProto(3)
	w.Null()
	if got := string(w.Bytes()); got != "_\r\n" {
		t.Fatalf("after SetProto(3): %q", got)
	}
}

// doubleGolden was produced by C's printf("%.17g") (glibc) and checked
// against Redis 7.0.15's ZSCORE replies where Redis can store the value.
var doubleGolden = []struct {
	f    float64
	want string
}{
	{0, "0"},
	{math.Copysign(0, -1), "-0"},
	{1, "1"},
	{0.1, "0.10000000000000001"},
	{1e17, "1e+17"},
	{1e-5, "1.0000000000000001e-05"},
	{1.5e300, "1.5000000000000001e+300"},
	{3.0, "3"},
	{10.5, "10.5"},
	{123456789012345678, "1.2345678901234568e+17"},
	{1e16, "10000000000000000"},
	{99999999999999984, "99999999999999984"},
	{1e-4, "0.0001"},
	{0.0001234, "0.00012339999999999999"},
	{-2.5, "-2.5"},
	{9007199254740992, "9007199254740992"},
	{9.2233720368547758e18, "9.2233720368547758e+18"},
	{5e-324, "4.9406564584124654e-324"},
	{math.MaxFloat64, "1.7976931348623157e+308"},
	{1e21, "1e+21"},
	{-1e-300, "-1e-300"},
	{123.456, "123.456"},
	{99999999999999999, "1e+17"},
	{0.30000000000000004, "0.30000000000000004"},
	{100, "100"},
	{1e15, "1000000000000000"},
	{9.5, "9.5"},
	{math.Inf(1), "inf"},
	{math.Inf(-1), "-inf"},
	{math.NaN(), "nan"},
}

func TestAppendDoubleGolden(t *testing.T) {
	for _, c := range doubleGolden {
		if got := string(AppendDouble(nil, c.f)); got != c.want {
			t.Errorf("AppendDouble(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

// TestAppendDoubleVsC compares AppendDouble with the C library's %.17g on
// many seeded random values when a C compiler is installed.
func TestAppendDoubleVsC(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "g.c")
	prog := `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
int main(void) {
	char line[64];
	while (fgets(line, sizeof line, stdin)) {
		uint64_t bits = strtoull(line, 0, 16);
		double d;
		memcpy(&d, &bits, 8);
		printf("%.17g\n", d);
	}
	return 0;
}
`
	if err := os.WriteFile(src, []byte(prog), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "g")
	if out, err := exec.Command(cc, "-O1", "-o", bin, src).CombinedOutput(); err != nil {
		t.Skipf("cannot compile: %v %s", err, out)
	}
	rng := rand.New(rand.NewSource(17))
	var vals []float64
	for _, c := range doubleGolden {
		if !math.IsInf(c.f, 0) && !math.IsNaN(c.f) {
			vals = append(vals, c.f)
		}
	}
	for i := 0; i < 20000; i++ {
		var f float64
		switch i % 4 {
		case 0: // any finite bit pattern
			f = math.Float64frombits(rng.Uint64())
		case 1: // around powers of ten, where the exponent choice flips
			e := rng.Intn(40) - 20
			f = math.Pow(10, float64(e)) * (1 + (rng.Float64()-0.5)*1e-15)
		case 2: // integers
			f = float64(rng.Int63n(1 << 62))
		default: // small decimals
			f = float64(rng.Intn(2000000)-1000000) / 1000
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			continue
		}
		vals = append(vals, f)
	}
	var in strings.Builder
	for _, f := range vals {
		fmt.Fprintf(&in, "%x\n", math.Float64bits(f))
	}
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	i, bad := 0, 0
	for sc.Scan() {
		want := sc.Text()
		if got := string(AppendDouble(nil, vals[i])); got != want {
			bad++
			if bad < 20 {
				t.Errorf("AppendDouble(%s) = %q, C says %q", strconv.FormatFloat(vals[i], 'g', -1, 64), got, want)
			}
		}
		i++
	}
	if i != len(vals) {
		t.Fatalf("C printed %d lines for %d values", i, len(vals))
	}
}
