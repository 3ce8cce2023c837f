//go:build race

package cluster_test

// raceEnabled: the race detector slows the multi-node scenarios several
// times over; they run in the plain `go test` pass of `make test`.
const raceEnabled = true
