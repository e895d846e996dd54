package configfile

import (
	"encoding/base64"
	"fmt"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"path"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/internal/shell"
)

// SecretArgs writes one secret file (a private key, a certificate chain) on a host.
type SecretArgs struct {
	Host    *host.Host
	Path    string
	Content pulumi.StringInput // kept secret: it travels on stdin, never in a command line
	Owner   string             // uid:gid that reads it inside the container, e.g. "101:101"
	Mode    string             // e.g. "0600"
}

// NewSecret writes one file whose reader needs no reload (it reads the file
// per request, or starts after it): a set of one.
func NewSecret(ctx *pulumi.Context, name string, a SecretArgs, opts ...pulumi.ResourceOption) (*remote.Command, error) {
	return writeSecrets(ctx, name, SecretsArgs{Host: a.Host, Files: []Secret{
		{Path: a.Path, Content: a.Content, Owner: a.Owner, Mode: a.Mode},
	}}, opts...)
}

// Secret is one secret file of a set.
type Secret struct {
	Path    string
	Content pulumi.StringInput
	Owner   string // default 0:0
	Mode    string // default 0600
}

// SecretsArgs writes several secret files for one reader.
type SecretsArgs struct {
	Host  *host.Host
	Files []Secret
	// Reload runs after the files are written (a rotated certificate), only
	// while Container is running; empty for readers that need none. With no
	// Container the reader is a host service (rsyslog) and Reload runs as
	// is; it may use $SUDO.
	Container string
	Reload    string
	// KeyPair, when set, names the certificate and private key among Files:
	// both must parse and the key must be the certificate's before either
	// file replaces the live one.
	KeyPair *KeyPair
	// Validate, when set, tests the new files with their reader (as for a
	// plain set) before any of them replaces a live one; the candidate
	// directory holding them lives only for the check.
	Validate *Validate
	// Dir, when set, is made (or fixed) with this owner and mode before
	// any file is written: a directory a container mounts must let its
	// user in, and nobody else.
	Dir *SecretFile
}

// KeyPair is a certificate and its private key (live paths of a set).
type KeyPair struct{ Cert, Key string }

// NewSecrets writes every file of the set, then reloads their reader, in
// one step (<name>) whose stdin carries the contents. No secret is ever in
// `triggers` (the engine cannot marshal a secret that is unknown during
// preview there, and compares triggers in the clear): a new content is a
// change of stdin, which runs the step's update — write again, reload once.
func NewSecrets(ctx *pulumi.Context, name string, a SecretsArgs, opts ...pulumi.ResourceOption) (*Set, error) {
	cmd, err := writeSecrets(ctx, name, a, opts...)
	if err != nil {
		return nil, err
	}
	return &Set{Copies: []pulumi.Resource{cmd}, Reloaded: cmd}, nil
}

func writeSecrets(ctx *pulumi.Context, name string, a SecretsArgs, opts ...pulumi.ResourceOption) (*remote.Command, error) {
	if a.Host == nil || len(a.Files) == 0 {
		return nil, fmt.Errorf("secret files %s: a host and at least one file are required", name)
	}
	files := make([]SecretFile, len(a.Files))
	contents := make([]any, len(a.Files))
	for i, f := range a.Files {
		files[i] = SecretFile{Path: f.Path, Owner: f.Owner, Mode: f.Mode}
		contents[i] = f.Content
	}
	var check *Check
	if v := a.Validate; v != nil {
		check = &Check{Dir: v.Dir, Command: v.Command,
			Candidate: path.Join(host.StagingDir(a.Host.DataPath), name+".candidate")}
	}
	script, err := secretsScript(files, a.Dir, a.KeyPair, check, a.Container, a.Reload)
	if err != nil {
		return nil, fmt.Errorf("secret files %s: %w", name, err)
	}
	// As for a plain set, the image is known late: quoted into a first line.
	var run pulumi.StringInput = pulumi.String(script)
	if a.Validate != nil && a.Validate.Image != nil {
		run = a.Validate.Image.ToStringOutput().ApplyT(func(ref string) string {
			return "IMAGE=" + shell.Quote(ref) + "\n" + script
		}).(pulumi.StringOutput)
	}
	stdin := pulumi.All(contents...).ApplyT(func(v []any) string {
		out := make([]string, len(v))
		for i, c := range v {
			out[i] = c.(string)
		}
		return SecretsStdin(out)
	}).(pulumi.StringOutput)
	return hostcmd.New(ctx, name, hostcmd.Args{
		Connection:  a.Host.Connection,
		Run:         run,
		Stdin:       stdin,
		SecretStdin: true,
		Owns:        SecretsOwned(files),
	}, append(opts, pulumi.DependsOn([]pulumi.Resource{a.Host.Prepared}))...)
}

// NewContainerSecrets writes a container's SecretFiles into its SecretsDir
// on h: the directory owned by the container's user, mode 0500, each file
// mode 0400, contents on stdin only. The images read these files when they
// start, so a changed content restarts the container (when it runs); the
// container waits for the returned set's Copies.
func NewContainerSecrets(ctx *pulumi.Context, name string, h *host.Host, s container.Spec, opts ...pulumi.ResourceOption) (*Set, error) {
	if len(s.SecretFiles) == 0 {
		return nil, fmt.Errorf("secret files %s: container %s has none", name, s.Name)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	owner, err := s.SecretOwner()
	if err != nil {
		return nil, err
	}
	files := make([]Secret, len(s.SecretFiles))
	for i, f := range s.SecretFiles {
		files[i] = Secret{Path: path.Join(s.SecretsDir, f.Name), Content: pulumi.ToSecret(f.Content).(pulumi.StringOutput),
			Owner: owner, Mode: "0400"}
	}
	return NewSecrets(ctx, name, SecretsArgs{
		Host:      h,
		Files:     files,
		Dir:       &SecretFile{Path: s.SecretsDir, Owner: owner, Mode: "0500"},
		Container: s.Name,
		Reload:    "docker restart " + shell.Quote(s.Name),
	}, opts...)
}

// SecretFile is where one secret file goes, with its owner and mode.
type SecretFile struct {
	Path  string
	Owner string // default 0:0
	Mode  string // default 0600
}

func (f SecretFile) checked() (SecretFile, error) {
	if f.Owner == "" {
		f.Owner = "0:0"
	}
	if f.Mode == "" {
		f.Mode = "0600"
	}
	if !pathRE.MatchString(f.Path) || !ownerRE.MatchString(f.Owner) || !modeRE.MatchString(f.Mode) {
		return f, fmt.Errorf("secret file %q: path, mode %q and owner %q must be plain", f.Path, f.Mode, f.Owner)
	}
	return f, nil
}

// SecretsStdin frames the contents for WriteSecretsScript: one base64 line
// per file, in order, so any content (newlines, binary) survives `read`.
func SecretsStdin(contents []string) string {
	var b strings.Builder
	for _, c := range contents {
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(c)))
		b.WriteByte('\n')
	}
	return b.String()
}

// WriteSecretsScript writes each file from one line of stdin (SecretsStdin)
// into a temporary file beside it, with a private umask; when pair is set it
// checks with openssl that the certificate and key parse and match; only then
// renames every file into place (atomic) and runs reload while container is
// running. A bad pair leaves the live files and the reader as they were. The
// SSH user is not root: privileged steps go through passwordless sudo, which
// preflight checks; openssl comes with ca-certificates on Debian hosts.
func WriteSecretsScript(files []SecretFile, pair *KeyPair, container, reload string) (string, error) {
	return secretsScript(files, nil, pair, nil, container, reload)
}

// WriteCheckedSecretsScript is WriteSecretsScript with a validation by the
// files' reader (Check) after the pair check and before any rename: a
// candidate copy of check.Dir with the new files in place, tested by
// check.Command (with CANDIDATE, IMAGE and SUDO in its environment). A
// failure leaves the live files and the reader as they were.
func WriteCheckedSecretsScript(files []SecretFile, check *Check, container, reload string) (string, error) {
	if check == nil {
		return "", fmt.Errorf("a checked secret set needs a check")
	}
	return secretsScript(files, nil, nil, check, container, reload)
}

func secretsScript(files []SecretFile, dir *SecretFile, pair *KeyPair, check *Check, container, reload string) (string, error) {
	var b strings.Builder
	b.WriteString(`set -eu
umask 077
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
PENDING=""
CANDIDATE=""
cleanup() {
  for p in $PENDING; do $SUDO rm -f "${p%%=*}"; done
  if [ -n "$CANDIDATE" ]; then $SUDO rm -rf "$CANDIDATE"; fi
}
trap cleanup EXIT
# write PATH OWNER MODE: the next line of stdin, base64, goes to a temporary
# file beside PATH (renamed over it once every file is written and checked).
write() {
  IFS= read -r b64 || { echo "secret files: stdin ended before $1" >&2; exit 1; }
  $SUDO mkdir -p "$(dirname "$1")"
  tmp=$($SUDO mktemp "$1.XXXXXX")
  PENDING="$PENDING $tmp=$1"
  printf '%s' "$b64" | base64 -d | $SUDO tee "$tmp" > /dev/null
  $SUDO chown "$2" "$tmp"
  $SUDO chmod "$3" "$tmp"
}
# new PATH: the temporary file that holds PATH's new content.
new() {
  for p in $PENDING; do
    if [ "${p#*=}" = "$1" ]; then echo "${p%%=*}"; return 0; fi
  done
  return 1
}
`)
	if dir != nil {
		d, err := dir.checked()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "$SUDO mkdir -p %[1]s\n$SUDO chown %[2]s %[1]s\n$SUDO chmod %[3]s %[1]s\n",
			shell.Quote(d.Path), shell.Quote(d.Owner), shell.Quote(d.Mode))
	}
	written := map[string]bool{}
	for _, f := range files {
		f, err := f.checked()
		if err != nil {
			return "", err
		}
		written[f.Path] = true
		fmt.Fprintf(&b, "write %s %s %s\n", shell.Quote(f.Path), shell.Quote(f.Owner), shell.Quote(f.Mode))
	}
	if pair != nil {
		if !written[pair.Cert] || !written[pair.Key] || pair.Cert == pair.Key {
			return "", fmt.Errorf("key pair %q / %q: both must be files of the set", pair.Cert, pair.Key)
		}
		fmt.Fprintf(&b, `# The certificate and key must parse and belong together, or nothing moves.
CERT_NEW=$(new %[1]s)
KEY_NEW=$(new %[2]s)
if ! cert_pub=$($SUDO openssl x509 -noout -pubkey -in "$CERT_NEW"); then
  echo "secret files: the new "%[1]s" is not a PEM certificate; the live files are unchanged" >&2
  exit 1
fi
if ! key_pub=$($SUDO openssl pkey -pubout -in "$KEY_NEW"); then
  echo "secret files: the new "%[2]s" is not a PEM private key; the live files are unchanged" >&2
  exit 1
fi
if [ "$cert_pub" != "$key_pub" ]; then
  echo "secret files: the new key "%[2]s" does not match the certificate "%[1]s"; the live files are unchanged" >&2
  exit 1
fi
`, shell.Quote(pair.Cert), shell.Quote(pair.Key))
	}
	if check != nil {
		if err := writeSecretsCheck(&b, files, check); err != nil {
			return "", err
		}
	}
	b.WriteString(`for p in $PENDING; do $SUDO mv -f "${p%%=*}" "${p#*=}"; done
PENDING=""
`)
	switch {
	case reload != "" && container == "":
		fmt.Fprintf(&b, "%s\n", reload)
	case reload != "":
		b.WriteString(ReloadScript(container, reload))
	}
	return b.String(), nil
}

// writeSecretsCheck validates the new secret files as InstallScript does a
// plain set: a candidate copy of the live directory with every new file in
// place (owner and mode kept: the reader's user must open them as it will
// the live ones), tested by the reader. The candidate is removed on exit.
func writeSecretsCheck(b *strings.Builder, files []SecretFile, check *Check) error {
	if err := check.writeCandidate(b, "# Validate"); err != nil {
		return err
	}
	for _, f := range files {
		rel, err := check.rel(path.Clean(f.Path))
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "$SUDO mkdir -p \"$(dirname \"$CANDIDATE\"/%[1]s)\"\n$SUDO cp -p \"$(new %[2]s)\" \"$CANDIDATE\"/%[1]s\n",
			shell.Quote(rel), shell.Quote(f.Path))
	}
	check.writeValidate(b, "secret files")
	return nil
}

// SecretsOwned says the files are the step's: its delete (the set leaves
// the host, or a renamed step's old version) removes those it still owns.
func SecretsOwned(files []SecretFile) *hostcmd.Owned {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = path.Clean(f.Path)
	}
	return &hostcmd.Owned{Items: paths, Remove: `$SUDO rm -f "$1"`}
}

var (
	writeLine = regexp.MustCompile(`(?m)^write '([^']+)' '([0-9]+:[0-9]+)' '([0-7]+)'$`)
	dirLines  = regexp.MustCompile(`(?m)^\$SUDO mkdir -p '([^']+)'\n\$SUDO chown '([0-9]+:[0-9]+)' '[^']+'\n\$SUDO chmod '([0-7]+)' '[^']+'$`)
)

// Written is one secret file (or, with Dir, its directory) a step of
// WriteSecretsScript writes, as it lands on the host.
type Written struct {
	Path, Owner, Mode, Content string
	Dir                        bool
}

// SecretWrites reads back what a step of the secret writer puts on its
// host, from the script and its stdin: the set's directory when it has
// one, then every file with its owner, mode and content (for tests and
// the offline plan).
func SecretWrites(script, stdin string) ([]Written, error) {
	var out []Written
	for _, d := range dirLines.FindAllStringSubmatch(script, -1) {
		out = append(out, Written{Path: d[1], Owner: d[2], Mode: d[3], Dir: true})
	}
	files := writeLine.FindAllStringSubmatch(script, -1)
	lines := strings.Split(strings.TrimSuffix(stdin, "\n"), "\n")
	if len(files) != len(lines) {
		return nil, fmt.Errorf("%d files, %d lines of stdin", len(files), len(lines))
	}
	for i, f := range files {
		b, err := base64.StdEncoding.DecodeString(lines[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f[1], err)
		}
		out = append(out, Written{Path: f[1], Owner: f[2], Mode: f[3], Content: string(b)})
	}
	return out, nil
}

// SecretFiles maps each secret file a step of WriteSecretsScript writes to
// its content (see SecretWrites).
func SecretFiles(script, stdin string) (map[string]string, error) {
	written, err := SecretWrites(script, stdin)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, w := range written {
		if !w.Dir {
			out[w.Path] = w.Content
		}
	}
	return out, nil
}
