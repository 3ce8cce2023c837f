package commands

import (
	"context"
	"errors"
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
// node stops and bounds every command. env.Store is wrapped so that a
// command body running inside EXEC that opens a transaction of its own
// joins EXEC's transaction (see joinStore).
func NewDispatcher(ctx context.Context, table *Table, env *Env) *Dispatcher {
	if env.Stats == nil {
		env.Stats = NewStats()
	}
	if env.ForwardTimeout == 0 {
		env.ForwardTimeout = DefaultForwardTimeout
	}
	if _, ok := env.Store.(joinStore); !ok && env.Store != nil {
		env.Store = joinStore{env.Store}
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
	defer c.Publish() // CLIENT LIST on other connections reads this copy
	cmd, reject := d.prepare(c, args)
	if reject == "" && c.Multi && cmd.HasFlag(FlagNoMulti) {
		d.env.Stats.Reject(cmd.Name)
		reject = errNoMulti.Msg
	}
	if reject != "" {
		d.reject(c, cmd, reject, w)
		return
	}
	c.Touch(cmd.Name, start)
	if c.Multi && !runsInMulti[cmd.Name] {
		queueCommand(c, args)
		w.Simple("QUEUED")
		return
	}
	err := d.run(cmd, c, args, w)
	d.env.Stats.Record(cmd.Name, time.Since(start), err != nil)
}

// reject answers a command that may not run with msg. As in Redis, a
// rejected command inside MULTI makes EXEC fail, and a rejected EXEC
// discards the transaction and says why.
func (d *Dispatcher) reject(c *resp.Client, cmd *Command, msg string, w *resp.Writer) {
	if c.Multi {
		c.MultiError = true
	}
	if cmd != nil && cmd.Name == "exec" {
		discardTransaction(c)
		msg = execAbortMessage(msg)
	}
	d.replyError(w, msg)
}

// prepare looks the command up and checks arity and authentication. It
// returns the error reply for a command that must not run, with the
// command when it was found.
func (d *Dispatcher) prepare(c *resp.Client, args [][]byte) (*Command, string) {
	cmd := d.table.Lookup(args[0])
	if cmd == nil {
		return nil, unknownCommand(args)
	}
	if cmd.Subcommands != nil && len(args) >= 2 {
		if sub := cmd.Subcommands[strings.ToLower(string(args[1]))]; sub != nil {
			cmd = sub
		} else if cmd.Handler == nil {
			d.env.Stats.Reject(cmd.Name)
			return nil, "ERR unknown subcommand '" + trimArg(args[1]) + "'. Try " + strings.ToUpper(cmd.Name) + " HELP."
		}
	}
	if !arityOK(cmd.Arity, len(args)) {
		d.env.Stats.Reject(cmd.Name)
		return cmd, ErrArity(cmd.Name).Error()
	}
	if !c.Authenticated {
		if d.env.Config.RequirePass() == "" {
			// The default user has no password: the client is
			// authenticated as it, and stays so if a password is set
			// later (as in Redis).
			c.Authenticated = true
		} else if !cmd.HasFlag(FlagNoAuth) {
			d.env.Stats.Reject(cmd.Name)
			return cmd, ErrNoAuth.Msg
		}
	}
	return cmd, ""
}

// ServeRESPBatch implements resp.BatchHandler: consecutive keyed data
// commands of a pipeline run in one transaction with one Raft commit (each
// command still sees the ones before it, and a failing command leaves no
// writes), so a pipeline costs one fsync instead of one per command.
// Everything else runs one by one through ServeRESP.
func (d *Dispatcher) ServeRESPBatch(c *resp.Client, cmds [][][]byte, w *resp.Writer) int {
	for i := 0; i < len(cmds); {
		j := i
		for j < len(cmds) && d.batchable(c, cmds[j]) {
			j++
		}
		if j-i >= 2 {
			d.runBatch(c, cmds[i:j], w)
			i = j
			continue
		}
		w.SetProto(c.Proto)
		d.ServeRESP(c, cmds[i], w)
		i++
		if c.CloseRequested() {
			return i
		}
	}
	return len(cmds)
}

// batchable reports whether args can join a pipelined batch: a known data
// command with valid arity and at least one key, from a client that may
// run it and is not queueing a transaction (MULTI).
func (d *Dispatcher) batchable(c *resp.Client, args [][]byte) bool {
	if len(args) == 0 || c.Multi || (!c.Authenticated && d.env.Config.RequirePass() != "") {
		return false
	}
	cmd := d.table.Lookup(args[0])
	if cmd == nil || cmd.Subcommands != nil || !cmd.Data || !arityOK(cmd.Arity, len(args)) {
		return false
	}
	return len(cmd.KeyArgs(args)) > 0
}

// runBatch runs a run of batchable commands through Store.UpdateBatch.
func (d *Dispatcher) runBatch(c *resp.Client, cmds [][][]byte, w *resp.Writer) {
	start := time.Now()
	defer c.Publish()
	c.Authenticated = true // batchable() admitted them
	w.SetProto(c.Proto)
	mark := w.Len()
	var keys [][]byte
	fns := make([]func(keyspace.Txn) error, len(cmds))
	ctxs := make([]*Ctx, len(cmds))
	for i, args := range cmds {
		cmd := d.table.Lookup(args[0])
		keys = append(keys, cmd.KeyArgs(args)...)
		x := &Ctx{ctx: d.ctx, Client: c, Args: args, W: w, Env: d.env, Cmd: cmd, disp: d}
		ctxs[i] = x
		fns[i] = func(txn keyspace.Txn) (err error) {
			if i == 0 {
				w.Truncate(mark) // the Store may run the batch again
			}
			m := w.Len()
			if err = runBody(x, txn, c.DB); err != nil {
				w.Truncate(m)
				d.replyError(w, ReplyText(err))
			}
			return err
		}
	}
	errs, err := d.env.Store.UpdateBatch(d.ctx, c.DB, keys, fns)
	if _, ok := d.notLocal(c, err); ok || errors.Is(err, ErrCrossRegion) {
		// Served elsewhere, or by several regions, and nothing ran: each
		// command runs (or is forwarded) on its own.
		w.Truncate(mark)
		for _, args := range cmds {
			d.ServeRESP(c, args, w)
		}
		return
	}
	if err != nil {
		// Nothing was committed: every command gets the commit error.
		w.Truncate(mark)
		for range cmds {
			d.replyError(w, ReplyText(err))
		}
	}
	elapsed := time.Since(start)
	for i, x := range ctxs {
		d.env.Stats.RecordRoute(RouteLocal)
		c.Touch(x.Cmd.Name, start)
		failed := err != nil || (errs != nil && errs[i] != nil)
		d.env.Stats.Record(x.Cmd.Name, elapsed, failed)
	}
}

// call runs the command body. A panicking body is a bug: it is logged
// (without arguments, which may hold secrets) and turned into an error,
// so its transaction is aborted and the node stays up.
func call(x *Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("command panicked", "cmd", x.Cmd.Name, "panic", r, "stack", string(debug.Stack()))
			err = errCommandPanicked
		}
	}()
	return x.Cmd.Handler(x)
}

// writes reports whether a data command runs in a read-write transaction.
func (cmd *Command) writes() bool { return cmd.HasFlag(FlagWrite) || cmd.Writes }

// runBody runs the body of data command x against txn in database db. A
// write command runs on a keyspace.TouchTxn, whose Finish keeps the
// metadata invariant (keyspace doc.go): every Redis key the body wrote
// gets its metadata record written, so WATCH sees the change.
func runBody(x *Ctx, txn keyspace.Txn, db int) error {
	if !x.Cmd.writes() {
		x.DB = keyspace.New(txn, db)
		return call(x)
	}
	tt := keyspace.NewTouchTxn(txn)
	x.DB = keyspace.New(tt, db)
	if err := call(x); err != nil {
		return err
	}
	return tt.Finish()
}

// run executes cmd and writes its reply or error. A keyed command from a
// client (not one forwarded here) is counted by where it was served
// (Stats.RecordRoute): here, forwarded or redirected, once per command.
func (d *Dispatcher) run(cmd *Command, c *resp.Client, args [][]byte, w *resp.Writer) error {
	mark := w.Len()
	if d.env.Forward == nil || c.Forwarded {
		keyed, err := d.runHere(cmd, c, args, w)
		if keyed && !c.Forwarded {
			d.env.Stats.RecordRoute(RouteLocal)
		}
		if err != nil {
			w.Truncate(mark)
			d.replyError(w, ReplyText(err))
		}
		return err
	}
	// EXEC drops the transaction before it learns where to run: keep the
	// state it started from, for a rerun here or elsewhere.
	before := forwardStateOf(c)
	fw := forwarding{timeout: d.env.ForwardTimeout}
	counted := false
	for {
		keyed, err := d.runHere(cmd, c, args, w)
		nl, ok := d.notLocal(c, err)
		if !ok {
			if keyed && !counted {
				d.env.Stats.RecordRoute(RouteLocal)
			}
			if err != nil {
				w.Truncate(mark)
				d.replyError(w, ReplyText(err))
			}
			return err
		}
		w.Truncate(mark)
		restoreState(c, before)
		if moved, ok := d.movedReply(cmd, c, args, nl); ok {
			// Redirect mode: the client goes to the leader itself.
			if !counted {
				d.env.Stats.RecordRoute(RouteRedirected)
			}
			d.replyError(w, moved.Msg)
			return moved
		}
		if !counted {
			// Counted when it must go elsewhere, even if a later attempt
			// finds the leader here after all.
			d.env.Stats.RecordRoute(RouteForwarded)
			counted = true
		}
		if !fw.fresh(nl.Node) {
			nl = nil
		}
		for nl != nil {
			var reply []byte
			var after ForwardState
			reply, after, err = d.env.Forward.Forward(d.ctx, nl.Node, before, args)
			if err == nil {
				w.Raw(reply)
				restoreState(c, after)
				w.SetProto(c.Proto)
				return nil
			}
			var next *NotLocalError
			if !errors.As(err, &next) && !errors.Is(err, ErrNotDelivered) {
				d.replyError(w, ReplyText(err)) // it may have run there
				return err
			}
			// The target does not serve the keys either: go straight to
			// the node it names, if it names one not tried yet.
			nl = nil
			if next != nil && fw.fresh(next.Node) {
				nl = next
			}
		}
		if err = fw.backoff(d.ctx); err != nil {
			d.replyError(w, ReplyText(err))
			return err
		}
	}
}

// runHere runs cmd on this node and leaves its reply (or nothing, on
// error) in w. keyed reports whether it was a data command with keys,
// routed by them (what RecordRoute counts).
func (d *Dispatcher) runHere(cmd *Command, c *resp.Client, args [][]byte, w *resp.Writer) (keyed bool, err error) {
	x := &Ctx{ctx: d.ctx, Client: c, Args: args, W: w, Env: d.env, Cmd: cmd, disp: d}
	if !cmd.Data {
		return false, call(x)
	}
	mark := w.Len()
	keys := cmd.KeyArgs(args)
	body := func(txn keyspace.Txn) error {
		w.Truncate(mark) // a retried attempt starts with a clean reply
		return runBody(x, txn, c.DB)
	}
	if cmd.writes() {
		return len(keys) > 0, d.env.Store.Update(d.ctx, c.DB, keys, body)
	}
	ctx := d.ctx
	if c.ReadOnly && !c.Forwarded {
		ctx = WithReplicaRead(ctx) // a follower replica may serve it
	}
	return len(keys) > 0, d.env.Store.View(ctx, c.DB, keys, body)
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
