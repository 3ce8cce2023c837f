// Package disktest runs regionraft over the real Pebble engine on disk. It
// is a separate package so that regionraft itself never depends on
// pebbleengine (not even in its tests); it has no non-test code.
package disktest
