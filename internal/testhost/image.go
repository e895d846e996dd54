//go:build integration

package testhost

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Every image is a Debian bookworm made by debootstrap (see Recipe).
const (
	suite   = "bookworm"
	variant = "minbase"
	// DeployUser is the non-root login; it has passwordless sudo, as the
	// program's deploy user has (its scripts run `sudo -n` when not root).
	DeployUser = "deploy"
	// deployUID is fixed so that the per-host authorized_keys can be owned by
	// the user without asking the image.
	deployUID = 1000
)

// packages are installed on top of minbase: systemd as init, the D-Bus that
// systemctl talks over, sshd, sudo, and procps (ps, pgrep) that scripts use.
var packages = []string{"dbus", "openssh-server", "procps", "sudo", "systemd", "systemd-sysv"}

// setupScript runs on this machine with the root file system as $1, the
// deploy user as $2 and its uid as $3.
const setupScript = `set -eu
r=$1 user=$2 uid=$3
chroot "$r" useradd --uid "$uid" --create-home --shell /bin/bash "$user"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" > "$r/etc/sudoers.d/$user"
chmod 0440 "$r/etc/sudoers.d/$user"
# Each host gets its own host key when it starts.
rm -f "$r"/etc/ssh/ssh_host_*
cat > "$r/etc/ssh/sshd_config.d/testhost.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
EOF
# An empty machine-id makes systemd create a new one per container.
: > "$r/etc/machine-id"
rm -f "$r/var/lib/dbus/machine-id"
# apt's timers would reach for the network; hosts here have none.
ln -sf /dev/null "$r/etc/systemd/system/apt-daily.timer"
ln -sf /dev/null "$r/etc/systemd/system/apt-daily-upgrade.timer"
rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
`

// mirrorEnv overrides the Debian mirror debootstrap downloads from.
const mirrorEnv = "AURIGRAPH_TESTHOST_MIRROR"

const defaultMirror = "http://deb.debian.org/debian"

// lockPath serialises image builds across test binaries: `go test ./...` runs
// packages in parallel processes, and only one of them should build.
const lockPath = "/tmp/aurigraph-testhost.lock"

// networkName is the bridge the hosts join. A network of our own, because the
// default bridge cannot be relied on (on this machine docker0 is missing and
// every container on it fails to start); masquerading is off so that nothing
// on it is routed off the machine.
const networkName = "aurigraph-testhost"

// Recipe is one locally built image: a Debian bookworm made by debootstrap
// with Packages (and what they depend on), then Setup, run on this machine
// with the root file system as $1 and the Args' values after it. Its command
// is /sbin/init (containers of other images name their own). Any change to a
// recipe changes its tag, so a stale image is never reused; an unchanged
// recipe reuses the image that is already there.
type Recipe struct {
	Name     string // the image's repository, e.g. aurigraph-testhost
	Packages []string
	Setup    string
	Args     []Arg
}

// Arg is one named argument of a recipe's Setup.
type Arg struct{ Name, Value string }

// hostRecipe is the systemd test hosts' image.
var hostRecipe = Recipe{
	Name: "aurigraph-testhost", Packages: packages, Setup: setupScript,
	Args: []Arg{{"user", DeployUser}, {"uid", strconv.Itoa(deployUID)}},
}

// Tag names the image for the recipe (the hosts' image keeps the tag it had
// before recipes: an image already built is reused).
func (r Recipe) Tag() string {
	h := sha256.New()
	pkgs := append([]string(nil), r.Packages...)
	sort.Strings(pkgs)
	fmt.Fprintf(h, "suite=%s\nvariant=%s\npackages=%s\n", suite, variant, strings.Join(pkgs, ","))
	for _, a := range r.Args {
		fmt.Fprintf(h, "%s=%s\n", a.Name, a.Value)
	}
	h.Write([]byte(r.Setup))
	return r.Name + ":" + hex.EncodeToString(h.Sum(nil))[:16]
}

// HostImage returns the test host image's tag, building it if this machine
// has never built its recipe: a Debian base (bash, coreutils) for
// containers a test runs with other settings than Start's.
func HostImage(t testing.TB) string {
	t.Helper()
	return prepare(t)
}

var (
	prepared   sync.Mutex
	preparedOK bool
	built      = map[string]bool{}
)

// Image makes sure the recipe's image exists, building it if this machine
// has never built this recipe, and returns its tag.
func Image(t testing.TB, r Recipe) string {
	t.Helper()
	tag := r.Tag()
	prepared.Lock()
	defer prepared.Unlock()
	if built[tag] {
		return tag
	}
	// Built already: no need to wait for the lock, which another recipe's
	// build (a services image, minutes of debootstrap) may hold.
	if _, err := docker("image", "inspect", "--format", "{{.Id}}", tag); err == nil {
		built[tag] = true
		return tag
	}
	unlock, err := lockFile(lockPath)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	defer unlock()
	if _, err := docker("image", "inspect", "--format", "{{.Id}}", tag); err != nil {
		start := time.Now()
		if err := buildImage(r, tag); err != nil {
			t.Fatalf("testhost: building image %s: %v", tag, err)
		}
		t.Logf("testhost: built image %s in %s", tag, time.Since(start).Round(time.Second))
	}
	built[tag] = true
	return tag
}

// prepare makes sure the hosts' image and the network exist.
func prepare(t testing.TB) string {
	t.Helper()
	tag := Image(t, hostRecipe)
	prepared.Lock()
	defer prepared.Unlock()
	if preparedOK {
		return tag
	}
	if _, err := docker("network", "inspect", "--format", "{{.Id}}", networkName); err != nil {
		if _, err := docker("network", "create", "--driver", "bridge",
			"--opt", "com.docker.network.bridge.enable_ip_masquerade=false",
			"--label", "aurigraph-testhost=1", networkName); err != nil {
			t.Fatalf("testhost: %v", err)
		}
	}
	preparedOK = true
	return tag
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// buildImage debootstraps the recipe into a temporary directory and imports
// it. Nothing is pulled: there is no registry to pull from.
func buildImage(r Recipe, tag string) error {
	for _, bin := range []string{"debootstrap", "chroot", "tar"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is required (.ci/install-deps installs it): %w", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "aurigraph-testhost-rootfs-")
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "root")
	defer removeRootfs(dir)
	mirror := defaultMirror
	if m := os.Getenv(mirrorEnv); m != "" {
		mirror = m
	}
	if out, err := exec.Command("debootstrap", "--variant="+variant, "--include="+strings.Join(r.Packages, ","),
		suite, root, mirror).CombinedOutput(); err != nil {
		return fmt.Errorf("debootstrap from %s (set %s for another mirror): %w\n%s", mirror, mirrorEnv, err, tail(out, 40))
	}
	argv := []string{"-c", r.Setup, "setup", root}
	for _, a := range r.Args {
		argv = append(argv, a.Value)
	}
	if out, err := exec.Command("sh", argv...).CombinedOutput(); err != nil {
		return fmt.Errorf("setup: %w\n%s", err, out)
	}
	tarCmd := exec.Command("tar", "--numeric-owner", "-C", root, "-c", ".")
	importCmd := exec.Command("docker", "import", "--change", `CMD ["/sbin/init"]`, "-", tag)
	pipe, err := tarCmd.StdoutPipe()
	if err != nil {
		return err
	}
	importCmd.Stdin = pipe
	var tarErr, importOut bytes.Buffer
	tarCmd.Stderr = &tarErr
	importCmd.Stdout, importCmd.Stderr = &importOut, &importOut
	if err := importCmd.Start(); err != nil {
		return err
	}
	if err := tarCmd.Run(); err != nil {
		_ = importCmd.Wait()
		return fmt.Errorf("tar: %w\n%s", err, tarErr.String())
	}
	if err := importCmd.Wait(); err != nil {
		return fmt.Errorf("docker import: %w\n%s", err, importOut.String())
	}
	return nil
}

// removeRootfs unmounts whatever a failed debootstrap left mounted inside the
// directory (it mounts /proc and /sys there) before deleting it, so that the
// delete never walks into this machine's /proc or /sys.
func removeRootfs(dir string) {
	if mounts, err := os.ReadFile("/proc/mounts"); err == nil {
		var inside []string
		for _, line := range strings.Split(string(mounts), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
				inside = append(inside, f[1])
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(inside)))
		for _, m := range inside {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	_ = os.RemoveAll(dir)
}

func tail(b []byte, lines int) string {
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
