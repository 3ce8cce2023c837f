package commands

import (
	"bytes"
	"math"
	"slices"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD (Redis's
// zunionInterDiffGenericCommand). Inputs may be sorted sets or plain sets
// (whose members score 1). Like Redis, the result is built in memory and
// then replied or stored as a fresh sorted set.

// zsetOp is the set operation.
type zsetOp int

const (
	zsetOpUnion zsetOp = iota
	zsetOpInter
	zsetOpDiff
)

// zsetAggregate is the AGGREGATE option.
type zsetAggregate int

const (
	zaggSum zsetAggregate = iota
	zaggMin
	zaggMax
)

// zsetOpSrc is one input of a set operation.
type zsetOpSrc struct {
	key    []byte
	m      keyspace.Meta
	exists bool
	z      *zsetRef // sorted-set inputs
	weight float64
}

func (s *zsetOpSrc) size() int64 {
	if !s.exists {
		return 0
	}
	return int64(s.m.Size)
}

// all returns every member with its score (1 for plain sets).
func (s *zsetOpSrc) all(c *Ctx) ([]zEntry, error) {
	if !s.exists {
		return nil, nil
	}
	if s.z != nil {
		return s.z.All()
	}
	out := make([]zEntry, 0, min(s.m.Size, 1024))
	err := c.DB.ScanMembers(s.key, &s.m, nil, nil, false, func(member, _ []byte) error {
		out = append(out, zEntry{bytes.Clone(member), 1})
		return nil
	})
	return out, err
}

// find returns the score of member in the input (1 for plain sets).
func (s *zsetOpSrc) find(c *Ctx, member []byte) (float64, bool, error) {
	if !s.exists {
		return 0, false, nil
	}
	if s.z != nil {
		return s.z.Score(member)
	}
	_, ok, err := c.DB.Txn().Get(c.DB.MemberKey(s.key, &s.m, member))
	return 1, ok, err
}

// zaggregate folds val into target as Redis's zunionInterAggregate: a
// sum of +inf and -inf is 0; MIN and MAX keep target when val is NaN.
func zaggregate(target *float64, val float64, agg zsetAggregate) {
	switch agg {
	case zaggSum:
		*target += val
		if math.IsNaN(*target) {
			*target = 0
		}
	case zaggMin:
		if val < *target {
			*target = val
		}
	case zaggMax:
		if val > *target {
			*target = val
		}
	}
}

// zsetOpGeneric implements the commands: store puts the result at Args[1]
// (numkeys is then Args[2]); cardOnly is ZINTERCARD.
func zsetOpGeneric(c *Ctx, op zsetOp, store, cardOnly bool) error {
	numkeysIdx := 1
	if store {
		numkeysIdx = 2
	}
	setnum, err := intArg(c.Args[numkeysIdx])
	if err != nil {
		return err
	}
	if setnum < 1 {
		return errZAtLeastOneKey(c.Name())
	}
	if setnum > int64(len(c.Args)-(numkeysIdx+1)) {
		return ErrSyntax
	}
	srcs := make([]zsetOpSrc, setnum)
	j := numkeysIdx + 1
	for i := range srcs {
		key := c.Args[j]
		j++
		m, ok, err := c.DB.Lookup(key)
		if err != nil {
			return err
		}
		srcs[i] = zsetOpSrc{key: key, m: m, exists: ok, weight: 1}
		if !ok {
			continue
		}
		switch m.Type {
		case keyspace.TypeZSet:
			srcs[i].z = newZSetRef(c, key, m)
		case keyspace.TypeSet:
		default:
			return keyspace.ErrWrongType
		}
	}

	agg := zaggSum
	withScores := false
	limit := int64(0) // ZINTERCARD: 0 is no limit
	for j < len(c.Args) {
		remaining := len(c.Args) - j
		a := c.Args[j]
		switch {
		case op != zsetOpDiff && !cardOnly && remaining >= int(setnum)+1 && argIs(a, "weights"):
			j++
			for i := range srcs {
				w, ok := ParseFloat(c.Args[j])
				if !ok {
					return errZWeightFloat
				}
				srcs[i].weight = w
				j++
			}
		case op != zsetOpDiff && !cardOnly && remaining >= 2 && argIs(a, "aggregate"):
			switch v := c.Args[j+1]; {
			case argIs(v, "sum"):
				agg = zaggSum
			case argIs(v, "min"):
				agg = zaggMin
			case argIs(v, "max"):
				agg = zaggMax
			default:
				return ErrSyntax
			}
			j += 2
		case !store && !cardOnly && argIs(a, "withscores"):
			withScores = true
			j++
		case cardOnly && remaining >= 2 && argIs(a, "limit"):
			n, ok := ParseInt(c.Args[j+1])
			if !ok || n < 0 {
				return errZLimitNegative
			}
			limit = n
			j += 2
		default:
			return ErrSyntax
		}
	}

	if op != zsetOpDiff {
		// Smallest inputs first, as Redis orders them (a stable sort:
		// the order of equal-sized inputs decides the order of a sum).
		slices.SortStableFunc(srcs, func(a, b zsetOpSrc) int {
			switch sa, sb := a.size(), b.size(); {
			case sa < sb:
				return -1
			case sa > sb:
				return 1
			}
			return 0
		})
	}

	var res []zEntry
	var card int64
	switch op {
	case zsetOpInter:
		res, card, err = zinter(c, srcs, agg, cardOnly, limit)
	case zsetOpUnion:
		res, err = zunion(c, srcs, agg)
	case zsetOpDiff:
		res, err = zdiff(c, srcs)
	}
	if err != nil {
		return err
	}
	if cardOnly {
		c.W.Int(card)
		return nil
	}
	slices.SortFunc(res, cmpZEntry)
	if store {
		n, err := storeZSet(c, c.Args[1], res)
		if err != nil {
			return err
		}
		c.W.Int(n)
		return nil
	}
	writeZEntries(c, res, withScores)
	return nil
}

// cmpZEntry orders entries like the skiplist: by score, then member bytes.
func cmpZEntry(a, b zEntry) int {
	switch {
	case a.score < b.score:
		return -1
	case a.score > b.score:
		return 1
	}
	return bytes.Compare(a.member, b.member)
}

func zinter(c *Ctx, srcs []zsetOpSrc, agg zsetAggregate, cardOnly bool, limit int64) ([]zEntry, int64, error) {
	if srcs[0].size() == 0 {
		return nil, 0, nil
	}
	first, err := srcs[0].all(c)
	if err != nil {
		return nil, 0, err
	}
	var res []zEntry
	var card int64
	for _, e := range first {
		score := srcs[0].weight * e.score
		if math.IsNaN(score) {
			score = 0
		}
		in := true
		for k := 1; k < len(srcs); k++ {
			v, ok, err := srcs[k].find(c, e.member)
			if err != nil {
				return nil, 0, err
			}
			if !ok {
				in = false
				break
			}
			// Unlike the first input's, this product is not NaN-checked.
			zaggregate(&score, v*srcs[k].weight, agg)
		}
		if !in {
			continue
		}
		if cardOnly {
			card++
			if limit > 0 && card >= limit {
				break
			}
			continue
		}
		res = append(res, zEntry{e.member, score})
	}
	return res, card, nil
}

func zunion(c *Ctx, srcs []zsetOpSrc, agg zsetAggregate) ([]zEntry, error) {
	var res []zEntry
	index := map[string]int{}
	for i := range srcs {
		if srcs[i].size() == 0 {
			continue
		}
		es, err := srcs[i].all(c)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			score := srcs[i].weight * e.score
			if math.IsNaN(score) {
				score = 0
			}
			if k, ok := index[string(e.member)]; ok {
				zaggregate(&res[k].score, score, agg)
				continue
			}
			index[string(e.member)] = len(res)
			res = append(res, zEntry{e.member, score})
		}
	}
	return res, nil
}

func zdiff(c *Ctx, srcs []zsetOpSrc) ([]zEntry, error) {
	if srcs[0].size() == 0 {
		return nil, nil
	}
	for k := 1; k < len(srcs); k++ {
		if srcs[k].exists && bytes.Equal(srcs[k].key, srcs[0].key) {
			return nil, nil // subtracting the set from itself
		}
	}
	first, err := srcs[0].all(c)
	if err != nil {
		return nil, err
	}
	var res []zEntry
	for _, e := range first {
		found := false
		for k := 1; k < len(srcs) && !found; k++ {
			_, ok, err := srcs[k].find(c, e.member)
			if err != nil {
				return nil, err
			}
			found = ok
		}
		if !found {
			res = append(res, e)
		}
	}
	return res, nil
}
