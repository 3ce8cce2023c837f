package commands

import (
	"bufio"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/resp"
)

// setTestElems parses a flat RESP2/RESP3 aggregate of bulk strings (or a
// single bulk string) and returns its elements.
func setTestElems(t *testing.T, raw string) []string {
	t.Helper()
	r := bufio.NewReader(strings.NewReader(raw))
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reply %q: %v", raw, err)
	}
	readBulk := func(head string) string {
		n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
		if err != nil || head[0] != '$' {
			t.Fatalf("reply %.200q: bad bulk header %q", raw, head)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("reply %.200q: %v", raw, err)
		}
		return string(buf[:n])
	}
	switch line[0] {
	case '$':
		return []string{readBulk(line)}
	case '*', '~':
		n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			t.Fatalf("reply %q: %v", raw, err)
		}
		out := []string{}
		for range n {
			head, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reply %q: %v", raw, err)
			}
			out = append(out, readBulk(head))
		}
		return out
	}
	t.Fatalf("unexpected reply %q", raw)
	return nil
}

// setTestMeta returns the metadata of set key in database 0.
func setTestMeta(t *testing.T, h *harness, key string) (keyspace.Meta, bool) {
	t.Helper()
	m, ok, err := keyspace.New(h.store.Txn(), 0).GetCollection([]byte(key), keyspace.TypeSet)
	if err != nil {
		t.Fatal(err)
	}
	return m, ok
}

// setTestEncoding returns what Redis's OBJECT ENCODING would say of key.
func setTestEncoding(t *testing.T, h *harness, key string) string {
	t.Helper()
	m, ok := setTestMeta(t, h, key)
	if !ok {
		return "none"
	}
	if m.Big {
		return "hashtable"
	}
	return "intset"
}

// setTestAddRange adds the members prefix+i for i in [from, to).
func setTestAddRange(h *harness, key, prefix string, from, to int) {
	args := []string{"SADD", key}
	for i := from; i < to; i++ {
		args = append(args, prefix+strconv.Itoa(i))
		if len(args) == 1002 || i == to-1 {
			h.do(args...)
			args = args[:2]
		}
	}
}

func TestSetEncodingFollowsRedis70(t *testing.T) {
	h := newHarness(t)
	h.expect(":3\r\n", "SADD", "i", "1", "2", "3")
	if e := setTestEncoding(t, h, "i"); e != "intset" {
		t.Fatalf("ints: %s", e)
	}
	h.expect(":1\r\n", "SADD", "i", "01") // not canonical: a string
	h.expect(":1\r\n", "SREM", "i", "01")
	if e := setTestEncoding(t, h, "i"); e != "hashtable" {
		t.Fatalf("conversion must be one-way, got %s", e)
	}
	h.expect(":1\r\n", "SADD", "s", "a")
	if e := setTestEncoding(t, h, "s"); e != "hashtable" {
		t.Fatalf("first member a string: %s", e)
	}
	// A failed add never converts.
	h.expect(":1\r\n", "SADD", "j", "-9223372036854775808")
	h.expect(":0\r\n", "SADD", "j", "-9223372036854775808")
	if e := setTestEncoding(t, h, "j"); e != "intset" {
		t.Fatalf("int64 bounds: %s", e)
	}
	h.expect(":1\r\n", "SADD", "j", "9223372036854775808")
	if e := setTestEncoding(t, h, "j"); e != "hashtable" {
		t.Fatalf("beyond int64: %s", e)
	}

	// set-max-intset-entries: converted when an add takes the set past it.
	h.expect("+OK\r\n", "CONFIG", "SET", "set-max-intset-entries", "4")
	h.expect(":4\r\n", "SADD", "l", "1", "2", "3", "4")
	if e := setTestEncoding(t, h, "l"); e != "intset" {
		t.Fatalf("at the limit: %s", e)
	}
	h.expect(":1\r\n", "SADD", "l", "5")
	if e := setTestEncoding(t, h, "l"); e != "hashtable" {
		t.Fatalf("past the limit: %s", e)
	}

	// *STORE builds a fresh set: intset again when it qualifies.
	h.expect(":3\r\n", "SINTERSTORE", "d", "i", "i")
	if e := setTestEncoding(t, h, "d"); e != "intset" {
		t.Fatalf("SINTERSTORE of a hashtable of ints: %s", e)
	}
	h.expect(":5\r\n", "SUNIONSTORE", "d", "l")
	if e := setTestEncoding(t, h, "d"); e != "hashtable" {
		t.Fatalf("SUNIONSTORE past the limit: %s", e)
	}
	h.expect(":2\r\n", "SDIFFSTORE", "d", "l", "i")
	if e := setTestEncoding(t, h, "d"); e != "intset" {
		t.Fatalf("SDIFFSTORE: %s", e)
	}

	// SMOVE creates the destination from the moved member.
	h.expect(":1\r\n", "SMOVE", "i", "new1", "1")
	h.expect(":1\r\n", "SMOVE", "s", "new2", "a")
	if e := setTestEncoding(t, h, "new1"); e != "intset" {
		t.Fatalf("SMOVE int to a new set: %s", e)
	}
	if e := setTestEncoding(t, h, "new2"); e != "hashtable" {
		t.Fatalf("SMOVE string to a new set: %s", e)
	}
	h.expect(":1\r\n", "SMOVE", "new2", "new1", "a")
	if e := setTestEncoding(t, h, "new1"); e != "hashtable" {
		t.Fatalf("SMOVE string into an intset: %s", e)
	}

	// A limit of 0 converts on the first add, as in Redis.
	h.expect("+OK\r\n", "CONFIG", "SET", "set-max-intset-entries", "0")
	h.expect(":1\r\n", "SADD", "z", "1")
	if e := setTestEncoding(t, h, "z"); e != "hashtable" {
		t.Fatalf("limit 0: %s", e)
	}
}

func TestSetSizeStaysExact(t *testing.T) {
	h := newHarness(t)
	h.expect(":3\r\n", "SADD", "s", "a", "b", "a", "c", "b")
	h.expect(":2\r\n", "SREM", "s", "a", "a", "x", "c")
	h.expect(":1\r\n", "SCARD", "s")
	h.expect(":1\r\n", "SREM", "s", "b", "b")
	if _, ok := setTestMeta(t, h, "s"); ok {
		t.Fatal("an emptied set must be deleted")
	}
	h.expect(":0\r\n", "EXISTS", "s")
}

func TestSetIntsetRepliesInNumericOrder(t *testing.T) {
	h := newHarness(t)
	h.expect(":6\r\n", "SADD", "i", "10", "-2", "9", "100", "-10", "0")
	want := []string{"-10", "-2", "0", "9", "10", "100"}
	for _, args := range [][]string{
		{"SMEMBERS", "i"}, {"SINTER", "i"}, {"SUNION", "i"}, {"SDIFF", "i"}, {"SSCAN", "i", "0"},
		{"SRANDMEMBER", "i", "10"},
	} {
		raw := h.do(args...)
		if args[0] == "SSCAN" {
			raw = raw[strings.Index(raw, "*6"):]
		}
		if got := setTestElems(t, raw); !slices.Equal(got, want) {
			t.Errorf("%v: %q, want %q", args, got, want)
		}
	}
}

func TestSetAlgebraAcrossBatches(t *testing.T) {
	h := newHarness(t)
	const n = 3*setScanBatch + 17
	setTestAddRange(h, "a", "m", 0, n)
	setTestAddRange(h, "b", "m", n/2, n+100)
	h.expect(":"+strconv.Itoa(n-n/2)+"\r\n", "SINTERCARD", "2", "a", "b")
	h.expect(":5\r\n", "SINTERCARD", "2", "a", "b", "LIMIT", "5")
	got := setTestElems(t, h.do("SINTER", "b", "a"))
	if len(got) != n-n/2 || !slices.IsSorted(got) {
		t.Fatalf("SINTER: %d members", len(got))
	}
	got = setTestElems(t, h.do("SDIFF", "a", "b"))
	if len(got) != n/2 {
		t.Fatalf("SDIFF: %d members", len(got))
	}
	for _, m := range got {
		i, _ := strconv.Atoi(m[1:])
		if i >= n/2 {
			t.Fatalf("SDIFF returned %s", m)
		}
	}
	h.expect(":"+strconv.Itoa(n+100)+"\r\n", "SUNIONSTORE", "u", "a", "b")
	h.expect(":"+strconv.Itoa(n+100)+"\r\n", "SCARD", "u")
}

// setTestRandomProperties checks one SPOP/SRANDMEMBER reply: its length,
// that every element is a member, and distinctness when required.
func setTestRandomProperties(t *testing.T, what string, got []string, want int, members map[string]bool, distinct bool) {
	t.Helper()
	if len(got) != want {
		t.Fatalf("%s: %d elements, want %d", what, len(got), want)
	}
	seen := map[string]bool{}
	for _, m := range got {
		if !members[m] {
			t.Fatalf("%s: %q is not a member", what, m)
		}
		if distinct && seen[m] {
			t.Fatalf("%s: %q repeated", what, m)
		}
		seen[m] = true
	}
}

func TestSetRandomCommandsProperties(t *testing.T) {
	// Sizes around randomScanMax exercise the exact pass and the random
	// seeks; counts around the Redis thresholds exercise both strategies.
	for _, size := range []int{1, 5, 200, randomScanMax + 500} {
		h := newHarness(t)
		members := map[string]bool{}
		for i := range size {
			members["el:"+strconv.Itoa(i*7)] = true
		}
		args := []string{"SADD", "s"}
		for m := range members {
			args = append(args, m)
		}
		h.do(args...)
		for _, count := range []int{1, 2, size / 10, size / 4, size / 2, size - 1, size, size + 3} {
			if count <= 0 {
				continue
			}
			what := "SRANDMEMBER " + strconv.Itoa(size) + "/" + strconv.Itoa(count)
			got := setTestElems(t, h.do("SRANDMEMBER", "s", strconv.Itoa(count)))
			setTestRandomProperties(t, what, got, min(count, size), members, true)
			got = setTestElems(t, h.do("SRANDMEMBER", "s", strconv.Itoa(-count)))
			setTestRandomProperties(t, what+" negative", got, count, members, false)
		}
		got := setTestElems(t, h.do("SRANDMEMBER", "s"))
		setTestRandomProperties(t, "SRANDMEMBER", got, 1, members, true)

		// SPOP until empty, checking that popped members leave the set.
		remaining := size
		for _, count := range []int{1, size / 10, size / 3, 1, size} {
			if count == 0 {
				h.expect("*0\r\n", "SPOP", "s", "0")
				continue
			}
			got := setTestElems(t, h.do("SPOP", "s", strconv.Itoa(count)))
			n := min(count, remaining)
			setTestRandomProperties(t, "SPOP "+strconv.Itoa(count), got, n, members, true)
			for _, m := range got {
				delete(members, m)
				h.expect(":0\r\n", "SISMEMBER", "s", m)
			}
			remaining -= n
			h.expect(":"+strconv.Itoa(remaining)+"\r\n", "SCARD", "s")
			if m, ok := setTestMeta(t, h, "s"); ok != (remaining > 0) || m.Size != uint64(remaining) {
				t.Fatalf("after SPOP: meta %+v ok %v, want size %d", m, ok, remaining)
			}
		}
		h.expect("$-1\r\n", "SPOP", "s")
	}
}

func TestSetSpopWithoutCountDrainsTheSet(t *testing.T) {
	h := newHarness(t)
	setTestAddRange(h, "s", "", 0, randomScanMax+20)
	seen := map[string]bool{}
	for i := 0; i < randomScanMax+20; i++ {
		got := setTestElems(t, h.do("SPOP", "s"))[0]
		if seen[got] {
			t.Fatalf("SPOP returned %q twice", got)
		}
		seen[got] = true
	}
	h.expect("$-1\r\n", "SPOP", "s")
	h.expect(":0\r\n", "EXISTS", "s")
}

func TestSetRandomMemberCoversSmallSets(t *testing.T) {
	// Small sets are sampled exactly uniformly: every member shows up.
	h := newHarness(t)
	h.do("SADD", "s", "a", "b", "c", "d", "e")
	seen := map[string]int{}
	for range 500 {
		seen[setTestElems(t, h.do("SRANDMEMBER", "s"))[0]]++
	}
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		if seen[m] < 50 {
			t.Fatalf("member %s drawn %d times in 500: %v", m, seen[m], seen)
		}
	}
}

func TestSetHugeCountsAreBounded(t *testing.T) {
	h := newHarness(t)
	h.do("SADD", "s", "a", "b")
	// Positive counts are clamped to the set's size.
	if got := setTestElems(t, h.do("SRANDMEMBER", "s", "9223372036854775807")); len(got) != 2 {
		t.Fatalf("SRANDMEMBER huge: %q", got)
	}
	h.expect("-"+errRandomReplyTooLong.Error()+"\r\n", "SRANDMEMBER", "s", "-9223372036854775807")
	h.expect("-"+errRandomReplyTooLong.Error()+"\r\n", "SRANDMEMBER", "s", strconv.Itoa(-maxRandomReply-1))
	h.expect("*0\r\n", "SRANDMEMBER", "nokey", "-9223372036854775807")
	if got := setTestElems(t, h.do("SPOP", "s", "9223372036854775807")); len(got) != 2 {
		t.Fatalf("SPOP huge: %q", got)
	}
	h.expect(":0\r\n", "EXISTS", "s")
}

func TestSetSscanPagesBigSets(t *testing.T) {
	h := newHarness(t)
	const n = 3000
	// Short members: collScan never splits a run sharing 7 leading bytes.
	setTestAddRange(h, "s", "m", 0, n)
	seen := map[string]bool{}
	cursor := "0"
	for calls := 0; ; calls++ {
		if calls > n {
			t.Fatal("SSCAN does not terminate")
		}
		raw := h.do("SSCAN", "s", cursor, "COUNT", "50")
		head, page, ok := strings.Cut(raw, "\r\n*")
		if !ok {
			t.Fatalf("SSCAN reply %.200q", raw)
		}
		cursor = setTestElems(t, strings.TrimPrefix(head, "*2\r\n")+"\r\n")[0]
		elems := setTestElems(t, "*"+page)
		if len(elems) > 60 {
			t.Fatalf("SSCAN COUNT 50 returned %d members", len(elems))
		}
		for _, m := range elems {
			if seen[m] {
				t.Fatalf("SSCAN returned %q twice", m)
			}
			seen[m] = true
		}
		if cursor == "0" {
			break
		}
	}
	if len(seen) != n {
		t.Fatalf("SSCAN returned %d of %d members", len(seen), n)
	}
}

func TestSetStoreReplacesDestinationCreatedInTheSameTransaction(t *testing.T) {
	// In a pipelined batch a destination written earlier has the
	// transaction's own version; the store must not mix old members in.
	h := newHarness(t)
	h.do("SADD", "{t}a", "1", "2")
	txn := h.store.Txn()
	run := func(args ...string) string {
		bs := make([][]byte, len(args))
		for i, a := range args {
			bs[i] = []byte(a)
		}
		w := resp.NewWriter(2)
		c := &Ctx{Args: bs, W: w, DB: keyspace.New(txn, 0), Env: h.d.env, Cmd: h.d.table.Lookup(bs[0])}
		if err := c.Cmd.Handler(c); err != nil {
			return "-" + ReplyText(err)
		}
		return string(w.Bytes())
	}
	if got := run("SADD", "{t}d", "x", "y", "z"); got != ":3\r\n" {
		t.Fatal(got)
	}
	if got := run("SUNIONSTORE", "{t}d", "{t}a"); got != ":2\r\n" {
		t.Fatal(got)
	}
	if got := run("SMEMBERS", "{t}d"); got != "*2\r\n$1\r\n1\r\n$1\r\n2\r\n" {
		t.Fatalf("SMEMBERS after store: %q", got)
	}
}

func TestSetOpsRandomAgainstModel(t *testing.T) {
	// A seeded random walk over every write command, checked against a
	// map model after each step.
	rng := rand.New(rand.NewPCG(7, 11))
	h := newHarness(t)
	keys := []string{"{k}a", "{k}b", "{k}c"}
	model := map[string]map[string]bool{}
	member := func() string {
		if rng.IntN(3) == 0 {
			return "x" + strconv.Itoa(rng.IntN(20))
		}
		return strconv.Itoa(rng.IntN(40) - 20)
	}
	for step := range 3000 {
		k := keys[rng.IntN(len(keys))]
		k2 := keys[rng.IntN(len(keys))]
		switch rng.IntN(6) {
		case 0:
			m := member()
			h.do("SADD", k, m)
			if model[k] == nil {
				model[k] = map[string]bool{}
			}
			model[k][m] = true
		case 1:
			m := member()
			h.do("SREM", k, m)
			delete(model[k], m)
		case 2:
			m := member()
			got := h.do("SMOVE", k, k2, m)
			if model[k][m] {
				delete(model[k], m)
				if model[k2] == nil {
					model[k2] = map[string]bool{}
				}
				model[k2][m] = true
				if got != ":1\r\n" {
					t.Fatalf("step %d SMOVE %s %s %s: %q", step, k, k2, m, got)
				}
			}
		case 3:
			got := setTestElems(t, h.do("SPOP", k, strconv.Itoa(rng.IntN(3))))
			for _, m := range got {
				if !model[k][m] {
					t.Fatalf("step %d: SPOP %s returned %q", step, k, m)
				}
				delete(model[k], m)
			}
		case 4:
			res := map[string]bool{}
			for m := range model[k] {
				if !model[k2][m] {
					res[m] = true
				}
			}
			h.do("SDIFFSTORE", k, k, k2)
			model[k] = res
		case 5:
			res := map[string]bool{}
			for m := range model[k] {
				res[m] = true
			}
			for m := range model[k2] {
				res[m] = true
			}
			h.do("SUNIONSTORE", k, k, k2)
			model[k] = res
		}
		for _, key := range keys {
			var want []string
			for m := range model[key] {
				want = append(want, m)
			}
			got := setTestElems(t, h.do("SMEMBERS", key))
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: SMEMBERS %s = %q, want %q", step, key, got, want)
			}
			h.expect(":"+strconv.Itoa(len(want))+"\r\n", "SCARD", key)
			if m, ok := setTestMeta(t, h, key); ok != (len(want) > 0) || m.Size != uint64(len(want)) {
				t.Fatalf("step %d: %s meta %+v ok %v, want %d members", step, key, m, ok, len(want))
			}
		}
	}
}
