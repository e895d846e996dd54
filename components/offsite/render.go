// Package offsite copies a host's backups to a second failure domain,
// encrypted on the host with restic: an SFTP repository on another machine
// whose host key is pinned, with hourly/daily/weekly/monthly retention and
// a regular check of the repository.
package offsite

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/internal/shell"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("offsite").Funcs(template.FuncMap{"shq": shell.Quote,
	"recordRun": func() string { return backupjob.RecordRun }}).
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

// Values parameterise offsite.sh.
type Values struct {
	Store    string   // the backupjob store whose runs the script records
	Paths    []string // directories copied whole in each snapshot
	Tag      string   // snapshots' tag: what forget groups and restore picks
	StateDir string   // repository-password, ssh-key, known_hosts, restic's cache
	SFTP     SFTP
	// Snapshots kept: the newest per hour, day, week and month.
	KeepHourly, KeepDaily, KeepWeekly, KeepMonthly int
}

// Repository is restic's name for the SFTP repository.
func (v Values) Repository() string {
	return fmt.Sprintf("sftp:%s@%s:%s", v.SFTP.User, v.SFTP.Host, v.SFTP.Path)
}

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
)

// Validate reports values that would make the script unsafe: the SFTP
// command line is split by restic, so its parts are plain words.
func (v Values) Validate() error {
	var p []string
	if len(v.Paths) == 0 {
		p = append(p, "at least one path is copied")
	}
	for _, d := range append([]string{v.StateDir, v.SFTP.Path}, v.Paths...) {
		if !plainPath.MatchString(d) {
			p = append(p, fmt.Sprintf("%q is not an absolute plain path", d))
		}
	}
	if !storeWord.MatchString(v.Store) {
		p = append(p, fmt.Sprintf("store %q must be a lower-case word", v.Store))
	}
	if !plainWord.MatchString(v.Tag) || !plainWord.MatchString(v.SFTP.User) || !plainWord.MatchString(strings.Trim(v.SFTP.Host, "[]")) {
		p = append(p, "tag, user and host must be plain words")
	}
	if v.SFTP.Port < 1 || v.SFTP.Port > 65535 {
		p = append(p, "port must be 1..65535")
	}
	if !hostKey.MatchString(v.SFTP.HostKey) {
		p = append(p, "the host key must be one public key line (type and base64)")
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
