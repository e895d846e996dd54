package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleArgs is a logging + monitoring + edge host, so every rendered branch shows.
func sampleArgs() HostArgs {
	return HostArgs{
		Name: "prod-obs-01", Address: "198.51.100.30", ClusterAddress: "192.0.2.30", Port: 22, User: "deploy",
		HostKey:  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKuFFePdS/iC7ONnWt66CUnRhtBfMdDARUBBtFj6ZSMw",
		DataPath: "/srv/aurigraph",
		Dirs: []Dir{
			{Path: "/srv/aurigraph/prometheus", UID: 65534, GID: 65534, Mode: "0750"},
			{Path: "/srv/aurigraph/elasticsearch", UID: 1000, GID: 0, Mode: "0750"},
		},
		Sysctls:        map[string]string{"vm.max_map_count": "262144", "fs.file-max": "2097152"},
		ClusterPeers:   []string{"192.0.2.41", "192.0.2.10", "2001:db8::5"},
		MonitoringFrom: []string{"192.0.2.30"},
		LoggingTarget:  "192.0.2.30",
		LoggingPort:    5514,
		LoggingPeer:    "logstash",
		LogFiles: []LogFile{
			{Glob: "/srv/aurigraph/vault/logs/audit.log", Service: "vault", Reopen: "docker kill --signal HUP vault"},
			{Glob: "/srv/aurigraph/aurigraph-v11/*/logs/*.log", Service: "aurigraph-v11"},
		},
		Thresholds: Thresholds{MinCPUs: 32, MinMemoryGB: 64, MinDiskGB: 200},
	}
}

func renderAll(t *testing.T, a HostArgs) (string, []StepScript) {
	t.Helper()
	pre, err := RenderPreflight(NewPreflightValues(a))
	require.NoError(t, err)
	v, err := NewPrepareValues(a)
	require.NoError(t, err)
	steps, err := RenderPrepare(v)
	require.NoError(t, err)
	return pre, steps
}

func TestRenderIsDeterministic(t *testing.T) {
	pre1, steps1 := renderAll(t, sampleArgs())
	for i := 0; i < 5; i++ {
		pre2, steps2 := renderAll(t, sampleArgs())
		assert.Equal(t, pre1, pre2)
		assert.Equal(t, steps1, steps2)
	}
	require.Len(t, steps1, len(Steps))
	for i, s := range steps1 {
		assert.Equal(t, Steps[i].Name, s.Step.Name)
		assert.Contains(t, s.Script, `STEP='`+s.Step.Name+`'`)
		assert.True(t, strings.HasSuffix(s.Script, "echo \"step=$STEP changed=$CHANGED mode=$MODE\"\n"))
	}
}

func TestPreflightCarriesThresholds(t *testing.T) {
	pre, _ := renderAll(t, sampleArgs())
	for _, want := range []string{"host='prod-obs-01'", "min_cpus=32", "min_memory_gb=64", "min_disk_gb=200", "data_path='/srv/aurigraph'", "min_docker='20.10'"} {
		assert.Contains(t, pre, want)
	}
}

func TestRefusalListsEveryShortfall(t *testing.T) {
	v := NewPreflightValues(sampleArgs())
	v.Host = "prod-app-01"
	f := Figures{CPUs: 2, MemoryGB: 23, DiskFreeGB: 79, OS: "debian", Kernel: "6.1.0"}
	assert.Equal(t, "host prod-app-01 refused: 2 CPU cores found, 32 required; 23 GB memory found, 64 required; 79 GB free disk on /srv/aurigraph found, 200 required", Refusal(v, f))
	f = Figures{CPUs: 64, MemoryGB: 256, DiskFreeGB: 900, OS: "centos", Kernel: "3.10.0", Docker: "19.03.5"}
	assert.Equal(t, "host prod-app-01 refused: OS centos found, one of debian ubuntu required; kernel 3.10.0 found, 4.19 required; Docker 19.03.5 found, 20.10 required", Refusal(v, f))
	f = Figures{CPUs: 32, MemoryGB: 64, DiskFreeGB: 200, OS: "ubuntu", Kernel: "5.15.0", Docker: "24.0.7"}
	assert.Empty(t, Refusal(v, f))
}

func TestFirewallOpensOnlyWhatTheRoleNeeds(t *testing.T) {
	a := sampleArgs()
	fv, err := NewFirewallValues(a)
	require.NoError(t, err)
	fw, err := RenderFirewall(fv)
	require.NoError(t, err)
	assert.NotContains(t, fw, "80, 443", "not the edge: no public web ports")
	assert.Contains(t, fw, "\n\t\ttcp dport 22 accept comment \"ssh\"\n", "no jump host: SSH from anywhere")
	assert.NotContains(t, fw, "ssh_from_v4")
	assert.Contains(t, fw, "elements = { 192.0.2.10, 192.0.2.41 }")
	assert.Contains(t, fw, "elements = { 2001:db8::5 }")
	assert.Contains(t, fw, "ip saddr @monitoring_v4 tcp dport { 9100, 9280, 9323 } accept")
	assert.Contains(t, fw, `iifname "docker_gwbridge"`, "prometheus scrapes its own host from a container")
	assert.Contains(t, fw, "ct original proto-dst 5514", "the logging host limits its log port to peers")
	assert.Contains(t, fw, "policy drop")
	assert.NotContains(t, fw, "flush ruleset", "Docker's rules must survive")

	a.PublicTCPPorts = []int{443, 80}
	a.MonitoringFrom = []string{"192.0.2.99"}
	a.LoggingTarget = "192.0.2.99"
	fv, err = NewFirewallValues(a)
	require.NoError(t, err)
	fw, err = RenderFirewall(fv)
	require.NoError(t, err)
	assert.Contains(t, fw, "tcp dport { 80, 443 } accept")
	assert.NotContains(t, fw, `iifname "docker_gwbridge"`)
	assert.NotContains(t, fw, "5514")
}

func TestDaemonJSON(t *testing.T) {
	j, err := RenderDaemonJSON("192.0.2.30")
	require.NoError(t, err)
	for _, want := range []string{`"metrics-addr": "192.0.2.30:9323"`, `"live-restore": false`, `"no-new-privileges": true`, `"max-size": "50m"`, `"Soft": 65536`} {
		assert.Contains(t, j, want)
	}
	_, err = RenderDaemonJSON("not-an-ip")
	assert.Error(t, err)
}

func TestInvalidInputsAreRefused(t *testing.T) {
	a := sampleArgs()
	a.Sysctls = map[string]string{"vm.max_map_count; rm -rf /": "1"}
	_, err := NewPrepareValues(a)
	assert.Error(t, err)
	a = sampleArgs()
	a.Dirs = append(a.Dirs, Dir{Path: "relative", Mode: "0750"})
	_, err = NewPrepareValues(a)
	assert.Error(t, err)
	a = sampleArgs()
	a.Dirs = append(a.Dirs, Dir{Path: "/srv/aurigraph/prometheus", UID: 1, Mode: "0750"})
	_, err = NewPrepareValues(a)
	assert.Error(t, err, "one directory, two owners")
}

func TestStepCommandRunsAsRoot(t *testing.T) {
	assert.Equal(t, `if [ "$(id -u)" -eq 0 ]; then exec bash -s -- 'apply'; else exec sudo -n bash -s -- 'apply'; fi`, StepCommand("apply", ""))
	assert.Contains(t, StepCommand("check", "/tmp/x y"), `-- 'check' '/tmp/x y'`)
}

func TestParseStepResults(t *testing.T) {
	rs := ParseStepResults("  write /etc/x\nstep=sysctl changed=yes mode=apply\nstep=dirs changed=no mode=check\n")
	assert.Equal(t, []StepResult{{"sysctl", true, "apply"}, {"dirs", false, "check"}}, rs)
}

// opt returns the value of ssh option name in opts ("" when absent).
func opt(opts []string, name string) string {
	for i := 0; i+1 < len(opts); i++ {
		if opts[i] == "-o" && strings.HasPrefix(opts[i+1], name+"=") {
			return strings.TrimPrefix(opts[i+1], name+"=")
		}
	}
	return ""
}

func TestDockerSSHOptsPinTheHostKeyWithoutFiles(t *testing.T) {
	a := sampleArgs()
	a.HostKey += " root@prod-obs-01" // a comment stays out of the pinned line
	opts := DockerSSHOpts(ConnectionSettings(a))
	assert.Equal(t, opts, DockerSSHOpts(ConnectionSettings(a)), "the same on every run: no provider diff")
	assert.Equal(t, "yes", opt(opts, "StrictHostKeyChecking"))
	assert.Equal(t, "yes", opt(opts, "BatchMode"))
	assert.Equal(t, "/dev/null", opt(opts, "UserKnownHostsFile"))
	assert.Equal(t, "/dev/null", opt(opts, "GlobalKnownHostsFile"))
	assert.Equal(t, `/bin/echo "198.51.100.30 `+sampleArgs().HostKey+`"`, opt(opts, "KnownHostsCommand"))
	assert.Equal(t, "SSH_AUTH_SOCK", opt(opts, "IdentityAgent"), "the key comes from the agent")
	assert.Equal(t, "none", opt(opts, "IdentityFile"), "no key file, not even ~/.ssh/id_*")
	assert.Equal(t, "", opt(opts, "ProxyCommand"))
	assert.Contains(t, strings.Join(opts, " "), "-F /dev/null", "the operator's ssh config changes nothing")

	a.Port = 2222
	assert.Equal(t, `/bin/echo "[198.51.100.30]:2222 `+sampleArgs().HostKey+`"`, opt(DockerSSHOpts(ConnectionSettings(a)), "KnownHostsCommand"))
}

// No option names a file but /dev/null and /bin/echo, and no option carries
// key material: the options are provider inputs, stored in the state.
func TestDockerSSHOptsNameNoFileAndNoKey(t *testing.T) {
	a := sampleArgs()
	a.PrivateKey = pulumi.String("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----")
	a.Jump = &Jump{Address: "203.0.113.5", Port: 22, User: "deploy", HostKey: "ssh-ed25519 AAAAjump"}
	for _, o := range DockerSSHOpts(ConnectionSettings(a)) {
		assert.NotContains(t, o, "PRIVATE KEY")
		assert.NotContains(t, o, "secret")
		assert.NotContains(t, o, ".ssh", "no key or known_hosts file")
		assert.NotContains(t, o, ".key")
		// Base64 host keys contain "/": every other "/" starts a path.
		for _, word := range strings.Fields(strings.ReplaceAll(o, a.HostKey, "")) {
			word = strings.Trim(word, `'"`)
			if i := strings.Index(word, "/"); i >= 0 {
				assert.Contains(t, []string{"/dev/null", "/bin/echo"}, word[i:], "in %q", o)
			}
		}
	}
}

func TestDockerSSHOptsPinTheJumpHostInsideProxyCommand(t *testing.T) {
	a := sampleArgs()
	a.Jump = &Jump{Address: "203.0.113.5", Port: 2200, User: "deploy", HostKey: "ssh-ed25519 AAAAjump"}
	opts := DockerSSHOpts(ConnectionSettings(a))
	proxy := opt(opts, "ProxyCommand")
	assert.Equal(t, `/bin/echo "198.51.100.30 `+a.HostKey+`"`, opt(opts, "KnownHostsCommand"), "the target's own key")
	// The jump's ssh gets every option of the target's, with the jump's key.
	assert.True(t, strings.HasPrefix(proxy, "'ssh' '-F' '/dev/null' '-o' 'BatchMode=yes' "), proxy)
	for _, o := range []string{"StrictHostKeyChecking=yes", "UserKnownHostsFile=/dev/null", "GlobalKnownHostsFile=/dev/null", "IdentityAgent=SSH_AUTH_SOCK", "IdentityFile=none"} {
		assert.Contains(t, proxy, " '-o' '"+o+"' ")
	}
	// One shell word, the line in double quotes for ssh's own word splitting.
	assert.Contains(t, proxy, ` '-o' 'KnownHostsCommand=/bin/echo "[203.0.113.5]:2200 ssh-ed25519 AAAAjump"' `)
	assert.True(t, strings.HasSuffix(proxy, ` '-l' 'deploy' '-p' '2200' '-W' '[%h]:%p' '--' '203.0.113.5'`), proxy)
	assert.NotContains(t, proxy, a.HostKey, "the jump's ssh trusts only the jump's key")

	// ssh expands % tokens: literal ones are doubled, twice for the jump's
	// KnownHostsCommand (the outer ssh expands ProxyCommand, the jump's ssh
	// its KnownHostsCommand).
	a.Jump.User = "de%ploy"
	a.Jump.Address = "jump%1"
	proxy = opt(DockerSSHOpts(ConnectionSettings(a)), "ProxyCommand")
	assert.Contains(t, proxy, `/bin/echo "[jump%%%%1]:2200 ssh-ed25519 AAAAjump"`)
	assert.True(t, strings.HasSuffix(proxy, ` '-l' 'de%%ploy' '-p' '2200' '-W' '[%h]:%p' '--' 'jump%%1'`), proxy)
}

// sshExpand is what OpenSSH does to a ProxyCommand before it runs it with
// $SHELL -c "exec …": %% becomes %, %h and %p the target; any other token
// is a fatal error in ssh.
func sshExpand(t *testing.T, cmd, host, port string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(cmd); i++ {
		if cmd[i] != '%' {
			b.WriteByte(cmd[i])
			continue
		}
		require.Less(t, i+1, len(cmd), "a lone %% ends %q", cmd)
		i++
		switch cmd[i] {
		case '%':
			b.WriteByte('%')
		case 'h':
			b.WriteString(host)
		case 'p':
			b.WriteString(port)
		default:
			t.Fatalf("ssh would refuse the unknown token %%%c in %q", cmd[i], cmd)
		}
	}
	return b.String()
}

// The rendered ProxyCommand runs through a real shell with a fake ssh that
// prints its argument vector: whatever the jump host's user and address
// hold, they arrive as exactly one argument each, after -l and after --,
// and nothing of them runs (stacks/validate.go refuses such values too;
// this proves the command does not depend on it).
func TestProxyCommandRunsNoInjectedText(t *testing.T) {
	bin, work := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "ssh"), []byte("#!/bin/sh\nfor a; do printf '%s\\0' \"$a\"; done\n"), 0o755))
	pwned := filepath.Join(work, "pwned")
	hostile := []string{
		"x; touch " + pwned,
		"$(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"a'b\"c",
		"u\ntouch " + pwned,
		"-oProxyCommand=touch " + pwned,
		"%h%p%%%",
		"| touch " + pwned + " &",
		"${IFS}touch${IFS}" + pwned,
	}
	for _, v := range hostile {
		a := sampleArgs()
		a.Jump = &Jump{Address: v, Port: 22, User: v, HostKey: "ssh-ed25519 AAAAjump"}
		proxy := opt(DockerSSHOpts(ConnectionSettings(a)), "ProxyCommand")
		cmd := exec.Command("sh", "-c", "exec "+sshExpand(t, proxy, "198.51.100.30", "22"))
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
		out, err := cmd.Output()
		require.NoError(t, err, v)
		argv := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		require.GreaterOrEqual(t, len(argv), 8, v)
		tail := argv[len(argv)-8:]
		assert.Equal(t, []string{"-l", v, "-p", "22", "-W", "[198.51.100.30]:22", "--", v}, tail, "%q arrives as one argument", v)
		assert.NoFileExists(t, pwned, "%q ran a command", v)
	}
}

// sshRules are the input chain's rules for the SSH port.
func sshRules(fw string, port string) []string {
	return regexp.MustCompile(`(?m)^\t\t.*tcp dport `+port+` accept.*$`).FindAllString(fw, -1)
}

func TestSSHOnlyFromTheJumpHostAndPeers(t *testing.T) {
	a := sampleArgs()
	a.Port = 2222
	a.Jump = &Jump{Address: "203.0.113.5", Port: 22, User: "deploy"}
	v, err := NewFirewallValues(a)
	require.NoError(t, err)
	assert.True(t, v.SSHRestricted)
	fw, err := RenderFirewall(v)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"\t\tip saddr @ssh_from_v4 tcp dport 2222 accept comment \"ssh\"",
		"\t\tip6 saddr @ssh_from_v6 tcp dport 2222 accept comment \"ssh\"",
		"\t\tip saddr @cluster_peers_v4 tcp dport 2222 accept comment \"ssh from peers\"",
		"\t\tip6 saddr @cluster_peers_v6 tcp dport 2222 accept comment \"ssh from peers\"",
	}, sshRules(fw, "2222"), "every SSH rule names its sources")
	assert.Contains(t, fw, "set ssh_from_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 203.0.113.5 }\n\t}")
	assert.Contains(t, fw, "elements = { 192.0.2.10, 192.0.2.41 }", "the peers, who may also SSH in")

	// The allow-list adds the operator's ranges; covered entries go (nft
	// refuses overlapping intervals), IPv6 lands in its own set.
	a.SSHAllowFrom = []string{"10.1.2.3", "10.0.0.0/8", "2001:db8:1::7/48", "203.0.113.5/32", "::ffff:198.51.100.7"}
	v, err = NewFirewallValues(a)
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.0/8", "198.51.100.7", "203.0.113.5"}, v.SSHFromV4)
	assert.Equal(t, []string{"2001:db8:1::/48"}, v.SSHFromV6)
	fw, err = RenderFirewall(v)
	require.NoError(t, err)
	assert.Contains(t, fw, "elements = { 10.0.0.0/8, 198.51.100.7, 203.0.113.5 }")
	assert.Contains(t, fw, "elements = { 2001:db8:1::/48 }")

	// An allow-list alone restricts SSH too (no jump host).
	a.Jump = nil
	a.SSHAllowFrom = []string{"198.51.100.0/24"}
	v, err = NewFirewallValues(a)
	require.NoError(t, err)
	assert.True(t, v.SSHRestricted)
	assert.Equal(t, []string{"198.51.100.0/24"}, v.SSHFromV4)
	assert.Empty(t, v.SSHFromV6)

	// A jump host named by DNS cannot be put in a set: the allow-list must
	// say where it connects from, or the host is refused.
	a.Jump = &Jump{Address: "bastion.example.net", Port: 22, User: "deploy"}
	a.SSHAllowFrom = nil
	_, err = NewFirewallValues(a)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `jump host "bastion.example.net" is not an IP address`)
	_, err = NewPrepareValues(a)
	assert.Error(t, err, "the preparation refuses it too")
	a.SSHAllowFrom = []string{"203.0.113.0/28"}
	v, err = NewFirewallValues(a)
	require.NoError(t, err)
	assert.Equal(t, []string{"203.0.113.0/28"}, v.SSHFromV4)

	a.SSHAllowFrom = []string{"10.0.0.0/33"}
	_, err = NewFirewallValues(a)
	assert.ErrorContains(t, err, `"10.0.0.0/33" is neither an IP address nor a CIDR prefix`)
	a.SSHAllowFrom = []string{"fe80::1%eth0"}
	_, err = NewFirewallValues(a)
	assert.ErrorContains(t, err, `"fe80::1%eth0" is neither an IP address nor a CIDR prefix`, "a zone ID never reaches nftables")

	// Hand-built values are checked before they reach the ruleset.
	_, err = RenderFirewall(FirewallValues{Host: "h", SSHPort: 22, SSHRestricted: true, SSHFromV4: []string{"1.2.3.4 } accept"}})
	assert.Error(t, err)
	_, err = RenderFirewall(FirewallValues{Host: "h", SSHPort: 22, SSHRestricted: true})
	assert.ErrorContains(t, err, "unreachable")
}

func TestExportersStepInstallsContainerMetrics(t *testing.T) {
	v, err := NewPrepareValues(sampleArgs())
	require.NoError(t, err)
	script, err := RenderStep(v, "exporters")
	require.NoError(t, err)
	// The script travels verbatim (no template processing of its text).
	assert.Contains(t, script, "\n"+strings.TrimRight(ContainerMetricsScript, "\n")+"\nAURIGRAPH_EOF\n")
	assert.Contains(t, ContainerMetricsScript, `--format '{{.Id}} {{.Name}} {{.RestartCount}}'`)
	assert.Contains(t, ContainerMetricsScript, `printf "`+ContainerRestartsMetric+`{name=`, "the name the restart loop alert selects on")
	for _, want := range []string{
		"ensure_file /usr/local/lib/aurigraph/container-metrics 0755 0:0",
		"ensure_file /etc/systemd/system/aurigraph-container-metrics.service 0644 0:0",
		"ensure_file /etc/systemd/system/aurigraph-container-metrics.timer 0644 0:0",
		`local units="prometheus-node-exporter aurigraph-container-metrics.timer aurigraph-cert-metrics.timer aurigraph-logging-metrics.timer"`,
		// Every 15 s from the last run, at once after boot or (re)start.
		"[Timer]\nOnBootSec=15s\nOnUnitActiveSec=15s\nAccuracySec=1s\n",
		"WantedBy=timers.target",
		"Type=oneshot\nEnvironment=TEXTFILE_DIR=/var/lib/prometheus/node-exporter\nExecStart=/usr/local/lib/aurigraph/container-metrics\n",
		"ExecStart=/usr/bin/prometheus-node-exporter --web.listen-address=192.0.2.30:9100 --collector.textfile.directory=/var/lib/prometheus/node-exporter\n",
	} {
		assert.Contains(t, script, want)
	}
	assert.Equal(t, 1, strings.Count(script, "step() {"))
}

func TestExportersStepInstallsCertificateAndLoggingMetrics(t *testing.T) {
	a := sampleArgs()
	a.LogProbe = LogProbe{ElasticsearchContainer: "elasticsearch", ElasticsearchURL: "https://localhost:9200",
		ElasticsearchCA: "/usr/share/elasticsearch/config/certs/ca.crt", PasswordFile: "/run/secrets/elastic-password",
		LogstashContainer: "logstash", LogstashAPI: "http://127.0.0.1:9600"}
	v, err := NewPrepareValues(a)
	require.NoError(t, err)
	script, err := RenderStep(v, "exporters")
	require.NoError(t, err)
	for _, s := range []string{CertMetricsScript, LoggingMetricsScript} {
		assert.Contains(t, script, "\n"+strings.TrimRight(s, "\n")+"\nAURIGRAPH_EOF\n", "verbatim")
	}
	// The names the alert rules select on.
	assert.Contains(t, CertMetricsScript, `printf "`+CertExpiryMetric+`{path=`)
	assert.Contains(t, LoggingMetricsScript, `printf '`+ElasticsearchHealthMetric+`{color=`)
	assert.Contains(t, LoggingMetricsScript, `echo "`+LogstashEventsMetric+` $in"`)
	for _, want := range []string{
		"ensure_file " + CertMetricsPath + " 0755 0:0",
		"ensure_file /etc/systemd/system/" + CertMetricsUnit + ".timer 0644 0:0",
		"ensure_file " + LoggingMetricsPath + " 0755 0:0",
		"ensure_file /etc/systemd/system/" + LoggingMetricsUnit + ".service 0644 0:0",
		// The data path of the host is where its certificates are.
		"Environment=CERT_ROOT=" + a.DataPath + "\n",
		"Environment=ES_CONTAINER=elasticsearch\nEnvironment=ES_URL=https://localhost:9200\nEnvironment=ES_CA=/usr/share/elasticsearch/config/certs/ca.crt\nEnvironment=ES_PASSWORD_FILE=/run/secrets/elastic-password\nEnvironment=LOGSTASH_CONTAINER=logstash\nEnvironment=LOGSTASH_API=http://127.0.0.1:9600\n",
		"OnBootSec=2min\nOnUnitActiveSec=1h\n", "OnBootSec=2min\nOnUnitActiveSec=1min\n",
	} {
		assert.Contains(t, script, want)
	}
	// A host without the log pipeline: no settings for it at all.
	v, err = NewPrepareValues(sampleArgs())
	require.NoError(t, err)
	script, err = RenderStep(v, "exporters")
	require.NoError(t, err)
	assert.NotContains(t, script, "Environment=ES_")
	assert.NotContains(t, script, "Environment=LOGSTASH_")
	// Values reach systemd unquoted: anything else is refused.
	a.LogProbe.ElasticsearchURL = "https://localhost:9200 ExecStart=/bin/sh"
	_, err = NewPrepareValues(a)
	assert.ErrorContains(t, err, "ES_URL")
}
