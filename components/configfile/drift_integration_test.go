//go:build integration

package configfile

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/internal/testhost"
)

// A config file set's install step, exactly as the program registers it,
// replayed on a real systemd host with the drift check installed: its files
// are recorded, a hand edit shows in the metric, and the install step run
// again (`pulumi up --replace` of the step) brings it back to 0.
func TestIntegrationInstalledConfigFilesAreCheckedForDrift(t *testing.T) {
	t.Parallel()
	const conf = "/srv/aurigraph/nginx/nginx.conf"
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h, err := testHost(ctx)
		if err != nil {
			return err
		}
		_, err = New(ctx, "nginx-config", Args{Host: h, Files: []File{{Path: conf, Content: "events {}\n", Owner: "101:101"}}})
		return err
	}, mockrun.Options{Project: "p", Stack: "s"})
	require.NoError(t, err)
	cp := res.Named("command:remote:CopyToRemote", "nginx-config-nginx-conf")
	install := res.Named("command:remote:Command", "nginx-config-install")
	require.NotNil(t, cp)
	require.NotNil(t, install)
	staged, content := cp.Inputs["remotePath"].StringValue(), cp.Inputs["source"].AssetValue().Text

	h := testhost.Start(t)
	v, err := host.NewPrepareValues(host.HostArgs{Name: "it-drift-02", Address: h.Address, ClusterAddress: "127.0.0.1",
		Port: h.Port, User: h.User, HostKey: h.HostKey, DataPath: "/srv/aurigraph"})
	require.NoError(t, err)
	for _, step := range []string{"dirs", host.DriftCheckStep} {
		script, err := host.RenderStep(v, step)
		require.NoError(t, err)
		r := h.SSH(t, h.User, host.StepCommand("apply", ""), script)
		require.Equal(t, 0, r.Code, "step %s:\n%s\n%s", step, r.Stdout, r.Stderr)
	}
	// What CopyToRemote does, as the SSH user.
	r := h.SSH(t, h.User, "cat > "+shell.Quote(staged), content)
	require.Equal(t, 0, r.Code, r.Stderr)

	runInstall := func() {
		t.Helper()
		r := h.SSH(t, h.User, install.Inputs["create"].StringValue(), "")
		require.Equal(t, 0, r.Code, "%s\n%s", r.Stdout, r.Stderr)
	}
	drifted := func() string {
		t.Helper()
		r := h.Exec(t, "grep -v '^#' "+host.TextfileDir+"/aurigraph_drift.prom | grep -v timestamp")
		require.Equal(t, 0, r.Code, r.Stderr)
		return r.Stdout
	}
	runInstall()
	assert.Equal(t, "events {}\n", h.Exec(t, "cat "+conf).Stdout)
	assert.Equal(t, "aurigraph_managed_files 4\naurigraph_managed_files_drifted 0\n", drifted(),
		"the check ran after the install: three drift-check files and nginx.conf, none drifted")
	assert.Contains(t, h.Exec(t, "cat "+host.ManifestDir+"/nginx-config-install.sha256").Stdout, "  "+conf+"\n",
		"the manifest is named for the install step")

	h.Exec(t, "echo 'worker_processes 64;' >> "+conf)
	require.Equal(t, 0, h.Exec(t, "systemctl start "+host.DriftCheckUnit+".service").Code)
	assert.Equal(t, strings.Join([]string{
		"aurigraph_managed_files 4",
		"aurigraph_managed_files_drifted 1",
		`aurigraph_managed_file_drifted{manifest="nginx-config-install",path="` + conf + `",state="changed"} 1`,
	}, "\n")+"\n", drifted())

	runInstall()
	assert.Equal(t, "events {}\n", h.Exec(t, "cat "+conf).Stdout)
	assert.Equal(t, "aurigraph_managed_files 4\naurigraph_managed_files_drifted 0\n", drifted())
}
