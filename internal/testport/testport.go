// Package testport hands tests and benchmarks TCP ports on 127.0.0.1 that
// are free now and unlikely to be taken before they are bound.
//
// Asking the kernel for port 0 returns a port from its ephemeral range, the
// same range it draws the local ports of outgoing connections from: with
// several test packages running at once (go test runs packages in
// parallel, and the cluster tests open hundreds of connections) a port
// picked that way was regularly taken by some client socket before the
// node listened on it ("bind: address already in use"). Ports here come
// from below the ephemeral range, where only explicit binds land, at
// random so that concurrent pickers rarely meet.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// handedOut holds every port this process returned. A port is free until
// its caller binds it, so without this record one cluster's config could
// get the same port twice (a test package picks hundreds: about one CI
// run in six met "address already in use" that way).
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// claim records p unless p, or a port derived from it the way the
// playground derives its others (+1000..+4000), meets one already handed
// out.
func claim(p int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	for k := -4; k <= 4; k++ {
		if handedOut.ports[p+k*1000] {
			return false
		}
	}
	handedOut.ports[p] = true
	return true
}

// low is the first port handed out; Headroom ports below the ephemeral
// range stay unused so that a caller may derive ports up to that far above
// the one it got (the playground uses +1000..+4000).
const (
	low      = 10000
	Headroom = 5000
)

// Free returns a port on 127.0.0.1 that could be bound a moment ago.
func Free() (int, error) {
	hi := ephemeralLow() - Headroom
	if hi-low >= 1000 {
		for range 200 {
			p := low + rand.IntN(hi-low)
			if claim(p) && free(p) {
				return p, nil
			}
		}
	}
	// Odd kernel settings: fall back to the kernel's choice.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testport: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func free(p int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux
// default 32768).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 0 {
				return n
			}
		}
	}
	return 32768
}
