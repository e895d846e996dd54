package configfile

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
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
	assert.Contains(t, reloadA.Inputs["create"].StringValue(),
		"$SUDO install -D -m 0644 -o 0 -g 0 /srv/aurigraph/.staging/nginx-config-nginx-conf /srv/aurigraph/nginx/nginx.conf")
	assert.NotEqual(t, reloadA.Inputs["triggers"], reloadB.Inputs["triggers"], "new content triggers a reload")
	assert.Equal(t, reloadA.Inputs["create"], reloadB.Inputs["create"], "the reload step itself is unchanged")
}

func TestInstallScriptRefusesUnsafeValues(t *testing.T) {
	for _, f := range []Staged{
		{File: File{Path: "/srv/a b", Content: "x"}, From: "/srv/.staging/a"},
		{File: File{Path: "/srv/a", Mode: "0644; rm -rf /"}, From: "/srv/.staging/a"},
		{File: File{Path: "/srv/a", Owner: "root"}, From: "/srv/.staging/a"},
	} {
		_, err := InstallScript([]Staged{f}, "", "")
		assert.Error(t, err, "%+v", f)
	}
	script, err := InstallScript([]Staged{{File: File{Path: "/srv/a/run.sh", Mode: "0755", Owner: "70:70"}, From: "/srv/.staging/x"}}, "", "")
	require.NoError(t, err)
	assert.Contains(t, script, "$SUDO install -D -m 0755 -o 70 -g 70 /srv/.staging/x /srv/a/run.sh\n")
	assert.NotContains(t, script, "docker inspect", "no reload without a reader")
}

func TestSecretFileContentStaysSecret(t *testing.T) {
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
	assert.True(t, cmd.Inputs["triggers"].ContainsSecrets())
	assert.NotContains(t, cmd.Inputs["create"].StringValue(), "BEGIN PRIVATE KEY")
}

// testHost is the smallest valid host for a mocked run.
func testHost(ctx *pulumi.Context) (*host.Host, error) {
	return host.NewHost(ctx, "h1", host.HostArgs{
		Name: "h1", Address: "192.0.2.1", Port: 22, User: "deploy", DataPath: "/srv/aurigraph",
		HostKey:    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFjDoPUvC43u5PWXOIa8010fhjT38gSORY0nRUjCBLh+",
		PrivateKey: pulumi.ToSecret(pulumi.String("k")).(pulumi.StringOutput),
		Thresholds: host.Thresholds{MinCPUs: 1, MinMemoryGB: 1, MinDiskGB: 1},
	})
}

func TestSecretSetReloadsWhenAnyContentChanges(t *testing.T) {
	run := func(cert string) *mockrun.Result {
		res, err := mockrun.Run(func(ctx *pulumi.Context) error {
			h, err := testHost(ctx)
			if err != nil {
				return err
			}
			_, err = NewSecrets(ctx, "kibana-tls", SecretsArgs{
				Host: h,
				Files: []Secret{
					{ID: "crt", Path: "/srv/aurigraph/kibana/certs/kibana.crt", Content: pulumi.String(cert)},
					{ID: "key", Path: "/srv/aurigraph/kibana/certs/kibana.key", Content: pulumi.String("key")},
				},
				Container: "kibana", Reload: "docker restart kibana",
			})
			return err
		}, mockrun.Options{Project: "p", Stack: "s"})
		require.NoError(t, err)
		return res
	}
	a, b := run("cert r0"), run("cert r1")
	reloadA := a.Named("command:remote:Command", "kibana-tls-reload")
	require.NotNil(t, reloadA)
	for _, id := range []string{"kibana-tls-crt", "kibana-tls-key"} {
		assert.Contains(t, reloadA.DependsOn, a.Named("command:remote:Command", id).URN)
	}
	assert.True(t, reloadA.Inputs["triggers"].ContainsSecrets(), "the digest of secret contents stays secret")
	assert.False(t, reloadA.Inputs["triggers"].DeepEquals(b.Named("command:remote:Command", "kibana-tls-reload").Inputs["triggers"]),
		"a rotated certificate reloads the reader")
	assert.True(t, a.Named("command:remote:Command", "kibana-tls-key").Inputs.DeepEquals(b.Named("command:remote:Command", "kibana-tls-key").Inputs),
		"an unchanged file is not rewritten")
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
