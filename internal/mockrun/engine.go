package mockrun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// monitor is an in-process resource monitor and engine that the program
// reaches over gRPC, as it reaches a real engine. The SDK's own mock monitor
// cannot stand in for the engine: it drops unknown values and cannot hold a
// secret whose value is unknown, so it fails previews the engine runs and
// passes inputs the engine refuses. This one marshals as the engine does:
// output values (known or not, secret or not, with their dependencies)
// arrive whole, unknowns and secrets are kept, and during preview the id
// and computed outputs of every created resource are unknown.
type monitor struct {
	pulumirpc.UnimplementedResourceMonitorServer
	pulumirpc.UnimplementedEngineServer

	project, stack string
	outputs        func(typ, name string, inputs resource.PropertyMap) resource.PropertyMap
	preview        bool

	mu        sync.Mutex
	root      string
	resources []Resource
	errs      []string // errors the program logged
}

func serve(m *monitor) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	s := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	pulumirpc.RegisterResourceMonitorServer(s, m)
	pulumirpc.RegisterEngineServer(s, m)
	go func() { _ = s.Serve(l) }()
	return l.Addr().String(), s.Stop, nil
}

func (m *monitor) recorded() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]Resource{}, m.resources...)
	sort.Slice(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}

// failure is what the program logged as an error without failing the run.
func (m *monitor) failure() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(m.errs, "\n"))
}

// engineFeatures are what a real engine (v3.2xx) tells the SDK it supports,
// short of the callbacks (transforms, hooks) this program does not use.
var engineFeatures = map[string]bool{
	"secrets": true, "resourceReferences": true, "outputValues": true,
	"deletedWith": true, "aliasSpecs": true,
}

func (m *monitor) SupportsFeature(_ context.Context, in *pulumirpc.SupportsFeatureRequest) (*pulumirpc.SupportsFeatureResponse, error) {
	return &pulumirpc.SupportsFeatureResponse{HasSupport: engineFeatures[in.GetId()]}, nil
}

func (m *monitor) RegisterResource(_ context.Context, in *pulumirpc.RegisterResourceRequest) (*pulumirpc.RegisterResourceResponse, error) {
	urn := m.urn(in.GetParent(), in.GetType(), in.GetName())
	if in.GetType() == string(resource.RootStackType) && in.GetParent() == "" {
		return &pulumirpc.RegisterResourceResponse{Urn: urn}, nil
	}
	raw, err := EngineInputs(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", urn, err)
	}
	// Providers see output values as plain, secret or unknown values.
	inputs := Downgrade(resource.NewProperty(raw)).ObjectValue()
	if err := ProviderCheck(in.GetType(), inputs); err != nil {
		return nil, fmt.Errorf("%s: %w", urn, err)
	}
	deps := append([]string{}, in.GetDependencies()...)
	sort.Strings(deps)
	deps = dedupe(deps)
	provider := in.GetProvider()
	if strings.HasPrefix(provider, "urn:") && strings.Contains(provider, "::") {
		// "<urn>::<id>": the URN itself contains "::", the id follows the last one.
		provider = provider[:strings.LastIndex(provider, "::")]
	}
	if strings.Contains(provider, "pulumi:providers:") && strings.Contains(provider, "::default") {
		provider = ""
	}
	m.mu.Lock()
	m.resources = append(m.resources, Resource{
		URN: urn, Type: in.GetType(), Name: in.GetName(), Parent: in.GetParent(), Provider: provider,
		DependsOn: deps, Custom: in.GetCustom(), Inputs: inputs.Copy(),
		DeleteBeforeReplace:     in.GetDeleteBeforeReplace(),
		AdditionalSecretOutputs: in.GetAdditionalSecretOutputs(),
	})
	m.mu.Unlock()

	state, id := m.state(in, inputs)
	obj, err := plugin.MarshalProperties(state, plugin.MarshalOptions{
		KeepUnknowns: true, KeepSecrets: true, KeepResources: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: outputs: %w", urn, err)
	}
	return &pulumirpc.RegisterResourceResponse{Urn: urn, Id: id, Object: obj}, nil
}

// state is what the engine hands back: for a component nothing; for a
// create during preview the inputs, with the id and every computed output
// unknown; otherwise the inputs and the provider's outputs (fabricated),
// those the resource declares secret marked secret.
func (m *monitor) state(in *pulumirpc.RegisterResourceRequest, inputs resource.PropertyMap) (resource.PropertyMap, string) {
	if !in.GetCustom() {
		return resource.PropertyMap{}, ""
	}
	state := inputs.Copy()
	if m.preview {
		return state, ""
	}
	var extra resource.PropertyMap
	if m.outputs != nil {
		extra = m.outputs(in.GetType(), in.GetName(), inputs)
	}
	if extra == nil {
		extra = Fabricate(in.GetType(), in.GetName(), inputs)
	}
	for k, v := range extra {
		state[k] = v
	}
	for _, k := range in.GetAdditionalSecretOutputs() {
		if v, ok := state[resource.PropertyKey(k)]; ok && !v.IsSecret() {
			state[resource.PropertyKey(k)] = resource.MakeSecret(v)
		}
	}
	return state, in.GetName() + "-id"
}

func (m *monitor) RegisterResourceOutputs(context.Context, *pulumirpc.RegisterResourceOutputsRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (m *monitor) Invoke(context.Context, *pulumirpc.ResourceInvokeRequest) (*pulumirpc.ResourceInvokeResponse, error) {
	return &pulumirpc.ResourceInvokeResponse{}, nil
}

func (m *monitor) SignalAndWaitForShutdown(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (m *monitor) Log(_ context.Context, in *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	if in.GetSeverity() == pulumirpc.LogSeverity_ERROR {
		m.mu.Lock()
		m.errs = append(m.errs, in.GetMessage())
		m.mu.Unlock()
	}
	return &emptypb.Empty{}, nil
}

func (m *monitor) GetRootResource(context.Context, *pulumirpc.GetRootResourceRequest) (*pulumirpc.GetRootResourceResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &pulumirpc.GetRootResourceResponse{Urn: m.root}, nil
}

func (m *monitor) SetRootResource(_ context.Context, in *pulumirpc.SetRootResourceRequest) (*pulumirpc.SetRootResourceResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.root = in.GetUrn()
	return &pulumirpc.SetRootResourceResponse{}, nil
}

// EngineInputs unmarshals a registration's inputs the way the engine does:
// unknowns, secrets and output values kept.
func EngineInputs(rpc *pulumirpc.RegisterResourceRequest) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(rpc.GetObject(), plugin.MarshalOptions{
		KeepUnknowns: true, KeepSecrets: true, KeepResources: true, KeepOutputValues: true,
	})
}

// Downgrade turns output values into what a provider receives: the value,
// a secret, an unknown, or an unknown secret.
func Downgrade(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsOutput():
		o := v.OutputValue()
		e := resource.MakeComputed(resource.NewProperty(""))
		if o.Known {
			e = Downgrade(o.Element)
		}
		if o.Secret {
			return resource.MakeSecret(e)
		}
		return e
	case v.IsSecret():
		return resource.MakeSecret(Downgrade(v.SecretValue().Element))
	case v.IsArray():
		out := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			out[i] = Downgrade(e)
		}
		return resource.NewProperty(out)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = Downgrade(e)
		}
		return resource.NewProperty(out)
	}
	return v
}

// ProviderCheck reproduces what a real engine refused on this program's
// first preview: the command provider receives `triggers` (an array of
// anything) through a marshalling that drops unknown values but keeps
// secrets, so a secret whose value is unknown during preview arrives as a
// secret without a value and the preview fails with
// `malformed RPC secret: missing value for "triggers"`.
func ProviderCheck(typ string, inputs resource.PropertyMap) error {
	if !strings.HasPrefix(typ, "command:") {
		return nil
	}
	v, ok := inputs["triggers"]
	if !ok {
		return nil
	}
	lossy := plugin.MarshalOptions{KeepSecrets: true, KeepResources: true}
	wire, err := plugin.MarshalProperties(resource.PropertyMap{"triggers": v}, lossy)
	if err != nil {
		return err
	}
	_, err = plugin.UnmarshalProperties(wire, lossy)
	return err
}
