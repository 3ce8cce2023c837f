package regionraft

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.etcd.io/raft/v3/raftpb"
)

// soloStore starts a store leading region 1 alone.
func soloStore(t *testing.T) (*Store, *recApplier, Region, context.Context) {
	t.Helper()
	eng := newTestEngine()
	ap := newRecApplier(eng)
	s := openStarted(t, testConfig(1, eng, ap), soloRegion(1))
	r, _ := s.Region(1)
	return s, ap, r, ctxT(t)
}

// Epoch commands proposed in one loop round share one log entry, are
// applied in their order and acknowledged one by one; a plain proposal
// between them keeps its place in the log.
func TestEpochCommandsShareAnEntry(t *testing.T) {
	s, ap, r, ctx := soloStore(t)
	var props []*proposal
	for _, c := range []string{"a1", "a2", "a3"} {
		props = append(props, s.epochProposal(1, r.Epoch.Version, []byte(c)))
	}
	plain := s.plainProposal(1, []byte("p"))
	after := s.epochProposal(1, r.Epoch.Version, []byte("b1"))
	after2 := s.epochProposal(1, r.Epoch.Version, []byte("b2"))
	err := s.runOnLoop(ctx, func() error {
		for _, pr := range props {
			s.handlePropose(pr)
		}
		s.handlePropose(plain) // proposes the three first
		s.handlePropose(after)
		s.handlePropose(after2)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range append(props, plain, after, after2) {
		if err := s.wait(ctx, pr.done); err != nil {
			t.Fatal(err)
		}
	}
	got := ap.entries(1)
	if len(got) < 6 {
		t.Fatalf("applied %v", got)
	}
	got = got[len(got)-6:]
	var order []string
	for _, a := range got {
		order = append(order, a.cmd)
	}
	if fmt.Sprint(order) != "[a1 a2 a3 p b1 b2]" {
		t.Fatalf("applied in order %v", order)
	}
	// a1..a3 in one entry, p in the next, b1 b2 in the one after.
	i := got[0].index
	want := []uint64{i, i, i, i + 1, i + 2, i + 2}
	for k, a := range got {
		if a.index != want[k] {
			t.Fatalf("entries %v, want indexes %v", got, want)
		}
	}
	if n := testutil.ToFloat64(s.metrics.BatchedCommands); n != 5 {
		t.Fatalf("batched commands metric = %v, want 5", n)
	}
	// The entries' log batches were synced, and counted under sync="true".
	if n := testutil.ToFloat64(s.metrics.BatchCommits.WithLabelValues("true")); n < 1 {
		t.Fatalf(`skerry_raft_batch_commits_total{sync="true"} = %v, want >= 1`, n)
	}
	var ent []byte
	if err := s.runOnLoop(ctx, func() error {
		es, err := s.peers[1].storage.Entries(i, i+1, 1<<20)
		if err == nil {
			ent = es[0].GetData()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(ent) <= proposalIDLen || ent[proposalIDLen] != adminBatch {
		t.Fatalf("entry %d is not a batch: % x", i, ent)
	}
}

// A batch is bounded in bytes: commands beyond the bound go to the next
// entry, and a command bigger than the bound travels alone.
func TestEpochBatchBounded(t *testing.T) {
	eng := newTestEngine()
	ap := newRecApplier(eng)
	cfg := testConfig(1, eng, ap)
	cfg.MaxSizePerMsg = 4096 // batches of at most 1 KiB
	s := openStarted(t, cfg, soloRegion(1))
	r, _ := s.Region(1)
	ctx := ctxT(t)
	big := string(bytes.Repeat([]byte("x"), 2000))
	cmds := []string{"s1-" + string(bytes.Repeat([]byte("y"), 600)), "s2-" + string(bytes.Repeat([]byte("y"), 600)), "big" + big, "s3"}
	var props []*proposal
	for _, c := range cmds {
		props = append(props, s.epochProposal(1, r.Epoch.Version, []byte(c)))
	}
	if err := s.runOnLoop(ctx, func() error {
		for _, pr := range props {
			s.handlePropose(pr)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, pr := range props {
		if err := s.wait(ctx, pr.done); err != nil {
			t.Fatal(err)
		}
	}
	got := ap.entries(1)
	got = got[len(got)-4:]
	idx := map[string]uint64{}
	for _, a := range got {
		idx[a.cmd[:2]] = a.index
	}
	// s1 alone (s2 would overflow), s2 alone (big would), big alone, s3.
	if !(idx["s1"] < idx["s2"] && idx["s2"] < idx["bi"] && idx["bi"] < idx["s3"]) {
		t.Fatalf("entries %v", idx)
	}
}

func TestSplitBatchRejectsMalformed(t *testing.T) {
	good := encodeBatch([]*proposal{{data: encodeEpochCommand(7, 1, []byte("x"))}, {data: encodeEpochCommand(8, 1, []byte("yy"))}})
	subs, err := splitBatch(good[proposalIDLen+1:])
	if err != nil || len(subs) != 2 || !bytes.HasSuffix(subs[1], []byte("yy")) {
		t.Fatalf("split = %q, %v", subs, err)
	}
	var ids []uint64
	entryProposalIDs(&raftpb.Entry{Data: good}, func(id uint64) { ids = append(ids, id) })
	if fmt.Sprint(ids) != "[7 8]" {
		t.Fatalf("a batch entry's proposal ids = %v, want [7 8]", ids)
	}
	body := good[proposalIDLen+1:]
	for name, b := range map[string][]byte{
		"empty":     {},
		"truncated": body[:len(body)-1],
		"trailing":  append(append([]byte(nil), body...), 0),
		"count":     append([]byte{3}, body[1:]...),
		"nested":    {1, 2, adminBatch, 0},
		"zero-len":  {1, 0},
	} {
		if _, err := splitBatch(b); err == nil {
			t.Errorf("%s: split accepted % x", name, b)
		}
	}
}

// FuzzSplitBatch: any bytes are split or refused, never a panic, and what
// encodeBatch writes splits back into the same commands.
func FuzzSplitBatch(f *testing.F) {
	f.Add([]byte("a"), []byte("bc"), []byte{1, 4, 2, 1, 1, 'x'})
	f.Fuzz(func(t *testing.T, a, b, raw []byte) {
		_, _ = splitBatch(raw)
		enc := encodeBatch([]*proposal{{data: encodeEpochCommand(1, 2, a)}, {data: encodeEpochCommand(3, 4, b)}})
		subs, err := splitBatch(enc[proposalIDLen+1:])
		if err != nil || len(subs) != 2 {
			t.Fatalf("round trip: %q %v", subs, err)
		}
		for k, want := range [][]byte{a, b} {
			_, _, cmd, err := decodeEpochCommand(subs[k][1:])
			if err != nil || !bytes.Equal(cmd, want) {
				t.Fatalf("command %d = %q %v, want %q", k, cmd, err, want)
			}
		}
	})
}
