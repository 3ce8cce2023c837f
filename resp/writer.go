package resp

import (
	"math"
	"strconv"
)

// Writer encodes replies into a byte buffer in the client's protocol
// version. It does no I/O: the server flushes Bytes() to the connection, and a
// caller that must discard a reply (a failed commit) calls Reset.
//
// RESP3-only types degrade to their RESP2 form exactly as Redis 7.0 does:
// maps become flat arrays, sets become arrays, doubles become bulk strings,
// booleans become integers, nulls become $-1 (or *-1 for null arrays).
type Writer struct {
	buf   []byte
	proto int // 2 or 3
}

// NewWriter returns a Writer for protocol version proto (2 or 3).
func NewWriter(proto int) *Writer { return &Writer{proto: proto} }

// Proto returns the protocol version replies are encoded in.
func (w *Writer) Proto() int { return w.proto }

// SetProto switches the protocol version for subsequent replies.
func (w *Writer) SetProto(p int) { w.proto = p }

// Bytes returns the encoded replies. Valid until the next write or Reset.
func (w *Writer) Bytes() []byte { return w.buf }

// Len returns the number of encoded bytes.
func (w *Writer) Len() int { return len(w.buf) }

// Reset discards everything written.
func (w *Writer) Reset() { w.buf = w.buf[:0] }

// Truncate discards everything written after the first n bytes.
func (w *Writer) Truncate(n int) { w.buf = w.buf[:n] }

// Raw appends already encoded RESP.
func (w *Writer) Raw(b []byte) { w.buf = append(w.buf, b...) }

func (w *Writer) header(c byte, n int64) {
	w.buf = append(w.buf, c)
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.buf = append(w.buf, '\r', '\n')
}

// Simple writes a simple string: +s
func (w *Writer) Simple(s string) {
	w.buf = append(w.buf, '+')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// OK writes +OK.
func (w *Writer) OK() { w.buf = append(w.buf, "+OK\r\n"...) }

// Error writes an error reply. msg is the full text including its code, for
// example "ERR syntax error" or "WRONGTYPE Operation against ...". Line
// breaks are replaced by spaces as Redis does.
func (w *Writer) Error(msg string) {
	w.buf = append(w.buf, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.buf = append(w.buf, c)
	}
	w.buf = append(w.buf, '\r', '\n')
}

// Int writes an integer: :n
func (w *Writer) Int(n int64) { w.header(':', n) }

// Bulk writes a bulk string.
func (w *Writer) Bulk(b []byte) {
	w.header('$', int64(len(b)))
	w.buf = append(w.buf, b...)
	w.buf = append(w.buf, '\r', '\n')
}

// BulkString writes a bulk string.
func (w *Writer) BulkString(s string) {
	w.header('$', int64(len(s)))
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// BulkInt writes n formatted as a bulk string.
func (w *Writer) BulkInt(n int64) {
	var tmp [24]byte
	w.Bulk(strconv.AppendInt(tmp[:0], n, 10))
}

// Null writes a null bulk string: $-1 in RESP2, _ in RESP3.
func (w *Writer) Null() {
	if w.proto == 3 {
		w.buf = append(w.buf, "_\r\n"...)
		return
	}
	w.buf = append(w.buf, "$-1\r\n"...)
}

// NullArray writes a null array: *-1 in RESP2, _ in RESP3.
func (w *Writer) NullArray() {
	if w.proto == 3 {
		w.buf = append(w.buf, "_\r\n"...)
		return
	}
	w.buf = append(w.buf, "*-1\r\n"...)
}

// Array writes an array header of n elements.
func (w *Writer) Array(n int) { w.header('*', int64(n)) }

// Map writes a map header of n key/value pairs (RESP2: array of 2n).
func (w *Writer) Map(n int) {
	if w.proto == 3 {
		w.header('%', int64(n))
		return
	}
	w.header('*', int64(2*n))
}

// Set writes a set header of n elements (RESP2: array).
func (w *Writer) Set(n int) {
	if w.proto == 3 {
		w.header('~', int64(n))
		return
	}
	w.header('*', int64(n))
}

// Push writes a push header of n elements (RESP2: array).
func (w *Writer) Push(n int) {
	if w.proto == 3 {
		w.header('>', int64(n))
		return
	}
	w.header('*', int64(n))
}

// Bool writes a boolean (RESP2: :1 or :0).
func (w *Writer) Bool(b bool) {
	if w.proto == 3 {
		if b {
			w.buf = append(w.buf, "#t\r\n"...)
		} else {
			w.buf = append(w.buf, "#f\r\n"...)
		}
		return
	}
	if b {
		w.Int(1)
	} else {
		w.Int(0)
	}
}

// Double writes a floating point reply: RESP3 ",<d>" and RESP2 a bulk string,
// both formatted as Redis formats doubles in replies (%.17g, inf/-inf/nan).
func (w *Writer) Double(f float64) {
	var tmp [32]byte
	b := AppendDouble(tmp[:0], f)
	if w.proto == 3 {
		w.buf = append(w.buf, ',')
		w.buf = append(w.buf, b...)
		w.buf = append(w.buf, '\r', '\n')
		return
	}
	w.Bulk(b)
}

// Verbatim writes verbatim text (RESP3 "=", format "txt"); RESP2 a bulk string.
func (w *Writer) Verbatim(s string) {
	if w.proto == 3 {
		w.header('=', int64(len(s)+4))
		w.buf = append(w.buf, "txt:"...)
		w.buf = append(w.buf, s...)
		w.buf = append(w.buf, '\r', '\n')
		return
	}
	w.BulkString(s)
}

// AppendDouble formats f as Redis's addReplyDouble does: "inf", "-inf",
// "nan", otherwise %.17g.
func AppendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	return appendG17(dst, f)
}

// appendG17 is C's printf("%.17g").
func appendG17(dst []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	// Log10 can be off by one near powers of ten; correct with the
	// rounded mantissa that %e would print.
	s := strconv.FormatFloat(f, 'e', 16, 64)
	if i := indexByte(s, 'e'); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err == nil {
			exp = e
		}
	}
	if exp < -4 || exp >= 17 {
		// %e style with trailing zeros removed from the mantissa.
		i := indexByte(s, 'e')
		mant := trimZeros(s[:i])
		e := s[i+1:]
		sign := byte('+')
		if e[0] == '-' || e[0] == '+' {
			sign = e[0]
			e = e[1:]
		}
		for len(e) < 2 {
			e = "0" + e
		}
		dst = append(dst, mant...)
		dst = append(dst, 'e', sign)
		return append(dst, e...)
	}
	prec := 17 - 1 - exp
	if prec < 0 {
		prec = 0
	}
	return append(dst, trimZeros(strconv.FormatFloat(f, 'f', prec, 64))...)
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trimZeros(s string) string {
	if indexByte(s, '.') < 0 {
		return s
	}
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}
