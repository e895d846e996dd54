package host

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
)

func rsyslogValues() RsyslogValues {
	return NewRsyslogValues(sampleArgs())
}

// The forwarding sends JSON lines over TLS to the logging host, checking
// Logstash's name, with the host's own certificate files; every container
// log, every service log file and the journal go through the one action.
func TestRsyslogForwardsJSONLinesOverTLS(t *testing.T) {
	conf, err := RenderRsyslog(rsyslogValues())
	require.NoError(t, err)
	omfwd := regexp.MustCompile(`(?s)action\(type="omfwd".*?\)\n`).FindAllString(conf, -1)
	require.Len(t, omfwd, 1, "one forwarding action, one queue")
	for _, want := range []string{
		`target="192.0.2.30" port="5514" protocol="tcp" template="AurigraphEvent"`,
		`StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="logstash"`,
		`StreamDriver.CAFile="` + LogCAPath + `" StreamDriver.CertFile="` + LogCertPath + `" StreamDriver.KeyFile="` + LogKeyPath + `"`,
		`queue.type="LinkedList"`, `queue.saveOnShutdown="on"`, `action.resumeRetryCount="-1"`,
	} {
		assert.Contains(t, omfwd[0], want)
	}
	inputs := regexp.MustCompile(`(?m)^input\(type="imfile" File="([^"]+)" Tag="([^"]+)".* ruleset="([^"]+)"\)$`).FindAllStringSubmatch(conf, -1)
	var got [][3]string
	for _, m := range inputs {
		got = append(got, [3]string{m[1], m[2], m[3]})
	}
	assert.Equal(t, [][3]string{
		{ContainerLogGlob, "docker", "aurigraph_container"},
		{"/srv/aurigraph/aurigraph-v11/*/logs/*.log", "aurigraph-v11", "aurigraph_file"},
		{"/srv/aurigraph/vault/logs/audit.log", "vault", "aurigraph_file"},
	}, got, "containers first, then the files sorted by path")
	assert.Equal(t, 3, strings.Count(conf, "call aurigraph_send"), "containers, files and journal all send")
	assert.True(t, strings.HasSuffix(strings.TrimSpace(conf), "call aurigraph_journal"), "the default ruleset (the journal) is forwarded")
	assert.Contains(t, conf, `$!docker!attrs!`+container.ServiceLabel, "the service comes from the container's label")
	assert.Contains(t, conf, `$!docker!attrs!`+ContainerNameAttr, "the name from the json-file tag")
	for _, d := range []string{DatasetContainer, DatasetFile, DatasetJournal} {
		assert.Contains(t, conf, `set $!aurigraph!event!dataset = "`+d+`";`)
	}
	again, err := RenderRsyslog(rsyslogValues())
	require.NoError(t, err)
	assert.Equal(t, conf, again, "deterministic")
}

func TestRsyslogRefusesWhatItCannotQuote(t *testing.T) {
	for name, mutate := range map[string]func(*RsyslogValues){
		"no peer name":     func(v *RsyslogValues) { v.PeerName = "" },
		"quoted peer":      func(v *RsyslogValues) { v.PeerName = `logstash" StreamDriverMode="0` },
		"target not an IP": func(v *RsyslogValues) { v.Target = "logstash" },
		"relative key":     func(v *RsyslogValues) { v.KeyFile = "client.key" },
		"glob with quote":  func(v *RsyslogValues) { v.Files = []LogFile{{Glob: `/srv/"x`, Service: "vault"}} },
		"unclean glob":     func(v *RsyslogValues) { v.Files = []LogFile{{Glob: "/srv/../etc/shadow", Service: "vault"}} },
		"no service":       func(v *RsyslogValues) { v.Files = []LogFile{{Glob: "/srv/a.log"}} },
		"twice": func(v *RsyslogValues) {
			v.Files = []LogFile{{Glob: "/srv/a.log", Service: "a"}, {Glob: "/srv/a.log", Service: "b"}}
		},
	} {
		v := rsyslogValues()
		mutate(&v)
		_, err := RenderRsyslog(v)
		assert.Error(t, err, name)
	}
}

// Only the files whose writer reopens on a command are rotated by the
// host, with that command after the rotation.
func TestLogrotateRotatesOnlyFilesWithAReopenCommand(t *testing.T) {
	a := sampleArgs()
	conf, err := RenderLogrotate(a.Name, a.LogFiles)
	require.NoError(t, err)
	assert.Contains(t, conf, "/srv/aurigraph/vault/logs/audit.log {\n")
	assert.Contains(t, conf, "\t\tdocker kill --signal HUP vault >/dev/null 2>&1 || true\n")
	assert.NotContains(t, conf, "aurigraph-v11", "the application rotates its own files")
	none, err := RenderLogrotate(a.Name, a.LogFiles[1:])
	require.NoError(t, err)
	assert.Empty(t, none)
	_, err = RenderLogrotate(a.Name, []LogFile{{Glob: "/srv/a.log", Service: "a", Reopen: "kill $(pidof a)"}})
	assert.Error(t, err, "a reopen command with shell syntax")
}

// The logging step installs the TLS driver and logrotate, writes both
// files, and leaves the TLS directory to the secret file step.
func TestLoggingStepWritesForwardingAndRotation(t *testing.T) {
	v, err := NewPrepareValues(sampleArgs())
	require.NoError(t, err)
	script, err := RenderStep(v, "logging")
	require.NoError(t, err)
	assert.Contains(t, script, "ensure_packages rsyslog rsyslog-gnutls logrotate")
	assert.Contains(t, script, "ensure_dir "+LogTLSDir+" 0700 0:0")
	assert.Contains(t, script, "ensure_file "+RsyslogConfPath+" 0644 0:0")
	assert.Contains(t, script, "ensure_file "+LogrotateConfPath+" 0644 0:0")
	assert.NotContains(t, script, "BEGIN", "no key material in the preparation")

	a := sampleArgs()
	a.LogFiles = nil
	v, err = NewPrepareValues(a)
	require.NoError(t, err)
	script, err = RenderStep(v, "logging")
	require.NoError(t, err)
	assert.Contains(t, script, "ensure_absent "+LogrotateConfPath)
}
