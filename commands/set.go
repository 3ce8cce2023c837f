package commands

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// Set commands. A set is a collection (keyspace.TypeSet) whose members are
// member records with empty values (mvcc/keys "Collection member layouts");
// Meta.Size is SCARD. Storage keeps members in byte order.
//
// Encoding: Redis 7.0 keeps a set as an intset while every member is an
// integer in string2ll's canonical form and there are at most
// set-max-intset-entries of them, and converts it to a hashtable (for good)
// otherwise; Meta.Big records the conversion. A new set starts as an intset
// when its first member is an integer (setTypeCreate); the *STORE commands
// build a fresh set, so their result is an intset again when it qualifies.
//
// Reply order: an intset iterates in ascending numeric order, and clients
// can see that, so every reply that Redis would produce by iterating an
// intset is in numeric order here too. A hashtable's order is Redis's
// randomly seeded hash order; Skerry replies those in byte order.

func registerSets(t *Table) {
	for _, c := range []*Command{
		{Name: "sadd", Handler: saddCmd},
		{Name: "srem", Handler: sremCmd},
		{Name: "smembers", Handler: smembersCmd},
		{Name: "sismember", Handler: sismemberCmd},
		{Name: "smismember", Handler: smismemberCmd},
		{Name: "scard", Handler: scardCmd},
		{Name: "spop", Handler: spopCmd},
		{Name: "srandmember", Handler: srandmemberCmd},
		{Name: "smove", Handler: smoveCmd},
		{Name: "sinter", Handler: sinterCmd},
		{Name: "sintercard", Handler: sintercardCmd},
		{Name: "sunion", Handler: func(c *Ctx) error { return setAlgebraCmd(c, setUnion, false) }},
		{Name: "sdiff", Handler: func(c *Ctx) error { return setAlgebraCmd(c, setDiff, false) }},
		{Name: "sinterstore", Handler: func(c *Ctx) error { return setAlgebraCmd(c, setInter, true) }},
		{Name: "sunionstore", Handler: func(c *Ctx) error { return setAlgebraCmd(c, setUnion, true) }},
		{Name: "sdiffstore", Handler: func(c *Ctx) error { return setAlgebraCmd(c, setDiff, true) }},
		{Name: "sscan", Handler: sscanCmd},
	} {
		c.Data = true
		t.Register(c)
	}
}

// Errors of the set family (texts from Redis 7.0.15).
var (
	errMustBePositive     = &ReplyError{"ERR value is out of range, must be positive"}
	errSrandmemberRange   = &ReplyError{"ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"}
	errNumkeysPositive    = &ReplyError{"ERR numkeys should be greater than 0"}
	errNumkeysTooMany     = &ReplyError{"ERR Number of keys can't be greater than number of args"}
	errLimitNegative      = &ReplyError{"ERR LIMIT can't be negative"}
	errRandomReplyTooLong = Errorf("ERR count is too large: a reply may hold at most %d elements", maxRandomReply)
)

// errCorruptSet reports a set whose Size counts members it does not have.
var errCorruptSet = errors.New("commands: set has fewer members than its size")

// maxRandomReply bounds the reply of SRANDMEMBER with a negative count,
// the only set reply whose length is not bounded by the data: Redis would
// try to send -count elements whatever their number, which exhausts its
// memory; Skerry answers an error instead.
const maxRandomReply = 1 << 24

// setScanBatch is how many members a full pass over a set holds at once
// while it probes other sets (SINTER, SDIFF): memory stays bounded by the
// result, not by the sets.
const setScanBatch = 512

// isIntsetMember reports whether Redis 7.0 can store member in an intset
// (isSdsRepresentableAsLongLong: string2ll's canonical integers).
func isIntsetMember(member []byte) bool {
	_, ok := ParseInt(member)
	return ok
}

// getSet returns the set at key; ok is false when there is none.
func getSet(c *Ctx, key []byte) (keyspace.Meta, bool, error) {
	return c.DB.GetCollection(key, keyspace.TypeSet)
}

// newSet returns a new empty set whose first member will be first: Redis's
// setTypeCreate picks an intset only when that member is an integer.
func newSet(c *Ctx, first []byte) keyspace.Meta {
	m := c.DB.NewCollection(keyspace.TypeSet)
	m.Big = !isIntsetMember(first)
	return m
}

// setHas reports whether member is in set m at key: one point read.
func setHas(c *Ctx, key []byte, m *keyspace.Meta, member []byte) (bool, error) {
	_, ok, err := c.DB.Txn().Get(c.DB.MemberKey(key, m, member))
	return ok, err
}

// setAdd adds member to set m at key and reports whether it was new. It
// keeps m.Size and m.Big (Redis converts an intset after a successful add
// of a non-integer, or when the add takes it past set-max-intset-entries);
// the caller saves m.
func setAdd(c *Ctx, key []byte, m *keyspace.Meta, member []byte) (bool, error) {
	mk := c.DB.MemberKey(key, m, member)
	_, ok, err := c.DB.Txn().Get(mk)
	if err != nil || ok {
		return false, err
	}
	if err := c.DB.Txn().Set(mk, nil); err != nil {
		return false, err
	}
	m.Size++
	if !m.Big && (!isIntsetMember(member) || m.Size > uint64(max(c.setIntsetLimit(), 0))) {
		m.Big = true
	}
	return true, nil
}

// setRemove removes member from set m at key and reports whether it was
// there; the caller saves m.
func setRemove(c *Ctx, key []byte, m *keyspace.Meta, member []byte) (bool, error) {
	mk := c.DB.MemberKey(key, m, member)
	_, ok, err := c.DB.Txn().Get(mk)
	if err != nil || !ok {
		return false, err
	}
	if err := c.DB.Txn().Delete(mk); err != nil {
		return false, err
	}
	m.Size--
	return true, nil
}

// setMembers returns every member of set m at key in byte order.
func setMembers(c *Ctx, key []byte, m *keyspace.Meta) ([][]byte, error) {
	var out [][]byte
	err := c.DB.ScanMembers(key, m, nil, nil, false, func(member, _ []byte) error {
		out = append(out, bytes.Clone(member))
		return nil
	})
	return out, err
}

// forEachSetBatch calls fn with the members of set m at key in byte order,
// at most setScanBatch at a time. fn returning keyspace.ErrStop ends the
// walk without error. Scanning in batches (rather than probing other keys
// from inside a scan callback) keeps every read a plain transaction read.
func forEachSetBatch(c *Ctx, key []byte, m *keyspace.Meta, fn func(members [][]byte) error) error {
	var from []byte
	for {
		var batch [][]byte
		err := c.DB.ScanMembers(key, m, from, nil, false, func(member, _ []byte) error {
			batch = append(batch, bytes.Clone(member))
			if len(batch) == setScanBatch {
				return keyspace.ErrStop
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				if err == keyspace.ErrStop {
					return nil
				}
				return err
			}
		}
		if len(batch) < setScanBatch {
			return nil
		}
		from = append(bytes.Clone(batch[len(batch)-1]), 0) // the least member after the last one
	}
}

// sortNumeric orders integer members in ascending numeric order, as an
// intset iterates. Members that are not integers (never the case for an
// intset) sort after the integers, by bytes.
func sortNumeric(members [][]byte) {
	type num struct {
		n  int64
		ok bool
		b  []byte
	}
	ns := make([]num, len(members))
	for i, b := range members {
		n, ok := ParseInt(b)
		ns[i] = num{n, ok, b}
	}
	slices.SortFunc(ns, func(x, y num) int {
		switch {
		case x.ok && y.ok:
			if x.n < y.n {
				return -1
			}
			if x.n > y.n {
				return 1
			}
			return 0
		case x.ok:
			return -1
		case y.ok:
			return 1
		}
		return bytes.Compare(x.b, y.b)
	})
	for i := range ns {
		members[i] = ns[i].b
	}
}

// replyMembers writes members as a RESP3 set (an array for RESP2).
func replyMembers(c *Ctx, members [][]byte) {
	c.W.Set(len(members))
	for _, b := range members {
		c.W.Bulk(b)
	}
}

// replyArray writes members as an array.
func replyArray(c *Ctx, members [][]byte) {
	c.W.Array(len(members))
	for _, b := range members {
		c.W.Bulk(b)
	}
}

func saddCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := getSet(c, key)
	if err != nil {
		return err
	}
	if !ok {
		m = newSet(c, c.Args[2])
	}
	added := int64(0)
	for _, member := range c.Args[2:] {
		isNew, err := setAdd(c, key, &m, member)
		if err != nil {
			return err
		}
		if isNew {
			added++
		}
	}
	if added > 0 {
		if err := c.DB.SaveCollection(key, &m); err != nil {
			return err
		}
	}
	c.W.Int(added)
	return nil
}

func sremCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := getSet(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	removed := int64(0)
	for _, member := range c.Args[2:] {
		gone, err := setRemove(c, key, &m, member)
		if err != nil {
			return err
		}
		if gone {
			removed++
			if m.Size == 0 {
				break // Redis stops (and deletes the key) once the set is empty
			}
		}
	}
	if removed > 0 {
		if err := c.DB.SaveCollection(key, &m); err != nil {
			return err
		}
	}
	c.W.Int(removed)
	return nil
}

// orderedMembers returns every member of set m at key in the order Redis
// iterates it: numeric for an intset, byte order otherwise.
func orderedMembers(c *Ctx, key []byte, m *keyspace.Meta) ([][]byte, error) {
	out, err := setMembers(c, key, m)
	if err == nil && !m.Big {
		sortNumeric(out)
	}
	return out, err
}

func smembersCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := getSet(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Set(0)
		return nil
	}
	out, err := orderedMembers(c, key, &m)
	if err != nil {
		return err
	}
	replyMembers(c, out)
	return nil
}

func sismemberCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := getSet(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	has, err := setHas(c, key, &m, c.Args[2])
	if err != nil {
		return err
	}
	c.W.Int(boolInt(has))
	return nil
}

func smismemberCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := getSet(c, key)
	if err != nil {
		return err
	}
	members := c.Args[2:]
	c.W.Array(len(members))
	for _, member := range members {
		has := false
		if ok {
			if has, err = setHas(c, key, &m, member); err != nil {
				return err
			}
		}
		c.W.Int(boolInt(has))
	}
	return nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func scardCmd(c *Ctx) error {
	m, _, err := getSet(c, c.Args[1])
	if err != nil {
		return err
	}
	c.W.Int(int64(m.Size))
	return nil
}

func smoveCmd(c *Ctx) error {
	src, dst, member := c.Args[1], c.Args[2], c.Args[3]
	// Redis's order: a missing source answers 0 before the destination's
	// type is checked.
	sm, ok, err := getSet(c, src)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	dm, dstExists, err := getSet(c, dst)
	if err != nil {
		return err
	}
	if bytes.Equal(src, dst) {
		has, err := setHas(c, src, &sm, member)
		if err != nil {
			return err
		}
		c.W.Int(boolInt(has))
		return nil
	}
	gone, err := setRemove(c, src, &sm, member)
	if err != nil {
		return err
	}
	if !gone {
		c.W.Int(0)
		return nil
	}
	if err := c.DB.SaveCollection(src, &sm); err != nil {
		return err
	}
	if !dstExists {
		dm = newSet(c, member)
	}
	added, err := setAdd(c, dst, &dm, member)
	if err != nil {
		return err
	}
	if added {
		if err := c.DB.SaveCollection(dst, &dm); err != nil {
			return err
		}
	}
	c.W.Int(1)
	return nil
}

// ---- SPOP and SRANDMEMBER ----
//
// Redis picks random members in O(1) each from its hash table. Storage has
// no rank index, so a set of at most randomScanMax members is read whole
// and picked from uniformly; a larger one is sampled by random seeks
// between its first and last member (O(log N) each, not exactly uniform:
// a member following a wide gap in byte order is picked more often). When
// a count asks for a large share of a big set, one pass over it (as
// Redis's own strategies for large counts do) selects exactly uniformly.

// randomScanMax is the size up to which a set is sampled exactly.
const randomScanMax = 1024

// Redis's thresholds for switching to a whole-set pass: SRANDMEMBER when
// count*3 > size, SPOP when count*5 > size.
const (
	srandmemberPassMul = 3
	spopPassMul        = 5
)

// memberAt returns the member at position i (0-based, byte order) of
// set m at key.
func memberAt(c *Ctx, key []byte, m *keyspace.Meta, i uint64) ([]byte, error) {
	var out []byte
	n := uint64(0)
	err := c.DB.ScanMembers(key, m, nil, nil, false, func(member, _ []byte) error {
		if n == i {
			out = bytes.Clone(member)
			return keyspace.ErrStop
		}
		n++
		return nil
	})
	return out, err
}

// setProber picks members of a big set by random seeks.
type setProber struct {
	c      *Ctx
	key    []byte
	m      *keyspace.Meta
	first  []byte
	prefix []byte // common prefix of the first and last member
	lo, hi uint64 // the 8 bytes after prefix of the first and last member
}

func newSetProber(c *Ctx, key []byte, m *keyspace.Meta) (*setProber, error) {
	p := &setProber{c: c, key: key, m: m}
	var last []byte
	for _, reverse := range []bool{false, true} {
		err := c.DB.ScanMembers(key, m, nil, nil, reverse, func(member, _ []byte) error {
			if reverse {
				last = bytes.Clone(member)
			} else {
				p.first = bytes.Clone(member)
			}
			return keyspace.ErrStop
		})
		if err != nil {
			return nil, err
		}
	}
	n := 0
	for n < len(p.first) && n < len(last) && p.first[n] == last[n] {
		n++
	}
	p.prefix = p.first[:n]
	p.lo, p.hi = uint64At(p.first[n:]), uint64At(last[n:])
	return p, nil
}

// uint64At reads the first 8 bytes of b as a big-endian number, zero
// padded.
func uint64At(b []byte) uint64 {
	var p [8]byte
	copy(p[:], b)
	return binary.BigEndian.Uint64(p[:])
}

// pick returns the first member at or after a random point between the
// first and last member, wrapping around to the first.
func (p *setProber) pick() ([]byte, error) {
	r := p.lo
	if span := p.hi - p.lo; span == math.MaxUint64 {
		r = rand.Uint64()
	} else {
		r += rand.Uint64N(span + 1)
	}
	probe := binary.BigEndian.AppendUint64(bytes.Clone(p.prefix), r)
	var out []byte
	err := p.c.DB.ScanMembers(p.key, p.m, probe, nil, false, func(member, _ []byte) error {
		out = bytes.Clone(member)
		return keyspace.ErrStop
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = p.first
	}
	return out, nil
}

// randomMember returns one random member of the non-empty set m at key.
func randomMember(c *Ctx, key []byte, m *keyspace.Meta) ([]byte, error) {
	if m.Size <= randomScanMax {
		return memberAt(c, key, m, rand.Uint64N(m.Size))
	}
	p, err := newSetProber(c, key, m)
	if err != nil {
		return nil, err
	}
	return p.pick()
}

// sampleMembers returns k distinct members of set m at key, chosen
// uniformly in one pass (Knuth's selection sampling), in byte order.
func sampleMembers(c *Ctx, key []byte, m *keyspace.Meta, k uint64) ([][]byte, error) {
	var out [][]byte
	seen := uint64(0)
	err := c.DB.ScanMembers(key, m, nil, nil, false, func(member, _ []byte) error {
		need := k - uint64(len(out))
		if need == 0 {
			return keyspace.ErrStop
		}
		left := m.Size - seen
		seen++
		// Take each member with probability need/left; left <= need
		// (always take) also covers a Size that undercounts.
		if left <= need || rand.Uint64N(left) < need {
			out = append(out, bytes.Clone(member))
		}
		return nil
	})
	return out, err
}

// distinctRandomMembers returns k < m.Size distinct random members of set m
// at key. passMul is the caller's Redis threshold for a whole-set pass.
func distinctRandomMembers(c *Ctx, key []byte, m *keyspace.Meta, k uint64, passMul uint64) ([][]byte, error) {
	if m.Size <= randomScanMax || k > m.Size/passMul {
		return sampleMembers(c, key, m, k)
	}
	p, err := newSetProber(c, key, m)
	if err != nil {
		return nil, err
	}
	picked := make(map[string]bool)
	var out [][]byte
	// Seeks favour some members, so repeats are likelier than in a uniform
	// draw; past this many attempts one pass is cheaper.
	for attempts := 4*k + 64; attempts > 0 && uint64(len(out)) < k; attempts-- {
		member, err := p.pick()
		if err != nil {
			return nil, err
		}
		if !picked[string(member)] {
			picked[string(member)] = true
			out = append(out, member)
		}
	}
	if uint64(len(out)) < k {
		return sampleMembers(c, key, m, k)
	}
	return out, nil
}

func spopCmd(c *Ctx) error {
	if len(c.Args) > 3 {
		return ErrSyntax
	}
	key := c.Args[1]
	if len(c.Args) == 3 {
		return spopCountCmd(c, key)
	}
	m, ok, err := getSet(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	member, err := randomMember(c, key, &m)
	if err != nil {
		return err
	}
	if member == nil {
		return errCorruptSet
	}
	if _, err := setRemove(c, key, &m, member); err != nil {
		return err
	}
	if err := c.DB.SaveCollection(key, &m); err != nil {
		return err
	}
	c.W.Bulk(member)
	return nil
}

func spopCountCmd(c *Ctx, key []byte) error {
	n, ok := ParseInt(c.Args[2])
	if !ok || n < 0 {
		return errMustBePositive
	}
	count := uint64(n)
	m, ok, err := getSet(c, key)
	if err != nil {
		return err
	}
	if !ok || count == 0 {
		c.W.Set(0)
		return nil
	}
	if count >= m.Size {
		// The whole set: Redis replies it as SUNION would (a fresh set,
		// numeric order when it fits an intset) and deletes the key (one
		// write here: the members go to the collector).
		out, err := setMembers(c, key, &m)
		if err != nil {
			return err
		}
		if fitsIntset(c, out) {
			sortNumeric(out)
		}
		if _, err := c.DB.Delete(key); err != nil {
			return err
		}
		replyMembers(c, out)
		return nil
	}
	// Every pick is read before any delete, so no scan has to merge this
	// transaction's own deletes.
	out, err := distinctRandomMembers(c, key, &m, count, spopPassMul)
	if err != nil {
		return err
	}
	for _, member := range out {
		if _, err := setRemove(c, key, &m, member); err != nil {
			return err
		}
	}
	if err := c.DB.SaveCollection(key, &m); err != nil {
		return err
	}
	replyMembers(c, out)
	return nil
}

func srandmemberCmd(c *Ctx) error {
	if len(c.Args) > 3 {
		return ErrSyntax
	}
	key := c.Args[1]
	if len(c.Args) == 3 {
		return srandmemberCountCmd(c, key)
	}
	m, ok, err := getSet(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	member, err := randomMember(c, key, &m)
	if err != nil {
		return err
	}
	if member == nil {
		return errCorruptSet
	}
	c.W.Bulk(member)
	return nil
}

func srandmemberCountCmd(c *Ctx, key []byte) error {
	n, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	if n == math.MinInt64 {
		return errSrandmemberRange
	}
	m, ok, err := getSet(c, key)
	if err != nil {
		return err
	}
	if !ok || n == 0 {
		c.W.Array(0)
		return nil
	}
	if n < 0 {
		return srandmemberRepeat(c, key, &m, uint64(-n))
	}
	count := uint64(n)
	if count >= m.Size {
		out, err := orderedMembers(c, key, &m)
		if err != nil {
			return err
		}
		replyArray(c, out)
		return nil
	}
	out, err := distinctRandomMembers(c, key, &m, count, srandmemberPassMul)
	if err != nil {
		return err
	}
	replyArray(c, out)
	return nil
}

// srandmemberRepeat answers SRANDMEMBER with a negative count: k members
// drawn independently, so they may repeat.
func srandmemberRepeat(c *Ctx, key []byte, m *keyspace.Meta, k uint64) error {
	if k > maxRandomReply {
		return errRandomReplyTooLong
	}
	if m.Size <= randomScanMax || k >= m.Size {
		// Reading the set costs no more than the reply.
		all, err := setMembers(c, key, m)
		if err != nil {
			return err
		}
		if len(all) == 0 {
			c.W.Array(0)
			return nil
		}
		c.W.Array(int(k))
		for range k {
			c.W.Bulk(all[rand.IntN(len(all))])
		}
		return nil
	}
	p, err := newSetProber(c, key, m)
	if err != nil {
		return err
	}
	c.W.Array(int(k))
	for range k {
		member, err := p.pick()
		if err != nil {
			return err
		}
		c.W.Bulk(member)
	}
	return nil
}

// ---- SINTER, SUNION, SDIFF and their variants ----

// setOp selects the algebra of setAlgebraCmd.
type setOp int

const (
	setInter setOp = iota
	setUnion
	setDiff
)

// setOperand is one key argument of a set algebra command.
type setOperand struct {
	key    []byte
	m      keyspace.Meta
	exists bool
}

// lookupSets reads the metadata of every key, in order, as Redis does
// before computing anything: a missing key is an empty set, and the first
// key holding another type fails the command.
func lookupSets(c *Ctx, keys [][]byte) ([]setOperand, error) {
	ops := make([]setOperand, len(keys))
	for i, key := range keys {
		m, ok, err := getSet(c, key)
		if err != nil {
			return nil, err
		}
		ops[i] = setOperand{key: key, m: m, exists: ok}
	}
	return ops, nil
}

// interSets calls emit for the members common to every operand, walking
// the smallest set and probing the others with point reads, as Redis
// does. emit returning keyspace.ErrStop ends the walk.
func interSets(c *Ctx, ops []setOperand, emit func(member []byte) error) error {
	for i := range ops {
		if !ops[i].exists {
			return nil // intersecting with an empty set
		}
	}
	order := make([]*setOperand, len(ops))
	for i := range ops {
		order[i] = &ops[i]
	}
	slices.SortStableFunc(order, func(a, b *setOperand) int {
		switch {
		case a.m.Size < b.m.Size:
			return -1
		case a.m.Size > b.m.Size:
			return 1
		}
		return 0
	})
	first, others := order[0], order[1:]
	return forEachSetBatch(c, first.key, &first.m, func(members [][]byte) error {
	next:
		for _, member := range members {
			for _, o := range others {
				if bytes.Equal(o.key, first.key) {
					continue
				}
				has, err := setHas(c, o.key, &o.m, member)
				if err != nil {
					return err
				}
				if !has {
					continue next
				}
			}
			if err := emit(member); err != nil {
				return err
			}
		}
		return nil
	})
}

// unionSets returns the members of any operand, in byte order.
func unionSets(c *Ctx, ops []setOperand) ([][]byte, error) {
	seen := map[string]bool{}
	var out [][]byte
	for i := range ops {
		o := &ops[i]
		if !o.exists {
			continue
		}
		err := c.DB.ScanMembers(o.key, &o.m, nil, nil, false, func(member, _ []byte) error {
			if !seen[string(member)] {
				seen[string(member)] = true
				out = append(out, bytes.Clone(member))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return out, nil
}

// diffSets returns the members of the first operand that no other operand
// has, in byte order.
func diffSets(c *Ctx, ops []setOperand) ([][]byte, error) {
	first := &ops[0]
	if !first.exists {
		return nil, nil
	}
	var others []*setOperand
	for i := 1; i < len(ops); i++ {
		o := &ops[i]
		if !o.exists {
			continue
		}
		if bytes.Equal(o.key, first.key) {
			return nil, nil // a set minus itself
		}
		others = append(others, o)
	}
	var out [][]byte
	err := forEachSetBatch(c, first.key, &first.m, func(members [][]byte) error {
	next:
		for _, member := range members {
			for _, o := range others {
				has, err := setHas(c, o.key, &o.m, member)
				if err != nil {
					return err
				}
				if has {
					continue next
				}
			}
			out = append(out, member)
		}
		return nil
	})
	return out, err
}

// fitsIntset reports whether Redis 7.0 would hold members, added one by
// one to a fresh intset, as an intset.
func fitsIntset(c *Ctx, members [][]byte) bool {
	if int64(len(members)) > c.setIntsetLimit() {
		return false
	}
	for _, b := range members {
		if !isIntsetMember(b) {
			return false
		}
	}
	return true
}

// setAlgebraCmd implements SINTER, SUNION and SDIFF, and with store their
// *STORE forms (destination first).
func setAlgebraCmd(c *Ctx, op setOp, store bool) error {
	keys := c.Args[1:]
	var dst []byte
	if store {
		dst, keys = keys[0], keys[1:]
	}
	ops, err := lookupSets(c, keys)
	if err != nil {
		return err
	}
	var out [][]byte
	switch op {
	case setInter:
		// In byte order: the smallest operand's scan order.
		err = interSets(c, ops, func(member []byte) error {
			out = append(out, member)
			return nil
		})
	case setUnion:
		out, err = unionSets(c, ops)
	case setDiff:
		out, err = diffSets(c, ops)
	}
	if err != nil {
		return err
	}
	// Redis builds the SUNION/SDIFF result and every *STORE result as a
	// fresh set, which is an intset (numeric order) when it qualifies.
	// SINTER replies while walking its smallest operand; when any operand
	// is an intset every result is an integer, and numeric order is the
	// intset's (or as good as Redis's unspecified hash order).
	intset := fitsIntset(c, out)
	numeric := intset
	if op == setInter && !store {
		numeric = false
		for i := range ops {
			numeric = numeric || !ops[i].m.Big
		}
	}
	if numeric {
		sortNumeric(out)
	}
	if !store {
		replyMembers(c, out)
		return nil
	}
	// The result replaces dst whatever it held (and its TTL); an empty
	// result deletes it.
	if _, err := c.DB.Delete(dst); err != nil {
		return err
	}
	if len(out) > 0 {
		m := c.DB.NewCollection(keyspace.TypeSet)
		m.Big = !intset
		for _, member := range out {
			if err := c.DB.Txn().Set(c.DB.MemberKey(dst, &m, member), nil); err != nil {
				return err
			}
		}
		m.Size = uint64(len(out))
		if err := c.DB.SaveCollection(dst, &m); err != nil {
			return err
		}
	}
	c.W.Int(int64(len(out)))
	return nil
}

func sinterCmd(c *Ctx) error { return setAlgebraCmd(c, setInter, false) }

// sintercardCmd implements SINTERCARD numkeys key [key ...] [LIMIT limit].
func sintercardCmd(c *Ctx) error {
	numkeys, ok := ParseInt(c.Args[1])
	if !ok || numkeys < 1 {
		return errNumkeysPositive
	}
	if numkeys > int64(len(c.Args)-2) {
		return errNumkeysTooMany
	}
	keys := c.Args[2 : 2+numkeys]
	limit := int64(0)
	for rest := c.Args[2+numkeys:]; len(rest) > 0; rest = rest[2:] {
		if !argIs(rest[0], "limit") || len(rest) < 2 {
			return ErrSyntax
		}
		n, ok := ParseInt(rest[1])
		if !ok || n < 0 {
			return errLimitNegative
		}
		limit = n
	}
	ops, err := lookupSets(c, keys)
	if err != nil {
		return err
	}
	n := int64(0)
	err = interSets(c, ops, func([]byte) error {
		n++
		if limit > 0 && n >= limit {
			return keyspace.ErrStop
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.W.Int(n)
	return nil
}

// sscanCmd implements SSCAN key cursor [MATCH pattern] [COUNT count]. As
// in Redis, a bad cursor fails first, then the key is looked up (a missing
// key answers an empty page whatever the options), then the options.
func sscanCmd(c *Ctx) error {
	key := c.Args[1]
	cursor, err := parseCursor(c.Args[2])
	if err != nil {
		return err
	}
	m, ok, err := getSet(c, key)
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
	next, err := collScan(c, key, &m, nil, cursor, o, func(member, _ []byte) {
		out = append(out, bytes.Clone(member))
	})
	if err != nil {
		return err
	}
	if !m.Big {
		sortNumeric(out) // an intset is returned whole, in its order
	}
	writeScanReply(c, next, out)
	return nil
}
