// Package leakcheck fails a package's test run when goroutines the tests
// started outlive them (STYLE.md habit 13). Use it from TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m, 5*time.Second, "skerry/pd.") }
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests; if they pass, it waits up to wait for every
// goroutine whose stack contains one of markers to end, and fails the run
// (listing their stacks) if any is left. It never returns.
func Main(m *testing.M, wait time.Duration, markers ...string) {
	code := m.Run()
	if code == 0 {
		if leaked := waitGone(wait, markers); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// Wait polls the goroutine stacks, other than the caller's, until none
// contains one of markers (it returns ""), or returns the matching stacks
// once wait has passed. Tests of a Close use it directly.
func Wait(wait time.Duration, markers ...string) string {
	return waitGone(wait, markers)
}

func waitGone(wait time.Duration, markers []string) string {
	deadline := time.Now().Add(wait)
	for {
		leaked := matching(markers)
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// matching returns the stacks of goroutines that contain a marker, other
// than the one asking (its stack is in matching itself) and the one
// running the package's TestMain.
func matching(markers []string) []string {
	buf := make([]byte, 4<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	var out []string
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "leakcheck.matching(") || strings.Contains(g, ".TestMain(") {
			continue
		}
		for _, mk := range markers {
			if strings.Contains(g, mk) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
