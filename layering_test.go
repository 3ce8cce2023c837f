// Package skerry_test holds repository-wide checks.
package skerry_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// forbidden lists, per package directory prefix, the project packages it
// must never import (STYLE.md: imports point down the layer list).
var forbidden = map[string][]string{
	"resp":        {"github.com/skerrydb/skerry/"},
	"acl":         {"github.com/skerrydb/skerry/"},
	"mvcc":        {"/regionraft", "/cluster", "/commands", "/pd"},
	"regionraft":  {"/commands", "/cluster", "/pd"},
	"commands":    {"/regionraft", "/pd", "/mvcc/engine", "/cluster", "/mvcc/txn", "cockroachdb/pebble"},
	"pd/pdclient": {"/pd\"", "go.etcd.io/etcd"},
}

func TestLayering(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for prefix, bad := range forbidden {
			if dir != prefix && !strings.HasPrefix(dir, prefix+"/") {
				continue
			}
			for _, imp := range f.Imports {
				for _, b := range bad {
					if strings.Contains(imp.Path.Value+"\"", b) && !strings.HasPrefix(strings.Trim(imp.Path.Value, "\""), "github.com/skerrydb/skerry/"+dir) {
						t.Errorf("%s imports %s, which %s must not", path, imp.Path.Value, prefix)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
