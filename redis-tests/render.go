package redistests

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every error about malformed transcript text.
var ErrSyntax = errors.New("redistests: transcript syntax error")

// indentUnit is the indentation of one nesting level in a rendered reply.
const indentUnit = "  "

// Render returns the canonical transcript rendering of v: one line per value, the elements of
// an aggregate on the following lines indented by two more spaces. Distinct values always
// render differently (the rendering is type-preserving and exact).
func Render(v Value) []string {
	var out []string
	renderInto(&out, v, "")
	return out
}

func renderInto(out *[]string, v Value, indent string) {
	*out = append(*out, indent+Head(v))
	for _, e := range v.Elems {
		renderInto(out, e, indent+indentUnit)
	}
}

// Head returns the first line of v's rendering, without the elements of an aggregate.
//
//	+OK              simple string        -ERR text         error
//	:12              integer              "a\x00b"          bulk string (quoted)
//	(nil)            RESP2 null bulk      (nil-array)       RESP2 null array
//	*2 / %2 / ~2     array / map (pairs) / set, elements follow, indented
//	(null)           RESP3 null           ,1.5              RESP3 double
//	(true) (false)   RESP3 booleans       (bignum) 123      RESP3 big number
//	(verbatim) txt "..."                  (blob-error) "..."
//	(push) 3         RESP3 push           (attr) 1          RESP3 attribute (pairs, then the value)
//
// Simple strings and errors are quoted ("+" followed by a quoted string) when their text
// has leading or trailing spaces, non-printable bytes or starts with a double quote.
func Head(v Value) string {
	switch v.Kind {
	case '+', '-':
		return string(v.Kind) + textOrQuoted(v.Str)
	case ':':
		return ":" + strconv.FormatInt(v.Int, 10)
	case '$':
		if v.Null {
			return "(nil)"
		}
		return Quote(v.Str)
	case '*':
		if v.Null {
			return "(nil-array)"
		}
		return "*" + strconv.Itoa(len(v.Elems))
	case '%':
		return "%" + strconv.Itoa(len(v.Elems)/2)
	case '~':
		return "~" + strconv.Itoa(len(v.Elems))
	case '>':
		return "(push) " + strconv.Itoa(len(v.Elems))
	case '|':
		return "(attr) " + strconv.Itoa((len(v.Elems)-1)/2)
	case '_':
		return "(null)"
	case ',':
		return "," + v.Str
	case '#':
		if v.Bool {
			return "(true)"
		}
		return "(false)"
	case '(':
		return "(bignum) " + v.Str
	case '!':
		return "(blob-error) " + Quote(v.Str)
	case '=':
		return "(verbatim) " + v.Format + " " + Quote(v.Str)
	}
	return fmt.Sprintf("(unknown %q)", v.Kind)
}

func textOrQuoted(s string) string {
	if s == "" {
		return s
	}
	if s[0] == '"' || s[0] == ' ' || s[len(s)-1] == ' ' {
		return Quote(s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return Quote(s)
		}
	}
	return s
}

// Quote returns s in double quotes: printable ASCII as is, \\ \" \n \r \t escaped, every
// other byte as \xNN. Unquote reverses it.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"':
			b.WriteString(`\"`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// unquotePrefix parses a double-quoted string at the start of s and returns its value and
// the rest of s after the closing quote.
func unquotePrefix(s string) (val, rest string, err error) {
	if s == "" || s[0] != '"' {
		return "", "", fmt.Errorf("%w: expected '\"' in %q", ErrSyntax, s)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 >= len(s) {
				return "", "", fmt.Errorf("%w: dangling backslash in %q", ErrSyntax, s)
			}
			i++
			switch s[i] {
			case '\\', '"', '\'':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'x':
				if i+2 >= len(s) {
					return "", "", fmt.Errorf("%w: short \\x escape in %q", ErrSyntax, s)
				}
				n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return "", "", fmt.Errorf("%w: bad \\x escape in %q", ErrSyntax, s)
				}
				b.WriteByte(byte(n))
				i += 2
			default:
				return "", "", fmt.Errorf("%w: unknown escape \\%c in %q", ErrSyntax, s[i], s)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("%w: unterminated quote in %q", ErrSyntax, s)
}

// Unquote parses a string produced by Quote (the whole of s must be one quoted string).
func Unquote(s string) (string, error) {
	v, rest, err := unquotePrefix(s)
	if err != nil {
		return "", err
	}
	if rest != "" {
		return "", fmt.Errorf("%w: trailing text after quoted string in %q", ErrSyntax, s)
	}
	return v, nil
}

// SplitArgs splits a command line the way redis-cli does: arguments are separated by spaces;
// an argument in double quotes may contain spaces and the escapes \xNN \n \r \t \" \\;
// an argument in single quotes is literal except for \'.
func SplitArgs(line string) ([][]byte, error) {
	var args [][]byte
	s := line
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return args, nil
		}
		var arg string
		switch s[0] {
		case '"':
			v, rest, err := unquotePrefix(s)
			if err != nil {
				return nil, err
			}
			arg, s = v, rest
		case '\'':
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' && i+1 < len(s) && s[i+1] == '\'' {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("%w: unterminated single quote in %q", ErrSyntax, line)
			}
			arg, s = b.String(), s[i+1:]
		default:
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			arg, s = s[:end], s[end:]
			if strings.ContainsAny(arg, `"'`) {
				return nil, fmt.Errorf("%w: quote inside unquoted argument %q", ErrSyntax, arg)
			}
		}
		if s != "" && s[0] != ' ' && s[0] != '\t' {
			return nil, fmt.Errorf("%w: closing quote must be followed by a space in %q", ErrSyntax, line)
		}
		args = append(args, []byte(arg))
	}
}
