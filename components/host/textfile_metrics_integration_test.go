//go:build integration

package host

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/shell"
)

// installScript writes a textfile script into dir as the host has it and
// holds it to shellcheck, as the existing scripts are.
func installScript(t *testing.T, dir, name, content string) string {
	t.Helper()
	script := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(script, []byte(content), 0o755))
	out, err := exec.Command(need(t, "shellcheck"), "-s", "bash", script).CombinedOutput()
	assert.NoError(t, err, "%s", out)
	return script
}

// samples reads a textfile: metric{labels} → value, checked by promtool
// (Prometheus's own parser and linter) first.
func samples(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "node exporter reads it as its own user")
	check := exec.Command(need(t, "promtool"), "check", "metrics")
	check.Stdin = strings.NewReader(string(b))
	out, err := check.CombinedOutput()
	assert.NoError(t, err, "%s\n%s", out, b)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, line)
		got[line[:i]] = line[i+1:]
	}
	return got
}

// selfSigned writes a certificate valid for days with openssl, its key
// beside it, and returns the notAfter openssl wrote, in Unix seconds.
func selfSigned(t *testing.T, certPath string, days int) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(certPath), 0o755))
	key := strings.TrimSuffix(certPath, filepath.Ext(certPath)) + ".key"
	out, err := exec.Command(need(t, "openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-out", certPath, "-days", strconv.Itoa(days), "-subj", "/CN=test").CombinedOutput()
	require.NoError(t, err, "%s", out)
	b, err := os.ReadFile(certPath)
	require.NoError(t, err)
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk)
	c, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	return strconv.FormatInt(c.NotAfter.Unix(), 10)
}

func TestIntegrationCertMetricsScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := installScript(t, dir, "cert-metrics", CertMetricsScript)

	root := filepath.Join(dir, "srv", "aurigraph")
	edge := filepath.Join(root, "nginx", "tls", "edge.crt")
	vault := filepath.Join(root, "vault", "tls", "vault.crt")
	grafanaCA := filepath.Join(root, "grafana", "ca.pem")
	want := map[string]string{
		CertExpiryMetric + `{path="` + edge + `"}`:      selfSigned(t, edge, 10),
		CertExpiryMetric + `{path="` + vault + `"}`:     selfSigned(t, vault, 400),
		CertExpiryMetric + `{path="` + grafanaCA + `"}`: selfSigned(t, grafanaCA, 3650),
	}
	// Not read: a certificate inside a data directory (pruned), a path with
	// characters a label would need escaped (reported), a file that claims a
	// certificate but holds none (reported); keys never match *.crt/*.pem.
	selfSigned(t, filepath.Join(root, "elasticsearch", "data", "stray.crt"), 1)
	selfSigned(t, filepath.Join(root, "kibana", "certs", `we"ird.crt`), 1)
	bogus := filepath.Join(root, "logstash", "certs", "broken.crt")
	require.NoError(t, os.MkdirAll(filepath.Dir(bogus), 0o755))
	require.NoError(t, os.WriteFile(bogus, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o644))

	textfiles := filepath.Join(dir, "node-exporter")
	run := func() (string, error) {
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(), "CERT_ROOT="+root, "TEXTFILE_DIR="+textfiles)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	output, err := run()
	require.NoError(t, err, output)
	assert.Contains(t, output, `we"ird.crt: unusual characters in its path`)
	assert.Contains(t, output, "broken.crt: not a readable certificate")
	prom := filepath.Join(textfiles, "aurigraph-certificates.prom")
	assert.Equal(t, want, samples(t, prom))
	first, err := os.ReadFile(prom)
	require.NoError(t, err)
	_, err = run()
	require.NoError(t, err)
	again, err := os.ReadFile(prom)
	require.NoError(t, err)
	assert.Equal(t, string(first), string(again), "same certificates, same bytes")
	assert.Equal(t, []string{"aurigraph-certificates.prom"}, dirNames(t, textfiles), "no temporary file left behind")

	// A renewed certificate shows its new expiry at the next run.
	want[CertExpiryMetric+`{path="`+edge+`"}`] = selfSigned(t, edge, 90)
	_, err = run()
	require.NoError(t, err)
	assert.Equal(t, want, samples(t, prom))
}

// fakeContainers puts a `docker` on PATH whose inspect knows the containers
// named by files running-<name> and whose exec runs the command here, with
// the container's password file at $state/password and a fake curl that records its
// arguments and stdin and answers from files es-health / ls-events.
func fakeContainers(t *testing.T, password string) (bin, state string) {
	t.Helper()
	state = t.TempDir()
	bin = filepath.Join(state, "bin")
	cbin := filepath.Join(state, "cbin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.MkdirAll(cbin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(state, "password"), []byte(password), 0o600))
	q := shell.Quote(state)
	docker := `#!/bin/sh
state=` + q + `
case "$1" in
inspect)
  [ "$2 $3" = "--format {{.Id}}" ] || { echo "unexpected: $*" >&2; exit 2; }
  [ -e "$state/running-$4" ] || { echo "Error: No such object: $4" >&2; exit 1; }
  echo 0123abcd
  ;;
exec)
  name=$2
  shift 2
  [ -e "$state/running-$name" ] || exit 1
  PATH="$state/cbin:$PATH" exec "$@"
  ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
`
	curl := `#!/bin/sh
state=` + q + `
printf '%s\n' "$*" >>"$state/curl-args"
for a; do url=$a; done
case "$url" in
*/_cluster/health)
  cat >"$state/curl-stdin"
  [ -e "$state/es-health" ] || exit 22
  cat "$state/es-health"
  ;;
*/_node/stats/events)
  [ -e "$state/ls-events" ] || exit 7
  cat "$state/ls-events"
  ;;
*) exit 3 ;;
esac
`
	require.NoError(t, os.WriteFile(filepath.Join(bin, "docker"), []byte(docker), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(cbin, "curl"), []byte(curl), 0o755))
	return bin, state
}

func TestIntegrationLoggingMetricsScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := installScript(t, dir, "logging-metrics", LoggingMetricsScript)

	password := `pa"ss\word`
	bin, state := fakeContainers(t, password)
	textfiles := filepath.Join(dir, "node-exporter")
	probe := []string{"ES_CONTAINER=elasticsearch", "ES_URL=https://localhost:9200", "ES_CA=/usr/share/elasticsearch/config/certs/ca.crt",
		"ES_PASSWORD_FILE=" + filepath.Join(state, "password"), "LOGSTASH_CONTAINER=logstash", "LOGSTASH_API=http://127.0.0.1:9600"}
	run := func(env ...string) (string, error) {
		cmd := exec.Command("bash", script)
		cmd.Env = append(append(os.Environ(), "TEXTFILE_DIR="+textfiles, "PATH="+bin+":"+os.Getenv("PATH")), env...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	prom := filepath.Join(textfiles, "aurigraph-logging.prom")
	file := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(state, name), []byte(content), 0o644))
	}
	health := func(green, yellow, red string) map[string]string {
		return map[string]string{
			ElasticsearchHealthMetric + `{color="green"}`: green, ElasticsearchHealthMetric + `{color="yellow"}`: yellow,
			ElasticsearchHealthMetric + `{color="red"}`: red,
		}
	}

	// Neither container on this host: an empty file (no samples), no error.
	output, err := run(probe...)
	require.NoError(t, err, output)
	assert.Empty(t, samples(t, prom))

	// Both here and answering.
	file("running-elasticsearch", "")
	file("running-logstash", "")
	file("es-health", `{"cluster_name":"docker-cluster","status":"yellow","timed_out":false,"number_of_nodes":1}`)
	file("ls-events", `{"host":"x","events":{"in":4711,"filtered":4711,"out":4700,"duration_in_millis":12}}`)
	output, err = run(probe...)
	require.NoError(t, err, output)
	want := health("0", "1", "0")
	want[LogstashEventsMetric] = "4711"
	assert.Equal(t, want, samples(t, prom))
	// The password reached curl as a config on stdin, escaped for it, and
	// never as an argument.
	stdin, err := os.ReadFile(filepath.Join(state, "curl-stdin"))
	require.NoError(t, err)
	assert.Equal(t, `user = "elastic:pa\"ss\\word"`+"\n", string(stdin))
	args, err := os.ReadFile(filepath.Join(state, "curl-args"))
	require.NoError(t, err)
	assert.NotContains(t, string(args), "pa\"ss")
	assert.Contains(t, string(args), "--cacert /usr/share/elasticsearch/config/certs/ca.crt https://localhost:9200/_cluster/health\n")
	assert.Contains(t, string(args), "http://127.0.0.1:9600/_node/stats/events\n")

	// Green.
	file("es-health", `{"cluster_name":"docker-cluster","status":"green"}`)
	_, err = run(probe...)
	require.NoError(t, err)
	assert.Equal(t, "1", samples(t, prom)[ElasticsearchHealthMetric+`{color="green"}`])

	// Elasticsearch not answering counts as not green (every colour 0);
	// Logstash not answering leaves its counter out.
	require.NoError(t, os.Remove(filepath.Join(state, "es-health")))
	require.NoError(t, os.Remove(filepath.Join(state, "ls-events")))
	output, err = run(probe...)
	require.NoError(t, err, output)
	assert.Contains(t, output, "Elasticsearch (elasticsearch) did not report its health")
	assert.Contains(t, output, "Logstash (logstash) did not report its events")
	assert.Equal(t, health("0", "0", "0"), samples(t, prom))

	// A host with neither configured writes no samples even if a container
	// of that name runs there.
	_, err = run()
	require.NoError(t, err)
	assert.Empty(t, samples(t, prom))
	assert.Equal(t, []string{"aurigraph-logging.prom"}, dirNames(t, textfiles), "no temporary file left behind")
}
