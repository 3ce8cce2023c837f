package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster"
	"github.com/skerrydb/skerry/cluster/clustertest"
)

// TestReadBelowSafePointRefused: a transactional read whose start ts is
// below the GC safe point the serving node knows is refused with
// ErrTxnTooOld (versions it should see may be collected); at the safe
// point it is served.
func TestReadBelowSafePointRefused(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
	defer cl.Close()
	if err := cl.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	const sp = 1 << 40
	if err := cluster.ReadAtForTest(ctx, n, 0, []byte("k"), sp-1); err != nil {
		t.Fatalf("read before the safe point moved: %v", err)
	}
	cluster.RaiseUsedSafePoint(n, sp)
	if err := cluster.ReadAtForTest(ctx, n, 0, []byte("k"), sp-1); !errors.Is(err, cluster.ErrTxnTooOld) {
		t.Fatalf("read below the safe point: %v, want ErrTxnTooOld", err)
	}
	if err := cluster.ReadAtForTest(ctx, n, 0, []byte("k"), sp); err != nil {
		t.Fatalf("read at the safe point: %v", err)
	}
}
