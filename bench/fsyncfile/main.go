//go:build linux

// Command fsyncfile times a small write followed by fdatasync in files of
// different states, the measurement behind pebbleengine/walfs.go: on ext4
// an fdatasync that must also commit a new file size (an append) or an
// extent conversion (a FALLOC_FL_KEEP_SIZE preallocation) costs more than
// one after an overwrite of bytes already written.
//
//	go run ./bench/fsyncfile -dir /tmp -n 3000 -size 3000
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "directory on the filesystem to measure")
	n := flag.Int("n", 3000, "writes per file state")
	size := flag.Int("size", 3000, "bytes per write")
	rounds := flag.Int("rounds", 2, "times to measure each state")
	flag.Parse()
	span := int64(*n * *size)
	states := []struct {
		name string
		prep func(f *os.File) error
	}{
		{"appended", func(*os.File) error { return nil }},
		{"keep-size", func(f *os.File) error { return syscall.Fallocate(int(f.Fd()), 1 /* FALLOC_FL_KEEP_SIZE */, 0, span) }},
		{"fallocated", func(f *os.File) error { return syscall.Fallocate(int(f.Fd()), 0, 0, span) }},
		{"written", func(f *os.File) error {
			if _, err := f.Write(make([]byte, span)); err != nil {
				return err
			}
			return f.Sync()
		}},
	}
	for r := 0; r < *rounds; r++ {
		for _, st := range states {
			wall, cpu, err := measure(filepath.Join(*dir, "fsyncfile.tmp"), st.prep, *n, *size)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			fmt.Printf("%-10s wall %6.1f us  cpu %6.1f us per write+fdatasync\n", st.name, wall, cpu)
		}
	}
}

// measure writes n blocks of size bytes from offset 0 of a fresh file
// prepared by prep, each followed by fdatasync, and returns the wall time
// and the process CPU time per write in microseconds.
func measure(path string, prep func(*os.File) error, n, size int) (wall, cpu float64, err error) {
	_ = os.Remove(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	if err := prep(f); err != nil {
		return 0, 0, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return 0, 0, err
	}
	buf := make([]byte, size)
	c0, t0 := cpuTime(), time.Now()
	for i := 0; i < n; i++ {
		if _, err := f.Write(buf); err != nil {
			return 0, 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, 0, err
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	return per(time.Since(t0)), per(cpuTime() - c0), nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
