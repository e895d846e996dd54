package configfile

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/hosttest"
	"github.com/aurigraph/infra/internal/mockrun"
)

func TestHashChangesWithContentOrPath(t *testing.T) {
	a := []File{{Path: "/srv/a/x.conf", Content: "one"}}
	assert.Equal(t, Hash(a), Hash([]File{{Path: "/srv/a/x.conf", Content: "one"}}))
	assert.NotEqual(t, Hash(a), Hash([]File{{Path: "/srv/a/x.conf", Content: "two"}}))
	assert.NotEqual(t, Hash(a), Hash([]File{{Path: "/srv/a/y.conf", Content: "one"}}))
	// The separator keeps path/content boundaries unambiguous.
	assert.NotEqual(t, Hash([]File{{Path: "/a", Content: "bc"}}), Hash([]File{{Path: "/ab", Content: "c"}}))
}

func TestFilesAreCopiedAndReloadIsTriggeredByContent(t *testing.T) {
	run := func(content string) *mockrun.Result {
		res, err := mockrun.Run(func(ctx *pulumi.Context) error {
			h, err := testHost(ctx)
			if err != nil {
				return err
			}
			_, err = New(ctx, "nginx-config", Args{
				Host: h, Files: []File{{Path: "/srv/aurigraph/nginx/nginx.conf", Content: content}},
				Container: "nginx", Reload: "docker exec nginx nginx -s reload",
			})
			return err
		}, mockrun.Options{Project: "p", Stack: "s"})
		require.NoError(t, err)
		return res
	}
	a, b := run("events {}"), run("events { worker_connections 1024; }")
	copyA := a.Named("command:remote:CopyToRemote", "nginx-config-nginx-conf")
	require.NotNil(t, copyA)
	assert.Equal(t, "/srv/aurigraph/.staging/nginx-config-nginx-conf", copyA.Inputs["remotePath"].StringValue(),
		"copied as the SSH user into its staging directory")
	assert.Equal(t, "events {}", copyA.Inputs["source"].AssetValue().Text)

	reloadA := a.Named("command:remote:Command", "nginx-config-install")
	reloadB := b.Named("command:remote:Command", "nginx-config-install")
	require.NotNil(t, reloadA)
	assert.Contains(t, reloadA.DependsOn, copyA.URN, "install and reload run after the copy")
	assert.Equal(t, []Install{{From: "/srv/aurigraph/.staging/nginx-config-nginx-conf", To: "/srv/aurigraph/nginx/nginx.conf"}},
		Installs(reloadA.Inputs["create"].StringValue()))
	assert.Contains(t, reloadA.Inputs["create"].StringValue(),
		"prepare '/srv/aurigraph/.staging/nginx-config-nginx-conf' '/srv/aurigraph/nginx/nginx.conf' '0644' '0' '0'\n")
	assert.NotEqual(t, reloadA.Inputs["triggers"], reloadB.Inputs["triggers"], "new content triggers a reload")
	assert.Equal(t, reloadA.Inputs["create"], reloadB.Inputs["create"], "the reload step itself is unchanged")
}

func TestInstallScriptRefusesUnsafeValues(t *testing.T) {
	for _, f := range []Staged{
		{File: File{Path: "/srv/a b", Content: "x"}, From: "/srv/.staging/a"},
		{File: File{Path: "/srv/a", Mode: "0644; rm -rf /"}, From: "/srv/.staging/a"},
		{File: File{Path: "/srv/a", Owner: "root"}, From: "/srv/.staging/a"},
	} {
		_, err := InstallScript([]Staged{f}, nil, "", "")
		assert.Error(t, err, "%+v", f)
	}
	script, err := InstallScript([]Staged{{File: File{Path: "/srv/a/run.sh", Mode: "0755", Owner: "70:70"}, From: "/srv/.staging/x"}}, nil, "", "")
	require.NoError(t, err)
	assert.Contains(t, script, "prepare '/srv/.staging/x' '/srv/a/run.sh' '0755' '70' '70'\n")
	assert.NotContains(t, script, "docker inspect", "no reload without a reader")
}

func TestSecretFileContentStaysSecretAndOutOfTriggers(t *testing.T) {
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h, err := testHost(ctx)
		if err != nil {
			return err
		}
		_, err = NewSecret(ctx, "edge-key", SecretArgs{Host: h, Path: "/srv/aurigraph/nginx/tls/edge.key",
			Content: pulumi.String("-----BEGIN PRIVATE KEY-----"), Owner: "101:101"})
		return err
	}, mockrun.Options{Project: "p", Stack: "s"})
	require.NoError(t, err)
	cmd := res.Named("command:remote:Command", "edge-key")
	require.NotNil(t, cmd)
	assert.True(t, cmd.Inputs["stdin"].IsSecret())
	assert.NotContains(t, cmd.Inputs, resource.PropertyKey("triggers"), "a new content is an update of stdin, never a trigger")
	assert.NotContains(t, cmd.Inputs["create"].StringValue(), "BEGIN PRIVATE KEY")
	assert.Equal(t, "none", cmd.Inputs["logging"].StringValue(), "a step holding a secret logs nothing")
	assert.Contains(t, cmd.Inputs["delete"].StringValue(), "if owned ", "the delete removes only what this version still owns")
}

// testHost is the smallest valid host for a mocked run.
func testHost(ctx *pulumi.Context) (*host.Host, error) {
	return hosttest.New(ctx, "h1", "192.0.2.1")
}

func TestSecretSetRewritesAndReloadsWhenAnyContentChanges(t *testing.T) {
	run := func(cert string) *mockrun.Result {
		res, err := mockrun.Run(func(ctx *pulumi.Context) error {
			h, err := testHost(ctx)
			if err != nil {
				return err
			}
			_, err = NewSecrets(ctx, "kibana-tls", SecretsArgs{
				Host: h,
				Files: []Secret{
					{Path: "/srv/aurigraph/kibana/certs/kibana.crt", Content: pulumi.String(cert)},
					{Path: "/srv/aurigraph/kibana/certs/kibana.key", Content: pulumi.String("key")},
				},
				Container: "kibana", Reload: "docker restart kibana",
			})
			return err
		}, mockrun.Options{Project: "p", Stack: "s"})
		require.NoError(t, err)
		return res
	}
	a, b := run("cert r0"), run("cert r1")
	stepA, stepB := a.Named("command:remote:Command", "kibana-tls"), b.Named("command:remote:Command", "kibana-tls")
	require.NotNil(t, stepA)
	require.NotNil(t, stepB)
	var steps int
	for _, r := range a.OfType("command:remote:Command") {
		if strings.HasPrefix(r.Name, "kibana-tls") {
			steps++
		}
	}
	assert.Equal(t, 1, steps, "one step writes the set and reloads once")
	assert.Contains(t, stepA.Inputs["update"].StringValue(), "docker restart kibana")
	assert.True(t, stepA.Inputs["stdin"].IsSecret())
	assert.NotContains(t, stepA.Inputs, resource.PropertyKey("triggers"))
	assert.False(t, stepA.Inputs["stdin"].DeepEquals(stepB.Inputs["stdin"]), "a rotated certificate changes stdin: the step updates")
	assert.Equal(t, stepA.Inputs["update"], stepB.Inputs["update"], "the script itself does not change")
}

func TestSecretScriptsRefuseWhatAShellWouldMisread(t *testing.T) {
	for _, f := range []SecretFile{
		{Path: "relative/key"}, {Path: "/srv/a b"}, {Path: "/srv/$(reboot)"},
		{Path: "/srv/key", Owner: "root"}, {Path: "/srv/key", Mode: "600;reboot"},
	} {
		_, err := WriteSecretsScript([]SecretFile{f}, nil, "", "")
		assert.Error(t, err, "%+v", f)
	}
}

func TestSetNamesEachFilesStagedCopy(t *testing.T) {
	var set *Set
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h, err := testHost(ctx)
		if err != nil {
			return err
		}
		set, err = New(ctx, "prometheus-config", Args{Host: h, Files: []File{
			{Path: "/srv/aurigraph/prometheus/prometheus.yml", Content: "a"},
			{Path: "/srv/aurigraph/prometheus/rules/alerts.yml", Content: "b"},
		}})
		return err
	}, mockrun.Options{Project: "p", Stack: "s"})
	require.NoError(t, err)
	for target, staged := range set.Staged {
		var copied bool
		for _, r := range res.OfType("command:remote:CopyToRemote") {
			copied = copied || r.Inputs["remotePath"].StringValue() == staged
		}
		assert.True(t, copied, "%s is staged at %s", target, staged)
	}
	assert.Len(t, set.Staged, 2)
}

func TestSecretFilesReadsBackWhatTheScriptWrites(t *testing.T) {
	files := []SecretFile{{Path: "/srv/a/key"}, {Path: "/srv/a/crt", Owner: "101:101", Mode: "0644"}}
	script, err := WriteSecretsScript(files, nil, "", "")
	require.NoError(t, err)
	got, err := SecretFiles(script, SecretsStdin([]string{"k\nmulti", ""}))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"/srv/a/key": "k\nmulti", "/srv/a/crt": ""}, got)
	_, err = SecretFiles(script, SecretsStdin([]string{"one"}))
	assert.Error(t, err)
}

// The install step records its files for the hosts' drift check as soon as
// they are in place: a reload that fails afterwards leaves no stale record
// (which the check would report as a hand edit).
func TestInstallRecordsTheFilesBeforeTheReload(t *testing.T) {
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h, err := testHost(ctx)
		if err != nil {
			return err
		}
		_, err = New(ctx, "nginx-config", Args{
			Host: h, Files: []File{{Path: "/srv/aurigraph/nginx/nginx.conf", Content: "events {}"}},
			Container: "nginx", Reload: "docker exec nginx nginx -s reload",
		})
		return err
	}, mockrun.Options{Project: "p", Stack: "s"})
	require.NoError(t, err)
	create := res.Named("command:remote:Command", "nginx-config-install").Inputs["create"].StringValue()
	swap := strings.Index(create, `for p in $PENDING; do $SUDO mv -f`)
	record := strings.Index(create, "MANIFEST='/var/lib/aurigraph/manifest.d/nginx-config-install.sha256'")
	reload := strings.Index(create, "docker exec nginx nginx -s reload")
	require.True(t, swap >= 0 && record >= 0 && reload >= 0, create)
	assert.Less(t, swap, record, "recorded once in place")
	assert.Less(t, record, reload, "recorded before the reload")
	assert.Contains(t, create, `printf '%s  %s\n' "$(sha256sum <'/srv/aurigraph/.staging/nginx-config-nginx-conf' | cut -d' ' -f1)" '/srv/aurigraph/nginx/nginx.conf'`)
}

// A host service (rsyslog) reads the files: its reload runs as is, with no
// container to wait for; a container's reload runs only while it runs.
func TestSecretReloadOfAHostServiceRunsWithoutAContainer(t *testing.T) {
	files := []SecretFile{{Path: "/etc/aurigraph/log-forwarding/client.key"}}
	script, err := WriteSecretsScript(files, nil, "", "$SUDO systemctl try-restart rsyslog")
	require.NoError(t, err)
	assert.Contains(t, script, "\n$SUDO systemctl try-restart rsyslog\n")
	assert.NotContains(t, script, "docker inspect")
	assert.Less(t, strings.Index(script, `$SUDO mv -f`), strings.Index(script, "systemctl try-restart"), "the reload follows the rename")
	inContainer, err := WriteSecretsScript(files, nil, "kibana", "docker restart kibana")
	require.NoError(t, err)
	assert.Contains(t, inContainer, "docker inspect")
}
