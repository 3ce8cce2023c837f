package commands

// ZRANGE and its older forms, ZRANGESTORE and ZREMRANGEBY*.

// zrangeKind is how a range is given (Redis's zrange_type).
type zrangeKind int

const (
	zrangeAuto zrangeKind = iota
	zrangeRank
	zrangeScore
	zrangeLex
)

// zrangeDir is the direction of a range (Redis's zrange_direction).
type zrangeDir int

const (
	zrangeDirAuto zrangeDir = iota
	zrangeDirForward
	zrangeDirReverse
)

func zrangeCmd(c *Ctx) error { return zrangeGeneric(c, 1, false, zrangeAuto, zrangeDirAuto) }
func zrangestoreCmd(c *Ctx) error {
	return zrangeGeneric(c, 2, true, zrangeAuto, zrangeDirAuto)
}
func zrevrangeCmd(c *Ctx) error { return zrangeGeneric(c, 1, false, zrangeRank, zrangeDirReverse) }
func zrangebyscoreCmd(c *Ctx) error {
	return zrangeGeneric(c, 1, false, zrangeScore, zrangeDirForward)
}
func zrevrangebyscoreCmd(c *Ctx) error {
	return zrangeGeneric(c, 1, false, zrangeScore, zrangeDirReverse)
}
func zrangebylexCmd(c *Ctx) error { return zrangeGeneric(c, 1, false, zrangeLex, zrangeDirForward) }
func zrevrangebylexCmd(c *Ctx) error {
	return zrangeGeneric(c, 1, false, zrangeLex, zrangeDirReverse)
}

// zrangeGeneric is Redis's zrangeGenericCommand: ZRANGE, ZRANGESTORE
// (store: the destination is Args[1]) and the deprecated Z[REV]RANGE*
// commands, which fix kind and direction. src is Args[argStart], followed
// by min, max and the options.
func zrangeGeneric(c *Ctx, argStart int, store bool, kind zrangeKind, dir zrangeDir) error {
	args := c.Args
	key := args[argStart]
	minIdx, maxIdx := argStart+1, argStart+2
	withScores := false
	offset, limit := int64(0), int64(-1)
	for j := argStart + 3; j < len(args); j++ {
		left := len(args) - j - 1
		a := args[j]
		switch {
		case !store && argIs(a, "withscores"):
			withScores = true
		case argIs(a, "limit") && left >= 2:
			var err error
			if offset, err = intArg(args[j+1]); err != nil {
				return err
			}
			if limit, err = intArg(args[j+2]); err != nil {
				return err
			}
			j += 2
		case dir == zrangeDirAuto && argIs(a, "rev"):
			dir = zrangeDirReverse
		case kind == zrangeAuto && argIs(a, "bylex"):
			kind = zrangeLex
		case kind == zrangeAuto && argIs(a, "byscore"):
			kind = zrangeScore
		default:
			return ErrSyntax
		}
	}
	if dir == zrangeDirAuto {
		dir = zrangeDirForward
	}
	if kind == zrangeAuto {
		kind = zrangeRank
	}
	if limit != -1 && kind == zrangeRank {
		return errZLimitRank
	}
	if withScores && kind == zrangeLex {
		return errZWithscoresLex
	}
	reverse := dir == zrangeDirReverse
	if reverse && kind != zrangeRank {
		minIdx, maxIdx = maxIdx, minIdx // given as max, min
	}

	var start, end int64
	var sr scoreRange
	var lr lexRange
	var err error
	switch kind {
	case zrangeRank:
		if start, err = intArg(args[minIdx]); err != nil {
			return err
		}
		if end, err = intArg(args[maxIdx]); err != nil {
			return err
		}
	case zrangeScore:
		if sr, err = parseScoreRange(args[minIdx], args[maxIdx]); err != nil {
			return err
		}
	case zrangeLex:
		if lr, err = parseLexRange(args[minIdx], args[maxIdx]); err != nil {
			return err
		}
	}

	z, ok, err := openZSet(c, key)
	if err != nil {
		return err
	}
	var es []zEntry
	if ok {
		switch kind {
		case zrangeRank:
			es, err = zrangeByRank(z, start, end, reverse)
		case zrangeScore:
			es, err = z.RangeByScore(sr, reverse, offset, limit)
		case zrangeLex:
			es, err = z.RangeByLex(lr, reverse, offset, limit)
		}
		if withScores || store {
			es, err = z.WithSigns(es, err)
		}
		if err != nil {
			return err
		}
	}
	if store {
		hint := int64(-1)
		if kind == zrangeRank {
			hint = int64(len(es))
		}
		n, err := storeZRange(c, args[1], es, hint)
		if err != nil {
			return err
		}
		c.W.Int(n)
		return nil
	}
	writeZEntries(c, es, withScores)
	return nil
}

// normalizeRankRange applies Redis's index rules (negative counts from the
// end, clamping) to [start, end] over n members; ok is false for an empty
// range.
func normalizeRankRange(start, end, n int64) (int64, int64, bool) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= n {
		return 0, 0, false
	}
	if end >= n {
		end = n - 1
	}
	return start, end, true
}

// zrangeByRank returns the members at ranks [start, end] (Redis indexes),
// counted from the highest score when reverse, in that order.
func zrangeByRank(z *zsetRef, start, end int64, reverse bool) ([]zEntry, error) {
	n := z.Len()
	start, end, ok := normalizeRankRange(start, end, n)
	if !ok {
		return nil, nil
	}
	if !reverse {
		return z.RangeByRank(start, end)
	}
	es, err := z.RangeByRank(n-1-end, n-1-start)
	reverseEntries(es)
	return es, err
}

// zremrangeGeneric is ZREMRANGEBYRANK, ZREMRANGEBYSCORE and
// ZREMRANGEBYLEX.
func zremrangeGeneric(c *Ctx, kind zrangeKind) error {
	var start, end int64
	var sr scoreRange
	var lr lexRange
	var err error
	switch kind {
	case zrangeRank:
		if start, err = intArg(c.Args[2]); err != nil {
			return err
		}
		if end, err = intArg(c.Args[3]); err != nil {
			return err
		}
	case zrangeScore:
		if sr, err = parseScoreRange(c.Args[2], c.Args[3]); err != nil {
			return err
		}
	case zrangeLex:
		if lr, err = parseLexRange(c.Args[2], c.Args[3]); err != nil {
			return err
		}
	}
	z, ok, err := openZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	var es []zEntry
	switch kind {
	case zrangeRank:
		es, err = zrangeByRank(z, start, end, false)
	case zrangeScore:
		es, err = z.RangeByScore(sr, false, 0, -1)
	case zrangeLex:
		es, err = z.RangeByLex(lr, false, 0, -1)
	}
	if err != nil {
		return err
	}
	if len(es) > 0 {
		if err := z.removeEntries(es); err != nil {
			return err
		}
		if err := z.Save(); err != nil {
			return err
		}
	}
	c.W.Int(int64(len(es)))
	return nil
}
