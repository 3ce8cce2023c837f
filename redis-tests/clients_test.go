package redistests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/skerrydb/skerry/cluster/clustertest"
)

// TestGoRedis drives an in-process node with go-redis v9 over RESP2 and
// RESP3, including pipelines.
func TestGoRedis(t *testing.T) {
	addr := clustertest.StartNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: addr, Protocol: proto})
			defer c.Close()
			prefix := fmt.Sprintf("p%d:", proto)
			if err := c.Set(ctx, prefix+"k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Get(ctx, prefix+"k").Result(); err != nil || got != "v" {
				t.Fatalf("GET = %q, %v", got, err)
			}
			if _, err := c.Get(ctx, prefix+"missing").Result(); err != redis.Nil {
				t.Fatalf("GET missing: want redis.Nil, got %v", err)
			}
			if n, err := c.IncrBy(ctx, prefix+"n", 41).Result(); err != nil || n != 41 {
				t.Fatalf("INCRBY = %d, %v", n, err)
			}
			if f, err := c.IncrByFloat(ctx, prefix+"f", 10.5).Result(); err != nil || f != 10.5 {
				t.Fatalf("INCRBYFLOAT = %v, %v", f, err)
			}
			if err := c.Set(ctx, prefix+"ttl", "x", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			if d, err := c.TTL(ctx, prefix+"ttl").Result(); err != nil || d <= 59*time.Minute || d > time.Hour {
				t.Fatalf("TTL = %v, %v", d, err)
			}
			// A pipeline of 200 commands: replies in order.
			pipe := c.Pipeline()
			var cmds []*redis.IntCmd
			for i := 0; i < 200; i++ {
				cmds = append(cmds, pipe.Incr(ctx, prefix+"ctr"))
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			for i, cmd := range cmds {
				if cmd.Val() != int64(i+1) {
					t.Fatalf("pipelined INCR %d = %d", i, cmd.Val())
				}
			}
			vals, err := c.MGet(ctx, prefix+"k", prefix+"missing", prefix+"ctr").Result()
			if err != nil || vals[0] != "v" || vals[1] != nil || vals[2] != "200" {
				t.Fatalf("MGET = %v, %v", vals, err)
			}
			if err := c.Incr(ctx, prefix+"k").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
				t.Fatalf("INCR of a non-integer: %v", err)
			}
			if n, err := c.Del(ctx, prefix+"k", prefix+"n", prefix+"missing").Result(); err != nil || n != 2 {
				t.Fatalf("DEL = %d, %v", n, err)
			}
		})
	}
}

// TestRueidis drives an in-process node with rueidis (RESP3, client-side
// pipelining of concurrent commands).
func TestRueidis(t *testing.T) {
	addr := clustertest.StartNode(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Do(ctx, c.B().Set().Key("a").Value("1").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Do(ctx, c.B().Get().Key("a").Build()).ToString(); err != nil || v != "1" {
		t.Fatalf("GET = %q, %v", v, err)
	}
	// Concurrent commands are auto-pipelined by rueidis on one connection.
	const n = 100
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { errs <- c.Do(ctx, c.B().Incr().Key("ctr").Build()).Error() }()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if v, err := c.Do(ctx, c.B().Get().Key("ctr").Build()).AsInt64(); err != nil || v != n {
		t.Fatalf("ctr = %d, %v", v, err)
	}
	resps := c.DoMulti(ctx, c.B().Set().Key("x").Value("1").Build(), c.B().Incrby().Key("x").Increment(9).Build(), c.B().Strlen().Key("x").Build())
	if v, err := resps[1].AsInt64(); err != nil || v != 10 {
		t.Fatalf("INCRBY in DoMulti = %d, %v", v, err)
	}
	if v, err := resps[2].AsInt64(); err != nil || v != 2 {
		t.Fatalf("STRLEN in DoMulti = %d, %v", v, err)
	}
}
