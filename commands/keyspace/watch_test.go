package keyspace_test

import (
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
)

func TestKeyVersionModifiedSince(t *testing.T) {
	live := func(ts uint64) keyspace.KeyVersion {
		return keyspace.KeyVersion{CommitTS: ts, Exists: true, Live: true}
	}
	for _, tc := range []struct {
		name         string
		watched, now keyspace.KeyVersion
		want         bool
	}{
		{"unchanged", live(5), live(5), false},
		{"rewritten", live(5), live(7), true},
		{"deleted", live(5), keyspace.KeyVersion{CommitTS: 7}, true},
		{"created", keyspace.KeyVersion{}, live(7), true},
		{"never existed", keyspace.KeyVersion{}, keyspace.KeyVersion{}, false},
		{"deletion collected by GC", keyspace.KeyVersion{CommitTS: 5}, keyspace.KeyVersion{}, false},
		{"deleted again", keyspace.KeyVersion{CommitTS: 5}, keyspace.KeyVersion{CommitTS: 9}, true},
		{"expired value deleted", keyspace.KeyVersion{CommitTS: 5, Exists: true}, keyspace.KeyVersion{CommitTS: 9}, false},
		{"expired since", live(5), keyspace.KeyVersion{CommitTS: 5, Exists: true}, true},
	} {
		if got := tc.watched.ModifiedSince(tc.now); got != tc.want {
			t.Errorf("%s: ModifiedSince = %v, want %v", tc.name, got, tc.want)
		}
	}
}
