// Command pin resolves every image tag of a stack file to the digest its
// registry serves now and writes name:tag@sha256:… back into the file in
// place: `make pin STACK=prod`. Run it again to follow a tag that moved;
// when nothing moved the file stays byte for byte the same.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aurigraph/infra/internal/pin"
	"github.com/aurigraph/infra/stacks"
)

// overrides collects repeated -registry-override flags.
type overrides map[string]string

func (o overrides) String() string { return fmt.Sprint(map[string]string(o)) }

func (o overrides) Set(s string) error {
	host, base, err := pin.ParseOverride(s)
	if err != nil {
		return err
	}
	o[host] = base
	return nil
}

// OverrideEnv holds overrides too (space-separated registry=URL), for CI.
const OverrideEnv = "PIN_REGISTRY_OVERRIDE"

func main() {
	stack := flag.String("stack", "", "stack name (pins Pulumi.<stack>.yaml)")
	dir := flag.String("dir", ".", "project directory (holds the stack files)")
	ov := overrides{}
	flag.Var(ov, "registry-override", "registry=URL: ask URL for that registry's images, e.g. docker.io=http://127.0.0.1:5000 (repeatable; also $"+OverrideEnv+")")
	dryRun := flag.Bool("dry-run", false, "print what would change, write nothing")
	flag.Parse()
	os.Exit(run(os.Stdout, os.Stderr, *dir, *stack, ov, *dryRun))
}

func run(stdout, stderr io.Writer, dir, stack string, ov overrides, dryRun bool) int {
	if stack == "" {
		fmt.Fprintln(stderr, "pin: -stack is required (make pin STACK=prod)")
		return 2
	}
	for _, s := range strings.Fields(os.Getenv(OverrideEnv)) {
		host, base, err := pin.ParseOverride(s)
		if err != nil {
			fmt.Fprintf(stderr, "pin: $%s: %v\n", OverrideEnv, err)
			return 2
		}
		if _, set := ov[host]; !set { // a flag wins over the environment
			ov[host] = base
		}
	}
	file := filepath.Join(dir, "Pulumi."+stack+".yaml")
	raw, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(stderr, "pin:", err)
		return 2
	}
	res := &pin.Resolver{Client: &http.Client{Timeout: 30 * time.Second}, Overrides: ov}
	out, changes, err := pin.Pin(context.Background(), raw, stacks.Namespace, res.Resolve)
	if err != nil {
		fmt.Fprintf(stderr, "pin: %s: %v\n", file, err)
		return 1
	}
	n := 0
	for _, c := range changes {
		if c.Changed() {
			n++
			fmt.Fprintf(stdout, "%s: %s -> %s\n", c.Key, c.Old, c.New)
		} else {
			fmt.Fprintf(stdout, "%s: %s (unchanged)\n", c.Key, c.Old)
		}
	}
	switch {
	case n == 0:
		fmt.Fprintf(stdout, "%s: every image already pinned to its tag's current digest\n", file)
	case dryRun:
		fmt.Fprintf(stdout, "%s: %d image(s) would change (dry run, nothing written)\n", file, n)
	default:
		info, err := os.Stat(file)
		if err != nil {
			fmt.Fprintln(stderr, "pin:", err)
			return 2
		}
		if err := writeAtomic(file, out, info.Mode().Perm()); err != nil {
			fmt.Fprintln(stderr, "pin:", err)
			return 2
		}
		fmt.Fprintf(stdout, "%s: pinned %d image(s); review with git diff, then `make plan STACK=%s`\n", file, n, stack)
	}
	return 0
}

// writeAtomic replaces file in one rename: an interrupted pin leaves the old
// stack file, never half of a new one.
func writeAtomic(file string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".pin-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
