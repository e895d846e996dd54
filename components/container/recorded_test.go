package container

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
)

// TestRecordedInputsKeepSecretsAndDefaults checks what the engine would
// receive, not just the Go struct: secret environment values stay wrapped.
func TestRecordedInputsKeepSecretsAndDefaults(t *testing.T) {
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		s := validSpec()
		s.Env = map[string]string{"B_PLAIN": "2", "A_PLAIN": "1"}
		s.SecretEnv = map[string]pulumi.StringInput{"REDIS_PASSWORD": pulumi.ToSecret(pulumi.String("s3cr3t-value-123")).(pulumi.StringOutput)}
		_, err := New(ctx, "redis", s)
		return err
	}, mockrun.Options{Project: "p", Stack: "s"})
	require.NoError(t, err)
	c := res.OfType("docker:index/container:Container")
	require.Len(t, c, 1)
	in := c[0].Inputs

	envs := in["envs"].ArrayValue()
	require.Len(t, envs, 3)
	assert.Equal(t, "A_PLAIN=1", envs[0].StringValue(), "plain values sorted and readable")
	assert.Equal(t, "B_PLAIN=2", envs[1].StringValue())
	assert.True(t, envs[2].IsSecret(), "secret value stays a secret")
	assert.Equal(t, "REDIS_PASSWORD=s3cr3t-value-123", envs[2].SecretValue().Element.StringValue())

	caps := in["capabilities"].ObjectValue()
	assert.Equal(t, []resource.PropertyValue{resource.NewProperty("ALL")}, caps["drops"].ArrayValue())
	var ulimits []string
	for _, u := range in["ulimits"].ArrayValue() {
		ulimits = append(ulimits, u.ObjectValue()["name"].StringValue())
	}
	assert.Equal(t, []string{"nofile", "nproc"}, ulimits, "nproc is the PID limit")
	opts := in["logOpts"].ObjectValue()
	assert.Equal(t, LogMaxSize, opts["max-size"].StringValue())
	assert.Equal(t, LogMaxFile, opts["max-file"].StringValue())
	assert.Equal(t, ServiceLabel, opts["labels"].StringValue(), "log lines carry the service")
	assert.Equal(t, "{{.Name}}", opts["tag"].StringValue(), "log lines carry the container's name")
	assert.Equal(t, "redis", in["networksAdvanced"].ArrayValue()[0].ObjectValue()["aliases"].ArrayValue()[0].StringValue())
	assert.False(t, in["privileged"].BoolValue())
	assert.True(t, c[0].DeleteBeforeReplace, "a fixed name cannot be created twice")
}

// TestEnvFromWaitsForItsSourceAndKeepsItsPlace: a variable whose value is
// another resource's output takes its sorted place among the plain ones
// (the environment reads as before) and makes the container depend on
// that resource.
func TestEnvFromWaitsForItsSourceAndKeepsItsPlace(t *testing.T) {
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		src, err := New(ctx, "source", validSpec())
		if err != nil {
			return err
		}
		s := validSpec()
		s.Name = "consumer"
		s.Env = map[string]string{"A_PLAIN": "1", "C_PLAIN": "3"}
		s.EnvFrom = map[string]pulumi.StringInput{"B_FROM": pulumi.Sprintf("http://%s:4317", src.Name)}
		_, err = New(ctx, "consumer", s)
		return err
	}, mockrun.Options{Project: "p", Stack: "s"})
	require.NoError(t, err)
	c := res.Named("docker:index/container:Container", "consumer")
	src := res.Named("docker:index/container:Container", "source")
	require.NotNil(t, c)
	require.NotNil(t, src)
	var envs []string
	for _, e := range c.Inputs["envs"].ArrayValue() {
		envs = append(envs, e.StringValue())
	}
	assert.Equal(t, []string{"A_PLAIN=1", "B_FROM=http://redis:4317", "C_PLAIN=3"}, envs)
	assert.Contains(t, c.DependsOn, src.URN, "the consumer waits for the resource its value comes from")
}
