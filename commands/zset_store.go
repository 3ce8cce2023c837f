package commands

import (
	"bytes"
	"math"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// Sorted-set storage: the one place that reads and writes the member
// records of a zset. Commands of other families that keep their data in
// sorted sets (GEO) use this API too, so every write keeps the two record
// kinds and the metadata in step:
//
//   - the member record keys.ZMemberKey(member) holds the score, and
//   - the score index record keys.ZScoreKey(score, member) is empty and
//     sorts by (score, member bytes), the order of Redis's skiplist.
//
// Meta.Size is the exact cardinality (ZCARD), and Meta.Big follows Redis
// 7.0's listpack -> skiplist conversion so OBJECT ENCODING can answer as
// Redis does.
//
// The member record value is keys.AppendScore(score) (8 bytes), followed
// by one extra byte zNegZeroMark when the score is -0 in a Big zset:
// AppendScore folds -0 into 0 (they compare equal), but Redis's skiplist
// keeps the sign of a -0 score and prints it ("-0"), while its listpack
// stores it as the integer 0. Readers that only need the value may use
// keys.DecodeScore on the first 8 bytes.
//
// Rank access walks the score index (there is no order-statistic tree), so
// it costs O(rank); every rank operation walks from the nearer end.
//
// The API, for sorted-set commands and for families built on sorted sets
// (GEO keeps a member's geohash as its score):
//
//	openZSet(c, key) / openOrNewZSet(c, key)  open (WRONGTYPE checked)
//	z.Score(member)                            one point read
//	z.Add(member, score) / z.Remove(member)    keep both records, Size and Big in step
//	z.Save()                                   write the metadata; deletes an empty zset
//	z.RangeByScore(r, reverse, offset, limit)  seek in the score index
//	z.CountByScore(r), z.RangeByLex, z.CountByLex
//	z.RangeByRank(start, end), z.First(n, fromMax), z.Rank(member, score)
//	z.All(), z.WithSigns(...)                   exact scores (see below)
//	storeZSet(c, dst, entries)                 replace dst with a fresh zset (…STORE)
//
// Every mutation happens in the command's transaction; a command body that
// fails leaves nothing behind.

// zNegZeroMark follows the 8 score bytes of a member record whose score is
// -0 (Big zsets only).
const zNegZeroMark byte = 0x01

// zMemberSub and zScoreSub are the bytes after a collection's version that
// start every member record and every score index record of a zset
// (derived from the layouts in mvcc/keys so they cannot drift).
var (
	zMemberSub = subAfterVersion(keys.ZMemberPrefix(0, nil, 0))
	zScoreSub  = subAfterVersion(keys.ZScorePrefix(0, nil, 0))
)

func subAfterVersion(p []byte) []byte {
	return bytes.Clone(p[len(keys.MemberPrefix(0, nil, 0)):])
}

// zEntry is one member of a sorted set with its score.
type zEntry struct {
	member []byte
	score  float64
}

// zsetRef is a sorted set opened in the current transaction. Mutations
// update the records at once and the metadata in memory; Save writes the
// metadata (and deletes the key when the zset became empty). A zsetRef is
// used by one command body at a time.
type zsetRef struct {
	db  *keyspace.DB
	key []byte
	m   keyspace.Meta
	// maxEntries and maxValue are zset-max-listpack-entries and -value.
	maxEntries, maxValue int64
}

// openZSet returns the sorted set at key; ok is false when the key does
// not exist; keyspace.ErrWrongType when it holds another type.
func openZSet(c *Ctx, key []byte) (z *zsetRef, ok bool, err error) {
	m, ok, err := c.DB.GetCollection(key, keyspace.TypeZSet)
	if err != nil || !ok {
		return nil, false, err
	}
	return newZSetRef(c, key, m), true, nil
}

// openOrNewZSet returns the sorted set at key, or a new empty one (not
// stored until Save with Size > 0). keyspace.ErrWrongType as openZSet.
func openOrNewZSet(c *Ctx, key []byte) (*zsetRef, error) {
	m, _, err := c.DB.GetOrNewCollection(key, keyspace.TypeZSet)
	if err != nil {
		return nil, err
	}
	return newZSetRef(c, key, m), nil
}

func newZSetRef(c *Ctx, key []byte, m keyspace.Meta) *zsetRef {
	entries, value := c.zsetLimits()
	return &zsetRef{db: c.DB, key: key, m: m, maxEntries: entries, maxValue: value}
}

// Len is the number of members (ZCARD).
func (z *zsetRef) Len() int64 { return int64(z.m.Size) }

// Save writes the metadata; an empty zset is deleted, as Redis deletes a
// key when its last member goes.
func (z *zsetRef) Save() error { return z.db.SaveCollection(z.key, &z.m) }

func (z *zsetRef) memberKey(member []byte) []byte {
	return keys.ZMemberKey(z.db.Index(), z.key, z.m.Version, member)
}

func (z *zsetRef) scoreKey(score float64, member []byte) []byte {
	return keys.ZScoreKey(z.db.Index(), z.key, z.m.Version, score, member)
}

// encodeMemberValue is the member record value of score.
func (z *zsetRef) encodeMemberValue(score float64) []byte {
	v := keys.AppendScore(make([]byte, 0, 9), score)
	if score == 0 && math.Signbit(score) && z.m.Big {
		v = append(v, zNegZeroMark)
	}
	return v
}

// decodeMemberValue reverses encodeMemberValue.
func decodeMemberValue(v []byte) (float64, error) {
	s, err := keys.DecodeScore(v)
	if err != nil {
		return 0, err
	}
	if len(v) > 8 && v[8] == zNegZeroMark && s == 0 {
		s = math.Copysign(0, -1)
	}
	return s, nil
}

// Score returns the score of member; ok is false when it is not a member.
// One point read.
func (z *zsetRef) Score(member []byte) (score float64, ok bool, err error) {
	v, ok, err := z.db.Txn().Get(z.memberKey(member))
	if err != nil || !ok {
		return 0, false, err
	}
	s, err := decodeMemberValue(v)
	return s, err == nil, err
}

// Add sets the score of member, inserting it when it is new (added true).
// A new member converts the zset to the skiplist encoding when Redis 7.0
// would (more than zset-max-listpack-entries members, or a member longer
// than zset-max-listpack-value bytes). score must not be NaN. A listpack
// zset stores -0 as 0, as Redis's listpack does.
func (z *zsetRef) Add(member []byte, score float64) (added bool, err error) {
	old, exists, err := z.Score(member)
	if err != nil {
		return false, err
	}
	if exists {
		return false, z.setScore(member, old, score)
	}
	return true, z.addNew(member, score)
}

// addNew inserts a member known to be absent, converting the encoding
// first when Redis would.
func (z *zsetRef) addNew(member []byte, score float64) error {
	if !z.m.Big && (int64(z.m.Size)+1 > z.maxEntries || int64(len(member)) > z.maxValue) {
		z.m.Big = true
	}
	return z.insert(member, score)
}

// setScore changes the score of an existing member from old to score.
// Like Redis, a score that compares equal (0 and -0) is no change.
func (z *zsetRef) setScore(member []byte, old, score float64) error {
	if old == score {
		return nil
	}
	txn := z.db.Txn()
	if err := txn.Delete(z.scoreKey(old, member)); err != nil {
		return err
	}
	if err := txn.Set(z.scoreKey(score, member), nil); err != nil {
		return err
	}
	return txn.Set(z.memberKey(member), z.encodeMemberValue(score))
}

// insert writes the records of a member known to be absent.
func (z *zsetRef) insert(member []byte, score float64) error {
	txn := z.db.Txn()
	if err := txn.Set(z.memberKey(member), z.encodeMemberValue(score)); err != nil {
		return err
	}
	if err := txn.Set(z.scoreKey(score, member), nil); err != nil {
		return err
	}
	z.m.Size++
	return nil
}

// Remove deletes member; removed is false when it was not a member.
func (z *zsetRef) Remove(member []byte) (removed bool, err error) {
	score, ok, err := z.Score(member)
	if err != nil || !ok {
		return false, err
	}
	return true, z.removeKnown(member, score)
}

// removeKnown deletes a member whose score is known (from a range scan).
func (z *zsetRef) removeKnown(member []byte, score float64) error {
	txn := z.db.Txn()
	if err := txn.Delete(z.memberKey(member)); err != nil {
		return err
	}
	if err := txn.Delete(z.scoreKey(score, member)); err != nil {
		return err
	}
	z.m.Size--
	return nil
}

// removeEntries deletes members found by a range scan.
func (z *zsetRef) removeEntries(es []zEntry) error {
	for _, e := range es {
		if err := z.removeKnown(e.member, e.score); err != nil {
			return err
		}
	}
	return nil
}

// ---- Walking the score index ----

// scoreIndexEnd is the suffix bound just past the score index.
func scoreIndexEnd() []byte { return keys.PrefixEnd(zScoreSub) }

// decodeIndexSuffix splits a score index suffix (tag | score | member).
func decodeIndexSuffix(suffix []byte) (member []byte, score float64, err error) {
	if len(suffix) < 1+8 {
		return nil, 0, keys.ErrCorrupt
	}
	score, err = keys.DecodeScore(suffix[1:])
	return suffix[9:], score, err
}

// walk calls fn for the index entries with suffix in [from, to), in
// ascending order (descending when reverse); fn returns false to stop.
// member is only valid during the call.
func (z *zsetRef) walk(from, to []byte, reverse bool, fn func(member []byte, score float64) bool) error {
	var derr error
	err := z.db.ScanMembers(z.key, &z.m, from, to, reverse, func(suffix, _ []byte) error {
		member, score, err := decodeIndexSuffix(suffix)
		if err != nil {
			derr = err
			return keyspace.ErrStop
		}
		if !fn(member, score) {
			return keyspace.ErrStop
		}
		return nil
	})
	if err != nil {
		return err
	}
	return derr
}

// WithSigns restores the sign of the -0 scores among entries read from
// the score index of a Big zset, which the index cannot carry (one point
// read per zero score). Range reads leave it to callers that reply or
// store scores.
func (z *zsetRef) WithSigns(es []zEntry, err error) ([]zEntry, error) {
	if err != nil {
		return nil, err
	}
	return es, z.fixZeroSigns(es)
}

func (z *zsetRef) fixZeroSigns(es []zEntry) error {
	if !z.m.Big {
		return nil
	}
	for i := range es {
		if es[i].score != 0 {
			continue
		}
		s, ok, err := z.Score(es[i].member)
		if err != nil {
			return err
		}
		if ok {
			es[i].score = s
		}
	}
	return nil
}

// ---- Rank access ----

// RangeByRank returns the members of ranks [start, end] (0-based,
// ascending order, 0 <= start <= end < Len), walking from the nearer end
// of the index: O(min(end, Len-start)) records. Like every range read, it
// returns the scores of the index, where -0 reads as 0 (see WithSigns).
func (z *zsetRef) RangeByRank(start, end int64) ([]zEntry, error) {
	n := z.Len()
	if start < 0 || end >= n || start > end {
		return nil, nil
	}
	want := end - start + 1
	out := make([]zEntry, 0, min(want, 1024))
	forward := end+1 <= n-start
	skip := start
	if !forward {
		skip = n - 1 - end
	}
	err := z.walk(zScoreSub, scoreIndexEnd(), !forward, func(member []byte, score float64) bool {
		if skip > 0 {
			skip--
			return true
		}
		out = append(out, zEntry{bytes.Clone(member), score})
		return int64(len(out)) < want
	})
	if err != nil {
		return nil, err
	}
	if !forward {
		reverseEntries(out)
	}
	return out, nil
}

// First returns up to count members from the low end (or the high end
// when fromMax), in that walking order.
func (z *zsetRef) First(count int64, fromMax bool) ([]zEntry, error) {
	count = min(count, z.Len())
	if count <= 0 {
		return nil, nil
	}
	out := make([]zEntry, 0, min(count, 1024))
	err := z.walk(zScoreSub, scoreIndexEnd(), fromMax, func(member []byte, score float64) bool {
		out = append(out, zEntry{bytes.Clone(member), score})
		return int64(len(out)) < count
	})
	return out, err
}

func reverseEntries(es []zEntry) {
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
}

// Rank returns the 0-based ascending rank of a member whose score is
// known. It walks from both ends of the index in growing steps and stops
// as soon as either walk reaches the member, so it reads
// O(min(rank, Len-rank)) records.
func (z *zsetRef) Rank(member []byte, score float64) (int64, error) {
	target := keys.AppendScore(bytes.Clone(zScoreSub), score)
	target = append(target, member...)
	after := append(bytes.Clone(target), 0) // smallest suffix past target
	fwdFrom, revTo := bytes.Clone(zScoreSub), scoreIndexEnd()
	var fwdCount, revCount int64
	for step := int64(8); ; step *= 2 {
		// Forward: count entries in [fwdFrom, target).
		n, last := int64(0), []byte(nil)
		err := z.db.ScanMembers(z.key, &z.m, fwdFrom, target, false, func(suffix, _ []byte) error {
			n++
			if n == step {
				last = bytes.Clone(suffix)
				return keyspace.ErrStop
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		fwdCount += n
		if last == nil {
			return fwdCount, nil
		}
		fwdFrom = append(last, 0)
		// Backward: count entries in [after, revTo).
		n, last = 0, nil
		err = z.db.ScanMembers(z.key, &z.m, after, revTo, true, func(suffix, _ []byte) error {
			n++
			if n == step {
				last = bytes.Clone(suffix)
				return keyspace.ErrStop
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		revCount += n
		if last == nil {
			return z.Len() - 1 - revCount, nil
		}
		revTo = last
	}
}

// ---- Score ranges ----

// scoreRange is a ZRANGEBYSCORE interval.
type scoreRange struct {
	min, max     float64
	minEx, maxEx bool
}

// empty reports whether no score can be in the range.
func (r scoreRange) empty() bool {
	return r.min > r.max || (r.min == r.max && (r.minEx || r.maxEx))
}

// bounds returns the index suffixes [from, to) holding exactly the
// entries whose score is in r (r not empty).
func (r scoreRange) bounds() (from, to []byte) {
	lo := keys.AppendScore(bytes.Clone(zScoreSub), r.min)
	if r.minEx {
		lo = keys.PrefixEnd(lo)
	}
	hi := keys.AppendScore(bytes.Clone(zScoreSub), r.max)
	if !r.maxEx {
		hi = keys.PrefixEnd(hi)
	}
	return lo, hi
}

// RangeByScore returns the members with scores in r in ascending order
// (descending when reverse), skipping the first offset of them and
// returning at most limit (limit < 0: no limit). It seeks in the score
// index: O(log N + offset + returned).
func (z *zsetRef) RangeByScore(r scoreRange, reverse bool, offset, limit int64) ([]zEntry, error) {
	if r.empty() || offset < 0 || limit == 0 || offset >= z.Len() {
		return nil, nil
	}
	from, to := r.bounds()
	var out []zEntry
	err := z.walk(from, to, reverse, func(member []byte, score float64) bool {
		if offset > 0 {
			offset--
			return true
		}
		out = append(out, zEntry{bytes.Clone(member), score})
		return limit < 0 || int64(len(out)) < limit
	})
	return out, err
}

// CountByScore counts the members with scores in r (O(log N + count)).
func (z *zsetRef) CountByScore(r scoreRange) (int64, error) {
	if r.empty() {
		return 0, nil
	}
	from, to := r.bounds()
	var n int64
	err := z.db.ScanMembers(z.key, &z.m, from, to, false, func(_, _ []byte) error {
		n++
		return nil
	})
	return n, err
}

// ---- Lexicographic ranges ----

// lexBound is one end of a ZRANGEBYLEX interval: "-" (minInf), "+"
// (maxInf), or a string, inclusive ("[") or exclusive ("(").
type lexBound struct {
	s              []byte
	ex             bool
	minInf, maxInf bool
}

// lexRange is a ZRANGEBYLEX interval.
type lexRange struct{ min, max lexBound }

// cmpLex compares a member with a bound as Redis's sdscmplex does: "-" is
// below and "+" above every string.
func cmpLex(member []byte, b lexBound) int {
	switch {
	case b.minInf:
		return 1
	case b.maxInf:
		return -1
	}
	return bytes.Compare(member, b.s)
}

// empty reports whether the interval can contain no string.
func (r lexRange) empty() bool {
	var c int
	switch {
	case r.min.minInf && r.max.minInf, r.min.maxInf && r.max.maxInf:
		c = 0
	case r.min.minInf || r.max.maxInf:
		c = -1
	case r.min.maxInf || r.max.minInf:
		c = 1
	default:
		c = bytes.Compare(r.min.s, r.max.s)
	}
	return c > 0 || (c == 0 && (r.min.ex || r.max.ex))
}

func (r lexRange) gteMin(m []byte) bool {
	c := cmpLex(m, r.min)
	if r.min.ex {
		return c > 0
	}
	return c >= 0
}

func (r lexRange) lteMax(m []byte) bool {
	c := cmpLex(m, r.max)
	if r.max.ex {
		return c < 0
	}
	return c <= 0
}

// lexWalk calls fn for the members in r in index order (reverse: from the
// end), following Redis's listpack algorithm, which is defined for any
// zset: start at the first member (last, when reverse) that is >= min (<=
// max) if that one is also <= max (>= min); skip offset members without
// looking at them; then continue while members are <= max (>= min). When
// all scores are equal, as ZRANGEBYLEX requires, this is a seek to
// (score, min): O(log N + offset + returned). fn returns false to stop.
func (z *zsetRef) lexWalk(r lexRange, reverse bool, offset int64, fn func(member []byte, score float64) bool) error {
	if r.empty() || z.Len() == 0 {
		return nil
	}
	ends, err := z.First(1, false)
	if err != nil || len(ends) == 0 {
		return err
	}
	last, err := z.First(1, true)
	if err != nil || len(last) == 0 {
		return err
	}
	// Redis first checks that the range can overlap the zset at all.
	if !r.lteMax(ends[0].member) || !r.gteMin(last[0].member) {
		return nil
	}
	var from, to []byte
	if !reverse {
		// Every entry before (first score, min) has the first score and a
		// member below min, so none of them can be the starting point.
		from = keys.AppendScore(bytes.Clone(zScoreSub), ends[0].score)
		if !r.min.minInf && !r.min.maxInf {
			from = append(from, r.min.s...)
		}
		to = scoreIndexEnd()
	} else {
		from = bytes.Clone(zScoreSub)
		to = keys.AppendScore(bytes.Clone(zScoreSub), last[0].score)
		if r.max.maxInf || r.max.minInf {
			to = keys.PrefixEnd(to)
		} else {
			to = append(to, r.max.s...)
			to = append(to, 0) // include max itself
		}
	}
	startOK, endOK := r.gteMin, r.lteMax
	if reverse {
		startOK, endOK = r.lteMax, r.gteMin
	}
	started := false
	return z.walk(from, to, reverse, func(member []byte, score float64) bool {
		if !started {
			if !startOK(member) {
				return true
			}
			if !endOK(member) {
				return false
			}
			started = true
		}
		if offset > 0 {
			offset--
			return true
		}
		if !endOK(member) {
			return false
		}
		return fn(member, score)
	})
}

// RangeByLex returns the members in r (see lexWalk), skipping offset and
// returning at most limit (< 0: no limit).
func (z *zsetRef) RangeByLex(r lexRange, reverse bool, offset, limit int64) ([]zEntry, error) {
	if offset < 0 || limit == 0 {
		return nil, nil
	}
	var out []zEntry
	err := z.lexWalk(r, reverse, offset, func(member []byte, score float64) bool {
		out = append(out, zEntry{bytes.Clone(member), score})
		return limit < 0 || int64(len(out)) < limit
	})
	return out, err
}

// CountByLex counts the members in r.
func (z *zsetRef) CountByLex(r lexRange) (int64, error) {
	var n int64
	err := z.lexWalk(r, false, 0, func([]byte, float64) bool { n++; return true })
	return n, err
}

// ---- Whole-set reads and fresh stores ----

// All returns every member in ascending order (for set operations and
// stores, which Redis also performs on whole sets).
// Scores are exact (signed zeros restored).
func (z *zsetRef) All() ([]zEntry, error) { return z.WithSigns(z.RangeByRank(0, z.Len()-1)) }

// storeZSet replaces whatever dst holds with a new sorted set of es
// (distinct members), as ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE do; an
// empty es deletes dst. Redis builds such a result as a skiplist and
// converts it to a listpack when it has at most zset-max-listpack-entries
// members, none longer than zset-max-listpack-value. It returns the size.
func storeZSet(c *Ctx, dst []byte, es []zEntry) (int64, error) {
	entries, value := c.zsetLimits()
	maxLen := 0
	for _, e := range es {
		maxLen = max(maxLen, len(e.member))
	}
	big := int64(len(es)) > entries || int64(maxLen) > value
	return writeFreshZSet(c, dst, es, big)
}

// storeZRange is storeZSet for ZRANGESTORE, which Redis 7.0 builds by
// adding the members one by one, in reply order, to a new zset that
// starts as a skiplist only when the range length known up front (hint;
// negative for score and lex ranges) exceeds zset-max-listpack-entries,
// and converts like ZADD. A -0 score added while it is still a listpack
// becomes 0.
func storeZRange(c *Ctx, dst []byte, es []zEntry, hint int64) (int64, error) {
	entries, value := c.zsetLimits()
	big := hint > entries
	for i := range es {
		if !big && (int64(i)+1 > entries || int64(len(es[i].member)) > value) {
			big = true
		}
		if !big && es[i].score == 0 {
			es[i].score = 0 // drop the sign of -0
		}
	}
	return writeFreshZSet(c, dst, es, big)
}

// writeFreshZSet replaces dst with a new zset of es with encoding big.
func writeFreshZSet(c *Ctx, dst []byte, es []zEntry, big bool) (int64, error) {
	// Delete first: a zset created earlier in this transaction has the
	// version a new collection would get, and its members must not leak
	// into the new value.
	if _, err := c.DB.Delete(dst); err != nil {
		return 0, err
	}
	if len(es) == 0 {
		return 0, nil
	}
	z := newZSetRef(c, dst, c.DB.NewCollection(keyspace.TypeZSet))
	z.m.Big = big
	for _, e := range es {
		if err := z.insert(e.member, e.score); err != nil {
			return 0, err
		}
	}
	return z.Len(), z.Save()
}
