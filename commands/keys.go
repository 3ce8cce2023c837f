package commands

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// registerKeys registers the generic keyspace commands: DEL, UNLINK,
// EXISTS, TYPE, RENAME, RENAMENX, COPY, MOVE, KEYS, SCAN, RANDOMKEY, TOUCH,
// DBSIZE, FLUSHDB, FLUSHALL, SWAPDB's helpers and OBJECT; expiry commands
// are in expire.go.
func registerKeys(t *Table) {
	del := perKeyCount(func(c *Ctx, k []byte) (bool, error) { return c.DB.Delete(k) })
	t.Register(&Command{Name: "del", Data: true, Handler: del})
	t.Register(&Command{Name: "unlink", Data: true, Handler: del})
	countExisting := perKeyCount(func(c *Ctx, k []byte) (bool, error) { return c.DB.Exists(k) })
	t.Register(&Command{Name: "exists", Data: true, Handler: countExisting})
	t.Register(&Command{Name: "touch", Data: true, Handler: countExisting})
	t.Register(&Command{Name: "type", Data: true, Handler: func(c *Ctx) error {
		m, ok, err := c.DB.Lookup(c.Args[1])
		if err != nil {
			return err
		}
		if !ok {
			c.W.Simple("none")
			return nil
		}
		c.W.Simple(m.Type.String())
		return nil
	}})
	t.Register(&Command{Name: "rename", Data: true, Handler: func(c *Ctx) error { return rename(c, false) }})
	t.Register(&Command{Name: "renamenx", Data: true, Handler: func(c *Ctx) error { return rename(c, true) }})
	t.Register(&Command{Name: "copy", Data: true, Handler: copyCmd})
	t.Register(&Command{Name: "move", Data: true, Handler: move})
	t.Register(&Command{Name: "keys", Data: true, Keys: noKeys, Handler: func(c *Ctx) error {
		var out [][]byte
		pat := c.Args[1]
		all := len(pat) == 1 && pat[0] == '*'
		err := c.DB.ForEachKey(func(key []byte, _ *keyspace.Meta) error {
			if all || GlobMatch(pat, key, false) {
				out = append(out, bytes.Clone(key))
			}
			return nil
		})
		if err != nil {
			return err
		}
		c.W.Array(len(out))
		for _, k := range out {
			c.W.Bulk(k)
		}
		return nil
	}})
	t.Register(&Command{Name: "scan", Data: true, Keys: noKeys, Handler: scan})
	t.Register(&Command{Name: "randomkey", Data: true, Keys: noKeys, Handler: func(c *Ctx) error {
		// Reservoir sampling over one pass: uniform without a count pass.
		var pick []byte
		n := 0
		err := c.DB.ForEachKey(func(key []byte, _ *keyspace.Meta) error {
			n++
			if rand.IntN(n) == 0 {
				pick = bytes.Clone(key)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n == 0 {
			c.W.Null()
			return nil
		}
		c.W.Bulk(pick)
		return nil
	}})
	t.Register(&Command{Name: "dbsize", Data: true, Keys: noKeys, Handler: func(c *Ctx) error {
		n, err := countKeys(c.DB)
		if err != nil {
			return err
		}
		c.W.Int(n)
		return nil
	}})
	flush := func(all bool) Handler {
		return func(c *Ctx) error {
			if len(c.Args) > 2 || (len(c.Args) == 2 && !argIs(c.Args[1], "async") && !argIs(c.Args[1], "sync")) {
				return ErrSyntax
			}
			if !all {
				if err := c.DB.Flush(); err != nil {
					return err
				}
			} else {
				for db := 0; db < keys.MaxDB; db++ {
					if err := c.DB.WithDB(db).Flush(); err != nil {
						return err
					}
				}
			}
			c.W.OK()
			return nil
		}
	}
	t.Register(&Command{Name: "flushdb", Data: true, Keys: noKeys, Handler: flush(false)})
	t.Register(&Command{Name: "flushall", Data: true, Keys: noKeys, Handler: flush(true)})
	registerObject(t)
}

// countKeys counts the live keys of a database.
func countKeys(db *keyspace.DB) (int64, error) {
	n := int64(0)
	err := db.ForEachKey(func([]byte, *keyspace.Meta) error { n++; return nil })
	return n, err
}

// perKeyCount returns a handler that applies f to every key argument and
// replies how many it reported true for (DEL, UNLINK, EXISTS, TOUCH).
func perKeyCount(f func(c *Ctx, key []byte) (bool, error)) Handler {
	return func(c *Ctx) error {
		n := int64(0)
		for _, k := range c.Args[1:] {
			ok, err := f(c, k)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		c.W.Int(n)
		return nil
	}
}

// copyValue writes the value m of src (in database from) to dst (in
// database to), replacing dst, with m's expiry (RENAME, COPY and MOVE all
// keep it, as in Redis). Collections get their members copied under a
// fresh version, the transaction's, with their encoding flag: dst is
// deleted first, so members of an old dst written by this same
// transaction (same version) are gone before the copies land.
func copyValue(from *keyspace.DB, src []byte, m keyspace.Meta, to *keyspace.DB, dst []byte) error {
	if _, err := to.Delete(dst); err != nil {
		return err
	}
	if m.Type == keyspace.TypeString {
		return to.Put(dst, &m)
	}
	oldVersion := m.Version
	m.Version = to.NewCollection(m.Type).Version
	lower := keys.MemberPrefix(from.Index(), src, oldVersion)
	type rec struct{ member, value []byte }
	var recs []rec
	err := from.Txn().Scan(lower, keys.PrefixEnd(lower), false, func(k, v []byte) error {
		recs = append(recs, rec{bytes.Clone(k[len(lower):]), bytes.Clone(v)})
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := to.Txn().Set(keys.MemberKey(to.Index(), dst, m.Version, r.member), r.value); err != nil {
			return err
		}
	}
	return to.Put(dst, &m)
}

// rename implements RENAME and RENAMENX.
func rename(c *Ctx, nx bool) error {
	src, dst := c.Args[1], c.Args[2]
	m, ok, err := c.DB.Lookup(src)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoSuchKey
	}
	if bytes.Equal(src, dst) {
		if nx {
			c.W.Int(0)
		} else {
			c.W.OK()
		}
		return nil
	}
	if nx {
		exists, err := c.DB.Exists(dst)
		if err != nil {
			return err
		}
		if exists {
			c.W.Int(0)
			return nil
		}
	}
	if err := copyValue(c.DB, src, m, c.DB, dst); err != nil {
		return err
	}
	if _, err := c.DB.Delete(src); err != nil {
		return err
	}
	if nx {
		c.W.Int(1)
	} else {
		c.W.OK()
	}
	return nil
}

// parseDB parses a database index argument (SELECT, MOVE, COPY DB).
func parseDB(b []byte) (int, error) {
	n, err := intArg(b)
	if err != nil {
		return 0, ErrNotInteger
	}
	if n < 0 || n >= keys.MaxDB {
		return 0, ErrDBIndex
	}
	return int(n), nil
}

// copyCmd implements COPY source destination [DB n] [REPLACE].
func copyCmd(c *Ctx) error {
	src, dst := c.Args[1], c.Args[2]
	dbIdx := c.DB.Index()
	replace := false
	for i := 3; i < len(c.Args); i++ {
		switch {
		case argIs(c.Args[i], "replace"):
			replace = true
		case argIs(c.Args[i], "db") && i+1 < len(c.Args):
			n, err := parseDB(c.Args[i+1])
			if err != nil {
				return err
			}
			dbIdx = n
			i++
		default:
			return ErrSyntax
		}
	}
	if dbIdx == c.DB.Index() && bytes.Equal(src, dst) {
		return errSameObject
	}
	m, ok, err := c.DB.Lookup(src)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	to := c.DB.WithDB(dbIdx)
	if !replace {
		exists, err := to.Exists(dst)
		if err != nil {
			return err
		}
		if exists {
			c.W.Int(0)
			return nil
		}
	}
	if err := copyValue(c.DB, src, m, to, dst); err != nil {
		return err
	}
	c.W.Int(1)
	return nil
}

// move implements MOVE key db.
func move(c *Ctx) error {
	dbIdx, err := parseDB(c.Args[2])
	if err != nil {
		return err
	}
	if dbIdx == c.DB.Index() {
		return errSameObject
	}
	key := c.Args[1]
	m, ok, err := c.DB.Lookup(key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	to := c.DB.WithDB(dbIdx)
	exists, err := to.Exists(key)
	if err != nil {
		return err
	}
	if exists {
		c.W.Int(0)
		return nil
	}
	if err := copyValue(c.DB, key, m, to, key); err != nil {
		return err
	}
	if _, err := c.DB.Delete(key); err != nil {
		return err
	}
	c.W.Int(1)
	return nil
}

// parseCursor parses a SCAN cursor as Redis's strtoull does (a leading '-'
// wraps around).
func parseCursor(b []byte) (uint64, error) {
	// Redis uses strtoul: "" is 0, one optional sign, then digits only;
	// a negative cursor wraps around; overflow is an error.
	s := string(b)
	if s == "" {
		return 0, nil
	}
	neg := s[0] == '-'
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, errInvalidCursor
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errInvalidCursor
	}
	if neg {
		n = -n
	}
	return n, nil
}

// scan implements SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
// The cursor is the next hash slot to visit; each call returns whole slots
// until at least COUNT keys were examined.
func scan(c *Ctx) error {
	cursor, err := parseCursor(c.Args[1])
	if err != nil {
		return err
	}
	count := int64(10)
	var pattern []byte
	typeName := ""
	hasType := false
	for i := 2; i < len(c.Args); i += 2 {
		if i+1 >= len(c.Args) {
			return ErrSyntax
		}
		opt, val := c.Args[i], c.Args[i+1]
		switch {
		case argIs(opt, "count"):
			n, err := intArg(val)
			if err != nil {
				return ErrNotInteger
			}
			if n < 1 {
				return ErrSyntax
			}
			count = n
		case argIs(opt, "match"):
			pattern = val
			if len(pattern) == 1 && pattern[0] == '*' {
				pattern = nil
			}
		case argIs(opt, "type"):
			typeName, hasType = strings.ToLower(string(val)), true
		default:
			return ErrSyntax
		}
	}
	var out [][]byte
	next := uint64(0)
	if cursor < keys.NumSlots {
		// Whole slots are examined until COUNT keys were: the cursor is
		// the slot after the last one examined (0 once the walk is done).
		examined := int64(0)
		last := int(cursor) - 1
		err := c.DB.ScanKeys(int(cursor), keys.NumSlots, func(slot int, key []byte, m *keyspace.Meta) error {
			if slot != last && examined >= count {
				return keyspace.ErrStop
			}
			last = slot
			examined++
			if pattern != nil && !GlobMatch(pattern, key, false) {
				return nil
			}
			if hasType && m.Type.String() != typeName {
				return nil
			}
			out = append(out, bytes.Clone(key))
			return nil
		})
		if err != nil {
			return err
		}
		if examined >= count && last+1 < keys.NumSlots {
			next = uint64(last + 1)
		}
	}
	writeScanReply(c, next, out)
	return nil
}

// swapDB implements SWAPDB a b by rewriting every record of both databases
// (O(number of records); see docs/compatibility.md).
func swapDB(c *Ctx) error {
	a, err := intArg(c.Args[1])
	if err != nil {
		return errFirstDBIndex
	}
	b, err := intArg(c.Args[2])
	if err != nil {
		return errSecondDBIndex
	}
	if a < 0 || a >= keys.MaxDB || b < 0 || b >= keys.MaxDB {
		return ErrDBIndex
	}
	if a == b {
		c.W.OK()
		return nil
	}
	other := func(db int) int {
		if db == int(a) {
			return int(b)
		}
		return int(a)
	}
	type rec struct{ oldKey, newKey, value []byte }
	var recs []rec
	txn := c.DB.Txn()
	err = txn.Scan(nil, nil, false, func(k, v []byte) error {
		if db, key, at, ok := keys.DecodeExpiryIndexKey(k); ok {
			if db == int(a) || db == int(b) {
				recs = append(recs, rec{bytes.Clone(k), keys.ExpiryIndexKey(other(db), key, at), bytes.Clone(v)})
			}
			return nil
		}
		// The garbage queue names the database of the orphaned members,
		// which move with their database: the entries must follow them
		// or the collector would look for them in the wrong place.
		if db, key, version, ok := keys.DecodeGCQueueKey(k); ok {
			if db == int(a) || db == int(b) {
				recs = append(recs, rec{bytes.Clone(k), keys.GCQueueKey(other(db), key, version), bytes.Clone(v)})
			}
			return nil
		}
		if db, key, suffix, ok := keys.DecodeMetaKey(k); ok && (db == int(a) || db == int(b)) {
			nk := append(keys.MetaKey(other(db), key), suffix...)
			recs = append(recs, rec{bytes.Clone(k), nk, bytes.Clone(v)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := txn.Delete(r.oldKey); err != nil {
			return err
		}
	}
	for _, r := range recs {
		if err := txn.Set(r.newKey, r.value); err != nil {
			return err
		}
	}
	c.W.OK()
	return nil
}

// registerObject registers OBJECT and its subcommands.
func registerObject(t *Table) {
	t.Register(&Command{Name: "object"})
	lookup := func(c *Ctx) (keyspace.Meta, bool, error) { return c.DB.Lookup(c.Args[2]) }
	t.Register(&Command{Name: "object|encoding", Data: true, Handler: func(c *Ctx) error {
		m, ok, err := lookup(c)
		if err != nil {
			return err
		}
		if !ok {
			c.W.Null()
			return nil
		}
		c.W.BulkString(objectEncoding(&m))
		return nil
	}})
	t.Register(&Command{Name: "object|freq", Data: true, Handler: func(c *Ctx) error {
		_, ok, err := lookup(c)
		if err != nil {
			return err
		}
		if !ok {
			c.W.Null()
			return nil
		}
		return errLFUPolicy
	}})
	t.Register(&Command{Name: "object|idletime", Data: true, Handler: func(c *Ctx) error {
		_, ok, err := lookup(c)
		if err != nil {
			return err
		}
		if !ok {
			c.W.Null()
			return nil
		}
		c.W.Int(0)
		return nil
	}})
	t.Register(&Command{Name: "object|refcount", Data: true, Handler: func(c *Ctx) error {
		m, ok, err := lookup(c)
		if err != nil {
			return err
		}
		if !ok {
			c.W.Null()
			return nil
		}
		// Redis shares the integers 0..9999 (OBJ_SHARED_REFCOUNT).
		if m.Type == keyspace.TypeString {
			if n, err := intArg(m.Value); err == nil && n >= 0 && n < 10000 {
				c.W.Int(2147483647)
				return nil
			}
		}
		c.W.Int(1)
		return nil
	}})
	t.Register(&Command{Name: "object|help", Handler: func(c *Ctx) error { return writeHelp(c, "object") }})
}

// objectEncoding is the encoding OBJECT ENCODING reports. Strings follow
// Redis's rules for values set by SET (or the flag left by the command
// that made them); collections report the compact or the large encoding
// as recorded in Meta.Big by the commands that wrote them.
func objectEncoding(m *keyspace.Meta) string {
	switch m.Type {
	case keyspace.TypeString:
		if m.Enc == keyspace.StringEncRaw {
			return "raw"
		}
		if m.Enc == keyspace.StringEncAuto && len(m.Value) <= 20 {
			if _, err := intArg(m.Value); err == nil {
				return "int"
			}
		}
		if len(m.Value) <= 44 {
			return "embstr"
		}
		return "raw"
	case keyspace.TypeList:
		// Redis 7.0 keeps every list in a quicklist (7.2 added listpack
		// lists).
		return "quicklist"
	case keyspace.TypeHash:
		if m.Big {
			return "hashtable"
		}
		return "listpack"
	case keyspace.TypeSet:
		// Redis 7.0 has no listpack sets: intset until a non-integer member
		// or set-max-intset-entries, then hashtable.
		if m.Big {
			return "hashtable"
		}
		return "intset"
	case keyspace.TypeZSet:
		if m.Big {
			return "skiplist"
		}
		return "listpack"
	case keyspace.TypeStream:
		return "stream"
	}
	return "raw"
}
