package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster/clustertest"
)

// Many clients writing one list at once: their commands are combined into
// shared transactions, every push lands exactly once and in an order
// consistent with each client's own order, and a command failing inside a
// combined transaction (WRONGTYPE) fails alone.
func TestHotKeyWritesAreCombinedAndExact(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx := context.Background()
	const clients, each = 16, 60
	c0 := client(t, n.Addr())
	if err := c0.Set(ctx, "str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: n.Addr(), PoolSize: 1})
			defer c.Close()
			for j := 0; j < each; j++ {
				if err := c.RPush(ctx, "q", i*1000+j).Err(); err != nil {
					errs <- err
					return
				}
				if err := c.LPush(ctx, "str", "y").Err(); err == nil || err.Error() != "WRONGTYPE Operation against a key holding the wrong kind of value" {
					errs <- err
					return
				}
				if err := c.Incr(ctx, "ctr").Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v, err := c0.Get(ctx, "ctr").Int(); err != nil || v != clients*each {
		t.Fatalf("ctr = %d, %v; want %d", v, err, clients*each)
	}
	got, err := c0.LRange(ctx, "q", 0, -1).Result()
	if err != nil || len(got) != clients*each {
		t.Fatalf("list has %d elements (%v), want %d", len(got), err, clients*each)
	}
	last := map[int]int{}
	for _, s := range got {
		var v int
		if _, err := fmt.Sscan(s, &v); err != nil {
			t.Fatal(err)
		}
		client, seq := v/1000, v%1000
		if prev, ok := last[client]; ok && seq != prev+1 {
			t.Fatalf("client %d: element %d after %d", client, seq, prev)
		}
		last[client] = seq
	}
	if n.CombinedCommands() == 0 {
		t.Fatal("no command was combined although 16 clients wrote the same keys")
	}
}
