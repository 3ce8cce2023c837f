package commands

import (
	"fmt"
	"testing"
)

// Members sharing long prefixes ("member:000123") still page by COUNT,
// every member comes back exactly once, and a scan whose table slot was
// reused falls back to its prefix without skipping anything.
func TestCollScanPagesLongSharedPrefixes(t *testing.T) {
	h := newHarness(t)
	const n = 1000
	args := []string{"HSET", "big"}
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprintf("member:%06d", i), "v")
	}
	h.expect(fmt.Sprintf(":%d\r\n", n), args...)
	pages := hscanAll(t, h, "big", "COUNT", "10")
	seen := map[string]int{}
	for _, p := range pages {
		if len(p) > 20 {
			t.Fatalf("a page of %d entries for COUNT 10", len(p)/2)
		}
		for i := 0; i < len(p); i += 2 {
			seen[p[i]]++
		}
	}
	if len(seen) != n {
		t.Fatalf("scan returned %d distinct fields, want %d", len(seen), n)
	}
	for f, c := range seen {
		if c != 1 {
			t.Fatalf("field %s returned %d times", f, c)
		}
	}
	if len(pages) < n/10 {
		t.Fatalf("%d pages for %d fields at COUNT 10", len(pages), n)
	}

	// Forget every remembered position: the scan resumes at the 6-byte
	// prefix ("member"), repeating members but never skipping one.
	v := parseHashRESP(t, h.do("HSCAN", "big", "0", "COUNT", "10"))
	cursor := v.elems[0].s
	scanCursors.mu.Lock()
	for i := range scanCursors.slots {
		scanCursors.slots[i] = cursorEntry{}
	}
	scanCursors.mu.Unlock()
	v = parseHashRESP(t, h.do("HSCAN", "big", cursor, "COUNT", "10"))
	if got := v.elems[1].elems[0].s; got != "member:000000" {
		t.Fatalf("after losing the table the scan resumed at %q, want the prefix start", got)
	}
}
