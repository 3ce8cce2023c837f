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
