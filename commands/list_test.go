package commands

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/resp"
)

// countingTxn counts the storage operations of one command body.
type countingTxn struct {
	keyspace.Txn
	n *txnCounts
}

type txnCounts struct {
	gets, scans, visited, writes int
}

func (t countingTxn) Get(k []byte) ([]byte, bool, error) {
	t.n.gets++
	return t.Txn.Get(k)
}

func (t countingTxn) Set(k, v []byte) error {
	t.n.writes++
	return t.Txn.Set(k, v)
}

func (t countingTxn) Delete(k []byte) error {
	t.n.writes++
	return t.Txn.Delete(k)
}

func (t countingTxn) Scan(lo, hi []byte, rev bool, fn func(k, v []byte) error) error {
	t.n.scans++
	return t.Txn.Scan(lo, hi, rev, func(k, v []byte) error {
		t.n.visited++
		return fn(k, v)
	})
}

// countingStore is memStore with every transaction counted into last.
type countingStore struct {
	memStore
	last txnCounts
}

func (s *countingStore) Update(_ context.Context, _ int, _ [][]byte, fn func(keyspace.Txn) error) error {
	s.last = txnCounts{}
	return fn(countingTxn{s.s.Txn(), &s.last})
}

func (s *countingStore) View(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	return s.Update(ctx, db, ks, fn)
}

func newCountingHarness(t *testing.T) (*harness, *countingStore) {
	h := newHarness(t)
	cs := &countingStore{memStore: memStore{h.store}}
	env := &Env{Store: cs, Config: NewConfig(map[string]string{}), Version: "7.0.15"}
	h.d = NewDispatcher(context.Background(), NewRedisTable(), env)
	return h, cs
}

// fillList RPUSHes n elements "e0".."e<n-1>" to key in batches.
func fillList(h *harness, key string, n int) {
	for i := 0; i < n; i += 100 {
		args := []string{"RPUSH", key}
		for j := i; j < n && j < i+100; j++ {
			args = append(args, "e"+strconv.Itoa(j))
		}
		h.do(args...)
	}
}

// TestListCommandsTouchOnlyWhatTheyNeed checks the storage cost of list
// commands on a 1000-element list: point commands do point reads, scans
// stop early, and inserts and removals shift the shorter side.
func TestListCommandsTouchOnlyWhatTheyNeed(t *testing.T) {
	h, cs := newCountingHarness(t)
	fillList(h, "l", 1000)
	// Writing the metadata back reads it once more (keyspace.DB.Put).
	cases := []struct {
		args                      []string
		want                      string
		maxGets, maxVisited, maxW int
	}{
		{[]string{"LINDEX", "l", "777"}, "$4\r\ne777\r\n", 2, 0, 0},
		{[]string{"LINDEX", "l", "-1"}, "$4\r\ne999\r\n", 2, 0, 0},
		{[]string{"LSET", "l", "500", "x"}, "+OK\r\n", 2, 0, 2},
		{[]string{"LLEN", "l"}, ":1000\r\n", 1, 0, 0},
		{[]string{"LRANGE", "l", "500", "501"}, "*2\r\n$1\r\nx\r\n$4\r\ne501\r\n", 1, 2, 0},
		{[]string{"LPOS", "l", "e998", "RANK", "-1"}, ":998\r\n", 1, 2, 0},
		{[]string{"LPOS", "l", "e3"}, ":3\r\n", 1, 4, 0},
		{[]string{"LPOS", "l", "e3", "RANK", "-1", "MAXLEN", "10"}, "$-1\r\n", 1, 10, 0},
		{[]string{"LPOS", "l", "e2", "COUNT", "1"}, "*1\r\n:2\r\n", 1, 3, 0},
		// Pivot near the tail: the scan reaches it, then the 3 elements
		// after it move (3 writes + the new one + metadata).
		{[]string{"LINSERT", "l", "AFTER", "e996", "n"}, ":1001\r\n", 3, 1000, 6},
		// Pivot near the head: 2 elements before it move.
		{[]string{"LINSERT", "l", "BEFORE", "e2", "m"}, ":1002\r\n", 3, 6, 6},
		// Removing from near the head moves the head side (2 survivors, 1
		// delete, metadata) and the first pass stops at the match.
		{[]string{"LREM", "l", "1", "e1"}, ":1\r\n", 3, 8, 5},
		{[]string{"LREM", "l", "-1", "e997"}, ":1\r\n", 3, 10, 5},
		{[]string{"LPOP", "l", "2"}, "*2\r\n$2\r\ne0\r\n$1\r\nm\r\n", 2, 2, 3},
		{[]string{"RPOP", "l"}, "$4\r\ne999\r\n", 3, 0, 2},
		{[]string{"LMOVE", "l", "l", "LEFT", "RIGHT"}, "$2\r\ne2\r\n", 3, 0, 3},
		// Keeping 1 of 997 elements copies it into a new version: one
		// element, the metadata and one garbage-queue entry.
		{[]string{"LTRIM", "l", "5", "5"}, "+OK\r\n", 3, 1, 4},
		{[]string{"LRANGE", "l", "0", "-1"}, "*1\r\n$2\r\ne8\r\n", 1, 1, 0},
	}
	for _, tc := range cases {
		h.expect(tc.want, tc.args...)
		n := cs.last
		if n.gets > tc.maxGets || n.visited > tc.maxVisited || n.writes > tc.maxW {
			t.Errorf("%q: %d gets, %d records visited, %d writes; want at most %d, %d, %d",
				tc.args, n.gets, n.visited, n.writes, tc.maxGets, tc.maxVisited, tc.maxW)
		}
	}
}

// TestListPopEverythingIsOneWrite checks that emptying a list deletes it
// with one metadata write, leaving the records to the collector.
func TestListPopEverythingIsOneWrite(t *testing.T) {
	h, cs := newCountingHarness(t)
	fillList(h, "l", 300)
	h.expect(":0\r\n", "LPOS", "l", "e0")
	got := h.do("RPOP", "l", "9223372036854775807")
	if !strings.HasPrefix(got, "*300\r\n$4\r\ne299\r\n") {
		t.Fatalf("RPOP: %.40q", got)
	}
	if cs.last.writes > 2 {
		t.Errorf("RPOP of a whole list: %d writes", cs.last.writes)
	}
	h.expect(":0\r\n", "EXISTS", "l")
	entries, err := keyspace.PendingGC(h.store.Txn(), keys.Slot([]byte("l")))
	if err != nil || len(entries) != 1 {
		t.Fatalf("garbage queue: %v, %v", entries, err)
	}
}

// TestListHugeArguments: counts and indices near the int64 limits are
// answered from the list's real length.
func TestListHugeArguments(t *testing.T) {
	h := newHarness(t)
	h.expect(":2\r\n", "RPUSH", "l", "a", "b")
	h.expect("*2\r\n$1\r\na\r\n$1\r\nb\r\n", "LRANGE", "l", "-9223372036854775808", "9223372036854775807")
	h.expect("$-1\r\n", "LINDEX", "l", "-9223372036854775808")
	h.expect("-ERR index out of range\r\n", "LSET", "l", "9223372036854775807", "x")
	h.expect("*0\r\n", "LPOS", "l", "a", "RANK", "9223372036854775807", "COUNT", "0")
	h.expect(":1\r\n", "LREM", "l", "-9223372036854775808", "a")
	h.expect("+OK\r\n", "LTRIM", "l", "-9223372036854775808", "9223372036854775807")
	h.expect("*2\r\n$1\r\nl\r\n*1\r\n$1\r\nb\r\n", "LMPOP", "1", "l", "LEFT", "COUNT", "9223372036854775807")
	h.expect("*-1\r\n", "LPOP", "l", "9223372036854775807")
}

// runInOneTxn runs commands against one transaction, as MULTI/EXEC and
// pipelines do, and returns their replies.
func runInOneTxn(t *testing.T, h *harness, cmds ...[]string) []string {
	t.Helper()
	txn := h.store.Txn()
	table := NewRedisTable()
	var out []string
	for _, args := range cmds {
		bs := make([][]byte, len(args))
		for i, a := range args {
			bs[i] = []byte(a)
		}
		w := resp.NewWriter(2)
		c := &Ctx{ctx: context.Background(), Args: bs, W: w, DB: keyspace.New(txn, 0),
			Env: &Env{Config: NewConfig(map[string]string{})}, Cmd: table.Lookup(bs[0])}
		if err := c.Cmd.Handler(c); err != nil {
			w.Reset()
			w.Error(ReplyText(err))
		}
		out = append(out, string(w.Bytes()))
	}
	return out
}

// TestListCreatedInTheSameTransaction covers a list whose version is the
// transaction's own (LTRIM cannot move it to a new version; popping it
// empty must delete its records at once).
func TestListCreatedInTheSameTransaction(t *testing.T) {
	h := newHarness(t)
	got := runInOneTxn(t, h,
		[]string{"RPUSH", "l", "a", "b", "c", "d", "e", "f", "g", "h"},
		[]string{"LTRIM", "l", "2", "2"},
		[]string{"LRANGE", "l", "0", "-1"},
		[]string{"RPUSH", "m", "a", "b", "c"},
		[]string{"LPOP", "m", "5"},
		[]string{"RPUSH", "m", "z"},
		[]string{"LRANGE", "m", "0", "-1"},
	)
	want := []string{":8\r\n", "+OK\r\n", "*1\r\n$1\r\nc\r\n", ":3\r\n",
		"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", ":1\r\n", "*1\r\n$1\r\nz\r\n"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("command %d: got %q, want %q", i, got[i], want[i])
		}
	}
	for _, k := range []string{"l", "m"} {
		checkListRecords(t, h, k)
	}
	// 2 metadata records and 2 element records: nothing left behind.
	if n := h.store.Len(); n != 4 {
		t.Errorf("%d records stored, want 4", n)
	}
}

// TestListMissingElementIsAnError: records that disagree with the
// metadata are reported, never answered with wrong data or a crash.
func TestListMissingElementIsAnError(t *testing.T) {
	h := newHarness(t)
	h.expect(":3\r\n", "RPUSH", "l", "a", "b", "c")
	txn := h.store.Txn()
	m, _, err := keyspace.New(txn, 0).GetCollection([]byte("l"), keyspace.TypeList)
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.Delete(keys.ListElemKey(0, []byte("l"), m.Version, m.Head+1)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"LRANGE", "l", "0", "-1"}, {"LINDEX", "l", "1"}, {"LPOS", "l", "c"},
		{"LREM", "l", "0", "c"}, {"LPOP", "l", "3"},
	} {
		if got := h.do(args...); !strings.HasPrefix(got, "-ERR ") {
			t.Errorf("%q on a list with a hole: %q", args, got)
		}
	}
}

// TestListSequenceSpaceEnds: a push at either end of the 64-bit sequence
// space fails instead of wrapping around.
func TestListSequenceSpaceEnds(t *testing.T) {
	h := newHarness(t)
	put := func(key string, head uint64) {
		txn := h.store.Txn()
		db := keyspace.New(txn, 0)
		m := keyspace.Meta{Type: keyspace.TypeList, Version: 1, Size: 1, Head: head, Tail: head + 1}
		if err := db.Put([]byte(key), &m); err != nil {
			t.Fatal(err)
		}
		if err := txn.Set(keys.ListElemKey(0, []byte(key), 1, head), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	put("low", 0)
	h.expect("-ERR list sequence space exhausted\r\n", "LPUSH", "low", "a")
	h.expect("-ERR list sequence space exhausted\r\n", "LINSERT", "low", "BEFORE", "x", "a")
	h.expect(":2\r\n", "RPUSH", "low", "b")
	h.expect("*2\r\n$1\r\nx\r\n$1\r\nb\r\n", "LRANGE", "low", "0", "-1")
	put("high", math.MaxUint64-1)
	h.expect("-ERR list sequence space exhausted\r\n", "RPUSH", "high", "a")
	h.expect("-ERR list sequence space exhausted\r\n", "LINSERT", "high", "AFTER", "x", "a")
	h.expect(":2\r\n", "LPUSH", "high", "b")
	h.expect("*2\r\n$1\r\nb\r\n$1\r\nx\r\n", "LRANGE", "high", "0", "-1")
}
