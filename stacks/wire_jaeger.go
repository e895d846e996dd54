package stacks

import (
	"path"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/jaeger"
)

// JaegerSpanRetention is how long traces are kept (there is no config key
// for it yet: traces are for recent debugging, a week is plenty).
const JaegerSpanRetention = 7 * 24 * time.Hour

// deployJaeger runs the tracing backend the application reports to.
func deployJaeger(d *deployment) (*jaeger.Jaeger, error) {
	h := d.engine(Jaeger)
	img, err := d.image(h, Jaeger)
	if err != nil {
		return nil, err
	}
	return jaeger.New(d.ctx, Jaeger, jaeger.Args{
		Engine:        h,
		Image:         img,
		Zones:         d.zones,
		Resources:     d.cfg.ResourcesFor(Jaeger),
		ServiceDir:    d.serviceDir(Jaeger),
		SpanRetention: JaegerSpanRetention,
	}, pulumi.Provider(h.Provider))
}

// dirsJaeger: the Badger span store (the image's jaeger user).
func dirsJaeger(dataPath string) []host.Dir {
	return jaeger.Dirs(path.Join(dataPath, Jaeger))
}
