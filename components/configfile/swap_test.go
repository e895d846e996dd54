package configfile

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
)

var (
	testCheck = &Check{
		Dir:       "/srv/aurigraph/prometheus/config",
		Command:   `promtool check config "$CANDIDATE"/prometheus.yml`,
		Candidate: "/srv/aurigraph/.staging/prometheus-config.candidate",
	}
	testFiles = []Staged{
		{File: File{Path: "/srv/aurigraph/prometheus/config/prometheus.yml", Owner: "65534:65534"}, From: "/srv/aurigraph/.staging/prometheus-config-prometheus-yml"},
		{File: File{Path: "/srv/aurigraph/prometheus/config/rules/alerts.yml"}, From: "/srv/aurigraph/.staging/prometheus-config-alerts-yml"},
	}
)

// lineOf is the index of the first line of script containing s (-1 if none).
func lineOf(script, s string) int {
	for i, l := range strings.Split(script, "\n") {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

func TestInstallScriptValidatesBeforeAnyLiveFileIsTouched(t *testing.T) {
	script, err := InstallScript(testFiles, testCheck, "prometheus", "docker kill -s HUP prometheus")
	require.NoError(t, err)
	validate := lineOf(script, `if ! sh -eu -c "$VALIDATE" >&2; then`)
	require.GreaterOrEqual(t, validate, 0, "the script runs the validator")
	lines := strings.Split(script, "\n")
	assert.Equal(t, "  exit 1", lines[validate+2], "a failed validation ends the step")
	for _, f := range testFiles {
		assert.NotContains(t, strings.Join(lines[:validate], "\n"), f.Path, "%s is not named before the validation", f.Path)
		assert.Greater(t, lineOf(script, "prepare '"+f.From+"' '"+f.Path+"'"), validate, "%s is installed after the validation", f.Path)
		// The candidate holds the new file where the reader expects it.
		rel := strings.TrimPrefix(f.Path, testCheck.Dir+"/")
		assert.Less(t, lineOf(script, "'"+f.From+"' \"$CANDIDATE\"/'"+rel+"'"), validate, "%s is in the candidate before the validation", rel)
	}
	// What runs before the validation, after the function definitions.
	before := strings.Join(lines[lineOf(script, "LIVE_DIR="):validate], "\n")
	for _, write := range []string{"mv", "prepare", "chown", "reload", "docker kill"} {
		assert.NotContains(t, before, write, "nothing is written or reloaded before the validation")
	}
	// The only use of the live directory before the validation is reading it.
	assert.Contains(t, before, `$SUDO cp -a "$LIVE_DIR/." "$CANDIDATE/"`)
	assert.Contains(t, script, "VALIDATE='promtool check config \"$CANDIDATE\"/prometheus.yml'\n", "the command is one quoted value")
	assert.Greater(t, lineOf(script, "docker kill -s HUP prometheus"), lineOf(script, `$SUDO mv -f "${p%%=*}" "${p#*=}"`), "reload after the rename")
}

func TestInstallScriptRenamesFromATemporaryFileBesideTheLiveOne(t *testing.T) {
	for _, check := range []*Check{nil, testCheck} {
		script, err := InstallScript(testFiles, check, "", "")
		require.NoError(t, err)
		// prepare copies into mktemp "$DST.XXXXXX" (the destination's
		// directory) and records tmp=DST; the renames read those pairs.
		assert.Contains(t, script, "  tmp=$($SUDO mktemp \"$2.XXXXXX\")\n  PENDING=\"$PENDING $tmp=$2\"\n  $SUDO cp \"$1\" \"$tmp\"\n")
		assert.Contains(t, script, "for p in $PENDING; do $SUDO mv -f \"${p%%=*}\" \"${p#*=}\"; done\n")
		for _, l := range strings.Split(script, "\n") {
			if strings.Contains(l, "install ") {
				assert.Contains(t, l, `"$CANDIDATE"/`, "install writes only into the candidate, never over a live file")
			}
		}
		assert.Equal(t, 1, strings.Count(script, "mv -f"), "the renames are the only moves")
		assert.Greater(t, lineOf(script, "mv -f \"${p%%=*}\""), lineOf(script, "prepare '"+testFiles[1].From), "every file is prepared before the first rename")
		assert.Contains(t, script, "trap cleanup EXIT", "temporary files never stay behind")
		assert.Equal(t, []Install{{testFiles[0].From, testFiles[0].Path}, {testFiles[1].From, testFiles[1].Path}}, Installs(script))
	}
}

func TestInstallScriptRefusesABadValidation(t *testing.T) {
	for name, c := range map[string]Check{
		"no command":           {Dir: testCheck.Dir, Candidate: testCheck.Candidate},
		"candidate in the dir": {Dir: "/srv/aurigraph", Command: "true", Candidate: "/srv/aurigraph/.staging/x.candidate"},
		"dir with a space":     {Dir: "/srv/a b", Command: "true", Candidate: testCheck.Candidate},
		"file outside the dir": {Dir: "/srv/aurigraph/nginx", Command: "true", Candidate: testCheck.Candidate},
	} {
		_, err := InstallScript(testFiles, &c, "", "")
		assert.Error(t, err, name)
	}
}

func TestValidatedSetRunsInTheReadersImage(t *testing.T) {
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h, err := testHost(ctx)
		if err != nil {
			return err
		}
		_, err = New(ctx, "nginx-conf", Args{
			Host: h, Files: []File{{Path: "/srv/aurigraph/nginx/conf/nginx.conf", Content: "events {}"}},
			Container: "nginx", Reload: "docker exec nginx nginx -s reload",
			Validate: &Validate{Dir: "/srv/aurigraph/nginx", Command: `docker run --rm "$IMAGE" nginx -t`,
				Image: pulumi.String("nginx:1.27.3-alpine'quote").ToStringOutput()},
		})
		return err
	}, mockrun.Options{Project: "p", Stack: "s"})
	require.NoError(t, err)
	install := res.Named("command:remote:Command", "nginx-conf-install")
	require.NotNil(t, install)
	script := mockrun.Unwrap(install.Inputs["create"]).StringValue()
	assert.True(t, strings.HasPrefix(script, `IMAGE='nginx:1.27.3-alpine'\''quote'`+"\n"), "the image is quoted: %s", script)
	assert.Contains(t, script, "CANDIDATE=$($SUDO mktemp -d '/srv/aurigraph/.staging/nginx-conf.candidate.XXXXXX')")
	assert.Contains(t, script, "LIVE_DIR='/srv/aurigraph/nginx'\n")
	assert.Equal(t, script, mockrun.Unwrap(install.Inputs["update"]).StringValue())
}

func TestSecretKeyPairIsCheckedBeforeTheRename(t *testing.T) {
	files := []SecretFile{{Path: "/srv/a/tls/edge.crt"}, {Path: "/srv/a/tls/edge.key"}, {Path: "/srv/a/tls/ca.crt", Mode: "0644"}}
	script, err := WriteSecretsScript(files, &KeyPair{Cert: "/srv/a/tls/edge.crt", Key: "/srv/a/tls/edge.key"}, "nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	rename := lineOf(script, `$SUDO mv -f "${p%%=*}" "${p#*=}"`)
	require.GreaterOrEqual(t, rename, 0)
	for _, check := range []string{"openssl x509 -noout -pubkey", "openssl pkey -pubout", `if [ "$cert_pub" != "$key_pub" ]; then`} {
		assert.Less(t, lineOf(script, check), rename, "%s runs before any rename", check)
		assert.GreaterOrEqual(t, lineOf(script, check), 0, check)
	}
	assert.Greater(t, lineOf(script, "docker exec nginx nginx -s reload"), rename)
	assert.Contains(t, script, "CERT_NEW=$(new '/srv/a/tls/edge.crt')\nKEY_NEW=$(new '/srv/a/tls/edge.key')\n")

	plain, err := WriteSecretsScript(files, nil, "", "")
	require.NoError(t, err)
	assert.NotContains(t, plain, "openssl", "no check without a pair")
	_, err = WriteSecretsScript(files, &KeyPair{Cert: "/srv/a/tls/edge.crt", Key: "/srv/a/tls/other.key"}, "", "")
	assert.Error(t, err, "a pair names files of the set")
}
