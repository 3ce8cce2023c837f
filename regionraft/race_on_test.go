//go:build race

package regionraft

// raceEnabled reports a -race build (see TestClusterSplit).
const raceEnabled = true
