package pd

import (
	"testing"
	"time"

	"github.com/skerrydb/skerry/internal/leakcheck"
)

// TestMain fails the run if goroutines of this package or of the embedded etcd server (Close must stop everything Start began) outlive the tests.
func TestMain(m *testing.M) {
	leakcheck.Main(m, 10*time.Second, "skerry/pd.", "etcd/server/v3/etcdserver.", "etcd/server/v3/embed.")
}
