package commands

import (
	"bytes"
	"encoding/binary"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// collScanOptions are the options of HSCAN, SSCAN and ZSCAN.
type collScanOptions struct {
	count   int64
	pattern []byte // nil: everything
}

// parseCollScanOptions parses [MATCH pattern] [COUNT count] as Redis 7.0's
// scanGenericCommand does for a key (TYPE is only accepted by SCAN).
func parseCollScanOptions(args [][]byte) (collScanOptions, error) {
	o := collScanOptions{count: 10}
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return o, ErrSyntax
		}
		opt, val := args[i], args[i+1]
		switch {
		case argIs(opt, "count"):
			n, err := intArg(val)
			if err != nil {
				return o, ErrNotInteger
			}
			if n < 1 {
				return o, ErrSyntax
			}
			o.count = n
		case argIs(opt, "match"):
			o.pattern = val
			if len(val) == 1 && val[0] == '*' {
				o.pattern = nil
			}
		default:
			return o, ErrSyntax
		}
	}
	return o, nil
}

// scanCursorPrefixLen is how many leading member bytes a collection scan
// cursor carries.
const scanCursorPrefixLen = 7

// collScan returns one page of the members of collection m whose member
// records start with sub (nil for hashes and sets; the zset member tag for
// sorted sets), and the cursor of the next page (0: done). MATCH filters
// members after they are selected, as in Redis. member and value passed to
// emit are only valid during the call.
//
// Redis returns a compact (non-Big) collection whole with cursor 0, and so
// does this. For a Big collection the cursor is stateless, like Redis's:
// 1 + the first 7 bytes of the next member (zero padded) as a big-endian
// number. A page always ends where that prefix changes, so a run of members
// sharing 7 leading bytes is never split, every member is returned exactly
// once, and a member added or removed mid-scan only affects itself.
func collScan(c *Ctx, key []byte, m *keyspace.Meta, sub []byte, cursor uint64, o collScanOptions,
	emit func(member, value []byte)) (next uint64, err error) {
	var from []byte = bytes.Clone(sub)
	if m.Big && cursor != 0 {
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], cursor-1)
		start := bytes.TrimRight(p[1:], "\x00")
		from = append(from, start...)
	}
	var to []byte
	if len(sub) > 0 {
		to = append(bytes.Clone(sub[:len(sub)-1]), sub[len(sub)-1]+1)
	}
	n := int64(0)
	var lastPrefix []byte
	err = c.DB.ScanMembers(key, m, from, to, false, func(suffix, value []byte) error {
		member := suffix[len(sub):]
		if m.Big && n >= o.count {
			p := cursorPrefix(member)
			if !bytes.Equal(p, lastPrefix) {
				next = 1 + binary.BigEndian.Uint64(append([]byte{0}, p...))
				return keyspace.ErrStop
			}
		}
		n++
		if m.Big {
			lastPrefix = cursorPrefix(member)
		}
		if o.pattern == nil || GlobMatch(o.pattern, member, false) {
			emit(member, value)
		}
		return nil
	})
	return next, err
}

// cursorPrefix returns the first scanCursorPrefixLen bytes of member,
// zero padded.
func cursorPrefix(member []byte) []byte {
	p := make([]byte, scanCursorPrefixLen)
	copy(p, member)
	return p
}
