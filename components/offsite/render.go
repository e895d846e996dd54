// Package offsite copies a host's backups to a second failure domain,
// encrypted on the host with restic: an SFTP repository on another machine
// whose host key is pinned and/or an S3-compatible bucket, with
// hourly/daily/weekly/monthly retention and a regular check of each
// repository.
package offsite

import (
	"bytes"
	"embed"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strings"
	"text/template"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/internal/shell"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("offsite").Funcs(template.FuncMap{"shq": shell.Quote,
	"recordRun":    func() string { return backupjob.RecordRun },
	"passwordFile": func() string { return PasswordFile }, "sshKeyFile": func() string { return SSHKeyFile },
	"s3KeyIDFile": func() string { return S3AccessKeyIDFile }, "s3SecretFile": func() string { return S3SecretAccessKeyFile }}).
	ParseFS(templateFS, "templates/*.tmpl"))

// CheckSubset is the share of the repository's data `offsite.sh check`
// reads and decrypts each run, besides the structure it always checks:
// a weekly check reads all of it in about ten weeks.
const CheckSubset = "10%"

// SFTP is the repository's host: restic logs in as User with the key in
// StateDir/ssh-key and accepts only HostKey.
type SFTP struct {
	Host    string // address or name
	Port    int
	User    string
	Path    string // repository directory on that host
	HostKey string // "ssh-ed25519 AAAA…"
}

// S3 is an S3-compatible bucket: restic signs its requests with the keys
// in StateDir/s3-access-key-id and StateDir/s3-secret-access-key.
type S3 struct {
	Endpoint string // "https://host[:port]"; plain http only on loopback (CheckEndpoint)
	Bucket   string
	Prefix   string // key prefix inside the bucket, "" or "a/b" (no slash at either end)
	Region   string // "" lets restic ask the endpoint
}

// Configured reports whether the copies go to the bucket.
func (s S3) Configured() bool { return s.Endpoint != "" }

// Target names: offsite.sh's first argument picks one.
const (
	TargetSFTP = "sftp"
	TargetS3   = "s3"
)

// kindPrefix is each target's job kinds' prefix (offsite-copy, s3-copy):
// each target has its own records, so one failing alerts on its own.
var kindPrefix = map[string]string{TargetSFTP: "offsite", TargetS3: "s3"}

// Kind is the job kind of a target's mode (copy, forget, check).
func Kind(target, mode string) string { return kindPrefix[target] + "-" + mode }

// Target is one repository of a store's copies.
type Target struct {
	Name       string // TargetSFTP or TargetS3
	Repository string // restic's name of it
}

// Values parameterise offsite.sh.
type Values struct {
	Store    string   // the backupjob store whose runs the script records
	Paths    []string // directories copied whole in each snapshot
	Tag      string   // snapshots' tag: what forget groups and restore picks
	StateDir string   // repository-password, ssh-key, s3 keys, known_hosts, restic's cache
	SFTP     SFTP     // used when SFTP.Host is set
	S3       S3       // used when S3.Endpoint is set
	// Snapshots kept: the newest per hour, day, week and month.
	KeepHourly, KeepDaily, KeepWeekly, KeepMonthly int
}

// Repository is restic's name for the SFTP repository.
func (v Values) Repository() string {
	return fmt.Sprintf("sftp:%s@%s:%s", v.SFTP.User, v.SFTP.Host, v.SFTP.Path)
}

// S3Repository is restic's name for the S3 repository:
// s3:<endpoint>/<bucket>/<prefix>.
func (v Values) S3Repository() string {
	return "s3:" + strings.TrimSuffix(v.S3.Endpoint, "/") + "/" + path.Join(v.S3.Bucket, v.S3.Prefix)
}

// Targets are the configured repositories, the default (SFTP when it is
// configured) first.
func (v Values) Targets() []Target {
	var ts []Target
	if v.SFTP.Host != "" {
		ts = append(ts, Target{TargetSFTP, v.Repository()})
	}
	if v.S3.Configured() {
		ts = append(ts, Target{TargetS3, v.S3Repository()})
	}
	return ts
}

// Modes are the scheduled modes, each recorded under Kind(target, mode).
func (Values) Modes() []string {
	var ms []string
	for _, j := range jobs {
		ms = append(ms, j.Mode)
	}
	return ms
}

// Kind is the template's view of the package function.
func (Values) Kind(target, mode string) string { return Kind(target, mode) }

// KnownHost is the known_hosts name of the target (with its port unless 22).
func (v Values) KnownHost() string {
	if v.SFTP.Port == 22 {
		return v.SFTP.Host
	}
	return fmt.Sprintf("[%s]:%d", v.SFTP.Host, v.SFTP.Port)
}

// CheckSubset is the template's view of the package constant.
func (Values) CheckSubset() string { return CheckSubset }

// MaxAgeSeconds is a job kind's alert allowance, for record_run.
func (Values) MaxAgeSeconds(kind string) int64 { return int64(MaxAge(kind).Seconds()) }

var (
	plainPath = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)
	plainWord = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	storeWord = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	hostKey   = regexp.MustCompile(`^ssh-[a-z0-9-]+ [A-Za-z0-9+/=]+$|^ecdsa-sha2-nistp[0-9]+ [A-Za-z0-9+/=]+$`)
	// S3's bucket naming rules (lower-case letters, digits, '.', '-', 3-63
	// characters, a letter or digit at both ends); the rest in CheckBucket.
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	keyPrefix  = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
	region     = regexp.MustCompile(`^[a-z0-9-]*$`)
	endpoint   = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)
)

// CheckEndpoint reports why an S3 endpoint is refused: it is a scheme and
// a host (an optional port), no path, no credentials; https, since plain
// http lets anyone on the way read the access key id and the signed
// requests and drop or replay them (restic's encryption keeps the content
// secret, not the repository whole). Plain http is taken only on loopback
// (127.0.0.0/8, localhost), which never leaves the host: a local
// gateway or a test server.
func CheckEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("is not a URL such as https://s3.example.net")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must be a scheme and a host only (no credentials, path or query): the bucket and prefix are their own fields")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("scheme %q is neither https nor http", u.Scheme)
	}
	if !endpoint.MatchString(strings.TrimSuffix(raw, "/")) {
		return fmt.Errorf("must be https://host[:port] with a plain host name or IPv4 address")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("uses plain http to %s: the access key id and signed requests would cross the network readable and replayable; only loopback may use http", u.Hostname())
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

// CheckBucket reports why a bucket name breaks S3's naming rules.
func CheckBucket(name string) error {
	switch {
	case !bucketName.MatchString(name):
		return fmt.Errorf("must be 3-63 lower-case letters, digits, '.' or '-', starting and ending with a letter or digit")
	case strings.Contains(name, ".."):
		return fmt.Errorf("must not hold two adjacent dots")
	case net.ParseIP(name) != nil:
		return fmt.Errorf("must not look like an IP address")
	case strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-") ||
		strings.HasSuffix(name, "-s3alias") || strings.HasSuffix(name, "--ol-s3"):
		return fmt.Errorf("uses a prefix or suffix S3 reserves (xn--, sthree-, -s3alias, --ol-s3)")
	}
	return nil
}

// CheckPrefix reports why a key prefix is refused: plain words joined by
// single slashes, no '.' or '..' part.
func CheckPrefix(p string) error {
	if p == "" {
		return nil
	}
	if !keyPrefix.MatchString(p) || path.Clean(p) != p || strings.HasPrefix(p, ".") || strings.Contains(p, "/.") {
		return fmt.Errorf("must be words of letters, digits, '.', '_', '-' joined by single slashes, with no slash at either end and no '.' or '..' part")
	}
	return nil
}

// CheckRegion reports why a region name is refused.
func CheckRegion(r string) error {
	if !region.MatchString(r) || len(r) > 64 {
		return fmt.Errorf("must be a region name such as eu-central-1 (lower-case letters, digits, '-')")
	}
	return nil
}

// Validate reports values that would make the script unsafe: the SFTP
// command line is split by restic, so its parts are plain words.
func (v Values) Validate() error {
	var p []string
	if len(v.Paths) == 0 {
		p = append(p, "at least one path is copied")
	}
	if len(v.Targets()) == 0 {
		p = append(p, "an SFTP host or an S3 endpoint is required")
	}
	dirs := []string{v.StateDir}
	if v.SFTP.Host != "" {
		dirs = append(dirs, v.SFTP.Path)
	}
	for _, d := range append(dirs, v.Paths...) {
		if !plainPath.MatchString(d) {
			p = append(p, fmt.Sprintf("%q is not an absolute plain path", d))
		}
	}
	if !storeWord.MatchString(v.Store) {
		p = append(p, fmt.Sprintf("store %q must be a lower-case word", v.Store))
	}
	if !plainWord.MatchString(v.Tag) {
		p = append(p, "the tag must be a plain word")
	}
	if v.SFTP.Host != "" {
		if !plainWord.MatchString(v.SFTP.User) || !plainWord.MatchString(strings.Trim(v.SFTP.Host, "[]")) {
			p = append(p, "user and host must be plain words")
		}
		if v.SFTP.Port < 1 || v.SFTP.Port > 65535 {
			p = append(p, "port must be 1..65535")
		}
		if !hostKey.MatchString(v.SFTP.HostKey) {
			p = append(p, "the host key must be one public key line (type and base64)")
		}
	}
	if v.S3.Configured() {
		for _, c := range []struct {
			what string
			err  error
		}{{"endpoint", CheckEndpoint(v.S3.Endpoint)}, {"bucket", CheckBucket(v.S3.Bucket)},
			{"prefix", CheckPrefix(v.S3.Prefix)}, {"region", CheckRegion(v.S3.Region)}} {
			if c.err != nil {
				p = append(p, fmt.Sprintf("S3 %s %s", c.what, c.err))
			}
		}
	}
	if v.KeepHourly < 0 || v.KeepDaily < 1 || v.KeepWeekly < 0 || v.KeepMonthly < 0 {
		p = append(p, "retention counts must be >= 0, with at least one daily snapshot")
	}
	if len(p) > 0 {
		return fmt.Errorf("offsite: %s", strings.Join(p, "; "))
	}
	return nil
}

// RenderScript renders offsite.sh.
func RenderScript(v Values) (string, error) {
	if err := v.Validate(); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "offsite.sh.tmpl", v); err != nil {
		return "", err
	}
	return b.String(), nil
}
