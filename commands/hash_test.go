package commands

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/commands/keyspace/keyspacetest"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/resp"
)

// hashMeta returns the metadata of key in database 0 of the harness.
func hashMeta(t *testing.T, h *harness, key string) (keyspace.Meta, bool) {
	t.Helper()
	m, ok, err := keyspace.New(h.store.Txn(), 0).Lookup([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return m, ok
}

// expectBig fails unless key is a hash whose Big flag is big.
func expectBig(t *testing.T, h *harness, key string, big bool) {
	t.Helper()
	m, ok := hashMeta(t, h, key)
	if !ok || m.Type != keyspace.TypeHash {
		t.Fatalf("%q is not a hash", key)
	}
	if m.Big != big {
		t.Fatalf("%q: Big = %v, want %v", key, m.Big, big)
	}
}

// hsetFields sets every field to "v" + field in one HSET.
func hsetFields(t *testing.T, h *harness, key string, fields []string) {
	t.Helper()
	args := []string{"HSET", key}
	for _, f := range fields {
		args = append(args, f, "v"+f)
	}
	if got := h.do(args...); !strings.HasPrefix(got, ":") {
		t.Fatalf("HSET: %q", got)
	}
}

func hashNumbered(prefix string, from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

func TestHashBigFlagFollowsRedisConversions(t *testing.T) {
	h := newHarness(t)
	entries, _ := (&Ctx{Env: h.d.env}).hashLimits()

	// Entries: a hash converts when it gets more than
	// hash-max-listpack-entries fields and never converts back.
	hsetFields(t, h, "h", hashNumbered("f", 0, int(entries)))
	expectBig(t, h, "h", false)
	h.expect(":0\r\n", "HSET", "h", "f0", "updated") // an update adds no field
	expectBig(t, h, "h", false)
	h.expect(":1\r\n", "HSETNX", "h", "one-more", "x")
	expectBig(t, h, "h", true)
	args := append([]string{"HDEL", "h"}, hashNumbered("f", 0, int(entries)-1)...)
	h.expect(":"+strconv.Itoa(int(entries)-1)+"\r\n", args...)
	h.expect(":2\r\n", "HLEN", "h")
	expectBig(t, h, "h", true)
	// Deleting the last field deletes the key; a new hash is compact.
	h.expect(":2\r\n", "HDEL", "h", "one-more", fmt.Sprint("f", entries-1))
	h.expect(":0\r\n", "EXISTS", "h")
	h.expect(":1\r\n", "HSET", "h", "a", "1")
	expectBig(t, h, "h", false)

	// Values: a field or value longer than hash-max-listpack-value.
	long := strings.Repeat("x", 65)
	edge := strings.Repeat("x", 64)
	h.expect(":1\r\n", "HSET", "v", edge, edge)
	expectBig(t, h, "v", false)
	// HSET checks every argument, even of a field it only updates.
	h.expect(":1\r\n", "HSET", "v", "a", "1", "a", long)
	expectBig(t, h, "v", true)
	h.expect(":1\r\n", "HSET", "v2", long, "1")
	expectBig(t, h, "v2", true)
	h.expect("+OK\r\n", "HMSET", "v3", "a", "1", "b", long)
	expectBig(t, h, "v3", true)

	// HSETNX checks only a field it adds.
	h.expect(":1\r\n", "HSETNX", "n", "a", "1")
	h.expect(":0\r\n", "HSETNX", "n", "a", long)
	expectBig(t, h, "n", false)
	h.expect(":1\r\n", "HSETNX", "n", "b", long)
	expectBig(t, h, "n", true)

	// HINCRBY and HINCRBYFLOAT check the field and the new value.
	h.expect(":1\r\n", "HINCRBY", "i", long, "1")
	expectBig(t, h, "i", true)
	h.expect("$3\r\n1.5\r\n", "HINCRBYFLOAT", "fl", "a", "1.5")
	expectBig(t, h, "fl", false)
	if got := h.do("HINCRBYFLOAT", "fl", "a", "1e100"); len(got) < 100 {
		t.Fatalf("HINCRBYFLOAT 1e100: %q", got)
	}
	expectBig(t, h, "fl", true)

	// Limits of zero: every hash with a field is a hashtable, and only
	// non-empty strings are too long.
	h.expect("+OK\r\n", "CONFIG", "SET", "hash-max-listpack-value", "0")
	h.expect(":1\r\n", "HSET", "z", "", "")
	expectBig(t, h, "z", false)
	h.expect(":1\r\n", "HSET", "z2", "a", "")
	expectBig(t, h, "z2", true)
	h.expect("+OK\r\n", "CONFIG", "SET", "hash-max-listpack-value", "64")
	h.expect("+OK\r\n", "CONFIG", "SET", "hash-max-listpack-entries", "0")
	h.expect(":1\r\n", "HSETNX", "z3", "a", "1")
	expectBig(t, h, "z3", true)
}

func TestHashSizeIsExact(t *testing.T) {
	h := newHarness(t)
	h.expect(":2\r\n", "HSET", "h", "a", "1", "a", "2", "b", "3")
	h.expect(":2\r\n", "HLEN", "h")
	h.expect(":0\r\n", "HSET", "h", "a", "x", "b", "y")
	h.expect(":1\r\n", "HDEL", "h", "a", "a", "nofield")
	h.expect(":1\r\n", "HLEN", "h")
	h.expect(":1\r\n", "HINCRBY", "h", "c", "1")
	h.expect("$3\r\n1.5\r\n", "HINCRBYFLOAT", "h", "d", "1.5")
	h.expect(":3\r\n", "HLEN", "h")
	h.expect(":3\r\n", "HDEL", "h", "b", "c", "d", "e")
	h.expect(":0\r\n", "EXISTS", "h")
	// Failed commands create nothing.
	h.expect("-ERR value is not an integer or out of range\r\n", "HINCRBY", "h", "a", "x")
	h.expect("-ERR value is NaN or Infinity\r\n", "HINCRBYFLOAT", "h", "a", "inf")
	h.expect("-ERR wrong number of arguments for 'hset' command\r\n", "HSET", "h", "a", "1", "b")
	h.expect(":0\r\n", "EXISTS", "h")
	if n := h.store.Len(); n != 0 {
		t.Fatalf("%d records left after the hash was deleted", n)
	}
}

func TestHashKeepsTTL(t *testing.T) {
	h := newHarness(t)
	h.expect(":1\r\n", "HSET", "h", "a", "1")
	h.expect(":1\r\n", "EXPIREAT", "h", "4102444800")
	h.expect(":1\r\n", "HSET", "h", "b", "1")
	h.expect(":2\r\n", "HINCRBY", "h", "b", "1")
	h.expect(":1\r\n", "HDEL", "h", "b")
	h.expect(":4102444800\r\n", "EXPIRETIME", "h")
}

// TestHashCorruptSizeFailsCleanly: a reply whose length comes from
// Meta.Size must not be sent when the records disagree.
func TestHashCorruptSizeFailsCleanly(t *testing.T) {
	h := newHarness(t)
	h.expect(":2\r\n", "HSET", "h", "a", "1", "b", "2")
	m, _ := hashMeta(t, h, "h")
	if err := h.store.Txn().Delete(keys.MemberKey(0, []byte("h"), m.Version, []byte("a"))); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"HGETALL", "h"}, {"HKEYS", "h"}, {"HVALS", "h"}, {"HRANDFIELD", "h", "10"}} {
		if got := h.do(cmd...); !strings.HasPrefix(got, "-ERR commands: hash") {
			t.Errorf("%q: %q", cmd, got)
		}
	}
}

// hscanAll runs HSCAN from cursor 0 to the end and returns the pages.
func hscanAll(t *testing.T, h *harness, key string, opts ...string) [][]string {
	t.Helper()
	var pages [][]string
	cursor := "0"
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatal("HSCAN does not end")
		}
		v := parseHashRESP(t, h.do(append([]string{"HSCAN", key, cursor}, opts...)...))
		if v.typ != '*' || len(v.elems) != 2 || len(v.elems[1].elems)%2 != 0 {
			t.Fatalf("bad HSCAN reply %+v", v)
		}
		var page []string
		for _, e := range v.elems[1].elems {
			page = append(page, e.s)
		}
		pages = append(pages, page)
		cursor = v.elems[0].s
		if cursor == "0" {
			return pages
		}
	}
}

func TestHashScanBigHashReturnsEveryFieldOnce(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewSource(3))
	want := map[string]bool{}
	var fields []string
	add := func(f string) {
		if !want[f] {
			want[f] = true
			fields = append(fields, f)
		}
	}
	for len(fields) < 900 {
		add(fmt.Sprintf("%x", rng.Uint64()>>uint(rng.Intn(64))))
	}
	// Short, empty and binary fields, and a run sharing its first 7
	// bytes (which a page never splits).
	for _, f := range []string{"", "a", "\x00", "\x00\x00", "\xff", "\xff\xff\xff\xff\xff\xff\xff\xff\xff"} {
		add(f)
	}
	for len(fields) < 1000 {
		add("samepre" + strconv.Itoa(len(fields)))
	}
	for i := 0; i < len(fields); i += 100 {
		hsetFields(t, h, "big", fields[i:min(i+100, len(fields))])
	}
	h.expect(":1000\r\n", "HLEN", "big")
	expectBig(t, h, "big", true)

	for _, count := range []int{1, 7, 10, 100, 5000} {
		pages := hscanAll(t, h, "big", "COUNT", strconv.Itoa(count))
		seen := map[string]int{}
		for i, p := range pages {
			for j := 0; j < len(p); j += 2 {
				if p[j+1] != "v"+p[j] {
					t.Fatalf("COUNT %d: field %q has value %q", count, p[j], p[j+1])
				}
				seen[p[j]]++
			}
			if i < len(pages)-1 && len(p)/2 < count {
				t.Fatalf("COUNT %d: page %d has %d entries", count, i, len(p)/2)
			}
		}
		for f := range want {
			if seen[f] != 1 {
				t.Fatalf("COUNT %d: field %q returned %d times", count, f, seen[f])
			}
		}
		if len(seen) != len(want) {
			t.Fatalf("COUNT %d: %d fields returned, want %d", count, len(seen), len(want))
		}
		if count == 10 && len(pages) < 50 {
			t.Fatalf("COUNT 10 took only %d pages", len(pages))
		}
	}

	// MATCH filters after paging: the same pages, fewer entries.
	matched := 0
	for _, p := range hscanAll(t, h, "big", "MATCH", "samepre*", "COUNT", "10") {
		for j := 0; j < len(p); j += 2 {
			if !strings.HasPrefix(p[j], "samepre") {
				t.Fatalf("MATCH returned %q", p[j])
			}
			matched++
		}
	}
	if matched != hashCountPrefix(fields, "samepre") {
		t.Fatalf("MATCH samepre* returned %d fields", matched)
	}

	// Fields changed mid-scan: those present throughout come exactly once.
	stable := map[string]bool{}
	for f := range want {
		stable[f] = true
	}
	seen := map[string]int{}
	cursor := "0"
	for round := 0; ; round++ {
		v := parseHashRESP(t, h.do("HSCAN", "big", cursor, "COUNT", "20"))
		for j := 0; j < len(v.elems[1].elems); j += 2 {
			seen[v.elems[1].elems[j].s]++
		}
		// Delete two random original fields, add two new ones.
		for k := 0; k < 2; k++ {
			f := fields[rng.Intn(len(fields))]
			delete(stable, f)
			h.do("HDEL", "big", f)
			h.do("HSET", "big", fmt.Sprintf("new%d-%d", round, k), "x")
		}
		cursor = v.elems[0].s
		if cursor == "0" {
			break
		}
	}
	for f := range stable {
		if seen[f] != 1 {
			t.Fatalf("stable field %q returned %d times", f, seen[f])
		}
	}
	for f, n := range seen {
		if n != 1 {
			t.Fatalf("field %q returned %d times", f, n)
		}
	}
}

func hashCountPrefix(fields []string, prefix string) int {
	n := 0
	for _, f := range fields {
		if strings.HasPrefix(f, prefix) {
			n++
		}
	}
	return n
}

func TestHashScanCompactHashIgnoresCursorAndCount(t *testing.T) {
	h := newHarness(t)
	h.expect(":3\r\n", "HSET", "h", "a", "1", "b", "2", "c", "3")
	all := "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"
	h.expect(all, "HSCAN", "h", "0", "COUNT", "1")
	h.expect(all, "HSCAN", "h", "12345")
	h.expect("*2\r\n$1\r\n0\r\n*0\r\n", "HSCAN", "h", "0", "MATCH", "z*")
	h.expect("*2\r\n$1\r\n0\r\n*0\r\n", "HSCAN", "nokey", "1", "COUNT", "0")
	h.expect("-ERR invalid cursor\r\n", "HSCAN", "nokey", "x")
}

// hrandReply runs HRANDFIELD and returns the fields (and values) of its
// reply, flattened.
func hrandReply(t *testing.T, h *harness, args ...string) []string {
	t.Helper()
	raw := h.do(append([]string{"HRANDFIELD"}, args...)...)
	v := parseHashRESP(t, raw)
	if v.typ != '*' {
		t.Fatalf("HRANDFIELD %q: %q", args, raw)
	}
	var out []string
	for _, e := range v.elems {
		if e.typ == '*' {
			for _, p := range e.elems {
				out = append(out, p.s)
			}
			continue
		}
		out = append(out, e.s)
	}
	return out
}

func TestHashRandFieldProperties(t *testing.T) {
	for _, proto := range []int{2, 3} {
		h := newHarness(t)
		h.c.Proto = proto
		fields := hashNumbered("f", 0, 10)
		hsetFields(t, h, "h", fields)
		isField := map[string]bool{}
		for _, f := range fields {
			isField[f] = true
		}

		// Positive counts: distinct fields, min(count, size) of them.
		for _, count := range []int{1, 2, 5, 9, 10, 11, 1000} {
			got := hrandReply(t, h, "h", strconv.Itoa(count), "WITHVALUES")
			if len(got) != 2*min(count, 10) {
				t.Fatalf("RESP%d count %d: %d elements", proto, count, len(got))
			}
			seen := map[string]bool{}
			for i := 0; i < len(got); i += 2 {
				if !isField[got[i]] || got[i+1] != "v"+got[i] || seen[got[i]] {
					t.Fatalf("RESP%d count %d: bad or repeated entry %q=%q in %q", proto, count, got[i], got[i+1], got)
				}
				seen[got[i]] = true
			}
		}
		// RESP3 WITHVALUES is an array of pairs, RESP2 a flat array.
		v := parseHashRESP(t, h.do("HRANDFIELD", "h", "-3", "WITHVALUES"))
		if proto == 3 && (len(v.elems) != 3 || v.elems[0].typ != '*' || len(v.elems[0].elems) != 2) {
			t.Fatalf("RESP3 shape %+v", v)
		}
		if proto == 2 && len(v.elems) != 6 {
			t.Fatalf("RESP2 shape %+v", v)
		}

		// Negative counts repeat fields; the picks are close to uniform.
		hist := map[string]int{}
		const picks = 20000
		for _, f := range hrandReply(t, h, "h", strconv.Itoa(-picks)) {
			if !isField[f] {
				t.Fatalf("%q is not a field", f)
			}
			hist[f]++
		}
		for _, f := range fields {
			// Expected 2000 each; 7 standard deviations is about 300.
			if n := hist[f]; n < 1700 || n > 2300 {
				t.Fatalf("RESP%d: field %q picked %d times of %d: %v", proto, f, n, picks, hist)
			}
		}
		// Distinct subsets are uniform too.
		hist = map[string]int{}
		for i := 0; i < 2000; i++ {
			for _, f := range hrandReply(t, h, "h", "3") {
				hist[f]++
			}
		}
		for _, f := range fields {
			if n := hist[f]; n < 450 || n > 750 { // expected 600
				t.Fatalf("RESP%d: field %q in %d of 2000 3-subsets: %v", proto, f, n, hist)
			}
		}
		// Without a count: a bulk string.
		if got := parseHashRESP(t, h.do("HRANDFIELD", "h")); got.typ != '$' || !isField[got.s] {
			t.Fatalf("HRANDFIELD h: %+v", got)
		}
	}
}

func TestHashRandFieldHugeCounts(t *testing.T) {
	h := newHarness(t)
	h.expect(":1\r\n", "HSET", "h", "a", "1")
	tooLarge := "-" + errHrandReplyTooLarge.Msg + "\r\n"
	// Refused before any work: no reply of 2^63 elements is attempted.
	h.expect(tooLarge, "HRANDFIELD", "h", "-9223372036854775807")
	h.expect(tooLarge, "HRANDFIELD", "h", "-4611686018427387903", "WITHVALUES")
	h.expect("-ERR value is out of range\r\n", "HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES")
	h.expect("-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
		"HRANDFIELD", "h", "-9223372036854775808")
	// Huge positive counts are bounded by the hash.
	h.expect("*1\r\n$1\r\na\r\n", "HRANDFIELD", "h", "9223372036854775807")
	h.expect("*2\r\n$1\r\na\r\n$1\r\n1\r\n", "HRANDFIELD", "h", "4611686018427387903", "WITHVALUES")
	// A count that passes the first check but whose reply grows past
	// proto-max-bulk-len fails when it gets there.
	h.expect("+OK\r\n", "CONFIG", "SET", "proto-max-bulk-len", "1mb")
	h.expect(":1\r\n", "HSET", "h", strings.Repeat("x", 1000), "1")
	got := h.do("HRANDFIELD", "h", "-100000")
	if got != tooLarge {
		t.Fatalf("HRANDFIELD -100000: %.80q", got)
	}
	if v := parseHashRESP(t, h.do("HRANDFIELD", "h", "-1000")); len(v.elems) != 1000 {
		t.Fatalf("HRANDFIELD -1000: %d elements", len(v.elems))
	}
	// Fewer picks than fields, but the picked entries alone exceed the
	// limit: refused while reading them.
	big := strings.Repeat("v", 2000)
	for i := 0; i < 2000; i += 100 {
		args := []string{"HSET", "many"}
		for j := i; j < i+100; j++ {
			args = append(args, strconv.Itoa(j), big)
		}
		h.do(args...)
	}
	h.expect(tooLarge, "HRANDFIELD", "many", "-1500", "WITHVALUES")
	if v := parseHashRESP(t, h.do("HRANDFIELD", "many", "-100", "WITHVALUES")); len(v.elems) != 200 {
		t.Fatalf("HRANDFIELD many -100 WITHVALUES: %d elements", len(v.elems))
	}
}

// hashCountingStore runs command bodies against an in-memory keyspace and
// counts the records scans deliver, to check how much a command reads.
type hashCountingStore struct {
	s       *keyspacetest.Store
	visited *int
}

type hashCountingTxn struct {
	keyspace.Txn
	visited *int
}

func (t hashCountingTxn) Scan(lower, upper []byte, reverse bool, fn func(k, v []byte) error) error {
	return t.Txn.Scan(lower, upper, reverse, func(k, v []byte) error {
		*t.visited++
		return fn(k, v)
	})
}

func (m hashCountingStore) txn() keyspace.Txn { return hashCountingTxn{m.s.Txn(), m.visited} }

func (m hashCountingStore) Update(_ context.Context, _ int, _ [][]byte, fn func(keyspace.Txn) error) error {
	return fn(m.txn())
}

func (m hashCountingStore) View(_ context.Context, _ int, _ [][]byte, fn func(keyspace.Txn) error) error {
	return fn(m.txn())
}

func (m hashCountingStore) UpdateBatch(_ context.Context, _ int, _ [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	errs := make([]error, len(fns))
	for i, fn := range fns {
		errs[i] = fn(m.txn())
	}
	return errs, nil
}

// TestHashRandFieldBigHash checks HRANDFIELD on a hash of random fields:
// replies are right, picks are spread uniformly over the fields, and each
// call reads the hash at most once.
func TestHashRandFieldBigHash(t *testing.T) {
	st := keyspacetest.NewStore(harnessNowMs)
	visited := 0
	env := &Env{Store: hashCountingStore{st, &visited}, Config: NewConfig(map[string]string{}), Version: "7.0.15"}
	h := &harness{t: t, store: st, d: NewDispatcher(context.Background(), NewRedisTable(), env),
		c: &resp.Client{ID: 1, Proto: 2, User: "default"}}
	const size = 5000
	rng := rand.New(rand.NewSource(9))
	isField := map[string]bool{}
	var fields []string
	for len(fields) < size {
		f := fmt.Sprintf("%x", rng.Uint64()>>uint(rng.Intn(60)))
		if !isField[f] {
			isField[f] = true
			fields = append(fields, f)
		}
	}
	for i := 0; i < size; i += 1000 {
		hsetFields(t, h, "h", fields[i:min(i+1000, size)])
	}
	expectBig(t, h, "h", true)

	check := func(args []string, wantLen int, distinct bool) []string {
		t.Helper()
		visited = 0
		got := hrandReply(t, h, args...)
		if len(got) != wantLen {
			t.Fatalf("%q: %d elements, want %d", args, len(got), wantLen)
		}
		seen := map[string]bool{}
		step := 1
		if len(args) == 3 {
			step = 2
		}
		var out []string
		for i := 0; i < len(got); i += step {
			if !isField[got[i]] || (step == 2 && got[i+1] != "v"+got[i]) {
				t.Fatalf("%q: bad entry %q", args, got[i])
			}
			if distinct && seen[got[i]] {
				t.Fatalf("%q: %q returned twice", args, got[i])
			}
			seen[got[i]] = true
			out = append(out, got[i])
		}
		if visited > size+1 {
			t.Fatalf("%q read %d records of a %d-field hash", args, visited, size)
		}
		return out
	}
	check([]string{"h", "5"}, 5, true)
	check([]string{"h", "-50", "WITHVALUES"}, 100, false)
	check([]string{"h", "1"}, 1, true)
	check([]string{"h", "3000"}, 3000, true)
	check([]string{"h", strconv.Itoa(size - 1), "WITHVALUES"}, 2*(size-1), true)
	check([]string{"h", strconv.Itoa(size + 1)}, size, true)
	check([]string{"h", "-6000"}, 6000, false)

	// Picks fall uniformly over the fields in byte order, whatever the
	// gaps between them (fields of many lengths here).
	sorted := append([]string(nil), fields...)
	sort.Strings(sorted)
	deciles := func(picks []string) [10]int {
		var d [10]int
		for _, f := range picks {
			d[sort.SearchStrings(sorted, f)*10/size]++
		}
		return d
	}
	for d, n := range deciles(check([]string{"h", "-4000"}, 4000, false)) {
		if n < 280 || n > 520 { // 400 expected; 6 standard deviations is 114
			t.Fatalf("decile %d picked %d times of 4000", d, n)
		}
	}
	for d, n := range deciles(check([]string{"h", "2000"}, 2000, true)) {
		if n < 130 || n > 270 { // 200 expected; sd about 10
			t.Fatalf("decile %d has %d of 2000 distinct picks", d, n)
		}
	}
	var single []string
	for i := 0; i < 500; i++ {
		visited = 0
		v := parseHashRESP(t, h.do("HRANDFIELD", "h"))
		if !isField[v.s] || visited > size {
			t.Fatalf("HRANDFIELD h: %+v after reading %d records", v, visited)
		}
		single = append(single, v.s)
	}
	for d, n := range deciles(single) {
		if n < 12 || n > 88 { // 50 expected; sd about 6.7
			t.Fatalf("decile %d picked %d times of 500 single picks", d, n)
		}
	}
}
