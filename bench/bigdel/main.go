// Command bigdel fills one key of each collection type with many members
// and times DEL of it, for bench/run.sh. Skerry's DEL is one write whatever
// the size (the collector removes members later); Redis frees the members
// inside DEL.
//
//	go run ./bench/bigdel -addr 127.0.0.1:6379 -members 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "server address")
	members := flag.Int("members", 1_000_000, "members per key")
	types := flag.String("types", "hash,set,zset,list", "collection types to measure")
	label := flag.String("label", "", "name printed in front of each line")
	chunk := flag.Int("chunk", 1000, "members per filling command")
	flag.Parse()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: *addr, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer c.Close()
	// Fill every key first, then delete them one after another: the first
	// DEL meets an idle server, the later ones run while the collector
	// removes the members of the earlier ones.
	fills := map[string]time.Duration{}
	for _, typ := range strings.Split(*types, ",") {
		start := time.Now()
		if err := fill(ctx, c, typ, "bigdel:"+typ, *members, *chunk); err != nil {
			fmt.Fprintf(os.Stderr, "bigdel: fill %s: %v\n", typ, err)
			os.Exit(1)
		}
		fills[typ] = time.Since(start)
	}
	for _, typ := range strings.Split(*types, ",") {
		key := "bigdel:" + typ
		t0 := time.Now()
		n, err := c.Del(ctx, key).Result()
		d := time.Since(t0)
		if err != nil || n != 1 {
			fmt.Fprintf(os.Stderr, "bigdel: DEL %s = %d, %v\n", key, n, err)
			os.Exit(1)
		}
		fmt.Printf("%-10s %-5s members=%d  DEL %8.3f ms   (fill %.1fs)\n", *label, typ, *members,
			float64(d.Microseconds())/1000, fills[typ].Seconds())
	}
}

// fill creates key with n members, chunk members per command, 16 commands
// in flight per pipeline.
func fill(ctx context.Context, c *redis.Client, typ, key string, n, chunk int) error {
	if err := c.Del(ctx, key).Err(); err != nil {
		return err
	}
	p := c.Pipeline()
	queued := 0
	for i := 0; i < n; i += chunk {
		args := []any{}
		switch typ {
		case "hash":
			args = append(args, "hset", key)
		case "set":
			args = append(args, "sadd", key)
		case "zset":
			args = append(args, "zadd", key)
		case "list":
			args = append(args, "rpush", key)
		default:
			return fmt.Errorf("unknown type %q", typ)
		}
		for j := i; j < min(i+chunk, n); j++ {
			m := "m" + strconv.Itoa(j)
			switch typ {
			case "hash":
				args = append(args, m, "v")
			case "zset":
				args = append(args, j, m)
			default:
				args = append(args, m)
			}
		}
		p.Do(ctx, args...)
		if queued++; queued == 16 {
			if _, err := p.Exec(ctx); err != nil {
				return err
			}
			queued = 0
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		return err
	}
	var got int64
	var err error
	switch typ {
	case "hash":
		got, err = c.HLen(ctx, key).Result()
	case "set":
		got, err = c.SCard(ctx, key).Result()
	case "zset":
		got, err = c.ZCard(ctx, key).Result()
	case "list":
		got, err = c.LLen(ctx, key).Result()
	}
	if err != nil {
		return err
	}
	if got != int64(n) {
		return fmt.Errorf("%s has %d members, want %d", key, got, n)
	}
	return nil
}
