package commands

import (
	"math"
	"math/bits"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// Bitmap commands operate on string values. Bit 0 is the most significant
// bit of byte 0. Writes grow the string with zero bytes and keep the key's
// TTL (except BITOP, which replaces its destination).

func registerBitmaps(t *Table) {
	for _, c := range []*Command{
		{Name: "setbit", Handler: setbitCmd},
		{Name: "getbit", Handler: getbitCmd},
		{Name: "bitcount", Handler: bitcountCmd},
		{Name: "bitpos", Handler: bitposCmd},
		{Name: "bitop", Handler: bitopCmd},
		{Name: "bitfield", Handler: bitfieldCmd},
		{Name: "bitfield_ro", Handler: bitfieldROCmd},
	} {
		c.Data = true
		t.Register(c)
	}
}

// bitOffsetArg is Redis's getBitOffsetFromArgument. With hash and bits >
// 0, "#N" means N*bits. The offset's byte must be below proto-max-bulk-len.
func bitOffsetArg(c *Ctx, arg []byte, hash bool, bitsWidth int) (int64, error) {
	useHash := hash && bitsWidth > 0 && len(arg) > 0 && arg[0] == '#'
	if useHash {
		arg = arg[1:]
	}
	off, ok := ParseInt(arg)
	if !ok {
		return 0, ErrBitOffset
	}
	if useHash {
		off *= int64(bitsWidth) // wraps like Redis's C arithmetic
	}
	if off < 0 || off>>3 >= protoMaxBulkLen(c) {
		return 0, ErrBitOffset
	}
	return off, nil
}

// stringForBitWrite is Redis's lookupStringForBitCommand: the key's string
// grown with zero bytes to hold bit maxBit (a new string if absent).
func stringForBitWrite(c *Ctx, key []byte, maxBit int64) (keyspace.Meta, error) {
	m, ok, err := lookupString(c, key)
	if err != nil {
		return m, err
	}
	if !ok {
		m = keyspace.Meta{Type: keyspace.TypeString}
	}
	if need := int(maxBit>>3) + 1; need > len(m.Value) {
		m.Value = append(m.Value, make([]byte, need-len(m.Value))...)
	}
	return m, nil
}

func setbitCmd(c *Ctx) error {
	off, err := bitOffsetArg(c, c.Args[2], false, 0)
	if err != nil {
		return err
	}
	on, ok := ParseInt(c.Args[3])
	if !ok || on&^1 != 0 {
		return ErrBitValue
	}
	m, err := stringForBitWrite(c, c.Args[1], off)
	if err != nil {
		return err
	}
	byteIdx, mask := off>>3, byte(1)<<(7-uint(off&7))
	old := m.Value[byteIdx]&mask != 0
	if on == 1 {
		m.Value[byteIdx] |= mask
	} else {
		m.Value[byteIdx] &^= mask
	}
	m.Enc = keyspace.StringEncRaw
	if err := c.DB.Put(c.Args[1], &m); err != nil {
		return err
	}
	if old {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
	return nil
}

func getbitCmd(c *Ctx) error {
	off, err := bitOffsetArg(c, c.Args[2], false, 0)
	if err != nil {
		return err
	}
	m, ok, err := lookupString(c, c.Args[1])
	if err != nil {
		return err
	}
	byteIdx := off >> 3
	if !ok || byteIdx >= int64(len(m.Value)) {
		c.W.Int(0)
		return nil
	}
	c.W.Int(int64(m.Value[byteIdx]>>(7-uint(off&7))) & 1)
	return nil
}

// bitAt returns bit i (MSB first) of p.
func bitAt(p []byte, i int64) byte { return p[i>>3] >> (7 - uint(i&7)) & 1 }

// parseBitUnit reads an optional BYTE|BIT argument.
func parseBitUnit(arg []byte) (isBit bool, err error) {
	switch {
	case argIs(arg, "bit"):
		return true, nil
	case argIs(arg, "byte"):
		return false, nil
	}
	return false, ErrSyntax
}

func bitcountCmd(c *Ctx) error {
	m, ok, err := lookupString(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	p := m.Value
	n := int64(len(p))
	var start, end int64
	isBit := false
	switch len(c.Args) {
	case 2:
		start, end = 0, n-1
	case 4, 5:
		if start, err = intArg(c.Args[2]); err != nil {
			return err
		}
		if end, err = intArg(c.Args[3]); err != nil {
			return err
		}
		if len(c.Args) == 5 {
			if isBit, err = parseBitUnit(c.Args[4]); err != nil {
				return err
			}
		}
		total := n
		if isBit {
			total <<= 3
		}
		if start < 0 && end < 0 && start > end {
			c.W.Int(0)
			return nil
		}
		start, end = clampRange(start, end, total)
	default:
		return ErrSyntax
	}
	if start > end {
		c.W.Int(0)
		return nil
	}
	var count int64
	if isBit {
		// Whole bytes in the middle, single bits at the edges.
		for i := start; i <= end; {
			if i&7 == 0 && i+7 <= end {
				count += int64(bits.OnesCount8(p[i>>3]))
				i += 8
				continue
			}
			count += int64(bitAt(p, i))
			i++
		}
	} else {
		for _, b := range p[start : end+1] {
			count += int64(bits.OnesCount8(b))
		}
	}
	c.W.Int(count)
	return nil
}

// clampRange converts negative indexes relative to total and clamps both
// ends into [0, total-1] as BITCOUNT, BITPOS and GETRANGE do.
func clampRange(start, end, total int64) (int64, int64) {
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start = max(start, 0)
	end = max(end, 0)
	if end >= total {
		end = total - 1
	}
	return start, end
}

func bitposCmd(c *Ctx) error {
	bit, ok := ParseInt(c.Args[2])
	if !ok {
		return ErrNotInteger
	}
	if bit != 0 && bit != 1 {
		return ErrBitArg
	}
	m, ok, err := c.DB.Lookup(c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		if bit == 1 {
			c.W.Int(-1)
		} else {
			c.W.Int(0)
		}
		return nil
	}
	if m.Type != keyspace.TypeString {
		return keyspace.ErrWrongType
	}
	p := m.Value
	n := int64(len(p))
	var start, end int64
	isBit, endGiven := false, false
	switch len(c.Args) {
	case 3:
		start, end = 0, n-1
	case 4, 5, 6:
		if start, err = intArg(c.Args[3]); err != nil {
			return err
		}
		if len(c.Args) == 6 {
			if isBit, err = parseBitUnit(c.Args[5]); err != nil {
				return err
			}
		}
		total := n
		if isBit {
			total <<= 3
		}
		if len(c.Args) >= 5 {
			if end, err = intArg(c.Args[4]); err != nil {
				return err
			}
			endGiven = true
		} else {
			end = total - 1
		}
		start, end = clampRange(start, end, total)
	default:
		return ErrSyntax
	}
	if start > end {
		c.W.Int(-1)
		return nil
	}
	// Search the bit range [from, to].
	from, to := start, end
	if !isBit {
		from, to = start*8, end*8+7
	}
	want := byte(bit)
	for i := from; i <= to; {
		if i&7 == 0 && i+7 <= to {
			b := p[i>>3]
			if (want == 1 && b != 0) || (want == 0 && b != 0xff) {
				if want == 0 {
					b = ^b
				}
				c.W.Int(i + int64(bits.LeadingZeros8(b)))
				return nil
			}
			i += 8
			continue
		}
		if bitAt(p, i) == want {
			c.W.Int(i)
			return nil
		}
		i++
	}
	// Not found. Looking for a clear bit without an explicit end, the
	// string is seen as padded with zeros on the right.
	if want == 0 && !endGiven {
		c.W.Int(to + 1)
		return nil
	}
	c.W.Int(-1)
	return nil
}

func bitopCmd(c *Ctx) error {
	op := c.Args[1]
	var kind int
	switch {
	case argIs(op, "and"):
		kind = 0
	case argIs(op, "or"):
		kind = 1
	case argIs(op, "xor"):
		kind = 2
	case argIs(op, "not"):
		kind = 3
	default:
		return ErrSyntax
	}
	if kind == 3 && len(c.Args) != 4 {
		return ErrBitopNot
	}
	srcs := make([][]byte, 0, len(c.Args)-3)
	maxLen := 0
	for _, k := range c.Args[3:] {
		m, ok, err := lookupString(c, k)
		if err != nil {
			return err
		}
		if !ok {
			srcs = append(srcs, nil)
			continue
		}
		srcs = append(srcs, m.Value)
		maxLen = max(maxLen, len(m.Value))
	}
	dest := c.Args[2]
	if maxLen == 0 {
		if _, err := c.DB.Delete(dest); err != nil {
			return err
		}
		c.W.Int(0)
		return nil
	}
	res := make([]byte, maxLen)
	at := func(s []byte, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	for i := range res {
		v := at(srcs[0], i)
		if kind == 3 {
			res[i] = ^v
			continue
		}
		for _, s := range srcs[1:] {
			switch kind {
			case 0:
				v &= at(s, i)
			case 1:
				v |= at(s, i)
			case 2:
				v ^= at(s, i)
			}
		}
		res[i] = v
	}
	if err := c.DB.Put(dest, &keyspace.Meta{Type: keyspace.TypeString, Value: res, Enc: keyspace.StringEncRaw}); err != nil {
		return err
	}
	c.W.Int(int64(maxLen))
	return nil
}

// BITFIELD.

const (
	bfGet = iota
	bfSet
	bfIncrBy
)

const (
	bfWrap = iota
	bfSat
	bfFail
)

type bitfieldOp struct {
	offset   int64
	value    int64
	opcode   int
	overflow int
	bits     int
	signed   bool
}

// bitfieldTypeArg is Redis's getBitfieldTypeFromArgument: i1..i64 or
// u1..u63.
func bitfieldTypeArg(arg []byte) (signed bool, width int, err error) {
	if len(arg) == 0 {
		return false, 0, ErrBitfieldType
	}
	switch arg[0] {
	case 'i', 'I':
		signed = true
	case 'u', 'U':
	default:
		return false, 0, ErrBitfieldType
	}
	rest := arg[1:]
	for i, ch := range rest { // Redis reads it as a C string
		if ch == 0 {
			rest = rest[:i]
			break
		}
	}
	n, ok := ParseInt(rest)
	if !ok || n < 1 || (signed && n > 64) || (!signed && n > 63) {
		return false, 0, ErrBitfieldType
	}
	return signed, int(n), nil
}

func bitfieldCmd(c *Ctx) error   { return bitfieldGeneric(c, false) }
func bitfieldROCmd(c *Ctx) error { return bitfieldGeneric(c, true) }

func bitfieldGeneric(c *Ctx, readOnlyCmd bool) error {
	var ops []bitfieldOp
	overflow := bfWrap
	readonly := true
	highest := int64(0)
	args := c.Args
	for j := 2; j < len(args); j++ {
		remaining := len(args) - j - 1
		sub := args[j]
		var op bitfieldOp
		switch {
		case argIs(sub, "get") && remaining >= 2:
			op.opcode = bfGet
		case argIs(sub, "set") && remaining >= 3:
			op.opcode = bfSet
		case argIs(sub, "incrby") && remaining >= 3:
			op.opcode = bfIncrBy
		case argIs(sub, "overflow") && remaining >= 1:
			j++
			switch {
			case argIs(args[j], "wrap"):
				overflow = bfWrap
			case argIs(args[j], "sat"):
				overflow = bfSat
			case argIs(args[j], "fail"):
				overflow = bfFail
			default:
				return ErrBitfieldOverflow
			}
			continue
		default:
			return ErrSyntax
		}
		var err error
		if op.signed, op.bits, err = bitfieldTypeArg(args[j+1]); err != nil {
			return err
		}
		if op.offset, err = bitOffsetArg(c, args[j+2], true, op.bits); err != nil {
			return err
		}
		if op.opcode != bfGet {
			readonly = false
			highest = max(highest, op.offset+int64(op.bits)-1)
			if op.value, err = intArg(args[j+3]); err != nil {
				return err
			}
		}
		op.overflow = overflow
		ops = append(ops, op)
		if op.opcode == bfGet {
			j += 2
		} else {
			j += 3
		}
	}

	var m keyspace.Meta
	if readonly {
		var err error
		if m, _, err = lookupString(c, c.Args[1]); err != nil {
			return err
		}
	} else {
		if readOnlyCmd {
			return ErrBitfieldRO
		}
		var err error
		if m, err = stringForBitWrite(c, c.Args[1], highest); err != nil {
			return err
		}
	}

	c.W.Array(len(ops))
	for _, op := range ops {
		if op.opcode == bfGet {
			// Reads past the end see zero bits.
			var buf [9]byte
			byteIdx := op.offset >> 3
			for i := int64(0); i < 9 && byteIdx+i < int64(len(m.Value)); i++ {
				buf[i] = m.Value[byteIdx+i]
			}
			rel := op.offset - byteIdx*8
			if op.signed {
				c.W.Int(getSignedBitfield(buf[:], rel, op.bits))
			} else {
				c.W.Int(int64(getUnsignedBitfield(buf[:], rel, op.bits)))
			}
			continue
		}
		if op.signed {
			old := getSignedBitfield(m.Value, op.offset, op.bits)
			var newVal, ret int64
			var over bool
			if op.opcode == bfIncrBy {
				var wrapped int64
				over, wrapped = checkSignedOverflow(old, op.value, op.bits, op.overflow)
				newVal = old + op.value
				if over {
					newVal = wrapped
				}
				ret = newVal
			} else {
				var wrapped int64
				newVal = op.value
				over, wrapped = checkSignedOverflow(newVal, 0, op.bits, op.overflow)
				if over {
					newVal = wrapped
				}
				ret = old
			}
			if over && op.overflow == bfFail {
				c.W.Null()
				continue
			}
			c.W.Int(ret)
			setBitfield(m.Value, op.offset, op.bits, uint64(newVal))
		} else {
			old := getUnsignedBitfield(m.Value, op.offset, op.bits)
			var newVal, ret uint64
			var over bool
			if op.opcode == bfIncrBy {
				var wrapped uint64
				newVal = old + uint64(op.value)
				over, wrapped = checkUnsignedOverflow(old, op.value, op.bits, op.overflow)
				if over {
					newVal = wrapped
				}
				ret = newVal
			} else {
				var wrapped uint64
				newVal = uint64(op.value)
				over, wrapped = checkUnsignedOverflow(newVal, 0, op.bits, op.overflow)
				if over {
					newVal = wrapped
				}
				ret = old
			}
			if over && op.overflow == bfFail {
				c.W.Null()
				continue
			}
			c.W.Int(int64(ret))
			setBitfield(m.Value, op.offset, op.bits, newVal)
		}
	}
	if !readonly {
		m.Enc = keyspace.StringEncRaw
		return c.DB.Put(c.Args[1], &m)
	}
	return nil
}

// getUnsignedBitfield reads width bits at bit offset off of p (MSB first);
// p must hold them.
func getUnsignedBitfield(p []byte, off int64, width int) uint64 {
	var v uint64
	for i := int64(0); i < int64(width); i++ {
		v = v<<1 | uint64(bitAt(p, off+i))
	}
	return v
}

// getSignedBitfield reads a two's complement field of width bits.
func getSignedBitfield(p []byte, off int64, width int) int64 {
	v := getUnsignedBitfield(p, off, width)
	if width < 64 && v&(1<<(width-1)) != 0 {
		v |= math.MaxUint64 << width
	}
	return int64(v)
}

// setBitfield writes the low width bits of v at bit offset off of p.
func setBitfield(p []byte, off int64, width int, v uint64) {
	for i := 0; i < width; i++ {
		bit := v >> (width - 1 - i) & 1
		pos := off + int64(i)
		mask := byte(1) << (7 - uint(pos&7))
		if bit == 1 {
			p[pos>>3] |= mask
		} else {
			p[pos>>3] &^= mask
		}
	}
}

// checkSignedOverflow is Redis's checkSignedBitfieldOverflow: whether
// value+incr overflows a signed field of width bits, and the value to store
// instead under WRAP or SAT.
func checkSignedOverflow(value, incr int64, width int, mode int) (bool, int64) {
	maxV := int64(math.MaxInt64)
	if width != 64 {
		maxV = int64(1)<<(width-1) - 1
	}
	minV := -maxV - 1
	maxIncr := int64(uint64(maxV) - uint64(value))
	minIncr := minV - value // wraps like the C code
	var limit int64
	switch {
	case value > maxV || (width != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr):
		limit = maxV
	case value < minV || (width != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr):
		limit = minV
	default:
		return false, 0
	}
	if mode == bfWrap {
		c := uint64(value) + uint64(incr)
		if width < 64 {
			mask := uint64(math.MaxUint64) << width
			if c&(1<<(width-1)) != 0 {
				c |= mask
			} else {
				c &^= mask
			}
		}
		return true, int64(c)
	}
	return true, limit
}

// checkUnsignedOverflow is Redis's checkUnsignedBitfieldOverflow.
func checkUnsignedOverflow(value uint64, incr int64, width int, mode int) (bool, uint64) {
	maxV := uint64(1)<<width - 1
	maxIncr := int64(maxV - value)
	minIncr := -int64(value)
	var limit uint64
	switch {
	case value > maxV || (incr > 0 && incr > maxIncr):
		limit = maxV
	case incr < 0 && incr < minIncr:
		limit = 0
	default:
		return false, 0
	}
	if mode == bfWrap {
		return true, (value + uint64(incr)) &^ (uint64(math.MaxUint64) << width)
	}
	return true, limit
}
