package commands

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/resp"
)

// Replies in this file were checked against redis-server 7.0.15; the
// transcript redis-tests/testdata/multi.txt covers the rest.

// TestMultiAuthRequired: with requirepass set, an unauthenticated client
// cannot start a transaction, and a rejected EXEC says why.
func TestMultiAuthRequired(t *testing.T) {
	h := newHarness(t)
	h.d.env.Config.Set("requirepass", "pw")
	h.c.Authenticated = false
	h.expect("-NOAUTH Authentication required.\r\n", "MULTI")
	h.expect("-NOAUTH Authentication required.\r\n", "SET", "a", "1")
	h.expect("-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n", "EXEC")
	h.expect("-NOAUTH Authentication required.\r\n", "DISCARD")
	h.expect("-NOAUTH Authentication required.\r\n", "WATCH", "a")
	h.expect("-NOAUTH Authentication required.\r\n", "UNWATCH")
	h.expect("-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n", "EXEC", "x")
	h.expect("+OK\r\n", "AUTH", "pw")
	h.expect("+OK\r\n", "MULTI")
	h.expect("+QUEUED\r\n", "AUTH", "bad")
	h.expect("+QUEUED\r\n", "PING")
	h.expect("*2\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+PONG\r\n", "EXEC")
	h.expect("+OK\r\n", "MULTI")
	h.expect("+QUEUED\r\n", "SET", "a", "1")
	h.expect("+RESET\r\n", "RESET")
	h.expect("-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n", "EXEC")
	h.expect("-NOAUTH Authentication required.\r\n", "MULTI")
	if h.c.Multi || h.c.Queue != nil {
		t.Fatal("client left in MULTI")
	}
}

// TestWatchExpiry uses the harness clock: Redis 7.0 aborts EXEC when a
// watched key expires after WATCH, and not for a key that had already
// expired when it was watched unless it is given a value again.
func TestWatchExpiry(t *testing.T) {
	h := newHarness(t)
	exec := func(want string) {
		t.Helper()
		h.expect("+OK\r\n", "MULTI")
		h.expect("+QUEUED\r\n", "PING")
		h.expect(want, "EXEC")
	}
	const aborted, ran = "*-1\r\n", "*1\r\n+PONG\r\n"

	h.expect("+OK\r\n", "SET", "k", "v", "PX", "1000")
	h.expect("+OK\r\n", "WATCH", "k")
	h.store.Now += 2000 // expired, not deleted (no active expirer here)
	exec(aborted)

	h.expect("+OK\r\n", "SET", "k", "v", "PX", "1000")
	h.store.Now += 2000
	h.expect("+OK\r\n", "WATCH", "k")
	exec(ran)

	h.expect("+OK\r\n", "SET", "k", "v", "PX", "1000")
	h.store.Now += 2000
	h.expect("+OK\r\n", "WATCH", "k")
	h.expect(":0\r\n", "DEL", "k") // deletes the stale value: no change
	exec(ran)

	h.expect("+OK\r\n", "SET", "k", "v", "PX", "1000")
	h.store.Now += 2000
	h.expect("+OK\r\n", "WATCH", "k")
	h.expect("+OK\r\n", "SET", "k", "new")
	exec(aborted)

	h.expect("+OK\r\n", "SET", "k", "v", "PX", "10000")
	h.expect("+OK\r\n", "WATCH", "k")
	h.store.Now += 2000 // still live
	exec(ran)
}

// storeCall is one call a recordingStore saw.
type storeCall struct {
	op   string
	keys string // sorted, comma separated; "*" for the whole keyspace
}

// recordingStore logs the transactions the dispatcher opens.
type recordingStore struct {
	memStore
	calls []storeCall
}

func describeKeys(ks [][]byte) string {
	if ks == nil {
		return "*"
	}
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func (r *recordingStore) Update(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	r.calls = append(r.calls, storeCall{"update", describeKeys(ks)})
	return r.memStore.Update(ctx, db, ks, fn)
}

func (r *recordingStore) View(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	r.calls = append(r.calls, storeCall{"view", describeKeys(ks)})
	return r.memStore.View(ctx, db, ks, fn)
}

func (r *recordingStore) UpdateBatch(ctx context.Context, db int, ks [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	r.calls = append(r.calls, storeCall{"batch", describeKeys(ks)})
	return r.memStore.UpdateBatch(ctx, db, ks, fns)
}

func newRecordingHarness(t *testing.T) (*harness, *recordingStore) {
	h := newHarness(t)
	rs := &recordingStore{memStore: memStore{h.store}}
	env := &Env{Store: rs, Config: NewConfig(map[string]string{}), Version: "7.0.15"}
	h.d = NewDispatcher(context.Background(), NewRedisTable(), env)
	return h, rs
}

// TestExecIsOneTransaction: EXEC opens exactly one transaction whose scope
// is every queued key (across databases) plus the watched keys: a batch
// when something writes, a View when everything only reads, none for
// connection commands only, the whole keyspace for keyless commands.
func TestExecIsOneTransaction(t *testing.T) {
	for _, c := range []struct {
		name  string
		queue [][]string
		watch []string
		want  []storeCall
		reply string
	}{
		{"writes across databases", [][]string{{"SET", "a", "1"}, {"SELECT", "1"}, {"INCR", "b"}, {"GET", "c"}, {"SELECT", "0"}}, []string{"w"},
			[]storeCall{{"view", "w"}, {"batch", "a,b,c,w"}}, "*5\r\n+OK\r\n+OK\r\n:1\r\n$-1\r\n+OK\r\n"},
		{"reads only", [][]string{{"GET", "a"}, {"EXISTS", "b", "c"}, {"PING"}}, nil,
			[]storeCall{{"view", "a,b,c"}}, "*3\r\n$-1\r\n:0\r\n+PONG\r\n"},
		{"keyless", [][]string{{"SET", "a", "1"}, {"DBSIZE"}}, nil,
			[]storeCall{{"batch", "*"}}, "*2\r\n+OK\r\n:1\r\n"},
		{"connection commands only", [][]string{{"PING"}, {"ECHO", "x"}}, nil,
			nil, "*2\r\n+PONG\r\n$1\r\nx\r\n"},
		{"watch only", nil, []string{"w1", "w2"},
			[]storeCall{{"view", "w1,w2"}, {"view", "w1,w2"}}, "*0\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, rs := newRecordingHarness(t)
			if c.watch != nil {
				h.expect("+OK\r\n", append([]string{"WATCH"}, c.watch...)...)
			}
			h.expect("+OK\r\n", "MULTI")
			for _, q := range c.queue {
				h.expect("+QUEUED\r\n", q...)
			}
			h.expect(c.reply, "EXEC")
			if len(rs.calls) != len(c.want) {
				t.Fatalf("store calls %v, want %v", rs.calls, c.want)
			}
			for i := range c.want {
				if rs.calls[i] != c.want[i] {
					t.Fatalf("store calls %v, want %v", rs.calls, c.want)
				}
			}
		})
	}
}

// TestExecWidensForNestedTransactions: INFO opens a transaction of its
// own over the whole keyspace; inside EXEC it joins EXEC's transaction,
// which reruns over the whole keyspace instead of deadlocking on its own
// latches.
func TestExecWidensForNestedTransactions(t *testing.T) {
	h, rs := newRecordingHarness(t)
	h.expect("+OK\r\n", "SET", "a", "1")
	rs.calls = nil
	h.expect("+OK\r\n", "MULTI")
	h.expect("+QUEUED\r\n", "GET", "a")
	h.expect("+QUEUED\r\n", "INFO", "keyspace")
	got := h.do("EXEC")
	if !strings.HasPrefix(got, "*2\r\n$1\r\n1\r\n") || !strings.Contains(got, "db0:keys=1,expires=0") {
		t.Fatalf("EXEC = %q", got)
	}
	want := []storeCall{{"view", "a"}, {"view", "*"}}
	if len(rs.calls) != 2 || rs.calls[0] != want[0] || rs.calls[1] != want[1] {
		t.Fatalf("store calls %v, want %v", rs.calls, want)
	}
	// Outside EXEC, INFO has its own transaction.
	rs.calls = nil
	if got := h.do("INFO", "keyspace"); !strings.Contains(got, "db0:keys=1") {
		t.Fatalf("INFO = %q", got)
	}
	if len(rs.calls) != 1 || rs.calls[0] != (storeCall{"view", "*"}) {
		t.Fatalf("store calls %v", rs.calls)
	}
}

// TestPipelinedTransactionIsQueued: a pipeline that starts a transaction
// queues the commands after MULTI instead of batching them.
func TestPipelinedTransactionIsQueued(t *testing.T) {
	h, rs := newRecordingHarness(t)
	w := resp.NewWriter(2)
	var cmds [][][]byte
	for _, c := range [][]string{{"SET", "x", "0"}, {"SET", "y", "0"}, {"MULTI"}, {"INCR", "x"}, {"INCR", "y"}, {"EXEC"}, {"GET", "x"}, {"GET", "y"}} {
		args := make([][]byte, len(c))
		for i, a := range c {
			args[i] = []byte(a)
		}
		cmds = append(cmds, args)
	}
	if n := h.d.ServeRESPBatch(h.c, cmds, w); n != len(cmds) {
		t.Fatalf("ran %d of %d commands", n, len(cmds))
	}
	want := "+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n$1\r\n1\r\n$1\r\n1\r\n"
	if got := string(w.Bytes()); got != want {
		t.Fatalf("replies %q, want %q", got, want)
	}
	wantCalls := []storeCall{{"batch", "x,y"}, {"batch", "x,y"}, {"batch", "x,y"}}
	if len(rs.calls) != 3 || rs.calls[0] != wantCalls[0] || rs.calls[1] != wantCalls[1] || rs.calls[2] != wantCalls[2] {
		t.Fatalf("store calls %v, want %v", rs.calls, wantCalls)
	}
}

// TestWriteCommandsTouchMetadata: whichever way a write command runs
// (alone, pipelined, inside EXEC), a change of members only still writes
// the key's metadata record, so its commit timestamp moves; read commands
// leave it alone.
func TestWriteCommandsTouchMetadata(t *testing.T) {
	h := newHarness(t)
	h.expect(":2\r\n", "HSET", "h", "f", "1", "g", "1")
	h.expect(":3\r\n", "RPUSH", "l", "a", "b", "c")
	metaTS := func(key string) uint64 {
		t.Helper()
		ts, err := h.store.Txn().LatestCommitTS(keys.MetaKey(0, []byte(key)))
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	step := func(what string, changes bool, run func()) {
		t.Helper()
		hb, lb := metaTS("h"), metaTS("l")
		run()
		ha, la := metaTS("h"), metaTS("l")
		if changes && (ha == hb || la == lb) {
			t.Fatalf("%s: metadata not rewritten (h %d->%d, l %d->%d)", what, hb, ha, lb, la)
		}
		if !changes && (ha != hb || la != lb) {
			t.Fatalf("%s: metadata written (h %d->%d, l %d->%d)", what, hb, ha, lb, la)
		}
	}
	step("alone", true, func() {
		h.expect(":0\r\n", "HSET", "h", "f", "2")
		h.expect("+OK\r\n", "LSET", "l", "1", "x")
	})
	step("pipelined", true, func() {
		w := resp.NewWriter(2)
		h.d.ServeRESPBatch(h.c, [][][]byte{
			{[]byte("HSET"), []byte("h"), []byte("g"), []byte("3")},
			{[]byte("LSET"), []byte("l"), []byte("0"), []byte("y")},
		}, w)
		if got := string(w.Bytes()); got != ":0\r\n+OK\r\n" {
			t.Fatalf("pipelined replies %q", got)
		}
	})
	step("in EXEC", true, func() {
		h.expect("+OK\r\n", "MULTI")
		h.expect("+QUEUED\r\n", "HINCRBY", "h", "f", "1")
		h.expect("+QUEUED\r\n", "LSET", "l", "2", "z")
		h.expect("*2\r\n:3\r\n+OK\r\n", "EXEC")
	})
	step("reads and no-op writes", false, func() {
		h.expect("$1\r\n3\r\n", "HGET", "h", "f")
		h.expect("*3\r\n$1\r\ny\r\n$1\r\nx\r\n$1\r\nz\r\n", "LRANGE", "l", "0", "-1")
		h.expect(":0\r\n", "HSETNX", "h", "f", "9")
		h.expect(":0\r\n", "LREM", "l", "0", "nosuch")
	})
}
