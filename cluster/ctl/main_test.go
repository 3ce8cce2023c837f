package ctl

import (
	"testing"
	"time"

	"github.com/skerrydb/skerry/internal/leakcheck"
)

// TestMain fails the run if goroutines of this package, of the PD client or of the test's PD outlive the tests.
func TestMain(m *testing.M) {
	leakcheck.Main(m, 10*time.Second, "skerry/cluster/ctl.", "skerry/pd/pdclient.", "skerry/pd.", "etcd/server/v3/etcdserver.", "etcd/server/v3/embed.")
}
