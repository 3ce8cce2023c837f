package resp

import (
	"strings"
	"sync"
	"testing"
)

// batchHandler runs batches through testHandler one command at a time, as
// the contract requires, and records the batch sizes it was given.
type batchHandler struct {
	*testHandler
	mu    sync.Mutex
	sizes []int
}

func (h *batchHandler) ServeRESPBatch(c *Client, cmds [][][]byte, w *Writer) int {
	h.mu.Lock()
	h.sizes = append(h.sizes, len(cmds))
	h.mu.Unlock()
	for i, args := range cmds {
		w.SetProto(c.Proto)
		h.ServeRESP(c, args, w)
		if c.CloseRequested() {
			return i + 1
		}
	}
	return len(cmds)
}

func TestBatchHandlerGetsPipelines(t *testing.T) {
	h := &batchHandler{testHandler: newTestHandler()}
	_, addr := startServer(t, Config{}, h)
	in := strings.Repeat("*2\r\n$4\r\nECHO\r\n$1\r\na\r\n", 10) +
		"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$6\r\nDOUBLE\r\n$3\r\n1.5\r\n" +
		"*1\r\n$4\r\nQUIT\r\n*2\r\n$4\r\nECHO\r\n$5\r\nnever\r\n"
	got, err := roundTrip(t, addr, in, false)
	if err != nil && !isReset(err) {
		t.Fatal(err)
	}
	want := strings.Repeat("$1\r\na\r\n", 10) + "%1\r\n$5\r\nproto\r\n:3\r\n,1.5\r\n+OK\r\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.sizes) == 0 || h.sizes[0] < 2 {
		t.Fatalf("pipeline was not handed over as a batch: %v", h.sizes)
	}
}

func TestBatchThenProtocolError(t *testing.T) {
	h := &batchHandler{testHandler: newTestHandler()}
	_, addr := startServer(t, Config{}, h)
	in := "*2\r\n$4\r\nECHO\r\n$1\r\na\r\n*2\r\n$4\r\nECHO\r\n$1\r\nb\r\n*x\r\n"
	got, err := roundTrip(t, addr, in, false)
	if err != nil && !isReset(err) {
		t.Fatal(err)
	}
	if want := "$1\r\na\r\n$1\r\nb\r\n-ERR Protocol error: invalid multibulk length\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// A single complete command followed by garbage: the command runs first.
	got, err = roundTrip(t, addr, "*2\r\n$4\r\nECHO\r\n$1\r\nc\r\n*x\r\n", false)
	if err != nil && !isReset(err) {
		t.Fatal(err)
	}
	if want := "$1\r\nc\r\n-ERR Protocol error: invalid multibulk length\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
