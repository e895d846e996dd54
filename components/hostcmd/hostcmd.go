// Package hostcmd is the one way the program runs a step on a host: a
// pulumi-command remote.Command built so that replacing it on a live host
// never undoes the new version's work, and no secret reaches a command line
// or a log.
//
// The engine replaces a command whose triggers change create-before-delete:
// the new step's create runs, then the old step's delete. A delete that
// removed what create installed would remove the new version's files and
// units. So a step that installs something says what (Owned); its create
// records, per item, the stamp of the version that wrote it, and its delete
// removes an item only while the record still holds its own stamp. The stamp
// is derived from the step's name and triggers, which are exactly what makes
// the engine replace it: a replacement always writes a different stamp.
package hostcmd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/internal/shell"
)

// RecordsDir holds one ownership record per installed item on every host.
const RecordsDir = "/var/lib/aurigraph/owners"

// Args is one step on a host.
type Args struct {
	Connection remote.ConnectionInput
	// Run is the command text of create and update. It never holds a secret:
	// secrets travel on Stdin.
	Run pulumi.StringInput
	// Stdin feeds Run: a script for `bash -s`, or the secret values.
	Stdin pulumi.StringInput
	// SecretStdin says Stdin carries a secret: it is kept secret in the
	// state and nothing the step prints is logged.
	SecretStdin bool
	// SecretOutput says the step prints a secret (a token it reads): stdout
	// and stderr are kept secret in the state and nothing is logged.
	SecretOutput bool
	// Triggers replace the step when they change. Never a secret: the engine
	// compares them in the clear and cannot marshal a secret that is unknown
	// during preview there.
	Triggers pulumi.StringArray
	// Owns is what Run installs and the step's delete removes; nil for a
	// step that leaves its work in place when it is deleted.
	Owns *Owned
}

// Owned is what a step installs.
type Owned struct {
	// Items are absolute paths or systemd unit names, one record each.
	Items []string
	// Remove is the body of a shell function removing one item, "$1"; it
	// may use $SUDO.
	Remove string
	// After runs once after the removals, e.g. `$SUDO systemctl daemon-reload`.
	After string
	// Dir is where the records are kept; RecordsDir when empty (tests point
	// it elsewhere).
	Dir string
}

var itemRE = regexp.MustCompile(`^/?[A-Za-z0-9._@/-]+$`)

// New registers the step <name> with opts.
func New(ctx *pulumi.Context, name string, a Args, opts ...pulumi.ResourceOption) (*remote.Command, error) {
	if a.Run == nil {
		return nil, fmt.Errorf("step %s: nothing to run", name)
	}
	args := &remote.CommandArgs{Connection: a.Connection, Stdin: a.Stdin}
	var run pulumi.StringInput = a.Run
	if a.Owns != nil {
		// Refuse bad items now, not when the values arrive.
		if _, _, err := Scripts(name, "true", nil, a.Owns); err != nil {
			return nil, err
		}
		owns := a.Owns
		both := pulumi.All(a.Run, a.Triggers.ToStringArrayOutput())
		run = both.ApplyT(func(v []any) (string, error) {
			create, _, err := Scripts(name, v[0].(string), v[1].([]string), owns)
			return create, err
		}).(pulumi.StringOutput)
		args.Delete = a.Triggers.ToStringArrayOutput().ApplyT(func(triggers []string) (string, error) {
			_, remove, err := Scripts(name, "true", triggers, owns)
			return remove, err
		}).(pulumi.StringOutput)
	}
	args.Create, args.Update = run, run
	if len(a.Triggers) > 0 {
		t := make(pulumi.Array, len(a.Triggers))
		for i, s := range a.Triggers {
			t[i] = s
		}
		args.Triggers = t
	}
	if a.SecretStdin || a.SecretOutput {
		args.Logging = remote.LoggingNone
	}
	if a.SecretStdin {
		if a.Stdin == nil {
			return nil, fmt.Errorf("step %s: a secret stdin is missing", name)
		}
		args.Stdin = pulumi.ToSecret(a.Stdin).(pulumi.StringOutput)
	}
	if a.SecretOutput {
		opts = append(opts, pulumi.AdditionalSecretOutputs([]string{"stdout", "stderr"}))
	}
	return remote.NewCommand(ctx, name, args, opts...)
}

// Stamp identifies one version of the step name: it changes exactly when
// the engine would replace the step (its triggers change), or when a step
// is renamed. A step moved under another parent keeps its name, so move it
// with an alias (then the engine moves it and runs no delete).
func Stamp(name string, triggers []string) string {
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00", name)
	for _, t := range triggers {
		fmt.Fprintf(sum, "%s\x00", t)
	}
	return hex.EncodeToString(sum.Sum(nil))[:16]
}

// Record is the file holding item's owner stamp.
func Record(dir, item string) string {
	sum := sha256.Sum256([]byte(item))
	return path.Join(dir, hex.EncodeToString(sum[:])[:16])
}

// Scripts are a step's create and delete text. Without Owns, create is run
// unchanged and there is no delete. With Owns, create runs run and then
// records the stamp against every item; delete removes each item whose
// record still holds this version's stamp and leaves the others, which a
// newer version wrote.
func Scripts(name, run string, triggers []string, owns *Owned) (create, remove string, err error) {
	if strings.TrimSpace(run) == "" {
		return "", "", fmt.Errorf("step %s: nothing to run", name)
	}
	if owns == nil {
		return run, "", nil
	}
	if len(owns.Items) == 0 || strings.TrimSpace(owns.Remove) == "" {
		return "", "", fmt.Errorf("step %s: an owned step names its items and how to remove one", name)
	}
	dir := owns.Dir
	if dir == "" {
		dir = RecordsDir
	}
	if !itemRE.MatchString(dir) || !strings.HasPrefix(dir, "/") {
		return "", "", fmt.Errorf("step %s: records directory %q is not a plain absolute path", name, dir)
	}
	for _, it := range owns.Items {
		if !itemRE.MatchString(it) || strings.Contains(it, "..") {
			return "", "", fmt.Errorf("step %s: item %q is not a plain path or unit name", name, it)
		}
	}
	stamp := Stamp(name, triggers)
	var c strings.Builder
	// The subshell keeps run's exit, traps and variables its own; only its
	// success records ownership.
	c.WriteString("set -eu\n# shellcheck disable=SC2317 # run's trap handlers look unreachable inside ( )\n(\n")
	c.WriteString(strings.TrimSuffix(run, "\n"))
	c.WriteString("\n)\n")
	c.WriteString(sudo)
	fmt.Fprintf(&c, "$SUDO mkdir -p %s\n", shell.Quote(dir))
	for _, it := range owns.Items {
		fmt.Fprintf(&c, "printf '%%s %%s\\n' %s %s | $SUDO tee %s > /dev/null\n", stamp, shell.Quote(it), shell.Quote(Record(dir, it)))
	}

	var d strings.Builder
	d.WriteString("set -eu\n")
	d.WriteString(sudo)
	fmt.Fprintf(&d, "remove() {\n%s\n}\n", strings.TrimSuffix(owns.Remove, "\n"))
	fmt.Fprintf(&d, "# owned RECORD ITEM: the record still names this version (stamp %s).\n", stamp)
	fmt.Fprintf(&d, "owned() { [ \"$($SUDO cat \"$1\" 2>/dev/null | cut -d' ' -f1)\" = %s ]; }\n", stamp)
	for _, it := range owns.Items {
		rec := Record(dir, it)
		fmt.Fprintf(&d, "if owned %[1]s; then remove %[2]s; $SUDO rm -f %[1]s; else echo %[3]s; fi\n",
			shell.Quote(rec), shell.Quote(it), shell.Quote("kept "+it+": a newer version of "+name+" owns it"))
	}
	if owns.After != "" {
		d.WriteString(strings.TrimSuffix(owns.After, "\n") + "\n")
	}
	return c.String(), d.String(), nil
}

const sudo = "SUDO=\"\"\n[ \"$(id -u)\" -eq 0 ] || SUDO=\"sudo -n\"\n"
