package commands

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"slices"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// registerSort registers SORT and SORT_RO. They read lists, sets and
// sorted sets straight from their member records (mvcc/keys "Collection
// member layouts"), so they work whichever family wrote the key.
func registerSort(t *Table) {
	t.Register(&Command{Name: "sort", Data: true, Keys: sortKeys(false),
		Handler: func(c *Ctx) error { return sortCommand(c, false) }})
	t.Register(&Command{Name: "sort_ro", Data: true, Keys: sortKeys(true),
		Handler: func(c *Ctx) error { return sortCommand(c, true) }})
}

// errSortScore is SORT's reply when a weight is not a number.
var errSortScore = &ReplyError{"ERR One or more scores can't be converted into double"}

// sortOptions are the parsed options of SORT / SORT_RO.
type sortOptions struct {
	desc, alpha bool
	limitStart  int64
	limitCount  int64 // -1: no limit
	by          []byte
	hasBy       bool
	// dontsort: a BY pattern without '*' was given (BY nosort): elements
	// keep the order of the collection. Redis never clears it once set,
	// even when a later BY has a '*'.
	dontsort bool
	store    []byte
	hasStore bool
	gets     [][]byte
}

// parseSortOptions parses the options as Redis 7.0's sortCommandGeneric:
// left to right, an option whose arguments are missing is a syntax error,
// the last BY and STORE win, GETs accumulate. SORT_RO does not know STORE.
func parseSortOptions(args [][]byte, readonly bool) (sortOptions, error) {
	o := sortOptions{limitCount: -1}
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		// Redis compares option names with strcasecmp: as C strings.
		a := cString(args[j])
		switch {
		case argIs(a, "asc"):
			o.desc = false
		case argIs(a, "desc"):
			o.desc = true
		case argIs(a, "alpha"):
			o.alpha = true
		case argIs(a, "limit") && left >= 2:
			start, err := intArg(args[j+1])
			if err != nil {
				return o, err
			}
			count, err := intArg(args[j+2])
			if err != nil {
				return o, err
			}
			o.limitStart, o.limitCount = start, count
			j += 2
		case !readonly && argIs(a, "store") && left >= 1:
			o.store, o.hasStore = args[j+1], true
			j++
		case argIs(a, "by") && left >= 1:
			o.by, o.hasBy = args[j+1], true
			if !patternHasStar(o.by) {
				o.dontsort = true
			}
			j++
		case argIs(a, "get") && left >= 1:
			o.gets = append(o.gets, args[j+1])
			j++
		default:
			return o, ErrSyntax
		}
	}
	return o, nil
}

// readsOtherKeys reports whether BY or GET patterns make SORT read keys
// named by the sorted elements: a pattern reads keys only when it has a
// '*' (GET # does not; a BY without '*' disables sorting).
func (o *sortOptions) readsOtherKeys() bool {
	if o.hasBy && patternHasStar(o.by) {
		return true
	}
	for _, g := range o.gets {
		if patternHasStar(g) {
			return true
		}
	}
	return false
}

// sortKeys returns the key function of SORT (readonly false) or SORT_RO:
// the sorted key and the STORE destination, as Redis's sortGetKeys. When
// BY or GET patterns will read keys that only the data names, it returns
// nil, the whole keyspace, so those reads are latched too and the command
// stays serializable (the price: it runs alone, like KEYS).
func sortKeys(readonly bool) func(args [][]byte) [][]byte {
	return func(args [][]byte) [][]byte {
		if len(args) < 2 {
			return nil
		}
		o, err := parseSortOptions(args, readonly)
		if err == nil && o.readsOtherKeys() {
			return nil
		}
		ks := [][]byte{args[1]}
		if err == nil && o.hasStore {
			ks = append(ks, o.store)
		}
		return ks
	}
}

// sortItem is one element being sorted, with its weight.
type sortItem struct {
	elem   []byte
	score  float64 // numeric sort
	cmp    []byte  // ALPHA with BY: the looked-up value
	hasCmp bool
}

// sortCommand implements SORT and SORT_RO as Redis 7.0 does.
func sortCommand(c *Ctx, readonly bool) error {
	o, err := parseSortOptions(c.Args, readonly)
	if err != nil {
		return err
	}
	key := c.Args[1]
	m, exists, err := c.DB.Lookup(key)
	if err != nil {
		return err
	}
	typ := keyspace.TypeList // a missing key sorts as an empty list
	n := int64(0)
	if exists {
		switch m.Type {
		case keyspace.TypeList, keyspace.TypeSet, keyspace.TypeZSet:
		default:
			return keyspace.ErrWrongType
		}
		typ, n = m.Type, int64(m.Size)
	}
	dontsort, alpha := o.dontsort, o.alpha
	by, hasBy := o.by, o.hasBy
	// A set has no order of its own: what is stored must not depend on
	// it, so STORE of an unsorted set sorts it alphabetically. (Redis does
	// the same inside scripts; Skerry has none yet.)
	if dontsort && typ == keyspace.TypeSet && o.hasStore {
		dontsort, alpha, by, hasBy = false, true, nil, false
	}
	// Redis converts a listpack sorted set to a skiplist before sorting
	// it (even SORT_RO, which cannot write here: see
	// docs/compatibility.md); keep OBJECT ENCODING in step.
	if exists && typ == keyspace.TypeZSet && !m.Big && !readonly {
		m.Big = true
		if err := c.DB.Put(key, &m); err != nil {
			return err
		}
	}
	start, end := sortBounds(o.limitStart, o.limitCount, n)

	var items []sortItem
	switch {
	case !exists:
	case dontsort && (typ == keyspace.TypeList || typ == keyspace.TypeZSet):
		// Native order, DESC reversing it; only the LIMIT range is read.
		if end >= start {
			if items, err = sortReadRange(c.DB, key, &m, start, end, o.desc); err != nil {
				return err
			}
		}
		end -= start
		start = 0
	default:
		if items, err = sortReadAll(c.DB, key, &m); err != nil {
			return err
		}
	}

	if !dontsort {
		badScore := false
		for i := range items {
			it := &items[i]
			byval := it.elem
			if hasBy {
				v, ok, err := sortLookup(c.DB, by, it.elem)
				if err != nil {
					return err
				}
				if !ok {
					continue // weight 0, or sorted first with ALPHA
				}
				byval = v
			}
			if alpha {
				if hasBy {
					it.cmp, it.hasCmp = byval, true
				}
				continue
			}
			s, ok := sortScore(byval)
			if !ok {
				badScore = true
			}
			it.score = s
		}
		if badScore {
			return errSortScore
		}
		slices.SortStableFunc(items, sortCompare(alpha, hasBy, o.hasStore, o.desc))
	}

	count := end - start + 1
	if count < 0 {
		count = 0
	}
	outputlen := count
	if len(o.gets) > 0 {
		outputlen *= int64(len(o.gets))
	}
	selected := items[:0]
	if count > 0 {
		if end >= int64(len(items)) {
			// Fewer member records than the metadata's size.
			return keys.ErrCorrupt
		}
		selected = items[start : end+1]
	}

	if !o.hasStore {
		c.W.Array(int(outputlen))
		for _, it := range selected {
			if len(o.gets) == 0 {
				c.W.Bulk(it.elem)
			}
			for _, g := range o.gets {
				v, ok, err := sortLookup(c.DB, g, it.elem)
				if err != nil {
					return err
				}
				if ok {
					c.W.Bulk(v)
				} else {
					c.W.Null()
				}
			}
		}
		return nil
	}

	// STORE: the result replaces the destination as a new list without
	// expiry; an empty result deletes it. Every GET is looked up before the
	// destination is touched, since the patterns may name it.
	var out [][]byte
	for _, it := range selected {
		if len(o.gets) == 0 {
			out = append(out, it.elem)
		}
		for _, g := range o.gets {
			v, ok, err := sortLookup(c.DB, g, it.elem)
			if err != nil {
				return err
			}
			if !ok {
				v = []byte{} // a missing GET stores an empty string
			}
			out = append(out, v)
		}
	}
	if err := storeList(c.DB, o.store, out); err != nil {
		return err
	}
	c.W.Int(int64(len(out)))
	return nil
}

// storeList replaces key with a new list of elems (deletes it when elems
// is empty). The old value's members go to the collector, or are deleted
// now when this transaction wrote them (keyspace.DB.Delete), so the new
// list, whose version is this transaction's, never meets stale records.
func storeList(db *keyspace.DB, key []byte, elems [][]byte) error {
	if _, err := db.Delete(key); err != nil {
		return err
	}
	if len(elems) == 0 {
		return nil
	}
	m := db.NewCollection(keyspace.TypeList)
	for i, e := range elems {
		if err := db.Txn().Set(keys.ListElemKey(db.Index(), key, m.Version, m.Head+uint64(i)), e); err != nil {
			return err
		}
	}
	m.Size = uint64(len(elems))
	m.Tail = m.Head + m.Size
	return db.Put(key, &m)
}

// sortBounds applies LIMIT to n elements as Redis 7.0.15 does (inputs
// clamped to the size first). The output is positions [start, end], empty
// when end < start.
func sortBounds(limitStart, limitCount, n int64) (start, end int64) {
	start = min(max(limitStart, 0), n)
	limitCount = min(max(limitCount, -1), n)
	if limitCount < 0 {
		end = n - 1
	} else {
		end = start + limitCount - 1
	}
	if start >= n {
		start, end = n-1, n-2
	}
	if end >= n {
		end = n - 1
	}
	return start, end
}

// sortReadRange reads positions [start, end] of a list or of a sorted set
// in score order; with desc, positions count from the tail.
func sortReadRange(db *keyspace.DB, key []byte, m *keyspace.Meta, start, end int64, desc bool) ([]sortItem, error) {
	want := end - start + 1
	items := make([]sortItem, 0, min(want, 1024))
	n := int64(m.Size)
	if m.Type == keyspace.TypeList {
		// Element i is at sequence Head+i; the range is one scan.
		lo, hi := start, end
		if desc {
			lo, hi = n-1-end, n-1-start
		}
		from := binary.BigEndian.AppendUint64(nil, m.Head+uint64(lo))
		to := binary.BigEndian.AppendUint64(nil, m.Head+uint64(hi)+1)
		err := db.ScanMembers(key, m, from, to, desc, func(_, v []byte) error {
			items = append(items, sortItem{elem: bytes.Clone(v)})
			return nil
		})
		return items, err
	}
	// Sorted set: walk the score index from the chosen end, skipping start
	// entries (there is no rank index).
	sub := zsetScoreSub(db, key, m)
	skip := start
	err := db.ScanMembers(key, m, sub, keys.PrefixEnd(sub), desc, func(suffix, _ []byte) error {
		if skip > 0 {
			skip--
			return nil
		}
		if len(suffix) < len(sub)+8 {
			return keys.ErrCorrupt
		}
		items = append(items, sortItem{elem: bytes.Clone(suffix[len(sub)+8:])})
		if int64(len(items)) == want {
			return keyspace.ErrStop
		}
		return nil
	})
	return items, err
}

// sortReadAll reads every element of a list (in order), set or sorted set.
// A set is returned in the order Redis 7.0 would iterate it where that is
// defined: an intset (not Big) in ascending integer order; a hashtable has
// no defined order and is returned in member byte order.
func sortReadAll(db *keyspace.DB, key []byte, m *keyspace.Meta) ([]sortItem, error) {
	items := make([]sortItem, 0, min(m.Size, 1024))
	var from, to []byte
	skip := 0
	switch m.Type {
	case keyspace.TypeList:
		from = binary.BigEndian.AppendUint64(nil, m.Head)
		to = binary.BigEndian.AppendUint64(nil, m.Tail)
	case keyspace.TypeZSet:
		from = zsetMemberSub(db, key, m)
		to = keys.PrefixEnd(from)
		skip = len(from)
	}
	err := db.ScanMembers(key, m, from, to, false, func(suffix, v []byte) error {
		e := suffix[skip:]
		if m.Type == keyspace.TypeList {
			e = v
		}
		items = append(items, sortItem{elem: bytes.Clone(e)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.Type == keyspace.TypeSet && !m.Big {
		slices.SortStableFunc(items, func(a, b sortItem) int {
			x, okx := ParseInt(a.elem)
			y, oky := ParseInt(b.elem)
			if !okx || !oky {
				return bytes.Compare(a.elem, b.elem)
			}
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		})
	}
	return items, nil
}

// zsetMemberSub and zsetScoreSub are the member-record suffix prefixes of
// a sorted set's member->score records and of its score index.
func zsetMemberSub(db *keyspace.DB, key []byte, m *keyspace.Meta) []byte {
	base := len(keys.MemberPrefix(db.Index(), key, m.Version))
	return keys.ZMemberPrefix(db.Index(), key, m.Version)[base:]
}

func zsetScoreSub(db *keyspace.DB, key []byte, m *keyspace.Meta) []byte {
	base := len(keys.MemberPrefix(db.Index(), key, m.Version))
	return keys.ZScorePrefix(db.Index(), key, m.Version)[base:]
}

// sortCompare orders items as Redis's sortCompare: numerically by score
// with ties broken by the elements' bytes; with ALPHA by the BY values
// (missing ones first) or the elements. Without STORE Redis compares with
// strcoll, which stops at a NUL byte; Skerry collates as the C locale
// (byte order). DESC reverses every comparison, ties included.
func sortCompare(alpha, byPattern, store, desc bool) func(a, b sortItem) int {
	text := func(x, y []byte) int {
		if !store {
			x, y = cString(x), cString(y)
		}
		return bytes.Compare(x, y)
	}
	return func(a, b sortItem) int {
		var r int
		switch {
		case !alpha:
			switch {
			case a.score > b.score:
				r = 1
			case a.score < b.score:
				r = -1
			default:
				r = bytes.Compare(a.elem, b.elem)
			}
		case byPattern:
			switch {
			case !a.hasCmp && !b.hasCmp:
				r = 0
			case !a.hasCmp:
				r = -1
			case !b.hasCmp:
				r = 1
			default:
				r = text(a.cmp, b.cmp)
			}
		default:
			r = text(a.elem, b.elem)
		}
		if desc {
			return -r
		}
		return r
	}
}

// sortLookup resolves a BY or GET pattern for one element as Redis's
// lookupKeyByPattern: "#" is the element itself; otherwise the first '*'
// is replaced by the element to name a key, and a "->field" after the '*'
// reads that field of a hash. Only a string key (or a hash holding the
// field) yields a value. Redis reads the pattern as a C string up to a NUL
// byte when it looks for '#', '*' and "->", and the value returned is only
// valid until the transaction writes.
func sortLookup(db *keyspace.DB, pattern, elem []byte) ([]byte, bool, error) {
	cpat := cString(pattern)
	if len(cpat) == 1 && cpat[0] == '#' {
		return elem, true, nil
	}
	star := bytes.IndexByte(cpat, '*')
	if star < 0 {
		return nil, false, nil
	}
	keyEnd := len(pattern)
	var field []byte
	if f := bytes.Index(cpat[star+1:], []byte("->")); f >= 0 {
		arrow := star + 1 + f
		if arrow+2 < len(cpat) {
			field = pattern[arrow+2:]
			keyEnd = arrow
		}
	}
	name := make([]byte, 0, star+len(elem)+keyEnd-star-1)
	name = append(name, pattern[:star]...)
	name = append(name, elem...)
	name = append(name, pattern[star+1:keyEnd]...)
	m, ok, err := db.Lookup(name)
	if err != nil || !ok {
		return nil, false, err
	}
	if field == nil {
		if m.Type != keyspace.TypeString {
			return nil, false, nil
		}
		return m.Value, true, nil
	}
	if m.Type != keyspace.TypeHash {
		return nil, false, nil
	}
	v, ok, err := db.Txn().Get(db.MemberKey(name, &m, field))
	if err != nil || !ok {
		return nil, false, err
	}
	return bytes.Clone(v), true, nil
}

// patternHasStar reports whether a BY/GET pattern has a '*' before any NUL
// byte (Redis's strchr).
func patternHasStar(p []byte) bool { return bytes.IndexByte(cString(p), '*') >= 0 }

// cString returns b up to its first NUL byte: what C string functions see
// of a Redis string.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// sortScore parses a sort weight as Redis 7.0's SORT does with strtod on
// the C string: leading white space is skipped, the rest must be consumed
// entirely, an empty string is 0, and NaN or any range error (overflow;
// underflow, which glibc reports for every inexact result that is tiny)
// is an error. This is looser than other commands' float arguments
// (ParseFloat) in the white space and the empty string, and stricter in
// underflow.
func sortScore(b []byte) (float64, bool) {
	b = cString(b)
	if len(b) == 0 {
		return 0, true // strtod converts nothing and stops at the NUL
	}
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	s := b[i:]
	if len(s) == 0 {
		return 0, false
	}
	v, ok := ParseFloat(s)
	if !ok {
		return 0, false
	}
	if v != 0 && !math.IsInf(v, 0) && math.Abs(v) <= minNormalFloat {
		if f, ok := scanFloat(s); ok && strtodUnderflows(f, math.Abs(v)) {
			return 0, false
		}
	}
	return v, true
}

// isCSpace is C's isspace in the C locale.
func isCSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// minNormalFloat is DBL_MIN, the smallest normal double.
const minNormalFloat = 0x1p-1022

// strtodUnderflows reports whether glibc's strtod sets ERANGE for the
// literal f whose correctly rounded magnitude is v (0 < v <= DBL_MIN):
// when the exact value is inexact and tiny, tininess being detected after
// rounding to 53 bits with an unbounded exponent, i.e. the exact value is
// below DBL_MIN - 2^-1076.
func strtodUnderflows(f floatSyntax, v float64) bool {
	digits, exp := f.digits, f.exp
	step := int64(1) // exponent change per dropped digit
	base := int64(10)
	if f.hex {
		step, base = 4, 2
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp += step
	}
	// A double has at most 767 significant decimal digits (fewer hex
	// ones). Truncating longer literals keeps the comparisons below exact
	// (the threshold has fewer digits) and bounds the arithmetic.
	inexact := false
	const maxDigits = 800
	if len(digits) > maxDigits {
		exp += int64(len(digits)-maxDigits) * step
		digits = digits[:maxDigits]
		inexact = true
	}
	if len(digits) == 0 {
		return false
	}
	radix := 10
	if f.hex {
		radix = 16
	}
	mant, ok := new(big.Int).SetString(string(digits), radix)
	if !ok {
		return false
	}
	exact := new(big.Rat).SetInt(mant)
	scale := new(big.Int).Exp(big.NewInt(base), big.NewInt(abs64(exp)), nil)
	if exp < 0 {
		exact.Quo(exact, new(big.Rat).SetInt(scale))
	} else {
		exact.Mul(exact, new(big.Rat).SetInt(scale))
	}
	// DBL_MIN - 2^-1076 = (2^54 - 1) / 2^1076.
	num := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 54), big.NewInt(1))
	threshold := new(big.Rat).SetFrac(num, new(big.Int).Lsh(big.NewInt(1), 1076))
	if exact.Cmp(threshold) >= 0 {
		return false
	}
	return inexact || exact.Cmp(new(big.Rat).SetFloat64(v)) != 0
}
