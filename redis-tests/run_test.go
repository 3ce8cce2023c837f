package redistests

import (
	"strings"
	"testing"
)

// TestRunReportsMismatchesAndRecords runs a small transcript with one wrong expectation, one
// missing expectation and a matcher against a real redis-server (skipped when not installed).
func TestRunReportsMismatchesAndRecords(t *testing.T) {
	addr := StartRedisServer(t)
	text := "=== t\n> SET k v\n+OK\n> GET k\n\"wrong\"\n> STRLEN k\n> TTL k\n?int -1..-1\n@reconnect\n> GET k\n\"v\"\n"
	tr, err := Parse("t.txt", text)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(addr, tr)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Mismatches) != 2 {
		t.Fatalf("got %d mismatches, want 2: %v", len(res.Mismatches), res.Mismatches)
	}
	want := "t.txt:4: [t] > GET k\n  want:\n    \"wrong\"\n  got:\n    \"v\"\n"
	if got := res.Mismatches[0].String(); got != want {
		t.Errorf("mismatch rendering:\n%s\nwant:\n%s", got, want)
	}
	rec := res.Recorded.Text()
	wantRec := strings.Replace(strings.Replace(text, "\"wrong\"", "\"v\"", 1), "> STRLEN k\n", "> STRLEN k\n:1\n", 1)
	if rec != wantRec {
		t.Errorf("recorded:\n%s\nwant:\n%s", rec, wantRec)
	}
}
