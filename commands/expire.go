package commands

import (
	"math"
)

// registerExpire registers EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL,
// EXPIRETIME, PEXPIRETIME and PERSIST. Times are judged against the
// transaction's clock (c.DB.NowMs), never the node's.
func registerExpire(t *Table) {
	t.Register(&Command{Name: "expire", Data: true, Handler: expireHandler(false, true)})
	t.Register(&Command{Name: "pexpire", Data: true, Handler: expireHandler(false, false)})
	t.Register(&Command{Name: "expireat", Data: true, Handler: expireHandler(true, true)})
	t.Register(&Command{Name: "pexpireat", Data: true, Handler: expireHandler(true, false)})
	t.Register(&Command{Name: "ttl", Data: true, Handler: ttlHandler(func(ttlMs, _ int64) int64 { return (ttlMs + 500) / 1000 })})
	t.Register(&Command{Name: "pttl", Data: true, Handler: ttlHandler(func(ttlMs, _ int64) int64 { return ttlMs })})
	t.Register(&Command{Name: "expiretime", Data: true, Handler: ttlHandler(func(_, at int64) int64 { return (at + 500) / 1000 })}) // Redis rounds, as for TTL
	t.Register(&Command{Name: "pexpiretime", Data: true, Handler: ttlHandler(func(_, at int64) int64 { return at })})
	t.Register(&Command{Name: "persist", Data: true, Handler: func(c *Ctx) error {
		m, ok, err := c.DB.Lookup(c.Args[1])
		if err != nil {
			return err
		}
		if !ok || m.ExpireAt == 0 {
			c.W.Int(0)
			return nil
		}
		if _, err := c.DB.SetExpire(c.Args[1], 0); err != nil {
			return err
		}
		c.W.Int(1)
		return nil
	}})
}

// ttlHandler replies -2 for a missing key, -1 for a key without expiry,
// else f(remaining ms, absolute expiry ms).
func ttlHandler(f func(ttlMs, atMs int64) int64) Handler {
	return func(c *Ctx) error {
		m, ok, err := c.DB.Lookup(c.Args[1])
		if err != nil {
			return err
		}
		switch {
		case !ok:
			c.W.Int(-2)
		case m.ExpireAt == 0:
			c.W.Int(-1)
		default:
			ttl := m.ExpireAt - c.DB.NowMs()
			if ttl < 0 {
				ttl = 0
			}
			c.W.Int(f(ttl, m.ExpireAt))
		}
		return nil
	}
}

// expireHandler implements the EXPIRE family as Redis 7.0's
// expireGenericCommand: options first, then the time with its overflow
// checks, then the NX/XX/GT/LT conditions.
func expireHandler(absolute, seconds bool) Handler {
	return func(c *Ctx) error {
		var nx, xx, gt, lt bool
		for _, o := range c.Args[3:] {
			switch {
			case argIs(o, "nx"):
				nx = true
			case argIs(o, "xx"):
				xx = true
			case argIs(o, "gt"):
				gt = true
			case argIs(o, "lt"):
				lt = true
			default:
				return Errorf("ERR Unsupported option %s", o)
			}
		}
		if nx && (xx || gt || lt) {
			return errExpireNXXX
		}
		if gt && lt {
			return errExpireGTLT
		}
		when, err := intArg(c.Args[2])
		if err != nil {
			return err
		}
		invalid := Errorf("ERR invalid expire time in '%s' command", c.Name())
		if seconds {
			if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
				return invalid
			}
			when *= 1000
		}
		base := int64(0)
		if !absolute {
			base = c.DB.NowMs()
		}
		if when > math.MaxInt64-base {
			return invalid
		}
		when += base
		key := c.Args[1]
		m, ok, err := c.DB.Lookup(key)
		if err != nil {
			return err
		}
		if !ok {
			c.W.Int(0)
			return nil
		}
		cur := m.ExpireAt // 0: no expiry, which GT/LT treat as infinite
		switch {
		case nx && cur != 0,
			xx && cur == 0,
			gt && (cur == 0 || when <= cur),
			lt && cur != 0 && when >= cur:
			c.W.Int(0)
			return nil
		}
		if when <= c.DB.NowMs() {
			if _, err := c.DB.Delete(key); err != nil {
				return err
			}
		} else if _, err := c.DB.SetExpire(key, when); err != nil {
			return err
		}
		c.W.Int(1)
		return nil
	}
}
