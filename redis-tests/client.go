package redistests

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Errors returned by the RESP reader.
var (
	// ErrProtocol is wrapped by every error caused by bytes that are not valid RESP.
	ErrProtocol = errors.New("redistests: protocol error")
)

// Limits on what the reader accepts, so a broken server cannot make it allocate without bound.
const (
	maxBulkLen       = 512 << 20
	maxAggregateLen  = 1 << 24
	maxNestingDepth  = 64
	defaultIOTimeout = 10 * time.Second
)

// Value is one RESP2 or RESP3 reply, with its wire type preserved.
//
// Kind is the RESP type byte: '+' simple string, '-' error, ':' integer, '$' bulk string,
// '*' array, '_' RESP3 null, ',' double, '#' boolean, '!' blob error, '=' verbatim string,
// '(' big number, '%' map, '~' set, '>' push, '|' attribute.
type Value struct {
	Kind byte
	// Str holds the text of '+', '-', '$', '!', '=' (without its format prefix), ',' and '('.
	Str string
	// Int holds the value of ':'.
	Int int64
	// Bool holds the value of '#'.
	Bool bool
	// Null is true for the RESP2 null bulk string ($-1) and null array (*-1).
	Null bool
	// Format is the three-letter format of a verbatim string ('=').
	Format string
	// Elems holds the elements of '*', '~', '>'; for '%' and '|' keys and values alternate.
	// For '|' the last element is the value the attribute is attached to.
	Elems []Value
}

// Conn is a raw RESP connection to one server. It is not safe for concurrent use.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

// Dial opens a connection to addr (host:port) over TCP.
func Dial(addr string) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, defaultIOTimeout)
	if err != nil {
		return nil, fmt.Errorf("redistests: dial %s: %w", addr, err)
	}
	return &Conn{nc: nc, r: bufio.NewReader(nc), timeout: defaultIOTimeout}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Do sends one command as a RESP array of bulk strings and reads one reply.
func (c *Conn) Do(args ...[]byte) (Value, error) {
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return Value{}, err
	}
	if _, err := c.nc.Write(EncodeCommand(args)); err != nil {
		return Value{}, fmt.Errorf("redistests: write: %w", err)
	}
	return ReadValue(c.r)
}

// EncodeCommand returns args encoded as a RESP array of bulk strings.
func EncodeCommand(args [][]byte) []byte {
	b := make([]byte, 0, 16+16*len(args))
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// ReadValue reads one complete RESP2/RESP3 value from r.
func ReadValue(r *bufio.Reader) (Value, error) {
	return readValue(r, 0)
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && line != "" {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", fmt.Errorf("%w: line not terminated by CRLF: %q", ErrProtocol, line)
	}
	return line[:len(line)-2], nil
}

func readLen(s string, limit int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < -1 || n > limit {
		return 0, fmt.Errorf("%w: bad length %q", ErrProtocol, s)
	}
	return n, nil
}

func readBlob(r *bufio.Reader, n int) (string, error) {
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return "", fmt.Errorf("%w: blob not terminated by CRLF", ErrProtocol)
	}
	return string(buf[:n]), nil
}

func readValue(r *bufio.Reader, depth int) (Value, error) {
	if depth > maxNestingDepth {
		return Value{}, fmt.Errorf("%w: nesting deeper than %d", ErrProtocol, maxNestingDepth)
	}
	line, err := readLine(r)
	if err != nil {
		return Value{}, err
	}
	if line == "" {
		return Value{}, fmt.Errorf("%w: empty line", ErrProtocol)
	}
	v := Value{Kind: line[0]}
	rest := line[1:]
	switch v.Kind {
	case '+', '-', ',', '(':
		v.Str = rest
	case ':':
		v.Int, err = strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("%w: bad integer %q", ErrProtocol, rest)
		}
	case '_':
		if rest != "" {
			return Value{}, fmt.Errorf("%w: bad null %q", ErrProtocol, line)
		}
	case '#':
		switch rest {
		case "t":
			v.Bool = true
		case "f":
		default:
			return Value{}, fmt.Errorf("%w: bad boolean %q", ErrProtocol, line)
		}
	case '$', '!', '=':
		n, err := readLen(rest, maxBulkLen)
		if err != nil {
			return Value{}, err
		}
		if n == -1 {
			if v.Kind != '$' {
				return Value{}, fmt.Errorf("%w: null %q", ErrProtocol, line)
			}
			v.Null = true
			return v, nil
		}
		v.Str, err = readBlob(r, n)
		if err != nil {
			return Value{}, err
		}
		if v.Kind == '=' {
			if len(v.Str) < 4 || v.Str[3] != ':' {
				return Value{}, fmt.Errorf("%w: verbatim string without format", ErrProtocol)
			}
			v.Format, v.Str = v.Str[:3], v.Str[4:]
		}
	case '*', '~', '>', '%', '|':
		n, err := readLen(rest, maxAggregateLen)
		if err != nil {
			return Value{}, err
		}
		if n == -1 {
			if v.Kind != '*' {
				return Value{}, fmt.Errorf("%w: null %q", ErrProtocol, line)
			}
			v.Null = true
			return v, nil
		}
		if v.Kind == '%' || v.Kind == '|' {
			n *= 2
		}
		v.Elems = make([]Value, 0, min(n, 1024))
		for range n {
			e, err := readValue(r, depth+1)
			if err != nil {
				return Value{}, err
			}
			v.Elems = append(v.Elems, e)
		}
		if v.Kind == '|' {
			e, err := readValue(r, depth+1)
			if err != nil {
				return Value{}, err
			}
			v.Elems = append(v.Elems, e)
		}
	default:
		return Value{}, fmt.Errorf("%w: unknown type byte %q", ErrProtocol, v.Kind)
	}
	return v, nil
}
