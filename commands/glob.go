package commands

// GlobMatch reports whether str matches the Redis glob pattern, with the
// exact semantics of Redis 7.0's stringmatchlen: '*', '?', '[...]' classes
// with '^' negation, ranges (reversed ranges allowed) and '\' escapes, an
// unterminated class running to the end of the pattern, bytes compared as
// C's signed char in ranges, ASCII case folding when nocase, and at most
// 1000 nested '*' levels.
func GlobMatch(pattern, str []byte, nocase bool) bool {
	skip := false
	return globMatch(pattern, str, nocase, &skip, 0)
}

func lowerASCII(c int) int {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func globMatch(pat, str []byte, nocase bool, skipLonger *bool, nesting int) bool {
	if nesting > 1000 {
		return false
	}
	// at mimics reading a NUL-terminated C string past its length.
	at := func(b []byte, i int) int {
		if i < 0 || i >= len(b) {
			return 0
		}
		return int(int8(b[i]))
	}
	p, s := 0, 0
	for p < len(pat) && s < len(str) {
		switch pat[p] {
		case '*':
			for p < len(pat) && at(pat, p+1) == '*' {
				p++
			}
			if len(pat)-p == 1 {
				return true
			}
			for s < len(str) {
				if globMatch(pat[p+1:], str[s:], nocase, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s++
			}
			*skipLonger = true
			return false
		case '?':
			s++
		case '[':
			p++
			not := at(pat, p) == '^'
			if not {
				p++
			}
			match := false
			c := at(str, s)
		class:
			for {
				switch {
				case at(pat, p) == '\\' && len(pat)-p >= 2:
					p++
					if at(pat, p) == c {
						match = true
					}
				case at(pat, p) == ']':
					break class
				case p >= len(pat):
					p--
					break class
				case len(pat)-p >= 3 && at(pat, p+1) == '-':
					start, end, cc := at(pat, p), at(pat, p+2), c
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, cc = lowerASCII(start), lowerASCII(end), lowerASCII(cc)
					}
					p += 2
					if cc >= start && cc <= end {
						match = true
					}
				default:
					if nocase {
						if lowerASCII(at(pat, p)) == lowerASCII(c) {
							match = true
						}
					} else if at(pat, p) == c {
						match = true
					}
				}
				p++
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s++
		case '\\':
			if len(pat)-p >= 2 {
				p++
			}
			fallthrough
		default:
			a, b := at(pat, p), at(str, s)
			if nocase {
				a, b = lowerASCII(a), lowerASCII(b)
			}
			if a != b {
				return false
			}
			s++
		}
		p++
		if s >= len(str) {
			for at(pat, p) == '*' && p < len(pat) {
				p++
			}
			break
		}
	}
	return p >= len(pat) && s >= len(str)
}
