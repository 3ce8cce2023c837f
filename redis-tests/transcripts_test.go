package redistests

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var (
	flagRewrite = flag.Bool("rewrite", false, "record: run the transcripts against a fresh real redis-server (or -addr) and rewrite testdata/*.txt with its replies, keeping matchers that match")
	flagRecord  = flag.Bool("record", false, "alias of -rewrite")
	flagAddr    = flag.String("addr", "", "run the transcripts against the server at host:port")
	flagLive    = flag.Bool("live", false, "run the transcripts against a fresh real redis-server (differential check of the golden files); skipped when redis-server is not installed")
)

func transcriptFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no transcripts in testdata/")
	}
	return files
}

const unimplementedList = "testdata/unimplemented.list"

// TestUnimplementedListIsTrue keeps the skip list honest: every command on
// it must still be unknown to Skerry.
func TestUnimplementedListIsTrue(t *testing.T) {
	if *flagAddr != "" || *flagLive || *flagRewrite || *flagRecord {
		t.Skip("only meaningful against the in-process Skerry node")
	}
	skip, err := ReadCommandList(unimplementedList)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := defaultTarget(t)
	c, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for name := range skip {
		v, err := c.Do([]byte("COMMAND"), []byte("INFO"), []byte(name))
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Elems) != 1 || !v.Elems[0].Null {
			t.Errorf("%s is implemented now: remove it from %s", name, unimplementedList)
		}
	}
}

// TestTranscripts runs every transcript against the chosen target; see README.md.
func TestTranscripts(t *testing.T) {
	rewrite := *flagRewrite || *flagRecord
	var addr string
	var skip map[string]bool // commands Skerry lacks: their sections are skipped
	switch {
	case *flagAddr != "":
		addr = *flagAddr
	case rewrite || *flagLive:
		addr = StartRedisServer(t)
	default:
		a, ok := defaultTarget(t)
		if !ok {
			t.Skip("no in-process target yet; use -addr host:port, -live or -rewrite")
		}
		addr = a
		var err error
		if skip, err = ReadCommandList(unimplementedList); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range transcriptFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tr, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if skip != nil {
				var skipped []string
				tr, skipped = tr.Without(skip)
				for _, title := range skipped {
					t.Logf("unchecked (uses a command listed in %s): %s", unimplementedList, title)
				}
			}
			res, err := Run(addr, tr)
			if err != nil {
				t.Fatal(err)
			}
			if !rewrite {
				for _, m := range res.Mismatches {
					t.Error("\n" + m.String())
				}
				return
			}
			for _, m := range res.Mismatches {
				t.Logf("recorded:\n%s", m)
			}
			text := res.Recorded.Text()
			old, _ := os.ReadFile(path)
			if text != string(old) {
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
