package commands

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/resp"
)

// ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER and ZSCAN.

// zpopCmd is ZPOPMIN/ZPOPMAX key [count].
func zpopCmd(c *Ctx, fromMax bool) error {
	if len(c.Args) > 3 {
		return ErrSyntax
	}
	count := int64(-1) // a plain pop: one flat [member, score] reply
	if len(c.Args) == 3 {
		n, ok := ParseInt(c.Args[2])
		if !ok || n < 0 {
			return errZPositiveCount
		}
		count = n
	}
	// RESP3 nests [member, score] pairs when a count was given.
	nested := c.W.Proto() == 3 && count != -1
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok || count == 0 {
		c.W.Array(0)
		return nil
	}
	es, err := zpop(z, max(count, 1), fromMax)
	if err != nil {
		return err
	}
	if nested {
		c.W.Array(len(es))
	} else {
		c.W.Array(2 * len(es))
	}
	for _, e := range es {
		writeZEntry(c, e, true, nested)
	}
	return nil
}

// zpop removes and returns up to count members from one end of z.
func zpop(z *zsetRef, count int64, fromMax bool) ([]zEntry, error) {
	es, err := z.WithSigns(z.First(count, fromMax))
	if err != nil {
		return nil, err
	}
	if err := z.removeEntries(es); err != nil {
		return nil, err
	}
	return es, z.Save()
}

// zmpopCmd is ZMPOP numkeys key [key ...] MIN|MAX [COUNT count].
func zmpopCmd(c *Ctx) error {
	numkeys, ok := ParseInt(c.Args[1])
	if !ok || numkeys < 1 {
		return errZNumkeys
	}
	whereIdx := 2 + numkeys
	if whereIdx >= int64(len(c.Args)) || whereIdx < 0 {
		return ErrSyntax
	}
	var fromMax bool
	switch w := c.Args[whereIdx]; {
	case argIs(w, "min"):
	case argIs(w, "max"):
		fromMax = true
	default:
		return ErrSyntax
	}
	count := int64(-1)
	for j := whereIdx + 1; j < int64(len(c.Args)); j++ {
		more := int64(len(c.Args)) - 1 - j
		if count == -1 && argIs(c.Args[j], "count") && more > 0 {
			j++
			n, ok := ParseInt(c.Args[j])
			if !ok || n < 1 {
				return errZCountPositive
			}
			count = n
		} else {
			return ErrSyntax
		}
	}
	if count == -1 {
		count = 1
	}
	for _, key := range c.Args[2:whereIdx] {
		z, ok, err := openZSet(c, key)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		es, err := zpop(z, count, fromMax)
		if err != nil {
			return err
		}
		c.W.Array(2)
		c.W.Bulk(key)
		c.W.Array(len(es))
		for _, e := range es {
			writeZEntry(c, e, true, true)
		}
		return nil
	}
	c.W.NullArray()
	return nil
}

// errZRandReplyTooLarge answers a ZRANDMEMBER whose reply would exceed
// proto-max-bulk-len: Redis would stream it; Skerry builds replies in
// memory and refuses instead of allocating without bound.
var errZRandReplyTooLarge = &ReplyError{"ERR ZRANDMEMBER reply would exceed proto-max-bulk-len, use a smaller count"}

// zrandmemberCmd is ZRANDMEMBER key [count [WITHSCORES]].
func zrandmemberCmd(c *Ctx) error {
	if len(c.Args) >= 3 {
		l, ok := ParseInt(c.Args[2])
		if !ok {
			return ErrNotInteger
		}
		if l == math.MinInt64 {
			return errZRandCountRange
		}
		withScores := false
		if len(c.Args) > 4 || (len(c.Args) == 4 && !argIs(c.Args[3], "withscores")) {
			return ErrSyntax
		}
		if len(c.Args) == 4 {
			withScores = true
			if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
				return errZRandRange
			}
		}
		return zrandmemberCount(c, l, withScores)
	}
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	r := rand.Int64N(z.Len())
	es, err := z.RangeByRank(r, r)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return keyspace.ErrCorruptMeta // Size says there is a member at r
	}
	c.W.Bulk(es[0].member)
	return nil
}

func zrandmemberCount(c *Ctx, l int64, withScores bool) error {
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok || l == 0 {
		c.W.Array(0)
		return nil
	}
	size := z.Len()
	nested := withScores && c.W.Proto() == 3
	header := func(n int64) {
		if withScores && !nested {
			n *= 2
		}
		c.W.Array(int(n))
	}
	limit := protoMaxBulkLen(c)
	if l < 0 || l == 1 {
		// Sampling with repetition, in random order.
		count := l
		if count < 0 {
			count = -count
		}
		// Every element costs at least 6 reply bytes ("$0\r\n\r\n").
		if count > limit/6 {
			return errZRandReplyTooLarge
		}
		start := c.W.Len()
		if count >= size {
			// Cheaper to read the whole set once than to walk per sample.
			all, err := z.All()
			if err != nil {
				return err
			}
			header(count)
			for i := int64(0); i < count; i++ {
				writeZEntry(c, all[rand.Int64N(size)], withScores, nested)
				if int64(c.W.Len()-start) > limit {
					return errZRandReplyTooLarge
				}
			}
			return nil
		}
		// Fewer samples than members: draw the ranks, then fetch them all
		// in one walk of the index.
		picks := make([]int64, count)
		for i := range picks {
			picks[i] = rand.Int64N(size)
		}
		ranks := slices.Compact(slices.Sorted(slices.Values(picks)))
		got, err := zpickRanks(z, ranks)
		if err != nil {
			return err
		}
		header(count)
		for _, r := range picks {
			i, _ := slices.BinarySearch(ranks, r)
			writeZEntry(c, got[i], withScores, nested)
			if int64(c.W.Len()-start) > limit {
				return errZRandReplyTooLarge
			}
		}
		return nil
	}
	// Distinct members.
	count := l
	if count >= size {
		// The whole set; Redis walks it from the highest score.
		es, err := z.All()
		if err != nil {
			return err
		}
		reverseEntries(es)
		header(int64(len(es)))
		for _, e := range es {
			writeZEntry(c, e, withScores, nested)
		}
		return nil
	}
	// Floyd's algorithm: count distinct ranks with O(count) memory.
	chosen := make(map[int64]struct{}, count)
	for j := size - count; j < size; j++ {
		t := rand.Int64N(j + 1)
		if _, dup := chosen[t]; dup {
			t = j
		}
		chosen[t] = struct{}{}
	}
	ranks := make([]int64, 0, count)
	for r := range chosen {
		ranks = append(ranks, r)
	}
	slices.Sort(ranks)
	es, err := zpickRanks(z, ranks)
	if err != nil {
		return err
	}
	header(int64(len(es)))
	for _, e := range es {
		writeZEntry(c, e, withScores, nested)
	}
	return nil
}

// zpickRanks returns the members at the given ascending, distinct ranks
// with one walk of the score index.
func zpickRanks(z *zsetRef, ranks []int64) ([]zEntry, error) {
	if len(ranks) == 0 {
		return nil, nil
	}
	out := make([]zEntry, 0, len(ranks))
	rank := int64(0)
	err := z.walk(zScoreSub, scoreIndexEnd(), false, func(member []byte, score float64) bool {
		if rank == ranks[len(out)] {
			out = append(out, zEntry{append([]byte(nil), member...), score})
		}
		rank++
		return len(out) < len(ranks)
	})
	if err != nil {
		return nil, err
	}
	if len(out) != len(ranks) {
		return nil, keyspace.ErrCorruptMeta
	}
	return z.WithSigns(out, nil)
}

// zscanCmd is ZSCAN key cursor [MATCH pattern] [COUNT count]. A listpack
// (non-Big) zset is returned whole in score order with cursor 0, as Redis
// does; a Big one is scanned by member with the shared stateless cursor
// (collscan.go).
func zscanCmd(c *Ctx) error {
	cursor, err := parseCursor(c.Args[2])
	if err != nil {
		return err
	}
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		writeEmptyScan(c)
		return nil
	}
	o, err := parseCollScanOptions(c.Args[3:])
	if err != nil {
		return err
	}
	var items [][]byte
	next := uint64(0)
	if !z.m.Big {
		err = z.walk(zScoreSub, scoreIndexEnd(), false, func(member []byte, score float64) bool {
			if o.pattern == nil || GlobMatch(o.pattern, member, false) {
				items = append(items, append([]byte(nil), member...), appendListpackScore(nil, score))
			}
			return true
		})
	} else {
		var derr error
		next, err = collScan(c, z.key, &z.m, zMemberSub, cursor, o, func(member, value []byte) {
			s, err := decodeMemberValue(value)
			if err != nil {
				derr = err
				return
			}
			items = append(items, append([]byte(nil), member...), resp.AppendDouble(nil, s))
		})
		if err == nil {
			err = derr
		}
	}
	if err != nil {
		return err
	}
	writeScanReply(c, next, items)
	return nil
}

// appendListpackScore formats a score as a listpack stores it, which is
// what ZSCAN of a listpack zset returns: an integral score within
// ±LLONG_MAX/2 is stored (and printed) as an integer, anything else as
// %.17g.
func appendListpackScore(dst []byte, score float64) []byte {
	const lim = float64(math.MaxInt64 / 2)
	if score >= -lim && score <= lim && score == math.Trunc(score) {
		return strconv.AppendInt(dst, int64(score), 10)
	}
	return resp.AppendDouble(dst, score)
}
