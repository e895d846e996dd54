package tests

// The delivery pipeline's workflows, read as GitHub reads them: the release
// workflow offers what the release controller does, prod waits for the
// production environment's reviewers, every deployment is verified and
// rolled back on failure, pull requests keep their previews. actionlint
// checks the rest (make lint; TestIntegrationWorkflowsPassActionlint).

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/internal/release"
	"github.com/aurigraph/infra/tests/harness"
)

type workflow struct {
	On struct {
		Push             *struct{ Branches []string }
		PullRequest      *struct{ Branches []string } `yaml:"pull_request"`
		WorkflowDispatch *struct {
			Inputs map[string]struct {
				Type     string
				Options  []string
				Required bool
			}
		} `yaml:"workflow_dispatch"`
	}
	Concurrency struct {
		Group            string
		CancelInProgress bool `yaml:"cancel-in-progress"`
	}
	Jobs map[string]job
}

type job struct {
	Needs       any
	Environment string
	Env         map[string]string
	Strategy    struct{ Matrix map[string]any }
	Steps       []step
}

type step struct {
	ID, Name, If, Run, Uses string
	Env                     map[string]string
}

func readWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), ".github", "workflows", name))
	require.NoError(t, err)
	var w workflow
	require.NoError(t, yaml.Unmarshal(b, &w), name)
	return w
}

// stepIndex is the index of the first step whose run holds needle, -1 if none.
func stepIndex(j job, needle string) int {
	return slices.IndexFunc(j.Steps, func(s step) bool { return strings.Contains(s.Run, needle) })
}

func TestReleaseWorkflowOffersTheControllersStrategies(t *testing.T) {
	w := readWorkflow(t, "release.yml")
	require.NotNil(t, w.On.WorkflowDispatch, "started by hand")
	assert.Nil(t, w.On.Push, "a release is started by hand, never by a push")
	in := w.On.WorkflowDispatch.Inputs
	require.Contains(t, in, "stack")
	require.Contains(t, in, "strategy")
	require.Contains(t, in, "image")
	assert.True(t, in["image"].Required, "every release names its image")

	// Every stack offered has its config, and every stack config is offered.
	stackFiles, err := filepath.Glob(filepath.Join(harness.RepoRoot(t), "Pulumi.*.yaml"))
	require.NoError(t, err)
	var stacksInRepo []string
	for _, f := range stackFiles {
		stacksInRepo = append(stacksInRepo, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	assert.ElementsMatch(t, stacksInRepo, in["stack"].Options)

	// The controller's strategies, each offered; rollback besides.
	controller := []string{release.BlueGreen, release.Canary, release.Rolling}
	assert.ElementsMatch(t, append(controller, "rollback"), in["strategy"].Options)
	assert.Equal(t, "choice", in["strategy"].Type, "a typo cannot reach the controller")

	// Every strategy offered (rollback is a blue-green release) is one the
	// controller plans on every stack as it is configured.
	for _, stack := range in["stack"].Options {
		c := harness.Config(t, harness.Stack(t, stack))
		cur := release.Current{
			Blue:  release.SlotConfig{Image: c.Release.Blue.Image, Weight: c.Release.Blue.Weight},
			Green: release.SlotConfig{Image: c.Release.Green.Image, Weight: c.Release.Green.Weight},
		}
		for _, s := range in["strategy"].Options {
			if s == "rollback" {
				s = release.BlueGreen
			}
			_, err := release.NewPlan(cur, release.Spec{Strategy: s, Image: "aurigraph/v11:11.9.0"})
			assert.NoError(t, err, "%s on %s", s, stack)
		}
	}
	// The test can fail: the controller refuses a strategy it does not know.
	_, err = release.NewPlan(release.Current{Blue: release.SlotConfig{Image: "a", Weight: 100}}, release.Spec{Strategy: "rollback", Image: "b"})
	assert.Error(t, err)
}

func TestReleaseWorkflowRunsTheControllerThenVerifiesAndRollsBack(t *testing.T) {
	w := readWorkflow(t, "release.yml")
	j, ok := w.Jobs["release"]
	require.True(t, ok)
	assert.Contains(t, j.Environment, "'production'", "prod releases wait for the production environment's reviewers")
	assert.Equal(t, "deploy", w.Concurrency.Group, "one deployment at a time, releases and merges alike")
	assert.False(t, w.Concurrency.CancelInProgress)

	rel, ver, back := stepIndex(j, "./.ci/release \"$STACK\""), stepIndex(j, "./.ci/verify-stack"), stepIndex(j, "./.ci/release-rollback")
	require.True(t, rel >= 0 && ver > rel && back > ver, "release, then verification, then rollback: %d %d %d", rel, ver, back)
	assert.Contains(t, j.Steps[back].If, "failure()")
	assert.Contains(t, j.Steps[back].If, "steps."+j.Steps[ver].ID+".outcome == 'failure'")
	assert.Contains(t, j.Steps[back].If, "steps."+j.Steps[rel].ID+".outcome == 'failure'")
	// What the release left is proposed for the repository whatever the outcome.
	rec := stepIndex(j, "./.ci/release-record \"$STACK\"")
	require.Greater(t, rec, back)
	assert.Contains(t, j.Steps[rec].If, "always()")
	// Secrets only in the steps that need them, never the whole job's
	// environment (which every action of the job sees).
	for k, v := range j.Env {
		assert.NotContains(t, v, "secrets.", "job env %s", k)
	}
	// Credentials only as secrets, in the environment.
	assert.Equal(t, "${{ secrets.AURIGRAPH_MONITORING_PASSWORD }}", j.Steps[rel].Env["RELEASE_PROMETHEUS_PASSWORD"])
	assert.Equal(t, "${{ secrets.AURIGRAPH_MONITORING_PASSWORD }}", j.Steps[ver].Env["VERIFY_MONITORING_PASSWORD"])

	// .ci/release runs the controller.
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), ".ci", "release"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "go run ./cmd/release")
}

func TestMergeDeploysAreVerifiedAndRolledBack(t *testing.T) {
	w := readWorkflow(t, "deploy.yml")
	require.NotNil(t, w.On.Push, "staging deploys on merge")
	assert.Equal(t, []string{"main"}, w.On.Push.Branches)
	for stack, env := range map[string]string{"staging": "staging", "prod": "production"} {
		j, ok := w.Jobs[stack]
		require.True(t, ok, stack)
		assert.Equal(t, env, j.Environment, stack)
		up, ver, back := stepIndex(j, "pulumi up --yes --stack "+stack), stepIndex(j, "./.ci/verify-stack "+stack), stepIndex(j, "./.ci/deploy-rollback "+stack)
		require.True(t, up >= 0 && ver > up && back > ver, "%s: up, then verification, then rollback: %d %d %d", stack, up, ver, back)
		assert.Contains(t, j.Steps[back].If, "failure()", stack)
		assert.Contains(t, j.Steps[back].If, "steps."+j.Steps[ver].ID+".outcome == 'failure'", stack)
		assert.Equal(t, "${{ github.event.before }}", j.Steps[back].Env["BEFORE"], stack)
		check := stepIndex(j, "./.ci/release-record --check "+stack)
		assert.True(t, check >= 0 && check < up, "%s: an unrecorded release stops the up that would undo it", stack)
	}
	assert.Equal(t, "staging", w.Jobs["prod"].Needs, "prod after staging")
}

func TestPullRequestsKeepTheirPreviews(t *testing.T) {
	w := readWorkflow(t, "pr.yml")
	require.NotNil(t, w.On.PullRequest)
	j, ok := w.Jobs["preview"]
	require.True(t, ok)
	assert.ElementsMatch(t, []any{"staging", "prod"}, j.Strategy.Matrix["stack"])
	assert.GreaterOrEqual(t, stepIndex(j, "pulumi preview --stack \"$STACK\""), 0)
}
