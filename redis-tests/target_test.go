package redistests

import (
	"testing"

	"github.com/skerrydb/skerry/cluster/clustertest"
)

// defaultTarget returns the address of the server the transcripts run
// against when no flag names one: an in-process Skerry node.
func defaultTarget(t testing.TB) (addr string, ok bool) {
	t.Helper()
	return clustertest.StartNode(t), true
}
