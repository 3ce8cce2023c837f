package commands

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// registerServer registers INFO, TIME, CONFIG, LASTSAVE, SAVE, BGSAVE and
// SHUTDOWN (DBSIZE, FLUSHDB and FLUSHALL are keyspace commands, keys.go).
func registerServer(t *Table) {
	t.Register(&Command{Name: "info", Handler: info})
	t.Register(&Command{Name: "time", Handler: func(c *Ctx) error {
		now := time.Now()
		c.W.Array(2)
		c.W.BulkInt(now.Unix())
		c.W.BulkInt(int64(now.Nanosecond() / 1000))
		return nil
	}})
	t.Register(&Command{Name: "lastsave", Handler: func(c *Ctx) error {
		c.W.Int(c.Env.lastSaveUnix())
		return nil
	}})
	// Every acknowledged write is already durable, so SAVE and BGSAVE have
	// nothing to do; they record the time LASTSAVE reports.
	t.Register(&Command{Name: "save", Handler: func(c *Ctx) error {
		c.Env.lastSave.Store(time.Now().Unix())
		c.W.OK()
		return nil
	}})
	t.Register(&Command{Name: "bgsave", Handler: func(c *Ctx) error {
		if len(c.Args) == 2 && !argIs(c.Args[1], "schedule") {
			return ErrSyntax
		}
		c.Env.lastSave.Store(time.Now().Unix())
		c.W.Simple("Background saving started")
		return nil
	}})
	t.Register(&Command{Name: "shutdown", Handler: shutdown})
	registerConfig(t)
}

// lastSaveUnix is the LASTSAVE time: the last SAVE/BGSAVE, else start-up.
func (e *Env) lastSaveUnix() int64 {
	if v := e.lastSave.Load(); v != 0 {
		return v
	}
	return e.StartTime.Unix()
}

// shutdown implements SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. On
// success Redis sends no reply: the connection closes.
func shutdown(c *Ctx) error {
	var nosave, save, abort bool
	for _, a := range c.Args[1:] {
		switch {
		case argIs(a, "nosave"):
			nosave = true
		case argIs(a, "save"):
			save = true
		case argIs(a, "now"), argIs(a, "force"):
		case argIs(a, "abort"):
			abort = true
		default:
			return ErrSyntax
		}
	}
	if (nosave && save) || (abort && len(c.Args) > 2) {
		return ErrSyntax
	}
	if abort {
		return Errorf("ERR No shutdown in progress.")
	}
	if c.Env.Shutdown == nil {
		return Errorf("ERR Errors trying to SHUTDOWN. Check logs.")
	}
	c.Client.CloseAfterReply()
	c.Env.Shutdown()
	return nil
}

func registerConfig(t *Table) {
	t.Register(&Command{Name: "config"})
	t.Register(&Command{Name: "config|get", Handler: func(c *Ctx) error {
		seen := map[string]bool{}
		type pair struct{ shown, name string }
		var out []pair
		for _, p := range c.Args[2:] {
			if !strings.ContainsAny(string(p), "*?[") {
				// An exact name is echoed as the client spelled it.
				n := strings.ToLower(string(p))
				if _, ok := c.Env.Config.Get(n); ok && !seen[n] {
					seen[n] = true
					out = append(out, pair{string(p), n})
				}
				continue
			}
			for _, n := range c.Env.Config.Match(strings.ToLower(string(p))) {
				if !seen[n] {
					seen[n] = true
					out = append(out, pair{n, n})
				}
			}
		}
		c.W.Map(len(out))
		for _, p := range out {
			v, _ := c.Env.Config.Get(p.name)
			c.W.BulkString(p.shown)
			c.W.BulkString(v)
		}
		return nil
	}})
	t.Register(&Command{Name: "config|set", Handler: configSet})
	t.Register(&Command{Name: "config|resetstat", Handler: func(c *Ctx) error {
		c.Env.Stats.Reset()
		c.W.OK()
		return nil
	}})
	t.Register(&Command{Name: "config|rewrite", Handler: func(c *Ctx) error {
		return errNoConfigFile
	}})
	t.Register(&Command{Name: "config|help", Handler: func(c *Ctx) error { return writeHelp(c, "config") }})
}

// configSet implements CONFIG SET name value [name value ...]: all
// parameters are validated before any is applied, as in Redis 7.0.
func configSet(c *Ctx) error {
	args := c.Args[2:]
	if len(args)%2 != 0 {
		return ErrSyntax
	}
	type change struct{ name, value string }
	var changes []change
	seen := map[string]bool{}
	for i := 0; i < len(args); i += 2 {
		name := strings.ToLower(string(args[i]))
		set, ok := settable[name]
		if !ok {
			if _, exists := c.Env.Config.Get(name); exists {
				return Errorf("ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config", name)
			}
			return Errorf("ERR Unknown option or number of arguments for CONFIG SET - '%s'", trimArg(args[i]))
		}
		if seen[name] {
			return Errorf("ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter", name)
		}
		seen[name] = true
		v, err := set(string(args[i+1]))
		if err != nil {
			return Errorf("ERR CONFIG SET failed (possibly related to argument '%s') - %s", name, err)
		}
		changes = append(changes, change{name, v})
	}
	for _, ch := range changes {
		c.Env.Config.Set(ch.name, ch.value)
		if alias, ok := configAliases[ch.name]; ok {
			c.Env.Config.Set(alias, ch.value)
		}
	}
	c.W.OK()
	return nil
}

// formatUsecPerCall formats usec_per_call as Redis's "%.2f".
func formatUsecPerCall(usec, calls int64) string {
	if calls == 0 {
		return "0.00"
	}
	return strconv.FormatFloat(float64(usec)/float64(calls), 'f', 2, 64)
}

// humanBytes formats a byte count as Redis's bytesToHuman ("968.59K").
func humanBytes(n int64) string {
	d := float64(n)
	switch {
	case n < 1024:
		return fmt.Sprintf("%dB", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.2fK", d/1024)
	case n < 1024*1024*1024:
		return fmt.Sprintf("%.2fM", d/(1024*1024))
	case n < 1024*1024*1024*1024:
		return fmt.Sprintf("%.2fG", d/(1024*1024*1024))
	}
	return fmt.Sprintf("%.2fT", d/(1024*1024*1024*1024))
}
