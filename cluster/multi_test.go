package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster/clustertest"
)

// casIncr adds one to key with the optimistic pattern WATCH, GET, MULTI,
// SET, EXEC, retrying while EXEC aborts. It returns how many attempts it
// took.
func casIncr(ctx context.Context, c *redis.Client, key string) (int, error) {
	for attempt := 1; attempt <= 10000; attempt++ {
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			n, err := tx.Get(ctx, key).Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, n+1, 0)
				return nil
			})
			return err
		}, key)
		if err == nil {
			return attempt, nil
		}
		if !errors.Is(err, redis.TxFailedErr) {
			return attempt, err
		}
	}
	return 0, fmt.Errorf("casIncr %s: no success in 10000 attempts", key)
}

// TestWatchPreventsLostUpdates: 8 clients each add 1 to the same key 50
// times through WATCH/MULTI/EXEC; an EXEC whose read went stale must
// abort, so the final value is exactly 400. It also checks that aborts
// did happen (the clients really raced).
func TestWatchPreventsLostUpdates(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const clients, incrs = 8, 50
	var wg sync.WaitGroup
	attempts := make([]int, clients)
	errs := make([]error, clients)
	for i := 0; i < clients; i++ {
		c := client(t, n.Addr())
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < incrs; j++ {
				a, err := casIncr(ctx, c, "counter")
				attempts[i] += a
				if err != nil {
					errs[i] = err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	total := 0
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("client %d: %v", i, errs[i])
		}
		total += attempts[i]
	}
	got, err := client(t, n.Addr()).Get(ctx, "counter").Int()
	if err != nil || got != clients*incrs {
		t.Fatalf("counter = %d, %v; want %d (lost updates)", got, err, clients*incrs)
	}
	t.Logf("%d increments took %d attempts", clients*incrs, total)
	if total == clients*incrs {
		t.Log("no EXEC aborted: the clients did not overlap")
	}
}

// TestWatchAbortsOnMemberOnlyWrites: writes that change only member
// records (HSET of an existing field, LSET) still abort an EXEC watching
// the key, because every write also writes the key's metadata record.
func TestWatchAbortsOnMemberOnlyWrites(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx := context.Background()
	c, other := client(t, n.Addr()), client(t, n.Addr())
	if err := c.HSet(ctx, "h", "f", "1", "g", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.RPush(ctx, "l", "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key   string
		write func() error
	}{
		{"h", func() error { return other.HSet(ctx, "h", "f", "2").Err() }},
		{"l", func() error { return other.LSet(ctx, "l", 1, "x").Err() }},
	} {
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			if err := tc.write(); err != nil {
				return err
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Ping(ctx)
				return nil
			})
			return err
		}, tc.key)
		if !errors.Is(err, redis.TxFailedErr) {
			t.Fatalf("%s: EXEC after a member-only write by another client: %v, want TxFailedErr", tc.key, err)
		}
	}
	// And an unchanged key lets EXEC run.
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		if err := other.HGet(ctx, "h", "f").Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, "h", "f", "3")
			return nil
		})
		return err
	}, "h")
	if err != nil {
		t.Fatalf("EXEC on an unchanged key: %v", err)
	}
	if v := c.HGet(ctx, "h", "f").Val(); v != "3" {
		t.Fatalf("h.f = %q after EXEC", v)
	}
}

// TestWatchAbortsWhenTheKeyExpires: a watched key that expires before
// EXEC aborts it (Redis 7.0), whether or not the active expirer deleted
// it yet. The test waits for the expiry by polling, not sleeping; an
// attempt where the key had already expired when WATCH ran (a stalled
// machine) proves nothing and is repeated with a longer TTL.
func TestWatchAbortsWhenTheKeyExpires(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx := context.Background()
	c, other := client(t, n.Addr()), client(t, n.Addr())
	errTooLate := errors.New("expired before WATCH")
	for ttl := 200 * time.Millisecond; ttl <= 5*time.Second; ttl *= 4 {
		if err := c.Set(ctx, "k", "v", ttl).Err(); err != nil {
			t.Fatal(err)
		}
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			// WATCH ran before this PTTL on the same connection.
			if tx.PTTL(ctx, "k").Val() <= 0 {
				return errTooLate
			}
			eventually(t, 10*time.Second, "k to expire", func() bool {
				return other.Exists(ctx, "k").Val() == 0
			})
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "k", "again", 0)
				return nil
			})
			return err
		}, "k")
		if errors.Is(err, errTooLate) {
			continue
		}
		if !errors.Is(err, redis.TxFailedErr) {
			t.Fatalf("EXEC after the watched key expired: %v, want TxFailedErr", err)
		}
		if got := c.Exists(ctx, "k").Val(); got != 0 {
			t.Fatal("the aborted EXEC wrote")
		}
		return
	}
	t.Fatal("the key always expired before WATCH")
}

// TestExecIsAtomicAndOneCommit: readers never see half of an EXEC, and
// an EXEC of many writes is one Raft proposal.
func TestExecIsAtomicAndOneCommit(t *testing.T) {
	cfg := clustertest.Config(t, t.TempDir())
	cfg.StatusAddr = "127.0.0.1:" + strconv.Itoa(clustertest.FreePort(t))
	n := clustertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := client(t, n.Addr())

	// The measurement itself: two plain writes are two proposals.
	before := proposals(t, cfg.StatusAddr)
	c.Set(ctx, "m1", 1, 0)
	c.Set(ctx, "m2", 1, 0)
	if got := proposals(t, cfg.StatusAddr) - before; got != 2 {
		t.Fatalf("two SETs made %v Raft proposals, want 2", got)
	}
	before = proposals(t, cfg.StatusAddr)
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 10; i++ {
			p.Set(ctx, fmt.Sprint("k", i), i, 0)
		}
		p.HSet(ctx, "h", "f", "v")
		p.Incr(ctx, "k0")
		return nil
	})
	if err != nil || len(cmds) != 12 {
		t.Fatalf("EXEC: %d replies, %v", len(cmds), err)
	}
	if got := proposals(t, cfg.StatusAddr) - before; got != 1 {
		t.Fatalf("EXEC of 12 writes made %v Raft proposals, want 1", got)
	}

	// Writers set a and b to the same value in one EXEC; readers must
	// never see them differ.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 4)
	for w := 0; w < 2; w++ {
		wc := client(t, n.Addr())
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				v := fmt.Sprint(w, "-", i)
				if _, err := wc.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, "a", v, 0)
					p.Set(ctx, "b", v, 0)
					return nil
				}); err != nil {
					errc <- err
					return
				}
			}
		}(w)
	}
	var rwg sync.WaitGroup
	rc := client(t, n.Addr())
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			vs, err := rc.MGet(ctx, "a", "b").Result()
			if err != nil {
				errc <- err
				return
			}
			if vs[0] != vs[1] {
				errc <- fmt.Errorf("torn EXEC: a=%v b=%v", vs[0], vs[1])
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	rwg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
}

// proposals reads skerry_raft_proposals_total{result="ok"} from the
// node's /metrics (absent, hence 0, until the first proposal).
func proposals(t *testing.T, statusAddr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + statusAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, `skerry_raft_proposals_total{result="ok"}`) {
			f, err := strconv.ParseFloat(strings.Fields(line)[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestExecWithNestedTransaction: INFO keyspace inside EXEC opens a
// transaction of its own; it must join EXEC's (rerun over the whole
// keyspace) instead of deadlocking, and the queued writes apply once.
func TestExecWithNestedTransaction(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := client(t, n.Addr())
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "n")
		p.Info(ctx, "keyspace")
		p.Incr(ctx, "n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if info := cmds[1].(*redis.StringCmd).Val(); !strings.Contains(info, "db0:keys=1,") {
		t.Fatalf("INFO inside EXEC: %q", info)
	}
	if got := c.Get(ctx, "n").Val(); got != "2" {
		t.Fatalf("n = %s, want 2 (each queued INCR once)", got)
	}
}

// TestCollectorDoesNotTouchWatchedKeys: the garbage collector deletes the
// members of a deleted hash without writing the metadata of the live hash
// of the same name, so it does not abort an EXEC watching it. An attempt
// where the collector ran before WATCH proves nothing and is repeated.
func TestCollectorDoesNotTouchWatchedKeys(t *testing.T) {
	cfg := clustertest.Config(t, t.TempDir())
	cfg.GCPeriod = 300 * time.Millisecond
	n := clustertest.Start(t, cfg)
	ctx := context.Background()
	c := client(t, n.Addr())
	const members = 600
	args := []any{}
	for i := 0; i < members; i++ {
		args = append(args, fmt.Sprint("f", i), "v")
	}
	for attempt := 0; attempt < 5; attempt++ {
		key := fmt.Sprint("h", attempt)
		if err := c.HSet(ctx, key, args...).Err(); err != nil {
			t.Fatal(err)
		}
		collected := n.GCCollected()
		if err := c.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.HSet(ctx, key, "live", "1").Err(); err != nil {
			t.Fatal(err)
		}
		early := false
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			if n.GCCollected() != collected {
				early = true // the collector may have run before WATCH
				return nil
			}
			eventually(t, 20*time.Second, "the collector to remove the old members", func() bool {
				return n.GCCollected() >= collected+members && n.GCBacklog() == 0
			})
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, key, "live", "2")
				return nil
			})
			return err
		}, key)
		if early {
			continue
		}
		if err != nil {
			t.Fatalf("EXEC after garbage collection of an older version: %v", err)
		}
		if v := c.HGet(ctx, key, "live").Val(); v != "2" {
			t.Fatalf("%s.live = %q", key, v)
		}
		return
	}
	t.Fatal("the collector always ran before WATCH")
}
