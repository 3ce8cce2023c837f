package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/resp"
)

// Handler is a command body. It parses c.Args (Redis-exact errors), calls
// the data model through c.DB and writes the reply to c.W. Returning an
// error discards anything written and replies the error instead (see
// errors.go); for data commands it also aborts the transaction.
type Handler func(c *Ctx) error

// Flag values mirror the flags COMMAND INFO reports.
const (
	FlagWrite    = "write"
	FlagReadonly = "readonly"
	FlagNoAuth   = "no_auth"
	FlagLoading  = "loading"
	FlagStale    = "stale"
	FlagAdmin    = "admin"
	FlagNoMulti  = "no_multi"
)

// Command is one entry of the command table. Name, Arity, Flags, key
// positions and Categories are what COMMAND INFO reports; for every command
// that exists in Redis 7.0 they are loaded by Register from the recorded
// Redis data (redisdata.go, redis70_commands.json), never typed by hand.
// Categories are ACL category names without '@'.
type Command struct {
	Name       string // lower case; "client|setname" for subcommands
	Arity      int    // Redis convention: >0 exact, <0 at least -Arity
	Flags      []string
	FirstKey   int
	LastKey    int
	Step       int
	Categories []string
	Handler    Handler
	// Keys extracts the key arguments for commands whose keys are not the
	// FirstKey/LastKey/Step range (numkeys arguments). Optional.
	Keys func(args [][]byte) [][]byte
	// Subcommands by lower-case name (without the parent prefix).
	Subcommands map[string]*Command
	// Data marks commands whose body runs inside a transaction (c.DB set).
	// Keyless data commands (KEYS, DBSIZE, FLUSHDB...) cover the whole keyspace.
	Data bool
	// Writes makes a data command that Redis flags readonly run in a
	// read-write transaction, because its body may still write (PFCOUNT
	// stores the cardinality it computed in the HLL's header). COMMAND
	// INFO is unaffected.
	Writes bool

	flags map[string]bool
	meta  *commandMeta // recorded Redis metadata; nil for Skerry-only commands
}

// HasFlag reports whether the command has a COMMAND INFO flag.
func (cmd *Command) HasFlag(f string) bool { return cmd.flags[f] }

// KeyArgs returns the key arguments of a call.
func (cmd *Command) KeyArgs(args [][]byte) [][]byte {
	if cmd.Keys != nil {
		return cmd.Keys(args)
	}
	// Commands with movable keys (numkeys, keywords) are resolved with the
	// recorded key specs; for the others Redis's legacy first/last/step
	// range is exact and allocation-light.
	if cmd.meta != nil && cmd.flags["movablekeys"] && cmd.meta.specsOK && len(cmd.meta.specs) > 0 {
		pos, ok := findKeys(cmd.meta.specs, args)
		if !ok {
			return nil
		}
		out := make([][]byte, len(pos))
		for i, p := range pos {
			out[i] = args[p.pos]
		}
		return out
	}
	if cmd.FirstKey <= 0 {
		return nil
	}
	last := cmd.LastKey
	if last < 0 {
		last = len(args) + last
	}
	step := cmd.Step
	if step <= 0 {
		step = 1
	}
	var out [][]byte
	for i := cmd.FirstKey; i <= last && i < len(args); i += step {
		out = append(out, args[i])
	}
	return out
}

// Ctx is one command invocation.
type Ctx struct {
	ctx    context.Context
	Client *resp.Client
	Args   [][]byte
	W      *resp.Writer
	DB     *keyspace.DB // data commands only: the client's database in this transaction
	Env    *Env
	Cmd    *Command

	disp *Dispatcher // EXEC runs the queued commands through it
}

// Context returns the invocation's context (cancelled when the node stops).
func (c *Ctx) Context() context.Context { return c.ctx }

// Name returns the command name as Redis prints it in errors (lower case).
func (c *Ctx) Name() string { return c.Cmd.Name }

// Store runs command bodies as transactions. Package cluster implements it:
// it latches the keys, opens a transaction at a fresh timestamp, runs fn,
// and commits fn's writes atomically and durably (fsynced through Raft)
// before returning. fn may be run more than once (retry after a conflict)
// and must not have side effects outside txn; nothing fn wrote survives an
// error.
//
// keys are Redis key names; db is the database they are named in. A
// transaction covers a name in every database (latches are per name), so
// one transaction may also touch the same names in other databases (MOVE,
// COPY ... DB, EXEC after SELECT).
type Store interface {
	// Update runs fn in a read-write transaction covering keys. nil keys
	// means the whole keyspace.
	Update(ctx context.Context, db int, keys [][]byte, fn func(txn keyspace.Txn) error) error
	// View runs fn in a read-only transaction at a linearizable snapshot.
	View(ctx context.Context, db int, keys [][]byte, fn func(txn keyspace.Txn) error) error
	// UpdateBatch runs several bodies, in order, in one read-write
	// transaction covering keys (nil: the whole keyspace), each seeing the
	// writes of the ones before it, and commits once. A body that fails
	// leaves no writes; its error is errs[i]. A body whose error matches
	// ErrAbortBatch (errors.Is) aborts the whole batch: the bodies after
	// it do not run, nothing is committed and err is that error. err is
	// also set when the commit itself failed: then nothing was written
	// and every body must be answered with err. Used for the pipelined
	// commands of one connection and for EXEC.
	UpdateBatch(ctx context.Context, db int, keys [][]byte, fns []func(txn keyspace.Txn) error) (errs []error, err error)
}

// ErrAbortBatch, returned (possibly wrapped) by a body of
// Store.UpdateBatch, abandons the whole batch: EXEC uses it when a watched
// key changed or the transaction must be rerun over a wider scope.
var ErrAbortBatch = errors.New("commands: batch aborted")

// Env is what command bodies may use of the node. Fields are set once at
// start-up by package cluster.
type Env struct {
	Store     Store
	Config    *Config
	StartTime time.Time
	// Clients lists the connected clients (CLIENT LIST, INFO clients).
	Clients func() []*resp.Client
	// ServerStats reports connection-level counters (INFO stats).
	ServerStats func() ServerStats
	// Shutdown stops the node gracefully (SHUTDOWN); it returns at once.
	Shutdown func()
	// RunID is a 40-hex identifier stable for the life of the process.
	RunID string
	// Version is the Redis version Skerry reports (redis_version).
	Version string
	// Stats are the per-command counters behind INFO commandstats.
	Stats *Stats
	// Forward runs a command on the node serving its keys when the Store
	// answers *NotLocalError; nil on a single node (the error is then
	// returned to the client).
	Forward Forwarder
	// ForwardTimeout bounds how long a command looks for the node serving
	// its keys before it is answered CLUSTERDOWN. Default 5s.
	ForwardTimeout time.Duration
	// Cluster describes the cluster to Redis Cluster clients (CLUSTER
	// SLOTS, NODES...); nil on a node without cluster support, where the
	// CLUSTER commands answer "cluster support disabled" as in Redis.
	Cluster ClusterView
	// ClusterRedirect: the node acts as a Redis Cluster node (flag
	// --cluster-redirect): a keyed command led by another node is answered
	// -MOVED instead of being forwarded, and INFO/HELLO report cluster
	// mode. Needs Cluster. Default false (forwarding).
	ClusterRedirect bool

	lastSave atomic.Int64 // Unix seconds of the last SAVE/BGSAVE; 0: none
}

// ServerStats are the connection-level counters of the RESP server.
type ServerStats struct {
	TotalConnections int64
	RejectedConns    int64
	ConnectedClients int64
	TotalCommands    int64
	NetInputBytes    int64
	NetOutputBytes   int64
}

// Table is the command table. Registering a name twice panics.
type Table struct {
	cmds map[string]*Command
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{cmds: map[string]*Command{}} }

// Register adds cmd and fills its metadata from the recorded Redis 7.0
// data. It panics on a duplicate name, on a subcommand registered before
// its parent, on a hand-typed Arity that differs from Redis's, and on a
// command Redis does not have that carries no Arity: all are programming
// errors caught at start-up.
func (t *Table) Register(cmd *Command) {
	name := strings.ToLower(cmd.Name)
	if parent, sub, ok := strings.Cut(name, "|"); ok {
		p := t.cmds[parent]
		if p == nil {
			panic(fmt.Sprintf("commands: subcommand %q registered before its parent", name))
		}
		if p.Subcommands == nil {
			p.Subcommands = map[string]*Command{}
		}
		if _, dup := p.Subcommands[sub]; dup {
			panic(fmt.Sprintf("commands: %q registered twice", name))
		}
		p.Subcommands[sub] = cmd
	} else {
		if _, dup := t.cmds[name]; dup {
			panic(fmt.Sprintf("commands: %q registered twice", name))
		}
		t.cmds[name] = cmd
	}
	cmd.Name = name
	applyMeta(cmd)
	cmd.flags = map[string]bool{}
	for _, f := range cmd.Flags {
		cmd.flags[f] = true
	}
}

// Lookup returns the command called name (case-insensitive).
func (t *Table) Lookup(name []byte) *Command {
	var buf [32]byte
	if len(name) <= len(buf) {
		b := buf[:len(name)]
		for i, ch := range name {
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			b[i] = ch
		}
		return t.cmds[string(b)]
	}
	return t.cmds[strings.ToLower(string(name))]
}

// All returns every top-level command.
func (t *Table) All() []*Command {
	out := make([]*Command, 0, len(t.cmds))
	for _, c := range t.cmds {
		out = append(out, c)
	}
	return out
}
