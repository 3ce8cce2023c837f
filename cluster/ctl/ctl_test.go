package ctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skerrydb/skerry/internal/testport"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// pdClock is the PD's clock in these tests: heartbeat times are
// deterministic, so are the printed ages.
var pdClock = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startPD starts a single PD member with the balancers off (only what the
// test asks for is scheduled) and returns it and its client URL.
func startPD(t *testing.T) (*pd.Server, string) {
	t.Helper()
	var lastErr error
	for range 3 {
		url := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		s, err := pd.Start(ctx, pd.Config{DataDir: t.TempDir(), ClientURL: url,
			PeerURL:          fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			ScheduleInterval: -1, Now: func() time.Time { return pdClock }})
		cancel()
		if err == nil {
			t.Cleanup(func() { s.Close() })
			return s, url
		}
		lastErr = err
	}
	t.Fatalf("start pd: %v", lastErr)
	return nil, ""
}

// heartbeatUntil sends hb for the region's leader until PD answers with a
// step of kind, and returns it.
func heartbeatUntil(t *testing.T, s *pd.Server, hb pdclient.RegionHeartbeat, kind pdclient.OperatorKind) *pdclient.Operator {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		op, err := s.RegionHeartbeat(context.Background(), hb)
		if err != nil {
			t.Fatal(err)
		}
		if op != nil && op.Kind == kind {
			return op
		}
		if op != nil || time.Now().After(deadline) {
			t.Fatalf("heartbeat answered %+v, want a %s step", op, kind)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCtlAgainstPD runs every command against a real PD member over gRPC
// (pdclient.Dial), with the test playing the nodes: it registers stores,
// heartbeats a region, and carries out the operators ctl queues.
func TestCtlAgainstPD(t *testing.T) {
	s, url := startPD(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for id := uint64(1); id <= 3; id++ {
		err := s.PutStore(ctx, pdclient.Store{ID: id, PeerAddr: fmt.Sprintf("127.0.0.%d:20160", id),
			RESPAddr: fmt.Sprintf("127.0.0.%d:6379", id), StatusAddr: fmt.Sprintf("127.0.0.%d:20180", id)})
		if err != nil {
			t.Fatal(err)
		}
	}
	region := pdclient.Region{ID: 10, Epoch: pdclient.Epoch{ConfVer: 3, Version: 1},
		Peers: []pdclient.Peer{{ID: 11, StoreID: 1}, {ID: 12, StoreID: 2}, {ID: 13, StoreID: 3}}}
	leader := region.Peers[0]
	if op, err := s.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: region, Leader: leader}); err != nil || op != nil {
		t.Fatalf("first heartbeat: %+v, %v", op, err)
	}

	var out, log bytes.Buffer
	cfg := Config{Endpoints: []string{url}, Out: &out, Log: &log, Wait: 5 * time.Second,
		Now: func() time.Time { return pdClock.Add(3 * time.Second) }}
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run := func(t *testing.T, fn func() error, want string) {
		t.Helper()
		out.Reset()
		if err := fn(); err != nil {
			t.Fatal(err)
		}
		checkGolden(t, out.String(), want)
	}

	t.Run("Stores", func(t *testing.T) {
		run(t, func() error { return c.Stores(ctx) }, `
ID  PEER ADDR        RESP ADDR       STATUS ADDR      STATE  HEARTBEAT  REGIONS  LEADERS
1   127.0.0.1:20160  127.0.0.1:6379  127.0.0.1:20180  Up     3s         1        1
2   127.0.0.2:20160  127.0.0.2:6379  127.0.0.2:20180  Up     3s         1        0
3   127.0.0.3:20160  127.0.0.3:6379  127.0.0.3:20180  Up     3s         1        0
`)
	})

	t.Run("Regions", func(t *testing.T) {
		run(t, func() error { return c.Regions(ctx) }, `
ID  SLOTS    START  END   CONF/VER  LEADER  PEERS
10  0-16383  -inf   +inf  3/1       11@1    11@1,12@2,13@3
`)
		run(t, func() error { return c.RegionByKey(ctx, 3, "foo") }, `
ID  SLOTS    START  END   CONF/VER  LEADER  PEERS
10  0-16383  -inf   +inf  3/1       11@1    11@1,12@2,13@3
`)
		if err := c.Region(ctx, 99); !errors.Is(err, pdclient.ErrRegionNotFound) {
			t.Fatalf("region 99: %v", err)
		}
	})

	t.Run("Split", func(t *testing.T) {
		at, err := SlotSplitKey(8192)
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		done := make(chan error, 1)
		go func() { done <- c.Split(ctx, 10, at) }()
		// Play the leader: take the step, split, report the halves.
		op := heartbeatUntil(t, s, pdclient.RegionHeartbeat{Region: region, Leader: leader}, pdclient.OpSplit)
		if len(op.SplitKeys) != 1 || !bytes.Equal(op.SplitKeys[0], at) || op.Epoch != region.Epoch {
			t.Fatalf("split step %+v", op)
		}
		newID, peerIDs, err := s.AskSplit(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		left := pdclient.Region{ID: newID, EndKey: at, Epoch: pdclient.Epoch{ConfVer: 3, Version: 2}}
		for i, p := range region.Peers {
			left.Peers = append(left.Peers, pdclient.Peer{ID: peerIDs[i], StoreID: p.StoreID})
		}
		region.StartKey, region.Epoch.Version = at, 2
		if err := s.ReportSplit(ctx, left, region); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// The left half's leader is unknown until it heartbeats; the
		// right half keeps region 10's.
		want := fmt.Sprintf(`
ID  SLOTS       START      END        CONF/VER  LEADER  PEERS
%d  0-8191      -inf       slot 8192  3/2       -       %d@1,%d@2,%d@3
10  8192-16383  slot 8192  +inf       3/2       11@1    11@1,12@2,13@3
`, newID, peerIDs[0], peerIDs[1], peerIDs[2])
		// Column widths depend on the IDs PD allocated: compare words.
		if got := out.String(); !sameWords(got, want) {
			t.Fatalf("got:\n%s\nwant:\n%s", got, want)
		}
		if !strings.Contains(log.String(), "split of region 10 at slot 8192 queued") {
			t.Fatalf("log: %q", log.String())
		}

		outside := keys.MetaKey(0, []byte("foo")) // slot 12182: in region 10 now, not in the left half
		if err := c.Split(ctx, newID, outside); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("split outside the region: %v", err)
		}
		if err := c.Split(ctx, 10, at); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("split at the region's start: %v", err)
		}
	})

	t.Run("TransferLeader", func(t *testing.T) {
		out.Reset()
		done := make(chan error, 1)
		go func() { done <- c.TransferLeader(ctx, 10, 3) }()
		op := heartbeatUntil(t, s, pdclient.RegionHeartbeat{Region: region, Leader: leader}, pdclient.OpTransferLeader)
		if op.Peer != region.Peers[2] {
			t.Fatalf("transfer step %+v", op)
		}
		leader = region.Peers[2]
		if _, err := s.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: region, Leader: leader}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		checkGolden(t, out.String(), `
ID  SLOTS       START      END   CONF/VER  LEADER  PEERS
10  8192-16383  slot 8192  +inf  3/2       13@3    11@1,12@2,13@3
`)
		if err := c.TransferLeader(ctx, 10, 9); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("transfer to a store without a replica: %v", err)
		}
	})

	t.Run("QueueWithoutWaiting", func(t *testing.T) {
		nowait, err := New(c.pd, Config{Wait: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := nowait.TransferLeader(ctx, 10, 1); err != nil {
			t.Fatal(err)
		}
		op := heartbeatUntil(t, s, pdclient.RegionHeartbeat{Region: region, Leader: leader}, pdclient.OpTransferLeader)
		if op.Peer != region.Peers[0] {
			t.Fatalf("transfer step %+v", op)
		}
		// Nobody carries it out: a waiting command times out.
		short, err := New(c.pd, Config{Wait: 150 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := short.TransferLeader(ctx, 10, 1); !errors.Is(err, ErrTimeout) {
			t.Fatalf("unserved transfer: %v", err)
		}
	})

	t.Run("RemoveStore", func(t *testing.T) {
		log.Reset()
		run(t, func() error { return c.RemoveStore(ctx, 3) }, `
ID  PEER ADDR        RESP ADDR       STATUS ADDR      STATE    HEARTBEAT  REGIONS  LEADERS
3   127.0.0.3:20160  127.0.0.3:6379  127.0.0.3:20180  Offline  3s         2        1
`)
		if !strings.Contains(log.String(), "PD moves its 2 replicas (1 of them leaders)") {
			t.Fatalf("log: %q", log.String())
		}
		st, err := s.GetStore(ctx, 3)
		if err != nil || st.State != pdclient.StoreOffline {
			t.Fatalf("store 3 = %+v, %v", st, err)
		}
		if err := c.RemoveStore(ctx, 3); err != nil {
			t.Fatalf("removing an Offline store again: %v", err)
		}
		if err := c.RemoveStore(ctx, 99); !errors.Is(err, pdclient.ErrStoreNotFound) {
			t.Fatalf("remove store 99: %v", err)
		}
	})

	t.Run("JSON", func(t *testing.T) {
		js, err := New(c.pd, Config{Format: FormatJSON, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if err := js.Region(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"start_key": "2000",`) || !strings.Contains(out.String(), `"slots": "8192-16383",`) {
			t.Fatalf("json:\n%s", out.String())
		}
	})
}

// sameWords reports whether a and b have the same lines of
// space-separated words.
func sameWords(a, b string) bool {
	al, bl := strings.Split(strings.TrimSpace(a), "\n"), strings.Split(strings.TrimSpace(b), "\n")
	if len(al) != len(bl) {
		return false
	}
	for i := range al {
		if strings.Join(strings.Fields(al[i]), " ") != strings.Join(strings.Fields(bl[i]), " ") {
			return false
		}
	}
	return true
}
