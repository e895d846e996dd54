package host

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepScript renders one step of a.
func stepScript(t *testing.T, a HostArgs, step string) string {
	t.Helper()
	v, err := NewPrepareValues(a)
	require.NoError(t, err)
	s, err := RenderStep(v, step)
	require.NoError(t, err)
	return s
}

func TestSecurityUpdatesAreSecurityOnlyWithDockerHeldAndNoReboot(t *testing.T) {
	conf, err := RenderUnattendedUpgrades(Updates{})
	require.NoError(t, err)
	// Exactly one origin: Debian's security archive for the running release.
	assert.Equal(t, 1, strings.Count(conf, "origin="), conf)
	assert.Contains(t, conf, "#clear Unattended-Upgrade::Origins-Pattern;\nUnattended-Upgrade::Origins-Pattern {\n        \"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\";\n};\n")
	assert.Contains(t, conf, "#clear Unattended-Upgrade::Allowed-Origins;")
	for _, held := range []string{`"docker.io$";`, `"docker-ce";`, `"containerd";`} {
		assert.Contains(t, conf, held, "Docker is never upgraded unattended")
	}
	assert.Contains(t, conf, "Unattended-Upgrade::Automatic-Reboot \"false\";\n")
	assert.NotContains(t, conf, "Automatic-Reboot-Time")
	assert.Contains(t, conf, "APT::Periodic::Unattended-Upgrade \"1\";\n")
	assert.Contains(t, conf, "APT::Periodic::Update-Package-Lists \"1\";\n")

	on, err := RenderUnattendedUpgrades(Updates{AutomaticReboot: true})
	require.NoError(t, err)
	assert.Contains(t, on, "Unattended-Upgrade::Automatic-Reboot \"true\";\nUnattended-Upgrade::Automatic-Reboot-Time \""+DefaultRebootTime+"\";\n")
	at, err := RenderUnattendedUpgrades(Updates{AutomaticReboot: true, RebootTime: "04:15"})
	require.NoError(t, err)
	assert.Contains(t, at, "Automatic-Reboot-Time \"04:15\";")

	for _, bad := range []string{"4:15", "24:00", "04:60", "now", "04:15\";\nAPT::X \"1"} {
		_, err := RenderUnattendedUpgrades(Updates{AutomaticReboot: true, RebootTime: bad})
		assert.Error(t, err, bad)
	}
}

func TestSecurityUpdatesStepInstallsConfigAndRebootMarker(t *testing.T) {
	require.Contains(t, stepNames(), SecurityUpdatesStep)
	script := stepScript(t, sampleArgs(), SecurityUpdatesStep)
	conf, err := RenderUnattendedUpgrades(Updates{})
	require.NoError(t, err)
	assert.Contains(t, script, "ensure_packages unattended-upgrades")
	assert.Contains(t, script, "ensure_file "+UnattendedUpgradesConf+" 0644 0:0 \"$(\n    cat <<'AURIGRAPH_EOF'\n"+conf)
	assert.Contains(t, script, "ensure_file "+RebootRequiredPath+" 0755 0:0 \"$(\n    cat <<'AURIGRAPH_EOF'\n"+RebootRequiredScript)
	assert.Contains(t, script, "Environment=TEXTFILE_DIR="+TextfileDir+"\nExecStart="+RebootRequiredPath+"\n")
	assert.Contains(t, script, `local units="apt-daily.timer apt-daily-upgrade.timer `+RebootRequiredUnit+`.timer"`)

	a := sampleArgs()
	a.Updates = Updates{AutomaticReboot: true, RebootTime: "02:45"}
	assert.Contains(t, stepScript(t, a, SecurityUpdatesStep), `Unattended-Upgrade::Automatic-Reboot-Time "02:45";`)
	a.Updates.RebootTime = "2:45"
	_, err = NewPrepareValues(a)
	assert.Error(t, err, "an invalid time never reaches a host")
}

func stepNames() []string {
	var out []string
	for _, s := range Steps {
		out = append(out, s.Name)
	}
	return out
}
