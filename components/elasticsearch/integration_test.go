//go:build integration

package elasticsearch

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/scripttest"
)

func TestIntegrationShellcheck(t *testing.T) {
	script, err := RenderSetupScript(SetupValues{Logs: DefaultLogs(30, testIndices), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 60})
	require.NoError(t, err)
	scripttest.Shellcheck(t, "sh", "setup.sh", script)
	scripttest.Shellcheck(t, "sh", "health.sh", "#!/bin/sh\n"+HealthCommand()[1]+"\n")
}

// Fake curl: records what it was given and answers 200. (The fake docker,
// scripttest.FakeDockerExec, runs the script's in-container bash for real.)
const fakeCurl = `#!/bin/bash
d=$(mktemp -d "$LOGDIR/req.XXXXXX")
printf '%s\n' "$@" > "$d/argv"
while [ $# -gt 0 ]; do
  case "$1" in
    -K) cat "$2" > "$d/config"; shift 2 ;;
    -X) printf '%s' "$2" > "$d/method"; shift 2 ;;
    --data-binary) [ "$2" = "@-" ] && cat > "$d/body"; shift 2 ;;
    -w|-H|--cacert|--max-time) shift 2 ;;
    https://*) printf '%s' "$1" > "$d/url"; shift ;;
    *) shift ;;
  esac
done
date +%s%N > "$d/order"
printf '{"acknowledged":true} HTTP:200'
`

type request struct {
	argv, config, method, body, url string
	order                           string
}

// TestIntegrationSetupScriptKeepsSecretsOffCommandLines runs the rendered
// script with sh, bash and sed for real (docker and curl faked) and checks
// every request and that no password reaches an argument list.
func TestIntegrationSetupScriptKeepsSecretsOffCommandLines(t *testing.T) {
	scripttest.Need(t, "bash")
	scripttest.Need(t, "sed")
	dir := t.TempDir()
	bin, logs := filepath.Join(dir, "bin"), filepath.Join(dir, "logs")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.MkdirAll(logs, 0o755))
	scripttest.FakeDockerExec(t, bin)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "curl"), []byte(fakeCurl), 0o755))

	script, err := RenderSetupScript(SetupValues{Logs: DefaultLogs(14, testIndices), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 3})
	require.NoError(t, err)
	elastic := `Zq9"el\pass word-1`
	kibana := `Kx7"kib\sys tem-2%s`
	writer := "0123456789abcdef0123456789abcdef"
	reader := "fedcba9876543210fedcba9876543210"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "LOGDIR=" + logs}
	cmd.Stdin = strings.NewReader(elastic + "\n" + kibana + "\n" + writer + "\n" + reader + "\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "elasticsearch setup applied")

	dirs, err := filepath.Glob(filepath.Join(logs, "req.*"))
	require.NoError(t, err)
	var reqs []request
	for _, d := range dirs {
		read := func(name string) string {
			b, _ := os.ReadFile(filepath.Join(d, name))
			return string(b)
		}
		reqs = append(reqs, request{read("argv"), read("config"), read("method"), read("body"), read("url"), read("order")})
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].order < reqs[j].order })
	var calls []string
	for _, r := range reqs {
		calls = append(calls, r.method+" "+strings.TrimPrefix(r.url, SelfURL()))
		// curl's config syntax: a quoted value with \" and \\ escapes.
		assert.Equal(t, `user = "elastic:Zq9\"el\\pass word-1"`+"\n", r.config)
		for _, secret := range []string{elastic, kibana, writer, reader, "Zq9", "Kx7"} {
			assert.NotContains(t, r.argv, secret, "curl's arguments")
		}
	}
	assert.Equal(t, []string{
		"GET /_cluster/health?wait_for_status=yellow&timeout=10s",
		"PUT /_ilm/policy/" + PolicyName,
		"PUT /_index_template/" + TemplateName,
		"PUT /_security/role/" + WriterRole,
		"PUT /_security/role/" + ReaderRole,
		"POST /_security/user/kibana_system/_password",
		"PUT /_security/user/" + WriterUser,
		"PUT /_security/user/" + ReaderUser,
	}, calls)
	dockerArgv, err := os.ReadFile(filepath.Join(logs, "docker.argv"))
	require.NoError(t, err)
	for _, secret := range []string{elastic, kibana, writer, reader} {
		assert.NotContains(t, string(dockerArgv), secret, "docker's arguments")
	}

	ilm, err := RenderILMPolicy(DefaultLogs(14, testIndices))
	require.NoError(t, err)
	assert.JSONEq(t, ilm, reqs[1].body)
	var kib struct{ Password string }
	require.NoError(t, json.Unmarshal([]byte(reqs[5].body), &kib), reqs[5].body)
	assert.Equal(t, kibana, kib.Password, "escaped for JSON, decoded intact")
	var user struct {
		Password string
		Roles    []string
	}
	require.NoError(t, json.Unmarshal([]byte(reqs[6].body), &user), reqs[6].body)
	assert.Equal(t, writer, user.Password)
	assert.Equal(t, []string{WriterRole}, user.Roles)
	require.NoError(t, json.Unmarshal([]byte(reqs[7].body), &user), reqs[7].body)
	assert.Equal(t, reader, user.Password)
	assert.Equal(t, []string{ReaderRole}, user.Roles)
	for i, render := range map[int]func(LogsValues) (string, error){3: RenderWriterRole, 4: RenderReaderRole} {
		role, err := render(DefaultLogs(14, testIndices))
		require.NoError(t, err)
		assert.JSONEq(t, role, reqs[i].body, "the role is sent as rendered")
	}
}

// TestIntegrationHealthCommandKeepsPasswordOffCommandLine runs the health
// command with sh and a fake curl.
func TestIntegrationHealthCommandKeepsPasswordOffCommandLine(t *testing.T) {
	scripttest.Need(t, "sed")
	dir := t.TempDir()
	bin, logs := filepath.Join(dir, "bin"), filepath.Join(dir, "logs")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.MkdirAll(logs, 0o755))
	curl := "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$LOGDIR/argv\"\ncat > \"$LOGDIR/config\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "curl"), []byte(curl), 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The password file, where the container has it, is the test's own.
	password := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(password, []byte(`s3"cr\et`), 0o400))
	cmd := exec.CommandContext(ctx, "sh", "-c", strings.ReplaceAll(HealthCommand()[1], PasswordPath, password))
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "LOGDIR=" + logs}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	argv, _ := os.ReadFile(filepath.Join(logs, "argv"))
	config, _ := os.ReadFile(filepath.Join(logs, "config"))
	assert.NotContains(t, string(argv), "s3")
	assert.Contains(t, string(argv), "-K\n-\n")
	assert.Equal(t, `user = "elastic:s3\"cr\\et"`+"\n", string(config))
}
