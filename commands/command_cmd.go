package commands

import (
	"sort"
	"strings"

	"github.com/skerrydb/skerry/resp"
)

// registerCommandCmd registers COMMAND and its subcommands. Every reply is
// built from the recorded Redis 7.0 trees, filtered to the commands this
// table registers.
func registerCommandCmd(t *Table) {
	t.Register(&Command{Name: "command", Handler: func(c *Ctx) error {
		if len(c.Args) > 1 {
			return unknownSubcommand(c.Args[1], "COMMAND")
		}
		all := t.sorted()
		c.W.Array(len(all))
		for _, cmd := range all {
			writeCommandInfo(c.W, cmd)
		}
		return nil
	}})
	t.Register(&Command{Name: "command|count", Handler: func(c *Ctx) error {
		c.W.Int(int64(len(t.cmds)))
		return nil
	}})
	t.Register(&Command{Name: "command|info", Handler: func(c *Ctx) error {
		if len(c.Args) == 2 {
			all := t.sorted()
			c.W.Array(len(all))
			for _, cmd := range all {
				writeCommandInfo(c.W, cmd)
			}
			return nil
		}
		c.W.Array(len(c.Args) - 2)
		for _, name := range c.Args[2:] {
			if cmd := t.LookupFull(string(name)); cmd != nil {
				writeCommandInfo(c.W, cmd)
			} else {
				c.W.Null()
			}
		}
		return nil
	}})
	t.Register(&Command{Name: "command|docs", Handler: func(c *Ctx) error {
		var list []*Command
		if len(c.Args) == 2 {
			list = t.sorted()
		} else {
			for _, name := range c.Args[2:] {
				if cmd := t.LookupFull(string(name)); cmd != nil {
					list = append(list, cmd)
				}
			}
		}
		c.W.Map(len(list))
		for _, cmd := range list {
			c.W.BulkString(cmd.Name)
			writeCommandDocs(c.W, cmd)
		}
		return nil
	}})
	t.Register(&Command{Name: "command|list", Handler: func(c *Ctx) error {
		match := func(*Command) bool { return true }
		switch {
		case len(c.Args) == 2:
		case len(c.Args) == 5 && argIs(c.Args[2], "filterby"):
			val := string(c.Args[4])
			switch {
			case argIs(c.Args[3], "module"):
				match = func(*Command) bool { return false } // Skerry loads no modules
			case argIs(c.Args[3], "aclcat"):
				match = func(cmd *Command) bool {
					for _, cat := range cmd.Categories {
						if strings.EqualFold(cat, val) {
							return true
						}
					}
					return false
				}
			case argIs(c.Args[3], "pattern"):
				match = func(cmd *Command) bool { return GlobMatch([]byte(val), []byte(cmd.Name), true) }
			default:
				return ErrSyntax
			}
		default:
			return ErrSyntax
		}
		var names []string
		for _, cmd := range t.sorted() {
			if match(cmd) {
				names = append(names, cmd.Name)
			}
			for _, sub := range sortedSubs(cmd) {
				if match(sub) {
					names = append(names, sub.Name)
				}
			}
		}
		c.W.Array(len(names))
		for _, n := range names {
			c.W.BulkString(n)
		}
		return nil
	}})
	getKeys := func(c *Ctx, withFlags bool) error {
		args := c.Args[2:]
		cmd := t.Lookup(args[0])
		if cmd != nil && cmd.Subcommands != nil && len(args) >= 2 {
			if sub := cmd.Subcommands[strings.ToLower(string(args[1]))]; sub != nil {
				cmd = sub
			}
		}
		if cmd == nil {
			return errInvalidCommand
		}
		hasKeys := cmd.Keys != nil || cmd.FirstKey > 0 || (cmd.meta != nil && len(cmd.meta.specs) > 0)
		if !hasKeys {
			return errNoKeyArgs
		}
		if !arityOK(cmd.Arity, len(args)) {
			return errInvalidArgCount
		}
		var keys [][]byte
		var flags [][]string
		if cmd.Keys == nil && cmd.meta != nil && cmd.meta.specsOK && len(cmd.meta.specs) > 0 {
			pos, ok := findKeys(cmd.meta.specs, args)
			if ok {
				for _, p := range pos {
					keys = append(keys, args[p.pos])
					flags = append(flags, p.flags)
				}
			}
		} else {
			keys = cmd.KeyArgs(args)
			for range keys {
				flags = append(flags, nil)
			}
		}
		if len(keys) == 0 {
			if !cmd.HasFlag("no_mandatory_keys") {
				return errInvalidArgs
			}
		}
		c.W.Array(len(keys))
		for i, k := range keys {
			if !withFlags {
				c.W.Bulk(k)
				continue
			}
			c.W.Array(2)
			c.W.Bulk(k)
			fl := variableKeyFlags(cmd.Name, args, flags[i])
			c.W.Set(len(fl))
			for _, f := range fl {
				c.W.Simple(f)
			}
		}
		return nil
	}
	t.Register(&Command{Name: "command|getkeys", Handler: func(c *Ctx) error { return getKeys(c, false) }})
	t.Register(&Command{Name: "command|getkeysandflags", Handler: func(c *Ctx) error { return getKeys(c, true) }})
	t.Register(&Command{Name: "command|help", Handler: func(c *Ctx) error { return writeHelp(c, "command") }})
}

// variableKeyFlags resolves the key flags of specs marked variable_flags
// as Redis's per-command getkeys procedures do (SET, BITFIELD).
func variableKeyFlags(name string, args [][]byte, flags []string) []string {
	variable := false
	for _, f := range flags {
		if f == "variable_flags" {
			variable = true
		}
	}
	if !variable {
		return flags
	}
	switch name {
	case "set":
		for _, a := range args[3:] {
			if argIs(a, "get") {
				return []string{"RW", "access", "update"}
			}
		}
		return []string{"OW", "update"}
	case "bitfield":
		for _, a := range args[2:] {
			if argIs(a, "set") || argIs(a, "incrby") {
				return []string{"RW", "access", "update"}
			}
		}
		return []string{"RO", "access"}
	}
	return flags
}

// unknownSubcommand is Redis's error for a subcommand a container command
// does not have; parent is the upper-case command name.
func unknownSubcommand(sub []byte, parent string) error {
	return Errorf("ERR unknown subcommand '%s'. Try %s HELP.", trimArg(sub), parent)
}

// sorted returns the top-level commands ordered by name.
func (t *Table) sorted() []*Command {
	all := t.All()
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// sortedSubs returns a command's subcommands in the recorded order (by
// name), then any Skerry-only ones by name.
func sortedSubs(cmd *Command) []*Command {
	if len(cmd.Subcommands) == 0 {
		return nil
	}
	var out []*Command
	seen := map[string]bool{}
	if cmd.meta != nil {
		for _, sub := range cmd.meta.info.Items[9].Items {
			name := sub.Items[0].Str
			_, short, _ := strings.Cut(name, "|")
			if s := cmd.Subcommands[short]; s != nil {
				out = append(out, s)
				seen[short] = true
			}
		}
	}
	var rest []string
	for short := range cmd.Subcommands {
		if !seen[short] {
			rest = append(rest, short)
		}
	}
	sort.Strings(rest)
	for _, short := range rest {
		out = append(out, cmd.Subcommands[short])
	}
	return out
}

// LookupFull returns a command by its full name ("get", "client|list"),
// case-insensitively; nil if it is not registered.
func (t *Table) LookupFull(name string) *Command {
	name = strings.ToLower(name)
	parent, sub, ok := strings.Cut(name, "|")
	cmd := t.cmds[parent]
	if !ok || cmd == nil {
		return cmd
	}
	return cmd.Subcommands[sub]
}

// writeCommandInfo writes the COMMAND INFO entry of cmd: the recorded tree
// with its subcommand list narrowed to the registered subcommands.
func writeCommandInfo(w *resp.Writer, cmd *Command) {
	if cmd.meta == nil {
		writeSyntheticInfo(w, cmd)
		return
	}
	info := cmd.meta.info
	if len(cmd.Subcommands) == 0 {
		info.write(w)
		return
	}
	w.Array(len(info.Items))
	for _, it := range info.Items[:9] {
		it.write(w)
	}
	subs := sortedSubs(cmd)
	w.Array(len(subs))
	for _, s := range subs {
		writeCommandInfo(w, s)
	}
	for _, it := range info.Items[10:] {
		it.write(w)
	}
}

// writeSyntheticInfo writes a COMMAND INFO entry for a Skerry-only command.
func writeSyntheticInfo(w *resp.Writer, cmd *Command) {
	w.Array(10)
	w.BulkString(cmd.Name)
	w.Int(int64(cmd.Arity))
	w.Set(len(cmd.Flags))
	for _, f := range cmd.Flags {
		w.Simple(f)
	}
	w.Int(int64(cmd.FirstKey))
	w.Int(int64(cmd.LastKey))
	w.Int(int64(cmd.Step))
	w.Set(len(cmd.Categories))
	for _, c := range cmd.Categories {
		w.Simple("@" + c)
	}
	w.Set(0)
	w.Array(0)
	subs := sortedSubs(cmd)
	w.Array(len(subs))
	for _, s := range subs {
		writeCommandInfo(w, s)
	}
}

// writeCommandDocs writes the COMMAND DOCS map of cmd, with its
// "subcommands" entry narrowed to the registered subcommands.
func writeCommandDocs(w *resp.Writer, cmd *Command) {
	if cmd.meta == nil {
		w.Map(2)
		w.BulkString("summary")
		w.BulkString("Skerry command")
		w.BulkString("group")
		w.BulkString("server")
		return
	}
	docs := cmd.meta.docs
	if len(cmd.Subcommands) == 0 {
		docs.write(w)
		return
	}
	w.Map(len(docs.Items) / 2)
	for i := 0; i+1 < len(docs.Items); i += 2 {
		docs.Items[i].write(w)
		if docs.Items[i].Str != "subcommands" {
			docs.Items[i+1].write(w)
			continue
		}
		subs := sortedSubs(cmd)
		w.Map(len(subs))
		for _, s := range subs {
			w.BulkString(s.Name)
			writeCommandDocs(w, s)
		}
	}
}
