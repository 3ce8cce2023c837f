package commands

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// HyperLogLog commands (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST).
//
// As in Redis, an HLL is an ordinary string value, and its bytes are
// exactly Redis's, so GET, DUMP-free copies between Redis and Skerry, and
// every reply derived from them agree:
//
//	header (16 bytes): "HYLL" | encoding (0 dense, 1 sparse) | 3 unused |
//	                   cached cardinality, uint64 little endian; its top
//	                   bit set means "stale, recompute".
//	dense:  16384 registers of 6 bits, packed from the least significant
//	        bit of each byte upwards (12288 bytes).
//	sparse: run-length opcodes over the registers in order:
//	        ZERO  00xxxxxx           1..64 zero registers
//	        XZERO 01xxxxxx yyyyyyyy  1..16384 zero registers (14 bits)
//	        VAL   1vvvvvxx           1..4 registers of value 1..32
//
// A register takes the longest run "0...01" seen in bits 14..63 of the
// 64-bit MurmurHash64A (seed 0xadc83b19) of the elements whose low 14 bits
// select it. A new key starts sparse; a sparse HLL is rewritten in place
// opcode by opcode exactly as Redis 7.0 does (so the bytes match) and turns
// dense when a register would exceed 32 or the value would grow beyond
// hll-sparse-max-bytes. The cardinality estimator is Otmar Ertl's
// ("New cardinality estimation algorithms for HyperLogLog sketches",
// arXiv:1702.01284), which Redis uses since 5.0.
//
// Users can SET any bytes and then run these commands, so every decoder
// here treats the value as untrusted: it never indexes out of range and
// reports a corrupt sparse encoding the way Redis does. Redis reads one
// byte past the end of a value (its sds terminator) when a value ends in
// half an XZERO opcode; hllObj models that byte so such values still
// decode as in Redis. Only the value is stored, so a terminator byte that
// an edit overwrote reads as 0 again in the next command, where Redis's
// in-memory string would still show it: a known difference, reachable only
// from values that were corrupt to begin with.

func registerHLL(t *Table) {
	for _, c := range []*Command{
		{Name: "pfadd", Handler: pfaddCmd},
		// PFCOUNT is flagged readonly in Redis, yet it rewrites the
		// cached cardinality of a single key: it needs a read-write
		// transaction.
		{Name: "pfcount", Handler: pfcountCmd, Writes: true},
		{Name: "pfmerge", Handler: pfmergeCmd},
		{Name: "pfdebug", Handler: pfdebugCmd},
	} {
		c.Data = true
		t.Register(c)
	}
	t.Register(&Command{Name: "pfselftest", Handler: pfselftestCmd})
}

// Errors of the HyperLogLog family (texts from Redis 7.0.15).
var (
	errNotHLL     = &ReplyError{"WRONGTYPE Key is not a valid HyperLogLog string value."}
	errCorruptHLL = &ReplyError{"INVALIDOBJ Corrupted HLL object detected"}
	errPFDebugKey = &ReplyError{"ERR The specified key does not exist"}
	errNotSparse  = &ReplyError{"ERR HLL encoding is not sparse"}
)

const (
	hllP          = 14
	hllQ          = 64 - hllP // hash bits that feed the "0...01" run
	hllRegisters  = 1 << hllP
	hllBits       = 6
	hllHdrSize    = 16
	hllDenseSize  = hllHdrSize + (hllRegisters*hllBits+7)/8
	hllEncDense   = 0
	hllEncSparse  = 1
	hllMaxEnc     = 1
	hllCardOffset = 8 // offset of the cached cardinality in the header

	hllSparseValMax    = 32 // largest register a VAL opcode holds
	hllSparseValMaxLen = 4
	hllSparseZeroMax   = 64
	hllSparseXZeroMax  = 16384

	// hllSparseMaxBytesDefault is Redis's hll-sparse-max-bytes default.
	hllSparseMaxBytesDefault = 3000

	hllAlphaInf = 0.721347520444481703680 // 0.5/ln(2)
	hllSeed     = 0xadc83b19
)

// hllSparseMaxBytes returns hll-sparse-max-bytes (bytes, header included).
func (c *Ctx) hllSparseMaxBytes() int64 {
	return c.configInt("hll-sparse-max-bytes", hllSparseMaxBytesDefault)
}

// ---------------------------------------------------------------------------
// Hashing

// murmurHash64A is MurmurHash2 64-bit (Austin Appleby) reading 8-byte
// words little-endian, which is what Redis computes on every platform.
func murmurHash64A(key []byte, seed uint64) uint64 {
	const m = 0xc6a4a7935bd1e995
	const r = 47
	h := seed ^ (uint64(len(key)) * m)
	n := len(key) &^ 7
	for i := 0; i < n; i += 8 {
		k := binary.LittleEndian.Uint64(key[i:])
		k *= m
		k ^= k >> r
		k *= m
		h ^= k
		h *= m
	}
	tail := key[n:]
	switch len(tail) {
	case 7:
		h ^= uint64(tail[6]) << 48
		fallthrough
	case 6:
		h ^= uint64(tail[5]) << 40
		fallthrough
	case 5:
		h ^= uint64(tail[4]) << 32
		fallthrough
	case 4:
		h ^= uint64(tail[3]) << 24
		fallthrough
	case 3:
		h ^= uint64(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint64(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint64(tail[0])
		h *= m
	}
	h ^= h >> r
	h *= m
	h ^= h >> r
	return h
}

// hllPatLen returns the register an element selects and the length of the
// "0...01" pattern (1..hllQ+1) in the rest of its hash.
func hllPatLen(ele []byte) (index int, count uint8) {
	hash := murmurHash64A(ele, hllSeed)
	index = int(hash & (hllRegisters - 1))
	hash >>= hllP
	hash |= 1 << hllQ // the run ends at bit Q at the latest
	return index, uint8(bits.TrailingZeros64(hash) + 1)
}

// ---------------------------------------------------------------------------
// Dense registers. regs must have one readable byte after the last
// register's byte (the value's terminator): register 16383 spans it.

func hllDenseGet(regs []byte, i int) uint8 {
	b, fb := i*hllBits/8, uint(i*hllBits)&7
	b0, b1 := uint(regs[b]), uint(regs[b+1])
	return uint8(((b0 >> fb) | (b1 << (8 - fb))) & 63)
}

func hllDenseSetRegister(regs []byte, i int, v uint8) {
	b, fb := i*hllBits/8, uint(i*hllBits)&7
	fb8 := 8 - fb
	vv := uint(v)
	regs[b] &= byte(^(uint(63) << fb))
	regs[b] |= byte(vv << fb)
	regs[b+1] &= byte(^(uint(63) >> fb8))
	regs[b+1] |= byte(vv >> fb8)
}

// hllDenseSet raises register i to count; it reports whether it changed.
func hllDenseSet(regs []byte, i int, count uint8) bool {
	if count > hllDenseGet(regs, i) {
		hllDenseSetRegister(regs, i, count)
		return true
	}
	return false
}

// ---------------------------------------------------------------------------
// Sparse opcodes.

func sparseIsZero(b byte) bool       { return b&0xc0 == 0 }
func sparseIsXZero(b byte) bool      { return b&0xc0 == 0x40 }
func sparseIsVal(b byte) bool        { return b&0x80 != 0 }
func sparseZeroLen(b byte) int       { return int(b&0x3f) + 1 }
func sparseXZeroLen(b0, b1 byte) int { return (int(b0&0x3f)<<8 | int(b1)) + 1 }
func sparseValValue(b byte) uint8    { return (b>>2)&0x1f + 1 }
func sparseValLen(b byte) int        { return int(b&3) + 1 }
func sparseVal(v uint8, n int) byte  { return (v-1)<<2 | byte(n-1) | 0x80 }
func sparseZero(n int) byte          { return byte(n - 1) }

func sparseXZero(n int) (byte, byte) {
	l := n - 1
	return byte(l>>8) | 0x40, byte(l)
}

// sparseOp decodes the opcode at b[p]: the registers it covers, their
// value (0 for ZERO and XZERO) and its length. The second byte of an XZERO
// opcode may be the terminator.
func sparseOp(b []byte, p int) (runlen int, v uint8, oplen int) {
	switch {
	case sparseIsZero(b[p]):
		return sparseZeroLen(b[p]), 0, 1
	case sparseIsXZero(b[p]):
		return sparseXZeroLen(b[p], b[p+1]), 0, 2
	}
	return sparseValLen(b[p]), sparseValValue(b[p]), 1
}

// hllEmpty returns a new empty HLL: sparse, one XZERO of every register,
// cached cardinality 0.
func hllEmpty() []byte {
	v := make([]byte, hllHdrSize, hllHdrSize+2)
	copy(v, "HYLL")
	v[4] = hllEncSparse
	for left := hllRegisters; left > 0; left -= hllSparseXZeroMax {
		n := min(left, hllSparseXZeroMax)
		b0, b1 := sparseXZero(n)
		v = append(v, b0, b1)
	}
	return v
}

// checkHLL is Redis's isHLLObjectOrReply for a string value.
func checkHLL(v []byte) error {
	if len(v) < hllHdrSize || string(v[:4]) != "HYLL" || v[4] > hllMaxEnc ||
		(v[4] == hllEncDense && len(v) != hllDenseSize) {
		return errNotHLL
	}
	return nil
}

// ---------------------------------------------------------------------------
// hllObj: an HLL value being read or modified in place.

// hllObj is a string value modelled on Redis's sds buffer, because Redis
// edits sparse HLLs in place and, on corrupt input, its byte moves can read
// the byte right after the value (the sds terminator, normally 0, which an
// edit can overwrite). buf[:n] is the value and buf[n] is always readable.
type hllObj struct {
	buf []byte
	n   int
}

// newHLLObj copies v into a buffer with its terminator and room to grow.
func newHLLObj(v []byte) *hllObj {
	buf := make([]byte, len(v)+4)
	copy(buf, v)
	return &hllObj{buf: buf, n: len(v)}
}

// value returns the string value.
func (o *hllObj) value() []byte { return o.buf[:o.n] }

func (o *hllObj) encoding() byte { return o.buf[4] }

// makeRoom makes room for extra more bytes plus the terminator.
func (o *hllObj) makeRoom(extra int) {
	if need := o.n + extra + 1; need > len(o.buf) {
		o.buf = append(o.buf, make([]byte, need-len(o.buf)+o.n/4)...)
	}
}

// incrLen is sdsIncrLen: the value grows or shrinks by d bytes (already
// written) and gets a fresh terminator.
func (o *hllObj) incrLen(d int) {
	o.n += d
	o.buf[o.n] = 0
}

func (o *hllObj) invalidateCache() { o.buf[hllCardOffset+7] |= 0x80 }

// registers returns the dense registers followed by the terminator.
func (o *hllObj) registers() []byte { return o.buf[hllHdrSize : o.n+1] }

// add adds one element: 1 if a register changed, 0 if not, -1 if the
// sparse encoding is corrupt.
func (o *hllObj) add(ele []byte, sparseMax int64) int {
	index, count := hllPatLen(ele)
	switch o.encoding() {
	case hllEncDense:
		if hllDenseSet(o.registers(), index, count) {
			return 1
		}
		return 0
	case hllEncSparse:
		return o.sparseSet(index, count, sparseMax)
	}
	return -1
}

// toDense converts a sparse HLL to dense, keeping the header (cached
// cardinality included). It reports false, leaving o unchanged, when the
// sparse encoding does not cover exactly 16384 registers (an opcode that
// runs past the last register is corrupt even if it ends the value: the
// check of Redis's CVE-2025-32023 fix, which the reference server has).
func (o *hllObj) toDense() bool {
	if o.encoding() == hllEncDense {
		return true
	}
	dense := make([]byte, hllDenseSize+1)
	copy(dense, o.buf[:hllHdrSize])
	dense[4] = hllEncDense
	regs := dense[hllHdrSize:]
	idx := 0
	for p := hllHdrSize; p < o.n; {
		runlen, v, oplen := sparseOp(o.buf, p)
		if idx+runlen > hllRegisters {
			return false
		}
		if v != 0 {
			for i := idx; i < idx+runlen; i++ {
				hllDenseSetRegister(regs, i, v)
			}
		}
		idx += runlen
		p += oplen
	}
	if idx != hllRegisters {
		return false
	}
	o.buf, o.n = dense, hllDenseSize
	return true
}

// sparseSet raises register index to count in a sparse HLL, splitting and
// merging opcodes in place exactly as Redis's hllSparseSet, and promotes
// the HLL to dense when count needs more than a VAL opcode or the value
// would outgrow sparseMax bytes. It returns 1 if the register changed, 0
// if not, -1 if the encoding is corrupt.
func (o *hllObj) sparseSet(index int, count uint8, sparseMax int64) int {
	if count > hllSparseValMax {
		return o.promote(index, count)
	}
	// The worst split (XZERO into XZERO VAL XZERO) grows by 3 bytes.
	o.makeRoom(3)
	b := o.buf
	const sparse = hllHdrSize

	// Step 1: find the opcode covering index.
	p, prev, first, span := sparse, -1, 0, 0
	for p < o.n {
		oplen := 1
		switch {
		case sparseIsZero(b[p]):
			span = sparseZeroLen(b[p])
		case sparseIsVal(b[p]):
			span = sparseValLen(b[p])
		default:
			span = sparseXZeroLen(b[p], b[p+1])
			oplen = 2
		}
		if index <= first+span-1 {
			break
		}
		prev = p
		p += oplen
		first += span
	}
	if span == 0 || p >= o.n {
		return -1
	}
	next := p + 1
	if sparseIsXZero(b[p]) {
		next = p + 2
	}
	if next >= o.n {
		next = -1
	}
	op := b[p]
	isZero, isXZero, isVal := sparseIsZero(op), sparseIsXZero(op), sparseIsVal(op)
	var runlen int
	switch {
	case isZero:
		runlen = sparseZeroLen(op)
	case isXZero:
		runlen = sparseXZeroLen(op, b[p+1])
	default:
		runlen = sparseValLen(op)
	}

	// Step 2: the trivial in-place updates.
	switch {
	case isVal && sparseValValue(op) >= count:
		return 0
	case isVal && runlen == 1, isZero && runlen == 1:
		b[p] = sparseVal(count, 1)
	default:
		// Split the opcode into up to three: the registers before
		// index, index itself, the registers after it.
		var seq [5]byte
		n := 0
		last := first + span - 1
		zeros := func(l int) {
			if l > hllSparseZeroMax {
				seq[n], seq[n+1] = sparseXZero(l)
				n += 2
			} else {
				seq[n] = sparseZero(l)
				n++
			}
		}
		if isZero || isXZero {
			if index != first {
				zeros(index - first)
			}
			seq[n] = sparseVal(count, 1)
			n++
			if index != last {
				zeros(last - index)
			}
		} else {
			cur := sparseValValue(op)
			if index != first {
				seq[n] = sparseVal(cur, index-first)
				n++
			}
			seq[n] = sparseVal(count, 1)
			n++
			if index != last {
				seq[n] = sparseVal(cur, last-index)
				n++
			}
		}
		// Step 3: put the new sequence in place of the old opcode.
		oldlen := 1
		if isXZero {
			oldlen = 2
		}
		delta := n - oldlen
		if delta > 0 && int64(o.n+delta) > sparseMax {
			return o.promote(index, count)
		}
		if delta != 0 && next >= 0 {
			copy(b[next+delta:], b[next:o.n])
		}
		o.incrLen(delta)
		copy(b[p:], seq[:n])
	}

	// Step 4: merge adjacent VAL opcodes of equal value, scanning up to
	// five opcodes from the one before the change.
	p = sparse
	if prev >= 0 {
		p = prev
	}
	for scan := 5; p < o.n && scan > 0; {
		scan--
		if sparseIsXZero(b[p]) {
			p += 2
			continue
		}
		if sparseIsZero(b[p]) {
			p++
			continue
		}
		if p+1 < o.n && sparseIsVal(b[p+1]) {
			v1, v2 := sparseValValue(b[p]), sparseValValue(b[p+1])
			if l := sparseValLen(b[p]) + sparseValLen(b[p+1]); v1 == v2 && l <= hllSparseValMaxLen {
				b[p+1] = sparseVal(v1, l)
				copy(b[p:], b[p+1:o.n+1]) // the terminator moves too
				o.incrLen(-1)
				continue // the merged opcode may merge with the next
			}
		}
		p++
	}
	o.invalidateCache()
	return 1
}

// promote converts to dense and sets the register there.
func (o *hllObj) promote(index int, count uint8) int {
	if !o.toDense() {
		return -1
	}
	// The register needed an update, so the dense set changes it.
	if hllDenseSet(o.registers(), index, count) {
		return 1
	}
	return 0
}

// ---------------------------------------------------------------------------
// Counting and merging.

// hllHistogram counts the registers of each value (0..63) of o. valid is
// false when a sparse encoding does not cover exactly 16384 registers.
func (o *hllObj) histogram(h *[64]int) (valid bool) {
	if o.encoding() == hllEncDense {
		regs := o.registers()
		for i := 0; i < hllRegisters; i++ {
			h[hllDenseGet(regs, i)]++
		}
		return true
	}
	idx := 0
	for p := hllHdrSize; p < o.n; {
		runlen, v, oplen := sparseOp(o.buf, p)
		if idx+runlen > hllRegisters {
			return false
		}
		idx += runlen
		h[v] += runlen
		p += oplen
	}
	return idx == hllRegisters
}

// merge raises max[i] to register i of o. It reports false when a sparse
// encoding does not cover exactly 16384 registers (max may then hold part
// of o).
func (o *hllObj) merge(max *[hllRegisters]uint8) bool {
	if o.encoding() == hllEncDense {
		regs := o.registers()
		for i := range max {
			if v := hllDenseGet(regs, i); v > max[i] {
				max[i] = v
			}
		}
		return true
	}
	i := 0
	for p := hllHdrSize; p < o.n; {
		runlen, v, oplen := sparseOp(o.buf, p)
		if i+runlen > hllRegisters {
			return false
		}
		for end := i + runlen; i < end; i++ {
			if v > max[i] {
				max[i] = v
			}
		}
		p += oplen
	}
	return i == hllRegisters
}

// hllSigma and hllTau are the helper functions of Ertl's estimator. The
// float64 conversions keep every product rounded on its own (the Go
// compiler may otherwise fuse a multiply-add), as in Redis's C.
func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		zPrime := z
		z += float64(x * y)
		y += y
		if zPrime == z {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		zPrime := z
		y *= 0.5
		d := 1 - x
		z -= float64(float64(d*d) * y)
		if zPrime == z {
			return z / 3
		}
	}
}

// hllEstimate turns a register histogram into the cardinality Redis
// computes, including its C conversions: the estimate is rounded with
// llroundl (LLONG_MIN when out of range, as on x86-64) and converted to
// uint64 through a double.
func hllEstimate(h *[64]int) uint64 {
	const m = float64(hllRegisters)
	z := m * hllTau((m-float64(h[hllQ+1]))/m)
	for j := hllQ; j >= 1; j-- {
		z += float64(h[j])
		z *= 0.5
	}
	z += float64(m * hllSigma(float64(h[0])/m))
	r := math.Round(hllAlphaInf * m * m / z)
	ll := int64(math.MinInt64)
	if r >= -(1<<63) && r < 1<<63 {
		ll = int64(r)
	}
	e := float64(ll)
	if e >= 1<<63 {
		return uint64(int64(e-(1<<63))) ^ 1<<63
	}
	return uint64(int64(e))
}

// ---------------------------------------------------------------------------
// Commands.

// lookupHLL returns the HLL string at key: ok false when absent,
// WRONGTYPE for another type or a string that is not an HLL.
func lookupHLL(c *Ctx, key []byte) (keyspace.Meta, bool, error) {
	m, ok, err := lookupString(c, key)
	if err != nil || !ok {
		return m, false, err
	}
	if err := checkHLL(m.Value); err != nil {
		return m, false, err
	}
	return m, true, nil
}

// putHLL stores o at key keeping the key's expiry. Redis modifies an HLL
// in a private raw string (dbUnshareStringValue), so the value becomes
// raw-encoded as soon as a command touches it, even without a change.
func putHLL(c *Ctx, key []byte, m *keyspace.Meta, o *hllObj) error {
	m.Type = keyspace.TypeString
	m.Value = o.value()
	m.Enc = keyspace.StringEncRaw
	return c.DB.Put(key, m)
}

// replyKeepingWrites answers err without discarding the writes made so
// far: Redis changes an HLL in place and only then meets the corruption
// it reports (PFADD keeps the elements added before it), and it has
// already made the value raw.
func replyKeepingWrites(c *Ctx, err error) error {
	msg := ReplyText(err)
	if c.Env != nil && c.Env.Stats != nil {
		c.Env.Stats.RecordError(msg)
	}
	c.W.Error(msg)
	return nil
}

func pfaddCmd(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := lookupHLL(c, key)
	if err != nil {
		return err
	}
	updated := 0
	var o *hllObj
	if ok {
		o = newHLLObj(m.Value)
	} else {
		m = keyspace.Meta{Type: keyspace.TypeString}
		o = newHLLObj(hllEmpty())
		updated++
	}
	wasRaw := ok && m.Enc == keyspace.StringEncRaw
	sparseMax := c.hllSparseMaxBytes()
	for _, ele := range c.Args[2:] {
		switch o.add(ele, sparseMax) {
		case 1:
			updated++
		case -1:
			if err := putHLL(c, key, &m, o); err != nil {
				return err
			}
			return replyKeepingWrites(c, errCorruptHLL)
		}
	}
	if updated > 0 {
		o.invalidateCache()
	}
	if updated > 0 || !wasRaw {
		if err := putHLL(c, key, &m, o); err != nil {
			return err
		}
	}
	if updated > 0 {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
	return nil
}

func pfcountCmd(c *Ctx) error {
	if len(c.Args) > 2 {
		return pfcountUnion(c)
	}
	key := c.Args[1]
	m, ok, err := lookupHLL(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.W.Int(0)
		return nil
	}
	o := newHLLObj(m.Value)
	hdr := o.buf[:hllHdrSize]
	wasRaw := m.Enc == keyspace.StringEncRaw
	if hdr[hllCardOffset+7]&0x80 == 0 {
		// The cached cardinality is valid.
		if !wasRaw {
			if err := putHLL(c, key, &m, o); err != nil {
				return err
			}
		}
		c.W.Int(int64(binary.LittleEndian.Uint64(hdr[hllCardOffset:])))
		return nil
	}
	var h [64]int
	if !o.histogram(&h) {
		if !wasRaw {
			if err := putHLL(c, key, &m, o); err != nil {
				return err
			}
			return replyKeepingWrites(c, errCorruptHLL)
		}
		return errCorruptHLL
	}
	card := hllEstimate(&h)
	binary.LittleEndian.PutUint64(hdr[hllCardOffset:], card)
	if err := putHLL(c, key, &m, o); err != nil {
		return err
	}
	c.W.Int(int64(card))
	return nil
}

// pfcountUnion is PFCOUNT of several keys: the cardinality of their union,
// computed on a temporary and written nowhere.
func pfcountUnion(c *Ctx) error {
	var max [hllRegisters]uint8
	for _, key := range c.Args[1:] {
		m, ok, err := lookupHLL(c, key)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if !newHLLObj(m.Value).merge(&max) {
			return errCorruptHLL
		}
	}
	var h [64]int
	for _, v := range max {
		h[v]++
	}
	c.W.Int(int64(hllEstimate(&h)))
	return nil
}

func pfmergeCmd(c *Ctx) error {
	var max [hllRegisters]uint8
	useDense := false
	// The destination is merged too: its registers are kept.
	for _, key := range c.Args[1:] {
		m, ok, err := lookupHLL(c, key)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		o := newHLLObj(m.Value)
		if o.encoding() == hllEncDense {
			useDense = true
		}
		if !o.merge(&max) {
			return errCorruptHLL
		}
	}
	key := c.Args[1]
	m, ok, err := lookupHLL(c, key)
	if err != nil {
		return err
	}
	var o *hllObj
	if ok {
		o = newHLLObj(m.Value)
	} else {
		m = keyspace.Meta{Type: keyspace.TypeString}
		o = newHLLObj(hllEmpty())
	}
	// A dense source makes the destination dense at once; otherwise it
	// stays sparse until a register or its size forces the promotion.
	if useDense && !o.toDense() {
		return errCorruptHLL // unreachable: the destination merged above
	}
	sparseMax := c.hllSparseMaxBytes()
	for i, v := range max {
		if v == 0 {
			continue
		}
		if o.encoding() == hllEncDense {
			hllDenseSet(o.registers(), i, v)
		} else {
			o.sparseSet(i, v, sparseMax)
		}
	}
	o.invalidateCache()
	if err := putHLL(c, key, &m, o); err != nil {
		return err
	}
	c.W.OK()
	return nil
}

// pfdebugCmd is PFDEBUG GETREG|DECODE|ENCODING|TODENSE key.
func pfdebugCmd(c *Ctx) error {
	sub, key := c.Args[1], c.Args[2]
	m, ok, err := lookupHLL(c, key)
	if err != nil {
		return err
	}
	if !ok {
		return errPFDebugKey
	}
	o := newHLLObj(m.Value)
	// Every subcommand works on a raw copy of the value, kept even when
	// the subcommand then fails.
	fail := func(err error) error {
		if m.Enc == keyspace.StringEncRaw {
			return err
		}
		if perr := putHLL(c, key, &m, o); perr != nil {
			return perr
		}
		return replyKeepingWrites(c, err)
	}
	switch {
	case argIs(sub, "getreg"):
		changed := m.Enc != keyspace.StringEncRaw
		if o.encoding() == hllEncSparse {
			if !o.toDense() {
				return fail(errCorruptHLL)
			}
			changed = true
		}
		if changed {
			if err := putHLL(c, key, &m, o); err != nil {
				return err
			}
		}
		regs := o.registers()
		c.W.Array(hllRegisters)
		for i := 0; i < hllRegisters; i++ {
			c.W.Int(int64(hllDenseGet(regs, i)))
		}
	case argIs(sub, "decode"):
		if o.encoding() != hllEncSparse {
			return fail(errNotSparse)
		}
		var out []byte
		b := o.buf
		for p := hllHdrSize; p < o.n; {
			switch {
			case sparseIsZero(b[p]):
				out = append(out, "z:"...)
				out = strconv.AppendInt(out, int64(sparseZeroLen(b[p])), 10)
				p++
			case sparseIsXZero(b[p]):
				out = append(out, "Z:"...)
				out = strconv.AppendInt(out, int64(sparseXZeroLen(b[p], b[p+1])), 10)
				p += 2
			default:
				out = append(out, "v:"...)
				out = strconv.AppendInt(out, int64(sparseValValue(b[p])), 10)
				out = append(out, ',')
				out = strconv.AppendInt(out, int64(sparseValLen(b[p])), 10)
				p++
			}
			out = append(out, ' ')
		}
		if m.Enc != keyspace.StringEncRaw {
			if err := putHLL(c, key, &m, o); err != nil {
				return err
			}
		}
		c.W.Bulk(bytes.TrimRight(out, " "))
	case argIs(sub, "encoding"):
		if m.Enc != keyspace.StringEncRaw {
			if err := putHLL(c, key, &m, o); err != nil {
				return err
			}
		}
		if o.encoding() == hllEncDense {
			c.W.Simple("dense")
		} else {
			c.W.Simple("sparse")
		}
	case argIs(sub, "todense"):
		conv := int64(0)
		if o.encoding() == hllEncSparse {
			if !o.toDense() {
				return fail(errCorruptHLL)
			}
			conv = 1
		}
		if conv == 1 || m.Enc != keyspace.StringEncRaw {
			if err := putHLL(c, key, &m, o); err != nil {
				return err
			}
		}
		c.W.Int(conv)
	default:
		// Redis prints the subcommand as a C string: up to a NUL byte.
		name := sub
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		return fail(Errorf("ERR Unknown PFDEBUG subcommand '%s'", name))
	}
	return nil
}

// pfselftestCmd checks the register packing and the estimator's error as
// Redis's PFSELFTEST does: random register round trips, then ten million
// distinct elements added to a dense and to a sparse HLL that must agree
// and stay within six standard errors at every power of ten.
func pfselftestCmd(c *Ctx) error {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	dense := newHLLObj(make([]byte, hllDenseSize))
	regs := dense.registers()
	var want [hllRegisters]uint8
	for cycle := 0; cycle < 1000; cycle++ {
		for i := range want {
			want[i] = uint8(rng.IntN(64))
			hllDenseSetRegister(regs, i, want[i])
		}
		for i := range want {
			if got := hllDenseGet(regs, i); got != want[i] {
				return Errorf("TESTFAILED Register %d should be %d but is %d", i, want[i], got)
			}
		}
	}
	clear(regs)
	sparse := newHLLObj(hllEmpty())
	sparseMax := c.hllSparseMaxBytes()
	relerr := 1.04 / math.Sqrt(hllRegisters)
	seed := rng.Uint64()
	count := func(o *hllObj) uint64 {
		var h [64]int
		o.histogram(&h)
		return hllEstimate(&h)
	}
	var ele [8]byte
	checkpoint := int64(1)
	for j := int64(1); j <= 10_000_000; j++ {
		binary.LittleEndian.PutUint64(ele[:], uint64(j)^seed)
		idx, n := hllPatLen(ele[:])
		hllDenseSet(regs, idx, n)
		sparse.add(ele[:], sparseMax)
		if j != checkpoint {
			continue
		}
		if j < sparseMax/2 && sparse.encoding() != hllEncSparse {
			return Errorf("TESTFAILED sparse encoding not used")
		}
		card := count(dense)
		if card != count(sparse) {
			return Errorf("TESTFAILED dense/sparse disagree")
		}
		abserr := checkpoint - int64(card)
		maxerr := int64(math.Ceil(relerr * 6 * float64(checkpoint)))
		if j == 10 {
			maxerr = 1 // collisions make larger errors likely here
		}
		if abserr < 0 {
			abserr = -abserr
		}
		if abserr > maxerr {
			return Errorf("TESTFAILED Too big error. card:%d abserr:%d", checkpoint, abserr)
		}
		checkpoint *= 10
	}
	c.W.OK()
	return nil
}
