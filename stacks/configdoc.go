package stacks

import (
	"sort"

	"github.com/aurigraph/infra/components/host"
)

// DocSample is what the configuration reference (internal/configdoc,
// `make docs`) reads the defaults from: an empty configuration with one
// host, a jump host and every alert receiver present, through the real
// applyDefaults, so a default is written once, in the code that applies it.
func DocSample() *Config {
	c := &Config{
		Hosts: []Host{{}},
		SSH:   SSH{Jump: &JumpHost{}},
		Alerting: Alerting{Webhook: &WebhookReceiver{}, Email: &EmailReceiver{},
			PagerDuty: &PagerDutyReceiver{}, Opsgenie: &OpsgenieReceiver{}},
	}
	applyDefaults(c)
	return c
}

// DocMapKeys are the keys each map-valued setting takes (by its path in the
// reference), from the lists the validation checks them against.
func DocMapKeys() map[string][]string {
	resources := make([]string, 0, len(DefaultResources))
	for k := range DefaultResources {
		resources = append(resources, k)
	}
	sort.Strings(resources)
	checks := append(append([]string{host.WatchdogDefaultKey}, Services...), App)
	return map[string][]string{
		"images":                      RequiredImages,
		"resources":                   resources,
		"placement":                   Services,
		"edge.monitoringHostnames":    MonitoringUIs,
		"selfHealing.unhealthyChecks": checks,
	}
}
