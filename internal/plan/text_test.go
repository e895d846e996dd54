package plan

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/policy/check"
	"github.com/aurigraph/infra/stacks"
)

type fakeHost struct{ pulumi.ResourceState }
type fakeService struct{ pulumi.ResourceState }

// miniProgram builds two hosts the way the real program does (host
// component → "<host>-docker" provider) and containers under a service
// component, so the text form's host attribution is tested end to end.
func miniProgram(ctx *pulumi.Context) error {
	providers := map[string]*docker.Provider{}
	for _, name := range []string{"h-edge", "h-app"} {
		h := &fakeHost{}
		if err := ctx.RegisterComponentResource("aurigraph:host:Host", name, h); err != nil {
			return err
		}
		p, err := docker.NewProvider(ctx, name+"-docker", &docker.ProviderArgs{Host: pulumi.String("ssh://x@" + name)}, pulumi.Parent(h))
		if err != nil {
			return err
		}
		providers[name] = p
	}
	svc := &fakeService{}
	if err := ctx.RegisterComponentResource("aurigraph:test:Svc", "svc", svc); err != nil {
		return err
	}
	specs := []struct {
		host string
		spec container.Spec
	}{
		{"h-edge", container.Spec{Service: "nginx", Name: "nginx", Resource: container.Resources{CPUs: 2, CPUsReservation: 1, MemoryMB: 1024, MemoryReservationMB: 512},
			Ports: []container.Port{{Internal: 443, IP: "0.0.0.0"}, {Internal: 6831, External: 16831, IP: "127.0.0.1", Protocol: "udp"}}}},
		{"h-app", container.Spec{Service: stacks.App, Name: "aurigraph-v11-blue-slim-1", Resource: container.Resources{CPUs: 16, CPUsReservation: 8, MemoryMB: 32768, MemoryReservationMB: 16384},
			SecretEnv: map[string]pulumi.StringInput{"DB_PASSWORD": pulumi.ToSecret(pulumi.String("Sup3r-Secret-Value")).(pulumi.StringOutput)}}},
		{"h-app", container.Spec{Service: stacks.App, Name: "aurigraph-v11-blue-business-1", Resource: container.Resources{CPUs: 16, CPUsReservation: 8, MemoryMB: 32768, MemoryReservationMB: 16384}}},
	}
	for _, s := range specs {
		s.spec.Image = pulumi.String("img/" + s.spec.Service + ":1")
		s.spec.Networks = container.Networks{Role: s.spec.Service, Names: []pulumi.StringInput{pulumi.String("aurigraph-network")}}
		s.spec.Health = container.Health{Test: []string{"CMD", "true"}}
		if _, err := container.New(ctx, s.spec.Name, s.spec, pulumi.Parent(svc), pulumi.Provider(providers[s.host])); err != nil {
			return err
		}
	}
	return nil
}

func TestTextAttributesContainersToHosts(t *testing.T) {
	res, err := mockrun.Run(miniProgram, mockrun.Options{Project: "aurigraph", Stack: "test"})
	require.NoError(t, err)
	s := &stackfile.Stack{Project: "aurigraph", Name: "test", Config: map[string]string{
		"aurigraph:environment": "staging",
		"aurigraph:hosts": `[{"name":"h-edge","address":"10.0.0.1","roles":["edge"],"capacity":{"cpus":4,"memoryGb":8,"diskGb":50}},
		                     {"name":"h-app","address":"10.0.0.2","roles":["app"],"capacity":{"cpus":16,"memoryGb":64,"diskGb":100}}]`,
	}}
	p := FromResult(s, res)
	var buf bytes.Buffer
	require.NoError(t, p.WriteText(&buf))
	text := buf.String()

	edge := section(t, text, "\nh-edge  10.0.0.1", "\nh-app  ")
	app := section(t, text, "\nh-app  10.0.0.2", "\nTotals")
	assert.Contains(t, edge, "roles edge  capacity 4 CPU, 8 GB memory, 50 GB disk")
	assert.Regexp(t, `nginx\s+img/nginx:1\s+2/1\s+1 GB/512 MB\s+\S+\s+0.0.0.0:443→443/tcp, 127.0.0.1:16831→6831/udp`, edge)
	assert.NotContains(t, edge, "aurigraph-v11")
	assert.Contains(t, edge, "total 1 containers: reserved 1 CPU, 512 MB; limits 2 CPU, 1 GB")

	// Sorted by name; the secret env var is counted, never shown.
	assert.Less(t, strings.Index(app, "aurigraph-v11-blue-business-1"), strings.Index(app, "aurigraph-v11-blue-slim-1"))
	assert.Contains(t, app, "+1 [secret]")
	assert.Contains(t, app, "total 2 containers: reserved 16 CPU, 32 GB; limits 32 CPU, 64 GB")
	assert.Contains(t, app, "limits overcommit capacity")
	assert.NotContains(t, app, "RESERVATIONS EXCEED")
	assert.NotContains(t, text, "Sup3r-Secret-Value")

	totals := text[strings.Index(text, "\nTotals"):]
	assert.Contains(t, totals, "containers per service: aurigraph-v11 2, nginx 1")
	assert.Contains(t, totals, "application containers per slot and tier: blue business 1, blue slim 1")
	assert.Contains(t, totals, "reserved 17 CPU, 32.5 GB; limits 34 CPU, 65 GB; stated capacity 20 CPU, 72 GB over 2 hosts")
	assert.Regexp(t, `docker:index/container:Container\s+3\n`, totals)
}

func section(t *testing.T, text, from, to string) string {
	t.Helper()
	i := strings.Index(text, from)
	require.GreaterOrEqual(t, i, 0, "missing %q in:\n%s", from, text)
	j := strings.Index(text[i:], to)
	require.Greater(t, j, 0, "missing %q after %q", to, from)
	return text[i : i+j]
}

func TestNaturalOrder(t *testing.T) {
	names := []string{"b-10", "b-2", "a", "b-1", "b", "b-2x"}
	sort.Slice(names, func(i, j int) bool { return NaturalLess(names[i], names[j]) })
	assert.Equal(t, []string{"a", "b", "b-1", "b-2", "b-2x", "b-10"}, names)
}

func TestTextSummarisesPolicyViolations(t *testing.T) {
	p := &Plan{Stack: "prod", Policy: Policy{Violations: []check.Violation{
		{Policy: "no-public-monitoring", Level: "mandatory", URN: "u1", Message: "m1"},
		{Policy: "no-public-monitoring", Level: "mandatory", URN: "u2", Message: "m2"},
		{Policy: "log-rotation", Level: "advisory", URN: "u3", Message: "m3"},
	}}}
	var buf bytes.Buffer
	require.NoError(t, p.WriteText(&buf))
	out := buf.String()
	assert.Contains(t, out, "\nPolicy: 3 violations: advisory 1, mandatory 2\n")
	assert.Regexp(t, `mandatory no-public-monitoring\s+2\n`, out)
	assert.Regexp(t, `advisory log-rotation\s+1\n`, out)
}

// The plan shows each image's digest, or that it has none; the container
// table shows the digest's first 12 hex digits.
func TestTextShowsEachImagesDigest(t *testing.T) {
	s, err := stackfile.Load(repoRoot, "prod")
	require.NoError(t, err)
	images := map[string]string{}
	require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:images"]), &images))
	d := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	images["nginx"] += "@" + d
	raw, err := json.Marshal(images)
	require.NoError(t, err)
	s = s.Set("aurigraph:images", string(raw)).
		Set("aurigraph:release", `{"blue":{"image":"aurigraph/v11:11.4.2@`+d+`","weight":100},"green":{"image":"","weight":0}}`)
	p, err := BuildStack(s)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, p.WriteText(&buf))
	text := buf.String()
	assert.Contains(t, text, "Images (16, 2 pinned by digest;")
	assert.Regexp(t, `\n  nginx:1\.27\.3-alpine +`+d+` +1\n`, text)
	assert.Regexp(t, `\n  aurigraph/v11:11\.4\.2 +`+d+` +25\n`, text)
	assert.Regexp(t, `\n  postgres:15\.10-alpine +not pinned +1\n`, text)
	assert.Regexp(t, `\n  nginx +nginx:1\.27\.3-alpine@sha256:0123456789ab… `, text)
	// The JSON form carries the whole reference.
	var js bytes.Buffer
	require.NoError(t, p.WriteJSON(&js))
	assert.Contains(t, js.String(), `"image": "nginx:1.27.3-alpine@`+d+`"`)
}

// For a stack with missing secrets the text form ends with the exact
// commands that set them: one per missing secret, for this stack, in the
// order of the list, and nothing else; a stack with none prints none.
func TestTextPrintsTheCommandThatSetsEachMissingSecret(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		p := cachedPlan(t, stack)
		require.NotEmpty(t, p.MissingSecrets, "the committed stack files hold no secrets")
		var want []string
		for _, k := range p.MissingSecrets {
			want = append(want, "pulumi config set --stack "+stack+" --secret "+k)
		}
		var got []string
		for _, line := range strings.Split(section(t, planText(t, stack), "\nMissing secrets (", "\nPolicy"), "\n") {
			if strings.HasPrefix(line, "  ") {
				got = append(got, strings.TrimPrefix(line, "  "))
			}
		}
		assert.Equal(t, want, got, stack)
		for _, k := range stacks.RequiredSecrets {
			assert.Contains(t, got, "pulumi config set --stack "+stack+" --secret "+stacks.Namespace+":"+k)
		}
	}

	var buf bytes.Buffer
	require.NoError(t, (&Plan{Stack: "prod", MissingSecrets: []string{}}).WriteText(&buf))
	assert.Contains(t, buf.String(), "\nMissing secrets: none\n")
	assert.NotContains(t, buf.String(), "pulumi config set")
}

// The command is one shell word per argument whatever the stack is called
// (a shell splits it back into exactly these words), and it carries no value.
func TestSetSecretCommandQuotesForTheShell(t *testing.T) {
	assert.Equal(t, "pulumi config set --stack acme/aurigraph/prod --secret aurigraph:redisPassword",
		SetSecretCommand("acme/aurigraph/prod", "aurigraph:redisPassword"))
	for _, stack := range []string{"prod", "my stack", "it's; rm -rf /", "$(id)", "a\nb"} {
		cmd := SetSecretCommand(stack, "aurigraph:postgresPassword")
		out, err := exec.Command("sh", "-c", `f() { printf '%s\0' "$@"; }; f `+strings.TrimPrefix(cmd, "pulumi ")).Output()
		require.NoError(t, err, cmd)
		assert.Equal(t, []string{"config", "set", "--stack", stack, "--secret", "aurigraph:postgresPassword"},
			strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"), cmd)
	}
}

// A receiver configured without its secret is planned like a missing
// required secret: a placeholder, and the command that sets it, instead of
// a validation failure.
func TestPlanListsTheSecretOfAConfiguredReceiver(t *testing.T) {
	s, err := stackfile.Load(repoRoot, "staging")
	require.NoError(t, err)
	require.NotContains(t, s.MissingSecrets, "aurigraph:pagerdutyRoutingKey")
	p, err := BuildStack(s.Set("alerting", `{"pagerduty": {}}`))
	require.NoError(t, err)
	assert.Contains(t, p.MissingSecrets, "aurigraph:pagerdutyRoutingKey")
	assert.True(t, sort.StringsAreSorted(p.MissingSecrets))
	var buf bytes.Buffer
	require.NoError(t, p.WriteText(&buf))
	assert.Contains(t, buf.String(), "\n  pulumi config set --stack staging --secret aurigraph:pagerdutyRoutingKey\n")

	// Set, it is no longer missing.
	p, err = BuildStack(s.Set("alerting", `{"pagerduty": {}}`).SetSecret("pagerdutyRoutingKey", "a-routing-key-0123456789"))
	require.NoError(t, err)
	assert.NotContains(t, p.MissingSecrets, "aurigraph:pagerdutyRoutingKey")
}
