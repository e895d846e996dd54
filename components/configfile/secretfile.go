package configfile

import (
	"encoding/base64"
	"fmt"
	"github.com/aurigraph/infra/internal/shell"
	"path"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
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
	// while Container is running; empty for readers that need none.
	Container string
	Reload    string
}

// NewSecrets writes every file of the set, then reloads their reader, in
// one step (<name>) whose stdin carries the contents. No secret is ever in
// `triggers` (the engine cannot marshal a secret that is unknown during
// preview there, and compares triggers in the clear): a new content is a
// change of stdin, which runs the step's update — write again, reload once.
// A replacement (a new host connection) deletes before it creates, so the
// old step's delete never removes the files the new one wrote.
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
	script, err := WriteSecretsScript(files, a.Container, a.Reload)
	if err != nil {
		return nil, fmt.Errorf("secret files %s: %w", name, err)
	}
	remove, err := RemoveSecretsScript(files)
	if err != nil {
		return nil, fmt.Errorf("secret files %s: %w", name, err)
	}
	stdin := pulumi.All(contents...).ApplyT(func(v []any) string {
		out := make([]string, len(v))
		for i, c := range v {
			out[i] = c.(string)
		}
		return SecretsStdin(out)
	}).(pulumi.StringOutput)
	return remote.NewCommand(ctx, name, &remote.CommandArgs{
		Connection: a.Host.Connection,
		Create:     pulumi.String(script),
		Update:     pulumi.String(script),
		Delete:     pulumi.String(remove),
		Stdin:      pulumi.ToSecret(stdin).(pulumi.StringOutput),
	}, append(opts, pulumi.DependsOn([]pulumi.Resource{a.Host.Prepared}), pulumi.DeleteBeforeReplace(true))...)
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
// with a private umask and an atomic rename, then runs reload while
// container is running. The SSH user is not root: privileged steps go
// through passwordless sudo, which preflight checks.
func WriteSecretsScript(files []SecretFile, container, reload string) (string, error) {
	var b strings.Builder
	b.WriteString(`set -eu
umask 077
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
# write PATH OWNER MODE: the next line of stdin, base64, becomes PATH.
write() {
  IFS= read -r b64 || { echo "secret files: stdin ended before $1" >&2; exit 1; }
  $SUDO mkdir -p "$(dirname "$1")"
  tmp=$($SUDO mktemp "$1.XXXXXX")
  printf '%s' "$b64" | base64 -d | $SUDO tee "$tmp" > /dev/null
  $SUDO chown "$2" "$tmp"
  $SUDO chmod "$3" "$tmp"
  $SUDO mv -f "$tmp" "$1"
}
`)
	for _, f := range files {
		f, err := f.checked()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "write %s %s %s\n", shell.Quote(f.Path), shell.Quote(f.Owner), shell.Quote(f.Mode))
	}
	if reload != "" {
		b.WriteString(ReloadScript(container, reload))
	}
	return b.String(), nil
}

// RemoveSecretsScript removes the files of a set (on destroy).
func RemoveSecretsScript(files []SecretFile) (string, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		f, err := f.checked()
		if err != nil {
			return "", err
		}
		quoted[i] = shell.Quote(path.Clean(f.Path))
	}
	return "set -eu\nSUDO=\"\"\n[ \"$(id -u)\" -eq 0 ] || SUDO=\"sudo -n\"\n$SUDO rm -f " + strings.Join(quoted, " ") + "\n", nil
}

var writeLine = regexp.MustCompile(`(?m)^write '([^']+)' '[0-9]+:[0-9]+' '[0-7]+'$`)

// SecretFiles reads back what a step of WriteSecretsScript writes: each
// path with its content, from the script and its stdin (for tests and the
// offline plan).
func SecretFiles(script, stdin string) (map[string]string, error) {
	paths := writeLine.FindAllStringSubmatch(script, -1)
	lines := strings.Split(strings.TrimSuffix(stdin, "\n"), "\n")
	if len(paths) != len(lines) {
		return nil, fmt.Errorf("%d files, %d lines of stdin", len(paths), len(lines))
	}
	out := map[string]string{}
	for i, p := range paths {
		b, err := base64.StdEncoding.DecodeString(lines[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p[1], err)
		}
		out[p[1]] = string(b)
	}
	return out, nil
}
