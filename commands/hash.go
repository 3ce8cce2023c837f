package commands

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// Hash commands. A hash is a collection (keyspace.Meta, Type TypeHash)
// whose member records map each field to its value (mvcc/keys: "hash:
// field -> value"); Meta.Size is the number of fields (HLEN), and a hash
// whose last field goes is deleted, as in Redis. Commands that modify a
// hash keep the key's TTL.
//
// Meta.Big mirrors Redis 7.0's listpack -> hashtable conversion so that
// OBJECT ENCODING and HSCAN paging behave as Redis's would: a hash
// converts when a field or value longer than hash-max-listpack-value is
// written (HSET/HMSET check every argument before writing, HSETNX only a
// field it adds, HINCRBY* the field and the new value) or when it gets
// more than hash-max-listpack-entries fields; it never converts back.

func registerHashes(t *Table) {
	for _, c := range []*Command{
		{Name: "hset", Handler: hsetCmd},
		{Name: "hmset", Handler: hmsetCmd},
		{Name: "hsetnx", Handler: hsetnxCmd},
		{Name: "hget", Handler: hgetCmd},
		{Name: "hmget", Handler: hmgetCmd},
		{Name: "hgetall", Handler: hgetallCmd},
		{Name: "hkeys", Handler: hkeysCmd},
		{Name: "hvals", Handler: hvalsCmd},
		{Name: "hdel", Handler: hdelCmd},
		{Name: "hlen", Handler: hlenCmd},
		{Name: "hexists", Handler: hexistsCmd},
		{Name: "hstrlen", Handler: hstrlenCmd},
		{Name: "hincrby", Handler: hincrbyCmd},
		{Name: "hincrbyfloat", Handler: hincrbyfloatCmd},
		{Name: "hrandfield", Handler: hrandfieldCmd},
		{Name: "hscan", Handler: hscanCmd},
	} {
		c.Data = true
		t.Register(c)
	}
}

// Errors of the hash family (texts from Redis 7.0.15).
var (
	errHashNotInt      = &ReplyError{"ERR hash value is not an integer"}
	errHashNotFloat    = &ReplyError{"ERR hash value is not a float"}
	errHincrNaNOrInf   = &ReplyError{"ERR value is NaN or Infinity"}
	errHrandCountRange = &ReplyError{"ERR value is out of range"}
	// errHrandLongRange is getRangeLongFromObjectOrReply's error for the range
	// [-LONG_MAX, LONG_MAX] that HRANDFIELD's count must be in.
	errHrandLongRange = &ReplyError{"ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"}
	// errHrandReplyTooLarge has no Redis counterpart: Redis would start
	// streaming a reply of that many elements until it ran out of memory;
	// Skerry builds replies in memory and refuses one larger than
	// proto-max-bulk-len instead (docs/compatibility.md).
	errHrandReplyTooLarge = &ReplyError{"ERR Insufficient memory, reply for HRANDFIELD exceeds proto-max-bulk-len"}
)

// lookupHash returns the hash at key; ok is false when there is none;
// keyspace.ErrWrongType when the key holds another type.
func lookupHash(c *Ctx, key []byte) (keyspace.Meta, bool, error) {
	return c.DB.GetCollection(key, keyspace.TypeHash)
}

// hashGet returns the value of field in hash m. The value is a copy.
func hashGet(c *Ctx, key []byte, m *keyspace.Meta, field []byte) ([]byte, bool, error) {
	v, ok, err := c.DB.Txn().Get(c.DB.MemberKey(key, m, field))
	if err != nil || !ok {
		return nil, false, err
	}
	return bytes.Clone(v), true, nil
}

// hashSet writes field=value into hash m and counts a new field in
// m.Size; the caller saves m. It reports whether the field is new.
func hashSet(c *Ctx, key []byte, m *keyspace.Meta, field, value []byte) (bool, error) {
	mk := c.DB.MemberKey(key, m, field)
	_, existed, err := c.DB.Txn().Get(mk)
	if err != nil {
		return false, err
	}
	if err := c.DB.Txn().Set(mk, value); err != nil {
		return false, err
	}
	if !existed {
		m.Size++
	}
	return !existed, nil
}

// hashConvertLong marks m Big when one of args is longer than
// hash-max-listpack-value (Redis's hashTypeTryConversion and the length
// check of hashTypeSet).
func hashConvertLong(c *Ctx, m *keyspace.Meta, args ...[]byte) {
	if m.Big {
		return
	}
	_, maxValue := c.hashLimits()
	for _, a := range args {
		if int64(len(a)) > maxValue {
			m.Big = true
			return
		}
	}
}

// hashConvertMany marks m Big when it has more than
// hash-max-listpack-entries fields.
func hashConvertMany(c *Ctx, m *keyspace.Meta) {
	if entries, _ := c.hashLimits(); !m.Big && m.Size > uint64(max(entries, 0)) {
		m.Big = true
	}
}

func hsetCmd(c *Ctx) error {
	created, err := hsetGeneric(c)
	if err != nil {
		return err
	}
	c.W.Int(created)
	return nil
}

func hmsetCmd(c *Ctx) error {
	if _, err := hsetGeneric(c); err != nil {
		return err
	}
	c.W.OK()
	return nil
}

// hsetGeneric is HSET and HMSET: key followed by field/value pairs. It
// returns the number of fields created.
func hsetGeneric(c *Ctx) (int64, error) {
	if len(c.Args)%2 == 1 {
		return 0, ErrArity(c.Name())
	}
	key := c.Args[1]
	m, _, err := c.DB.GetOrNewCollection(key, keyspace.TypeHash)
	if err != nil {
		return 0, err
	}
	// Redis checks the length of every argument, including fields that
	// are only updated, before writing any.
	hashConvertLong(c, &m, c.Args[2:]...)
	var created int64
	for i := 2; i+1 < len(c.Args); i += 2 {
		isNew, err := hashSet(c, key, &m, c.Args[i], c.Args[i+1])
		if err != nil {
			return 0, err
		}
		if isNew {
			created++
		}
	}
	hashConvertMany(c, &m)
	return created, c.DB.SaveCollection(key, &m)
}

func hsetnxCmd(c *Ctx) error {
	key, field, value := c.Args[1], c.Args[2], c.Args[3]
	m, _, err := c.DB.GetOrNewCollection(key, keyspace.TypeHash)
	if err != nil {
		return err
	}
	if m.Size > 0 {
		_, exists, err := c.DB.Txn().Get(c.DB.MemberKey(key, &m, field))
		if err != nil {
			return err
		}
		if exists {
			c.W.Int(0)
			return nil
		}
	}
	hashConvertLong(c, &m, field, value)
	if _, err := hashSet(c, key, &m, field, value); err != nil {
		return err
	}
	hashConvertMany(c, &m)
	if err := c.DB.SaveCollection(key, &m); err != nil {
		return err
	}
	c.W.Int(1)
	return nil
}

func hgetCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := lookupHash(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	v, ok, err := c.DB.Txn().Get(c.DB.MemberKey(key, &m, c.Args[2]))
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	c.W.Bulk(v)
	return nil
}

func hmgetCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := lookupHash(c, key)
	if err != nil {
		return err
	}
	fields := c.Args[2:]
	c.W.Array(len(fields))
	for _, f := range fields {
		if !ok {
			c.W.Null()
			continue
		}
		v, found, err := c.DB.Txn().Get(c.DB.MemberKey(key, &m, f))
		if err != nil {
			return err
		}
		if found {
			c.W.Bulk(v)
		} else {
			c.W.Null()
		}
	}
	return nil
}

// Parts of a hash entry HGETALL, HKEYS and HVALS reply with.
const (
	hashReplyField = 1 << iota
	hashReplyValue
)

func hgetallCmd(c *Ctx) error { return hgetallGeneric(c, hashReplyField|hashReplyValue) }
func hkeysCmd(c *Ctx) error   { return hgetallGeneric(c, hashReplyField) }
func hvalsCmd(c *Ctx) error   { return hgetallGeneric(c, hashReplyValue) }

// hgetallGeneric streams every entry of a hash into the reply: a map for
// HGETALL, a flat array for HKEYS and HVALS, as Redis does.
func hgetallGeneric(c *Ctx, parts int) error {
	key := c.Args[1]
	both := parts == hashReplyField|hashReplyValue
	m, ok, err := lookupHash(c, key)
	if err != nil {
		return err
	}
	n := 0
	if ok {
		n = int(m.Size)
	}
	if both {
		c.W.Map(n)
	} else {
		c.W.Array(n)
	}
	if !ok {
		return nil
	}
	seen := uint64(0)
	err = c.DB.ScanMembers(key, &m, nil, nil, false, func(field, value []byte) error {
		seen++
		if parts&hashReplyField != 0 {
			c.W.Bulk(field)
		}
		if parts&hashReplyValue != 0 {
			c.W.Bulk(value)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return checkHashSize(key, &m, seen)
}

// checkHashSize guards replies whose header was written from Meta.Size: a
// count that disagrees with the records must fail the command (which
// discards the partial reply) rather than desynchronize the client.
func checkHashSize(key []byte, m *keyspace.Meta, seen uint64) error {
	if seen != m.Size {
		return fmt.Errorf("commands: hash %q has %d fields but its metadata says %d", key, seen, m.Size)
	}
	return nil
}

func hdelCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := lookupHash(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	var deleted int64
	for _, f := range c.Args[2:] {
		mk := c.DB.MemberKey(key, &m, f)
		_, found, err := c.DB.Txn().Get(mk)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		if err := c.DB.Txn().Delete(mk); err != nil {
			return err
		}
		deleted++
		m.Size--
		if m.Size == 0 {
			break // Redis stops once the key is gone
		}
	}
	if deleted > 0 {
		if err := c.DB.SaveCollection(key, &m); err != nil {
			return err
		}
	}
	c.W.Int(deleted)
	return nil
}

func hlenCmd(c *Ctx) error {
	m, ok, err := lookupHash(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	c.W.Int(int64(m.Size))
	return nil
}

func hexistsCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := lookupHash(c, key)
	if err != nil {
		return err
	}
	if ok {
		_, ok, err = c.DB.Txn().Get(c.DB.MemberKey(key, &m, c.Args[2]))
		if err != nil {
			return err
		}
	}
	if ok {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
	return nil
}

func hstrlenCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := lookupHash(c, key)
	if err != nil {
		return err
	}
	n := 0
	if ok {
		v, found, err := c.DB.Txn().Get(c.DB.MemberKey(key, &m, c.Args[2]))
		if err != nil {
			return err
		}
		if found {
			n = len(v)
		}
	}
	c.W.Int(int64(n))
	return nil
}

func hincrbyCmd(c *Ctx) error {
	key, field := c.Args[1], c.Args[2]
	incr, err := intArg(c.Args[3])
	if err != nil {
		return err
	}
	m, _, err := c.DB.GetOrNewCollection(key, keyspace.TypeHash)
	if err != nil {
		return err
	}
	var old int64
	if m.Size > 0 {
		v, found, err := hashGet(c, key, &m, field)
		if err != nil {
			return err
		}
		if found {
			var ok bool
			if old, ok = ParseInt(v); !ok {
				return errHashNotInt
			}
		}
	}
	if (incr < 0 && old < 0 && incr < math.MinInt64-old) ||
		(incr > 0 && old > 0 && incr > math.MaxInt64-old) {
		return ErrOverflow
	}
	n := old + incr
	value := strconv.AppendInt(nil, n, 10)
	if err := hashWriteField(c, key, &m, field, value); err != nil {
		return err
	}
	c.W.Int(n)
	return nil
}

func hincrbyfloatCmd(c *Ctx) error {
	key, field := c.Args[1], c.Args[2]
	incr, ok := ParseLongDouble(c.Args[3])
	if !ok {
		return ErrNotFloat
	}
	if incr.IsInf() {
		return errHincrNaNOrInf
	}
	m, _, err := c.DB.GetOrNewCollection(key, keyspace.TypeHash)
	if err != nil {
		return err
	}
	old := LongDoubleFromInt(0)
	if m.Size > 0 {
		v, found, err := hashGet(c, key, &m, field)
		if err != nil {
			return err
		}
		if found {
			if old, ok = ParseLongDouble(v); !ok {
				return errHashNotFloat
			}
		}
	}
	sum, ok := old.Add(incr)
	if !ok {
		return ErrIncrNaN
	}
	value := []byte(sum.Format())
	if err := hashWriteField(c, key, &m, field, value); err != nil {
		return err
	}
	c.W.Bulk(value)
	return nil
}

// hashWriteField stores one field as HINCRBY and HINCRBYFLOAT do (Redis's
// hashTypeSet: the length check covers the field and the new value) and
// saves the hash.
func hashWriteField(c *Ctx, key []byte, m *keyspace.Meta, field, value []byte) error {
	hashConvertLong(c, m, field, value)
	if _, err := hashSet(c, key, m, field, value); err != nil {
		return err
	}
	hashConvertMany(c, m)
	return c.DB.SaveCollection(key, m)
}

func hscanCmd(c *Ctx) error {
	key := c.Args[1]
	// Redis's order: the cursor, then the key, then the options (a
	// missing key answers an empty scan whatever the options say).
	cursor, err := parseCursor(c.Args[2])
	if err != nil {
		return err
	}
	m, ok, err := lookupHash(c, key)
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
	var out [][]byte
	next, err := collScan(c, key, &m, nil, cursor, o, func(field, value []byte) {
		out = append(out, bytes.Clone(field), bytes.Clone(value))
	})
	if err != nil {
		return err
	}
	writeScanReply(c, next, out)
	return nil
}

// HRANDFIELD picks fields uniformly, as Redis does. Skerry has no random
// access into a hash (its fields are records in byte order, and nothing
// records how many fall in a range), and seeking to random byte strings
// favours fields after large gaps so much that one field can take most
// picks. So HRANDFIELD chooses random positions in [0, HLEN) first, then
// reads the hash in order up to the last chosen position: O(N) records
// in the worst case where Redis needs O(count) (docs/compatibility.md),
// but with the reply's distribution exactly Redis's and memory O(count).

func hrandfieldCmd(c *Ctx) error {
	key := c.Args[1]
	if len(c.Args) >= 3 {
		// Redis's order: the count, then the options, then the key.
		l, err := intArg(c.Args[2])
		if err != nil {
			return err
		}
		if l == math.MinInt64 {
			return errHrandLongRange
		}
		if len(c.Args) > 4 || (len(c.Args) == 4 && !argIs(c.Args[3], "withvalues")) {
			return ErrSyntax
		}
		withValues := len(c.Args) == 4
		// Redis 7.0 refuses counts whose flat RESP2 reply (2 elements
		// per field) would overflow a long.
		if withValues && (l < -math.MaxInt64/2 || l > math.MaxInt64/2) {
			return errHrandCountRange
		}
		return hrandfieldCount(c, key, l, withValues)
	}
	m, ok, err := lookupHash(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	if m.Size == 0 {
		return errHashCorrupt(key, &m) // Redis deletes empty hashes
	}
	ents, err := hashEntriesAt(c, key, &m, []uint64{rand.Uint64N(m.Size)}, false, math.MaxInt64)
	if err != nil {
		return err
	}
	c.W.Bulk(ents[0].field)
	return nil
}

// hrandfieldCount is HRANDFIELD key count [WITHVALUES]: a negative count
// picks -count fields independently (repeats allowed), a positive one
// picks min(count, HLEN) distinct fields. With WITHVALUES, RESP2 gets a
// flat field, value, ... array and RESP3 an array of [field, value] pairs.
func hrandfieldCount(c *Ctx, key []byte, l int64, withValues bool) error {
	m, ok, err := lookupHash(c, key)
	if err != nil {
		return err
	}
	if !ok || l == 0 {
		c.W.Array(0)
		return nil
	}
	if m.Size == 0 {
		return errHashCorrupt(key, &m) // Redis deletes empty hashes
	}
	pairs := withValues && c.W.Proto() >= 3
	header := func(n uint64) {
		if withValues && !pairs {
			c.W.Array(int(2 * n))
		} else {
			c.W.Array(int(n))
		}
	}
	write := func(field, value []byte) {
		if pairs {
			c.W.Array(2)
		}
		c.W.Bulk(field)
		if withValues {
			c.W.Bulk(value)
		}
	}
	size := m.Size

	if l < 0 {
		count := uint64(-l)
		// Refuse before doing any work a reply that cannot fit: every
		// element takes at least "$0\r\n\r\n" (and a value, and a pair
		// header in RESP3).
		limit := protoMaxBulkLen(c)
		minBytes := uint64(6)
		if withValues {
			minBytes = 12
			if pairs {
				minBytes += 4
			}
		}
		if count > uint64(limit)/minBytes {
			return errHrandReplyTooLarge
		}
		if count >= size {
			// Read the hash once and draw from it: memory O(HLEN).
			all, err := hashEntriesAll(c, key, &m, withValues)
			if err != nil {
				return err
			}
			header(count)
			start := c.W.Len()
			for range count {
				e := all[rand.Uint64N(size)]
				write(e.field, e.value)
				if int64(c.W.Len()-start) > limit {
					return errHrandReplyTooLarge
				}
			}
			return nil
		}
		// Fewer picks than fields: 8 bytes a pick plus the picked entries,
		// which may not add up to more than the reply may hold.
		idx := make([]uint64, count)
		for i := range idx {
			idx[i] = rand.Uint64N(size)
		}
		slices.Sort(idx)
		ents, err := hashEntriesAt(c, key, &m, idx, withValues, limit)
		if err != nil {
			return err
		}
		rand.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		header(count)
		start := c.W.Len()
		for _, i := range idx {
			write(ents[i].field, ents[i].value)
			if int64(c.W.Len()-start) > limit {
				return errHrandReplyTooLarge
			}
		}
		return nil
	}

	count := uint64(l)
	if count >= size {
		// The whole hash, as Redis's CASE 2.
		header(size)
		seen := uint64(0)
		err := c.DB.ScanMembers(key, &m, nil, nil, false, func(field, value []byte) error {
			seen++
			write(field, value)
			return nil
		})
		if err != nil {
			return err
		}
		return checkHashSize(key, &m, seen)
	}
	// count distinct positions (Floyd's algorithm), in random order.
	chosen := make(map[uint64]struct{}, count)
	for j := size - count; j < size; j++ {
		t := rand.Uint64N(j + 1)
		if _, dup := chosen[t]; dup {
			t = j
		}
		chosen[t] = struct{}{}
	}
	idx := make([]uint64, 0, count)
	for i := range chosen {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	ents, err := hashEntriesAt(c, key, &m, idx, withValues, math.MaxInt64)
	if err != nil {
		return err
	}
	rand.Shuffle(len(ents), func(i, j int) { ents[i], ents[j] = ents[j], ents[i] })
	header(count)
	for _, e := range ents {
		write(e.field, e.value)
	}
	return nil
}

// hashEntry is one field of a hash and (when asked for) its value.
type hashEntry struct{ field, value []byte }

// errHashCorrupt reports member records that disagree with Meta.Size.
func errHashCorrupt(key []byte, m *keyspace.Meta) error {
	return fmt.Errorf("commands: hash %q: field records disagree with its metadata (%d fields)", key, m.Size)
}

// hashEntriesAll returns every entry of hash m, in byte order.
func hashEntriesAll(c *Ctx, key []byte, m *keyspace.Meta, withValues bool) ([]hashEntry, error) {
	all := make([]hashEntry, 0, min(m.Size, 1024)) // Size is data, but a capacity hint need not trust it
	err := c.DB.ScanMembers(key, m, nil, nil, false, func(field, value []byte) error {
		if uint64(len(all)) == m.Size {
			return errHashCorrupt(key, m)
		}
		e := hashEntry{field: bytes.Clone(field)}
		if withValues {
			e.value = bytes.Clone(value)
		}
		all = append(all, e)
		return nil
	})
	if err == nil && uint64(len(all)) != m.Size {
		err = errHashCorrupt(key, m)
	}
	return all, err
}

// hashEntriesAt reads the entries at positions idx (sorted ascending,
// repeats allowed, each < m.Size) of hash m, in byte order, up to the last
// position only. It returns each distinct entry once and rewrites idx in
// place to index the returned slice. errHrandReplyTooLarge when the
// entries add up to more than budget bytes.
func hashEntriesAt(c *Ctx, key []byte, m *keyspace.Meta, idx []uint64, withValues bool, budget int64) ([]hashEntry, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	var ents []hashEntry
	next, pos, used := 0, uint64(0), int64(0)
	err := c.DB.ScanMembers(key, m, nil, nil, false, func(field, value []byte) error {
		if idx[next] == pos {
			e := hashEntry{field: bytes.Clone(field)}
			used += int64(len(field))
			if withValues {
				e.value = bytes.Clone(value)
				used += int64(len(value))
			}
			if used > budget {
				return errHrandReplyTooLarge
			}
			for next < len(idx) && idx[next] == pos {
				idx[next] = uint64(len(ents))
				next++
			}
			ents = append(ents, e)
			if next == len(idx) {
				return keyspace.ErrStop
			}
		}
		pos++
		return nil
	})
	if err == nil && next != len(idx) {
		err = errHashCorrupt(key, m)
	}
	return ents, err
}
