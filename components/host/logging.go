package host

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"sort"

	"github.com/aurigraph/infra/components/container"
)

// Log forwarding. Every host's rsyslog sends Logstash one JSON object per
// line (JSON lines, LF-delimited, UTF-8) over TCP with TLS: the stack's CA
// on both sides, the host's own client certificate, the receiver checked by
// name (LoggingPeer). Logstash reads it with the json_lines codec; its
// routing keys on these fields, which is why they are declared here, where
// they are produced, and imported by components/logstash:
//
//	@timestamp         the event's time, RFC 3339
//	message            the line (a container's line keeps Docker's trailing newline)
//	host.name          the sending host (HostArgs.Name)
//	event.dataset      DatasetContainer | DatasetFile | DatasetJournal
//	service.name       container: its ServiceLabel; file: LogFile.Service; journal: absent
//	container.name     container: its name (json-file "tag" attribute)
//	docker.stream      container: stdout | stderr
//	log.file.path      container and file: the file the line was read from
//	process.name       journal: the program (syslog tag)
//	log.syslog.severity.name, log.syslog.facility.name   journal
const (
	DatasetContainer = "docker"
	DatasetFile      = "file"
	DatasetJournal   = "journal"
	// ContainerLogGlob: Docker's json-file logs, one directory per container.
	ContainerLogGlob = "/var/lib/docker/containers/*/*-json.log"
	// ContainerNameAttr is the json-file attribute holding the container's
	// name (container.LogTag sets it).
	ContainerNameAttr = "tag"
	// LogTLSDir holds the forwarding's CA, client certificate and key
	// (root, 0600): written by a secret file step after the preparation.
	LogTLSDir   = "/etc/aurigraph/log-forwarding"
	LogCAPath   = LogTLSDir + "/ca.crt"
	LogCertPath = LogTLSDir + "/client.crt"
	LogKeyPath  = LogTLSDir + "/client.key"
	// RsyslogConfPath and LogrotateConfPath are the files the logging step writes.
	RsyslogConfPath   = "/etc/rsyslog.d/60-aurigraph.conf"
	LogrotateConfPath = "/etc/logrotate.d/aurigraph"
	// RsyslogRestart restarts rsyslog after new TLS material (the secret
	// file step runs it; $SUDO is that step's privilege prefix).
	RsyslogRestart = "$SUDO systemctl try-restart rsyslog"
)

// LogFile is a log file on the host (a service's mounted log directory)
// that rsyslog follows besides the containers' own logs.
type LogFile struct {
	// Glob: absolute; '*' may stand for directories (the application's
	// replicas) and file names.
	Glob string
	// Service is the service.name its lines carry.
	Service string
	// Reopen, when set, makes logrotate rotate the files daily and then run
	// it so the writer reopens its file (Vault: SIGHUP). Empty: the writer
	// rotates its own files (the application's file handler).
	Reopen string
}

// RsyslogValues: where and what a host forwards.
type RsyslogValues struct {
	Host string
	// Target and Port: the logging host's cluster address and Logstash's port.
	Target string
	Port   int
	// PeerName is the name in Logstash's certificate (x509/name check).
	PeerName string
	// TLS material on the host.
	CAFile, CertFile, KeyFile string
	ContainerGlob             string // ContainerLogGlob; tests point it elsewhere
	Files                     []LogFile
	// Dataset values and the container name attribute, for the template.
	DatasetContainer, DatasetFile, DatasetJournal, NameAttr, ServiceAttr string
}

// NewRsyslogValues is a host's forwarding, with the real paths.
func NewRsyslogValues(a HostArgs) RsyslogValues {
	return RsyslogValues{
		Host: a.Name, Target: a.LoggingTarget, Port: a.LoggingPort, PeerName: a.LoggingPeer,
		CAFile: LogCAPath, CertFile: LogCertPath, KeyFile: LogKeyPath,
		ContainerGlob: ContainerLogGlob, Files: a.LogFiles,
	}
}

var (
	logNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	logGlobRE = regexp.MustCompile(`^/[A-Za-z0-9_.*/-]+$`)
)

// RenderRsyslog renders the rsyslog forwarding (checked by `rsyslogd -N1`).
func RenderRsyslog(v RsyslogValues) (string, error) {
	if _, err := netip.ParseAddr(v.Target); err != nil {
		return "", fmt.Errorf("rsyslog %s: logging target %q: %w", v.Host, v.Target, err)
	}
	if v.Port < 1 || v.Port > 65535 {
		return "", fmt.Errorf("rsyslog %s: logging port %d is not a port (HostArgs.LoggingPort)", v.Host, v.Port)
	}
	if !logNameRE.MatchString(v.Host) || !logNameRE.MatchString(v.PeerName) {
		return "", fmt.Errorf("rsyslog %s: host name and the receiver's certificate name %q must be plain names (HostArgs.LoggingPeer)", v.Host, v.PeerName)
	}
	for _, p := range []string{v.CAFile, v.CertFile, v.KeyFile, v.ContainerGlob} {
		if !logGlobRE.MatchString(p) {
			return "", fmt.Errorf("rsyslog %s: %q is not a plain absolute path", v.Host, p)
		}
	}
	files, err := checkLogFiles(v.Host, v.Files)
	if err != nil {
		return "", err
	}
	v.Files = files
	v.DatasetContainer, v.DatasetFile, v.DatasetJournal = DatasetContainer, DatasetFile, DatasetJournal
	v.NameAttr, v.ServiceAttr = ContainerNameAttr, container.ServiceLabel
	return render("rsyslog.conf.tmpl", v)
}

// RenderLogrotate rotates the files whose writer reopens on a command; ""
// when there are none.
func RenderLogrotate(host string, files []LogFile) (string, error) {
	files, err := checkLogFiles(host, files)
	if err != nil {
		return "", err
	}
	var rotated []LogFile
	for _, f := range files {
		if f.Reopen != "" {
			rotated = append(rotated, f)
		}
	}
	if len(rotated) == 0 {
		return "", nil
	}
	return render("logrotate.conf.tmpl", rotated)
}

var reopenRE = regexp.MustCompile(`^[A-Za-z0-9_.:/= -]+$`)

func checkLogFiles(host string, files []LogFile) ([]LogFile, error) {
	out := append([]LogFile{}, files...)
	sort.Slice(out, func(i, j int) bool { return out[i].Glob < out[j].Glob })
	for i, f := range out {
		if !logGlobRE.MatchString(f.Glob) || path.Clean(f.Glob) != f.Glob || !logNameRE.MatchString(f.Service) {
			return nil, fmt.Errorf("rsyslog %s: log file %q (service %q): a clean absolute glob and a plain service name are required", host, f.Glob, f.Service)
		}
		if f.Reopen != "" && !reopenRE.MatchString(f.Reopen) {
			return nil, fmt.Errorf("rsyslog %s: reopen command %q of %s must be a plain command", host, f.Reopen, f.Glob)
		}
		if i > 0 && out[i-1].Glob == f.Glob {
			return nil, fmt.Errorf("rsyslog %s: log file %s is listed twice", host, f.Glob)
		}
	}
	return out, nil
}
