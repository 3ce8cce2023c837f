package leakcheck

import (
	"testing"
	"time"
)

func parkedUntil(stop chan struct{}) { <-stop }

func TestWaitSeesALiveGoroutineAndItsEnd(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { parkedUntil(stop); close(done) }()
	if leaked := Wait(30*time.Millisecond, "leakcheck.parkedUntil"); leaked == "" {
		t.Fatal("a goroutine parked in parkedUntil was not reported")
	}
	close(stop)
	<-done
	if leaked := Wait(time.Second, "leakcheck.parkedUntil"); leaked != "" {
		t.Fatalf("reported after it ended:\n%s", leaked)
	}
}
