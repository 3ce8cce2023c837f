package commands

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"sync"

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

// collScan returns one page of the members of collection m whose member
// records start with sub (nil for hashes and sets; the zset member tag for
// sorted sets), and the cursor of the next page (0: done). MATCH filters
// members after they are selected, as in Redis. member and value passed to
// emit are only valid during the call.
//
// Redis returns a compact (non-Big) collection whole with cursor 0, and so
// does this. For a Big collection the cursor must name a position among
// members ordered by their bytes, which 64 bits cannot hold, so it has two
// parts: the first 6 bytes of the next member and the index of a slot in a
// node-local table that remembers the whole member. Resuming finds the
// exact member in the table; if the slot was reused, or the cursor comes
// from another node or before a restart, the scan resumes at the 6-byte
// prefix instead, which may repeat members (SCAN allows that) but never
// skips one.
func collScan(c *Ctx, key []byte, m *keyspace.Meta, sub []byte, cursor uint64, o collScanOptions,
	emit func(member, value []byte)) (next uint64, err error) {
	from := bytes.Clone(sub)
	if m.Big && cursor != 0 {
		from = append(from, scanCursors.resume(c.DB.Index(), key, m.Version, cursor-1)...)
	}
	var to []byte
	if len(sub) > 0 {
		to = append(bytes.Clone(sub[:len(sub)-1]), sub[len(sub)-1]+1)
	}
	n := int64(0)
	err = c.DB.ScanMembers(key, m, from, to, false, func(suffix, value []byte) error {
		member := suffix[len(sub):]
		if m.Big && n >= o.count {
			next = 1 + scanCursors.save(c.DB.Index(), key, m.Version, member)
			return keyspace.ErrStop
		}
		n++
		if o.pattern == nil || GlobMatch(o.pattern, member, false) {
			emit(member, value)
		}
		return nil
	})
	return next, err
}

const (
	cursorSlotBits   = 15
	cursorPrefixLen  = 6
	cursorMaxEntry   = 4096 // key + member bytes remembered per slot
	cursorTableSlots = 1 << cursorSlotBits
)

// cursorTable remembers where Big collection scans stopped. Each page
// takes the next slot round-robin, so a cursor stays exact until
// cursorTableSlots later pages anywhere on the node.
type cursorTable struct {
	mu    sync.Mutex
	next  int
	slots [cursorTableSlots]cursorEntry
}

type cursorEntry struct {
	db      int
	version uint64
	key     []byte
	member  []byte
}

var scanCursors = &cursorTable{}

// save remembers member as the next position of a scan and returns the
// cursor value (before the +1 that keeps 0 meaning "done").
func (t *cursorTable) save(db int, key []byte, version uint64, member []byte) uint64 {
	var prefix [8]byte
	copy(prefix[2:], member) // 6 bytes
	c := binary.BigEndian.Uint64(prefix[:]) << cursorSlotBits
	if len(key)+len(member) > cursorMaxEntry {
		return c | cursorTableSlots - 1 // never matches: resume at the prefix
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.next
	t.next = (t.next + 1) % (cursorTableSlots - 1)
	t.slots[i] = cursorEntry{db: db, version: version, key: bytes.Clone(key), member: bytes.Clone(member)}
	return c | uint64(i)
}

// resume returns the member bytes to continue a scan from.
func (t *cursorTable) resume(db int, key []byte, version uint64, c uint64) []byte {
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], c>>cursorSlotBits)
	prefix := p[2:]
	i := int(c & (cursorTableSlots - 1))
	t.mu.Lock()
	e := t.slots[i]
	t.mu.Unlock()
	if e.key != nil && e.db == db && e.version == version && bytes.Equal(e.key, key) &&
		bytes.Equal(cursorPrefixOf(e.member), prefix) {
		return e.member
	}
	return bytes.TrimRight(prefix, "\x00")
}

// cursorPrefixOf returns the first cursorPrefixLen bytes of member, zero
// padded.
func cursorPrefixOf(member []byte) []byte {
	p := make([]byte, cursorPrefixLen)
	copy(p, member)
	return p
}

// writeScanReply writes a SCAN-family reply: the next cursor and the items.
func writeScanReply(c *Ctx, next uint64, items [][]byte) {
	c.W.Array(2)
	c.W.BulkString(strconv.FormatUint(next, 10))
	replyArray(c, items)
}

// writeEmptyScan is the reply to HSCAN/SSCAN/ZSCAN of a missing key.
func writeEmptyScan(c *Ctx) { writeScanReply(c, 0, nil) }
