package commands

import (
	"math"
	"math/big"
	"strconv"

	"github.com/skerrydb/skerry/resp"
)

// Number parsing and formatting exactly as Redis 7.0 does it. Redis is
// stricter than strconv for integers (string2ll) and differs in what its C
// library accepts for floats (strtod/strtold: hex floats, "infinity", no
// underscores), so arguments are parsed here and nowhere else.

// ParseInt parses b as Redis's string2ll: an optional '-', then "0" or a
// digit 1-9 followed by digits, within int64. It rejects '+', spaces,
// leading zeros, "-0" and the empty string. The RESP reader needs the same
// rule for length lines, so there is one implementation, in package resp.
func ParseInt(b []byte) (int64, bool) { return resp.String2ll(b) }

// floatSyntax is a number as C's strtod grammar reads it.
type floatSyntax struct {
	neg    bool
	inf    bool
	hex    bool   // digits are hex digits and exp is a power of two
	digits []byte // mantissa digits, point removed, leading zeros stripped
	exp    int64  // value = digits * base^exp (base 10, or 2 for hex)
}

// expClamp bounds parsed exponents: anything beyond overflows or
// underflows every supported format, and clamping avoids int overflow.
const expClamp = 1 << 40

// scanFloat reads s with the grammar of glibc strtod/strtold and requires
// it to consume all of s without leading whitespace, as Redis's
// string2ld/getDoubleFromObject do. NaN is rejected here because Redis
// rejects it after parsing.
func scanFloat(s []byte) (floatSyntax, bool) {
	var f floatSyntax
	if len(s) == 0 {
		return f, false
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		f.neg = s[0] == '-'
		i++
	}
	rest := s[i:]
	if equalFoldASCII(rest, "inf") || equalFoldASCII(rest, "infinity") {
		f.inf = true
		return f, true
	}
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	if len(rest) >= 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X') {
		isHex := func(c byte) bool {
			return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
		}
		f.hex = true
		j := 2
		n, frac := 0, 0
		seenPoint := false
		for ; j < len(rest); j++ {
			c := rest[j]
			switch {
			case isHex(c):
				f.digits = append(f.digits, c)
				n++
				if seenPoint {
					frac++
				}
				continue
			case c == '.' && !seenPoint:
				seenPoint = true
				continue
			}
			break
		}
		if n == 0 {
			return f, false // strtod stops after "0": trailing "x..."
		}
		f.exp = -4 * int64(frac)
		rest = rest[j:]
		if len(rest) > 0 && (rest[0] == 'p' || rest[0] == 'P') {
			e, ok := scanExp(rest[1:])
			if !ok {
				return f, false
			}
			f.exp += e
			rest = nil
		}
		if len(rest) != 0 {
			return f, false
		}
		f.digits = trimLeadingZeros(f.digits)
		return f, true
	}
	j := 0
	n, frac := 0, 0
	seenPoint := false
	for ; j < len(rest); j++ {
		c := rest[j]
		if isDigit(c) {
			f.digits = append(f.digits, c)
			n++
			if seenPoint {
				frac++
			}
			continue
		}
		if c == '.' && !seenPoint {
			seenPoint = true
			continue
		}
		break
	}
	if n == 0 {
		return f, false
	}
	f.exp = -int64(frac)
	rest = rest[j:]
	if len(rest) > 0 && (rest[0] == 'e' || rest[0] == 'E') {
		e, ok := scanExp(rest[1:])
		if !ok {
			return f, false
		}
		f.exp += e
		rest = nil
	}
	if len(rest) != 0 {
		return f, false
	}
	f.digits = trimLeadingZeros(f.digits)
	return f, true
}

// scanExp reads a whole "[+-]digits" exponent, clamped to ±expClamp.
func scanExp(s []byte) (int64, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	var e int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if e < expClamp {
			e = e*10 + int64(c-'0')
		}
	}
	if e > expClamp {
		e = expClamp
	}
	if neg {
		e = -e
	}
	return e, true
}

func trimLeadingZeros(d []byte) []byte {
	for len(d) > 0 && d[0] == '0' {
		d = d[1:]
	}
	return d
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// ParseFloat parses b as Redis's getDoubleFromObject (strtod): the whole
// of b must be a C floating point literal with no leading space; NaN,
// overflow to ±HUGE_VAL and underflow to zero are rejected; "inf" and
// "-inf" are accepted.
func ParseFloat(b []byte) (float64, bool) {
	f, ok := scanFloat(b)
	if !ok {
		return 0, false
	}
	if f.inf {
		if f.neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	if len(f.digits) == 0 {
		if f.neg {
			return math.Copysign(0, -1), true
		}
		return 0, true
	}
	var s []byte
	if f.neg {
		s = append(s, '-')
	}
	if f.hex {
		s = append(s, "0x"...)
		s = append(s, f.digits...)
		s = append(s, 'p')
	} else {
		s = append(s, f.digits...)
		s = append(s, 'e')
	}
	s = strconv.AppendInt(s, f.exp, 10)
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(v, 0) || v == 0 {
		return 0, false // ERANGE to HUGE_VAL or to zero
	}
	return v, true
}

// Long doubles: Redis's INCRBYFLOAT and HINCRBYFLOAT compute in C long
// double, which on x86-64 is the x87 80-bit extended format: a 64-bit
// mantissa and an exponent range up to about 1.19e4932. LongDouble
// reproduces its rounding (to nearest even at 64 bits) with math/big.

const (
	ldPrec = 64
	// ldMaxExp is the largest big.Float exponent (MantExp) of a finite
	// long double: LDBL_MAX < 2^16384.
	ldMaxExp = 16384
	// ldMinExp is the smallest big.Float exponent of a non-zero long
	// double (the smallest denormal is 2^-16445).
	ldMinExp = -16444
	// maxLongDoubleChars is Redis's MAX_LONG_DOUBLE_CHARS: string2ld
	// rejects inputs at least this long.
	maxLongDoubleChars = 5 * 1024
)

// LongDouble is a finite or infinite x87 extended precision value.
type LongDouble struct{ f *big.Float }

func newLD() *big.Float { return new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven) }

// LongDoubleFromInt returns n as a long double (exact).
func LongDoubleFromInt(n int64) LongDouble { return LongDouble{newLD().SetInt64(n)} }

// ParseLongDouble parses b as Redis's string2ld (strtold): the whole of b
// must be a C floating point literal shorter than 5120 bytes with no
// leading space; NaN, overflow and underflow to zero are rejected;
// infinities are accepted.
func ParseLongDouble(b []byte) (LongDouble, bool) {
	if len(b) >= maxLongDoubleChars {
		return LongDouble{}, false
	}
	f, ok := scanFloat(b)
	if !ok {
		return LongDouble{}, false
	}
	z := newLD()
	if f.inf {
		z.SetInf(f.neg)
		return LongDouble{z}, true
	}
	if len(f.digits) == 0 {
		z.SetInt64(0)
		if f.neg {
			z.Neg(z)
		}
		return LongDouble{z}, true
	}
	mant, ok := new(big.Int).SetString(string(f.digits), map[bool]int{true: 16, false: 10}[f.hex])
	if !ok {
		return LongDouble{}, false
	}
	if f.hex {
		z.SetInt(mant)
		// Reject before SetMantExp to keep exponents within int range.
		e := int64(z.MantExp(nil)) + f.exp
		if e > ldMaxExp {
			return LongDouble{}, false
		}
		if e < ldMinExp {
			return LongDouble{}, false
		}
		z.SetMantExp(z, int(f.exp))
	} else {
		// The magnitude is about 10^(len(digits)+exp); decide the hopeless
		// cases before building huge powers of ten.
		mag := int64(len(f.digits)) + f.exp
		if mag > 4934 {
			return LongDouble{}, false
		}
		if mag < -4952 {
			return LongDouble{}, false
		}
		num, den := mant, big.NewInt(1)
		pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(abs64(f.exp)), nil)
		if f.exp >= 0 {
			num = num.Mul(num, pow)
		} else {
			den = pow
		}
		// Quo of exact operands is correctly rounded to z's precision.
		z.Quo(new(big.Float).SetInt(num), new(big.Float).SetInt(den))
	}
	if f.neg {
		z.Neg(z)
	}
	if !ldInRange(z) {
		return LongDouble{}, false
	}
	return LongDouble{z}, true
}

// ldInRange reports whether a non-zero finite z is representable (no
// overflow to infinity, no underflow to zero).
func ldInRange(z *big.Float) bool {
	if z.Sign() == 0 || z.IsInf() {
		return true
	}
	e := z.MantExp(nil)
	return e <= ldMaxExp && e >= ldMinExp
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// IsInf reports whether x is an infinity.
func (x LongDouble) IsInf() bool { return x.f != nil && x.f.IsInf() }

// Add returns x+y rounded to long double. ok is false when the sum is NaN
// or infinite (including overflow), which Redis reports as "increment
// would produce NaN or Infinity".
func (x LongDouble) Add(y LongDouble) (LongDouble, bool) {
	if x.f == nil || y.f == nil || x.f.IsInf() || y.f.IsInf() {
		return LongDouble{}, false
	}
	z := newLD().Add(x.f, y.f)
	if z.Sign() != 0 && z.MantExp(nil) > ldMaxExp {
		return LongDouble{}, false
	}
	return LongDouble{z}, true
}

// Format formats x as Redis's ld2string in LD_STR_HUMAN mode: printf
// "%.17Lf", then trailing zeros (and a trailing '.') removed, and "-0"
// printed as "0". Infinities print as "inf" and "-inf".
func (x LongDouble) Format() string {
	if x.f == nil {
		return "0"
	}
	if x.f.IsInf() {
		if x.f.Signbit() {
			return "-inf"
		}
		return "inf"
	}
	// big.Float's 'f' conversion is exact and rounds half to even, like
	// glibc's printf in the default rounding mode.
	s := x.f.Text('f', 17)
	s = trimZeros(s)
	if s == "-0" {
		s = "0"
	}
	return s
}

// trimZeros removes trailing zeros after a decimal point, and the point
// itself when nothing follows it.
func trimZeros(s string) string {
	dot := false
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			dot = true
			break
		}
	}
	if !dot {
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
