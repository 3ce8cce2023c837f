package pebbleengine

import (
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) of f out.
// Advisory: an error only means the later fdatasync writes it.
func startWriteback(f vfs.File, off, n int64) {
	if fd := f.Fd(); fd != vfs.InvalidFd {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}
}

// rawSyncSupported: SyncData may use rawFdatasync here.
const rawSyncSupported = true

// rawFdatasync is fdatasync(2) issued with RawSyscall: the calling goroutine
// keeps its P while the kernel waits for the disk (see walSync for when that
// is worth it). EINTR is retried: the call has no effect until it succeeds.
// An error is the bare errno, as Pebble's own SyncData returns it.
func rawFdatasync(fd uintptr) error {
	for {
		_, _, errno := unix.RawSyscall(unix.SYS_FDATASYNC, fd, 0, 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return errno
	}
}
