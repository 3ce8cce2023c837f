package commands

import (
	"strings"
)

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
