package mvcc_test

import (
	"encoding/binary"
	"math/rand"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// benchEngine is an in-memory engine whose memtable holds n committed
// string keys ("key:%d", as redis-benchmark writes them), so point reads
// and scans pay a realistic skiplist depth, plus a 100-element list and a
// 1,000-member set stored as member records of two keys.
func benchEngine(b *testing.B, n int) (*pebbleengine.Engine, uint64) {
	b.Helper()
	e, err := pebbleengine.Open(pebbleengine.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	ts := uint64(1000)
	var muts []mvcc.Mutation
	flush := func() {
		mods, err := mvcc.OnePCLatched(mvcc.NewReader(e, ts), muts, ts)
		if err != nil {
			b.Fatal(err)
		}
		bt := e.NewBatch()
		for _, m := range mods {
			if err := bt.Set(m.Key, m.Value); err != nil {
				b.Fatal(err)
			}
		}
		if err := bt.Commit(false); err != nil {
			b.Fatal(err)
		}
		bt.Close()
		ts++
		muts = muts[:0]
	}
	put := func(k, v []byte) {
		muts = append(muts, mvcc.Mutation{Key: k, Value: v})
		if len(muts) == 1000 {
			flush()
		}
	}
	val := make([]byte, 3)
	for i := 0; i < n; i++ {
		put(keys.MetaKey(0, benchKey(i)), val)
	}
	flush()
	for i := 0; i < 100; i++ {
		put(keys.MemberKey(0, []byte("mylist"), 7, binary.BigEndian.AppendUint64(nil, uint64(i))), []byte("xyz"))
	}
	for i := 0; i < 1000; i++ {
		put(keys.MemberKey(0, []byte("myset"), 9, benchKey(i)), nil)
	}
	flush()
	return e, ts
}

func benchKey(i int) []byte { return []byte("key:" + string(rune('a'+i%26)) + itoa(i)) }

func itoa(i int) string {
	var b [20]byte
	p := len(b)
	for {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[p:])
		}
	}
}

// BenchmarkGetAbsent is SET's read of the old metadata of a key that has
// none (the common case of a cold key).
func BenchmarkGetAbsent(b *testing.B) {
	e, ts := benchEngine(b, 200000)
	rng := rand.New(rand.NewSource(1))
	ks := make([][]byte, 4096)
	for i := range ks {
		ks[i] = keys.MetaKey(0, benchKey(200000+rng.Intn(1<<20)))
	}
	rd := mvcc.NewReaderWithLocks(e, ts, benchLocks(b, e))
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		if _, ok, err := rd.Get(ks[i%len(ks)]); err != nil || ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkGetPresent reads existing keys.
func BenchmarkGetPresent(b *testing.B) {
	e, ts := benchEngine(b, 200000)
	rng := rand.New(rand.NewSource(1))
	ks := make([][]byte, 4096)
	for i := range ks {
		ks[i] = keys.MetaKey(0, benchKey(rng.Intn(200000)))
	}
	rd := mvcc.NewReaderWithLocks(e, ts, benchLocks(b, e))
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		if _, ok, err := rd.Get(ks[i%len(ks)]); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkScanList100 is LRANGE mylist 0 99's scan.
func BenchmarkScanList100(b *testing.B) {
	e, ts := benchEngine(b, 200000)
	prefix := keys.MemberPrefix(0, []byte("mylist"), 7)
	end := keys.PrefixEnd(prefix)
	rd := mvcc.NewReaderWithLocks(e, ts, benchLocks(b, e))
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		n := 0
		err := rd.Scan(prefix, end, false, func(k, v []byte) error { n++; return nil })
		if err != nil || n != 100 {
			b.Fatal(n, err)
		}
	}
}

func benchLocks(b *testing.B, e *pebbleengine.Engine) *mvcc.LockTable {
	l, err := mvcc.NewLockTable(e)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// reportCPU reports the process's user+system CPU time per iteration as
// cpu-ns/op: on a shared machine wall time per op mostly measures the
// other tenants, CPU time much less so.
func reportCPU(b *testing.B) func() {
	start := cpuNanos()
	return func() { b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkGetAbsentShared is BenchmarkGetAbsent with one iterator reused
// for every read (Reader.ShareIterator), as a transaction's reads do.
func BenchmarkGetAbsentShared(b *testing.B) {
	e, ts := benchEngine(b, 200000)
	rng := rand.New(rand.NewSource(1))
	ks := make([][]byte, 4096)
	for i := range ks {
		ks[i] = keys.MetaKey(0, benchKey(200000+rng.Intn(1<<20)))
	}
	rd := mvcc.NewReaderWithLocks(e, ts, benchLocks(b, e))
	rd.ShareIterator()
	defer rd.Close()
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		if _, ok, err := rd.Get(ks[i%len(ks)]); err != nil || ok {
			b.Fatal(ok, err)
		}
	}
}
