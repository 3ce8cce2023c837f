package commands

import (
	"context"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/commands/keyspace/keyspacetest"
	"github.com/skerrydb/skerry/resp"
)

// memStore runs command bodies directly against an in-memory keyspace. It
// has no concurrency control: unit tests are sequential.
type memStore struct{ s *keyspacetest.Store }

func (m memStore) Update(_ context.Context, _ int, _ [][]byte, fn func(keyspace.Txn) error) error {
	return fn(m.s.Txn())
}

func (m memStore) UpdateBatch(_ context.Context, _ int, _ [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	errs := make([]error, len(fns))
	for i, fn := range fns {
		errs[i] = fn(m.s.Txn()) // unit tests do not check batch atomicity here
	}
	return errs, nil
}

func (m memStore) View(_ context.Context, _ int, _ [][]byte, fn func(keyspace.Txn) error) error {
	return fn(m.s.Txn())
}

// harness is a dispatcher over an in-memory store with one client.
type harness struct {
	t     testing.TB
	store *keyspacetest.Store
	d     *Dispatcher
	c     *resp.Client
}

// harnessNowMs is the fixed clock of unit tests: 2026-01-01T00:00:00Z.
const harnessNowMs = 1767225600000

func newHarness(t testing.TB) *harness {
	st := keyspacetest.NewStore(harnessNowMs)
	env := &Env{Store: memStore{st}, Config: NewConfig(map[string]string{}), Version: "7.0.15"}
	return &harness{t: t, store: st, d: NewDispatcher(context.Background(), NewRedisTable(), env),
		c: &resp.Client{ID: 1, Proto: 2, User: "default"}}
}

// do runs one command and returns its raw RESP reply.
func (h *harness) do(args ...string) string {
	h.t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	w := resp.NewWriter(h.c.Proto)
	h.d.ServeRESP(h.c, bs, w)
	return string(w.Bytes())
}

// expect runs a command and fails unless the raw reply equals want.
func (h *harness) expect(want string, args ...string) {
	h.t.Helper()
	if got := h.do(args...); got != want {
		h.t.Fatalf("%q: got %q, want %q", args, got, want)
	}
}

func TestPanickingCommandIsAnsweredNotFatal(t *testing.T) {
	h := newHarness(t)
	h.d.table.Register(&Command{Name: "skerry-test-panic", Arity: 1, Flags: []string{FlagWrite}, Data: true,
		Handler: func(c *Ctx) error { panic("boom") }})
	h.expect("-ERR internal error while running the command (see the server log)\r\n", "skerry-test-panic")
	h.expect("+PONG\r\n", "PING")
}
