package resp

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestString2ll(t *testing.T) {
	cases := []struct {
		in string
		v  int64
		ok bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"-1", -1, true}, {"12345", 12345, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"18446744073709551616", 0, false}, {"99999999999999999999", 0, false},
		{"", 0, false}, {"-", 0, false}, {"-0", 0, false}, {"00", 0, false}, {"01", 0, false},
		{"+1", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1a", 0, false}, {"0x1", 0, false},
	}
	for _, c := range cases {
		v, ok := String2ll([]byte(c.in))
		if ok != c.ok || (ok && v != c.v) {
			t.Errorf("String2ll(%q) = %d, %v; want %d, %v", c.in, v, ok, c.v, c.ok)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		in   string
		want []string // nil with ok=false means unbalanced
		ok   bool
	}{
		{"", nil, true},
		{"   ", nil, true},
		{"a b  c", []string{"a", "b", "c"}, true},
		{"\v\fa", []string{"a"}, true},
		{"a\v b", []string{"a\v", "b"}, true},
		{`"a b" 'c d'`, []string{"a b", "c d"}, true},
		{`"\x41\x4a\x4g"`, []string{"AJx4g"}, true},
		{`"\n\r\t\b\a\\\""`, []string{"\n\r\t\b\a\\\""}, true},
		{`'\'\n'`, []string{`'\n`}, true},
		{`a"b c"d`, nil, false},
		{`a"b c"`, []string{"ab c"}, true},
		{`"a`, nil, false},
		{`'a`, nil, false},
		{`"a\"`, nil, false},
		{`""`, []string{""}, true},
		{"a\x00b", []string{"a"}, true},
		{"\"a\x00\"", nil, false},
	}
	for _, c := range cases {
		args, ok := SplitArgs([]byte(c.in))
		if ok != c.ok {
			t.Errorf("SplitArgs(%q) ok = %v", c.in, ok)
			continue
		}
		var got []string
		for _, a := range args {
			got = append(got, string(a))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// parseAll feeds data in chunks of size chunk (0: all at once) and returns
// the commands and the error. The loop is bounded: every returned command
// consumes at least one byte.
func parseAll(t testing.TB, data []byte, chunk int, maxBulk int64) ([][][]byte, error) {
	p := NewParser(maxBulk)
	var cmds [][][]byte
	if chunk <= 0 {
		chunk = len(data) + 1
	}
	for off := 0; off < len(data); off += chunk {
		p.Feed(data[off:min(off+chunk, len(data))])
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("Next did not stop on %q", data)
			}
			args, err := p.Next()
			if err != nil {
				return cmds, err
			}
			if args == nil {
				break
			}
			cmds = append(cmds, args)
		}
	}
	if b := p.Buffered(); b > len(data) {
		t.Fatalf("Buffered %d > input %d", b, len(data))
	}
	return cmds, nil
}

func TestParserChunkingIndependent(t *testing.T) {
	stream := "PING\r\n*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n\r\n*0\r\nSET a \"b c\"\n*1\r\n$0\r\n\r\n"
	want := [][]string{{"PING"}, {"ECHO", "hello"}, {"SET", "a", "b c"}, {""}}
	for chunk := 0; chunk < 8; chunk++ {
		cmds, err := parseAll(t, []byte(stream), chunk, DefaultProtoMaxBulkLen)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]string
		for _, c := range cmds {
			var s []string
			for _, a := range c {
				s = append(s, string(a))
			}
			got = append(got, s)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunk %d: %q", chunk, got)
		}
	}
}

func TestProtocolErrorIs(t *testing.T) {
	_, err := parseAll(t, []byte("*x\r\n"), 0, 10)
	var pe *ProtocolError
	if !errors.Is(err, ErrProtocol) || !errors.As(err, &pe) || pe.Msg != "ERR Protocol error: invalid multibulk length" {
		t.Fatalf("err = %v", err)
	}
}

func encodeCmds(cmds [][][]byte) []byte {
	var b []byte
	for _, c := range cmds {
		b = fmt.Appendf(b, "*%d\r\n", len(c))
		for _, a := range c {
			b = fmt.Appendf(b, "$%d\r\n", len(a))
			b = append(b, a...)
			b = append(b, '\r', '\n')
		}
	}
	return b
}

// FuzzReader feeds arbitrary bytes to the request parser. It must not panic
// or loop; it must return well-formed commands (at least one argument) and
// then either wait for more input or fail with a Redis protocol error; the
// way the bytes are split into reads must not change the outcome (below the
// 64 KiB limits, where Redis itself depends on read sizes); and the commands
// re-encoded as multibulk must parse back to themselves.
func FuzzReader(f *testing.F) {
	for _, c := range redisCases {
		if len(c.in) < 1024 {
			f.Add([]byte(c.in), uint8(0))
			f.Add([]byte(c.in), uint8(1))
		}
	}
	for _, c := range unauthCases {
		f.Add([]byte(c.in), uint8(3))
	}
	f.Add(encodeCmds([][][]byte{{[]byte("SET"), []byte("k"), []byte("v\r\n")}}), uint8(2))
	f.Add([]byte("PING\r\n*1\r\n$4\r\nPING\r\n\"a\\x00\" 'b'\n"), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		const maxBulk = 1 << 16
		whole, werr := parseAll(t, data, 0, maxBulk)
		for _, c := range whole {
			if len(c) == 0 {
				t.Fatalf("empty command from %q", data)
			}
		}
		if werr != nil {
			var pe *ProtocolError
			if !errors.As(werr, &pe) || !strings.HasPrefix(pe.Msg, "ERR Protocol error: ") ||
				strings.ContainsAny(pe.Msg, "\r\n") {
				t.Fatalf("bad error %#v from %q", werr, data)
			}
		}
		if len(data) <= InlineMaxSize {
			split, serr := parseAll(t, data, int(chunk%16)+1, maxBulk)
			if !reflect.DeepEqual(whole, split) || fmt.Sprint(werr) != fmt.Sprint(serr) {
				t.Fatalf("chunking changed the result for %q:\n%q %v\n%q %v", data, whole, werr, split, serr)
			}
		}
		if len(whole) > 0 {
			again, err := parseAll(t, encodeCmds(whole), 0, math.MaxInt64)
			if err != nil || !reflect.DeepEqual(again, whole) {
				t.Fatalf("re-encoded commands parse to %q, %v; want %q", again, err, whole)
			}
		}
	})
}
