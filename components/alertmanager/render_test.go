package alertmanager

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/hosttest"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/shell"

	"github.com/aurigraph/infra/components/network"
)

// Credentials no rendered plain value may contain.
const (
	webhookURL   = "https://hooks.example.com/T0KEN-webhook-4f1c"
	smtpPassword = "smtp-pa55word-9d2e"
	routingKey   = "pd-routing-key-77ab"
	opsgenieKey  = "og-api-key-31cd"
)

func allReceivers() ConfigValues {
	return ConfigValues{
		Webhook:   &Webhook{URL: webhookURL},
		Email:     &Email{To: []string{"oncall@example.com", "ops@example.com"}, From: "alerts@example.com", Smarthost: "smtp.example.com:587", Username: "alerts", Password: smtpPassword},
		PagerDuty: &PagerDuty{RoutingKey: routingKey},
		Opsgenie:  &Opsgenie{APIKey: opsgenieKey, APIURL: "https://api.eu.opsgenie.com/"},
	}
}

// parsed is the part of alertmanager.yml the tests read back.
type parsed struct {
	Global map[string]any `yaml:"global"`
	Route  struct {
		Receiver       string   `yaml:"receiver"`
		GroupBy        []string `yaml:"group_by"`
		GroupWait      string   `yaml:"group_wait"`
		GroupInterval  string   `yaml:"group_interval"`
		RepeatInterval string   `yaml:"repeat_interval"`
		Routes         []struct {
			Receiver       string   `yaml:"receiver"`
			Matchers       []string `yaml:"matchers"`
			RepeatInterval string   `yaml:"repeat_interval"`
		} `yaml:"routes"`
	} `yaml:"route"`
	InhibitRules []struct {
		Source []string `yaml:"source_matchers"`
		Target []string `yaml:"target_matchers"`
		Equal  []string `yaml:"equal"`
	} `yaml:"inhibit_rules"`
	Receivers []map[string]any `yaml:"receivers"`
}

func render(t *testing.T, v ConfigValues) (string, parsed) {
	t.Helper()
	out, err := RenderConfig(v)
	require.NoError(t, err)
	var p parsed
	require.NoError(t, yaml.Unmarshal([]byte(out), &p), out)
	return out, p
}

// integrations maps receiver name → the kinds of integration it has.
func integrations(p parsed) map[string][]string {
	out := map[string][]string{}
	for _, r := range p.Receivers {
		name := r["name"].(string)
		out[name] = []string{}
		for k := range r {
			if k != "name" {
				out[name] = append(out[name], k)
			}
		}
	}
	return out
}

func TestCriticalPagesAndWarningOnlyNotifies(t *testing.T) {
	_, p := render(t, allReceivers())
	got := integrations(p)
	assert.ElementsMatch(t, []string{"pagerduty_configs", "opsgenie_configs", "webhook_configs", "email_configs"}, got[CriticalReceiver],
		"critical reaches every configured receiver, paging ones included")
	assert.ElementsMatch(t, []string{"webhook_configs", "email_configs"}, got[WarningReceiver], "a warning never pages")

	routes := map[string]string{}
	for _, r := range p.Route.Routes {
		require.Len(t, r.Matchers, 1)
		routes[r.Matchers[0]] = r.Receiver
	}
	assert.Equal(t, map[string]string{`severity="critical"`: CriticalReceiver, `severity="warning"`: WarningReceiver}, routes)
	assert.Equal(t, WarningReceiver, p.Route.Receiver, "an alert without severity is still delivered, as a warning")
	assert.Equal(t, GroupBy, p.Route.GroupBy)
}

func TestTimingDefaultsAndOverrides(t *testing.T) {
	_, p := render(t, ConfigValues{})
	assert.Equal(t, []string{"30s", "5m", "4h"}, []string{p.Route.GroupWait, p.Route.GroupInterval, p.Route.RepeatInterval})
	assert.Equal(t, "1h", p.Route.Routes[0].RepeatInterval, "criticals are reminded more often")

	_, p = render(t, ConfigValues{Timing: Timing{GroupWait: "1s", GroupInterval: "2s", RepeatInterval: "3h", CriticalRepeatInterval: "15m"}})
	assert.Equal(t, []string{"1s", "2s", "3h", "15m"}, []string{p.Route.GroupWait, p.Route.GroupInterval, p.Route.RepeatInterval, p.Route.Routes[0].RepeatInterval})
}

func TestInhibitionsFollowTheLabelContract(t *testing.T) {
	_, p := render(t, ConfigValues{})
	require.Len(t, p.InhibitRules, 2)
	pair := p.InhibitRules[0]
	assert.Equal(t, []string{`severity="critical"`, `condition=~".+"`}, pair.Source)
	assert.Equal(t, []string{`severity="warning"`, `condition=~".+"`}, pair.Target,
		"alerts without a condition never inhibit each other (an empty label is equal to an empty label)")
	assert.Equal(t, []string{ConditionLabel, HostLabel}, pair.Equal)
	down := p.InhibitRules[1]
	assert.Equal(t, []string{`alertname="HostDown"`, `host=~".+"`}, down.Source)
	assert.Equal(t, []string{`alertname!="HostDown"`}, down.Target)
	assert.Equal(t, []string{HostLabel}, down.Equal)
}

func TestNoReceiverKeepsBothRoutesValid(t *testing.T) {
	out, p := render(t, ConfigValues{})
	assert.Equal(t, map[string][]string{CriticalReceiver: {}, WarningReceiver: {}}, integrations(p))
	assert.NotContains(t, out, "smtp_")
}

func TestEmailWithoutUserSendsNoAuthentication(t *testing.T) {
	v := allReceivers()
	v.Email.Username, v.Email.Password = "", ""
	_, p := render(t, v)
	assert.NotContains(t, p.Global, "smtp_auth_username")
	assert.NotContains(t, p.Global, "smtp_auth_password")
	assert.Equal(t, true, p.Global["smtp_require_tls"])
}

func TestValuesAreQuotedNotInterpreted(t *testing.T) {
	v := allReceivers()
	hostile := "p\"ass\nword: x\\ {{ }}"
	v.Email.Password = hostile
	v.Webhook.URL = "https://h.example.com/?a=1&b='2'#x"
	_, p := render(t, v)
	assert.Equal(t, hostile, p.Global["smtp_auth_password"])
	hooks := p.Receivers[0]["webhook_configs"].([]any)
	assert.Equal(t, v.Webhook.URL, hooks[0].(map[string]any)["url"])
}

func TestInvalidValuesAreRefusedTogether(t *testing.T) {
	v := allReceivers()
	v.Timing.GroupWait = "soon"
	v.Email.To = []string{"not an address"}
	v.Email.Smarthost = "smtp.example.com"
	v.PagerDuty.RoutingKey = ""
	v.Opsgenie.APIURL = "http://api.opsgenie.com/"
	_, err := RenderConfig(v)
	require.Error(t, err)
	for _, want := range []string{"groupWait", "not an address", "smarthost", "PagerDuty", "Opsgenie API URL"} {
		assert.Contains(t, err.Error(), want)
	}
	v = allReceivers()
	v.Webhook.URL = ""
	_, err = RenderConfig(v)
	assert.ErrorContains(t, err, "webhook needs a URL")
}

// runComponent deploys Alertmanager under mocks with every receiver.
func runComponent(t *testing.T, preview bool) *mockrun.Result {
	t.Helper()
	secret := func(s string) pulumi.StringInput { return pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput) }
	v := allReceivers()
	v.Webhook, v.PagerDuty = &Webhook{}, &PagerDuty{}
	v.Email.Password, v.Opsgenie.APIKey = "", ""
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h, err := hosttest.NewEngine(ctx, "mon", "192.0.2.30")
		if err != nil {
			return err
		}
		_, err = New(ctx, "alertmanager", Args{
			Engine: h, Image: pulumi.String("prom/alertmanager:v0.27.0"), Zones: network.NamedZones("aurigraph-network"),
			Resources: container.Resources{CPUs: 0.5, MemoryMB: 256}, ServiceDir: "/srv/aurigraph/alertmanager",
			ExternalURL: "https://alertmanager.example.com/", Config: v,
			Secrets: Secrets{WebhookURL: secret(webhookURL), SMTPPassword: secret(smtpPassword),
				PagerDutyRoutingKey: secret(routingKey), OpsgenieAPIKey: secret(opsgenieKey)},
		})
		return err
	}, mockrun.Options{Project: "aurigraph", Stack: "test", Preview: preview})
	require.NoError(t, err)
	return res
}

func TestCredentialsReachTheHostOnlyAsSecrets(t *testing.T) {
	res := runComponent(t, false)
	for _, cred := range []string{webhookURL, smtpPassword, routingKey, opsgenieKey} {
		assert.Empty(t, res.PlaintextContaining(cred), "a credential in a plain input")
	}
	step := res.Named("command:remote:Command", "alertmanager-config")
	require.NotNil(t, step, "the configuration is one secret step")
	assert.True(t, step.Inputs["stdin"].IsSecret(), "the rendered file travels as a secret on stdin")
	if tr, ok := step.Inputs["triggers"]; ok {
		assert.False(t, tr.ContainsSecrets(), "no secret in triggers (a preview cannot marshal it)")
	}
	files, err := configfile.SecretFiles(mockrun.Unwrap(step.Inputs["create"]).StringValue(), mockrun.Unwrap(step.Inputs["stdin"]).StringValue())
	require.NoError(t, err)
	written := files["/srv/aurigraph/alertmanager/config/alertmanager.yml"]
	for _, cred := range []string{webhookURL, smtpPassword, routingKey, opsgenieKey} {
		assert.Contains(t, written, cred, "the host's file holds the credential")
	}
	assert.Contains(t, mockrun.Unwrap(step.Inputs["create"]).StringValue(), "write '/srv/aurigraph/alertmanager/config/alertmanager.yml' '65534:65534' '0600'")
}

func TestConfigIsCheckedWithAmtoolOfTheImageBeforeItIsLive(t *testing.T) {
	res := runComponent(t, false)
	step := res.Named("command:remote:Command", "alertmanager-config")
	require.NotNil(t, step)
	script := mockrun.Unwrap(step.Inputs["create"]).StringValue()
	image := strings.Index(script, "\nIMAGE='prom/alertmanager:v0.27.0'\n")
	require.Positive(t, image, "amtool of the server's own image")
	assert.Less(t, image, strings.Index(script, "VALIDATE="))
	assert.Contains(t, script, "VALIDATE="+shell.Quote(ValidateCommand)+"\n")
	for _, want := range []string{`-v "$CANDIDATE":/etc/alertmanager:ro`, "--network none", "--entrypoint amtool", "check-config /etc/alertmanager/alertmanager.yml"} {
		assert.Contains(t, ValidateCommand, want)
	}
	validate, rename := strings.Index(script, `if ! sh -eu -c "$VALIDATE"`), strings.Index(script, `$SUDO mv -f`)
	require.Positive(t, validate)
	assert.Less(t, validate, rename, "nothing live is replaced before amtool accepted it")
	assert.Less(t, rename, strings.Index(script, "docker kill -s HUP alertmanager"), "reloaded, not recreated")

	c := res.Named("docker:index/container:Container", ContainerName)
	require.NotNil(t, c)
	assert.Contains(t, c.DependsOn, step.URN, "the container starts on the checked file")
	cmd := mockrun.Unwrap(c.Inputs["command"]).ArrayValue()
	var args []string
	for _, a := range cmd {
		args = append(args, a.StringValue())
	}
	assert.Contains(t, args, "--web.external-url=https://alertmanager.example.com/")
	assert.Contains(t, args, "--cluster.listen-address=")
	assert.Equal(t, "65534:65534", mockrun.Unwrap(c.Inputs["user"]).StringValue())
}

func TestPreviewRunsWithUnknownSecrets(t *testing.T) {
	res := runComponent(t, true)
	assert.NotNil(t, res.Named("command:remote:Command", "alertmanager-config"))
}

func TestAConfiguredReceiverNeedsItsSecret(t *testing.T) {
	_, err := secretInputs(ConfigValues{PagerDuty: &PagerDuty{}}, Secrets{})
	assert.ErrorContains(t, err, "PagerDuty routing key")
	in, err := secretInputs(ConfigValues{Email: &Email{To: []string{"a@example.com"}}}, Secrets{})
	require.NoError(t, err, "an SMTP relay without a user needs no password")
	assert.Empty(t, in)
}
