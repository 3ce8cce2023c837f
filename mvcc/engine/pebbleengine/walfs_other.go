//go:build !linux

package pebbleengine

import (
	"errors"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// startWriteback is Linux-only (sync_file_range); elsewhere the fdatasync
// that follows writes the zeros.
func startWriteback(vfs.File, int64, int64) {}

// rawSyncSupported: rawFdatasync is Linux-only; elsewhere SyncData always
// takes the normal path.
const rawSyncSupported = false

func rawFdatasync(uintptr) error { return errors.ErrUnsupported }
