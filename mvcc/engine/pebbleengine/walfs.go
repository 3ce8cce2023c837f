package pebbleengine

import (
	"runtime"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walFS hands Pebble WAL files whose next bytes are already written (as
// zeros) before Pebble appends its records there.
//
// Every acknowledged write waits for an fdatasync of the WAL. On ext4, an
// fdatasync after an append that grew the file (or filled a block Pebble
// preallocated with FALLOC_FL_KEEP_SIZE, an unwritten extent) must also
// commit the new size and extent state through the journal; an fdatasync
// after an overwrite inside the written part of the file flushes only the
// data. On the 2-core test VMs a 3000-byte write + fdatasync cost 225–257 µs
// and 123–133 µs of CPU the first way and 149–179 µs and 84 µs the second
// (`go run ./bench/fsyncfile`; docs/performance.md, session 10). Pebble gets the cheap kind for WAL
// files it recycles; this gives it for new ones, and for a recycled file
// beyond its old size: the file is kept zeroChunk to 2×zeroChunk ahead of
// Pebble's writes with zeros, so one fdatasync per zeroChunk of WAL pays
// for the size change and the others do not.
//
// Pebble reads zeros after the last record of a WAL as the end of the log
// (record.ErrZeroedChunk with no valid record after it, the tail Pebble's own
// preallocation and recycling leave), and a log it closed ends with an EOF
// trailer before the zeros.
type walFS struct{ vfs.FS }

// zeroChunk is how far ahead of Pebble's writes the zeros run, and how much
// is written at once.
const zeroChunk = 1 << 20

var zeros = make([]byte, 256<<10)

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || !isWAL(name) {
		return f, err
	}
	return &zeroAheadFile{File: f}, nil
}

func (fs walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil || !isWAL(newname) {
		return f, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &zeroAheadFile{File: f, written: st.Size()}, nil
}

// zeroAheadFile is a WAL file Pebble writes sequentially with Write.
type zeroAheadFile struct {
	vfs.File
	off     int64 // where the next Write lands
	written int64 // [0, written) holds data or zeros
	sync    walSync
}

// Write first extends the written part with zeros when p would pass its end.
// The zeros go after p (WriteAt does not move the file offset), and their
// writeback starts at once, so the fdatasync that follows finds little left
// to write.
func (f *zeroAheadFile) Write(p []byte) (int, error) {
	end := f.off + int64(len(p))
	if end > f.written {
		from := max(f.written, end)
		to := (end/zeroChunk + 2) * zeroChunk
		for at := from; at < to; {
			n, err := f.File.WriteAt(zeros[:min(int64(len(zeros)), to-at)], at)
			if err != nil {
				return 0, err
			}
			at += int64(n)
		}
		f.written = to
		startWriteback(f.File, from, to-from)
	}
	n, err := f.File.Write(p)
	f.off += int64(n)
	return n, err
}

// SyncData makes the WAL's written data durable. While fdatasyncs are fast
// it issues the system call without telling the Go scheduler (rawFdatasync),
// the rest of the time as any other blocking system call: see walSync.
func (f *zeroAheadFile) SyncData() error {
	fd := f.File.Fd()
	raw := rawSyncSupported && fd != vfs.InvalidFd && f.sync.useRaw(runtime.GOMAXPROCS(0))
	start := time.Now()
	var err error
	if raw {
		f.sync.raws++
		err = rawFdatasync(fd)
	} else {
		err = f.File.SyncData()
	}
	f.sync.observe(time.Since(start))
	return err
}

// walSync decides how a WAL file's fdatasync is issued.
//
// Every acknowledged write waits for one, ~1,800 of them a second under
// load, each 0.15–0.5 ms on the test VMs. Issued as a normal system call,
// the goroutine keeps its processor (P) until the runtime's monitor thread
// notices it blocked (after 20 µs or more), takes the P and wakes another
// thread to run it; when the fdatasync returns, the WAL writer has no P,
// queues itself on the global run queue and its thread sleeps. That is
// three or four thread wake-ups per fdatasync on the path every write
// waits for, and the monitor polls every 20 µs while it keeps finding
// blocked Ps. Issued raw, the WAL writer keeps its P through the call and
// wakes the Raft loop straight onto it. On 2 cores that cut a SET's node
// CPU by 6–13 % and the time its threads wait for a core by 29–45 %
// (docs/performance.md, session 11; decision 0010).
//
// The cost: the P is unusable while the disk works, and a stop-the-world
// pause of the garbage collector waits for the call to return. So raw is
// used only with two Ps or more, and only while fdatasyncs are fast: one
// slower than rawSlowSync sends the next rawBackoff calls down the normal
// path, so a slow or stalled disk can hold the rest of the process for at
// most one call in rawBackoff.
type walSync struct {
	normalLeft int // calls left to issue normally after a slow one
	raws       int // calls issued raw
}

const (
	rawSlowSync = 2 * time.Millisecond
	rawBackoff  = 1000
)

func (s *walSync) useRaw(procs int) bool {
	if s.normalLeft > 0 {
		s.normalLeft--
		return false
	}
	return procs >= 2
}

func (s *walSync) observe(d time.Duration) {
	if d > rawSlowSync {
		s.normalLeft = rawBackoff
	}
}
