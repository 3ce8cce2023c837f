package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skerrydb/skerry/pd"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// runCtl runs `skerry ctl args...` and returns its output and error.
func runCtl(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"skerry", "ctl"}, args...))
	return out.String(), errOut.String(), err
}

func TestCtlAddStore(t *testing.T) {
	t.Setenv("SKERRY_CTL_PD", "http://10.0.0.1:2379, http://10.0.0.2:2379")
	out, _, err := runCtl(t, "add-store")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "skerry server --pd=false --join http://10.0.0.1:2379,http://10.0.0.2:2379 ") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestCtlArgumentErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "yaml", "add-store"},
		{"region"},
		{"region", "x"},
		{"region", "1", "--key", "foo"},
		{"transfer-leader", "1"},
		{"split", "0"},
		{"split", "1", "--slot", "16384"},
		{"split", "1", "--slot", "5", "--key", "foo"},
		{"split", "1", "--key", "foo", "--db", "16"},
		{"split", "1", "--slot", "100", "extra"},
		{"transfer-leader", "1", "2", "--wait", "5s"},
		{"remove-store", "1", "2"},
	} {
		if _, _, err := runCtl(t, args...); err == nil {
			t.Errorf("skerry ctl %s: no error", strings.Join(args, " "))
		}
	}
}

func TestCtlFlagsAfterArgs(t *testing.T) {
	var slot, db int
	var key string
	cmd := &cli.Command{Name: "split", Flags: []cli.Flag{&cli.IntFlag{Name: "slot"}, &cli.StringFlag{Name: "key"}, &cli.IntFlag{Name: "db"}},
		Action: func(c *cli.Context) error {
			fc, err := flagsAfterArgs(c, 1)
			if err != nil {
				return err
			}
			slot, db, key = fc.Int("slot"), fc.Int("db"), fc.String("key")
			return nil
		}}
	app := &cli.App{Name: "skerry", Commands: []*cli.Command{cmd}}
	if err := app.Run([]string{"skerry", "split", "--db", "3", "7", "--key", "foo"}); err != nil {
		t.Fatal(err)
	}
	if slot != 0 || db != 3 || key != "foo" {
		t.Fatalf("slot %d db %d key %q", slot, db, key)
	}
}

func freeURL(t *testing.T) string {
	t.Helper()
	return "http://127.0.0.1:" + freePort(t)
}

// TestCtlAgainstPD runs the ctl verbs through the command line against a
// real PD member (cluster/ctl tests every verb in depth).
func TestCtlAgainstPD(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := freeURL(t)
	s, err := pd.Start(ctx, pd.Config{DataDir: t.TempDir(), ClientURL: url, PeerURL: freeURL(t), ScheduleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutStore(ctx, pdclient.Store{ID: 1, PeerAddr: "127.0.0.1:20160"}); err != nil {
		t.Fatal(err)
	}
	r := pdclient.Region{ID: 2, Epoch: pdclient.Epoch{ConfVer: 1, Version: 1}, Peers: []pdclient.Peer{{ID: 3, StoreID: 1}}}
	if _, err := s.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: r, Leader: r.Peers[0]}); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCtl(t, "--pd", url, "stores")
	if err != nil || !strings.Contains(out, "\n1   127.0.0.1:20160  -          -            Up ") {
		t.Fatalf("stores: %v\n%s", err, out)
	}
	out, _, err = runCtl(t, "--pd", url, "--format", "json", "region", "--key", "foo")
	if err != nil || !strings.Contains(out, `"slots": "0-16383"`) {
		t.Fatalf("region --key: %v\n%s", err, out)
	}
	out, log, err := runCtl(t, "--pd", url, "--wait", "0", "split", "2", "--slot", "100")
	if err != nil || out != "" || !strings.Contains(log, "split of region 2 at slot 100 queued") {
		t.Fatalf("split: %v\n%s\n%s", err, out, log)
	}
	op, err := s.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: r, Leader: r.Peers[0]})
	if err != nil || op == nil || op.Kind != pdclient.OpSplit {
		t.Fatalf("step after ctl split: %+v, %v", op, err)
	}
	if _, _, err := runCtl(t, "--pd", url, "region", "77"); !errors.Is(err, pdclient.ErrRegionNotFound) {
		t.Fatalf("region 77: %v", err)
	}
}
