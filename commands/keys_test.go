package commands

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// putHash stores a hash collection directly (no hash commands exist yet):
// its metadata record plus one member record per field.
func putHash(t *testing.T, h *harness, db int, key string, version uint64, fields ...string) {
	t.Helper()
	txn := h.store.Txn()
	d := keyspace.New(txn, db)
	for _, f := range fields {
		if err := txn.Set(keys.MemberKey(db, []byte(key), version, []byte(f)), []byte("v-"+f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Put([]byte(key), &keyspace.Meta{Type: keyspace.TypeHash, Version: version, Size: uint64(len(fields))}); err != nil {
		t.Fatal(err)
	}
}

// hashFields returns the member names of a hash as stored.
func hashFields(t *testing.T, h *harness, db int, key string) []string {
	t.Helper()
	d := keyspace.New(h.store.Txn(), db)
	m, ok, err := d.Lookup([]byte(key))
	if err != nil || !ok || m.Type != keyspace.TypeHash {
		t.Fatalf("%s in db %d: %v %v %v", key, db, m, ok, err)
	}
	lower := keys.MemberPrefix(db, []byte(key), m.Version)
	var out []string
	_ = d.Txn().Scan(lower, keys.PrefixEnd(lower), false, func(k, v []byte) error {
		out = append(out, string(k[len(lower):])+"="+string(v))
		return nil
	})
	return out
}

func TestCollectionsMoveWithTheirMembers(t *testing.T) {
	h := newHarness(t)
	putHash(t, h, 0, "h", 5, "a", "b")
	h.expect("+hash\r\n", "TYPE", "h")
	h.expect(":1\r\n", "COPY", "h", "h2")
	if got := strings.Join(hashFields(t, h, 0, "h2"), ","); got != "a=v-a,b=v-b" {
		t.Fatalf("copied members: %s", got)
	}
	h.expect("+OK\r\n", "RENAME", "h", "h3")
	h.expect(":0\r\n", "EXISTS", "h")
	if got := strings.Join(hashFields(t, h, 0, "h3"), ","); got != "a=v-a,b=v-b" {
		t.Fatalf("renamed members: %s", got)
	}
	h.expect(":1\r\n", "MOVE", "h3", "2")
	if got := strings.Join(hashFields(t, h, 2, "h3"), ","); got != "a=v-a,b=v-b" {
		t.Fatalf("moved members: %s", got)
	}
	h.expect("+OK\r\n", "SWAPDB", "0", "2")
	if got := strings.Join(hashFields(t, h, 0, "h3"), ","); got != "a=v-a,b=v-b" {
		t.Fatalf("swapped members: %s", got)
	}
	h.expect(":0\r\n", "EXISTS", "h2") // now in db 2
	h.expect("+OK\r\n", "SELECT", "2")
	h.expect(":1\r\n", "EXISTS", "h2")
}

func TestDeleteQueuesMembersForTheCollector(t *testing.T) {
	h := newHarness(t)
	putHash(t, h, 0, "h", 1, "a", "b", "c")
	before := h.store.Len()
	h.expect(":1\r\n", "DEL", "h")
	// One write: the metadata record goes, one queue entry comes.
	if after := h.store.Len(); after != before {
		t.Fatalf("DEL changed the record count by %d, want 0 (meta out, queue entry in)", after-before)
	}
	h.expect(":0\r\n", "EXISTS", "h")
	slot := keys.Slot([]byte("h"))
	pending, err := keyspace.PendingGC(h.store.Txn(), slot)
	if err != nil || len(pending) != 1 || pending[0].Version != 1 || pending[0].Members != 3 {
		t.Fatalf("queue = %+v, %v; want one entry for version 1 with 3 members", pending, err)
	}
	// Collect in two steps to cross the limit.
	n, resume, done, err := keyspace.CollectGC(h.store.Txn(), pending[0], 2)
	if err != nil || n != 2 || done || string(resume) != "b" {
		t.Fatalf("first collection: %d, %q, %v, %v", n, resume, done, err)
	}
	pending, _ = keyspace.PendingGC(h.store.Txn(), slot)
	if len(pending) != 1 || pending[0].Members != 1 || string(pending[0].Resume) != "b" {
		t.Fatalf("queue after partial collection = %+v", pending)
	}
	n, _, done, err = keyspace.CollectGC(h.store.Txn(), pending[0], 2)
	if err != nil || n != 1 || !done {
		t.Fatalf("second collection: %d, %v, %v", n, done, err)
	}
	if after := h.store.Len(); after != before-4 {
		t.Fatalf("after collection %d records, want %d", after, before-4)
	}
}

func TestSwapDBSwapsExpiries(t *testing.T) {
	h := newHarness(t)
	h.expect("+OK\r\n", "SET", "a", "1")
	h.expect(":1\r\n", "EXPIRE", "a", "100")
	h.expect("+OK\r\n", "SWAPDB", "0", "5")
	h.expect(":-2\r\n", "TTL", "a")
	h.expect("+OK\r\n", "SELECT", "5")
	h.expect(":100\r\n", "TTL", "a")
	h.store.Now += 101_000
	h.expect(":0\r\n", "EXISTS", "a")
	// The expiry index entry moved with the key.
	idx := keys.ExpiryIndexKey(5, []byte("a"), harnessNowMs+100_000)
	if _, ok, _ := h.store.Txn().Get(idx); !ok {
		t.Fatal("expiry index entry not moved to db 5")
	}
	if _, ok, _ := h.store.Txn().Get(keys.ExpiryIndexKey(0, []byte("a"), harnessNowMs+100_000)); ok {
		t.Fatal("stale expiry index entry left in db 0")
	}
}

func TestExpireUsesTransactionClock(t *testing.T) {
	h := newHarness(t)
	h.expect("+OK\r\n", "SET", "a", "1")
	h.expect(":1\r\n", "EXPIRE", "a", "10")
	h.expect(":10\r\n", "TTL", "a")
	h.expect(":10000\r\n", "PTTL", "a")
	h.expect(":"+strconv.FormatInt(harnessNowMs/1000+10, 10)+"\r\n", "EXPIRETIME", "a")
	h.expect(":"+strconv.FormatInt(harnessNowMs+10000, 10)+"\r\n", "PEXPIRETIME", "a")
	h.store.Now += 9_400
	h.expect(":1\r\n", "TTL", "a") // 600 ms rounds to 1 s
	h.expect(":600\r\n", "PTTL", "a")
	h.expect(":1\r\n", "PEXPIREAT", "a", strconv.FormatInt(h.store.Now+5000, 10))
	h.expect(":5\r\n", "TTL", "a")
	h.expect(":1\r\n", "EXPIREAT", "a", strconv.FormatInt(h.store.Now/1000+100, 10))
	h.store.Now += 100_000
	h.expect(":-2\r\n", "TTL", "a")
	h.expect(":0\r\n", "EXPIRE", "a", "10")
}

func TestScanVisitsEveryKeyOnce(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 300; i++ {
		h.expect("+OK\r\n", "SET", fmt.Sprintf("key:%d", i), "v")
	}
	putHash(t, h, 0, "ahash", 1, "f")
	seen := map[string]int{}
	cursor := "0"
	for rounds := 0; ; rounds++ {
		if rounds > 20000 {
			t.Fatal("SCAN does not terminate")
		}
		next, ks := scanOnce(t, h, "SCAN", cursor, "COUNT", "25")
		for _, k := range ks {
			seen[k]++
		}
		if next == "0" {
			break
		}
		cursor = next
	}
	if len(seen) != 301 {
		t.Fatalf("SCAN saw %d distinct keys, want 301", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s returned %d times", k, n)
		}
	}
	// MATCH and TYPE filter after visiting.
	total := 0
	cursor = "0"
	for {
		next, ks := scanOnce(t, h, "SCAN", cursor, "MATCH", "key:1?", "COUNT", "1000", "TYPE", "string")
		total += len(ks)
		if next == "0" {
			break
		}
		cursor = next
	}
	if total != 10 {
		t.Fatalf("SCAN MATCH key:1? found %d keys, want 10", total)
	}
	if _, ks := scanOnce(t, h, "SCAN", "0", "COUNT", "100000", "TYPE", "hash"); len(ks) != 1 || ks[0] != "ahash" {
		t.Fatalf("SCAN TYPE hash: %q", ks)
	}
	h.expect("*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "16384")
}

// scanOnce runs one SCAN and parses its reply.
func scanOnce(t *testing.T, h *harness, args ...string) (string, []string) {
	t.Helper()
	lines := strings.Split(h.do(args...), "\r\n")
	if lines[0] != "*2" {
		t.Fatalf("SCAN reply %q", lines)
	}
	next := lines[2]
	n, _ := strconv.Atoi(strings.TrimPrefix(lines[3], "*"))
	var ks []string
	for i := 0; i < n; i++ {
		ks = append(ks, lines[5+2*i])
	}
	return next, ks
}

func TestKeysRandomkeyDBSize(t *testing.T) {
	h := newHarness(t)
	h.expect("$-1\r\n", "RANDOMKEY")
	for _, k := range []string{"foo", "fao", "fbo", "bar"} {
		h.expect("+OK\r\n", "SET", k, "1")
	}
	got := h.do("KEYS", "f[ab]o")
	ks := strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n")
	var names []string
	for i := 2; i < len(ks); i += 2 {
		names = append(names, ks[i])
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "fao,fbo" {
		t.Fatalf("KEYS f[ab]o: %q", got)
	}
	h.expect(":4\r\n", "DBSIZE")
	if rk := h.do("RANDOMKEY"); !strings.HasPrefix(rk, "$3\r\n") {
		t.Fatalf("RANDOMKEY: %q", rk)
	}
	h.expect("+OK\r\n", "SELECT", "3")
	h.expect("+OK\r\n", "SET", "x", "1")
	h.expect("+OK\r\n", "FLUSHDB")
	h.expect("+OK\r\n", "SELECT", "0")
	h.expect(":4\r\n", "DBSIZE")
	h.expect("+OK\r\n", "FLUSHALL")
	h.expect(":0\r\n", "DBSIZE")
	if h.store.Len() != 0 {
		t.Fatalf("FLUSHALL left %d records", h.store.Len())
	}
}
