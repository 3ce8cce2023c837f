package regionraft

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps regionraft below the layers that use it (STYLE.md).
func TestImports(t *testing.T) {
	forbidden := []string{"commands", "cluster", "pd", "resp", "acl", "mvcc/txn", "mvcc/engine/pebbleengine"}
	err := filepath.Walk(".", func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && path == filepath.Join("internal", "disktest") {
			return filepath.SkipDir // test-only package that runs us over Pebble
		}
		if info.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			for _, fb := range forbidden {
				if p == "github.com/skerrydb/skerry/"+fb || strings.HasPrefix(p, "github.com/skerrydb/skerry/"+fb+"/") {
					t.Errorf("%s imports %s", path, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
