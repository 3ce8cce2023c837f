package leakcheck

import (
	"testing"
	"time"
)

// parkedUntil is kept out of line so its name is in the goroutine's stack.
//
//go:noinline
func parkedUntil(started, stop chan struct{}) {
	close(started)
	<-stop
}

func TestWaitSeesALiveGoroutineAndItsEnd(t *testing.T) {
	started := make(chan struct{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { parkedUntil(started, stop); close(done) }()
	// Wait reports only goroutines already inside a marked function; a
	// goroutine the scheduler has not run yet shows only its creator, so
	// the check waits for parkedUntil to have been entered.
	<-started
	if leaked := Wait(30*time.Millisecond, "leakcheck.parkedUntil"); leaked == "" {
		t.Fatal("a goroutine parked in parkedUntil was not reported")
	}
	close(stop)
	<-done
	if leaked := Wait(time.Second, "leakcheck.parkedUntil"); leaked != "" {
		t.Fatalf("reported after it ended:\n%s", leaked)
	}
}
