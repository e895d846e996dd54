// Package alertmanager deploys Alertmanager: the receiver of Prometheus's
// alerts, which groups them, routes them by severity to the stack's
// receivers (webhook, e-mail, PagerDuty, Opsgenie) and lets a critical
// alert silence its warning. Its configuration holds the receivers'
// credentials, so it is rendered inside a secret Output, installed as a
// secret file after amtool accepted it, and read again on SIGHUP: the
// container is never recreated for a configuration change.
package alertmanager

import (
	"fmt"
	"path"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
)

// Layout inside the container and on the host.
const (
	ContainerName = "alertmanager"
	UID           = 65534 // nobody: the image's own user
	Port          = 9093
	configMount   = "/etc/alertmanager"
	dataMount     = "/alertmanager"
	configFile    = "alertmanager.yml"
)

// Address is where Prometheus reaches Alertmanager on the network (host:port).
func Address() string { return fmt.Sprintf("%s:%d", ContainerName, Port) }

// URL is where the gateway proxies the UI.
func URL() string { return "http://" + Address() }

// ConfigDir is the host directory of the rendered file (mounted read-only).
func ConfigDir(serviceDir string) string { return path.Join(serviceDir, "config") }

// DataDir is the host directory of the silences and notification log.
func DataDir(serviceDir string) string { return path.Join(serviceDir, "data") }

// Dirs are the host directories the deployment needs under serviceDir. The
// configuration directory is closed to everyone but root and the server's
// group: the file in it holds credentials.
func Dirs(serviceDir string) []host.Dir {
	return []host.Dir{
		{Path: serviceDir, UID: 0, GID: 0, Mode: "0755"},
		{Path: ConfigDir(serviceDir), UID: 0, GID: UID, Mode: "0750"},
		{Path: DataDir(serviceDir), UID: UID, GID: UID, Mode: "0750"},
	}
}

// Secrets are the receivers' credentials, each a secret Output; nil where
// the receiver is not configured.
type Secrets struct {
	WebhookURL          pulumi.StringInput
	SMTPPassword        pulumi.StringInput
	PagerDutyRoutingKey pulumi.StringInput
	OpsgenieAPIKey      pulumi.StringInput
}

// Args configures Alertmanager on one host.
type Args struct {
	Engine *host.Engine
	Image  pulumi.StringInput
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones      *network.Zones
	Resources  container.Resources
	ServiceDir string // e.g. /srv/aurigraph/alertmanager
	// ExternalURL is the public URL the gateway serves the UI on: the links
	// in notifications point there.
	ExternalURL string
	// Config is the routing and the receivers that are configured; their
	// credentials are left empty here and come from Secrets.
	Config  ConfigValues
	Secrets Secrets
}

// Alertmanager is the deployed server.
type Alertmanager struct {
	pulumi.ResourceState

	Container *docker.Container
	Files     *configfile.Set
	// Address is where Prometheus sends alerts (host:port on the network).
	Address string
	// URL is where the cluster reaches the server.
	URL pulumi.StringOutput `pulumi:"url"`
}

// New renders the configuration, puts it on the host and runs the container.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Alertmanager, error) {
	if args.Engine == nil {
		return nil, fmt.Errorf("alertmanager %s: a Docker engine (host.NewEngine) is required", name)
	}
	secrets, err := secretInputs(args.Config, args.Secrets)
	if err != nil {
		return nil, fmt.Errorf("alertmanager %s: %w", name, err)
	}
	// Render once now with stand-in credentials, so every problem of the
	// plain values stops the program here (an ApplyT body does not run in
	// a preview); the real file is rendered from the secrets below.
	if _, err := RenderConfig(withCredentials(args.Config, standIn(len(secrets)))); err != nil {
		return nil, fmt.Errorf("alertmanager %s: %w", name, err)
	}
	config := pulumi.ToSecret(pulumi.All(secrets...).ApplyT(func(vs []any) (string, error) {
		creds := make([]string, len(vs))
		for i, v := range vs {
			creds[i] = v.(string)
		}
		return RenderConfig(withCredentials(args.Config, creds))
	})).(pulumi.StringOutput)

	a := &Alertmanager{Address: Address()}
	if err := ctx.RegisterComponentResource("aurigraph:alertmanager:Alertmanager", name, a, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)
	hostDir := ConfigDir(args.ServiceDir)
	owner := fmt.Sprintf("%d:%d", UID, UID)
	files, err := configfile.NewSecrets(ctx, name+"-config", configfile.SecretsArgs{
		Host:      args.Engine.Host,
		Files:     []configfile.Secret{{Path: path.Join(hostDir, configFile), Content: config, Owner: owner, Mode: "0600"}},
		Container: ContainerName,
		Reload:    ReloadCommand,
		Validate:  &configfile.Validate{Dir: hostDir, Command: ValidateCommand, Image: args.Image},
	}, parent)
	if err != nil {
		return nil, err
	}
	a.Files = files

	command := []string{
		"--config.file=" + path.Join(configMount, configFile),
		"--storage.path=" + dataMount,
		fmt.Sprintf("--web.listen-address=:%d", Port),
		// One instance: no gossip port to open or secure.
		"--cluster.listen-address=",
	}
	if args.ExternalURL != "" {
		command = append(command, "--web.external-url="+args.ExternalURL, "--web.route-prefix=/")
	}
	c, err := container.New(ctx, ContainerName, container.Spec{
		Service:        ContainerName,
		Name:           ContainerName,
		Image:          args.Image,
		Networks:       args.Zones.For(ContainerName),
		Resource:       args.Resources,
		User:           owner,
		ReadOnlyRootFS: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,size=16m"},
		Command:        command,
		Mounts: []container.Mount{
			{HostPath: hostDir, Target: configMount, ReadOnly: true},
			{HostPath: DataDir(args.ServiceDir), Target: dataMount},
		},
		Health: container.HTTPHealth(Port, "/-/healthy", 30*time.Second),
	}, parent, pulumi.Provider(args.Engine.Provider), pulumi.DependsOn(files.Copies))
	if err != nil {
		return nil, err
	}
	a.Container = c
	a.URL = pulumi.String(URL()).ToStringOutput()
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{"url": a.URL})
}

// secretInputs are the credentials of the configured receivers, in the
// order withCredentials reads them; a configured receiver without its
// secret is refused.
func secretInputs(v ConfigValues, s Secrets) ([]any, error) {
	var out []any
	for _, r := range []struct {
		configured bool
		secret     pulumi.StringInput
		what       string
	}{
		{v.Webhook != nil, s.WebhookURL, "the webhook URL"},
		{v.Email != nil && v.Email.Username != "", s.SMTPPassword, "the SMTP password"},
		{v.PagerDuty != nil, s.PagerDutyRoutingKey, "the PagerDuty routing key"},
		{v.Opsgenie != nil, s.OpsgenieAPIKey, "the Opsgenie API key"},
	} {
		if !r.configured {
			continue
		}
		if r.secret == nil {
			return nil, fmt.Errorf("%s is required by its receiver", r.what)
		}
		out = append(out, r.secret)
	}
	return out, nil
}

// withCredentials returns a copy of v with creds (secretInputs' order) in place.
func withCredentials(v ConfigValues, creds []string) ConfigValues {
	next := func() string { c := creds[0]; creds = creds[1:]; return c }
	if v.Webhook != nil {
		v.Webhook = &Webhook{URL: next()}
	}
	if v.Email != nil && v.Email.Username != "" {
		e := *v.Email
		e.Password = next()
		v.Email = &e
	}
	if v.PagerDuty != nil {
		v.PagerDuty = &PagerDuty{RoutingKey: next()}
	}
	if v.Opsgenie != nil {
		o := *v.Opsgenie
		o.APIKey = next()
		v.Opsgenie = &o
	}
	return v
}

// standIn is n credentials that pass the renderer's checks.
func standIn(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "stand-in"
	}
	return out
}

// ReloadCommand reloads with SIGHUP: amtool accepted the file before it was
// installed (ValidateCommand); the container is never recreated.
const ReloadCommand = "docker kill -s HUP " + ContainerName

// ValidateCommand checks a candidate configuration directory with the amtool
// of the server's own image, as the server's user, before the live file is
// replaced: a throw-away container without network (the check reads the
// file only), the candidate mounted where the server reads its
// configuration. amtool prints the parsed sections, never the values.
var ValidateCommand = fmt.Sprintf(`docker run --rm --network none --user %[1]d:%[1]d --read-only \
  -v "$CANDIDATE":%[2]s:ro --entrypoint amtool "$IMAGE" check-config %[2]s/%[3]s`, UID, configMount, configFile)
