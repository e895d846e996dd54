//go:build integration

package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/internal/testhost"
)

// debianDefaults stands in for the package's 50unattended-upgrades when it
// is not installed here: the same lists with Debian 12's default entries
// (point releases and security), which the program's file must clear.
const debianDefaults = `Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=${distro_codename},label=Debian";
        "origin=Debian,codename=${distro_codename},label=Debian-Security";
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
Unattended-Upgrade::Package-Blacklist {
};
`

// aptDump is apt's own reading of the configuration directory dir.
func aptDump(t *testing.T, dir string) string {
	t.Helper()
	main := filepath.Join(t.TempDir(), "apt.conf")
	require.NoError(t, os.WriteFile(main, []byte("Dir::Etc::Parts \""+dir+"\";\nDir::Etc::main \"/dev/null\";\n"), 0o644))
	cmd := exec.Command(need(t, "apt-config"), "dump")
	cmd.Env = append(os.Environ(), "APT_CONFIG="+main)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	assert.Empty(t, stderr.String(), "apt reads the file without a warning")
	return string(out)
}

func TestIntegrationUnattendedUpgradesConfigAsAptReadsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	defaults := debianDefaults
	if b, err := os.ReadFile("/usr/share/unattended-upgrades/50unattended-upgrades"); err == nil {
		defaults = string(b) // the package's own file, when installed here
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "50unattended-upgrades"), []byte(defaults), 0o644))
	// The package's debconf answer may have turned the updates off.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "20auto-upgrades"), []byte("APT::Periodic::Update-Package-Lists \"0\";\nAPT::Periodic::Unattended-Upgrade \"0\";\n"), 0o644))
	conf, err := RenderUnattendedUpgrades(Updates{})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(UnattendedUpgradesConf)), []byte(conf), 0o644))

	dump := aptDump(t, dir)
	var origins, held []string
	for _, line := range strings.Split(dump, "\n") {
		if v, ok := strings.CutPrefix(line, "Unattended-Upgrade::Origins-Pattern:: "); ok {
			origins = append(origins, v)
		}
		if v, ok := strings.CutPrefix(line, "Unattended-Upgrade::Package-Blacklist:: "); ok {
			held = append(held, v)
		}
	}
	assert.Equal(t, []string{`"` + SecurityOrigin + `";`}, origins, "security updates only:\n%s", dump)
	assert.Equal(t, []string{`"docker.io$";`, `"docker-ce";`, `"containerd";`}, held)
	assert.Contains(t, dump, "Unattended-Upgrade::Automatic-Reboot \"false\";\n")
	assert.Contains(t, dump, "APT::Periodic::Unattended-Upgrade \"1\";\n", "the program's file wins over 20auto-upgrades")
	assert.Contains(t, dump, "APT::Periodic::Update-Package-Lists \"1\";\n")

	on, err := RenderUnattendedUpgrades(Updates{AutomaticReboot: true, RebootTime: "04:15"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(UnattendedUpgradesConf)), []byte(on), 0o644))
	dump = aptDump(t, dir)
	assert.Contains(t, dump, "Unattended-Upgrade::Automatic-Reboot \"true\";\nUnattended-Upgrade::Automatic-Reboot-Time \"04:15\";\n")
}

// rebootMetrics reads the marker's textfile on the host.
func rebootMetrics(t *testing.T, h *testhost.Host) string {
	t.Helper()
	r := h.Exec(t, "cat "+shell.Quote(TextfileDir+"/"+RebootRequiredFile))
	require.Equal(t, 0, r.Code, r.Stderr)
	return r.Stdout
}

func metricLines(text string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// The marker script and its units, as the security-updates step writes them,
// on a real systemd host: the timer runs the script, which exports the
// reboot marker. (The step itself installs unattended-upgrades from the
// network, which test hosts do not reach: its files are placed here byte for
// byte instead; TestIntegrationPrepareIsIdempotentAndFinishesAPartialRun runs
// the whole step under a sandbox root.)
func TestIntegrationRebootMarkerOnRealSystemd(t *testing.T) {
	t.Parallel()
	promtool := need(t, "promtool")
	v, err := NewPrepareValues(sampleArgs())
	require.NoError(t, err)
	h := testhost.Start(t)
	for path, content := range map[string]string{
		RebootRequiredPath: v.RebootScript,
		"/etc/systemd/system/" + RebootRequiredUnit + ".service": v.RebootService,
		"/etc/systemd/system/" + RebootRequiredUnit + ".timer":   v.RebootTimer,
	} {
		mode := "0644"
		if path == RebootRequiredPath {
			mode = "0755"
		}
		r := h.SSH(t, testhost.Root, "mkdir -p "+shell.Quote(filepath.Dir(path))+" && cat > "+shell.Quote(path)+" && chmod "+mode+" "+shell.Quote(path), content+"\n")
		require.Equal(t, 0, r.Code, r.Stderr)
	}
	verify := h.Exec(t, "systemd-analyze verify /etc/systemd/system/"+RebootRequiredUnit+".timer /etc/systemd/system/"+RebootRequiredUnit+".service 2>&1")
	assert.Empty(t, strings.TrimSpace(verify.Stdout), "systemd accepts the units")
	// What restart_units does for the step.
	r := h.SSH(t, testhost.Root, "systemctl daemon-reload && systemctl enable "+RebootRequiredUnit+".timer && systemctl restart "+RebootRequiredUnit+".timer", "")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "active\n", h.Exec(t, "systemctl is-active "+RebootRequiredUnit+".timer").Stdout)
	run := func() {
		t.Helper()
		r := h.Exec(t, "systemctl start "+RebootRequiredUnit+".service")
		require.Equal(t, 0, r.Code, r.Stderr+h.Exec(t, "journalctl -u "+RebootRequiredUnit+" --no-pager").Stdout)
	}

	run()
	assert.Equal(t, []string{RebootRequiredMetric + " 0", RebootRequiredMetric + "_packages 0"}, metricLines(rebootMetrics(t, h)))

	// An update asked for a reboot (as a kernel's postinst hook does), two
	// packages named, one twice.
	h.Exec(t, "touch /var/run/reboot-required && printf 'linux-image-6.1.0-30-amd64\\nlibc6\\nlibc6\\n' > /var/run/reboot-required.pkgs")
	run()
	text := rebootMetrics(t, h)
	assert.Equal(t, []string{RebootRequiredMetric + " 1", RebootRequiredMetric + "_packages 2"}, metricLines(text))
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(text)
	out, err := check.CombinedOutput()
	assert.NoError(t, err, "%s", out)
	mode := h.Exec(t, "stat -c %a "+shell.Quote(TextfileDir+"/"+RebootRequiredFile)).Stdout
	assert.Equal(t, "644\n", mode, "node exporter reads it as its own user")
	assert.Equal(t, RebootRequiredFile+"\n", h.Exec(t, "ls -A "+shell.Quote(TextfileDir)).Stdout, "no temporary file left behind")

	// The marker without a package list still means a reboot.
	h.Exec(t, "rm /var/run/reboot-required.pkgs")
	run()
	assert.Equal(t, []string{RebootRequiredMetric + " 1", RebootRequiredMetric + "_packages 0"}, metricLines(rebootMetrics(t, h)))

	// After the reboot /run is empty again (a tmpfs): back to 0.
	h.Exec(t, "rm -f /var/run/reboot-required")
	run()
	assert.Equal(t, []string{RebootRequiredMetric + " 0", RebootRequiredMetric + "_packages 0"}, metricLines(rebootMetrics(t, h)))
}
