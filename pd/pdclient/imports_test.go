package pdclient

import (
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestImportsStdlibOnly keeps pdclient a leaf: everything imports it, so it
// must import neither package pd nor etcd (nor any non-standard package but
// gRPC, its transport).
func TestImportsStdlibOnly(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(path, "google.golang.org/grpc") {
				continue
			}
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: pdclient may import only the standard library and gRPC", name, path)
			}
		}
	}
}
