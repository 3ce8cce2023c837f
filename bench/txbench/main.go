// Command txbench measures Skerry's cross-slot transactions beside plain
// SET, with the same clients against the same nodes, for bench/txn.sh:
//
//   - set:      SET k v, one random key per request;
//   - mset10:   MSET of 10 random keys in 10 different slots;
//   - transfer: MULTI, DECRBY a 1, INCRBY b 1, EXEC, a and b two random
//     accounts in different slots (the bank transfer of issue 5).
//
// Clients are spread round-robin over -addrs. Every request's latency is
// recorded; the output is one line per test: "test ops/s p50ms p99ms
// errors".
//
//	go run ./bench/txbench -addrs 127.0.0.1:7001,127.0.0.1:7002 -tests set,transfer -n 20000
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/mvcc/keys"
)

func main() {
	addrs := flag.String("addrs", "127.0.0.1:6379", "comma-separated node addresses; clients are spread over them")
	tests := flag.String("tests", "set,mset10,transfer", "tests to run, in order")
	clients := flag.Int("c", 50, "concurrent clients")
	requests := flag.Int("n", 20000, "requests per test")
	keyspace := flag.Int("r", 100000, "random keys (set, mset10)")
	accounts := flag.Int("accounts", 1000, "accounts (transfer)")
	seed := flag.Uint64("seed", 1, "random seed")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up on a test after this long")
	flag.Parse()

	var conns []*redis.Client
	for i := range *clients {
		as := strings.Split(*addrs, ",")
		conns = append(conns, redis.NewClient(&redis.Options{Addr: as[i%len(as)], PoolSize: 1,
			MaxRetries: -1, ReadTimeout: 30 * time.Second}))
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, t := range strings.Split(*tests, ",") {
		op, err := operation(t, *keyspace, *accounts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "txbench:", err)
			os.Exit(2)
		}
		if t == "transfer" {
			if err := openAccounts(conns[0], *accounts); err != nil {
				fmt.Fprintln(os.Stderr, "txbench: open accounts:", err)
				os.Exit(1)
			}
		}
		res := run(conns, op, *requests, *seed, *timeout)
		fmt.Printf("%s %.0f %.3f %.3f %d\n", t, res.rps, res.p50, res.p99, res.errors)
	}
}

// account names the i-th account; accounts land in many slots.
func account(i int) string { return "acct:" + strconv.Itoa(i) }

func openAccounts(c *redis.Client, n int) error {
	ctx := context.Background()
	for i := 0; i < n; i += 100 {
		var args []any
		for j := i; j < min(i+100, n); j++ {
			args = append(args, account(j), 1000000)
		}
		if err := c.MSet(ctx, args...).Err(); err != nil {
			return err
		}
	}
	return nil
}

type op func(ctx context.Context, c *redis.Client, rng *rand.Rand) error

func operation(name string, keyspace, accounts int) (op, error) {
	randKey := func(rng *rand.Rand) string { return "key:" + strconv.Itoa(rng.IntN(keyspace)) }
	switch name {
	case "set":
		return func(ctx context.Context, c *redis.Client, rng *rand.Rand) error {
			return c.Set(ctx, randKey(rng), "xxx", 0).Err()
		}, nil
	case "mset10":
		return func(ctx context.Context, c *redis.Client, rng *rand.Rand) error {
			args := make([]any, 0, 20)
			var slots []uint16
			for len(slots) < 10 {
				k := randKey(rng)
				s := keys.Slot([]byte(k))
				if slices.Contains(slots, s) {
					continue
				}
				slots = append(slots, s)
				args = append(args, k, "xxx")
			}
			return c.MSet(ctx, args...).Err()
		}, nil
	case "transfer":
		return func(ctx context.Context, c *redis.Client, rng *rand.Rand) error {
			a := account(rng.IntN(accounts))
			b := a
			for keys.Slot([]byte(b)) == keys.Slot([]byte(a)) {
				b = account(rng.IntN(accounts))
			}
			_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.DecrBy(ctx, a, 1)
				p.IncrBy(ctx, b, 1)
				return nil
			})
			return err
		}, nil
	}
	return nil, fmt.Errorf("unknown test %q", name)
}

type result struct {
	rps, p50, p99 float64
	errors        int64
}

// run sends n requests of op from every client until they are all done
// (or timeout), and returns the throughput and latency percentiles.
func run(conns []*redis.Client, o op, n int, seed uint64, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var next, errs atomic.Int64
	lat := make([][]time.Duration, len(conns))
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				t0 := time.Now()
				if err := o(ctx, c, rng); err != nil {
					errs.Add(1)
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	return result{rps: float64(len(all)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99), errors: errs.Load()}
}
