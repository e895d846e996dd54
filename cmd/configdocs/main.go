// Command configdocs writes the configuration reference from the typed
// config (internal/configdoc): docs/configuration.md and the descriptions
// of Pulumi.yaml's config keys; and the trust-zone matrix from the zone
// table (internal/zones): docs/network-zones.md. `make docs` runs it; a
// test fails when any of them differs from what it writes.
//
//	go run ./cmd/configdocs [-dir .]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/aurigraph/infra/internal/configdoc"
)

func main() {
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml")
	flag.Parse()
	files, err := configdoc.Generate(*dir)
	if err != nil {
		fail(err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		content := files[name]
		path := filepath.Join(*dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			fail(err)
		}
		fmt.Println("wrote", name)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "configdocs:", err)
	os.Exit(1)
}
