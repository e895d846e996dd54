//go:build integration

package vault

import (
	"bytes"
	"crypto/rand"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/scripttest"
)

// fakeDocker answers inspect from $DOCKER_STATE (an empty line and an
// error without it, as docker does for an unknown container) and moves it on pause,
// unpause, stop and start, recording each call in $DOCKER_LOG.
const fakeDocker = `#!/bin/bash
echo "$*" >> "$DOCKER_LOG"
case $1 in
inspect) [[ -e $DOCKER_STATE ]] || { echo; exit 1; }; cat "$DOCKER_STATE" ;;
pause) echo paused > "$DOCKER_STATE" ;;
unpause | start) echo running > "$DOCKER_STATE" ;;
stop) echo exited > "$DOCKER_STATE" ;;
*) exit 2 ;;
esac
`

type rig struct {
	t                           *testing.T
	bin, data, backups, state   string
	dockerLog, textfiles, dir   string
	backupScript, restoreScript string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	scripttest.Need(t, "tar")
	dir := t.TempDir()
	r := &rig{t: t, dir: dir, bin: filepath.Join(dir, "bin"), data: filepath.Join(dir, "data"),
		backups: filepath.Join(dir, "backups"), state: filepath.Join(dir, "state"),
		dockerLog: filepath.Join(dir, "docker.log"), textfiles: filepath.Join(dir, "textfiles")}
	require.NoError(t, os.MkdirAll(r.bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(r.bin, "docker"), []byte(fakeDocker), 0o755))
	require.NoError(t, os.WriteFile(r.state, []byte("running\n"), 0o644))
	v := Backup("/srv/aurigraph/vault")
	var err error
	r.backupScript, err = RenderBackup(v)
	require.NoError(t, err)
	r.restoreScript, err = RenderRestore(v)
	require.NoError(t, err)
	writeVaultTree(t, r.data)
	return r
}

// writeVaultTree lays out a file backend as Vault does: directories of
// "_"-prefixed entries, 0700/0600, with random (ciphertext-like) content.
func writeVaultTree(t *testing.T, root string) {
	t.Helper()
	for _, p := range []string{"core/_keyring", "core/_master", "core/_seal-config", "sys/token/id/_h0a1b2",
		"sys/token/id/_h3c4d5", "logical/0f1e2d/_config", "logical/0f1e2d/data/app/_db", "sys/expire/id/database/creds/_x"} {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o700))
		b := make([]byte, 200+len(p)*37)
		_, _ = rand.Read(b)
		require.NoError(t, os.WriteFile(full, b, 0o600))
	}
	require.NoError(t, os.Chmod(root, 0o700))
}

func (r *rig) env(extra ...string) []string {
	return append(append(os.Environ(), "PATH="+r.bin+":"+os.Getenv("PATH"), "DATA_DIR="+r.data, "BACKUP_DIR="+r.backups,
		"DOCKER_STATE="+r.state, "DOCKER_LOG="+r.dockerLog, "TEXTFILE_DIR="+r.textfiles), extra...)
}

func (r *rig) run(script string, env []string, args ...string) (string, error) {
	r.t.Helper()
	cmd := exec.Command("bash", append([]string{"-c", script, "script"}, args...)...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r.t.Logf("%s", out.String())
	return out.String(), err
}

func (r *rig) dockerCalls() []string {
	b, err := os.ReadFile(r.dockerLog)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(r.t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (r *rig) snapshots() []string {
	m, err := filepath.Glob(filepath.Join(r.backups, "vault-*.tar"))
	require.NoError(r.t, err)
	return m
}

func (r *rig) metric(name string) string {
	b, err := os.ReadFile(filepath.Join(r.textfiles, "aurigraph-backup-vault-snapshot.prom"))
	require.NoError(r.t, err)
	m := regexp.MustCompile(`(?m)^` + name + `\{store="vault",kind="snapshot"\} (\S+)$`).FindStringSubmatch(string(b))
	require.NotNil(r.t, m, "%s in %s", name, b)
	return m[1]
}

// pauses are the docker calls that pause or unpause.
func pauses(calls []string) []string {
	var out []string
	for _, c := range calls {
		if strings.HasPrefix(c, "pause ") || strings.HasPrefix(c, "unpause ") {
			out = append(out, c)
		}
	}
	return out
}

type entry struct {
	mode    fs.FileMode
	uid     uint32
	content string
}

// tree is every file and directory under root, by relative path.
func tree(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	require.NoError(t, filepath.Walk(root, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		e := entry{mode: info.Mode(), uid: info.Sys().(*syscall.Stat_t).Uid}
		if !info.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.content = string(b)
		}
		out[rel] = e
		return nil
	}))
	return out
}

func withoutOwner(m map[string]entry) map[string]entry {
	out := map[string]entry{}
	for k, e := range m {
		e.uid = 0
		out[k] = e
	}
	return out
}

func TestIntegrationVaultScriptsPassShellcheck(t *testing.T) {
	r := newRig(t)
	scripttest.Shellcheck(t, "bash", "backup.sh", r.backupScript)
	scripttest.Shellcheck(t, "bash", "restore.sh", r.restoreScript)
}

func TestIntegrationVaultSnapshotPausesCopiesAndRestoresTheTreeByteForByte(t *testing.T) {
	r := newRig(t)
	before := tree(t, r.data)
	out, err := r.run(r.backupScript, r.env())
	require.NoError(t, err)

	assert.Equal(t, []string{"pause vault", "unpause vault"}, pauses(r.dockerCalls()), "paused once, unpaused once")
	assert.Equal(t, "running", strings.TrimSpace(readFile(t, r.state)))
	m := regexp.MustCompile(`vault paused (\d+) ms`).FindStringSubmatch(out)
	require.NotNil(t, m, "the pause is measured and logged")
	ms, _ := strconv.Atoi(m[1])
	t.Logf("measured pause for %d files: %d ms", len(before), ms)
	assert.Less(t, ms, 5000)

	snaps := r.snapshots()
	require.Len(t, snaps, 1)
	assert.Regexp(t, `/vault-\d{8}T\d{6}Z\.tar$`, snaps[0], "named with a UTC timestamp")
	assertMode(t, snaps[0], 0o600)
	assertMode(t, r.backups, 0o700)
	partial, _ := filepath.Glob(filepath.Join(r.backups, "*.partial"))
	assert.Empty(t, partial)
	assert.Equal(t, "1", r.metric("aurigraph_backup_last_run_success"))
	assert.Equal(t, "7200", r.metric("aurigraph_backup_max_age_seconds"))

	// Vault writes after the snapshot; the restore brings the snapshot's state back.
	require.NoError(t, os.WriteFile(filepath.Join(r.data, "core", "_keyring"), []byte("newer"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(r.data, "core", "_later"), []byte("later"), 0o600))

	_, err = r.run(r.restoreScript, r.env())
	require.Error(t, err, "Vault runs: no restore without RESTORE_CONFIRM=yes")
	assert.Equal(t, "newer", readFile(t, filepath.Join(r.data, "core", "_keyring")), "the refused restore touched nothing")
	assert.NotContains(t, r.dockerCalls(), "stop vault")

	_, err = r.run(r.restoreScript, r.env("RESTORE_CONFIRM=yes"))
	require.NoError(t, err)
	calls := r.dockerCalls()
	assert.Equal(t, []string{"stop vault", "start vault"}, calls[len(calls)-2:])
	after := tree(t, r.data)
	assert.Equal(t, withoutOwner(before), withoutOwner(after), "content, modes and layout as snapshotted")
	for p, e := range after {
		assert.Equal(t, uint32(UID), e.uid, "%s belongs to the vault user", p)
	}
	aside, _ := filepath.Glob(r.data + ".before-restore-*")
	require.Len(t, aside, 1, "the replaced data is kept aside")
	assert.Equal(t, "later", readFile(t, filepath.Join(aside[0], "core", "_later")))
	staging, _ := filepath.Glob(r.data + ".restoring-*")
	assert.Empty(t, staging)
}

func TestIntegrationVaultIsUnpausedWhenTheCopyFails(t *testing.T) {
	r := newRig(t)
	// A tar that hangs: the pause limit kills it.
	require.NoError(t, os.WriteFile(filepath.Join(r.bin, "tar"), []byte("#!/bin/sh\nexec sleep 30\n"), 0o755))
	start := time.Now()
	out, err := r.run(r.backupScript, r.env("PAUSE_LIMIT=1"))
	require.Error(t, err)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, []string{"pause vault", "unpause vault"}, pauses(r.dockerCalls()))
	assert.Equal(t, "running", strings.TrimSpace(readFile(t, r.state)))
	assert.Regexp(t, `vault paused \d+ ms`, out)
	assert.Empty(t, r.snapshots())
	partial, _ := filepath.Glob(filepath.Join(r.backups, "*.partial"))
	assert.Empty(t, partial, "no partial snapshot left")
	assert.Equal(t, "0", r.metric("aurigraph_backup_last_run_success"))
}

// SIGTERM at any moment of the pause (during docker pause, before or
// after the copy starts) ends the run unpaused, at once.
func TestIntegrationVaultIsUnpausedWhenTheRunIsKilled(t *testing.T) {
	for _, delay := range []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) { killedWhilePaused(t, delay) })
	}
}

func killedWhilePaused(t *testing.T, delay time.Duration) {
	r := newRig(t)
	require.NoError(t, os.WriteFile(filepath.Join(r.bin, "tar"), []byte("#!/bin/sh\nexec sleep 30\n"), 0o755))
	cmd := exec.Command("bash", "-c", r.backupScript)
	cmd.Env = r.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, removed at the end: when the signal comes as
	// the copy starts, the copy's sleep may outlive the run (systemd ends
	// the unit's whole cgroup; here bash alone is signalled), and Wait
	// must not wait for it to close the output.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	require.Eventually(t, func() bool { return strings.TrimSpace(readFile(t, r.state)) == "paused" }, 10*time.Second, time.Millisecond)
	time.Sleep(delay)
	// systemd stopping the unit; bash alone gets it here, so its trap must
	// not wait for the 30 s copy.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	start := time.Now()
	err := cmd.Wait()
	assert.Less(t, time.Since(start), 5*time.Second, "the run ends at once, not after the copy")
	t.Logf("%s", out.String())
	require.Error(t, err)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the script itself failed (not only its output held open)")
	assert.Equal(t, "running", strings.TrimSpace(readFile(t, r.state)), "unpaused on SIGTERM")
	assert.Equal(t, "0", r.metric("aurigraph_backup_last_run_success"))
}

func TestIntegrationVaultCopyRetriesAWriteInFlight(t *testing.T) {
	r := newRig(t)
	// An entry Vault has just truncated and not yet written.
	torn := filepath.Join(r.data, "sys", "token", "id", "_inflight")
	require.NoError(t, os.WriteFile(torn, nil, 0o600))
	out, err := r.run(r.backupScript, r.env("ATTEMPTS=2", "RETRY_SECONDS=0"))
	require.Error(t, err)
	assert.Contains(t, out, "a write was in flight")
	assert.Equal(t, []string{"pause vault", "unpause vault", "pause vault", "unpause vault"}, pauses(r.dockerCalls()))
	assert.Empty(t, r.snapshots())

	// An empty file left over long ago is not a write in flight.
	old := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(torn, old, old))
	_, err = r.run(r.backupScript, r.env())
	require.NoError(t, err)
	assert.Len(t, r.snapshots(), 1)
}

func TestIntegrationVaultSnapshotsRotateAndAStoppedVaultIsNotPaused(t *testing.T) {
	r := newRig(t)
	require.NoError(t, os.WriteFile(r.state, []byte("exited\n"), 0o644))
	require.NoError(t, os.MkdirAll(r.backups, 0o700))
	for _, ts := range []string{"20240101T000000Z", "20240101T010000Z", "20240101T020000Z"} {
		require.NoError(t, os.WriteFile(filepath.Join(r.backups, "vault-"+ts+".tar"), []byte("old"), 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(r.backups, "notes.txt"), []byte("mine"), 0o600))
	_, err := r.run(r.backupScript, r.env("KEEP=2"))
	require.NoError(t, err)
	assert.Empty(t, pauses(r.dockerCalls()), "nothing to pause")
	snaps := r.snapshots()
	require.Len(t, snaps, 2)
	assert.Equal(t, "vault-20240101T020000Z.tar", filepath.Base(snaps[0]))
	assert.FileExists(t, filepath.Join(r.backups, "notes.txt"), "rotation deletes snapshots only")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func assertMode(t *testing.T, p string, mode fs.FileMode) {
	t.Helper()
	info, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, mode, info.Mode().Perm(), p)
}
