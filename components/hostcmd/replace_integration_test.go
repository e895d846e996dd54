//go:build integration

package hostcmd_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/internal/testhost"
)

// The engine's replacement, replayed over SSH on a real host (systemd,
// sshd, a non-root deploy user with sudo): the new version's create, then
// the old version's delete. The backup timers' replay runs on the same kind
// of host in components/postgres (TestIntegrationBackupTimersSurviveReplacement).

func run(t *testing.T, h *testhost.Host, command, stdin string) string {
	t.Helper()
	res := h.SSH(t, h.User, command, stdin)
	require.Equal(t, 0, res.Code, "%s\nstdout: %s\nstderr: %s", command, res.Stdout, res.Stderr)
	return res.Stdout
}

func TestIntegrationReplacingAFileStepKeepsTheNewFile(t *testing.T) {
	t.Parallel()
	h := testhost.Start(t)
	const conf = "/etc/aurigraph/app.conf"
	step := func(content string, triggers []string) (string, string) {
		create, remove, err := hostcmd.Scripts("app-conf", `sudo -n mkdir -p /etc/aurigraph && printf '%s\n' `+content+` | sudo -n tee `+conf+` > /dev/null`,
			triggers, &hostcmd.Owned{Items: []string{conf}, Remove: `$SUDO rm -f "$1"`})
		require.NoError(t, err)
		return create, remove
	}
	createOld, deleteOld := step("old", []string{"v1"})
	createNew, deleteNew := step("new", []string{"v2"})

	run(t, h, createOld, "")
	run(t, h, createNew, "")
	out := run(t, h, deleteOld, "")
	assert.Contains(t, out, "a newer version of app-conf owns it")
	assert.Equal(t, "new\n", h.Exec(t, "cat "+conf).Stdout, "the new version's file is intact")

	run(t, h, deleteNew, "")
	assert.NotEqual(t, 0, h.Exec(t, "test -e "+conf).Code, "the current version's delete removes it")
	assert.Empty(t, strings.TrimSpace(h.Exec(t, "ls -A "+hostcmd.RecordsDir).Stdout), "and its record")
}

// A secret file set is rotated through stdin (an update, no replacement);
// the create-new-then-delete-old order comes from a step that moves to a
// new name (or gains triggers in a later release): the old delete must
// keep the rotated key.
func TestIntegrationReplacingASecretFileStepKeepsTheNewKey(t *testing.T) {
	t.Parallel()
	h := testhost.Start(t)
	files := []configfile.SecretFile{{Path: "/srv/aurigraph/nginx/tls/edge.key", Owner: "101:101", Mode: "0600"}}
	write, err := configfile.WriteSecretsScript(files, nil, "", "")
	require.NoError(t, err)
	step := func(name string) (string, string) {
		create, remove, err := hostcmd.Scripts(name, write, nil, configfile.SecretsOwned(files))
		require.NoError(t, err)
		return create, remove
	}
	createOld, deleteOld := step("edge-tls")
	createNew, _ := step("nginx-tls")

	run(t, h, createOld, configfile.SecretsStdin([]string{"OLD KEY"}))
	run(t, h, createNew, configfile.SecretsStdin([]string{"ROTATED KEY"}))
	run(t, h, deleteOld, "")
	key := h.Exec(t, "stat -c '%u:%g %a' /srv/aurigraph/nginx/tls/edge.key && cat /srv/aurigraph/nginx/tls/edge.key")
	require.Equal(t, 0, key.Code, "the old delete removed the rotated key: %s", key.Stderr)
	assert.Equal(t, "101:101 600\nROTATED KEY", key.Stdout)
}

func TestIntegrationOwnedScriptsPassShellcheck(t *testing.T) {
	files := []configfile.SecretFile{{Path: "/srv/aurigraph/nginx/tls/edge.key"}}
	write, err := configfile.WriteSecretsScript(files, nil, "nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	create, remove, err := hostcmd.Scripts("nginx-tls", write, []string{"t"}, configfile.SecretsOwned(files))
	require.NoError(t, err)
	for name, script := range map[string]string{"create": create, "delete": remove} {
		for _, check := range [][]string{{"shellcheck", "-s", "bash", "-"}, {"bash", "-n"}} {
			cmd := exec.Command(check[0], check[1:]...)
			cmd.Stdin = strings.NewReader(script)
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "%s %s: %s", name, check[0], out)
		}
	}
}
