package testserver

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// PostgresBin is the newest Debian PostgreSQL server's bin directory
// (initdb, postgres, pg_ctl): the tests that run a throwaway cluster start
// from it.
func PostgresBin(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	t.Fatal("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: apt-get install postgresql")
	return ""
}
