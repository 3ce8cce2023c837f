package testport

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeIsBindableAndBelowTheEphemeralRange(t *testing.T) {
	for range 20 {
		p, err := Free()
		if err != nil {
			t.Fatal(err)
		}
		if p < low || p >= ephemeralLow()-Headroom {
			t.Fatalf("port %d outside [%d, %d)", p, low, ephemeralLow()-Headroom)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d not bindable: %v", p, err)
		}
		ln.Close()
	}
}

func TestFreeNeverHandsOutAPortTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 300 {
		p, err := Free()
		if err != nil {
			t.Fatal(err)
		}
		for k := -4; k <= 4; k++ {
			if seen[p+k*1000] {
				t.Fatalf("port %d handed out after %d", p, p+k*1000)
			}
		}
		seen[p] = true
	}
}
