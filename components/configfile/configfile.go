// Package configfile puts a rendered configuration file on a host and, when
// its content changes, reloads the container that reads it, so a config
// change never recreates a container. A new set of files is tested first,
// where it is staged, by the program that reads it, and only then renamed
// into place: a file that fails its test never reaches the live directory.
package configfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/internal/shell"
)

// File is one rendered file and where it goes on the host.
type File struct {
	Path    string // absolute path on the host, under the host's data path
	Content string // never a secret: secrets reach containers as secret files (NewContainerSecrets)
	Mode    string // octal; default 0644 (readable by the container's user)
	Owner   string // uid:gid; default 0:0
}

// Args places files on a host and says how to reload their reader.
type Args struct {
	Host  *host.Host
	Files []File
	// Reload runs on the host after a change, e.g. `docker exec nginx nginx -s reload`.
	// It is skipped while Container is not running (first deployment).
	Container string
	Reload    string
	// Validate, when set, tests the new files with the program that reads
	// them before any live file is touched; a failure fails the step (and
	// `pulumi up`) with the validator's output, and the live files and the
	// running service stay as they were.
	Validate *Validate
}

// Validate tests a set of new files with their reader. The files name one
// another by their live paths (nginx.conf its certificates, prometheus.yml
// its rules), so the check does not run on the staged copies alone: it runs
// on a candidate directory, a copy of Dir with every new file in place,
// which the command mounts (or reads) where the reader expects Dir.
type Validate struct {
	// Dir is the live directory the reader sees; every file of the set is
	// under it.
	Dir string
	// Command is shell, run on the host as the SSH user in a shell of its
	// own (`sh -eu -c`), with CANDIDATE (the candidate directory), IMAGE
	// (Image) and SUDO in its environment. It is fixed text from the
	// component: values reach it only through those variables.
	Command string
	// Image is the reader's own pinned image, for commands that run the
	// check in it (`docker run --rm ... "$IMAGE"`); nil when the check runs
	// on the host. The install step then also waits for the image's pull.
	Image pulumi.StringInput
}

// Set is the files on the host plus the step that installs them and reloads.
type Set struct {
	// Copies are the steps after which every file is in place with its owner
	// and mode: containers that read the files depend on these.
	Copies []pulumi.Resource
	// Reloaded is the install-and-reload step, triggered by the hash of every file.
	Reloaded pulumi.Resource
	// Hash identifies the content of every file together.
	Hash string
	// Staged maps each file's path to its copy in the staging directory.
	Staged map[string]string
}

// Hash is the SHA-256 of the files' paths, modes, owners and contents, in order.
func Hash(files []File) string {
	sum := sha256.New()
	for _, f := range files {
		fmt.Fprintf(sum, "%s\x00%s\x00%s\x00%s\x00", f.Path, f.Mode, f.Owner, f.Content)
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// New copies each file, as the SSH user, into the host's staging directory,
// then one step installs them in place with their owner and mode (through
// sudo) and reloads their reader. The copies are named <name>-<file base
// name> and the step <name>-install, parented by opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Set, error) {
	if args.Host == nil || len(args.Files) == 0 {
		return nil, fmt.Errorf("configfile %s: a host and at least one file are required", name)
	}
	var staged []Staged
	var copies []pulumi.Resource
	for _, f := range args.Files {
		if !strings.HasPrefix(f.Path, "/") {
			return nil, fmt.Errorf("configfile %s: %q is not absolute", name, f.Path)
		}
		res := name + "-" + sanitize(path.Base(f.Path))
		st := Staged{File: f, From: path.Join(host.StagingDir(args.Host.DataPath), res)}
		cp, err := remote.NewCopyToRemote(ctx, res, &remote.CopyToRemoteArgs{
			Connection: args.Host.Connection,
			Source:     pulumi.NewStringAsset(f.Content),
			RemotePath: pulumi.String(st.From),
		}, append(opts, pulumi.DependsOn([]pulumi.Resource{args.Host.Prepared}))...)
		if err != nil {
			return nil, err
		}
		staged = append(staged, st)
		copies = append(copies, cp)
	}
	var check *Check
	var image pulumi.StringInput
	if v := args.Validate; v != nil {
		check = &Check{Dir: v.Dir, Command: v.Command,
			Candidate: path.Join(host.StagingDir(args.Host.DataPath), name+".candidate")}
		image = v.Image
	}
	// The files are recorded as soon as they are in place, before the
	// reload: a failing reload must not leave a stale record behind.
	script, err := InstallScript(staged, check, "", "")
	if err != nil {
		return nil, fmt.Errorf("configfile %s: %w", name, err)
	}
	record, err := ManifestScript(name+"-install", staged)
	if err != nil {
		return nil, fmt.Errorf("configfile %s: %w", name, err)
	}
	script += record
	if args.Reload != "" {
		script += ReloadScript(args.Container, args.Reload)
	}
	// The image is the only value known late (the pull's output): it is
	// quoted into a first line, so the rest of the script is checked here.
	var text pulumi.StringInput = pulumi.String(script)
	if image != nil {
		text = image.ToStringOutput().ApplyT(func(ref string) string {
			return "IMAGE=" + shell.Quote(ref) + "\n" + script
		}).(pulumi.StringOutput)
	}
	hash := Hash(args.Files)
	install, err := hostcmd.New(ctx, name+"-install", hostcmd.Args{
		Connection: args.Host.Connection,
		Run:        text,
		Triggers:   pulumi.StringArray{pulumi.String(hash)},
	}, append(opts, pulumi.DependsOn(copies))...)
	if err != nil {
		return nil, err
	}
	set := &Set{Copies: []pulumi.Resource{install}, Reloaded: install, Hash: hash, Staged: map[string]string{}}
	for _, st := range staged {
		set.Staged[st.Path] = st.From
	}
	return set, nil
}

// Staged is a file and where its copy waits in the staging directory.
type Staged struct {
	File
	From string
}

var (
	ownerRE = regexp.MustCompile(`^[0-9]+:[0-9]+$`)
	modeRE  = regexp.MustCompile(`^0?[0-7]{3}$`)
	pathRE  = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)
)

// Check is how InstallScript validates a set before installing it.
type Check struct {
	Dir, Command string
	// Candidate is the prefix of the candidate directory (mktemp adds a
	// suffix), beside the staged copies.
	Candidate string
}

// writeCandidate starts a validation: a candidate copy of the live
// directory, to which the caller adds every new file (rel gives where).
func (c *Check) writeCandidate(b *strings.Builder, title string) error {
	if !pathRE.MatchString(c.Dir) || !pathRE.MatchString(c.Candidate) || strings.TrimSpace(c.Command) == "" {
		return fmt.Errorf("validation: directory %q, candidate %q and a command are required", c.Dir, c.Candidate)
	}
	if strings.HasPrefix(c.Candidate+"/", strings.TrimSuffix(c.Dir, "/")+"/") {
		return fmt.Errorf("validation: the candidate %s would be inside the live directory %s", c.Candidate, c.Dir)
	}
	fmt.Fprintf(b, `%s: a candidate copy of the live directory with the new files in
# place, tested by their reader. Nothing live is written before it passes.
LIVE_DIR=%s
CANDIDATE=$($SUDO mktemp -d %s)
if $SUDO test -d "$LIVE_DIR"; then $SUDO cp -a "$LIVE_DIR/." "$CANDIDATE/"; fi
# The reader's user (in its container) must reach the files.
$SUDO chmod 0755 "$CANDIDATE"
`, title, shell.Quote(c.Dir), shell.Quote(c.Candidate+".XXXXXX"))
	return nil
}

// rel is where a live file goes in the candidate.
func (c *Check) rel(live string) (string, error) {
	rel := strings.TrimPrefix(live, strings.TrimSuffix(c.Dir, "/")+"/")
	if rel == live || strings.HasPrefix(rel, "../") || strings.Contains(rel, "/../") {
		return "", fmt.Errorf("validation: %s is not under %s", live, c.Dir)
	}
	return rel, nil
}

// writeValidate runs the check on the candidate; a failure stops the script
// before anything live is replaced.
func (c *Check) writeValidate(b *strings.Builder, who string) {
	fmt.Fprintf(b, `# shellcheck disable=SC2016 # expanded by the validator's own shell
VALIDATE=%s
export CANDIDATE SUDO
export IMAGE="${IMAGE:-}"
# Its own shell, so -e holds inside it; all its output goes to stderr.
if ! sh -eu -c "$VALIDATE" >&2; then
  echo "%s: the new files failed validation (above); the live files and the service are unchanged" >&2
  exit 1
fi
echo "%s: the new files passed validation"
`, shell.Quote(c.Command), who, who)
}

// InstallScript validates the staged files (when check is set), then
// installs each one with its owner and mode through a temporary file in its
// destination directory and a rename, so a reader never sees a half-written
// or untested file, then reloads the container when it is running (skipped
// on the first deployment, when the files are in place before the container
// starts). Until the validation passed, nothing in a live directory is
// written: a failure leaves the live files and the service as they were.
func InstallScript(files []Staged, check *Check, container, reload string) (string, error) {
	var b strings.Builder
	b.WriteString(`set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
PENDING=""
CANDIDATE=""
# Temporary files and the candidate directory go, whatever happens.
cleanup() {
  for p in $PENDING; do $SUDO rm -f "${p%%=*}"; done
  if [ -n "$CANDIDATE" ]; then $SUDO rm -rf "$CANDIDATE"; fi
}
trap cleanup EXIT
# prepare SRC DST MODE UID GID: a copy of SRC with its owner and mode in a
# temporary file beside DST (same directory, so the rename is atomic).
prepare() {
  $SUDO mkdir -p "$(dirname "$2")"
  tmp=$($SUDO mktemp "$2.XXXXXX")
  PENDING="$PENDING $tmp=$2"
  $SUDO cp "$1" "$tmp"
  $SUDO chown "$4:$5" "$tmp"
  $SUDO chmod "$3" "$tmp"
}
`)
	type line struct{ from, to, mode, uid, gid string }
	var lines []line
	for _, f := range files {
		mode, owner := f.Mode, f.Owner
		if mode == "" {
			mode = "0644"
		}
		if owner == "" {
			owner = "0:0"
		}
		if !modeRE.MatchString(mode) || !ownerRE.MatchString(owner) || !pathRE.MatchString(f.Path) || !pathRE.MatchString(f.From) {
			return "", fmt.Errorf("file %s: path, mode %q and owner %q must be plain", f.Path, mode, owner)
		}
		uid, gid, _ := strings.Cut(owner, ":")
		lines = append(lines, line{f.From, f.Path, mode, uid, gid})
	}
	if check != nil {
		if err := check.writeCandidate(&b, "# 1. Validate"); err != nil {
			return "", err
		}
		for _, l := range lines {
			rel, err := check.rel(l.to)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "$SUDO install -D -m %s -o %s -g %s %s \"$CANDIDATE\"/%s\n",
				l.mode, l.uid, l.gid, shell.Quote(l.from), shell.Quote(rel))
		}
		check.writeValidate(&b, "configfile")
	}
	b.WriteString("# 2. Swap: every file into a temporary file beside it, then renames.\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "prepare %s %s %s %s %s\n", shell.Quote(l.from), shell.Quote(l.to),
			shell.Quote(l.mode), shell.Quote(l.uid), shell.Quote(l.gid))
	}
	b.WriteString(`for p in $PENDING; do $SUDO mv -f "${p%%=*}" "${p#*=}"; done
PENDING=""
`)
	if reload != "" {
		b.WriteString(ReloadScript(container, reload))
	}
	return b.String(), nil
}

// ManifestScript records the checksum of every file of the set in
// host.ManifestDir/<step>.sha256 (sha256sum -c format), step being the
// install step's resource name, for the hosts' drift check
// (components/host, docs/drift.md), then brings the drift metric up to
// date. The sums are taken from the staged copies, which hold exactly the
// rendered content: the record says what each file must hold, and the
// script text stays the same when only the content changes.
func ManifestScript(step string, files []Staged) (string, error) {
	if !manifestNameRE.MatchString(step) {
		return "", fmt.Errorf("manifest name %q must be plain", step)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# 3. Record: what each file must hold, for the host's drift check.
MANIFEST=%s
$SUDO mkdir -p %s
{
`, shell.Quote(path.Join(host.ManifestDir, step+".sha256")), shell.Quote(host.ManifestDir))
	for _, f := range files {
		if !pathRE.MatchString(f.Path) || !pathRE.MatchString(f.From) {
			return "", fmt.Errorf("file %s: paths must be plain", f.Path)
		}
		fmt.Fprintf(&b, "  printf '%%s  %%s\\n' \"$(sha256sum <%s | cut -d' ' -f1)\" %s\n", shell.Quote(f.From), shell.Quote(f.Path))
	}
	fmt.Fprintf(&b, `} | $SUDO tee "$MANIFEST.new" >/dev/null
$SUDO mv -f "$MANIFEST.new" "$MANIFEST"
if [ -x %[1]s ]; then
  $SUDO timeout 120 systemctl start %[2]s || echo "drift check failed to run: the metric is updated at its next run" >&2
fi
`, shell.Quote(host.DriftCheckPath), shell.Quote(host.DriftCheckUnit+".service"))
	return b.String(), nil
}

var manifestNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ReloadScript runs reload only when the container is running, so the first
// deployment (files before container) and later changes share one step.
func ReloadScript(container, reload string) string {
	return fmt.Sprintf(`if [ "$(docker inspect -f '{{.State.Running}}' %[1]s 2>/dev/null || true)" = "true" ]; then
  %[2]s
  echo "reloaded %[1]s"
else
  echo "%[1]s not running yet: it reads the new files when it starts"
fi
`, container, reload)
}

func sanitize(s string) string {
	return strings.NewReplacer(".", "-", "_", "-", "/", "-").Replace(s)
}

var prepareLine = regexp.MustCompile(`(?m)^prepare '([^']+)' '([^']+)' '([0-7]+)' '([0-9]+)' '([0-9]+)'$`)

// InstalledMode is the mode and owner (uid:gid) a step of InstallScript
// gives the live file To.
type InstalledMode struct{ To, Mode, Owner string }

// InstalledModes reads back the mode and owner of each file a step of
// InstallScript installs (for tests that recreate the files elsewhere).
func InstalledModes(script string) []InstalledMode {
	var out []InstalledMode
	for _, m := range prepareLine.FindAllStringSubmatch(script, -1) {
		out = append(out, InstalledMode{To: m[2], Mode: m[3], Owner: m[4] + ":" + m[5]})
	}
	return out
}

// Install is one file a step of InstallScript installs.
type Install struct{ From, To string }

// Installs reads back what a step of InstallScript installs, in order: each
// staged copy with the live path it goes to (for tests and the offline plan).
func Installs(script string) []Install {
	var out []Install
	for _, m := range prepareLine.FindAllStringSubmatch(script, -1) {
		out = append(out, Install{From: m[1], To: m[2]})
	}
	return out
}
