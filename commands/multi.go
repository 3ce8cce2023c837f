package commands

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/resp"
)

// Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH.
//
// Inside MULTI the dispatcher queues every command except the ones in
// runsInMulti; a command rejected while queueing (unknown, wrong arity,
// NOAUTH, no_multi) marks the transaction so EXEC fails with EXECABORT.
// A nested MULTI and WATCH are not queued but run and fail, which, as in
// Redis 7.0, leaves the transaction intact.
//
// EXEC runs the whole queue as ONE transaction of the Store: the scope is
// the keys of every queued data command plus the watched keys (the whole
// keyspace when a queued command has no keys), so they are all latched
// while the watched keys are compared with what WATCH saw and the commands
// run. Each command runs in a savepoint (Store.UpdateBatch): one that
// fails (WRONGTYPE...) is answered inline and leaves no writes, the others
// apply, and everything commits at once, with one Raft proposal and one
// fsync. An EXEC whose data commands only read runs in a View.
//
// WATCH remembers, per key, the newest commit timestamp of its metadata
// record (keyspace.KeyVersion); write commands always write the metadata
// of the keys they change (keyspace doc.go), so any committed change of a
// watched key, by anyone, is seen at EXEC, which then answers a null
// array and writes nothing.

// registerMulti registers the transaction commands.
func registerMulti(t *Table) {
	t.Register(&Command{Name: "multi", Handler: multiCmd})
	t.Register(&Command{Name: "exec", Handler: execCmd})
	t.Register(&Command{Name: "discard", Handler: discardCmd})
	t.Register(&Command{Name: "watch", Handler: watchCmd})
	t.Register(&Command{Name: "unwatch", Handler: unwatchCmd})
}

// runsInMulti names the commands a client inside MULTI runs at once
// instead of queueing them, as Redis 7.0's processCommand does.
var runsInMulti = map[string]bool{
	"exec": true, "discard": true, "multi": true, "watch": true, "quit": true, "reset": true,
}

// Errors of the transaction commands (texts from Redis 7.0.15).
var (
	errNestedMulti    = &ReplyError{"ERR MULTI calls can not be nested"}
	errExecNoMulti    = &ReplyError{"ERR EXEC without MULTI"}
	errDiscardNoMulti = &ReplyError{"ERR DISCARD without MULTI"}
	errWatchInMulti   = &ReplyError{"ERR WATCH inside MULTI is not allowed"}
	errNoMulti        = &ReplyError{"ERR Command not allowed inside a transaction"}
	errExecAbort      = &ReplyError{"EXECABORT Transaction discarded because of previous errors."}
)

// execAbortMessage is the reply to an EXEC rejected before it ran (wrong
// arity, NOAUTH): Redis discards the transaction and quotes the reason,
// without the generic "ERR " code.
func execAbortMessage(reason string) string {
	return "EXECABORT Transaction discarded because of: " + strings.TrimPrefix(reason, "ERR ")
}

// queueCommand adds a command to the client's transaction. After a
// queueing error the transaction is doomed and, as in Redis, nothing more
// is kept.
func queueCommand(c *resp.Client, args [][]byte) {
	if !c.MultiError {
		c.Queue = append(c.Queue, args)
	}
}

// discardTransaction leaves MULTI and forgets the queue and the watched
// keys.
func discardTransaction(c *resp.Client) {
	c.Multi, c.Queue, c.MultiError, c.Watched = false, nil, false, nil
}

func multiCmd(c *Ctx) error {
	if c.Client.Multi {
		return errNestedMulti // not a queueing error: EXEC still runs
	}
	c.Client.Multi = true
	c.W.OK()
	return nil
}

func discardCmd(c *Ctx) error {
	if !c.Client.Multi {
		return errDiscardNoMulti
	}
	discardTransaction(c.Client)
	c.W.OK()
	return nil
}

func unwatchCmd(c *Ctx) error {
	c.Client.Watched = nil
	c.W.OK()
	return nil
}

// watchCmd implements WATCH key [key ...]: it records the version of each
// key not already watched in the current database, read in one
// transaction over those keys. A key watched twice keeps its first
// version, as in Redis.
func watchCmd(c *Ctx) error {
	cl := c.Client
	if cl.Multi {
		return errWatchInMulti // not a queueing error: EXEC still runs
	}
	var fresh [][]byte
	for _, k := range c.Args[1:] {
		if !isWatched(cl.Watched, cl.DB, k) && !containsKey(fresh, k) {
			fresh = append(fresh, k)
		}
	}
	if len(fresh) > 0 {
		db := cl.DB
		var got []resp.WatchedKey
		err := c.Env.Store.View(c.Context(), db, fresh, func(txn keyspace.Txn) error {
			got = got[:0]
			d := keyspace.New(txn, db)
			for _, k := range fresh {
				v, err := d.KeyVersion(k)
				if err != nil {
					return err
				}
				got = append(got, resp.WatchedKey{DB: db, Key: k, CommitTS: v.CommitTS, Exists: v.Exists, Live: v.Live})
			}
			return nil
		})
		if err != nil {
			return err
		}
		cl.Watched = append(cl.Watched, got...)
	}
	c.W.OK()
	return nil
}

func isWatched(ws []resp.WatchedKey, db int, k []byte) bool {
	for _, w := range ws {
		if w.DB == db && string(w.Key) == string(k) {
			return true
		}
	}
	return false
}

func containsKey(ks [][]byte, k []byte) bool {
	for _, x := range ks {
		if string(x) == string(k) {
			return true
		}
	}
	return false
}

// watchedModified reports whether any watched key was modified since
// WATCH, read in txn.
func watchedModified(txn keyspace.Txn, ws []resp.WatchedKey) (bool, error) {
	for _, w := range ws {
		now, err := keyspace.New(txn, w.DB).KeyVersion(w.Key)
		if err != nil {
			return false, err
		}
		then := keyspace.KeyVersion{CommitTS: w.CommitTS, Exists: w.Exists, Live: w.Live}
		if then.ModifiedSince(now) {
			return true, nil
		}
	}
	return false, nil
}

func execCmd(c *Ctx) error {
	cl := c.Client
	if !cl.Multi {
		return errExecNoMulti
	}
	if cl.MultiError {
		discardTransaction(cl)
		return errExecAbort
	}
	queue, watched := cl.Queue, cl.Watched
	// Redis forgets the transaction and the watched keys before running
	// the queue: an UNWATCH or a WATCH-dependent command inside sees none.
	discardTransaction(cl)
	return c.disp.exec(c, queue, watched)
}

// queuedCommand is one command of an EXEC.
type queuedCommand struct {
	cmd  *Command
	args [][]byte
}

// execScope is the transaction EXEC runs in: the keys it latched (nil:
// the whole keyspace) and whether it may write. It travels in the context
// of the queued commands so that a body that opens a transaction of its
// own (INFO keyspace) joins this one (joinStore) instead of waiting for
// latches EXEC holds. A body that needs more than the scope makes EXEC
// start over with a wider one.
type execScope struct {
	keys    map[string]bool // nil: the whole keyspace
	write   bool
	txn     keyspace.Txn // the open transaction, set by each attempt
	widen   bool         // a body needed keys outside the scope
	upsert  bool         // a body needed to write in a read-only scope
	stopped bool         // this attempt is abandoned: run no more commands
}

type execScopeKey struct{}

// errWiden answers a body that asked for more than EXEC's scope; EXEC
// then aborts the attempt and reruns over a wider scope.
var errWiden = errors.New("commands: EXEC scope too narrow")

// errWatchModified aborts an EXEC whose watched keys changed.
var errWatchModified = errors.New("commands: watched key modified")

// execAbortError aborts an EXEC attempt (Store.UpdateBatch stops on it)
// and carries why.
type execAbortError struct{ cause error }

func (e *execAbortError) Error() string   { return e.cause.Error() }
func (e *execAbortError) Unwrap() []error { return []error{ErrAbortBatch, e.cause} }

func (sc *execScope) covers(keys [][]byte) bool {
	if sc.keys == nil {
		return true
	}
	if keys == nil {
		return false
	}
	for _, k := range keys {
		if !sc.keys[string(k)] {
			return false
		}
	}
	return true
}

// join runs fn in EXEC's transaction if the scope allows it.
func (sc *execScope) join(keys [][]byte, write bool, fn func(keyspace.Txn) error) error {
	if !sc.covers(keys) {
		sc.widen = true
		return errWiden
	}
	if write && !sc.write {
		sc.upsert = true
		return errWiden
	}
	return fn(sc.txn)
}

// joinStore is the Store command bodies see (NewDispatcher installs it).
// Outside EXEC it is the node's Store. Inside EXEC a body that opens a
// transaction runs in EXEC's instead: the Store's latches are not
// reentrant, and EXEC already holds them.
type joinStore struct{ Store }

func scopeOf(ctx context.Context) *execScope {
	sc, _ := ctx.Value(execScopeKey{}).(*execScope)
	return sc
}

func (s joinStore) Update(ctx context.Context, db int, keys [][]byte, fn func(keyspace.Txn) error) error {
	if sc := scopeOf(ctx); sc != nil {
		return sc.join(keys, true, fn)
	}
	return s.Store.Update(ctx, db, keys, fn)
}

func (s joinStore) View(ctx context.Context, db int, keys [][]byte, fn func(keyspace.Txn) error) error {
	if sc := scopeOf(ctx); sc != nil {
		return sc.join(keys, false, fn)
	}
	return s.Store.View(ctx, db, keys, fn)
}

// errNestedBatch answers a body inside EXEC that asks for a batch: EXEC
// is already one, and savepoints cannot nest through this interface.
var errNestedBatch = errors.New("commands: UpdateBatch inside EXEC")

func (s joinStore) UpdateBatch(ctx context.Context, db int, keys [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	if scopeOf(ctx) != nil {
		return nil, errNestedBatch
	}
	return s.Store.UpdateBatch(ctx, db, keys, fns)
}

// execAttempts bounds how often EXEC widens its scope: keys -> whole
// keyspace, read-only -> read-write.
const execAttempts = 3

// exec runs the queued commands of a transaction and writes EXEC's reply.
func (d *Dispatcher) exec(c *Ctx, queue [][][]byte, watched []resp.WatchedKey) error {
	cmds := make([]queuedCommand, len(queue))
	for i, args := range queue {
		cmds[i] = queuedCommand{cmd: d.resolve(args), args: args}
	}
	sc := &execScope{}
	needTxn := len(watched) > 0
	whole := false
	var ks [][]byte
	for _, q := range cmds {
		if !q.cmd.Data {
			continue
		}
		needTxn = true
		sc.write = sc.write || q.cmd.writes()
		qk := q.cmd.KeyArgs(q.args)
		if len(qk) == 0 {
			whole = true
		}
		ks = append(ks, qk...)
	}
	if !whole {
		for _, w := range watched {
			ks = append(ks, w.Key)
		}
		sc.keys = make(map[string]bool, len(ks))
		for _, k := range ks {
			sc.keys[string(k)] = true
		}
	}
	if !needTxn {
		// Nothing to latch: connection and server commands only. A body
		// that opens a transaction gets its own.
		d.execCommands(c, cmds)
		return nil
	}
	for attempt := 1; ; attempt++ {
		err := d.execAttempt(c, cmds, watched, sc)
		if !errors.Is(err, errWiden) || attempt == execAttempts {
			return err
		}
		if sc.widen {
			sc.keys = nil
		}
		if sc.upsert {
			sc.write = true
		}
		sc.widen, sc.upsert = false, false
	}
}

// execAttempt runs the transaction once over sc. It returns errWiden
// (having written nothing) when a body needed a wider scope.
func (d *Dispatcher) execAttempt(c *Ctx, cmds []queuedCommand, watched []resp.WatchedKey, sc *execScope) error {
	cl, w := c.Client, c.W
	startDB, startProto := cl.DB, cl.Proto
	head := w.Len()
	ctx := context.WithValue(d.ctx, execScopeKey{}, sc)
	res := make([]execResult, len(cmds))
	var keys [][]byte
	if sc.keys != nil {
		keys = make([][]byte, 0, len(sc.keys))
		for k := range sc.keys {
			keys = append(keys, []byte(k))
		}
	}
	// begin starts every try of the transaction (the Store may rerun it):
	// a clean reply, the client state EXEC started with, and the watched
	// keys compared inside the transaction, under its latches.
	begin := func(txn keyspace.Txn) error {
		w.Truncate(head)
		cl.DB, cl.Proto = startDB, startProto
		w.SetProto(startProto)
		sc.txn, sc.widen, sc.upsert, sc.stopped = txn, false, false, false
		modified, err := watchedModified(txn, watched)
		if err == nil && modified {
			err = errWatchModified
		}
		if err != nil {
			sc.stopped = true
			return &execAbortError{err}
		}
		w.Array(len(cmds))
		return nil
	}
	var err error
	if sc.write {
		fns := make([]func(keyspace.Txn) error, 0, len(cmds)+1)
		fns = append(fns, begin)
		for i := range cmds {
			fns = append(fns, func(txn keyspace.Txn) error {
				return d.execOne(ctx, c, cmds[i], txn, sc, &res[i])
			})
		}
		var errs []error
		errs, err = d.env.Store.UpdateBatch(d.ctx, startDB, keys, fns)
		if err == nil {
			// A Store that does not stop on ErrAbortBatch still reports it.
			for _, e := range errs {
				if errors.Is(e, ErrAbortBatch) {
					err = e
					break
				}
			}
		}
	} else {
		err = d.env.Store.View(d.ctx, startDB, keys, func(txn keyspace.Txn) error {
			if err := begin(txn); err != nil {
				return err
			}
			for i := range cmds {
				if err := d.execOne(ctx, c, cmds[i], txn, sc, &res[i]); errors.Is(err, ErrAbortBatch) {
					return err
				}
			}
			return nil
		})
	}
	sc.txn = nil
	if err != nil {
		// Nothing was committed: the client is left as before EXEC (its
		// transaction is gone either way).
		w.Truncate(head)
		cl.DB, cl.Proto = startDB, startProto
		w.SetProto(startProto)
		switch {
		case errors.Is(err, errWatchModified):
			w.NullArray()
			return nil
		case errors.Is(err, errWiden):
			return errWiden
		}
		var ab *execAbortError
		if errors.As(err, &ab) {
			return ab.cause
		}
		return err
	}
	for i, q := range cmds {
		d.env.Stats.Record(q.cmd.Name, res[i].took, res[i].failed)
	}
	return nil
}

// execResult is what INFO commandstats learns of one command of an EXEC.
type execResult struct {
	took   time.Duration
	failed bool
}

// execOne runs a queued command inside EXEC's transaction txn and writes
// its reply (an error reply when it fails). It returns the command's
// error, or an execAbortError when this command needed a wider scope and
// the attempt must stop. After the attempt was abandoned it does nothing
// (for a Store that runs the remaining bodies anyway).
func (d *Dispatcher) execOne(ctx context.Context, c *Ctx, q queuedCommand, txn keyspace.Txn, sc *execScope, res *execResult) error {
	if sc.stopped {
		return nil
	}
	start := time.Now()
	w := c.W
	x := &Ctx{ctx: ctx, Client: c.Client, Args: q.args, W: w, Env: d.env, Cmd: q.cmd, disp: d}
	mark := w.Len()
	var err error
	if q.cmd.Data {
		err = runBody(x, txn, c.Client.DB)
	} else {
		err = call(x)
	}
	if sc.widen || sc.upsert {
		sc.stopped = true
		return &execAbortError{errWiden}
	}
	*res = execResult{took: time.Since(start), failed: err != nil}
	if err != nil {
		w.Truncate(mark)
		d.replyError(w, ReplyText(err))
	}
	return err
}

// execCommands runs the queue of an EXEC that needs no transaction.
func (d *Dispatcher) execCommands(c *Ctx, cmds []queuedCommand) {
	c.W.Array(len(cmds))
	for _, q := range cmds {
		start := time.Now()
		x := &Ctx{ctx: d.ctx, Client: c.Client, Args: q.args, W: c.W, Env: d.env, Cmd: q.cmd, disp: d}
		mark := c.W.Len()
		err := call(x)
		if err != nil {
			c.W.Truncate(mark)
			d.replyError(c.W, ReplyText(err))
		}
		d.env.Stats.Record(q.cmd.Name, time.Since(start), err != nil)
	}
}

// resolve returns the command a queued call runs: the table entry, or its
// subcommand. Queued calls passed prepare, so both exist.
func (d *Dispatcher) resolve(args [][]byte) *Command {
	cmd := d.table.Lookup(args[0])
	if cmd.Subcommands != nil && len(args) >= 2 {
		if sub := cmd.Subcommands[strings.ToLower(string(args[1]))]; sub != nil {
			return sub
		}
	}
	return cmd
}
