package regionraft

import (
	"testing"
	"time"

	"github.com/skerrydb/skerry/internal/leakcheck"
)

// TestMain fails the run if a Store goroutine outlive the tests.
func TestMain(m *testing.M) {
	leakcheck.Main(m, 5*time.Second, "regionraft.(*Store).run", "regionraft.(*chanTransport)")
}
