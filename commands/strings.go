package commands

import (
	"math"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// String commands. A string lives whole in its key's metadata record
// (keyspace.Meta.Value). Commands that modify a string in place (APPEND,
// SETRANGE, INCR*, SETBIT, BITFIELD) keep the key's TTL, as Redis does;
// commands that replace the value (SET without KEEPTTL, GETSET, MSET,
// SETEX) clear or set it.

func registerStrings(t *Table) {
	for _, c := range []*Command{
		{Name: "get", Handler: getCmd},
		{Name: "set", Handler: setCmd},
		{Name: "setnx", Handler: setnxCmd},
		{Name: "setex", Handler: setexCmd},
		{Name: "psetex", Handler: psetexCmd},
		{Name: "getset", Handler: getsetCmd},
		{Name: "getdel", Handler: getdelCmd},
		{Name: "getex", Handler: getexCmd},
		{Name: "mget", Handler: mgetCmd},
		{Name: "mset", Handler: msetCmd},
		{Name: "msetnx", Handler: msetnxCmd},
		{Name: "append", Handler: appendCmd},
		{Name: "strlen", Handler: strlenCmd},
		{Name: "getrange", Handler: getrangeCmd},
		{Name: "substr", Handler: getrangeCmd},
		{Name: "setrange", Handler: setrangeCmd},
		{Name: "incr", Handler: incrCmd},
		{Name: "decr", Handler: decrCmd},
		{Name: "incrby", Handler: incrbyCmd},
		{Name: "decrby", Handler: decrbyCmd},
		{Name: "incrbyfloat", Handler: incrbyfloatCmd},
		{Name: "lcs", Handler: lcsCmd},
	} {
		c.Data = true
		t.Register(c)
	}
}

// defaultProtoMaxBulkLen is Redis's default proto-max-bulk-len (512MB).
const defaultProtoMaxBulkLen = 512 << 20

// protoMaxBulkLen returns the configured proto-max-bulk-len in bytes.
func protoMaxBulkLen(c *Ctx) int64 {
	if c.Env != nil && c.Env.Config != nil {
		if v, ok := c.Env.Config.Get("proto-max-bulk-len"); ok {
			if n, ok := ParseInt([]byte(v)); ok && n > 0 {
				return n
			}
		}
	}
	return defaultProtoMaxBulkLen
}

// checkStringLength is Redis's checkStringLength: a string of size bytes
// growing by add bytes must stay within proto-max-bulk-len.
func checkStringLength(c *Ctx, size, add int64) error {
	total := size + add
	if total > protoMaxBulkLen(c) || total < size || total < add {
		return ErrMaxStringLen
	}
	return nil
}

// intArg parses an integer argument (string2ll).
func intArg(b []byte) (int64, error) {
	n, ok := ParseInt(b)
	if !ok {
		return 0, ErrNotInteger
	}
	return n, nil
}

// lookupString returns a key's metadata when it holds a string; ok is
// false when the key is absent; ErrWrongType when it holds another type.
func lookupString(c *Ctx, key []byte) (keyspace.Meta, bool, error) {
	m, ok, err := c.DB.Lookup(key)
	if err != nil || !ok {
		return m, false, err
	}
	if m.Type != keyspace.TypeString {
		return m, false, keyspace.ErrWrongType
	}
	return m, true, nil
}

// putString stores value under key with an absolute expiry (0: none). An
// expiry already due deletes the key instead, as Redis's lazy expiry would
// on the next access.
func putString(c *Ctx, key, value []byte, expireAt int64) error {
	if expireAt != 0 && expireAt <= c.DB.NowMs() {
		_, err := c.DB.Delete(key)
		return err
	}
	return c.DB.SetString(key, value, expireAt)
}

func getCmd(c *Ctx) error {
	v, ok, err := c.DB.GetString(c.Args[1])
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

// Option bits of SET and GETEX (Redis's OBJ_* flags).
const (
	setNX = 1 << iota
	setXX
	setGet
	setKeepTTL
	setPersist
	setEX
	setPX
	setEXAT
	setPXAT
)

const setExpireFlags = setEX | setPX | setEXAT | setPXAT

// forSet and forGetex select which options parseStringOptions accepts.
const (
	forSet = iota
	forGetex
)

// parseStringOptions is Redis's parseExtendedStringArgumentsOrReply over
// args (the options after the fixed arguments).
func parseStringOptions(args [][]byte, kind int) (flags int, expire []byte, err error) {
	for j := 0; j < len(args); j++ {
		opt := args[j]
		hasNext := j+1 < len(args)
		switch {
		case argIs(opt, "nx") && flags&setXX == 0 && kind == forSet:
			flags |= setNX
		case argIs(opt, "xx") && flags&setNX == 0 && kind == forSet:
			flags |= setXX
		case argIs(opt, "get") && kind == forSet:
			flags |= setGet
		case argIs(opt, "keepttl") && flags&(setPersist|setExpireFlags) == 0 && kind == forSet:
			flags |= setKeepTTL
		case argIs(opt, "persist") && kind == forGetex && flags&(setExpireFlags|setKeepTTL) == 0:
			flags |= setPersist
		case argIs(opt, "ex") && flags&(setKeepTTL|setPersist|setEXAT|setPX|setPXAT) == 0 && hasNext:
			flags |= setEX
			expire = args[j+1]
			j++
		case argIs(opt, "px") && flags&(setKeepTTL|setPersist|setEX|setEXAT|setPXAT) == 0 && hasNext:
			flags |= setPX
			expire = args[j+1]
			j++
		case argIs(opt, "exat") && flags&(setKeepTTL|setPersist|setEX|setPX|setPXAT) == 0 && hasNext:
			flags |= setEXAT
			expire = args[j+1]
			j++
		case argIs(opt, "pxat") && flags&(setKeepTTL|setPersist|setEX|setEXAT|setPX) == 0 && hasNext:
			flags |= setPXAT
			expire = args[j+1]
			j++
		default:
			return 0, nil, ErrSyntax
		}
	}
	return flags, expire, nil
}

// expireAtMs is Redis's getExpireMillisecondsOrReply: it turns an EX, PX,
// EXAT or PXAT argument into an absolute Unix time in ms.
func expireAtMs(c *Ctx, arg []byte, flags int) (int64, error) {
	n, err := intArg(arg)
	if err != nil {
		return 0, err
	}
	seconds := flags&(setEX|setEXAT) != 0
	if n <= 0 || (seconds && n > math.MaxInt64/1000) {
		return 0, errInvalidExpire(c.Name())
	}
	if seconds {
		n *= 1000
	}
	if flags&(setEX|setPX) != 0 {
		n += c.DB.NowMs() // wraps on overflow, caught below as in Redis
	}
	if n <= 0 {
		return 0, errInvalidExpire(c.Name())
	}
	return n, nil
}

func setCmd(c *Ctx) error {
	flags, expire, err := parseStringOptions(c.Args[3:], forSet)
	if err != nil {
		return err
	}
	return setGeneric(c, flags, c.Args[1], c.Args[2], expire, false)
}

// setGeneric is Redis's setGenericCommand. quiet suppresses the reply so
// SETNX can reply its integer instead.
func setGeneric(c *Ctx, flags int, key, value, expire []byte, quiet bool) error {
	var at int64
	if expire != nil {
		var err error
		if at, err = expireAtMs(c, expire, flags); err != nil {
			return err
		}
	}
	// A plain SET is a blind write: only GET, NX, XX and KEEPTTL need the
	// old value.
	var old keyspace.Meta
	var found bool
	if flags&(setGet|setNX|setXX|setKeepTTL) != 0 {
		var err error
		if old, found, err = c.DB.Lookup(key); err != nil {
			return err
		}
	}
	if flags&setGet != 0 {
		if found && old.Type != keyspace.TypeString {
			return keyspace.ErrWrongType
		}
		if found {
			c.W.Bulk(old.Value)
		} else {
			c.W.Null()
		}
	}
	if (flags&setNX != 0 && found) || (flags&setXX != 0 && !found) {
		if flags&setGet == 0 && !quiet {
			c.W.Null()
		}
		return nil
	}
	if flags&setKeepTTL != 0 && found {
		at = old.ExpireAt
	}
	if err := putString(c, key, value, at); err != nil {
		return err
	}
	if flags&setGet == 0 && !quiet {
		c.W.OK()
	}
	return nil
}

func setnxCmd(c *Ctx) error {
	found, err := c.DB.Exists(c.Args[1])
	if err != nil {
		return err
	}
	if found {
		c.W.Int(0)
		return nil
	}
	if err := putString(c, c.Args[1], c.Args[2], 0); err != nil {
		return err
	}
	c.W.Int(1)
	return nil
}

func setexCmd(c *Ctx) error {
	return setGeneric(c, setEX, c.Args[1], c.Args[3], c.Args[2], false)
}

func psetexCmd(c *Ctx) error {
	return setGeneric(c, setPX, c.Args[1], c.Args[3], c.Args[2], false)
}

func getsetCmd(c *Ctx) error {
	return setGeneric(c, setGet, c.Args[1], c.Args[2], nil, false)
}

func getdelCmd(c *Ctx) error {
	m, ok, err := lookupString(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	if _, err := c.DB.Delete(c.Args[1]); err != nil {
		return err
	}
	c.W.Bulk(m.Value)
	return nil
}

func getexCmd(c *Ctx) error {
	flags, expire, err := parseStringOptions(c.Args[2:], forGetex)
	if err != nil {
		return err
	}
	m, ok, err := lookupString(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Null()
		return nil
	}
	// Redis validates the expiry only once the key is known to exist.
	var at int64
	if expire != nil {
		if at, err = expireAtMs(c, expire, flags); err != nil {
			return err
		}
	}
	c.W.Bulk(m.Value)
	switch {
	case expire != nil && at <= c.DB.NowMs():
		_, err = c.DB.Delete(c.Args[1])
	case expire != nil:
		m.ExpireAt = at
		err = c.DB.Put(c.Args[1], &m)
	case flags&setPersist != 0 && m.ExpireAt != 0:
		m.ExpireAt = 0
		err = c.DB.Put(c.Args[1], &m)
	}
	return err
}

func mgetCmd(c *Ctx) error {
	c.W.Array(len(c.Args) - 1)
	for _, k := range c.Args[1:] {
		m, ok, err := c.DB.Lookup(k)
		if err != nil {
			return err
		}
		if !ok || m.Type != keyspace.TypeString {
			c.W.Null()
			continue
		}
		c.W.Bulk(m.Value)
	}
	return nil
}

func msetCmd(c *Ctx) error {
	if len(c.Args)%2 == 0 {
		return ErrArity(c.Name())
	}
	for i := 1; i < len(c.Args); i += 2 {
		if err := putString(c, c.Args[i], c.Args[i+1], 0); err != nil {
			return err
		}
	}
	c.W.OK()
	return nil
}

func msetnxCmd(c *Ctx) error {
	if len(c.Args)%2 == 0 {
		return ErrArity(c.Name())
	}
	for i := 1; i < len(c.Args); i += 2 {
		found, err := c.DB.Exists(c.Args[i])
		if err != nil {
			return err
		}
		if found {
			c.W.Int(0)
			return nil
		}
	}
	for i := 1; i < len(c.Args); i += 2 {
		if err := putString(c, c.Args[i], c.Args[i+1], 0); err != nil {
			return err
		}
	}
	c.W.Int(1)
	return nil
}

func appendCmd(c *Ctx) error {
	key, add := c.Args[1], c.Args[2]
	m, ok, err := lookupString(c, key)
	if err != nil {
		return err
	}
	if !ok {
		if err := putString(c, key, add, 0); err != nil {
			return err
		}
		c.W.Int(int64(len(add)))
		return nil
	}
	if err := checkStringLength(c, int64(len(m.Value)), int64(len(add))); err != nil {
		return err
	}
	m.Value = append(m.Value, add...)
	m.Enc = keyspace.StringEncRaw // Redis appends in place to a raw string
	if err := c.DB.Put(key, &m); err != nil {
		return err
	}
	c.W.Int(int64(len(m.Value)))
	return nil
}

func strlenCmd(c *Ctx) error {
	m, _, err := lookupString(c, c.Args[1])
	if err != nil {
		return err
	}
	c.W.Int(int64(len(m.Value)))
	return nil
}

func getrangeCmd(c *Ctx) error {
	start, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	end, err := intArg(c.Args[3])
	if err != nil {
		return err
	}
	m, ok, err := lookupString(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Bulk(nil)
		return nil
	}
	n := int64(len(m.Value))
	if start < 0 && end < 0 && start > end {
		c.W.Bulk(nil)
		return nil
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(start, 0)
	end = max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.W.Bulk(nil)
		return nil
	}
	c.W.Bulk(m.Value[start : end+1])
	return nil
}

func setrangeCmd(c *Ctx) error {
	key, value := c.Args[1], c.Args[3]
	offset, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	if offset < 0 {
		return ErrOffsetRange
	}
	m, ok, err := lookupString(c, key)
	if err != nil {
		return err
	}
	if !ok {
		if len(value) == 0 {
			c.W.Int(0)
			return nil
		}
		if err := checkStringLength(c, offset, int64(len(value))); err != nil {
			return err
		}
		m = keyspace.Meta{Type: keyspace.TypeString}
	} else {
		if len(value) == 0 {
			c.W.Int(int64(len(m.Value)))
			return nil
		}
		if err := checkStringLength(c, offset, int64(len(value))); err != nil {
			return err
		}
	}
	need := int(offset) + len(value)
	if need > len(m.Value) {
		m.Value = append(m.Value, make([]byte, need-len(m.Value))...)
	}
	copy(m.Value[offset:], value)
	m.Enc = keyspace.StringEncRaw
	if err := c.DB.Put(key, &m); err != nil {
		return err
	}
	c.W.Int(int64(len(m.Value)))
	return nil
}

func incrCmd(c *Ctx) error { return incrDecr(c, 1) }
func decrCmd(c *Ctx) error { return incrDecr(c, -1) }

func incrbyCmd(c *Ctx) error {
	n, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	return incrDecr(c, n)
}

func decrbyCmd(c *Ctx) error {
	n, err := intArg(c.Args[2])
	if err != nil {
		return err
	}
	if n == math.MinInt64 {
		return ErrDecrOverflow
	}
	return incrDecr(c, -n)
}

// incrDecr is Redis's incrDecrCommand; the key keeps its TTL.
func incrDecr(c *Ctx, incr int64) error {
	key := c.Args[1]
	m, ok, err := lookupString(c, key)
	if err != nil {
		return err
	}
	var old int64
	if ok {
		if old, err = intArg(m.Value); err != nil {
			return err
		}
	} else {
		m = keyspace.Meta{Type: keyspace.TypeString}
	}
	if (incr < 0 && old < 0 && incr < math.MinInt64-old) ||
		(incr > 0 && old > 0 && incr > math.MaxInt64-old) {
		return ErrOverflow
	}
	n := old + incr
	var buf [24]byte
	m.Value = appendInt(buf[:0], n)
	m.Enc = keyspace.StringEncAuto // INCR stores an integer object
	if err := c.DB.Put(key, &m); err != nil {
		return err
	}
	c.W.Int(n)
	return nil
}

func appendInt(dst []byte, n int64) []byte {
	var tmp [20]byte
	i := len(tmp)
	u := uint64(n)
	if n < 0 {
		u = -u
	}
	for {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if n < 0 {
		dst = append(dst, '-')
	}
	return append(dst, tmp[i:]...)
}

func incrbyfloatCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := lookupString(c, key)
	if err != nil {
		return err
	}
	value := LongDoubleFromInt(0)
	if ok {
		if value, ok = ParseLongDouble(m.Value); !ok {
			return ErrNotFloat
		}
	} else {
		m = keyspace.Meta{Type: keyspace.TypeString}
	}
	incr, ok := ParseLongDouble(c.Args[2])
	if !ok {
		return ErrNotFloat
	}
	sum, ok := value.Add(incr)
	if !ok {
		return ErrIncrNaN
	}
	m.Value = []byte(sum.Format())
	m.Enc = keyspace.StringEncNoInt // Redis stores the formatted double unencoded
	if err := c.DB.Put(key, &m); err != nil {
		return err
	}
	c.W.Bulk(m.Value)
	return nil
}

// lcsMaxTable bounds the dynamic programming table of LCS (cells of 4
// bytes); larger inputs get Redis's allocation failure error rather than
// exhausting the node's memory.
const lcsMaxTable = 512 << 20

func lcsCmd(c *Ctx) error {
	ma, okA, err := c.DB.Lookup(c.Args[1])
	if err != nil {
		return err
	}
	mb, okB, err := c.DB.Lookup(c.Args[2])
	if err != nil {
		return err
	}
	if (okA && ma.Type != keyspace.TypeString) || (okB && mb.Type != keyspace.TypeString) {
		return ErrLCSType
	}
	a, b := ma.Value, mb.Value
	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(c.Args); j++ {
		opt := c.Args[j]
		more := len(c.Args) - 1 - j
		switch {
		case argIs(opt, "idx"):
			getIdx = true
		case argIs(opt, "len"):
			getLen = true
		case argIs(opt, "withmatchlen"):
			withMatchLen = true
		case argIs(opt, "minmatchlen") && more > 0:
			if minMatchLen, err = intArg(c.Args[j+1]); err != nil {
				return err
			}
			minMatchLen = max(minMatchLen, 0)
			j++
		default:
			return ErrSyntax
		}
	}
	if getIdx && getLen {
		return ErrLCSLenIdx
	}
	if (int64(len(a))+1)*(int64(len(b))+1)*4 > lcsMaxTable {
		return ErrLCSMemory
	}
	lcsReply(c, a, b, getLen, getIdx, withMatchLen, minMatchLen)
	return nil
}

// lcsReply computes the LCS table and walks it back exactly as Redis's
// lcsCommand does, so the reported ranges are the same.
func lcsReply(c *Ctx, a, b []byte, getLen, getIdx, withMatchLen bool, minMatchLen int64) {
	alen, blen := len(a), len(b)
	w := blen + 1
	dp := make([]uint32, (alen+1)*(blen+1))
	for i := 1; i <= alen; i++ {
		for j := 1; j <= blen; j++ {
			if a[i-1] == b[j-1] {
				dp[i*w+j] = dp[(i-1)*w+j-1] + 1
			} else {
				dp[i*w+j] = max(dp[(i-1)*w+j], dp[i*w+j-1])
			}
		}
	}
	total := dp[alen*w+blen]
	if getLen {
		c.W.Int(int64(total))
		return
	}
	result := make([]byte, total)
	type match struct{ a0, a1, b0, b1, n int }
	var matches []match
	idx := int(total)
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0 // aStart == alen: no range yet
	i, j := alen, blen
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if aStart == alen {
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			} else if aStart == i && bStart == j {
				aStart--
				bStart--
			} else {
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if dp[(i-1)*w+j] > dp[i*w+j-1] {
				i--
			} else {
				j--
			}
			if aStart != alen {
				emit = true
			}
		}
		if emit {
			n := aEnd - aStart + 1
			if minMatchLen == 0 || int64(n) >= minMatchLen {
				matches = append(matches, match{aStart, aEnd, bStart, bEnd, n})
			}
			aStart = alen
		}
	}
	if !getIdx {
		c.W.Bulk(result)
		return
	}
	c.W.Map(2)
	c.W.BulkString("matches")
	c.W.Array(len(matches))
	for _, m := range matches {
		if withMatchLen {
			c.W.Array(3)
		} else {
			c.W.Array(2)
		}
		c.W.Array(2)
		c.W.Int(int64(m.a0))
		c.W.Int(int64(m.a1))
		c.W.Array(2)
		c.W.Int(int64(m.b0))
		c.W.Int(int64(m.b1))
		if withMatchLen {
			c.W.Int(int64(m.n))
		}
	}
	c.W.BulkString("len")
	c.W.Int(int64(total))
}
