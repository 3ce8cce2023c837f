package commands

import (
	"strconv"
	"strings"
)

// argInt parses an integer argument exactly as Redis's string2ll does: an
// optional '-', no '+', no leading zeros, no spaces, within int64.
func argInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 20 {
		return 0, ErrNotInteger
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, nil
	}
	i := 0
	if b[0] == '-' {
		i = 1
		if len(b) == 1 {
			return 0, ErrNotInteger
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, ErrNotInteger
	}
	for _, c := range b[i:] {
		if c < '0' || c > '9' {
			return 0, ErrNotInteger
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, ErrNotInteger
	}
	return n, nil
}

// argIs reports whether an argument equals an option name, ignoring case.
func argIs(b []byte, opt string) bool { return strings.EqualFold(string(b), opt) }

// writeHelp replies the recorded "<name> HELP" text of a command.
func writeHelp(c *Ctx, name string) error {
	m := recordedRedis().cmds[name]
	if m == nil || m.help == nil {
		return Errorf("ERR no help for '%s'", name)
	}
	m.help.write(c.W)
	return nil
}
