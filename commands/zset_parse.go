package commands

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// Errors of the sorted-set family (texts from Redis 7.0.15).
var (
	errZAddXXNX        = &ReplyError{"ERR XX and NX options at the same time are not compatible"}
	errZAddGTLTNX      = &ReplyError{"ERR GT, LT, and/or NX options at the same time are not compatible"}
	errZAddIncrPair    = &ReplyError{"ERR INCR option supports a single increment-element pair"}
	errZScoreNaN       = &ReplyError{"ERR resulting score is not a number (NaN)"}
	errZMinMaxFloat    = &ReplyError{"ERR min or max is not a float"}
	errZMinMaxLex      = &ReplyError{"ERR min or max not valid string range item"}
	errZLimitRank      = &ReplyError{"ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"}
	errZWithscoresLex  = &ReplyError{"ERR syntax error, WITHSCORES not supported in combination with BYLEX"}
	errZWeightFloat    = &ReplyError{"ERR weight value is not a float"}
	errZLimitNegative  = &ReplyError{"ERR LIMIT can't be negative"}
	errZPositiveCount  = &ReplyError{"ERR value is out of range, must be positive"}
	errZNumkeys        = &ReplyError{"ERR numkeys should be greater than 0"}
	errZCountPositive  = &ReplyError{"ERR count should be greater than 0"}
	errZRandRange      = &ReplyError{"ERR value is out of range"}
	errZRandCountRange = &ReplyError{"ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"}
)

// errZAtLeastOneKey is the numkeys < 1 error of ZUNION, ZINTER, ZDIFF,
// their STORE forms and ZINTERCARD.
func errZAtLeastOneKey(name string) error {
	return Errorf("ERR at least 1 input key is needed for '%s' command", name)
}

// scoreArg parses a score, increment or weight as Redis's
// getDoubleFromObject: a whole strtod literal, NaN and out-of-range values
// rejected.
func scoreArg(b []byte) (float64, error) {
	f, ok := ParseFloat(b)
	if !ok {
		return 0, ErrNotFloat
	}
	return f, nil
}

// rangeFloat parses one end of a score interval as Redis's zslParseRange
// does with strtod: the C string ends at the first NUL byte; leading
// white space is skipped; the whole rest must be consumed; an empty
// string is 0; overflow gives ±inf and underflow 0 (no range check); NaN
// is rejected.
func rangeFloat(b []byte) (float64, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, true // nothing converted, and the end pointer is at NUL
	}
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	f, ok := scanFloat(b[i:])
	if !ok {
		return 0, false
	}
	if f.inf {
		return math.Copysign(math.Inf(1), signOf(f.neg)), true
	}
	if len(f.digits) == 0 {
		return math.Copysign(0, signOf(f.neg)), true
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
	var ne *strconv.NumError
	if err != nil && !(errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange)) {
		return 0, false
	}
	return v, true // ParseFloat returns ±Inf or 0 on ErrRange, as strtod does
}

func signOf(neg bool) float64 {
	if neg {
		return -1
	}
	return 1
}

// parseScoreRange parses ZRANGEBYSCORE's min and max ("(" for exclusive).
func parseScoreRange(minArg, maxArg []byte) (scoreRange, error) {
	var r scoreRange
	var ok bool
	if r.min, r.minEx, ok = rangeEnd(minArg); !ok {
		return r, errZMinMaxFloat
	}
	if r.max, r.maxEx, ok = rangeEnd(maxArg); !ok {
		return r, errZMinMaxFloat
	}
	return r, nil
}

func rangeEnd(b []byte) (v float64, ex, ok bool) {
	if len(b) > 0 && b[0] == '(' {
		v, ok = rangeFloat(b[1:])
		return v, true, ok
	}
	v, ok = rangeFloat(b)
	return v, false, ok
}

// parseLexRange parses ZRANGEBYLEX's min and max.
func parseLexRange(minArg, maxArg []byte) (lexRange, error) {
	lo, ok1 := parseLexBound(minArg)
	hi, ok2 := parseLexBound(maxArg)
	if !ok1 || !ok2 {
		return lexRange{}, errZMinMaxLex
	}
	return lexRange{min: lo, max: hi}, nil
}

// parseLexBound parses "-", "+", "(str" or "[str". Redis reads "+" and "-"
// from a C string, so a NUL byte right after them ends the argument.
func parseLexBound(b []byte) (lexBound, bool) {
	if len(b) == 0 {
		return lexBound{}, false
	}
	switch b[0] {
	case '+', '-':
		if len(b) > 1 && b[1] != 0 {
			return lexBound{}, false
		}
		return lexBound{ex: true, maxInf: b[0] == '+', minInf: b[0] == '-'}, true
	case '(':
		return lexBound{s: b[1:], ex: true}, true
	case '[':
		return lexBound{s: b[1:]}, true
	}
	return lexBound{}, false
}
