//go:build !race

package regionraft

const raceEnabled = false
