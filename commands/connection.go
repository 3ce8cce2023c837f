package commands

import (
	"crypto/subtle"
	"strconv"
	"strings"
	"time"

	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/resp"
)

// registerConnection registers PING, ECHO, QUIT, RESET, SELECT, SWAPDB,
// HELLO, AUTH and CLIENT.
func registerConnection(t *Table) {
	t.Register(&Command{Name: "ping", Handler: func(c *Ctx) error {
		if len(c.Args) > 2 {
			return ErrArity("ping")
		}
		if len(c.Args) == 2 {
			c.W.Bulk(c.Args[1])
			return nil
		}
		c.W.Simple("PONG")
		return nil
	}})
	t.Register(&Command{Name: "echo", Handler: func(c *Ctx) error {
		c.W.Bulk(c.Args[1])
		return nil
	}})
	t.Register(&Command{Name: "quit", Handler: func(c *Ctx) error {
		c.W.OK()
		c.Client.CloseAfterReply()
		return nil
	}})
	t.Register(&Command{Name: "reset", Handler: func(c *Ctx) error {
		cl := c.Client
		cl.Multi, cl.Queue, cl.MultiError, cl.Watched = false, nil, false, nil
		cl.DB = 0
		cl.Proto = 2
		c.W.SetProto(2)
		cl.SetName("")
		cl.NoEvict, cl.ReadOnly = false, false
		cl.User = "default"
		cl.Authenticated = c.Env.Config.RequirePass() == ""
		c.W.Simple("RESET")
		return nil
	}})
	t.Register(&Command{Name: "select", Handler: func(c *Ctx) error {
		db, err := intArg(c.Args[1])
		if err != nil {
			return ErrNotInteger
		}
		if db < 0 || db >= keys.MaxDB {
			return ErrDBIndex
		}
		c.Client.DB = int(db)
		c.W.OK()
		return nil
	}})
	t.Register(&Command{Name: "swapdb", Data: true, Keys: noKeys, Handler: swapDB})
	t.Register(&Command{Name: "hello", Handler: hello})
	t.Register(&Command{Name: "auth", Handler: func(c *Ctx) error {
		user, pass := "default", c.Args[1]
		if len(c.Args) == 3 {
			user, pass = string(c.Args[1]), c.Args[2]
		} else if len(c.Args) > 3 {
			return ErrSyntax
		}
		if len(c.Args) == 2 && c.Env.Config.RequirePass() == "" {
			return errNoPassword
		}
		if err := authenticate(c, user, pass); err != nil {
			return err
		}
		c.W.OK()
		return nil
	}})
	registerClient(t)
}

// noKeys is the key function of data commands that cover the whole
// keyspace (DBSIZE, FLUSHDB, SWAPDB...): nil keys.
func noKeys([][]byte) [][]byte { return nil }

// authenticate checks user/pass against requirepass (only the "default"
// user exists) and marks the client authenticated.
func authenticate(c *Ctx, user string, pass []byte) error {
	want := c.Env.Config.RequirePass()
	if user != "default" {
		return ErrWrongPass
	}
	if want != "" && subtle.ConstantTimeCompare([]byte(want), pass) != 1 {
		return ErrWrongPass
	}
	c.Client.User = user
	c.Client.Authenticated = true
	return nil
}

// hello implements HELLO [protover [AUTH user pass] [SETNAME name]].
func hello(c *Ctx) error {
	proto := c.Client.Proto
	if len(c.Args) >= 2 {
		v, err := intArg(c.Args[1])
		if err != nil {
			return errProtoNotInt
		}
		if v < 2 || v > 3 {
			return errNoProto
		}
		proto = int(v)
	}
	var authUser string
	var authPass []byte
	var name []byte
	hasAuth, hasName := false, false
	for i := 2; i < len(c.Args); i++ {
		more := len(c.Args) - i - 1
		switch {
		case argIs(c.Args[i], "auth") && more >= 2:
			hasAuth, authUser, authPass = true, string(c.Args[i+1]), c.Args[i+2]
			i += 2
		case argIs(c.Args[i], "setname") && more >= 1:
			hasName, name = true, c.Args[i+1]
			if !validClientName(name) {
				return errClientName
			}
			i++
		default:
			return Errorf("ERR Syntax error in HELLO option '%s'", trimArg(c.Args[i]))
		}
	}
	if hasAuth {
		if err := authenticate(c, authUser, authPass); err != nil {
			return err
		}
	}
	if !c.Client.Authenticated && c.Env.Config.RequirePass() != "" {
		return Errorf("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	}
	if hasName {
		c.Client.SetName(string(name))
	}
	c.Client.Proto = proto
	c.W.SetProto(proto)
	c.W.Map(7)
	c.W.BulkString("server")
	c.W.BulkString("redis")
	c.W.BulkString("version")
	c.W.BulkString(c.Env.version())
	c.W.BulkString("proto")
	c.W.Int(int64(proto))
	c.W.BulkString("id")
	c.W.Int(c.Client.ID)
	c.W.BulkString("mode")
	if c.Env.clusterMode() {
		c.W.BulkString("cluster")
	} else {
		c.W.BulkString("standalone")
	}
	c.W.BulkString("role")
	c.W.BulkString("master")
	c.W.BulkString("modules")
	c.W.Array(0)
	return nil
}

// version is the Redis version Skerry reports.
func (e *Env) version() string {
	if e.Version == "" {
		return recordedRedis().version
	}
	return e.Version
}

// validClientName reports whether a client name has only the characters
// Redis allows ('!' to '~').
func validClientName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func registerClient(t *Table) {
	t.Register(&Command{Name: "client"})
	t.Register(&Command{Name: "client|id", Handler: func(c *Ctx) error {
		c.W.Int(c.Client.ID)
		return nil
	}})
	t.Register(&Command{Name: "client|setname", Handler: func(c *Ctx) error {
		if !validClientName(c.Args[2]) {
			return errClientName
		}
		c.Client.SetName(string(c.Args[2]))
		c.W.OK()
		return nil
	}})
	t.Register(&Command{Name: "client|getname", Handler: func(c *Ctx) error {
		if n := c.Client.Name(); n != "" {
			c.W.BulkString(n)
		} else {
			c.W.Null()
		}
		return nil
	}})
	t.Register(&Command{Name: "client|info", Handler: func(c *Ctx) error {
		c.Client.Publish() // this goroutine owns it: its line shows the live state
		c.W.Verbatim(clientLine(c.Client, time.Now()))
		return nil
	}})
	t.Register(&Command{Name: "client|list", Handler: clientList})
	t.Register(&Command{Name: "client|kill", Handler: clientKill})
	t.Register(&Command{Name: "client|no-evict", Handler: func(c *Ctx) error {
		switch {
		case argIs(c.Args[2], "on"):
			c.Client.NoEvict = true
		case argIs(c.Args[2], "off"):
			c.Client.NoEvict = false
		default:
			return ErrSyntax
		}
		c.W.OK()
		return nil
	}})
	t.Register(&Command{Name: "client|help", Handler: func(c *Ctx) error { return writeHelp(c, "client") }})
}

// clients returns the connected clients (just the caller when the node
// does not provide the list).
func (c *Ctx) clients() []*resp.Client {
	if c.Env.Clients == nil {
		return []*resp.Client{c.Client}
	}
	return c.Env.Clients()
}

// clientLine formats one CLIENT LIST / CLIENT INFO line in Redis 7.0's
// field order. Fields Skerry has no equivalent for carry the value an idle
// Redis client shows.
func clientLine(cl *resp.Client, now time.Time) string {
	st := cl.State() // other connections' fields belong to their goroutines
	cmd, last := cl.LastCommand()
	if cmd == "" {
		cmd = "NULL"
	}
	if last.IsZero() {
		last = cl.Created
	}
	flags := ""
	if st.Multi {
		flags += "x"
	}
	if st.ReadOnly {
		flags += "r"
	}
	if st.NoEvict {
		flags += "e"
	}
	if flags == "" {
		flags = "N"
	}
	multi := -1
	if st.Multi {
		multi = st.Queued
	}
	qbuf, obuf := cl.BufferSizes()
	age := int64(0)
	if !cl.Created.IsZero() {
		age = int64(now.Sub(cl.Created) / time.Second)
	}
	idle := int64(0)
	if !last.IsZero() {
		idle = int64(now.Sub(last) / time.Second)
	}
	if age < 0 {
		age = 0
	}
	if idle < 0 {
		idle = 0
	}
	var b strings.Builder
	field := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	field("id", itoa(cl.ID))
	field("addr", cl.Addr)
	field("laddr", cl.LAddr)
	field("fd", itoa(int64(cl.FD)))
	field("name", cl.Name())
	field("age", itoa(age))
	field("idle", itoa(idle))
	field("flags", flags)
	field("db", itoa(int64(st.DB)))
	field("sub", "0")
	field("psub", "0")
	field("ssub", "0")
	field("multi", itoa(int64(multi)))
	field("qbuf", itoa(int64(qbuf)))
	field("qbuf-free", "0")
	field("argv-mem", "0")
	field("multi-mem", "0")
	field("rbs", "1024")
	field("rbp", "0")
	field("obl", itoa(int64(obuf)))
	field("oll", "0")
	field("omem", "0")
	field("tot-mem", itoa(int64(qbuf+obuf)))
	field("events", "r")
	field("cmd", cmd)
	field("user", st.User)
	field("redir", "-1")
	field("resp", itoa(int64(st.Proto)))
	b.WriteByte('\n')
	return b.String()
}

// clientList implements CLIENT LIST [TYPE type] [ID id...].
func clientList(c *Ctx) error {
	var ids map[int64]bool
	typeNormal := true
	args := c.Args[2:]
	switch {
	case len(args) == 0:
	case len(args) == 2 && argIs(args[0], "type"):
		t := strings.ToLower(string(args[1]))
		switch t {
		case "normal":
		case "master", "replica", "slave", "pubsub":
			typeNormal = false
		default:
			return Errorf("ERR Unknown client type '%s'", trimArg(args[1]))
		}
	case len(args) >= 2 && argIs(args[0], "id"):
		ids = map[int64]bool{}
		for _, a := range args[1:] {
			id, err := intArg(a)
			if err != nil || id <= 0 {
				return errInvalidClientID
			}
			ids[id] = true
		}
	default:
		return ErrSyntax
	}
	var b strings.Builder
	now := time.Now()
	c.Client.Publish()
	if typeNormal {
		for _, cl := range c.clients() {
			if ids != nil && !ids[cl.ID] {
				continue
			}
			b.WriteString(clientLine(cl, now))
		}
	}
	c.W.Verbatim(b.String())
	return nil
}

// clientKill implements CLIENT KILL addr and CLIENT KILL <filter> <value>...
func clientKill(c *Ctx) error {
	args := c.Args[2:]
	if len(args) == 1 {
		for _, cl := range c.clients() {
			if cl.Addr == string(args[0]) {
				killClient(c, cl)
				c.W.OK()
				return nil
			}
		}
		return errNoSuchClient
	}
	if len(args)%2 != 0 {
		return ErrSyntax
	}
	var (
		id          int64
		addr, laddr string
		user        string
		hasUser     bool
		typeNormal  = true
		skipMe      = true
	)
	for i := 0; i < len(args); i += 2 {
		opt, val := args[i], args[i+1]
		switch {
		case argIs(opt, "id"):
			n, err := intArg(val)
			if err != nil || n <= 0 {
				return errClientIDPositive
			}
			id = n
		case argIs(opt, "type"):
			switch strings.ToLower(string(val)) {
			case "normal":
			case "master", "replica", "slave", "pubsub":
				typeNormal = false
			default:
				return Errorf("ERR Unknown client type '%s'", trimArg(val))
			}
		case argIs(opt, "addr"):
			addr = string(val)
		case argIs(opt, "laddr"):
			laddr = string(val)
		case argIs(opt, "user"):
			if string(val) != "default" {
				return Errorf("ERR No such user '%s'", trimArg(val))
			}
			user, hasUser = string(val), true
		case argIs(opt, "skipme"):
			switch {
			case argIs(val, "yes"):
				skipMe = true
			case argIs(val, "no"):
				skipMe = false
			default:
				return ErrSyntax
			}
		default:
			return ErrSyntax
		}
	}
	killed := int64(0)
	for _, cl := range c.clients() {
		switch {
		case !typeNormal,
			id != 0 && cl.ID != id,
			addr != "" && cl.Addr != addr,
			laddr != "" && cl.LAddr != laddr,
			hasUser && cl.State().User != user,
			skipMe && cl == c.Client:
			continue
		}
		killClient(c, cl)
		killed++
	}
	c.W.Int(killed)
	return nil
}

// killClient closes a client; the caller's own connection closes after
// this reply is flushed.
func killClient(c *Ctx, cl *resp.Client) {
	if cl == c.Client {
		cl.CloseAfterReply()
		return
	}
	cl.Kill()
}
