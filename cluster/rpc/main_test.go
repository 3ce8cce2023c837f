package rpc

import (
	"testing"
	"time"

	"github.com/skerrydb/skerry/internal/leakcheck"
)

// TestMain fails the run if a Client, Server or gRPC goroutine outlive the tests.
func TestMain(m *testing.M) {
	leakcheck.Main(m, 5*time.Second, "skerry/cluster/rpc.", "google.golang.org/grpc")
}
