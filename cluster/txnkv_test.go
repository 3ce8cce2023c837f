package cluster

import (
	"errors"
	"fmt"
	"testing"

	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// TestTxnKVErrorsRoundTrip: every mvcc action error a leader reports
// reaches the coordinator as the same typed error.
func TestTxnKVErrorsRoundTrip(t *testing.T) {
	lock := mvcc.Lock{Kind: mvcc.LockPut, Primary: []byte("p"), StartTS: 7, TTLMs: 3000, HasShort: true, ShortValue: []byte("v")}
	req := &rpc.TxnKVRequest{StartTS: 7}
	cases := []struct {
		err   error
		check func(error) bool
	}{
		{&mvcc.KeyLockedError{Key: []byte("k"), Lock: lock}, func(e error) bool {
			var le *mvcc.KeyLockedError
			return errors.As(e, &le) && string(le.Key) == "k" && le.Lock.StartTS == 7 &&
				string(le.Lock.Primary) == "p" && le.Lock.TTLMs == 3000 && string(le.Lock.ShortValue) == "v"
		}},
		{&mvcc.WriteConflictError{Key: []byte("k"), StartTS: 7, ConflictCommitTS: 9}, func(e error) bool {
			var wc *mvcc.WriteConflictError
			return errors.As(e, &wc) && wc.ConflictCommitTS == 9 && wc.StartTS == 7
		}},
		{&mvcc.CommittedError{Key: []byte("k"), StartTS: 7, CommitTS: 8}, func(e error) bool {
			var ce *mvcc.CommittedError
			return errors.As(e, &ce) && ce.CommitTS == 8
		}},
		{fmt.Errorf("%w: x", mvcc.ErrTxnRolledBack), func(e error) bool { return errors.Is(e, mvcc.ErrTxnRolledBack) }},
		{fmt.Errorf("%w: x", mvcc.ErrTxnLockNotFound), func(e error) bool { return errors.Is(e, mvcc.ErrTxnLockNotFound) }},
		{fmt.Errorf("%w: x", mvcc.ErrTxnNotFound), func(e error) bool { return errors.Is(e, mvcc.ErrTxnNotFound) }},
	}
	for _, c := range cases {
		got := kvResponseError(req, kvErrorResponse(c.err))
		if !c.check(got) {
			t.Errorf("%v came back as %v", c.err, got)
		}
	}
	if err := kvResponseError(req, &rpc.TxnKVResponse{}); err != nil {
		t.Errorf("success came back as %v", err)
	}
}

// TestLatchOfMatchesFastPath: a transactional action latches the same
// latch as the fast path's command on the Redis key, whatever record of
// the key it touches.
func TestLatchOfMatchesFastPath(t *testing.T) {
	name := []byte("user:{42}")
	want := string(latchKeys(3, [][]byte{name})[0])
	for _, k := range [][]byte{
		keys.MetaKey(3, name),
		keys.MetaKey(0, name),
		keys.MemberKey(3, name, 99, []byte("member")),
		keys.ExpiryIndexKey(3, name, 12345),
	} {
		if got := string(latchOf(k)); got != want {
			t.Errorf("latchOf(%q) = %q, want %q", k, got, want)
		}
	}
}
