package commands

import (
	"math"
)

// Sorted-set commands. Storage is in zset_store.go; range commands in
// zset_range.go; pops, ZRANDMEMBER and ZSCAN in zset_pop.go; ZUNION,
// ZINTER, ZDIFF and their STORE forms in zset_setops.go. Argument
// checks run in Redis 7.0's order (options, then numbers, then the key),
// because which error a bad call gets depends on it.

func registerZSets(t *Table) {
	for _, c := range []*Command{
		{Name: "zadd", Handler: zaddCmd},
		{Name: "zincrby", Handler: zincrbyCmd},
		{Name: "zrem", Handler: zremCmd},
		{Name: "zcard", Handler: zcardCmd},
		{Name: "zscore", Handler: zscoreCmd},
		{Name: "zmscore", Handler: zmscoreCmd},
		{Name: "zrank", Handler: func(c *Ctx) error { return zrankGeneric(c, false) }},
		{Name: "zrevrank", Handler: func(c *Ctx) error { return zrankGeneric(c, true) }},
		{Name: "zcount", Handler: zcountCmd},
		{Name: "zlexcount", Handler: zlexcountCmd},
		{Name: "zrange", Handler: zrangeCmd},
		{Name: "zrangestore", Handler: zrangestoreCmd},
		{Name: "zrevrange", Handler: zrevrangeCmd},
		{Name: "zrangebyscore", Handler: zrangebyscoreCmd},
		{Name: "zrevrangebyscore", Handler: zrevrangebyscoreCmd},
		{Name: "zrangebylex", Handler: zrangebylexCmd},
		{Name: "zrevrangebylex", Handler: zrevrangebylexCmd},
		{Name: "zremrangebyrank", Handler: func(c *Ctx) error { return zremrangeGeneric(c, zrangeRank) }},
		{Name: "zremrangebyscore", Handler: func(c *Ctx) error { return zremrangeGeneric(c, zrangeScore) }},
		{Name: "zremrangebylex", Handler: func(c *Ctx) error { return zremrangeGeneric(c, zrangeLex) }},
		{Name: "zpopmin", Handler: func(c *Ctx) error { return zpopCmd(c, false) }},
		{Name: "zpopmax", Handler: func(c *Ctx) error { return zpopCmd(c, true) }},
		{Name: "zmpop", Handler: zmpopCmd},
		{Name: "zrandmember", Handler: zrandmemberCmd},
		{Name: "zscan", Handler: zscanCmd},
		{Name: "zunion", Handler: func(c *Ctx) error { return zsetOpGeneric(c, zsetOpUnion, false, false) }},
		{Name: "zinter", Handler: func(c *Ctx) error { return zsetOpGeneric(c, zsetOpInter, false, false) }},
		{Name: "zdiff", Handler: func(c *Ctx) error { return zsetOpGeneric(c, zsetOpDiff, false, false) }},
		{Name: "zunionstore", Handler: func(c *Ctx) error { return zsetOpGeneric(c, zsetOpUnion, true, false) }},
		{Name: "zinterstore", Handler: func(c *Ctx) error { return zsetOpGeneric(c, zsetOpInter, true, false) }},
		{Name: "zdiffstore", Handler: func(c *Ctx) error { return zsetOpGeneric(c, zsetOpDiff, true, false) }},
		{Name: "zintercard", Handler: func(c *Ctx) error { return zsetOpGeneric(c, zsetOpInter, false, true) }},
	} {
		c.Data = true
		t.Register(c)
	}
}

// writeZEntries replies a list of members, with their scores when
// withScores: a flat array in RESP2 and an array of [member, score] pairs
// in RESP3, as Redis 7.0 does.
func writeZEntries(c *Ctx, es []zEntry, withScores bool) {
	nested := withScores && c.W.Proto() == 3
	if withScores && !nested {
		c.W.Array(2 * len(es))
	} else {
		c.W.Array(len(es))
	}
	for _, e := range es {
		writeZEntry(c, e, withScores, nested)
	}
}

func writeZEntry(c *Ctx, e zEntry, withScores, nested bool) {
	if nested {
		c.W.Array(2)
	}
	c.W.Bulk(e.member)
	if withScores {
		c.W.Double(e.score)
	}
}

// ZADD option bits (Redis's ZADD_IN_*).
const (
	zaddNX = 1 << iota
	zaddXX
	zaddGT
	zaddLT
	zaddIncr
)

// zaddOutcome is what zaddOne did to one member.
type zaddOutcome int

const (
	zaddNop zaddOutcome = iota
	zaddAdded
	zaddUpdated
	zaddSame // processed, score unchanged
)

func zaddCmd(c *Ctx) error    { return zaddGeneric(c, 0) }
func zincrbyCmd(c *Ctx) error { return zaddGeneric(c, zaddIncr) }

// zaddGeneric is ZADD and ZINCRBY (which is ZADD INCR: Redis parses
// options for both, so "ZINCRBY key nx member" is a syntax error).
func zaddGeneric(c *Ctx, flags int) error {
	ch := false
	i := 2
options:
	for ; i < len(c.Args); i++ {
		a := c.Args[i]
		switch {
		case argIs(a, "nx"):
			flags |= zaddNX
		case argIs(a, "xx"):
			flags |= zaddXX
		case argIs(a, "ch"):
			ch = true
		case argIs(a, "incr"):
			flags |= zaddIncr
		case argIs(a, "gt"):
			flags |= zaddGT
		case argIs(a, "lt"):
			flags |= zaddLT
		default:
			break options // the first score
		}
	}
	pairs := c.Args[i:]
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return ErrSyntax
	}
	nx, xx, gt, lt, incr := flags&zaddNX != 0, flags&zaddXX != 0, flags&zaddGT != 0, flags&zaddLT != 0, flags&zaddIncr != 0
	if nx && xx {
		return errZAddXXNX
	}
	if (gt && nx) || (lt && nx) || (gt && lt) {
		return errZAddGTLTNX
	}
	if incr && len(pairs) > 2 {
		return errZAddIncrPair
	}
	scores := make([]float64, len(pairs)/2)
	for j := range scores {
		s, err := scoreArg(pairs[2*j])
		if err != nil {
			return err
		}
		scores[j] = s
	}

	z, err := openOrNewZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	added, updated, processed := 0, 0, 0
	var score float64
	if z.Len() > 0 || !xx {
		for j, s := range scores {
			out, ns, err := zaddOne(z, pairs[2*j+1], s, flags)
			if err != nil {
				return err
			}
			switch out {
			case zaddAdded:
				added++
			case zaddUpdated:
				updated++
			}
			if out != zaddNop {
				processed++
			}
			score = ns
		}
		if added+updated > 0 {
			if err := z.Save(); err != nil {
				return err
			}
		}
	}
	switch {
	case incr && processed > 0:
		c.W.Double(score)
	case incr:
		c.W.Null()
	case ch:
		c.W.Int(int64(added + updated))
	default:
		c.W.Int(int64(added))
	}
	return nil
}

// zaddOne is Redis's zsetAdd: it applies one score-member pair under the
// ZADD flags and returns what happened and the member's resulting score.
func zaddOne(z *zsetRef, member []byte, score float64, flags int) (zaddOutcome, float64, error) {
	cur, exists, err := z.Score(member)
	if err != nil {
		return zaddNop, 0, err
	}
	if exists {
		if flags&zaddNX != 0 {
			return zaddNop, 0, nil
		}
		if flags&zaddIncr != 0 {
			score += cur
			if math.IsNaN(score) {
				return zaddNop, 0, errZScoreNaN
			}
		}
		if (flags&zaddLT != 0 && score >= cur) || (flags&zaddGT != 0 && score <= cur) {
			return zaddNop, 0, nil
		}
		if score == cur {
			return zaddSame, score, nil
		}
		return zaddUpdated, score, z.setScore(member, cur, score)
	}
	if flags&zaddXX != 0 {
		return zaddNop, 0, nil
	}
	if err := z.addNew(member, score); err != nil {
		return zaddNop, 0, err
	}
	return zaddAdded, score, nil
}

func zremCmd(c *Ctx) error {
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	deleted := int64(0)
	for _, member := range c.Args[2:] {
		removed, err := z.Remove(member)
		if err != nil {
			return err
		}
		if removed {
			deleted++
		}
		if z.Len() == 0 {
			break
		}
	}
	if deleted > 0 {
		if err := z.Save(); err != nil {
			return err
		}
	}
	c.W.Int(deleted)
	return nil
}

func zcardCmd(c *Ctx) error {
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	c.W.Int(z.Len())
	return nil
}

func zscoreCmd(c *Ctx) error {
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	s, ok, err := z.Score(c.Args[2])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	c.W.Double(s)
	return nil
}

func zmscoreCmd(c *Ctx) error {
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	members := c.Args[2:]
	c.W.Array(len(members))
	for _, m := range members {
		if !ok {
			c.W.Null()
			continue
		}
		s, found, err := z.Score(m)
		if err != nil {
			return err
		}
		if found {
			c.W.Double(s)
		} else {
			c.W.Null()
		}
	}
	return nil
}

func zrankGeneric(c *Ctx, reverse bool) error {
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	member := c.Args[2]
	s, ok, err := z.Score(member)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	rank, err := z.Rank(member, s)
	if err != nil {
		return err
	}
	if reverse {
		rank = z.Len() - 1 - rank
	}
	c.W.Int(rank)
	return nil
}

func zcountCmd(c *Ctx) error {
	r, err := parseScoreRange(c.Args[2], c.Args[3])
	if err != nil {
		return err
	}
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	n := int64(0)
	if ok {
		if n, err = z.CountByScore(r); err != nil {
			return err
		}
	}
	c.W.Int(n)
	return nil
}

func zlexcountCmd(c *Ctx) error {
	r, err := parseLexRange(c.Args[2], c.Args[3])
	if err != nil {
		return err
	}
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	n := int64(0)
	if ok {
		if n, err = z.CountByLex(r); err != nil {
			return err
		}
	}
	c.W.Int(n)
	return nil
}
