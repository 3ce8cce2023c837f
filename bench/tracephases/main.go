// Command tracephases reads a Go execution trace of a Skerry node under a
// non-pipelined write load (redis-benchmark -c 50 -t set) and splits each
// connection's request cycle into the four phases a command spends its time
// in, plus how long the node's key goroutines wait for a processor:
//
//	A  request arrives (goroutine woken by the network) -> command proposed
//	   (goroutine blocks waiting for its Raft acknowledgement)
//	B  acknowledgement (woken) -> reply written and blocked on the network again
//	C  waiting for the acknowledgement (Raft round, fsync, apply)
//	D  waiting on the network (the client's turn, and the runtime noticing
//	   the next request)
//
// Usage, with a node's status port at 127.0.0.1:20180:
//
//	curl -o /tmp/set.trace 'http://127.0.0.1:20180/debug/pprof/trace?seconds=1'
//	cd bench/tracephases && go run . /tmp/set.trace
//
// It is its own module so that the node does not depend on the trace parser.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/exp/trace"
)

// role names the goroutines this tool follows, by a function on their stack.
func role(st trace.Stack) string {
	var b strings.Builder
	for f := range st.Frames() {
		b.WriteString(f.Func)
		b.WriteByte(';')
	}
	s := b.String()
	switch {
	case strings.Contains(s, "regionraft.(*Store).run"):
		return "raft loop"
	case strings.Contains(s, "regionraft.(*Store).round.func"):
		return "apply"
	case strings.Contains(s, "record.(*LogWriter).flushLoop"):
		return "WAL writer"
	case strings.Contains(s, "resp.(*conn)"):
		return "connection"
	}
	return ""
}

type samples []float64 // microseconds

func (s samples) summary() string {
	if len(s) == 0 {
		return "n=0"
	}
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	q := func(p float64) float64 { return s[int(p*float64(len(s)-1))] }
	return fmt.Sprintf("n=%6d  mean %7.1f us  p50 %7.1f  p90 %7.1f  p99 %7.1f", len(s), sum/float64(len(s)), q(.5), q(.9), q(.99))
}

type goState struct {
	role      string
	runnable  trace.Time // when it last became runnable
	blocked   trace.Time // when it last blocked
	why       string     // why it last blocked: "network" or "select"
	phaseFrom trace.Time // start of the current A or B phase
	phaseKind string     // the block reason that started it
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tracephases TRACE")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "tracephases:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		return err
	}
	gs := map[trace.GoID]*goState{}
	phases := map[string]samples{}
	waits := map[string]samples{} // runnable -> running, by role
	us := func(a, b trace.Time) float64 { return float64(b-a) / 1e3 }
	for {
		ev, err := r.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		id := st.Resource.Goroutine()
		g := gs[id]
		if g == nil {
			g = &goState{}
			gs[id] = g
		}
		from, to := st.Goroutine()
		// st.Stack is the goroutine's own; the event's stack is its own
		// only when it was running (an unblock carries the waker's).
		if g.role == "" {
			if g.role = role(st.Stack); g.role == "" && from == trace.GoRunning {
				g.role = role(ev.Stack())
			}
		}
		now := ev.Time()
		switch {
		case to == trace.GoRunnable:
			g.runnable = now
			if from == trace.GoWaiting && g.role == "connection" && g.blocked != 0 {
				switch g.why {
				case "network":
					phases["D on the network"] = append(phases["D on the network"], us(g.blocked, now))
				case "select":
					phases["C awaiting the ack"] = append(phases["C awaiting the ack"], us(g.blocked, now))
				}
				g.phaseFrom, g.phaseKind = now, g.why
			}
		case to == trace.GoRunning && from == trace.GoRunnable && g.runnable != 0:
			waits[g.role] = append(waits[g.role], us(g.runnable, now))
		case from == trace.GoRunning && to == trace.GoWaiting && g.role == "connection" &&
			(st.Reason == "network" || st.Reason == "select"):
			if g.phaseFrom != 0 {
				switch {
				case g.phaseKind == "network" && st.Reason == "select":
					phases["A request -> proposed"] = append(phases["A request -> proposed"], us(g.phaseFrom, now))
				case g.phaseKind == "select" && st.Reason == "network":
					phases["B ack -> replied"] = append(phases["B ack -> replied"], us(g.phaseFrom, now))
				}
				g.phaseFrom = 0
			}
			g.blocked, g.why = now, st.Reason
		}
	}
	fmt.Println("connection phases:")
	for _, k := range []string{"A request -> proposed", "B ack -> replied", "C awaiting the ack", "D on the network"} {
		fmt.Printf("  %-22s %s\n", k, phases[k].summary())
	}
	fmt.Println("runnable -> running (waiting for a processor):")
	for _, k := range []string{"connection", "raft loop", "apply", "WAL writer"} {
		fmt.Printf("  %-22s %s\n", k, waits[k].summary())
	}
	return nil
}
