package keys

import (
	"bytes"
	"testing"
)

// The allocation-free helpers agree with the allocating originals.
func TestAppendHelpersMatch(t *testing.T) {
	userKeys := [][]byte{{}, []byte("a"), {0}, {0, 0, 0xFF, 0}, []byte("key\x00with\x00zeros"), MemberKey(3, []byte("k\x00"), 42, []byte{0, 1, 0xFF})}
	buf := []byte("junk")
	for _, uk := range userKeys {
		for _, ts := range []uint64{0, 1, 1 << 40, ^uint64(0)} {
			wk := WriteKey(uk, ts)
			got, gotTS, err := AppendDecodeWriteKey(buf[:0], wk)
			if err != nil || !bytes.Equal(got, uk) || gotTS != ts {
				t.Fatalf("AppendDecodeWriteKey(%x) = %x, %d, %v; want %x, %d", wk, got, gotTS, err, uk, ts)
			}
			buf = got
			prefix := WriteKeyVersionless(uk)
			if cts, err := WriteKeyTS(wk, prefix); err != nil || cts != ts {
				t.Fatalf("WriteKeyTS = %d, %v; want %d", cts, err, ts)
			}
			lower, upper, p := AppendWriteKeyBounds([]byte("pre"), uk, ts)
			if !bytes.Equal(lower, wk) || !bytes.Equal(upper, PrefixEnd(prefix)) || !bytes.Equal(p, prefix) {
				t.Fatalf("AppendWriteKeyBounds(%x, %d) = %x %x %x", uk, ts, lower, upper, p)
			}
			// The three results do not overlap: appending to one leaves the others intact.
			_ = append(p, 0xAA)
			_ = append(upper, 0xBB)
			if !bytes.Equal(lower, wk) || !bytes.Equal(upper, PrefixEnd(prefix)) {
				t.Fatal("AppendWriteKeyBounds results share capacity")
			}
		}
	}
	if _, err := WriteKeyTS(WriteKey([]byte("ab"), 5), WriteKeyVersionless([]byte("a"))); err == nil {
		t.Fatal("WriteKeyTS accepted a version of another key")
	}
	for _, bad := range [][]byte{nil, {writePrefix}, {writePrefix, 'a', escape}, {writePrefix, 'a', escape, 7, 0, 0, 0, 0, 0, 0, 0, 0}, append(WriteKey([]byte("a"), 1), 0)} {
		if _, _, err := AppendDecodeWriteKey(nil, bad); err == nil {
			t.Fatalf("AppendDecodeWriteKey(%x) succeeded", bad)
		}
	}
}
