package resp

import (
	"bytes"
	"errors"
	"math"
)

// Request-size limits fixed by Redis (server.h), not configurable there either.
const (
	// InlineMaxSize is PROTO_INLINE_MAX_SIZE: the most bytes an inline line,
	// a multibulk count line or a bulk length line may hold while its
	// terminator has not arrived yet.
	InlineMaxSize = 64 * 1024
	// unauthMultibulkMax and unauthBulkMax bound requests of clients that
	// must still authenticate (Redis networking.c).
	unauthMultibulkMax = 10
	unauthBulkMax      = 16384
	// maxKeptQueryBuf is the largest read buffer kept once drained.
	maxKeptQueryBuf = 1 << 20
)

// ProtocolError is a malformed request. Msg is the reply text Redis 7.0 sends
// for it (without the leading '-' and trailing CRLF); the server replies with
// it and then closes the connection.
type ProtocolError struct {
	Msg string
}

func (e *ProtocolError) Error() string { return "resp: " + e.Msg }

// ErrProtocol matches every *ProtocolError with errors.Is.
var ErrProtocol = errors.New("resp: protocol error")

// Is makes errors.Is(err, ErrProtocol) true for protocol errors.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

func protoErr(msg string) *ProtocolError {
	return &ProtocolError{Msg: "ERR Protocol error: " + msg}
}

var (
	errTooBigInline       = protoErr("too big inline request")
	errUnbalancedQuotes   = protoErr("unbalanced quotes in request")
	errTooBigMbulkCount   = protoErr("too big mbulk count string")
	errInvalidMultibulk   = protoErr("invalid multibulk length")
	errUnauthMultibulk    = protoErr("unauthenticated multibulk length")
	errTooBigBulkCount    = protoErr("too big bulk count string")
	errInvalidBulkLength  = protoErr("invalid bulk length")
	errUnauthBulkLength   = protoErr("unauthenticated bulk length")
	errExpectedDollarBase = "expected '$', got '"
)

// Parser splits a byte stream into requests exactly as Redis 7.0's
// processInputBuffer does (inline and multibulk). It is incremental: Feed
// appends received bytes, Next returns complete requests one at a time, and
// state for a partially received multibulk request is kept between calls.
//
// Redis quirks it reproduces on purpose: terminators are searched with C
// string functions, so a NUL byte before a line's terminator hides the
// terminator (the request then waits until it is "too big"); the two bytes
// after a bulk payload are skipped without being checked; only one byte after
// the '\r' of a length line is required and it is not checked to be '\n';
// "*0" and negative counts are ignored; empty inline lines are ignored.
//
// A Parser is not safe for concurrent use.
type Parser struct {
	// MaxBulkLen is proto-max-bulk-len: bulk lengths above it are invalid.
	MaxBulkLen int64
	// MaxMultibulkLen is the most arguments of one multibulk request;
	// zero means INT_MAX, Redis 7.0's limit.
	MaxMultibulkLen int64
	// AuthRequired, when it returns true, applies Redis's limits for
	// clients that have not authenticated (at most 10 arguments and 16384
	// bytes per bulk). Nil means never.
	AuthRequired func() bool

	buf []byte
	pos int // first unparsed byte of buf

	// state of the multibulk request being parsed
	inMulti bool
	mbLeft  int   // arguments still to read
	bulkLen int64 // -1 while the next bulk header is awaited
	argv    [][]byte

	arena []byte // small arguments are carved from here
}

// NewParser returns a Parser rejecting bulk lengths above maxBulkLen.
func NewParser(maxBulkLen int64) *Parser {
	return &Parser{MaxBulkLen: maxBulkLen, bulkLen: -1}
}

// Feed appends received bytes.
func (p *Parser) Feed(b []byte) {
	p.compact(len(b))
	p.buf = append(p.buf, b...)
}

// ReadSpace returns a slice of at least n free bytes at the end of the
// buffer to read into; call Commit with the number of bytes filled. It saves
// the copy Feed makes.
func (p *Parser) ReadSpace(n int) []byte {
	p.compact(n)
	if cap(p.buf)-len(p.buf) < n {
		nb := make([]byte, len(p.buf), 2*cap(p.buf)+n)
		copy(nb, p.buf)
		p.buf = nb
	}
	return p.buf[len(p.buf):cap(p.buf)]
}

// Commit records that n bytes were read into the slice from ReadSpace.
func (p *Parser) Commit(n int) { p.buf = p.buf[:len(p.buf)+n] }

// compact drops consumed bytes when that makes room for n more.
func (p *Parser) compact(n int) {
	if p.pos == 0 {
		return
	}
	if p.pos == len(p.buf) {
		if cap(p.buf) > maxKeptQueryBuf {
			p.buf = nil // do not keep the buffer a huge request needed
		} else {
			p.buf = p.buf[:0]
		}
		p.pos = 0
		return
	}
	if cap(p.buf)-len(p.buf) < n || p.pos > len(p.buf)/2 {
		k := copy(p.buf, p.buf[p.pos:])
		p.buf, p.pos = p.buf[:k], 0
	}
}

// Buffered returns the number of received bytes not yet returned as part of
// a request, plus the bytes of the arguments of the request being parsed:
// the client's query buffer size.
func (p *Parser) Buffered() int {
	n := len(p.buf) - p.pos
	for _, a := range p.argv {
		n += len(a)
	}
	return n
}

// Next returns the next complete request. It returns (nil, nil) when more
// bytes are needed, and a *ProtocolError when the stream is malformed; after
// an error the Parser must not be used again.
func (p *Parser) Next() ([][]byte, error) {
	for p.pos < len(p.buf) {
		if !p.inMulti {
			if p.buf[p.pos] != '*' {
				args, ok, err := p.inline()
				if err != nil || !ok {
					return nil, err
				}
				if len(args) == 0 {
					continue // empty line
				}
				return args, nil
			}
			ok, err := p.multibulkHeader()
			if err != nil || !ok {
				return nil, err
			}
			if !p.inMulti {
				continue // "*0" or a negative count
			}
		}
		args, ok, err := p.multibulkArgs()
		if err != nil || !ok {
			return nil, err
		}
		return args, nil
	}
	return nil, nil
}

// cIndex is strchr on a C string: the index of c in b before any NUL, or -1.
func cIndex(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
		if x == 0 {
			return -1
		}
	}
	return -1
}

func (p *Parser) inline() ([][]byte, bool, error) {
	rest := p.buf[p.pos:]
	nl := cIndex(rest, '\n')
	if nl < 0 {
		if len(rest) > InlineMaxSize {
			return nil, false, errTooBigInline
		}
		return nil, false, nil
	}
	line := rest[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args, ok := SplitArgs(line)
	if !ok {
		return nil, false, errUnbalancedQuotes
	}
	p.pos += nl + 1
	return args, true, nil
}

// lengthLine finds the '\r' ending the length line at p.pos. ok is false
// when it has not fully arrived; tooBig is set when it never can.
func (p *Parser) lengthLine() (body []byte, ok, tooBig bool) {
	rest := p.buf[p.pos:]
	cr := cIndex(rest, '\r')
	if cr < 0 {
		return nil, false, len(rest) > InlineMaxSize
	}
	if cr > len(rest)-2 { // the byte after '\r' (assumed '\n') is missing
		return nil, false, false
	}
	if cr == 0 {
		return nil, true, false // rest[0] is '\r': the caller rejects it
	}
	return rest[1:cr], true, false
}

func (p *Parser) multibulkHeader() (bool, error) {
	body, ok, tooBig := p.lengthLine()
	if tooBig {
		return false, errTooBigMbulkCount
	}
	if !ok {
		return false, nil
	}
	n, valid := String2ll(body)
	maxN := p.MaxMultibulkLen
	if maxN <= 0 {
		maxN = math.MaxInt32
	}
	if !valid || n > maxN {
		return false, errInvalidMultibulk
	}
	if n > unauthMultibulkMax && p.AuthRequired != nil && p.AuthRequired() {
		return false, errUnauthMultibulk
	}
	p.pos += len(body) + 3
	if n <= 0 {
		return true, nil
	}
	p.inMulti = true
	p.mbLeft = int(n)
	p.bulkLen = -1
	p.argv = make([][]byte, 0, min(n, 1024))
	return true, nil
}

func (p *Parser) multibulkArgs() ([][]byte, bool, error) {
	for p.mbLeft > 0 {
		if p.bulkLen == -1 {
			body, ok, tooBig := p.lengthLine()
			if tooBig {
				return nil, false, errTooBigBulkCount
			}
			if !ok {
				return nil, false, nil
			}
			if c := p.buf[p.pos]; c != '$' {
				if c == '\r' || c == '\n' {
					c = ' ' // Redis blanks line breaks in error replies
				}
				return nil, false, &ProtocolError{Msg: "ERR Protocol error: " + errExpectedDollarBase + string([]byte{c}) + "'"}
			}
			n, valid := String2ll(body)
			if !valid || n < 0 || n > p.MaxBulkLen {
				return nil, false, errInvalidBulkLength
			}
			if n > unauthBulkMax && p.AuthRequired != nil && p.AuthRequired() {
				return nil, false, errUnauthBulkLength
			}
			p.pos += len(body) + 3
			p.bulkLen = n
		}
		if int64(len(p.buf)-p.pos) < p.bulkLen+2 {
			return nil, false, nil
		}
		n := int(p.bulkLen)
		p.argv = append(p.argv, p.copyArg(p.buf[p.pos:p.pos+n]))
		p.pos += n + 2
		p.bulkLen = -1
		p.mbLeft--
	}
	args := p.argv
	p.argv = nil
	p.inMulti = false
	return args, true, nil
}

// copyArg copies an argument out of the read buffer, which is reused.
// Small arguments share an arena that is never reused, so handlers may keep
// them (MULTI queues do); the capacity is clipped so an append by a handler
// cannot overwrite a neighbour.
func (p *Parser) copyArg(b []byte) []byte {
	const arenaSize, smallArg = 8192, 512
	if len(b) == 0 {
		return []byte{} // never nil: an empty argument is not a missing one
	}
	if len(b) > smallArg {
		return bytes.Clone(b)
	}
	if cap(p.arena)-len(p.arena) < len(b) {
		p.arena = make([]byte, 0, arenaSize)
	}
	start := len(p.arena)
	p.arena = append(p.arena, b...)
	return p.arena[start:len(p.arena):len(p.arena)]
}

// String2ll parses a decimal int64 exactly as Redis's string2ll: no sign but
// '-', no leading zeros, no spaces, not empty, no overflow.
func String2ll(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > math.MaxUint64/10 {
			return 0, false
		}
		v *= 10
		if v > math.MaxUint64-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > uint64(math.MaxInt64)+1 {
			return 0, false
		}
		return -int64(v), true // wraps correctly for MinInt64
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// SplitArgs splits an inline request line as Redis's sdssplitargs does:
// arguments are separated by spaces; "double quotes" support \xHH, \n, \r,
// \t, \b, \a and \<any>; 'single quotes' support only \'; a quote may open
// in the middle of an argument but a closing quote must be followed by a
// space or the end. A NUL byte ends the line. ok is false for unbalanced
// quotes.
func SplitArgs(line []byte) (args [][]byte, ok bool) {
	i := 0
	at := func(k int) byte { // C string view: NUL past the end
		if k < len(line) {
			return line[k]
		}
		return 0
	}
	for {
		for at(i) != 0 && isSpace(at(i)) {
			i++
		}
		if at(i) == 0 {
			return args, true
		}
		var cur []byte
		inq, insq, done := false, false, false
		for !done {
			c := at(i)
			switch {
			case inq:
				switch {
				case c == '\\' && at(i+1) == 'x' && isHex(at(i+2)) && isHex(at(i+3)):
					cur = append(cur, hexVal(at(i+2))<<4|hexVal(at(i+3)))
					i += 3
				case c == '\\' && at(i+1) != 0:
					i++
					switch e := at(i); e {
					case 'n':
						cur = append(cur, '\n')
					case 'r':
						cur = append(cur, '\r')
					case 't':
						cur = append(cur, '\t')
					case 'b':
						cur = append(cur, '\b')
					case 'a':
						cur = append(cur, '\a')
					default:
						cur = append(cur, e)
					}
				case c == '"':
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			case insq:
				switch {
				case c == '\\' && at(i+1) == '\'':
					i++
					cur = append(cur, '\'')
				case c == '\'':
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, c)
				}
			}
			if at(i) != 0 {
				i++
			}
		}
		if cur == nil {
			cur = []byte{}
		}
		args = append(args, cur)
	}
}
