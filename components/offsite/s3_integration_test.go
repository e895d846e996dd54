//go:build integration

package offsite

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/internal/scripttest"
)

const (
	testKeyID  = "AKIAAURIGRAPHTEST01"
	testSecret = "integration-only/secret+access+key0123456"
	testBucket = "aurigraph-backups"
)

// fakeS3 is an S3 API on 127.0.0.1 (gofakes3, in memory) that, like a real
// one, refuses every request not signed (AWS Signature V4) with the one
// key pair: gofakes3 itself checks no signature.
type fakeS3 struct {
	URL     string
	backend *s3mem.Backend
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	srv := httptest.NewServer(requireSigV4(t, gofakes3.New(backend).Server(), testKeyID, testSecret))
	t.Cleanup(srv.Close)
	return &fakeS3{URL: srv.URL, backend: backend}
}

// objects are the bucket's objects under prefix: key -> content.
func (f *fakeS3) objects(t *testing.T, prefix string) map[string][]byte {
	t.Helper()
	list, err := f.backend.ListBucket(testBucket, &gofakes3.Prefix{Prefix: prefix, HasPrefix: true}, gofakes3.ListBucketPage{})
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, c := range list.Contents {
		obj, err := f.backend.GetObject(testBucket, c.Key, nil)
		require.NoError(t, err)
		b, err := io.ReadAll(obj.Contents)
		require.NoError(t, err)
		require.NoError(t, obj.Contents.Close())
		out[c.Key] = b
	}
	return out
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)

// requireSigV4 passes only requests whose Authorization header is a valid
// Signature V4 of the key pair (the payload hash is taken as declared):
// a wrong secret key gets 403 SignatureDoesNotMatch, as from S3.
func requireSigV4(t *testing.T, next http.Handler, keyID, secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil || m[1] != keyID {
			deny(w, "InvalidAccessKeyId")
			return
		}
		day, region, signed, sig := m[2], m[3], strings.Split(m[4], ";"), m[5]
		var headers strings.Builder
		for _, h := range signed {
			v := r.Header.Get(h)
			switch h {
			case "host":
				v = r.Host
			case "content-length":
				v = strconv.FormatInt(r.ContentLength, 10)
			}
			fmt.Fprintf(&headers, "%s:%s\n", h, strings.Join(strings.Fields(v), " "))
		}
		canonical := strings.Join([]string{r.Method, r.URL.EscapedPath(),
			strings.ReplaceAll(r.URL.Query().Encode(), "+", "%20"), headers.String(), m[4],
			r.Header.Get("X-Amz-Content-Sha256")}, "\n")
		sum := sha256.Sum256([]byte(canonical))
		toSign := strings.Join([]string{"AWS4-HMAC-SHA256", r.Header.Get("X-Amz-Date"),
			day + "/" + region + "/s3/aws4_request", hex.EncodeToString(sum[:])}, "\n")
		key := []byte("AWS4" + secret)
		for _, part := range []string{day, region, "s3", "aws4_request"} {
			key = hmacSHA256(key, part)
		}
		if !hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(key, toSign))), []byte(sig)) {
			deny(w, "SignatureDoesNotMatch")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func deny(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s: denied by the test server</Message></Error>`, code, code)
}

func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustRun(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, env, name, args...)
	require.NoError(t, err, "%s %v:\n%s", name, args, out)
	return out
}

// s3Store renders a store's offsite.sh for the fake bucket alone, its
// state (the password and the keys, as configfile writes them) in a
// temporary directory.
func s3Store(t *testing.T, f *fakeS3, store string, paths ...string) (script, state string, v Values) {
	t.Helper()
	state = t.TempDir()
	for name, content := range map[string]string{PasswordFile: "integration-only-password\n",
		S3AccessKeyIDFile: testKeyID + "\n", S3SecretAccessKeyFile: testSecret + "\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(state, name), []byte(content), 0o600))
	}
	a := Args{Source: backupjob.Source{Store: store, Paths: paths}, Dir: "/srv/aurigraph/backups",
		S3:        S3{Endpoint: f.URL, Bucket: testBucket, Prefix: "aurigraph-prod"},
		Retention: Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12}}
	v = a.Values()
	v.StateDir = state
	text, err := RenderScript(v)
	require.NoError(t, err)
	scripttest.Shellcheck(t, "bash", "offsite.sh (s3)", text)
	script = filepath.Join(t.TempDir(), "offsite.sh")
	require.NoError(t, os.WriteFile(script, []byte(text), 0o755))
	return script, state, v
}

// metric reads a job's record: the last run's outcome and last success.
func metric(t *testing.T, dir, store, kind, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "aurigraph-backup-"+store+"-"+kind+".prom"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + name + `\{[^}]*\} (\S+)$`).FindStringSubmatch(string(b))
	require.NotNil(t, m, "%s in %s", name, b)
	return m[1]
}

// TestIntegrationS3Copies runs the rendered offsite.sh against an S3 API:
// the copy is encrypted before it leaves (no plaintext in the bucket),
// restores byte for byte, checks, and a wrong secret key fails the copy
// and records the failure under the S3 target's own kind.
func TestIntegrationS3Copies(t *testing.T) {
	scripttest.Need(t, "restic")
	textfiles := t.TempDir()
	f := newFakeS3(t)
	src := t.TempDir()
	marker := "AURIGRAPH-PLAINTEXT-MARKER-5f1e"
	random := make([]byte, 3<<20)
	_, err := rand.Read(random)
	require.NoError(t, err)
	files := map[string][]byte{
		"base/base.tar":            append(bytes.Repeat([]byte(marker+" row\n"), 20000), random...),
		"wal/000000010000000000A1": bytes.Repeat([]byte(marker), 4096),
		"dump.sql":                 []byte("-- " + marker + "\nCREATE TABLE t ();\n"),
	}
	for name, content := range files {
		p := filepath.Join(src, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, content, 0o600))
	}
	script, state, v := s3Store(t, f, "postgres", src)
	env := []string{"TEXTFILE_DIR=" + textfiles, "STATE_DIR=" + state}

	out := mustRun(t, env, "bash", script, "s3", "copy")
	assert.Contains(t, out, "offsite copy ok (s3)")
	assert.Contains(t, out, v.S3Repository())
	assert.Equal(t, "1", metric(t, textfiles, "postgres", "s3-copy", backupjob.RunMetric))
	assert.NoFileExists(t, filepath.Join(textfiles, "aurigraph-backup-postgres-offsite-copy.prom"), "the SFTP target's records are its own")
	// The default target (the only one) copies again: deduplicated.
	mustRun(t, env, "bash", script, "copy")

	objects := f.objects(t, "aurigraph-prod/postgres/")
	require.NotEmpty(t, objects)
	var stored int
	for key, content := range objects {
		stored += len(content)
		assert.False(t, bytes.Contains(content, []byte(marker)), "%s holds plaintext", key)
		assert.False(t, bytes.Contains(content, random[:64]), "%s holds plaintext", key)
	}
	assert.Contains(t, objects, "aurigraph-prod/postgres/config", "the store's repository is <prefix>/<store>")
	t.Logf("MEASURED s3 copy: %d objects, %d bytes stored for %d bytes of source", len(objects), stored,
		len(files["base/base.tar"])+len(files["wal/000000010000000000A1"])+len(files["dump.sql"]))

	snaps := mustRun(t, env, "bash", script, "s3", "snapshots")
	assert.Equal(t, 2, strings.Count(snaps, v.Tag), snaps)
	restored := t.TempDir()
	assert.Contains(t, mustRun(t, env, "bash", script, "s3", "restore", restored), "offsite restore ok (s3)")
	for name, content := range files {
		got, err := os.ReadFile(filepath.Join(restored, src, name))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(content, got), "%s restores byte for byte", name)
	}

	assert.Contains(t, mustRun(t, env, "bash", script, "s3", "check"), "offsite check ok (s3)")
	assert.Equal(t, "1", metric(t, textfiles, "postgres", "s3-check", backupjob.RunMetric))

	// A target that is not configured is refused, not silently the other.
	out, err = run(t, env, "bash", script, "sftp", "snapshots")
	require.Error(t, err)
	assert.Contains(t, out, "unknown target sftp")

	// A wrong secret key: S3 refuses the signature, the copy fails and says
	// so in its own record (run 0, the last success kept).
	lastOK := metric(t, textfiles, "postgres", "s3-copy", backupjob.SuccessMetric)
	require.NoError(t, os.WriteFile(filepath.Join(state, S3SecretAccessKeyFile), []byte("not-the-secret-key-at-all-000000000000000"), 0o600))
	out, err = run(t, env, "bash", script, "s3", "copy")
	require.Error(t, err, out)
	assert.Contains(t, out, "SignatureDoesNotMatch")
	assert.NotContains(t, out, "not-the-secret-key", "the key stays out of the log")
	assert.Equal(t, "0", metric(t, textfiles, "postgres", "s3-copy", backupjob.RunMetric))
	assert.Equal(t, lastOK, metric(t, textfiles, "postgres", "s3-copy", backupjob.SuccessMetric))
	assert.Len(t, f.objects(t, "aurigraph-prod/postgres/snapshots/"), 2, "nothing new was written")
}

// keptByPolicy is restic's --keep-hourly/daily/weekly/monthly, written
// independently: newest first, each class keeps the newest snapshot of
// each of its n most recent periods that hold one.
func keptByPolicy(times []time.Time, h, d, w, m int) map[string]bool {
	sorted := append([]time.Time{}, times...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].After(sorted[j]) })
	keep := map[string]bool{}
	for _, c := range []struct {
		n   int
		key func(time.Time) string
	}{
		{h, func(t time.Time) string { return t.Format("2006010215") }},
		{d, func(t time.Time) string { return t.Format("20060102") }},
		{w, func(t time.Time) string { y, wk := t.ISOWeek(); return fmt.Sprintf("%d-%d", y, wk) }},
		{m, func(t time.Time) string { return t.Format("200601") }},
	} {
		seen := map[string]bool{}
		for _, ts := range sorted {
			if len(seen) >= c.n {
				break
			}
			if k := c.key(ts); !seen[k] {
				seen[k] = true
				keep[ts.Format(time.RFC3339)] = true
			}
		}
	}
	return keep
}

// TestIntegrationS3Retention runs the rendered offsite.sh forget on an S3
// repository of snapshots with fabricated times (restic backup --time) and
// compares what restic keeps with keptByPolicy; then the pruned repository
// checks clean.
func TestIntegrationS3Retention(t *testing.T) {
	scripttest.Need(t, "restic")
	textfiles := t.TempDir()
	f := newFakeS3(t)
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "dump"), []byte("rows"), 0o600))
	script, state, v := s3Store(t, f, "redis", src)
	env := []string{"TEXTFILE_DIR=" + textfiles, "STATE_DIR=" + state, "TZ=UTC"}
	restic := append(env, "RESTIC_REPOSITORY="+v.S3Repository(), "RESTIC_PASSWORD_FILE="+filepath.Join(state, PasswordFile),
		"RESTIC_CACHE_DIR="+filepath.Join(state, "cache"), "AWS_ACCESS_KEY_ID="+testKeyID, "AWS_SECRET_ACCESS_KEY="+testSecret)
	mustRun(t, restic, "restic", "init")

	// Each class has more periods than it keeps: every 70 min for 30 h
	// (hours), every 2 days for 40 days (days, weeks), every 15 days for
	// 15 months (months).
	end := time.Date(2026, 3, 14, 22, 41, 9, 0, time.UTC)
	var times []time.Time
	for ts := end; ts.After(end.AddDate(0, -15, 0)); {
		times = append(times, ts)
		switch age := end.Sub(ts); {
		case age < 30*time.Hour:
			ts = ts.Add(-70 * time.Minute)
		case age < 40*24*time.Hour:
			ts = ts.Add(-48 * time.Hour)
		default:
			ts = ts.Add(-15 * 24 * time.Hour)
		}
	}
	for _, ts := range times {
		mustRun(t, restic, "restic", "backup", "--quiet", "--tag", v.Tag, "--host", "data-01", "--time", ts.Format("2006-01-02 15:04:05"), src)
	}
	want := keptByPolicy(times, v.KeepHourly, v.KeepDaily, v.KeepWeekly, v.KeepMonthly)

	assert.Contains(t, mustRun(t, env, "bash", script, "s3", "forget"), "offsite retention ok (s3)")
	assert.Equal(t, "1", metric(t, textfiles, "redis", "s3-forget", backupjob.RunMetric))
	var snaps []struct {
		Time time.Time `json:"time"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, restic, "restic", "snapshots", "--json", "--quiet")), &snaps))
	got := map[string]bool{}
	for _, s := range snaps {
		got[s.Time.UTC().Format(time.RFC3339)] = true
	}
	assert.Equal(t, want, got)
	assert.Less(t, len(got), len(times))
	t.Logf("MEASURED s3 retention 24/7/4/12: %d snapshots -> %d kept", len(times), len(got))
	assert.Len(t, f.objects(t, "aurigraph-prod/redis/snapshots/"), len(want), "forgotten snapshots leave the bucket")
	assert.Contains(t, mustRun(t, env, "bash", script, "s3", "check"), "offsite check ok (s3)")
}

// Every shape of offsite.sh (SFTP, S3, both; with and without a region)
// passes shellcheck.
func TestIntegrationRenderedScriptsPassShellcheck(t *testing.T) {
	sftp := SFTP{Host: "192.0.2.51", Port: 2222, User: "backup", Path: "/srv/restic/prod", HostKey: "ssh-ed25519 AAAA"}
	for name, a := range map[string]Args{
		"sftp":        {Target: sftp},
		"s3":          {S3: S3{Endpoint: "https://s3.example.net", Bucket: "aurigraph-backups"}},
		"both+region": {Target: sftp, S3: S3{Endpoint: "https://s3.example.net:9000", Bucket: "aurigraph-backups", Prefix: "prod/eu", Region: "eu-central-1"}},
	} {
		a.Source = backupjob.Source{Store: "redis", Paths: []string{"/srv/aurigraph/redis/backups", "/srv/aurigraph/redis/aof"}}
		a.Dir, a.Retention = "/srv/aurigraph/backups", Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12}
		text, err := RenderScript(a.Values())
		require.NoError(t, err, name)
		scripttest.Shellcheck(t, "bash", "offsite.sh ("+name+")", text)
	}
}

// With both targets the script still reaches the bucket alone: `s3 copy`
// needs neither the SFTP host (unreachable here) nor its key, and records
// only s3-copy.
func TestIntegrationBothTargetsS3Alone(t *testing.T) {
	scripttest.Need(t, "restic")
	textfiles := t.TempDir()
	f := newFakeS3(t)
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "dump"), []byte("rows"), 0o600))
	_, state, v := s3Store(t, f, "vault", src)
	v.SFTP = SFTP{Host: "192.0.2.1", Port: 22, User: "backup", Path: "/srv/restic/prod/vault", HostKey: "ssh-ed25519 AAAA"}
	text, err := RenderScript(v)
	require.NoError(t, err)
	script := filepath.Join(t.TempDir(), "offsite.sh")
	require.NoError(t, os.WriteFile(script, []byte(text), 0o755))
	env := []string{"TEXTFILE_DIR=" + textfiles, "STATE_DIR=" + state}

	assert.Contains(t, mustRun(t, env, "bash", script, "s3", "copy"), "offsite copy ok (s3)")
	assert.Contains(t, mustRun(t, append(env, "OFFSITE_TARGET=s3"), "bash", script, "snapshots"), v.Tag, "the variable picks the bucket too")
	assert.Equal(t, "1", metric(t, textfiles, "vault", "s3-copy", backupjob.RunMetric))
	assert.NoFileExists(t, filepath.Join(textfiles, "aurigraph-backup-vault-offsite-copy.prom"))
	assert.NoFileExists(t, filepath.Join(state, "ssh-key"))
	assert.NotEmpty(t, f.objects(t, "aurigraph-prod/vault/snapshots/"))
}
