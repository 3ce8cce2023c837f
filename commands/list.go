package commands

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// List commands (blocking variants excepted).
//
// A list's elements occupy the dense sequence range [Meta.Head, Meta.Tail)
// (mvcc/keys ListElemKey), so the element at index i is the record
// Head+i: LINDEX and LSET are one point read or write, LRANGE is one
// bounded range scan, pushes and pops touch only the ends. LINSERT and
// LREM keep the range dense by shifting whichever side of the change is
// shorter; Redis's versions of both are O(N) too. Meta.Size is always
// Tail-Head. OBJECT ENCODING of a list is "quicklist" in Redis 7.0
// whatever its size, so Meta.Big is never set.

func registerLists(t *Table) {
	for _, c := range []*Command{
		{Name: "lpush", Handler: func(c *Ctx) error { return pushCmd(c, true, false) }},
		{Name: "rpush", Handler: func(c *Ctx) error { return pushCmd(c, false, false) }},
		{Name: "lpushx", Handler: func(c *Ctx) error { return pushCmd(c, true, true) }},
		{Name: "rpushx", Handler: func(c *Ctx) error { return pushCmd(c, false, true) }},
		{Name: "lpop", Handler: func(c *Ctx) error { return popCmd(c, true) }},
		{Name: "rpop", Handler: func(c *Ctx) error { return popCmd(c, false) }},
		{Name: "llen", Handler: llenCmd},
		{Name: "lrange", Handler: lrangeCmd},
		{Name: "lindex", Handler: lindexCmd},
		{Name: "lset", Handler: lsetCmd},
		{Name: "linsert", Handler: linsertCmd},
		{Name: "lrem", Handler: lremCmd},
		{Name: "ltrim", Handler: ltrimCmd},
		{Name: "lpos", Handler: lposCmd},
		{Name: "lmove", Handler: lmoveCmd},
		{Name: "rpoplpush", Handler: func(c *Ctx) error { return lmove(c, c.Args[1], c.Args[2], false, true) }},
		{Name: "lmpop", Handler: lmpopCmd},
	} {
		c.Data = true
		t.Register(c)
	}
}

// Errors of the list family (texts from Redis 7.0.15).
var (
	errIndexOutOfRange = &ReplyError{"ERR index out of range"}
	errPopCount        = &ReplyError{"ERR value is out of range, must be positive"}
	errLposRankZero    = &ReplyError{"ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"}
	errLposCount       = &ReplyError{"ERR COUNT can't be negative"}
	errLposMaxlen      = &ReplyError{"ERR MAXLEN can't be negative"}
	errNumkeys         = &ReplyError{"ERR numkeys should be greater than 0"}
	errMpopCount       = &ReplyError{"ERR count should be greater than 0"}
)

// errListFull is returned by a push that would leave the 2^64 sequence
// space: unreachable in practice (2^63 pushes to one end of one list), but
// it must not wrap around and corrupt the list.
var errListFull = &ReplyError{"ERR list sequence space exhausted"}

// errCorruptList reports list records that disagree with the metadata
// (a missing element, or a Size that is not Tail-Head).
var errCorruptList = errors.New("commands: list records do not match its metadata")

// listRef is one list as a command reads and changes it. Changes to its
// element records are written at once; the metadata is written by save.
type listRef struct {
	db     *keyspace.DB
	key    []byte
	m      keyspace.Meta
	prefix []byte // element record prefix; len == cap, so appending copies
}

// loadList returns the list at key, nil when the key does not exist, or
// keyspace.ErrWrongType.
func loadList(c *Ctx, key []byte) (*listRef, error) {
	m, ok, err := c.DB.GetCollection(key, keyspace.TypeList)
	if err != nil || !ok {
		return nil, err
	}
	if m.Tail < m.Head || m.Tail-m.Head != m.Size || m.Size == 0 {
		return nil, errCorruptList
	}
	return newListRef(c, key, m), nil
}

// newList returns a new empty list at key; the caller pushes into it and
// saves it.
func newList(c *Ctx, key []byte) *listRef {
	return newListRef(c, key, c.DB.NewCollection(keyspace.TypeList))
}

func newListRef(c *Ctx, key []byte, m keyspace.Meta) *listRef {
	p := keys.MemberPrefix(c.DB.Index(), key, m.Version)
	return &listRef{db: c.DB, key: key, m: m, prefix: p[:len(p):len(p)]}
}

func (l *listRef) size() int64 { return int64(l.m.Size) }

// seqKey is the record key of sequence number seq.
func (l *listRef) seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(l.prefix, seq) }

// get returns a copy of the element at index i (0 <= i < Size).
func (l *listRef) get(i int64) ([]byte, error) {
	v, ok, err := l.db.Txn().Get(l.seqKey(l.m.Head + uint64(i)))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errCorruptList
	}
	return bytes.Clone(v), nil
}

// set replaces the element at index i (0 <= i < Size).
func (l *listRef) set(i int64, v []byte) error {
	return l.db.Txn().Set(l.seqKey(l.m.Head+uint64(i)), v)
}

// push adds v at the head (left) or the tail.
func (l *listRef) push(v []byte, left bool) error {
	if left {
		if l.m.Head == 0 {
			return errListFull
		}
		l.m.Head--
		l.m.Size++
		return l.db.Txn().Set(l.seqKey(l.m.Head), v)
	}
	if l.m.Tail == math.MaxUint64 {
		return errListFull
	}
	if err := l.db.Txn().Set(l.seqKey(l.m.Tail), v); err != nil {
		return err
	}
	l.m.Tail++
	l.m.Size++
	return nil
}

// pop removes and returns the element at the head (left) or the tail of a
// non-empty list.
func (l *listRef) pop(left bool) ([]byte, error) {
	i := int64(0)
	if !left {
		i = l.size() - 1
	}
	v, err := l.get(i)
	if err != nil {
		return nil, err
	}
	seq := l.m.Head + uint64(i)
	if err := l.db.Txn().Delete(l.seqKey(seq)); err != nil {
		return nil, err
	}
	if left {
		l.m.Head++
	} else {
		l.m.Tail--
	}
	l.m.Size--
	return v, nil
}

// deleteRange deletes the element records at indices [from, to) without
// reading them; the caller moves Head or Tail past them.
func (l *listRef) deleteRange(from, to int64) error {
	for i := from; i < to; i++ {
		if err := l.db.Txn().Delete(l.seqKey(l.m.Head + uint64(i))); err != nil {
			return err
		}
	}
	return nil
}

// scan calls fn for the elements at indices [from, to) in ascending order,
// descending when reverse, in one range scan. v is valid only during the
// call and fn must not write; fn returning keyspace.ErrStop ends the scan.
// A hole in the range is reported as errCorruptList.
func (l *listRef) scan(from, to int64, reverse bool, fn func(i int64, v []byte) error) error {
	if from >= to {
		return nil
	}
	var lo, hi [8]byte
	binary.BigEndian.PutUint64(lo[:], l.m.Head+uint64(from))
	binary.BigEndian.PutUint64(hi[:], l.m.Head+uint64(to))
	next := from
	if reverse {
		next = to - 1
	}
	seen := int64(0)
	stopped := false
	err := l.db.ScanMembers(l.key, &l.m, lo[:], hi[:], reverse, func(suffix, v []byte) error {
		if len(suffix) != 8 || binary.BigEndian.Uint64(suffix) != l.m.Head+uint64(next) {
			return errCorruptList
		}
		i := next
		if reverse {
			next--
		} else {
			next++
		}
		seen++
		err := fn(i, v)
		if errors.Is(err, keyspace.ErrStop) {
			stopped = true
		}
		return err
	})
	if err != nil {
		return err
	}
	if !stopped && seen != to-from {
		return errCorruptList
	}
	return nil
}

// collect returns copies of the elements at indices [from, to) for which
// keep is true (nil keep: all), in ascending order.
func (l *listRef) collect(from, to int64, keep func(i int64, v []byte) bool) ([][]byte, error) {
	var out [][]byte
	err := l.scan(from, to, false, func(i int64, v []byte) error {
		if keep == nil || keep(i, v) {
			out = append(out, bytes.Clone(v))
		}
		return nil
	})
	return out, err
}

// save writes the metadata. A list left empty by element-wise removal is
// deleted (its records are gone already).
func (l *listRef) save() error { return l.db.SaveCollection(l.key, &l.m) }

// drop deletes the whole list in one write, leaving its element records to
// the garbage collector: used when a command removes every element.
func (l *listRef) drop() error {
	_, err := l.db.Delete(l.key)
	return err
}

// pushCmd is LPUSH, RPUSH, LPUSHX and RPUSHX.
func pushCmd(c *Ctx, left, onlyExisting bool) error {
	key := c.Args[1]
	l, err := loadList(c, key)
	if err != nil {
		return err
	}
	if l == nil {
		if onlyExisting {
			c.W.Int(0)
			return nil
		}
		l = newList(c, key)
	}
	for _, v := range c.Args[2:] {
		if err := l.push(v, left); err != nil {
			return err
		}
	}
	if err := l.save(); err != nil {
		return err
	}
	c.W.Int(l.size())
	return nil
}

// popCmd is LPOP and RPOP key [count]. Without count the reply is one
// element or a null; with count an array, or a null array when the key
// does not exist.
func popCmd(c *Ctx, left bool) error {
	if len(c.Args) > 3 {
		return ErrArity(c.Name())
	}
	count := int64(-1)
	if len(c.Args) == 3 {
		n, ok := ParseInt(c.Args[2])
		if !ok || n < 0 {
			return errPopCount
		}
		count = n
	}
	l, err := loadList(c, c.Args[1])
	if err != nil {
		return err
	}
	if l == nil {
		if count < 0 {
			c.W.Null()
		} else {
			c.W.NullArray()
		}
		return nil
	}
	if count < 0 {
		v, err := l.pop(left)
		if err != nil {
			return err
		}
		if err := l.save(); err != nil {
			return err
		}
		c.W.Bulk(v)
		return nil
	}
	return popMany(c, l, left, count)
}

// popMany removes up to count elements from one end of l and replies
// them as an array, in pop order. count is bounded by the list's length
// before anything is allocated.
func popMany(c *Ctx, l *listRef, left bool, count int64) error {
	n := min(count, l.size())
	c.W.Array(int(n))
	from, to := int64(0), n
	if !left {
		from, to = l.size()-n, l.size()
	}
	err := l.scan(from, to, !left, func(_ int64, v []byte) error {
		c.W.Bulk(v)
		return nil
	})
	if err != nil {
		return err
	}
	if n == l.size() {
		return l.drop()
	}
	if err := l.deleteRange(from, to); err != nil {
		return err
	}
	if left {
		l.m.Head += uint64(n)
	} else {
		l.m.Tail -= uint64(n)
	}
	l.m.Size -= uint64(n)
	return l.save()
}

func llenCmd(c *Ctx) error {
	l, err := loadList(c, c.Args[1])
	if err != nil {
		return err
	}
	if l == nil {
		c.W.Int(0)
		return nil
	}
	c.W.Int(l.size())
	return nil
}

// listRange applies Redis's LRANGE/LTRIM index rules to a list of n
// elements: negative indices count from the end, and the result is the
// inclusive range [start, end], empty when ok is false.
func listRange(start, end, n int64) (int64, int64, bool) {
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

func lrangeCmd(c *Ctx) error {
	start, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	end, err := intArg(c.Args[3])
	if err != nil {
		return err
	}
	l, err := loadList(c, c.Args[1])
	if err != nil {
		return err
	}
	if l == nil {
		c.W.Array(0)
		return nil
	}
	start, end, ok := listRange(start, end, l.size())
	if !ok {
		c.W.Array(0)
		return nil
	}
	c.W.Array(int(end - start + 1))
	return l.scan(start, end+1, false, func(_ int64, v []byte) error {
		c.W.Bulk(v)
		return nil
	})
}

// listIndex resolves a possibly negative index against a list of n
// elements; ok is false when it is out of range.
func listIndex(i, n int64) (int64, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// lindexCmd checks the key before the index argument, as Redis does.
func lindexCmd(c *Ctx) error {
	l, err := loadList(c, c.Args[1])
	if err != nil {
		return err
	}
	if l == nil {
		c.W.Null()
		return nil
	}
	i, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	i, ok := listIndex(i, l.size())
	if !ok {
		c.W.Null()
		return nil
	}
	v, err := l.get(i)
	if err != nil {
		return err
	}
	c.W.Bulk(v)
	return nil
}

// lsetCmd writes the one element record; the metadata does not change.
func lsetCmd(c *Ctx) error {
	l, err := loadList(c, c.Args[1])
	if err != nil {
		return err
	}
	if l == nil {
		return ErrNoSuchKey
	}
	i, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	i, ok := listIndex(i, l.size())
	if !ok {
		return errIndexOutOfRange
	}
	if err := l.set(i, c.Args[3]); err != nil {
		return err
	}
	c.W.OK()
	return nil
}

func linsertCmd(c *Ctx) error {
	var after bool
	switch {
	case argIs(c.Args[2], "after"):
		after = true
	case argIs(c.Args[2], "before"):
	default:
		return ErrSyntax
	}
	l, err := loadList(c, c.Args[1])
	if err != nil {
		return err
	}
	if l == nil {
		c.W.Int(0)
		return nil
	}
	pivot := c.Args[3]
	at := int64(-1)
	err = l.scan(0, l.size(), false, func(i int64, v []byte) error {
		if bytes.Equal(v, pivot) {
			at = i
			return keyspace.ErrStop
		}
		return nil
	})
	if err != nil {
		return err
	}
	if at < 0 {
		c.W.Int(-1)
		return nil
	}
	if after {
		at++
	}
	if err := l.insert(at, c.Args[4]); err != nil {
		return err
	}
	if err := l.save(); err != nil {
		return err
	}
	c.W.Int(l.size())
	return nil
}

// insert puts v at index at (0 <= at <= Size), moving the shorter side of
// the list one place outwards to make room.
func (l *listRef) insert(at int64, v []byte) error {
	n := l.size()
	if at <= n-at {
		if l.m.Head == 0 {
			return errListFull
		}
		moved, err := l.collect(0, at, nil)
		if err != nil {
			return err
		}
		l.m.Head--
		for i, e := range moved {
			if err := l.set(int64(i), e); err != nil {
				return err
			}
		}
	} else {
		if l.m.Tail == math.MaxUint64 {
			return errListFull
		}
		moved, err := l.collect(at, n, nil)
		if err != nil {
			return err
		}
		for i, e := range moved {
			if err := l.set(at+1+int64(i), e); err != nil {
				return err
			}
		}
		l.m.Tail++
	}
	l.m.Size++
	return l.set(at, v)
}

// lremCmd removes matches in two passes: the first finds the first and
// last removed index and how many are removed (stopping at count), the
// second shifts the survivors of the shorter side over the holes. Every
// match between the first and last removed index is removed, so the
// second pass needs no list of positions.
func lremCmd(c *Ctx) error {
	count, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	l, err := loadList(c, c.Args[1])
	if err != nil {
		return err
	}
	if l == nil {
		c.W.Int(0)
		return nil
	}
	elem := c.Args[3]
	var limit int64 // 0: no limit
	switch {
	case count > 0:
		limit = count
	case count < 0:
		limit = -count
		if limit < 0 { // -MinInt64 wraps
			limit = math.MaxInt64
		}
	}
	first, last, removed := int64(-1), int64(-1), int64(0)
	err = l.scan(0, l.size(), count < 0, func(i int64, v []byte) error {
		if !bytes.Equal(v, elem) {
			return nil
		}
		if removed == 0 {
			first, last = i, i
		}
		first, last = min(first, i), max(last, i)
		removed++
		if removed == limit {
			return keyspace.ErrStop
		}
		return nil
	})
	if err != nil {
		return err
	}
	if removed == 0 {
		c.W.Int(0)
		return nil
	}
	if removed == l.size() {
		if err := l.drop(); err != nil {
			return err
		}
		c.W.Int(removed)
		return nil
	}
	survives := func(i int64, v []byte) bool { return i < first || i > last || !bytes.Equal(v, elem) }
	if last+1 <= l.size()-first {
		// Survivors of [0, last] move towards the tail; the head advances.
		moved, err := l.collect(0, last+1, survives)
		if err != nil {
			return err
		}
		for i, e := range moved {
			if err := l.set(removed+int64(i), e); err != nil {
				return err
			}
		}
		if err := l.deleteRange(0, removed); err != nil {
			return err
		}
		l.m.Head += uint64(removed)
	} else {
		// Survivors of [first, Size) move towards the head; the tail retreats.
		moved, err := l.collect(first, l.size(), survives)
		if err != nil {
			return err
		}
		for i, e := range moved {
			if err := l.set(first+int64(i), e); err != nil {
				return err
			}
		}
		if err := l.deleteRange(l.size()-removed, l.size()); err != nil {
			return err
		}
		l.m.Tail -= uint64(removed)
	}
	l.m.Size -= uint64(removed)
	if err := l.save(); err != nil {
		return err
	}
	c.W.Int(removed)
	return nil
}

func ltrimCmd(c *Ctx) error {
	start, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	end, err := intArg(c.Args[3])
	if err != nil {
		return err
	}
	l, err := loadList(c, c.Args[1])
	if err != nil {
		return err
	}
	if l == nil {
		c.W.OK()
		return nil
	}
	n := l.size()
	start, end, ok := listRange(start, end, n)
	if !ok {
		if err := l.drop(); err != nil {
			return err
		}
		c.W.OK()
		return nil
	}
	kept := end - start + 1
	if kept == n {
		c.W.OK()
		return nil
	}
	if kept+1 < n-kept && l.m.Version != c.DB.Txn().StartTS() {
		// Copying the few kept elements into a new version and leaving the
		// old one to the garbage collector writes less than deleting the
		// many trimmed ones. (A version this transaction created cannot be
		// replaced by a new one: it is the same version.)
		moved, err := l.collect(start, end+1, nil)
		if err != nil {
			return err
		}
		m := c.DB.NewCollection(keyspace.TypeList)
		m.ExpireAt = l.m.ExpireAt
		nl := newListRef(c, l.key, m)
		for _, e := range moved {
			if err := nl.push(e, false); err != nil {
				return err
			}
		}
		if err := nl.save(); err != nil {
			return err
		}
		c.W.OK()
		return nil
	}
	if err := l.deleteRange(0, start); err != nil {
		return err
	}
	if err := l.deleteRange(end+1, n); err != nil {
		return err
	}
	l.m.Head += uint64(start)
	l.m.Tail -= uint64(n - end - 1)
	l.m.Size = uint64(kept)
	if err := l.save(); err != nil {
		return err
	}
	c.W.OK()
	return nil
}

// lposCmd is LPOS key element [RANK rank] [COUNT num] [MAXLEN len]. It
// scans from the end the rank's sign selects and stops as soon as the
// reply is complete, never past MAXLEN elements.
func lposCmd(c *Ctx) error {
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	args := c.Args
	for j := 3; j < len(args); j++ {
		more := j+1 < len(args)
		switch {
		case argIs(args[j], "rank") && more:
			j++
			r, err := intArg(args[j])
			if err != nil {
				return err
			}
			if r == 0 {
				return errLposRankZero
			}
			rank = r
		case argIs(args[j], "count") && more:
			j++
			n, ok := ParseInt(args[j])
			if !ok || n < 0 {
				return errLposCount
			}
			count = n
		case argIs(args[j], "maxlen") && more:
			j++
			n, ok := ParseInt(args[j])
			if !ok || n < 0 {
				return errLposMaxlen
			}
			maxlen = n
		default:
			return ErrSyntax
		}
	}
	l, err := loadList(c, c.Args[1])
	if err != nil {
		return err
	}
	if l == nil {
		if count >= 0 {
			c.W.Array(0)
		} else {
			c.W.Null()
		}
		return nil
	}
	reverse := rank < 0
	skip := rank - 1 // matches to pass over before the first reported one
	// Redis negates a negative rank in a C long, so RANK -9223372036854775808
	// stays negative there: every match counts from the first one on, and
	// COUNT never ends the search. Reproduce that.
	noCountLimit := rank == math.MinInt64
	switch {
	case noCountLimit:
		skip = 0
	case reverse:
		skip = -rank - 1
	}
	n := l.size()
	from, to := int64(0), n
	if maxlen > 0 && maxlen < n {
		if reverse {
			from = n - maxlen
		} else {
			to = maxlen
		}
	}
	var found []int64
	element := c.Args[2]
	err = l.scan(from, to, reverse, func(i int64, v []byte) error {
		if !bytes.Equal(v, element) {
			return nil
		}
		if skip > 0 {
			skip--
			return nil
		}
		found = append(found, i)
		if count < 0 || (count > 0 && !noCountLimit && int64(len(found)) >= count) {
			return keyspace.ErrStop
		}
		return nil
	})
	if err != nil {
		return err
	}
	if count < 0 {
		if len(found) == 0 {
			c.W.Null()
		} else {
			c.W.Int(found[0])
		}
		return nil
	}
	c.W.Array(len(found))
	for _, i := range found {
		c.W.Int(i)
	}
	return nil
}

// listEnd parses LEFT or RIGHT.
func listEnd(b []byte) (left bool, err error) {
	switch {
	case argIs(b, "left"):
		return true, nil
	case argIs(b, "right"):
		return false, nil
	}
	return false, ErrSyntax
}

func lmoveCmd(c *Ctx) error {
	from, err := listEnd(c.Args[3])
	if err != nil {
		return err
	}
	to, err := listEnd(c.Args[4])
	if err != nil {
		return err
	}
	return lmove(c, c.Args[1], c.Args[2], from, to)
}

// lmove is LMOVE and RPOPLPUSH. As in Redis, a missing source answers
// null before the destination is looked at, and a destination of the
// wrong type fails before anything is popped. A source that is also the
// destination rotates the list.
func lmove(c *Ctx, src, dst []byte, fromLeft, toLeft bool) error {
	s, err := loadList(c, src)
	if err != nil {
		return err
	}
	if s == nil {
		c.W.Null()
		return nil
	}
	d := s
	if !bytes.Equal(src, dst) {
		if d, err = loadList(c, dst); err != nil {
			return err
		}
		if d == nil {
			d = newList(c, dst)
		}
	}
	v, err := s.pop(fromLeft)
	if err != nil {
		return err
	}
	if err := d.push(v, toLeft); err != nil {
		return err
	}
	if d != s {
		if err := s.save(); err != nil {
			return err
		}
	}
	if err := d.save(); err != nil {
		return err
	}
	c.W.Bulk(v)
	return nil
}

// lmpopCmd is LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: it pops
// from the first non-empty list, failing on a key of the wrong type met
// before one.
func lmpopCmd(c *Ctx) error {
	args := c.Args
	numkeys, ok := ParseInt(args[1])
	if !ok || numkeys < 1 {
		return errNumkeys
	}
	if numkeys > int64(len(args)-3) {
		return ErrSyntax
	}
	whereIdx := 2 + int(numkeys)
	left, err := listEnd(args[whereIdx])
	if err != nil {
		return err
	}
	count := int64(-1)
	for j := whereIdx + 1; j < len(args); j++ {
		if count == -1 && argIs(args[j], "count") && j+1 < len(args) {
			j++
			n, ok := ParseInt(args[j])
			if !ok || n < 1 {
				return errMpopCount
			}
			count = n
			continue
		}
		return ErrSyntax
	}
	if count == -1 {
		count = 1
	}
	for _, key := range args[2:whereIdx] {
		l, err := loadList(c, key)
		if err != nil {
			return err
		}
		if l == nil {
			continue
		}
		c.W.Array(2)
		c.W.Bulk(key)
		return popMany(c, l, left, count)
	}
	c.W.NullArray()
	return nil
}
