package commands

import (
	"context"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/resp"
)

// Dispatcher serves RESP commands from the table. It implements
// resp.Handler.
type Dispatcher struct {
	table *Table
	env   *Env
	ctx   context.Context
}

// NewDispatcher returns a dispatcher over table; ctx is cancelled when the
// node stops and bounds every command.
func NewDispatcher(ctx context.Context, table *Table, env *Env) *Dispatcher {
	if env.Stats == nil {
		env.Stats = NewStats()
	}
	return &Dispatcher{table: table, env: env, ctx: ctx}
}

// Table returns the command table.
func (d *Dispatcher) Table() *Table { return d.table }

// Closed implements resp.Handler.
func (d *Dispatcher) Closed(c *resp.Client) {}

// ServeRESP implements resp.Handler.
func (d *Dispatcher) ServeRESP(c *resp.Client, args [][]byte, w *resp.Writer) {
	if len(args) == 0 {
		return
	}
	start := time.Now()
	cmd := d.table.Lookup(args[0])
	if cmd == nil {
		d.replyError(w, unknownCommand(args))
		return
	}
	if cmd.Subcommands != nil && len(args) >= 2 {
		if sub := cmd.Subcommands[strings.ToLower(string(args[1]))]; sub != nil {
			cmd = sub
		} else if cmd.Handler == nil {
			d.replyError(w, "ERR unknown subcommand '"+trimArg(args[1])+"'. Try "+strings.ToUpper(cmd.Name)+" HELP.")
			d.env.Stats.Reject(cmd.Name)
			return
		}
	}
	if !arityOK(cmd.Arity, len(args)) {
		d.env.Stats.Reject(cmd.Name)
		d.replyError(w, ErrArity(cmd.Name).Error())
		return
	}
	if !c.Authenticated {
		if d.env.Config.RequirePass() == "" {
			// The default user has no password: the client is
			// authenticated as it, and stays so if a password is set
			// later (as in Redis).
			c.Authenticated = true
		} else if !cmd.HasFlag(FlagNoAuth) {
			d.env.Stats.Reject(cmd.Name)
			d.replyError(w, ErrNoAuth.Msg)
			return
		}
	}
	c.Touch(cmd.Name, start)
	err := d.run(cmd, c, args, w)
	d.env.Stats.Record(cmd.Name, time.Since(start), err != nil)
}

// run executes cmd and writes its reply or error. A panicking command body
// is a bug: it is logged (without arguments, which may hold secrets) and
// answered with an error instead of taking the node down; its transaction
// was aborted by the unwinding, and its latches released.
func (d *Dispatcher) run(cmd *Command, c *resp.Client, args [][]byte, w *resp.Writer) (err error) {
	x := &Ctx{ctx: d.ctx, Client: c, Args: args, W: w, Env: d.env, Cmd: cmd}
	mark := w.Len()
	defer func() {
		if r := recover(); r != nil {
			slog.Error("command panicked", "cmd", cmd.Name, "panic", r, "stack", string(debug.Stack()))
			err = errCommandPanicked
			w.Truncate(mark)
			d.replyError(w, ReplyText(err))
		}
	}()
	switch {
	case !cmd.Data:
		err = cmd.Handler(x)
	default:
		keys := cmd.KeyArgs(args)
		body := func(txn keyspace.Txn) error {
			w.Truncate(mark) // a retried attempt starts with a clean reply
			x.DB = keyspace.New(txn, c.DB)
			return cmd.Handler(x)
		}
		if cmd.HasFlag(FlagWrite) {
			err = d.env.Store.Update(d.ctx, c.DB, keys, body)
		} else {
			err = d.env.Store.View(d.ctx, c.DB, keys, body)
		}
	}
	if err != nil {
		w.Truncate(mark)
		d.replyError(w, ReplyText(err))
	}
	return err
}

// replyError writes an error reply and counts it for INFO errorstats.
func (d *Dispatcher) replyError(w *resp.Writer, msg string) {
	d.env.Stats.RecordError(msg)
	w.Error(msg)
}

func arityOK(arity, n int) bool {
	if arity >= 0 {
		return n == arity
	}
	return n >= -arity
}

// unknownCommand formats Redis 7.0's unknown command error, which quotes up
// to the first 128 bytes of each argument.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(trimArg(args[0]))
	b.WriteString("', with args beginning with: ")
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		b.WriteString("'")
		b.WriteString(trimArg(a))
		b.WriteString("' ")
	}
	return b.String()
}

// trimArg shortens an argument for an error message as Redis does
// (at most 128 bytes).
func trimArg(a []byte) string {
	if len(a) > 128 {
		a = a[:128]
	}
	return string(a)
}
