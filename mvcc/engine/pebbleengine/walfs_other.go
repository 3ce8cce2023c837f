//go:build !linux

package pebbleengine

import "github.com/cockroachdb/pebble/v2/vfs"

// startWriteback is Linux-only (sync_file_range); elsewhere the fdatasync
// that follows writes the zeros.
func startWriteback(vfs.File, int64, int64) {}
