package redistests

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTranscriptFilesAreCanonical checks, without any server, that every golden file parses,
// is in canonical form, has a title before its first command and an expected reply for every
// command.
func TestTranscriptFilesAreCanonical(t *testing.T) {
	total := 0
	for _, path := range transcriptFiles(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := Parse(filepath.Base(path), string(b))
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.Text(); got != string(b) {
			t.Errorf("%s: not in canonical form (run with -rewrite)", path)
		}
		titled := false
		for _, it := range tr.Items {
			if strings.HasPrefix(it.Raw, prefixTitle) {
				titled = true
			}
			if !it.IsCommand() {
				continue
			}
			if !titled {
				t.Errorf("%s:%d: command before the first title", path, it.Line)
			}
			if it.Want == nil {
				t.Errorf("%s:%d: command without expected reply (run with -rewrite)", path, it.Line)
			}
		}
		total += tr.Commands()
		t.Logf("%s: %d commands", filepath.Base(path), tr.Commands())
	}
	t.Logf("total: %d commands", total)
}

func readAll(t *testing.T, wire string) Value {
	t.Helper()
	v, err := ReadValue(bufio.NewReader(strings.NewReader(wire)))
	if err != nil {
		t.Fatalf("ReadValue(%q): %v", wire, err)
	}
	return v
}

func TestReadValueRendersEveryType(t *testing.T) {
	cases := []struct {
		wire string
		want []string
	}{
		{"+OK\r\n", []string{"+OK"}},
		{"+\r\n", []string{"+"}},
		{"+ a \r\n", []string{`+" a "`}},
		{"-ERR x\r\n", []string{"-ERR x"}},
		{"-ERR 'a' \r\n", []string{`-"ERR 'a' "`}},
		{":-12\r\n", []string{":-12"}},
		{"$3\r\na\x00\"\r\n", []string{`"a\x00\""`}},
		{"$0\r\n\r\n", []string{`""`}},
		{"$-1\r\n", []string{"(nil)"}},
		{"*-1\r\n", []string{"(nil-array)"}},
		{"*0\r\n", []string{"*0"}},
		{"*2\r\n:1\r\n*1\r\n$1\r\nx\r\n", []string{"*2", "  :1", "  *1", `    "x"`}},
		{"_\r\n", []string{"(null)"}},
		{",1.5\r\n", []string{",1.5"}},
		{",inf\r\n", []string{",inf"}},
		{"#t\r\n", []string{"(true)"}},
		{"#f\r\n", []string{"(false)"}},
		{"(123\r\n", []string{"(bignum) 123"}},
		{"!3\r\nERR\r\n", []string{`(blob-error) "ERR"`}},
		{"=7\r\ntxt:a\nb\r\n", []string{`(verbatim) txt "a\nb"`}},
		{"%1\r\n+k\r\n:1\r\n", []string{"%1", "  +k", "  :1"}},
		{"~1\r\n:1\r\n", []string{"~1", "  :1"}},
		{">2\r\n+message\r\n:1\r\n", []string{"(push) 2", "  +message", "  :1"}},
		{"|1\r\n+a\r\n:1\r\n:2\r\n", []string{"(attr) 1", "  +a", "  :1", "  :2"}},
	}
	for _, c := range cases {
		v := readAll(t, c.wire)
		got := Render(v)
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("Render(%q) = %q, want %q", c.wire, got, c.want)
		}
		p, err := ParsePattern(got, 1)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", got, err)
		}
		if !p.Match(v) {
			t.Errorf("rendering %q does not match its own value", got)
		}
	}
}

func TestReadValueRejectsBadInput(t *testing.T) {
	for _, wire := range []string{"", "\r\n", "?x\r\n", ":x\r\n", "$5\r\nab\r\n", "$2\r\nabcd", "*2\r\n:1\r\n", "#x\r\n", "+OK\n", "=2\r\nab\r\n", "$-2\r\n"} {
		if _, err := ReadValue(bufio.NewReader(strings.NewReader(wire))); err == nil {
			t.Errorf("ReadValue(%q) succeeded", wire)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{`SET a b`, []string{"SET", "a", "b"}},
		{`  SET   a  `, []string{"SET", "a"}},
		{`SET "a b" "\x00\xff\n\"\\"`, []string{"SET", "a b", "\x00\xff\n\"\\"}},
		{`SET '' 'it\'s "x"'`, []string{"SET", "", `it's "x"`}},
		{`SET ""`, []string{"SET", ""}},
	}
	for _, c := range cases {
		got, err := SplitArgs(c.line)
		if err != nil {
			t.Fatalf("SplitArgs(%q): %v", c.line, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("SplitArgs(%q) = %q, want %q", c.line, got, c.want)
		}
		for i := range got {
			if string(got[i]) != c.want[i] {
				t.Errorf("SplitArgs(%q)[%d] = %q, want %q", c.line, i, got[i], c.want[i])
			}
		}
	}
	for _, bad := range []string{`SET "a`, `SET "a"b`, `SET a"b`, `SET "\x4"`, `SET 'a`, `SET "\q"`} {
		if _, err := SplitArgs(bad); err == nil {
			t.Errorf("SplitArgs(%q) succeeded", bad)
		}
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", "\x00\x01\xff", `"\`, "a b\r\n\t", "é"} {
		got, err := Unquote(Quote(s))
		if err != nil || got != s {
			t.Errorf("Unquote(Quote(%q)) = %q, %v", s, got, err)
		}
	}
}

func TestMatchers(t *testing.T) {
	cases := []struct {
		pattern []string
		wire    string
		want    bool
	}{
		{[]string{"?any"}, "*1\r\n:1\r\n", true},
		{[]string{"?int"}, ":5\r\n", true},
		{[]string{"?int"}, "$1\r\n5\r\n", false},
		{[]string{"?int 1..5"}, ":5\r\n", true},
		{[]string{"?int 1..5"}, ":6\r\n", false},
		{[]string{"?bulk"}, "$0\r\n\r\n", true},
		{[]string{"?bulk"}, "$-1\r\n", false},
		{[]string{"?bulklen 2"}, "$2\r\nab\r\n", true},
		{[]string{"?bulklen 2"}, "$3\r\nabc\r\n", false},
		{[]string{"?double"}, ",1\r\n", true},
		{[]string{"?re ^a+$"}, "$2\r\naa\r\n", true},
		{[]string{"?re ^a+$"}, "+aa\r\n", true},
		{[]string{"?re ^a+$"}, "-aa\r\n", false},
		{[]string{"?err ^ERR"}, "-ERR x\r\n", true},
		{[]string{"?err ^ERR"}, "+ERR x\r\n", false},
		{[]string{"?unordered *2", `  "b"`, `  "a"`}, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", true},
		{[]string{"?unordered *2", `  "b"`, `  "b"`}, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", false},
		{[]string{"?unordered *2", `  "b"`, `  "a"`}, "~2\r\n$1\r\na\r\n$1\r\nb\r\n", false},
		{[]string{"?unordered %2", `  "b"`, `  :2`, `  "a"`, `  :1`}, "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n", true},
		{[]string{"?unordered %2", `  "b"`, `  :1`, `  "a"`, `  :2`}, "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n", false},
		{[]string{"*2", "  ?int", "  ?any"}, "*2\r\n:1\r\n*0\r\n", true},
		{[]string{"*2", "  ?int", "  ?any"}, "*3\r\n:1\r\n*0\r\n:1\r\n", false},
		{[]string{`"1"`}, ":1\r\n", false},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pattern, 1)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", c.pattern, err)
		}
		if got := p.Match(readAll(t, c.wire)); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pattern, c.wire, got, c.want)
		}
	}
	for _, bad := range [][]string{{"?nope"}, {"?int 1"}, {"?re ("}, {"?bulklen x"}, {":1", ":2"}, {"*1", "   :1"}} {
		if _, err := ParsePattern(bad, 1); err == nil {
			t.Errorf("ParsePattern(%q) succeeded", bad)
		}
	}
}

func TestParseRejectsBadTranscripts(t *testing.T) {
	for _, text := range []string{
		"=== t\n:1\n",
		"=== t\n> \n",
		"=== t\n@nope\n",
		"=== t\n> GET \"x\n",
		"=== t\n> GET x\n?int 5\n",
	} {
		if _, err := Parse("x.txt", text); err == nil {
			t.Errorf("Parse(%q) succeeded", text)
		}
	}
}

func FuzzReadValue(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "*2\r\n:1\r\n$1\r\na\r\n", "%1\r\n+a\r\n#t\r\n", "|1\r\n+a\r\n:1\r\n:2\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ReadValue(bufio.NewReader(strings.NewReader(string(b))))
		if err != nil {
			return
		}
		p, err := ParsePattern(Render(v), 1)
		if err != nil {
			t.Fatalf("rendering of a valid value does not parse: %v", err)
		}
		if !p.Match(v) {
			t.Fatalf("rendering does not match its value: %q", Render(v))
		}
	})
}

func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{`SET a b`, `SET "a\x00" 'b'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args, err := SplitArgs(line)
		if err != nil {
			return
		}
		var parts []string
		for _, a := range args {
			parts = append(parts, Quote(string(a)))
		}
		again, err := SplitArgs(strings.Join(parts, " "))
		if err != nil || len(again) != len(args) {
			t.Fatalf("quoted args do not split back: %q", parts)
		}
		for i := range args {
			if string(again[i]) != string(args[i]) {
				t.Fatalf("arg %d: %q != %q", i, again[i], args[i])
			}
		}
	})
}
