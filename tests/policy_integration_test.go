//go:build integration

package tests

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aurigraph/infra/policy/rules"
	"github.com/aurigraph/infra/tests/harness"
)

// fakeEngine is the engine the pack's context may log to.
type fakeEngine struct {
	pulumirpc.UnimplementedEngineServer
}

func (fakeEngine) Log(context.Context, *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// startPack builds the pack, starts it as the CLI would (engine address and
// program directory as arguments) and returns an Analyzer client.
func startPack(t *testing.T) (pulumirpc.AnalyzerClient, string) {
	t.Helper()
	root := harness.RepoRoot(t)
	bin := filepath.Join(t.TempDir(), "policy-pack")
	build := exec.Command("go", "build", "-o", bin, "./policy")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./policy (the go toolchain is required):\n%s", out)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	engine := grpc.NewServer()
	pulumirpc.RegisterEngineServer(engine, fakeEngine{})
	go func() { _ = engine.Serve(lis) }()
	t.Cleanup(engine.Stop)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, lis.Addr().String(), ".")
	cmd.Dir = filepath.Join(root, "policy")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ports := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ports <- strings.TrimSpace(line)
	}()
	var port string
	select {
	case port = <-ports:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the pack printed no port within 30s")
	}
	_, err = strconv.Atoi(port)
	require.NoError(t, err, "the pack's first stdout line must be its port, got %q", port)

	conn, err := grpc.NewClient("127.0.0.1:"+port, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	client := pulumirpc.NewAnalyzerClient(conn)
	dir := filepath.Join(root, "policy")
	_, err = client.Handshake(ctx, &pulumirpc.AnalyzerHandshakeRequest{EngineAddress: lis.Addr().String(), RootDirectory: &dir, ProgramDirectory: &dir})
	require.NoError(t, err)
	return client, lis.Addr().String()
}

func props(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(m, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	require.NoError(t, err)
	return s
}

const containerToken = "docker:index/container:Container"

func TestIntegrationPolicyPackServesAnalyzer(t *testing.T) {
	client, _ := startPack(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Configure for the prod stack, as the engine does with the stack's config.
	s := harness.Stack(t, "prod")
	_, err := client.ConfigureStack(ctx, &pulumirpc.AnalyzerStackConfigureRequest{
		Stack: "prod", Project: "aurigraph", Config: s.Config, DryRun: true,
	})
	require.NoError(t, err)

	info, err := client.GetAnalyzerInfo(ctx, &emptypb.Empty{})
	require.NoError(t, err)
	assert.Equal(t, rules.PackName, info.GetName())
	var names []string
	optIn := map[string]bool{}
	for _, r := range rules.All() {
		optIn[r.Name] = r.OptIn != ""
	}
	// prod: every rule mandatory but the opt-in ones (image-digest until prod is pinned).
	prodLevel := func(name string) pulumirpc.EnforcementLevel {
		if optIn[name] {
			return pulumirpc.EnforcementLevel_ADVISORY
		}
		return pulumirpc.EnforcementLevel_MANDATORY
	}
	for _, p := range info.GetPolicies() {
		names = append(names, p.GetName())
		assert.NotEmpty(t, p.GetDescription(), p.GetName())
		assert.Equal(t, prodLevel(p.GetName()), p.GetEnforcementLevel(), "prod: %s", p.GetName())
	}
	assert.ElementsMatch(t, rules.Names(), names, "the pack lists every rule")

	// A bad container: privileged, on the host network, latest image, no limits.
	urn := "urn:pulumi:prod::aurigraph::" + containerToken + "::bad"
	bad := resource.PropertyMap{
		"name":        resource.NewProperty("bad"),
		"image":       resource.NewProperty("redis:latest"),
		"privileged":  resource.NewProperty(true),
		"networkMode": resource.NewProperty("host"),
		"envs":        resource.NewProperty([]resource.PropertyValue{resource.NewProperty("REDIS_PASSWORD=letmein")}),
		// unknown and secret values must not crash the pack
		"user":     resource.MakeComputed(resource.NewProperty("")),
		"readOnly": resource.MakeSecret(resource.NewProperty(false)),
	}
	resp, err := client.Analyze(ctx, &pulumirpc.AnalyzeRequest{Type: containerToken, Urn: urn, Name: "bad", Properties: props(t, bad)})
	require.NoError(t, err)
	got := map[string]bool{}
	for _, d := range resp.GetDiagnostics() {
		got[d.GetPolicyName()] = true
		assert.Equal(t, urn, d.GetUrn())
		assert.Equal(t, prodLevel(d.GetPolicyName()), d.GetEnforcementLevel(), d.GetPolicyName())
		assert.NotContains(t, d.GetMessage(), "letmein", "a credential never appears in a message")
	}
	for _, want := range []string{"container-not-privileged", "container-no-host-namespaces", "image-pinned", "image-digest", "container-resource-limits", "no-weak-credentials", "credentials-are-secrets", "container-read-only-rootfs"} {
		assert.True(t, got[want], "want a %s violation, got %v", want, got)
	}
	assert.False(t, got["container-non-root-user"], "an unknown user gives no verdict")

	// A stack without a gateway has no TLS edge.
	stack, err := client.AnalyzeStack(ctx, &pulumirpc.AnalyzeStackRequest{Resources: []*pulumirpc.AnalyzerResource{
		{Type: containerToken, Urn: urn, Name: "bad", Properties: props(t, bad)},
	}})
	require.NoError(t, err)
	stackGot := map[string]bool{}
	for _, d := range stack.GetDiagnostics() {
		stackGot[d.GetPolicyName()] = true
	}
	assert.True(t, stackGot["edge-tls"], "got %v", stackGot)

	// The staging stack gets staging's levels.
	st := harness.Stack(t, "staging")
	_, err = client.ConfigureStack(ctx, &pulumirpc.AnalyzerStackConfigureRequest{Stack: "staging", Project: "aurigraph", Config: st.Config})
	require.NoError(t, err)
	info, err = client.GetAnalyzerInfo(ctx, &emptypb.Empty{})
	require.NoError(t, err)
	for _, p := range info.GetPolicies() {
		if p.GetName() == "host-capacity" {
			assert.Equal(t, pulumirpc.EnforcementLevel_ADVISORY, p.GetEnforcementLevel())
		}
	}
}
