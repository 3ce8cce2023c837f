package pdclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

func TestWireErrorRoundTrip(t *testing.T) {
	for _, sentinel := range []error{ErrClosed, ErrInvalidCount, ErrStoreNotFound, ErrRegionNotFound, ErrStaleRegion, ErrInvalidArgument} {
		w := ToWireError(fmt.Errorf("context: %w", sentinel))
		var back WireError
		f, err := EncodeFrame(w)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Decode(&back); err != nil {
			t.Fatal(err)
		}
		if got := back.Err(); !errors.Is(got, sentinel) {
			t.Errorf("%v came back as %v", sentinel, got)
		}
	}
	w := ToWireError(fmt.Errorf("wrapped: %w", &NotLeaderError{LeaderURL: "http://127.0.0.1:1"}))
	var nl *NotLeaderError
	if err := w.Err(); !errors.As(err, &nl) || nl.LeaderURL != "http://127.0.0.1:1" || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("not-leader came back as %v", err)
	}
	if err := (&WireError{Code: "internal", Message: "boom"}).Err(); err == nil || errors.Is(err, ErrNotLeader) {
		t.Fatalf("internal error = %v", err)
	}
	if ToWireError(nil) != nil || (*WireError)(nil).Err() != nil {
		t.Fatal("nil error must stay nil")
	}
}

func TestReplyDecodesIntoBody(t *testing.T) {
	f, err := EncodeFrame(&Reply[GetTSResponse]{Body: GetTSResponse{Last: 42}})
	if err != nil {
		t.Fatal(err)
	}
	var body GetTSResponse
	reply := Reply[any]{Body: &body}
	if err := f.Decode(&reply); err != nil || body.Last != 42 || reply.Err != nil {
		t.Fatalf("decoded %+v %+v %v", reply, body, err)
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:2379": "127.0.0.1:2379", "https://h:1/": "h:1", "10.0.0.1:5": "10.0.0.1:5",
	} {
		if got, err := hostPort(in); err != nil || got != want {
			t.Errorf("hostPort(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "http://", "host", "http://h:1/path"} {
		if _, err := hostPort(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("hostPort(%q) err = %v", bad, err)
		}
	}
}

// TestDialNoLeader: with nobody listening, Dial gives up within its retry
// budget with ErrUnavailable.
func TestDialNoLeader(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = Dial(context.Background(), []string{"http://" + addr}, WithRetryTimeout(300*time.Millisecond))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Dial took %v", d)
	}
	if _, err := Dial(context.Background(), nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("no endpoints: err = %v", err)
	}
}
