package commands

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/commands/keyspace/keyspacetest"
	"github.com/skerrydb/skerry/resp"
)

// zsetReadCountingStore runs every command body in one shared transaction per
// call (UpdateBatch: one for the whole batch, as a MULTI or a pipeline
// does) and counts the records the bodies read.
type zsetReadCountingStore struct {
	s     *keyspacetest.Store
	reads *int
}

type zsetReadCountingTxn struct {
	keyspace.Txn
	reads *int
}

func (t zsetReadCountingTxn) Get(key []byte) ([]byte, bool, error) {
	*t.reads++
	return t.Txn.Get(key)
}

func (t zsetReadCountingTxn) Scan(lower, upper []byte, reverse bool, fn func(k, v []byte) error) error {
	return t.Txn.Scan(lower, upper, reverse, func(k, v []byte) error {
		*t.reads++
		return fn(k, v)
	})
}

func (m zsetReadCountingStore) txn() keyspace.Txn { return zsetReadCountingTxn{m.s.Txn(), m.reads} }

func (m zsetReadCountingStore) Update(_ context.Context, _ int, _ [][]byte, fn func(keyspace.Txn) error) error {
	return fn(m.txn())
}

func (m zsetReadCountingStore) View(_ context.Context, _ int, _ [][]byte, fn func(keyspace.Txn) error) error {
	return fn(m.txn())
}

func (m zsetReadCountingStore) UpdateBatch(_ context.Context, _ int, _ [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	txn := m.txn()
	errs := make([]error, len(fns))
	for i, fn := range fns {
		errs[i] = fn(txn)
	}
	return errs, nil
}

func newZSetReadCountingHarness(t *testing.T) (*harness, *int) {
	st := keyspacetest.NewStore(harnessNowMs)
	reads := new(int)
	env := &Env{Store: zsetReadCountingStore{st, reads}, Config: NewConfig(map[string]string{}), Version: "7.0.15"}
	return &harness{t: t, store: st, d: NewDispatcher(context.Background(), NewRedisTable(), env),
		c: &resp.Client{ID: 1, Proto: 2, User: "default"}}, reads
}

// zsetRecords checks the storage invariants of the zset at key (one score
// index record per member record, with the same score; Meta.Size exact)
// and returns its members in index order.
func zsetRecords(t *testing.T, st *keyspacetest.Store, key string) []zEntry {
	t.Helper()
	db := keyspace.New(st.Txn(), 0)
	m, ok, err := db.GetCollection([]byte(key), keyspace.TypeZSet)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	members := map[string]float64{}
	var index []zEntry
	err = db.ScanMembers([]byte(key), &m, nil, nil, false, func(suffix, value []byte) error {
		switch {
		case bytes.HasPrefix(suffix, zMemberSub):
			s, err := decodeMemberValue(value)
			if err != nil {
				return err
			}
			members[string(suffix[len(zMemberSub):])] = s
		case bytes.HasPrefix(suffix, zScoreSub):
			member, s, err := decodeIndexSuffix(suffix)
			if err != nil {
				return err
			}
			if len(value) != 0 {
				t.Errorf("%s: index record with a value", key)
			}
			index = append(index, zEntry{bytes.Clone(member), s})
		default:
			t.Errorf("%s: unexpected record %q", key, suffix)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(members)) != m.Size || uint64(len(index)) != m.Size {
		t.Fatalf("%s: Size %d, %d member records, %d index records", key, m.Size, len(members), len(index))
	}
	for _, e := range index {
		s, ok := members[string(e.member)]
		if !ok || s != e.score {
			t.Fatalf("%s: index entry %q %v, member record %v (present %v)", key, e.member, e.score, s, ok)
		}
	}
	return index
}

func TestZSetStorageStaysInStep(t *testing.T) {
	h := newHarness(t)
	h.expect(":3\r\n", "ZADD", "z", "1", "a", "2", "b", "3", "c")
	h.expect(":1\r\n", "ZADD", "z", "CH", "5", "a")
	h.expect("$1\r\n7\r\n", "ZINCRBY", "z", "2", "a")
	h.expect(":1\r\n", "ZREM", "z", "b")
	if got := zsetRecords(t, h.store, "z"); len(got) != 2 || string(got[0].member) != "c" || got[1].score != 7 {
		t.Fatalf("records %v", got)
	}
	h.expect(":2\r\n", "ZREMRANGEBYSCORE", "z", "-inf", "+inf")
	// Removing the last member deletes the key and leaves no record at all.
	if n := h.store.Len(); n != 0 {
		t.Fatalf("%d records left after the zset was emptied", n)
	}
	h.expect(":0\r\n", "EXISTS", "z")
}

func TestZSetNegativeZeroKeepsItsSignOnlyInSkiplists(t *testing.T) {
	h := newHarness(t)
	h.expect(":1\r\n", "ZADD", "lp", "-0", "m")
	h.expect("$1\r\n0\r\n", "ZSCORE", "lp", "m")
	h.expect("+OK\r\n", "CONFIG", "SET", "zset-max-listpack-entries", "0")
	h.expect(":1\r\n", "ZADD", "sl", "-0", "m")
	h.expect("$2\r\n-0\r\n", "ZSCORE", "sl", "m")
	h.expect("*2\r\n$1\r\nm\r\n$2\r\n-0\r\n", "ZRANGE", "sl", "0", "-1", "WITHSCORES")
	zsetRecords(t, h.store, "sl")
	// 0 compares equal to -0: no update, the stored -0 stays.
	h.expect(":0\r\n", "ZADD", "sl", "CH", "0", "m")
	h.expect("$2\r\n-0\r\n", "ZSCORE", "sl", "m")
}

func TestZSetEncodingFollowsRedis(t *testing.T) {
	h := newHarness(t)
	big := func(key string) bool {
		m, ok, err := keyspace.New(h.store.Txn(), 0).Lookup([]byte(key))
		if err != nil || !ok {
			t.Fatalf("%s: ok=%v err=%v", key, ok, err)
		}
		return m.Big
	}
	h.expect("+OK\r\n", "CONFIG", "SET", "zset-max-listpack-entries", "2")
	h.expect(":1\r\n", "ZADD", "z", "1", "a", "1", "a", "1", "a") // duplicates are not members
	if big("z") {
		t.Fatal("3 pairs for 1 member converted")
	}
	h.expect(":0\r\n", "ZADD", "z", "XX", "1", strings.Repeat("x", 65))
	if big("z") {
		t.Fatal("XX of a long absent member converted")
	}
	h.expect(":2\r\n", "ZADD", "z", "2", "b", "3", "c")
	if !big("z") {
		t.Fatal("3 members > 2 entries did not convert")
	}
	h.expect(":2\r\n", "ZREM", "z", "b", "c")
	if !big("z") {
		t.Fatal("conversion is one way")
	}
	// A store builds a fresh object: small again.
	h.expect(":1\r\n", "ZUNIONSTORE", "d", "1", "z")
	h.expect(":1\r\n", "ZRANGESTORE", "d2", "z", "0", "-1")
	if big("d") || big("d2") {
		t.Fatal("fresh results of one member should be listpacks")
	}
}

// A zset created earlier in the same transaction has the version a store
// would give its result; the store must not keep its members.
func TestZSetStoreReplacesValueOfTheSameTransaction(t *testing.T) {
	h, _ := newZSetReadCountingHarness(t)
	w := resp.NewWriter(2)
	cmds := [][][]byte{
		{[]byte("ZADD"), []byte("dst{t}"), []byte("1"), []byte("old")},
		{[]byte("ZADD"), []byte("src{t}"), []byte("2"), []byte("new")},
		{[]byte("ZUNIONSTORE"), []byte("dst{t}"), []byte("1"), []byte("src{t}")},
		{[]byte("ZRANGE"), []byte("dst{t}"), []byte("0"), []byte("-1"), []byte("WITHSCORES")},
		{[]byte("ZRANGESTORE"), []byte("dst{t}"), []byte("src{t}"), []byte("0"), []byte("-1")},
		{[]byte("ZCARD"), []byte("dst{t}")},
	}
	h.d.ServeRESPBatch(h.c, cmds, w)
	want := ":1\r\n:1\r\n:1\r\n*2\r\n$3\r\nnew\r\n$1\r\n2\r\n:1\r\n:1\r\n"
	if got := string(w.Bytes()); got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	zsetRecords(t, h.store, "dst{t}")
}

// TestZSetReadsAreBounded checks the complexity contract: range queries
// seek in the score index and rank access walks from the nearer end, so
// none of these reads the whole zset.
func TestZSetReadsAreBounded(t *testing.T) {
	h, reads := newZSetReadCountingHarness(t)
	const n = 2000
	args := []string{"ZADD", "big"}
	for i := 0; i < n; i++ {
		args = append(args, strconv.Itoa(i), fmt.Sprintf("m%05d", i))
	}
	h.expect(":"+strconv.Itoa(n)+"\r\n", args...)
	lex := []string{"ZADD", "lex"}
	for i := 0; i < n; i++ {
		lex = append(lex, "0", fmt.Sprintf("m%05d", i))
	}
	h.do(lex...)
	for _, tc := range []struct {
		args []string
		max  int
	}{
		{[]string{"ZRANGE", "big", "0", "9"}, 20},
		{[]string{"ZRANGE", "big", "-10", "-1", "WITHSCORES"}, 20},
		{[]string{"ZREVRANGE", "big", "0", "9"}, 20},
		{[]string{"ZRANGE", "big", "1990", "1995"}, 20},
		{[]string{"ZRANGEBYSCORE", "big", "1000", "1009"}, 20},
		{[]string{"ZRANGE", "big", "(1000", "1010", "BYSCORE", "REV", "LIMIT", "0", "3"}, 20},
		{[]string{"ZCOUNT", "big", "500", "520"}, 30},
		{[]string{"ZRANGEBYLEX", "lex", "[m01000", "(m01010"}, 20},
		{[]string{"ZREVRANGEBYLEX", "lex", "[m01010", "-", "LIMIT", "0", "5"}, 20},
		{[]string{"ZLEXCOUNT", "lex", "[m01000", "[m01010"}, 20},
		{[]string{"ZRANK", "big", "m00003"}, 30},
		{[]string{"ZRANK", "big", "m01996"}, 30},
		{[]string{"ZREVRANK", "big", "m01990"}, 40},
		{[]string{"ZSCORE", "big", "m01234"}, 3},
		{[]string{"ZMSCORE", "big", "m01234", "x"}, 4},
		{[]string{"ZPOPMAX", "big"}, 10},
		{[]string{"ZPOPMIN", "big", "3"}, 20},
		{[]string{"ZREMRANGEBYRANK", "big", "-5", "-3"}, 30},
		{[]string{"ZREMRANGEBYSCORE", "big", "700", "702"}, 30},
		{[]string{"ZRANDMEMBER", "big", "2", "WITHSCORES"}, 2 * n},
	} {
		*reads = 0
		if r := h.do(tc.args...); strings.HasPrefix(r, "-") {
			t.Fatalf("%q: %q", tc.args, r)
		}
		if *reads > tc.max {
			t.Errorf("%q read %d records, want at most %d", tc.args, *reads, tc.max)
		}
	}
	zsetRecords(t, h.store, "big")
}

// TestZSetRankAndRangeOnALargeSet compares rank and index ranges of a
// skiplist-sized zset with a model.
func TestZSetRankAndRangeOnALargeSet(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewSource(7))
	const n = 600
	type ent struct {
		m string
		s int
	}
	var model []ent
	args := []string{"ZADD", "z"}
	for i := 0; i < n; i++ {
		e := ent{fmt.Sprintf("k%d", rng.Intn(1_000_000)), rng.Intn(50)}
		args = append(args, strconv.Itoa(e.s), e.m)
	}
	h.do(args...)
	seen := map[string]int{}
	for i := 2; i < len(args); i += 2 {
		s, _ := strconv.Atoi(args[i])
		seen[args[i+1]] = s
	}
	for m, s := range seen {
		model = append(model, ent{m, s})
	}
	sort.Slice(model, func(i, j int) bool {
		if model[i].s != model[j].s {
			return model[i].s < model[j].s
		}
		return model[i].m < model[j].m
	})
	if got := zsetRecords(t, h.store, "z"); len(got) != len(model) {
		t.Fatalf("%d records, model %d", len(got), len(model))
	}
	for i := 0; i < len(model); i += 7 {
		h.expect(":"+strconv.Itoa(i)+"\r\n", "ZRANK", "z", model[i].m)
		h.expect(":"+strconv.Itoa(len(model)-1-i)+"\r\n", "ZREVRANK", "z", model[i].m)
	}
	for k := 0; k < 100; k++ {
		a, b := rng.Intn(2*n)-n, rng.Intn(2*n)-n
		start, end, ok := normalizeRankRange(int64(a), int64(b), int64(len(model)))
		var want strings.Builder
		if !ok {
			want.WriteString("*0\r\n")
		} else {
			fmt.Fprintf(&want, "*%d\r\n", end-start+1)
			for i := start; i <= end; i++ {
				fmt.Fprintf(&want, "$%d\r\n%s\r\n", len(model[i].m), model[i].m)
			}
		}
		h.expect(want.String(), "ZRANGE", "z", strconv.Itoa(a), strconv.Itoa(b))
	}
}

func TestZRandMemberProperties(t *testing.T) {
	for _, entries := range []string{"128", "0"} {
		t.Run("entries="+entries, func(t *testing.T) {
			h := newHarness(t)
			h.expect("+OK\r\n", "CONFIG", "SET", "zset-max-listpack-entries", entries)
			scores := map[string]string{}
			args := []string{"ZADD", "z"}
			for i := 0; i < 40; i++ {
				m, s := "m"+strconv.Itoa(i), strconv.Itoa(i*3)
				scores[m] = s
				args = append(args, s, m)
			}
			h.do(args...)
			parse := func(reply string) []string {
				lines := strings.Split(strings.TrimSuffix(reply, "\r\n"), "\r\n")
				var out []string
				for i := 1; i < len(lines); i += 2 {
					out = append(out, lines[i+1])
				}
				return out
			}
			for _, count := range []int{1, 5, 39, 40, 41, 100} {
				got := parse(h.do("ZRANDMEMBER", "z", strconv.Itoa(count), "WITHSCORES"))
				if want := min(count, 40); len(got) != 2*want {
					t.Fatalf("count %d: %d items", count, len(got))
				}
				distinct := map[string]bool{}
				for i := 0; i < len(got); i += 2 {
					if distinct[got[i]] {
						t.Fatalf("count %d: %q twice", count, got[i])
					}
					distinct[got[i]] = true
					if scores[got[i]] != got[i+1] {
						t.Fatalf("count %d: %q scored %q", count, got[i], got[i+1])
					}
				}
			}
			for _, count := range []int{-1, -7, -40, -200} {
				got := parse(h.do("ZRANDMEMBER", "z", strconv.Itoa(count)))
				if len(got) != -count {
					t.Fatalf("count %d: %d items", count, len(got))
				}
				seen := map[string]bool{}
				for _, m := range got {
					if _, ok := scores[m]; !ok {
						t.Fatalf("count %d: not a member %q", count, m)
					}
					seen[m] = true
				}
				if count == -200 && len(seen) < 20 {
					t.Fatalf("200 samples of 40 hit only %d members", len(seen))
				}
			}
			hits := map[string]bool{}
			for i := 0; i < 400; i++ {
				r := h.do("ZRANDMEMBER", "z")
				m := parse("*1\r\n" + r)[0]
				if _, ok := scores[m]; !ok {
					t.Fatalf("not a member %q", m)
				}
				hits[m] = true
			}
			if len(hits) < 30 {
				t.Fatalf("400 draws hit only %d of 40 members", len(hits))
			}
			// Huge counts are refused before anything is allocated.
			h.expect("-ERR ZRANDMEMBER reply would exceed proto-max-bulk-len, use a smaller count\r\n",
				"ZRANDMEMBER", "z", "-9223372036854775807")
			h.expect("-ERR value is out of range\r\n", "ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES")
			if r := h.do("ZRANDMEMBER", "z", "9223372036854775807"); !strings.HasPrefix(r, "*40\r\n") {
				t.Fatalf("huge positive count: %q", r[:min(len(r), 20)])
			}
		})
	}
}

func TestZScanSkiplistCursor(t *testing.T) {
	h := newHarness(t)
	h.expect("+OK\r\n", "CONFIG", "SET", "zset-max-listpack-entries", "4")
	want := map[string]string{}
	args := []string{"ZADD", "z"}
	for i := 0; i < 300; i++ {
		// Long shared prefixes exercise the 7-byte cursor runs.
		m := fmt.Sprintf("prefix%d-%03d", i%3, i)
		if i%50 == 0 {
			m = fmt.Sprintf("p%d", i)
		}
		want[m] = string(resp.AppendDouble(nil, float64(i)/4))
		args = append(args, want[m], m)
	}
	h.do(args...)
	got := map[string]string{}
	cursor := "0"
	for pages := 0; ; pages++ {
		if pages > 400 {
			t.Fatal("scan does not terminate")
		}
		r := h.do("ZSCAN", "z", cursor, "COUNT", "7")
		lines := strings.Split(strings.TrimSuffix(r, "\r\n"), "\r\n")
		cursor = lines[2]
		items := lines[4:]
		for i := 0; i+3 < len(items); i += 4 {
			m, s := items[i+1], items[i+3]
			if _, dup := got[m]; dup {
				t.Fatalf("%q returned twice", m)
			}
			got[m] = s
		}
		if cursor == "0" {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("scanned %d of %d members", len(got), len(want))
	}
	for m, s := range want {
		if got[m] != s {
			t.Fatalf("%q: score %q, want %q", m, got[m], s)
		}
	}
	// MATCH filters after selecting; every page still advances.
	r := h.do("ZSCAN", "z", "0", "MATCH", "p1*", "COUNT", "1000")
	if !strings.Contains(r, "$2\r\np1\r\n") && !strings.Contains(r, "p100") {
		t.Fatalf("MATCH p1*: %q", r)
	}
}

// Plain sets are valid inputs of the set operations (score 1). SADD is
// another family's command, so the set is written through the keyspace.
func TestZSetOpsAcceptPlainSets(t *testing.T) {
	h := newHarness(t)
	db := keyspace.New(h.store.Txn(), 0)
	m := db.NewCollection(keyspace.TypeSet)
	for _, member := range []string{"a", "b", "c"} {
		if err := db.Txn().Set(db.MemberKey([]byte("s{t}"), &m, []byte(member)), nil); err != nil {
			t.Fatal(err)
		}
		m.Size++
	}
	if err := db.SaveCollection([]byte("s{t}"), &m); err != nil {
		t.Fatal(err)
	}
	h.expect(":3\r\n", "ZADD", "z{t}", "1", "b", "2", "c", "3", "d")
	h.expect("*8\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n5\r\n$1\r\nc\r\n$1\r\n8\r\n$1\r\nd\r\n$1\r\n9\r\n",
		"ZUNION", "2", "s{t}", "z{t}", "WEIGHTS", "2", "3", "WITHSCORES")
	h.expect("*4\r\n$1\r\nb\r\n$1\r\n5\r\n$1\r\nc\r\n$1\r\n8\r\n",
		"ZINTER", "2", "s{t}", "z{t}", "WEIGHTS", "2", "3", "WITHSCORES")
	h.expect("*2\r\n$1\r\na\r\n$1\r\n1\r\n", "ZDIFF", "2", "s{t}", "z{t}", "WITHSCORES")
	h.expect(":2\r\n", "ZINTERCARD", "2", "z{t}", "s{t}")
	h.expect(":1\r\n", "ZDIFFSTORE", "d{t}", "2", "z{t}", "s{t}")
	h.expect("*2\r\n$1\r\nd\r\n$1\r\n3\r\n", "ZRANGE", "d{t}", "0", "-1", "WITHSCORES")
}

func TestZSetHugeCountsDoNotAllocate(t *testing.T) {
	h := newHarness(t)
	h.do("ZADD", "z{t}", "1", "a", "2", "b")
	const huge = "9223372036854775807"
	h.expect("*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", "ZRANGEBYSCORE", "z{t}", "-inf", "+inf", "WITHSCORES", "LIMIT", "0", huge)
	h.expect("*1\r\n$1\r\nb\r\n", "ZRANGE", "z{t}", "-inf", "+inf", "BYSCORE", "LIMIT", "1", huge)
	h.expect("*2\r\n$1\r\na\r\n$1\r\nb\r\n", "ZRANGE", "z{t}", "-"+huge, huge)
	h.expect(":2\r\n", "ZINTERCARD", "1", "z{t}", "LIMIT", huge)
	h.expect("-ERR syntax error\r\n", "ZUNION", huge, "z{t}")
	h.expect("-ERR syntax error\r\n", "ZMPOP", huge, "z{t}", "MIN")
	h.expect("*2\r\n$4\r\nz{t}\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
		"ZMPOP", "1", "z{t}", "MAX", "COUNT", huge)
	h.do("ZADD", "z{t}", "1", "a")
	h.expect("*2\r\n$1\r\na\r\n$1\r\n1\r\n", "ZPOPMIN", "z{t}", huge)
}

func TestZSetRangeFloatParsing(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"", 0, true}, {" 1", 1, true}, {"1 ", 0, false}, {" ", 0, false}, {"1e400", math.Inf(1), true},
		{"-1e400", math.Inf(-1), true}, {"1e-400", 0, true}, {"nan", 0, false}, {"-inf", math.Inf(-1), true},
		{"+Infinity", math.Inf(1), true}, {"0x10", 16, true}, {"1\x00junk", 1, true}, {"\x00", 0, true},
		{"1e", 0, false}, {"0x", 0, false}, {".5", 0.5, true}, {"5.", 5, true}, {".", 0, false},
	} {
		got, ok := rangeFloat([]byte(tc.in))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("rangeFloat(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzZSetRangeArgs checks that no range argument crashes or hangs the
// range commands.
func FuzzZSetRangeArgs(f *testing.F) {
	for _, s := range []string{"(1", "[a", "-", "+", "(", "", "inf", "\x00", "0x1p3"} {
		f.Add(s, "+inf")
	}
	f.Fuzz(func(t *testing.T, lo, hi string) {
		h := newHarness(t)
		h.do("ZADD", "z", "0", "a", "0", "b", "1", "c")
		for _, cmd := range [][]string{
			{"ZRANGEBYSCORE", "z", lo, hi}, {"ZRANGEBYLEX", "z", lo, hi}, {"ZCOUNT", "z", lo, hi},
			{"ZLEXCOUNT", "z", lo, hi}, {"ZREVRANGEBYLEX", "z", hi, lo}, {"ZRANGE", "z", lo, hi},
		} {
			if r := h.do(cmd...); len(r) == 0 {
				t.Fatalf("%q: empty reply", cmd)
			}
		}
	})
}
