package stacks

import (
	"path"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/components/host"
)

// deployAlertmanager runs the receiver of Prometheus's alerts on the
// monitoring host, with the stack's receivers; Prometheus is given it.
func deployAlertmanager(d *deployment) (*alertmanager.Alertmanager, error) {
	h := d.engine(Alertmanager)
	img, err := d.image(h, Alertmanager)
	if err != nil {
		return nil, err
	}
	externalURL := edgeURL(d.cfg.Edge.MonitoringHosts[Alertmanager])
	if externalURL != "" {
		externalURL += "/"
	}
	s := d.cfg.Secrets
	return alertmanager.New(d.ctx, Alertmanager, alertmanager.Args{
		Engine:      h,
		Image:       img,
		Zones:       d.zones,
		Resources:   d.cfg.ResourcesFor(Alertmanager),
		ServiceDir:  d.serviceDir(Alertmanager),
		ExternalURL: externalURL,
		Config:      AlertmanagerValues(d.cfg.Alerting),
		Secrets: alertmanager.Secrets{WebhookURL: s.AlertWebhookURL, SMTPPassword: s.SMTPPassword,
			PagerDutyRoutingKey: s.PagerDutyRoutingKey, OpsgenieAPIKey: s.OpsgenieAPIKey},
	}, pulumi.Provider(h.Provider))
}

// AlertmanagerValues are the routing and the configured receivers, without
// their credentials (the component takes those from the secrets).
func AlertmanagerValues(a Alerting) alertmanager.ConfigValues {
	v := alertmanager.ConfigValues{Timing: alertmanager.Timing{GroupWait: a.GroupWait, GroupInterval: a.GroupInterval,
		RepeatInterval: a.RepeatInterval, CriticalRepeatInterval: a.CriticalRepeatInterval}}
	if a.Webhook != nil {
		v.Webhook = &alertmanager.Webhook{}
	}
	if e := a.Email; e != nil {
		v.Email = &alertmanager.Email{To: append([]string{}, e.To...), From: e.From, Smarthost: e.Smarthost, Username: e.Username}
	}
	if a.PagerDuty != nil {
		v.PagerDuty = &alertmanager.PagerDuty{}
	}
	if o := a.Opsgenie; o != nil {
		v.Opsgenie = &alertmanager.Opsgenie{APIURL: o.APIURL}
	}
	return v
}

// dirsAlertmanager: the configuration (credentials inside) and the data
// (silences, notification log), for the image's nobody user.
func dirsAlertmanager(dataPath string) []host.Dir {
	return alertmanager.Dirs(path.Join(dataPath, Alertmanager))
}
