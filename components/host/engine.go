package host

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Engine is a host's Docker engine as the stack's Docker resources reach it:
// the host's Docker provider, what every Docker resource on the host waits
// for (Ready) and the images pulled there (Image). It is complete when
// NewEngine returns; the host's facts (Name, Connection, DataPath…) come
// with the embedded *Host.
//
// Engine is a plain value, not a component resource: the provider and the
// image pulls keep the URNs they have always had (the provider top-level
// with its alias from under the host component, the pulls children of the
// host component). A component of its own would be their new parent, change
// every provider URN and with it replace every container of every stack.
type Engine struct {
	*Host
	// Provider talks to the host's Docker daemon over SSH.
	Provider *docker.Provider

	ready  []pulumi.Resource // preparation and cluster join: see Ready
	mu     sync.Mutex
	images map[string]*docker.RemoteImage
}

// EngineArgs are what the engine waits for besides the host's preparation.
type EngineArgs struct {
	// Joined is the host's cluster join: Docker resources wait for it.
	Joined []pulumi.Resource
}

// NewEngine creates h's Docker provider and records the preparation and
// args.Joined as what every Docker resource on the host waits for (Ready).
// The provider itself depends on nothing: it needs no prepared host to be
// configured, and the engine creates every explicit provider in every run,
// `--target` or not, so a dependency here would pull the whole host chain
// into any targeted run.
func NewEngine(ctx *pulumi.Context, h *Host, args EngineArgs) (*Engine, error) {
	if h == nil || h.Prepared == nil {
		return nil, fmt.Errorf("engine: a host from NewHost is required")
	}
	p, err := newDockerProvider(ctx, h)
	if err != nil {
		return nil, err
	}
	return &Engine{
		Host:     h,
		Provider: p,
		ready:    append([]pulumi.Resource{h.Prepared}, args.Joined...),
		images:   map[string]*docker.RemoteImage{},
	}, nil
}

// Ready is what a Docker resource on this host must depend on, directly or
// through another resource's outputs (a container through its image): the
// last preparation step and the cluster join.
func (e *Engine) Ready() []pulumi.Resource { return slices.Clone(e.ready) }

var imageNameRE = regexp.MustCompile(`[^a-z0-9]+`)

// Image pulls ref onto this host once, however many containers use it, after
// the host is prepared and joined (Ready), and returns the reference to give
// containers: through it they wait for the pull and for Ready. The pull is a
// child of the Host component, as it always was (see Engine).
func (e *Engine) Image(ctx *pulumi.Context, ref string) (pulumi.StringOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if img, ok := e.images[ref]; ok {
		return img.Name, nil
	}
	name := fmt.Sprintf("%s-image-%s", e.Name, strings.Trim(imageNameRE.ReplaceAllString(strings.ToLower(ref), "-"), "-"))
	img, err := docker.NewRemoteImage(ctx, name, &docker.RemoteImageArgs{
		Name: pulumi.String(ref),
		// Another container may still run the old image during a roll.
		KeepLocally: pulumi.Bool(true),
	}, pulumi.Parent(e.Host), pulumi.Provider(e.Provider), pulumi.DependsOn(e.Ready()))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	e.images[ref] = img
	return img.Name, nil
}

// ImageRefs lists the images pulled on this host (sorted), for tests.
func (e *Engine) ImageRefs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.images))
}
