package cluster_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/skerrydb/skerry/cluster/clustertest"
)

// CLIENT LIST reads other connections' state while they change it
// (SELECT, MULTI, queued commands); under -race this fails if it reads
// their fields instead of their published copy.
func TestClientListWhileOthersChangeState(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx := context.Background()
	// The writer's connection exists before the lister counts lines.
	conn := client(t, n.Addr()).Conn()
	defer conn.Close()
	if err := conn.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if err := conn.Do(ctx, "MULTI").Err(); err != nil {
				t.Error(err)
				return
			}
			if err := conn.Do(ctx, "INCR", "k").Err(); err != nil {
				t.Error(err)
				return
			}
			if err := conn.Do(ctx, "EXEC").Err(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	lister := client(t, n.Addr())
	defer wg.Wait() // the writer finishes before the test does, even on failure
	for i := 0; i < 200; i++ {
		s, err := lister.ClientList(ctx).Result()
		if err != nil {
			t.Error(err)
			return
		}
		if strings.Count(s, "\n") != 2 {
			t.Errorf("CLIENT LIST shows %d lines, want 2:\n%s", strings.Count(s, "\n"), s)
			return
		}
	}
}
