package pdclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
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

// fakeMember is a stand-in PD member: a gRPC server of the PD service whose
// AllocID answers come from answer (n counts the calls, from 1).
// GetClusterID always answers 1.
type fakeMember struct {
	url    string
	answer func(n int) (AllocIDResponse, error)

	mu    sync.Mutex
	calls int
}

// startFakeMember serves m on a free port until the test ends.
func startFakeMember(t *testing.T, answer func(n int) (AllocIDResponse, error)) *fakeMember {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMember{url: "http://" + l.Addr().String(), answer: answer}
	handler := func(call func() (any, error)) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
		return func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			if err := dec(new(Frame)); err != nil {
				return nil, err
			}
			body, err := call()
			return EncodeFrame(&Reply[any]{Err: ToWireError(err), Body: body})
		}
	}
	gs := grpc.NewServer()
	gs.RegisterService(&grpc.ServiceDesc{
		ServiceName: ServiceName,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: MethodGetClusterID, Handler: handler(func() (any, error) {
				return ClusterIDResponse{ClusterID: 1}, nil
			})},
			{MethodName: MethodAllocID, Handler: handler(func() (any, error) {
				m.mu.Lock()
				m.calls++
				n := m.calls
				m.mu.Unlock()
				return m.answer(n)
			})},
		},
	}, m)
	go gs.Serve(l) //nolint:errcheck // returns when stopped
	t.Cleanup(gs.Stop)
	return m
}

func (m *fakeMember) allocCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// TestFollowsRedirectToLeaderStillTakingOver: the client knows only a
// follower, which names the leader; the leader is still loading its state
// and answers "not leader, leader unknown" a few times. The client must
// keep going back to the leader the follower names (it once forgot the
// redirect and asked the follower until its budget ran out).
func TestFollowsRedirectToLeaderStillTakingOver(t *testing.T) {
	const loading = 4 // answers the leader gives before it serves
	leader := startFakeMember(t, func(n int) (AllocIDResponse, error) {
		if n <= loading {
			return AllocIDResponse{}, &NotLeaderError{}
		}
		return AllocIDResponse{ID: 7}, nil
	})
	follower := startFakeMember(t, func(int) (AllocIDResponse, error) {
		return AllocIDResponse{}, &NotLeaderError{LeaderURL: leader.url}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, []string{follower.url}, WithRetryTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.AllocID(ctx)
	if err != nil || id != 7 {
		t.Fatalf("AllocID = %d, %v; want 7", id, err)
	}
	if got := leader.allocCalls(); got != loading+1 {
		t.Fatalf("leader got %d AllocID calls, want %d", got, loading+1)
	}
	// The leader is now known: the next call goes straight to it.
	before := follower.allocCalls()
	if id, err := c.AllocID(ctx); err != nil || id != 7 {
		t.Fatalf("second AllocID = %d, %v", id, err)
	}
	if follower.allocCalls() != before {
		t.Fatal("second AllocID went through the follower")
	}
}

// TestRedirectLoopEndsWithinBudget: two members naming each other (stale
// views during an election) make the call fail with ErrUnavailable once
// its retry budget is spent, not spin or hang.
func TestRedirectLoopEndsWithinBudget(t *testing.T) {
	var aURL string
	var mu sync.Mutex
	b := startFakeMember(t, func(int) (AllocIDResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		return AllocIDResponse{}, &NotLeaderError{LeaderURL: aURL}
	})
	a := startFakeMember(t, func(int) (AllocIDResponse, error) {
		return AllocIDResponse{}, &NotLeaderError{LeaderURL: b.url}
	})
	mu.Lock()
	aURL = a.url
	mu.Unlock()
	c, err := Dial(context.Background(), []string{a.url}, WithRetryTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.AllocID(context.Background()); !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping ErrNotLeader", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("AllocID took %v", d)
	}
	// Bounded: a few immediate hops per backoff round, not thousands.
	if n := a.allocCalls() + b.allocCalls(); n > 100 {
		t.Fatalf("%d calls in 300ms", n)
	}
}
